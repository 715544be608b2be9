"""`appliance demo`: the whole life of a model, end to end, on the embedded synthetic corpus.

Runs in a temporary home, non-interactively (a generated passphrase file), and returns one summary dict
per stage.  Each subsystem contributes a ``demo_stage(ctx)`` function in ``appliance/<sub>/demo_stage.py``;
stages run in the order of :data:`STAGES` and may read earlier stages' results from ``ctx.results``.
"""

from __future__ import annotations

import importlib
import os
import secrets
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appliance.home import Home


@dataclass
class DemoContext:
    home: Home
    passphrase_file: Path
    workdir: Path  # scratch space outside the home (e.g. for exports leaving the appliance)
    results: dict[str, Any] = field(default_factory=dict)
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


# (stage name, "module:function").  Later issues append theirs.
STAGES: list[tuple[str, str]] = [
    ("init", "appliance.keys.demo_stage:demo_stage"),  # home, keys, recovery key
    ("audit", "appliance.audit.demo_stage:demo_stage"),  # entries, signed checkpoint, verify, export
    ("host", "appliance.bundle.demo_stage:demo_stage"),  # doctor + harden check (report only)
    ("scrub", "appliance.scrub.demo_stage:demo_stage"),  # scrubber vs the corpus answer key (counts only)
    ("ingest", "appliance.vault.demo_stage:demo_stage"),  # scrub → filter → dedup → encrypt month 1
    ("train", "appliance.train.demo_stage:demo_stage"),  # 2 ranks, kill -9, --resume
    ("register", "appliance.registry.demo_stage:demo_stage"),  # registry version, eval, champion
    ("export", "appliance.export.demo_stage:demo_stage"),  # GGUF → parity → sign → verify → generate
    ("serve", "appliance.serve.demo_stage:demo_stage"),  # verified GGUF behind `appliance serve`, keyed request
    ("retrain", "appliance.retrain.demo_stage:demo_stage"),  # month 2 + replay, gate, lineage
    ("report", "appliance.report.demo_stage:demo_stage"),  # the compliance officer's HTML report
]


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
    """Run every stage; ``on_stage(name, "start"|"done", result)`` lets the CLI show progress."""
    ctx = new_context(root)
    ctx.workdir.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {"home": str(ctx.home.root), "stages": {}}
    for name, target in STAGES:
        if stages and name not in stages:
            continue
        modname, fn = target.split(":")
        func = getattr(importlib.import_module(modname), fn)
        if on_stage:
            on_stage(name, "start", None)
        t0 = time.perf_counter()
        result = func(ctx) or {}
        result["seconds"] = round(time.perf_counter() - t0, 2)
        ctx.results[name] = result
        summary["stages"][name] = result
        if on_stage:
            on_stage(name, "done", result)
    if "report" in ctx.results and "path" in ctx.results["report"]:
        summary["report"] = ctx.results["report"]["path"]
    return summary
