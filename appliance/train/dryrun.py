"""`appliance train --dry-run`: what a recipe would do, before a GPU-week starts; trains nothing.

It resolves what the run would use (the model directory or preset, the tokenizer, the vault records and
their patient-grouped split), tokenizes and packs in memory as the real run would, and reports tokens,
samples, steps per epoch and epochs.  Memory per GPU comes from DeepSpeed's own model-state estimators
(``estimate_zero2_model_states_mem_needs`` for ZeRO 0–2, ``estimate_zero3_model_states_mem_needs`` for
ZeRO-3, with the recipe's offload), over a parameter count taken from the model built on the ``meta``
device (no weights are read or allocated).  Those estimators count parameters, gradients and Adam states
for mixed precision only; activations, the framework and (on CPU) the interpreter come on top, so the
figure is a floor, and the report says so.  LoRA: only the adapters carry gradients and optimizer states;
the frozen base weights are added at their own precision.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

from appliance.home import Home
from appliance.train import chat as chatmod
from appliance.train import tokenizer as tokmod
from appliance.train.data import RecordSource, build_manifest, tokenize_split
from appliance.train.distill import dry_run_report, resolve_teacher
from appliance.train.presets import build_config, default_vocab_size
from appliance.train.recipe import Recipe

_GIB = 1 << 30


def _meta_model(config, lora: dict | None):
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    if lora:
        from peft import LoraConfig, get_peft_model

        from appliance.train.engine import lora_targets

        model = get_peft_model(model, LoraConfig(r=lora["r"], lora_alpha=lora["alpha"], lora_dropout=lora["dropout"],
                                                 target_modules=lora_targets(model, lora), task_type="CAUSAL_LM"))
    return model


def memory_estimate(model, recipe: Recipe, gpus_per_node: int, nodes: int = 1) -> dict[str, Any]:
    """DeepSpeed's per-GPU and per-node CPU model-state estimate for the recipe's ZeRO stage and offload."""
    import contextlib
    import sys

    # DeepSpeed's logger writes to stdout (accelerator detection at import); stdout carries --json output
    with contextlib.redirect_stdout(sys.stderr):
        from deepspeed.runtime.zero.stage3 import estimate_zero3_model_states_mem_needs, model_to_params
        from deepspeed.runtime.zero.stage_1_and_2 import estimate_zero2_model_states_mem_needs

    t = recipe.train
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    frozen = total - trainable
    offload_opt = t.offload in ("optimizer", "optimizer_and_params")
    if t.zero_stage == 3:
        _, largest = model_to_params(model)
        cpu, gpu, _ = estimate_zero3_model_states_mem_needs(
            trainable, largest, num_gpus_per_node=gpus_per_node, num_nodes=nodes, cpu_offload=offload_opt,
            cpu_offload_params=t.offload == "optimizer_and_params", zero_init=True)
        estimator = "deepspeed.runtime.zero.stage3.estimate_zero3_model_states_mem_needs"
    else:
        # ZeRO 0 partitions nothing: DeepSpeed's stage-2 formula with one GPU is the unpartitioned case
        gpus = gpus_per_node if t.zero_stage > 0 else 1
        cpu, gpu = estimate_zero2_model_states_mem_needs(trainable, num_gpus_per_node=gpus, num_nodes=nodes,
                                                         cpu_offload=offload_opt)
        estimator = "deepspeed.runtime.zero.stage_1_and_2.estimate_zero2_model_states_mem_needs"
    bytes_per = 4 if t.precision == "fp32" else 2
    frozen_bytes = 0 if t.offload == "optimizer_and_params" else frozen * bytes_per
    return {"params_total": total, "params_trainable": trainable, "zero_stage": t.zero_stage, "offload": t.offload,
            "gpu_bytes_per_device": int(gpu + frozen_bytes), "cpu_bytes_per_node": int(cpu),
            "gpu_gib_per_device": round((gpu + frozen_bytes) / _GIB, 3), "cpu_gib_per_node": round(cpu / _GIB, 3),
            "estimator": estimator,
            "note": "model states only (params, grads, Adam); activations and framework memory come on top"}


def dry_run(home: Home, recipe: Recipe, *, source: RecordSource, resolve_model_dir=None,
            gpus_per_node: int | None = None, nodes: int = 1) -> dict[str, Any]:
    """Check that model, tokenizer and data resolve; count tokens, steps and memory.  Writes nothing.

    ``nodes``: the run's node count (``--nnodes``); the world is ``run.nproc`` ranks on each."""
    from transformers import AutoConfig

    records = list(source.list_records())
    patients = source.patients() if hasattr(source, "patients") else None
    manifest = build_manifest(records, recipe.data.heldout_fraction, patients)
    teacher_ref = resolve_teacher(home, recipe.distill) if recipe.distill else None
    with tempfile.TemporaryDirectory(prefix="appliance-dryrun-") as tmp:
        if recipe.model.init is not None:
            vocab = recipe.model.init.vocab_size or default_vocab_size(recipe.model.init.preset)
            train_ids = [r["id"] for r in manifest["records"] if r["split"] == "train"]
            chat_run = recipe.data.format == "chat"
            texts = ([] if teacher_ref else chatmod.tokenizer_texts(source, train_ids) if chat_run
                     else [source.read_text(i) for i in train_ids])
            tok = (teacher_ref.load_tokenizer() if teacher_ref else  # the teacher's is adopted, as in train
                   tokmod.train_bpe(texts, vocab, Path(tmp) / "tok", min_records=recipe.tokenizer.min_records,
                                    extra_special_tokens=chatmod.ROLE_TOKENS if chat_run else ()))
            bos, eos, pad = tokmod.special_ids(tok)
            config = build_config(recipe.model.init.arch, recipe.model.init.preset, vocab_size=len(tok),
                                  max_positions=recipe.data.seq_len, bos_id=bos, eos_id=eos, pad_id=pad)
            model_desc = f"init {recipe.model.init.arch}/{recipe.model.init.preset}"
        else:
            model_dir = resolve_model_dir(recipe)
            tok = tokmod.load(model_dir)
            _, eos, _ = tokmod.special_ids(tok)
            config = AutoConfig.from_pretrained(str(model_dir), local_files_only=True, trust_remote_code=False)
            model_desc = str(model_dir)
        if recipe.data.format == "chat":
            arrays = chatmod.prepare(tok, recipe.data.model_dump(), source, manifest)[0]
        else:
            arrays = tokenize_split(source, manifest, tokmod.encoder(tok), eos, recipe.data.seq_len)
    world = recipe.run.nproc * nodes
    gb = recipe.global_batch(world)
    n_train = len(arrays["train"])
    steps_per_epoch = math.ceil(n_train / gb)
    lora = recipe.train.lora.model_dump() if recipe.train.lora else None
    mem = memory_estimate(_meta_model(config, lora), recipe, gpus_per_node or recipe.run.nproc, nodes)
    teacher = dry_run_report(teacher_ref, recipe, tok, model_desc, config.vocab_size) if teacher_ref else None
    if teacher:  # the frozen teacher sits on every rank next to the student's states
        mem.update(teacher_bytes_per_device=teacher["bytes_per_device"],
                   gpu_bytes_per_device=mem["gpu_bytes_per_device"] + teacher["bytes_per_device"])
        mem["gpu_gib_per_device"] = round(mem["gpu_bytes_per_device"] / _GIB, 3)
    return {
        "run": recipe.run.name, "model": model_desc, "tokenizer_vocab": len(tok),
        "records": {"train": manifest["counts"]["train"], "heldout": manifest["counts"]["heldout"]},
        "split_grouped_by": manifest["grouped_by"],
        # chat rows are padded: count their real tokens
        "tokens": {s: int(arrays[f"{s}_lengths"].sum() if f"{s}_lengths" in arrays else arrays[s].size)
                   for s in ("train", "heldout")},
        "samples": {"train": n_train, "heldout": len(arrays["heldout"])},
        "seq_len": recipe.data.seq_len, "world_size": world, "global_batch": gb,
        "steps_per_epoch": steps_per_epoch, "max_steps": recipe.train.max_steps,
        "epochs": round(recipe.train.max_steps / steps_per_epoch, 3),
        "tokens_to_train": recipe.train.max_steps * gb * recipe.data.seq_len,
        "early_stopping_patience": recipe.eval.early_stopping_patience,
        "memory": mem, "distill": teacher, "trained": False,
    }
