"""Host section: `appliance doctor` run live, and the last `appliance harden check` from the audit log.

The doctor is cheap and read-only, so it runs now.  A hardening check probes the network stack and
system files and is the operator's to run (often as root), so the report shows the most recent recorded
result as of the period's end instead of re-running it, plus, when given, the per-check rows that
`appliance harden check --json` saved (the audit entry holds counts only).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from appliance.errors import InputError
from appliance.home import Home
from appliance.report.auditlog import by_action, obj
from appliance.report.period import Period


def _doctor(home: Home) -> dict[str, Any]:
    try:
        import appliance.doctor as doctor_mod
    except ImportError:
        return {"available": False, "error": "appliance doctor is not part of this build"}
    fn = None
    for name in ("run_doctor", "doctor", "run", "collect", "check", "diagnose"):
        fn = getattr(doctor_mod, name, None)
        if callable(fn):
            break
    if fn is None:
        return {"available": False, "error": "appliance.doctor has no entry point the report knows"}
    try:
        try:
            res = fn(home)
        except TypeError:
            res = fn()
    except Exception as e:  # the doctor reports problems; it must not take the report down with it  # noqa: BLE001
        return {"available": True, "error": f"{type(e).__name__}: {e}"}
    if hasattr(res, "to_dict"):
        res = res.to_dict()
    return {"available": True, "result": res}


def load_harden_json(path: Path | None) -> dict | None:
    """The saved output of `appliance harden check --json` (per-check rows), when the operator gives one."""
    if path is None:
        return None
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InputError(
            f"cannot read the hardening report {path}: {e}",
            hint="pass the output of `appliance harden check --json > FILE`",
        ) from None
    if not isinstance(doc, dict):
        raise InputError(f"{path}: not a hardening check report", hint="appliance harden check --json > FILE")
    return doc | {"_file": str(path)}


def collect(
    home: Home, entries: list[dict], period: Period, harden_doc: dict | None = None
) -> dict[str, Any]:
    checks = [e for e in by_action(entries, "harden.check") if period.before_end(e.get("ts"))]
    last = checks[-1] if checks else None
    harden = None
    if last is not None:
        harden = {
            "ts": last["ts"],
            "actor": last.get("actor"),
            "host": last.get("host"),
            "outcome": last.get("outcome"),
            "seq": last.get("seq"),
            "object": obj(last),
        }
    saved = harden_doc
    applies = [
        {"ts": e["ts"], "actor": e.get("actor"), "outcome": e.get("outcome"), "object": obj(e)}
        for e in by_action(entries, "harden.apply", "bundle.install", "upgrade", "install")
        if period.contains(e.get("ts"))
    ]
    doctor = _doctor(home)
    return {
        "status": "ok" if (harden or doctor.get("result") or saved) else "no data",
        "harden": harden,
        "harden_saved": saved,
        "harden_checks_in_period": sum(1 for e in checks if period.contains(e.get("ts"))),
        "changes": applies,
        "doctor": doctor,
    }
