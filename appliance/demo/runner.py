"""Run the demo: a temporary home, a generated passphrase file, then every row of the stage table in order.

Each stage's summary dict (plus its ``seconds``) lands in ``ctx.results[name]`` for the stages after it
and in the returned summary.  The runner imports a stage's module only when that stage runs.
"""

from __future__ import annotations

import os
import secrets
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appliance.errors import UsageError
from appliance.home import Home


@dataclass
class DemoContext:
    home: Home
    passphrase_file: Path
    workdir: Path  # scratch space outside the home (e.g. for exports leaving the appliance)
    results: dict[str, Any] = field(default_factory=dict)
    recovery_key: str | None = None  # set by the init stage (printed once, as `appliance init` does)
    _keys: Any = None

    @property
    def passphrase(self) -> bytes:
        return self.passphrase_file.read_bytes().strip()

    def keys(self):
        """The unlocked keyring (cached for the run)."""
        if self._keys is None:
            from appliance.keys import unlock_home

            self._keys = unlock_home(self.home, self.passphrase)
        return self._keys


def new_context(root: Path | None = None) -> DemoContext:
    workdir = Path(root) if root else Path(tempfile.mkdtemp(prefix="appliance-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    os.chmod(workdir, 0o700)
    pf = workdir / "passphrase"
    pf.write_text(secrets.token_urlsafe(24) + "\n")
    os.chmod(pf, 0o600)
    return DemoContext(home=Home(workdir / "home"), passphrase_file=pf, workdir=workdir / "out")


def run_demo(
    root: Path | None = None,
    on_stage: Callable[[str, str, dict | None], None] | None = None,
    stages: list[str] | None = None,
) -> dict[str, Any]:
    """Run every stage (or only ``stages``, still in table order); ``on_stage(name, "start"|"done", result)``
    lets the CLI show progress."""
    from appliance.demo.table import STAGES

    known = [s.name for s in STAGES]
    unknown = [n for n in stages or [] if n not in known]
    if unknown:
        raise UsageError(f"unknown demo stage(s): {', '.join(unknown)}", hint=f"--stage is one of: {', '.join(known)}")
    ctx = new_context(root)
    ctx.workdir.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {"home": str(ctx.home.root), "stages": {}}
    for stage in STAGES:
        if stages and stage.name not in stages:
            continue
        func = stage.load()
        if on_stage:
            on_stage(stage.name, "start", None)
        t0 = time.perf_counter()
        result = func(ctx) or {}
        result["seconds"] = round(time.perf_counter() - t0, 2)
        ctx.results[stage.name] = result
        summary["stages"][stage.name] = result
        if on_stage:
            on_stage(stage.name, "done", result)
    if "report" in ctx.results and "path" in ctx.results["report"]:
        summary["report"] = ctx.results["report"]["path"]
    return summary
