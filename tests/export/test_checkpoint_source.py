"""``export --model RUN:…`` references and the refusals that need no training (the whole path, with real
DeepSpeed checkpoints, is in tests/e2e/test_real_tokenizers.py)."""

from __future__ import annotations

import json

import pytest

from appliance.errors import InputError, IntegrityError, UsageError
from appliance.export.checkpoint_source import materialize, parse_ref, resolve_ref
from appliance.home import Home
from appliance.train import checkpoint as ckpt


def test_parse_ref():
    assert parse_ref("r1:step_12") == ("r1", "step_00000012")
    assert parse_ref("r1:7") == ("r1", "step_00000007")
    assert parse_ref("my.run-2:best") == ("my.run-2", "best")
    assert parse_ref("r1:latest") == ("r1", "latest")
    assert parse_ref("/some/dir") is None and parse_ref("champion") is None and parse_ref("r1:stepx") is None


def _run_with_checkpoints(root, steps, with_model=True):
    home = Home(root)
    ck = home.run_dir("r").joinpath("checkpoints")
    for s in steps:
        st = ckpt.staging_path(ck, s)
        (st / "ds").mkdir(parents=True)
        (st / "ds" / "shard.pt").write_bytes(b"x")
        if with_model:
            (st / "model").mkdir()
            (st / "model" / "checkpoint.json").write_text(json.dumps({"run": "r", "step": s}))
        ckpt.commit(ck, s, {}, keep_last=10)
    return home


def test_unknown_step_lists_available(tmp_path):
    home = _run_with_checkpoints(tmp_path / "h", [2, 4])
    with pytest.raises(UsageError) as e:
        resolve_ref(home, "r", "step_00000003")
    assert "step_00000003" in str(e.value) and "step_2, step_4" in e.value.hint
    with pytest.raises(UsageError, match="no run 'nope'"):
        resolve_ref(home, "nope", "best")
    with pytest.raises(UsageError, match="no held-out eval"):
        resolve_ref(home, "r", "best")


def test_best_whose_weights_were_not_kept_is_refused(tmp_path):
    home = _run_with_checkpoints(tmp_path / "h", [4])
    (home.run_dir("r") / "metrics.jsonl").write_text(
        "\n".join(json.dumps({"kind": "eval", "step": s, "eval_loss": v}) for s, v in [(2, 1.5), (4, 1.9)]))
    with pytest.raises(UsageError, match="step 2") as e:
        resolve_ref(home, "r", "best")
    assert "step_4" in e.value.hint


def test_tampered_or_old_checkpoint_refused(tmp_path):
    home = _run_with_checkpoints(tmp_path / "h", [2])
    d = home.run_dir("r") / "checkpoints" / "step_00000002"
    (d / "ds" / "shard.pt").write_bytes(b"edited")
    with pytest.raises(IntegrityError, match="does not verify"):
        materialize(d)
    home = _run_with_checkpoints(tmp_path / "old", [2], with_model=False)
    with pytest.raises(InputError, match="no model/ folder"):
        materialize(home.run_dir("r") / "checkpoints" / "step_00000002")
