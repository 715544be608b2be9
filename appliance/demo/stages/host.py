"""Demo stage "host": a read-only `harden check` and `doctor` of the real host, summarised.

It never fails the demo: on a developer laptop most hardening checks fail (it is online, unencrypted, …),
which is exactly what the summary should show.  The harden check is audited into the demo home.
"""

from __future__ import annotations

from pathlib import Path


def demo_stage(ctx) -> dict:
    """Summarise `appliance harden check` and `appliance doctor` for this host (never raises)."""
    out: dict = {}
    try:
        from appliance.harden import check

        report = check(Path("/"), ctx.home)
        out["harden_passed"] = report["passed"]
        out["harden_failed"] = report["failed"]
        out["harden_ok"] = report["ok"]
    except Exception as e:  # a host we cannot read must not stop the demo  # noqa: BLE001
        out["harden_error"] = f"{type(e).__name__}: {e}"
    try:
        from appliance.doctor import run_doctor

        doc = run_doctor(ctx.home)
        out["doctor_status"] = doc["status"]
        out["air_gapped"] = doc["checks"]["airgap"]["air_gapped"]
        out["gpu"] = doc["checks"]["gpu"]["detail"]
        out["dependencies_off_pin"] = [v["name"] for v in doc["versions"] if v["status"] != "ok"]
    except Exception as e:  # noqa: BLE001 -- the demo reports a failed doctor run, it does not stop on it
        out["doctor_error"] = f"{type(e).__name__}: {e}"
    return out
