"""`train --dry-run`: tokens, steps per epoch, epochs and DeepSpeed's memory estimate; nothing trained."""

from __future__ import annotations

import math

from harness import corpus
from train_helpers import base_recipe

from appliance.home import Home
from appliance.train import InMemorySource
from appliance.train.dryrun import dry_run
from appliance.train.recipe import recipe_from_dict


def test_dry_run_counts_and_estimates_without_training(tmp_path):
    recipe = recipe_from_dict(base_recipe("dry", eval={"every": 4, "early_stopping_patience": 2}))
    home = Home(tmp_path / "home")
    res = dry_run(home, recipe, source=InMemorySource(corpus(160)))
    assert res["trained"] is False and not (tmp_path / "home").exists()  # nothing written
    assert res["records"]["train"] + res["records"]["heldout"] == 160 and res["split_grouped_by"] == "record"
    assert res["tokens"]["train"] == res["samples"]["train"] * 32
    assert res["global_batch"] == 2 * 1 * 2
    assert res["steps_per_epoch"] == math.ceil(res["samples"]["train"] / 4)
    assert math.isclose(res["epochs"], 8 / res["steps_per_epoch"], rel_tol=1e-3)
    mem = res["memory"]
    assert mem["params_total"] == mem["params_trainable"] > 10_000
    # DeepSpeed's ZeRO-2 formula without offload: 2 bytes (16-bit params) + 18/N (grads, fp32 params, Adam)
    assert mem["gpu_bytes_per_device"] == 2 * mem["params_total"] + int(18 * mem["params_total"] / 2)
    assert "stage_1_and_2" in mem["estimator"]
    lora = recipe_from_dict(base_recipe("dry", train={**base_recipe("x")["train"], "zero_stage": 3,
                                                      "lora": {"r": 4, "alpha": 8, "dropout": 0.0}}))
    m3 = dry_run(home, lora, source=InMemorySource(corpus(160)))["memory"]
    assert "stage3" in m3["estimator"] and 0 < m3["params_trainable"] < m3["params_total"] // 4


def test_estimate_against_measured_model_states(train_tmp, reference):
    """The dry run's per-GPU figure vs the model-state bytes rank 0 held at its peak in the reference run
    (tiny llama, ZeRO-2, 2 ranks): target within 25%."""
    _home, res = reference
    recipe = recipe_from_dict(base_recipe("exact"))
    est = dry_run(Home(train_tmp / "dry-ref"), recipe, source=InMemorySource(corpus(160)))["memory"]
    measured = res["model_state_bytes_rank0"]
    ratio = est["gpu_bytes_per_device"] / measured
    print(f"dry-run estimate {est['gpu_bytes_per_device']} B vs measured {measured} B: ratio {ratio:.3f}")
    assert 0.75 <= ratio <= 1.25, (est, measured)
