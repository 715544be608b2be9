"""The scrub demo stage on a small slice of the embedded corpus."""

from __future__ import annotations


def test_demo_stage(tmp_path):
    from appliance.demo import corpus, new_context
    from appliance.demo.stages.scrub import demo_stage
    from appliance.keys import init_home

    assert corpus.MONTH1.is_file()
    ctx = new_context(tmp_path)
    init_home(ctx.home, ctx.passphrase, kdf_target_ms=1)
    out = demo_stage(ctx, sample=8, workers=1)
    assert out["notes"] == 8 and out["recall"] >= 0.95 and out["replaced"] > 80
    assert set(out["counts"]) >= {"NAME", "DATE", "PHONE"}
    assert all(isinstance(v, int) for v in out["counts"].values())
