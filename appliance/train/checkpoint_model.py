"""What makes a training checkpoint exportable on its own: a ``model/`` folder beside DeepSpeed's shards.

DeepSpeed's ``ds/`` holds ZeRO-partitioned weights and optimizer state, but no ``config.json`` and no
tokenizer, so a checkpoint alone could not become a model.  At every save rank 0 adds ``model/``:

- ``config.json``: the model config the run started from (``model.path``'s, or ``model_init/``'s), byte for byte;
- the tokenizer files of the run (the user's own, byte for byte; see :mod:`appliance._internal.tokenizer_files`);
- ``adapter_config.json`` for a LoRA run (peft's config of the live adapter), the base being ``model.path``;
- ``checkpoint.json``: run name, step, ZeRO stage, DeepSpeed tag, base model path.

The checkpoint manifest hashes these like every other file, so ``export`` verifies them before use.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from appliance._internal.atomic import atomic_write
from appliance._internal.tokenizer_files import copy_tokenizer_files

MODEL_DIR = "model"
CHECKPOINT_INFO = "checkpoint.json"
ADAPTER_CONFIG = "adapter_config.json"


def write_model_dir(staging: Path, plan: dict, module, *, step: int, ds_tag: str) -> Path:
    """Fill ``staging/model/`` (rank 0, before the checkpoint is committed); returns that directory."""
    out = Path(staging) / MODEL_DIR
    out.mkdir(parents=True, exist_ok=True)
    config_src = Path(plan.get("model_path") or plan["model_config_dir"]) / "config.json"
    shutil.copyfile(config_src, out / "config.json")
    copy_tokenizer_files(Path(plan["tokenizer_dir"]), out, overwrite=True)
    recipe = plan["recipe"]
    lora = recipe["train"].get("lora")
    peft_config = getattr(module, "peft_config", None) if lora else None
    if peft_config:
        cfg = peft_config["default"].to_dict()
        cfg["base_model_name_or_path"] = plan.get("model_path")
        atomic_write(out / ADAPTER_CONFIG, json.dumps(cfg, indent=1, sort_keys=True, default=sorted))
    info = {"run": recipe["run"]["name"], "step": step, "zero_stage": recipe["train"]["zero_stage"],
            "ds_tag": ds_tag, "lora": bool(peft_config), "base_model": plan.get("model_path")}
    atomic_write(out / CHECKPOINT_INFO, json.dumps(info, indent=1, sort_keys=True))
    return out
