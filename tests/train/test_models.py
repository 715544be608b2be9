"""Each architecture trains on 2 CPU ranks and its loss falls; LoRA merge equals the adapted model."""

from __future__ import annotations

import pytest
from train_helpers import base_recipe, run, step_losses


@pytest.mark.parametrize("arch", ["qwen2", "deepseek_v3"])  # llama: the `reference` run (test_resume.py)
def test_arch_trains_and_loss_falls(arch, train_tmp):
    home = train_tmp / f"arch-{arch}"
    recipe = base_recipe(f"arch-{arch}", model={"init": {"arch": arch, "preset": "tiny"}},
                         checkpoint={"every": 6, "keep_last": 1}, eval={"every": 6})
    recipe["train"]["max_steps"] = 6
    rc, res, err = run(home, recipe)
    assert rc == 0, err[-4000:]
    losses = [loss for _, loss in step_losses(home / "runs" / f"arch-{arch}")]
    assert len(losses) == 6 and losses[-1] < losses[0] - 0.3, losses
    assert res["eval_ppl"] is not None

    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    final = home / "runs" / f"arch-{arch}" / "final"
    assert AutoConfig.from_pretrained(final).model_type == arch
    model = AutoModelForCausalLM.from_pretrained(final, local_files_only=True)
    if arch == "deepseek_v3":  # MLA + MoE really are there
        assert model.config.kv_lora_rank > 0 and model.config.n_routed_experts > 1
    with torch.no_grad():
        assert torch.isfinite(model(input_ids=torch.tensor([[1, 2, 3]])).logits).all()


def test_lora_on_a_local_model_merges_exactly(reference, train_tmp):
    """LoRA on `model.path` (the reference run's final model); merged final == base + adapter outputs."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    ref_home, _ = reference
    base_dir = ref_home / "runs" / "exact" / "final"
    home = train_tmp / "lora"
    recipe = base_recipe("lora", model={"path": str(base_dir)}, checkpoint={"every": 4, "keep_last": 1},
                         eval={"every": 4})
    recipe["train"].update(max_steps=4, lr=1e-2, lora={"r": 4, "alpha": 8, "dropout": 0.0,
                                                       "target_modules": ["q_proj", "v_proj", "down_proj"]})
    rc, res, err = run(home, recipe)
    assert rc == 0, err[-4000:]
    assert res["lora_merge_max_abs_diff"] < 1e-4
    run_dir = home / "runs" / "lora"
    merged = AutoModelForCausalLM.from_pretrained(run_dir / "final", local_files_only=True)
    base = AutoModelForCausalLM.from_pretrained(base_dir, local_files_only=True)
    adapted = PeftModel.from_pretrained(base, run_dir / "adapter")
    x = torch.tensor([[5, 17, 42, 99, 7, 3, 250, 11]])
    with torch.no_grad():
        la, lm = adapted(input_ids=x).logits, merged(input_ids=x).logits
        lb = AutoModelForCausalLM.from_pretrained(base_dir, local_files_only=True)(input_ids=x).logits
    assert torch.allclose(la, lm, atol=1e-4), (la - lm).abs().max()
    assert not torch.allclose(lb, lm, atol=1e-4)  # the adapter did change the model


@pytest.mark.slow
@pytest.mark.parametrize("zero_stage,precision,accum", [(3, "bf16", 2), (0, "fp32", 1), (1, "bf16", 2)])
def test_zero_stages_and_precisions_train(zero_stage, precision, accum, train_tmp):
    name = f"z{zero_stage}-{precision}"
    home = train_tmp / name
    recipe = base_recipe(name, checkpoint={"every": 3, "keep_last": 1}, eval={"every": 6})
    recipe["train"].update(max_steps=6, zero_stage=zero_stage, precision=precision, grad_accum=accum)
    rc, _res, err = run(home, recipe)
    assert rc == 0, err[-4000:]
    losses = [loss for _, loss in step_losses(home / "runs" / name)]
    assert len(losses) == 6 and losses[-1] < losses[0], losses
    assert (home / "runs" / name / "final" / "model.safetensors").is_file()
