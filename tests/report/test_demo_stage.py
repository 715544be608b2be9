"""`appliance demo` ends with the report: the stage writes it into the demo's workdir and returns its path."""

from __future__ import annotations

from pathlib import Path

from appliance import demo

REPORT_STAGE = ("report", "appliance.report.demo_stage:demo_stage")
# Stages cheap enough for the unit suite; the full demo (training, export) runs in `make demo` / tests/e2e.
CHEAP = {"init", "keys", "audit", "report"}


def test_demo_ends_with_report(tmp_path, monkeypatch):
    stages = list(demo.STAGES)
    if REPORT_STAGE[0] not in [n for n, _ in stages]:
        stages.append(REPORT_STAGE)
    assert stages[-1][0] == "report", "the report must be the demo's last stage"
    monkeypatch.setattr(demo, "STAGES", stages)
    summary = demo.run_demo(tmp_path / "demo", stages=[n for n, _ in stages if n in CHEAP])
    res = summary["stages"]["report"]
    path = Path(summary["report"])
    assert path == Path(res["path"]) and path.is_file() and path.suffix == ".html"
    assert path.parent == tmp_path / "demo" / "out"  # the workdir, outside the home
    assert res["audit_verified"] is True and res["sections"]["integrity"] == "ok"
    assert res["entries"] > 0
    page = path.read_text()
    assert "Audit log intact" in page and "Latest signed checkpoint" in page
