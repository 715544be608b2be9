"""QLoRA (train.lora.quantize: 4bit): refused clearly on a CPU host; trained on a GPU where one is lent."""

from __future__ import annotations

import pytest
from train_helpers import base_recipe, run

from appliance.errors import ConfigError
from appliance.train.recipe import recipe_from_dict


def _qlora(name: str, path: str) -> dict:
    return base_recipe(name, model={"path": path},
                       train={**base_recipe("x")["train"], "lora": {"r": 4, "alpha": 8, "dropout": 0.0,
                                                                   "quantize": "4bit"}})


def test_qlora_needs_a_pretrained_base():
    r = _qlora("q", "/nowhere")
    r["model"] = {"init": {"arch": "llama", "preset": "tiny"}}
    with pytest.raises(ConfigError) as e:
        recipe_from_dict(r)
    assert "train.lora.quantize" in str(e.value.details if hasattr(e.value, "details") else e.value)


def test_qlora_refused_on_cpu(train_tmp):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this host has a GPU")
    rc, res, err = run(train_tmp / "qlora-cpu", _qlora("q", str(train_tmp / "no-model")))
    assert rc == 2, (res, err[-2000:])
    assert "needs a CUDA GPU" in res["message"] and "train.lora.quantize" in res["hint"], res


@pytest.mark.gpu
@pytest.mark.slow
def test_qlora_trains_on_gpu(reference, train_tmp):
    """A 4-bit base (the reference run's tiny llama) with LoRA adapters trains and merges into final/."""
    _home, ref = reference
    rec = _qlora("qlora-gpu", ref["final_model"])
    rec["run"]["nproc"] = 1
    rc, res, err = run(train_tmp / "qlora-gpu", rec)
    assert rc == 0, err[-4000:]
    assert res["final_loss"] < 20 and (train_tmp / "qlora-gpu" / "runs" / "qlora-gpu" / "final"
                                       / "model.safetensors").is_file()
