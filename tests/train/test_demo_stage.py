"""The `train` demo stage: trains on the demo vault with 2 ranks, is killed after a checkpoint, resumes."""

from __future__ import annotations

import json

import pytest


@pytest.mark.slow
def test_demo_stage_kills_and_resumes(tmp_path):
    from train_helpers import notes as _notes

    from appliance.demo import new_context
    from appliance.keys import init_home
    from appliance.train.demo_stage import demo_stage
    from appliance.vault import Vault

    ctx = new_context(tmp_path / "demo")
    init_home(ctx.home, ctx.passphrase, kdf_target_ms=1)
    src = tmp_path / "notes.jsonl"
    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in _notes(80)))
    with Vault.open(ctx.home, ctx.keys()) as v:
        v.ingest([src], "demo-month1")
    out = demo_stage(ctx)
    assert out["steps"] == 30
    assert out["killed_at_step"] is not None and out["resumed_from_step"] == 10
    assert out["final_loss"] < 6.0
    assert (ctx.home.run_dir("demo") / "final" / "model.safetensors").is_file()
