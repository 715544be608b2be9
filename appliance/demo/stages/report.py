"""Demo stage (the last one): write the compliance report of the whole demo into ``ctx.workdir``."""

from __future__ import annotations


def demo_stage(ctx) -> dict:
    from appliance.report import build_report

    res = build_report(ctx.home, ctx.workdir / "compliance-report.html", signer=ctx.keys().signer)
    return {
        "path": res["path"],
        "sha256": res["sha256"],
        "audit_verified": res["audit_verified"],
        "entries": res["entries_in_period"],
        "sections": res["sections"],
        "champion": res["champion"],
        "models_flagged": res["models_flagged"],
    }
