"""Host hardening: check that the appliance host is air-gapped and locked down; render the templates.

Public API:

- :func:`check` runs every check in :mod:`appliance.harden.checks` against a root (``/`` = the live host,
  or a fixture tree) and returns a report; ``report["ok"]`` is False when a required check fails (the CLI
  then exits 4).
- :func:`apply` renders ``hardening/`` into a root (``dry_run``: only the unified diff).

Both write an audit entry when the home exists.
"""

from __future__ import annotations

from pathlib import Path

from appliance.bundle.install import audit
from appliance.harden.checks import CHECKS, DEFAULT_HOME, run_checks
from appliance.harden.render import diff, plan, templates_dir, write
from appliance.home import Home

__all__ = ["CHECKS", "apply", "check"]


def check(
    root: Path = Path("/"),
    home: Home | None = None,
    *,
    live: bool | None = None,
    only: list[str] | None = None,
) -> dict:
    """Run the hardening checks; a report with one row per check and an overall ``ok``."""
    home_path = home.root if home is not None else DEFAULT_HOME
    results = [r.to_dict() for r in run_checks(Path(root), home_path, live=live, only=only)]
    failed = [r["id"] for r in results if r["status"] == "fail" and r["required"]]
    report = {
        "root": str(root),
        "home": str(home_path),
        "live": results and (Path(root).resolve() == Path("/") if live is None else live),
        "ok": not failed,
        "passed": sum(r["status"] == "pass" for r in results),
        "failed": failed,
        "skipped": [r["id"] for r in results if r["status"] == "skip"],
        "checks": results,
    }
    audit(
        home,
        "harden.check",
        {"root": str(root), "passed": report["passed"], "failed": len(failed)},
        outcome="ok" if not failed else "failed",
    )
    return report


def apply(
    root: Path,
    home: Home | None = None,
    *,
    dry_run: bool = False,
    templates: Path | None = None,
    prefix: str = "/opt/appliance",
    user: str = "appliance",
) -> dict:
    """Render the hardening templates into ``root`` (or, with ``dry_run``, only return the diff)."""
    tdir = templates_dir(templates)
    values = {"home": str(home.root if home is not None else DEFAULT_HOME), "prefix": prefix, "user": user}
    changes = plan(Path(root), tdir, values)
    if not dry_run:
        write(Path(root), changes)
        audit(home, "harden.apply", {"root": str(root), "changes": len(changes)})
    return {
        "root": str(root),
        "templates": str(tdir),
        "dry_run": dry_run,
        "changes": [c.to_dict() for c in changes],
        "diff": diff(changes) if dry_run else "",
    }
