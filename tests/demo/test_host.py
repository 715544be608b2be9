"""The host demo stage summarises a read-only harden check and doctor of the real host, and audits the check."""

from __future__ import annotations


def test_demo_stage_summarises_the_real_host(home, tmp_path):
    from types import SimpleNamespace

    from appliance.audit import read_entries
    from appliance.demo.stages.host import demo_stage

    out = demo_stage(SimpleNamespace(home=home, workdir=tmp_path, results={}))
    assert "harden_error" not in out and "doctor_error" not in out
    assert isinstance(out["harden_failed"], list) and out["harden_passed"] + len(out["harden_failed"]) >= 1
    assert out["doctor_status"] in ("ok", "warn", "error") and isinstance(out["air_gapped"], bool)
    assert any(e["action"] == "harden.check" for e in read_entries(home))
