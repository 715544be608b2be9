"""The `train` demo stage: trains on the demo vault with 2 ranks, is killed after a checkpoint, resumes."""

from __future__ import annotations

import pytest


@pytest.mark.slow
def test_demo_stage_kills_and_resumes(tmp_path):
    from appliance.demo import corpus, new_context
    from appliance.demo.stages import ingest
    from appliance.demo.stages.train import demo_stage
    from appliance.keys import init_home

    ctx = new_context(tmp_path / "demo")
    init_home(ctx.home, ctx.passphrase, kdf_target_ms=1)
    src = tmp_path / "notes.jsonl"
    with open(corpus.MONTH1, encoding="utf-8") as f:
        src.write_text("".join(line for _, line in zip(range(80), f)), encoding="utf-8")
    ingest.demo_stage(ctx, corpus=src)
    out = demo_stage(ctx)
    assert out["steps"] == 30
    # The kill lands after a checkpoint; which one (10 or 20) depends on the host's speed.
    assert out["killed_at_step"] is not None
    assert out["resumed_from_step"] in (10, 20) and out["resumed_from_step"] <= out["killed_at_step"]
    assert out["final_loss"] < 6.0
    assert (ctx.home.run_dir("demo") / "final" / "model.safetensors").is_file()
