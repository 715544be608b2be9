"""The audit demo stage: entries, a signed checkpoint, a verified export and a full log verification."""

from __future__ import annotations


def test_demo_stage(tmp_path):
    from appliance.demo import new_context
    from appliance.demo.stages.audit import demo_stage
    from appliance.keys import init_home

    ctx = new_context(tmp_path / "demo")
    init_home(ctx.home, ctx.passphrase, kdf_target_ms=1)
    res = demo_stage(ctx)
    assert res["verified"] is True and res["entries"] >= 4
    assert res["checkpoint_size"] >= 3 and len(res["root"]) == 64
