"""Exact, crash-safe resume: kill -9 the whole process group (mid-save included), resume, compare bitwise."""

from __future__ import annotations

import json
import random
import time

import numpy as np
import pytest
from train_helpers import base_recipe, kill_group, run, start, step_losses, wait_for, weights

from appliance.train.checkpoint import ENV_PAUSE_IN_SAVE, find_resumable


def _audit_actions(home):
    path = home / "audit" / "log.jsonl"
    return [json.loads(line)["action"] for line in path.read_text().splitlines()] if path.exists() else []


def test_uninterrupted_run_produces_model_metrics_and_audit(reference):
    home, res = reference
    run_dir = home / "runs" / "exact"
    assert res["steps"] == 8 and res["resumed_from_step"] is None
    losses = [loss for _, loss in step_losses(run_dir)]
    assert [s for s, _ in step_losses(run_dir)] == list(range(1, 9))
    assert losses[-1] < losses[0] - 0.3, losses  # it learns
    final = run_dir / "final"
    assert (final / "model.safetensors").is_file() and (final / "tokenizer.json").is_file()
    manifest = json.loads((final / "data_manifest.json").read_text())
    assert manifest["sha256"] == res["data_manifest_sha256"]
    assert {r["split"] for r in manifest["records"]} == {"train", "heldout"}
    assert all(set(r) == {"id", "sha256", "split"} for r in manifest["records"])  # ids and hashes only
    assert (run_dir / "loss.png").stat().st_size > 1000
    assert list((run_dir / "tensorboard").glob("events.out.tfevents.*"))
    evals = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines() if '"eval"' in x]
    assert [e["step"] for e in evals] == [4, 8] and all(e["eval_ppl"] > 1 for e in evals)
    # keep_last: 1 → exactly one committed checkpoint, the last one
    ckpts = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    assert ckpts == ["LATEST", "step_00000008"]
    actions = _audit_actions(home)
    assert actions[0] == "train.start" and actions[-1] == "train.end"
    assert actions.count("train.checkpoint") == 3  # steps 3, 6, 8


def test_kill_mid_save_then_resume_is_bitwise_identical(reference, train_tmp):
    ref_home, _ = reference
    home = train_tmp / "killed"
    recipe = base_recipe("exact")
    ckroot = home / "runs" / "exact" / "checkpoints"
    staging = ckroot / ".staging-step_00000006"
    proc = start(home, recipe, env={ENV_PAUSE_IN_SAVE: "6:120"})
    # Every rank has written its shards and rank 0 its trainer state; the manifest is not written yet.
    wait_for(lambda: (staging / "trainer_state.json").exists(), proc=proc)
    kill_group(proc)
    assert staging.is_dir() and not (staging / "manifest.json").exists()
    found = find_resumable(ckroot)
    assert found is not None and found[0].name == "step_00000003"  # keep_last: 1 still leaves one

    rc, res, err = run(home, recipe, "--resume")
    assert rc == 0, err[-4000:]
    assert res["resumed_from_step"] == 3 and res["steps"] == 8
    assert not staging.exists()  # swept
    ref_run, run_dir = ref_home / "runs" / "exact", home / "runs" / "exact"
    assert step_losses(run_dir) == step_losses(ref_run)  # every per-step loss, bit for bit
    a, b = weights(ref_run / "final"), weights(run_dir / "final")
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]), k
    assert "train.resume" in _audit_actions(home)


def test_changed_max_steps_on_resume_is_refused(reference):
    home, _ = reference
    rc, res, err = run(home, base_recipe("exact", train={**base_recipe("x")["train"], "max_steps": 12}), "--resume")
    assert rc == 4, err[-3000:]
    assert any("train.max_steps" in d and "8" in d and "12" in d for d in res["details"]), res
    assert "--allow-change" in res["hint"]


def test_existing_run_without_resume_is_refused(reference):
    home, _ = reference
    rc, res, _ = run(home, base_recipe("exact"))
    assert rc == 4 and "--resume" in res["hint"]


@pytest.mark.slow
def test_several_random_kills_still_bitwise_identical(reference, train_tmp):
    """kill -9 three times at random moments (start-up, steps, saves, export), resume each time, finish."""
    ref_home, ref = reference
    home = train_tmp / "random-kills"
    recipe = base_recipe("exact")
    run_dir = home / "runs" / "exact"
    rng = random.Random(20261123)
    # The tiny steps take milliseconds, so spread the kills over the whole life of a process: from half the
    # reference start-up time to a little after its first step.
    t_first = ref["seconds_to_first_step"]
    kills, args = 0, ()
    for _ in range(3):
        proc = start(home, recipe, *args)
        args = ("--resume",)
        time.sleep(rng.uniform(0.5 * t_first, 1.2 * t_first))
        if proc.poll() is not None:
            _, err = proc.communicate()
            assert proc.returncode == 0, err[-4000:]
            break
        kill_group(proc)
        kills += 1
    rc, _, err = run(home, recipe, "--resume")
    assert rc == 0, err[-4000:]
    assert kills >= 2
    assert step_losses(run_dir) == step_losses(ref_home / "runs" / "exact")
    a, b = weights(ref_home / "runs" / "exact" / "final"), weights(run_dir / "final")
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
