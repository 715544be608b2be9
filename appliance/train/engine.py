"""The rank-side training loop: model, DeepSpeed engine, deterministic batches, checkpoints, final model.

Runs inside every rank started by DeepSpeed's launcher (see :mod:`appliance.train.worker`).  The parent
wrote ``plan.json`` (resolved recipe, world size, checkpoint to resume from, paths) and published the packed
token arrays through a memory-only channel.  Order on resume matters: build the model, the engine and the
data pipeline first, then load the checkpoint, then restore every RNG last, so nothing that consumes
randomness during set-up shifts the streams the training steps see.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from appliance._internal.atomic import atomic_write, fsync_tree
from appliance._internal.tokenizer_files import copy_tokenizer_files
from appliance.train import checkpoint as ckpt
from appliance.train import distill
from appliance.train import metrics as metrics_mod
from appliance.train.chat import Examples
from appliance.train.checkpoint_model import write_model_dir
from appliance.train.data import GlobalSampler, rank_slice
from appliance.train.schedule import lr_multiplier

log = logging.getLogger(__name__)

DS_TAG = "ds"
_LORA_DEFAULT_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
                         "q_a_proj", "q_b_proj", "kv_a_proj_with_mqa", "kv_b_proj"]


def ds_config(recipe: dict, world_size: int, on_gpu: bool) -> dict:
    """The DeepSpeed config for a recipe (the same dict the benchmark hands to transformers' Trainer)."""
    t = recipe["train"]
    zero: dict[str, Any] = {"stage": t["zero_stage"]}
    if t["zero_stage"] > 0:
        zero.update(contiguous_gradients=True, overlap_comm=False, reduce_scatter=True)
    if t["offload"] in ("optimizer", "optimizer_and_params"):
        zero["offload_optimizer"] = {"device": "cpu", "pin_memory": on_gpu}
    if t["offload"] == "optimizer_and_params":
        zero["offload_param"] = {"device": "cpu", "pin_memory": on_gpu}
    cfg: dict[str, Any] = {
        "train_micro_batch_size_per_gpu": t["micro_batch_size"],
        "gradient_accumulation_steps": t["grad_accum"],
        "train_batch_size": t["micro_batch_size"] * t["grad_accum"] * world_size,
        "gradient_clipping": t["grad_clip"],
        "zero_optimization": zero,
        "optimizer": {
            "type": "AdamW",
            "params": {"lr": t["lr"], "betas": list(t["betas"]), "eps": 1e-8, "weight_decay": t["weight_decay"],
                       # A plain torch optimizer: no FusedAdam / CPUAdam JIT build on the appliance host.
                       "torch_adam": True},
        },
        "zero_allow_untested_optimizer": True,
        "zero_force_ds_cpu_optimizer": False,
        "bf16": {"enabled": t["precision"] == "bf16"},
        "fp16": {"enabled": t["precision"] == "fp16", "loss_scale": 0, "initial_scale_power": 12,
                 "loss_scale_window": 100, "hysteresis": 2, "min_loss_scale": 1},
        "steps_per_print": 1 << 30,
        "wall_clock_breakdown": False,
    }
    if t["gradient_checkpointing"]:
        cfg["activation_checkpointing"] = {"partition_activations": False}
    return cfg


def seed_all(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict:
    """Every RNG stream of this process as plain JSON (no pickle in our own checkpoint files)."""
    import base64

    import torch

    py = random.getstate()
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {
        "python": [py[0], list(py[1]), py[2]],
        "numpy": [name, keys.tolist(), int(pos), int(has_gauss), float(gauss)],
        "torch": base64.b64encode(torch.get_rng_state().numpy().tobytes()).decode("ascii"),
    }
    if torch.cuda.is_available():
        state["cuda"] = [base64.b64encode(s.numpy().tobytes()).decode("ascii") for s in torch.cuda.get_rng_state_all()]
    return state


def set_rng_state(state: dict) -> None:
    import base64

    import torch

    def tensor(b64: str):
        return torch.from_numpy(np.frombuffer(base64.b64decode(b64), dtype=np.uint8).copy())

    v, internal, gauss = state["python"]
    random.setstate((v, tuple(internal), gauss))
    name, keys, pos, has_gauss, g = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, g))
    torch.set_rng_state(tensor(state["torch"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([tensor(x) for x in state["cuda"]])


def lora_targets(model, lora: dict) -> list[str]:
    """The recipe's target modules, or every known attention/MLP projection the model has."""
    names = {n.rsplit(".", 1)[-1] for n, _ in model.named_modules()}
    return lora.get("target_modules") or [t for t in _LORA_DEFAULT_TARGETS if t in names]


def _load_4bit(path: str, recipe: dict):
    """QLoRA base: NF4 weights with double quantization, bf16 compute, on this rank's GPU, frozen."""
    import torch
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        from appliance.errors import MissingComponent

        raise MissingComponent("train.lora.quantize: 4bit needs bitsandbytes",
                               hint="install the appliance's gpu extra on this GPU host") from None
    from peft import prepare_model_for_kbit_training

    qcfg = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=torch.bfloat16)
    model = AutoModelForCausalLM.from_pretrained(path, trust_remote_code=False, local_files_only=True,
                                                 use_safetensors=True, quantization_config=qcfg,
                                                 device_map={"": torch.cuda.current_device()})
    return prepare_model_for_kbit_training(
        model, use_gradient_checkpointing=recipe["train"]["gradient_checkpointing"])


def build_model(plan: dict):
    """A fresh model (``model.init``) or a loaded one (``model.path``), wrapped in LoRA when asked."""
    import torch
    from transformers import AutoModelForCausalLM

    recipe = plan["recipe"]
    model_cfg = recipe["model"]
    seed_all(recipe["train"]["seed"])  # identical initial weights on every rank and every restart
    if model_cfg.get("init"):
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(plan["model_config_dir"], local_files_only=True)
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    elif (recipe["train"].get("lora") or {}).get("quantize") == "4bit":
        model = _load_4bit(plan["model_path"], recipe)
    else:
        model = AutoModelForCausalLM.from_pretrained(plan["model_path"], trust_remote_code=False,
                                                     local_files_only=True, use_safetensors=True,
                                                     dtype=torch.float32)
    if recipe["train"]["gradient_checkpointing"]:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    lora = recipe["train"].get("lora")
    if lora:
        from peft import LoraConfig, get_peft_model

        targets = lora_targets(model, lora)
        model = get_peft_model(model, LoraConfig(r=lora["r"], lora_alpha=lora["alpha"], lora_dropout=lora["dropout"],
                                                 target_modules=targets, task_type="CAUSAL_LM"))
    return model


def _param_groups(model, weight_decay: float):
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (decay if p.ndim >= 2 and "norm" not in name else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


class Trainer:
    """One rank's view of a run."""

    def __init__(self, plan: dict, data: dict[str, np.ndarray]):
        import deepspeed
        import torch
        import torch.distributed as dist

        self.plan = plan
        self.recipe = plan["recipe"]
        self.t = self.recipe["train"]
        self.run_dir = Path(plan["run_dir"])
        self.ckpt_root = self.run_dir / "checkpoints"
        self.rank = dist.get_rank()
        self.world = dist.get_world_size()
        if self.world != plan["world_size"]:
            raise RuntimeError(f"launcher started {self.world} ranks, plan says {plan['world_size']}")
        self.on_gpu = torch.cuda.is_available()
        self.train_data = data["train"]
        self.heldout = data["heldout"][: self.recipe["data"]["max_eval_samples"]]
        self.seq_len = self.train_data.shape[1]
        self.sampler = GlobalSampler(len(self.train_data), self.t["seed"])
        # data.format chat: padded conversations with labels and lengths (appliance.train.chat)
        self.examples = Examples(data, self.recipe["data"]["max_eval_samples"]) if Examples.present(data) else None

        model = build_model(plan)
        t = self.t

        def lr_lambda(step: int) -> float:
            return lr_multiplier(step, schedule=t["schedule"], max_steps=t["max_steps"],
                                 warmup_steps=t["warmup_steps"], min_lr_ratio=t["min_lr_ratio"],
                                 decay_fraction=t["decay_fraction"])

        self.engine, _opt, _, self.scheduler = deepspeed.initialize(
            model=model,
            model_parameters=_param_groups(model, t["weight_decay"]),
            config=ds_config(self.recipe, self.world, self.on_gpu),
            lr_scheduler=lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda),
        )
        self.device = self.engine.device
        self.distiller = distill.from_plan(plan, self.device)  # frozen, outside the engine and its checkpoints
        self.step = 0
        self.sample_index = 0
        self.tokens_seen = 0
        self.best_eval = float("inf")
        self.best_step: int | None = None
        self.model_state_bytes: int | None = None
        self.evals_without_gain = 0
        self.resumed_from = None
        self.phases = {"plan_ready": plan.get("t_plan_ready") or time.time(), **(plan.get("_phases") or {})}
        self.phases["engine_ready"] = time.time()
        if plan.get("resume_from"):
            self._load(Path(plan["resume_from"]))
        else:
            seed_all(t["seed"] + 1000003 * self.rank)
        self.phases["state_ready"] = time.time()

    # -- checkpoints ------------------------------------------------------------------------------------
    def _load(self, path: Path) -> None:

        self.engine.load_checkpoint(str(path), tag=DS_TAG, load_optimizer_states=True,
                                    load_lr_scheduler_states=True, load_module_strict=True)
        state = json.loads((path / "trainer_state.json").read_text())
        self.step = state["step"]
        self.sample_index = state["sample_index"]
        self.tokens_seen = state["tokens_seen"]
        best = state.get("best_eval")
        self.best_eval = float("inf") if best is None else best
        self.evals_without_gain = state.get("evals_without_gain", 0)
        self.best_step = state.get("best_step")
        self.resumed_from = self.step
        if self.rank == 0 and self.plan.get("progress"):
            metrics_mod.progress_log.info("resuming from step %d (checkpoint %s)", self.step, path.name)
        # RNG last: nothing after this point may draw randomness before the first training step.
        set_rng_state(json.loads((path / f"rng_rank{self.rank}.json").read_text()))

    def save(self) -> None:
        import torch.distributed as dist

        staging = ckpt.staging_path(self.ckpt_root, self.step)
        if self.rank == 0:
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
        dist.barrier()
        self.engine.save_checkpoint(str(staging), tag=DS_TAG, save_latest=False)
        with open(staging / f"rng_rank{self.rank}.json", "w") as f:
            json.dump(rng_state(), f)
        dist.barrier()
        if self.rank == 0:
            atomic_write(staging / "trainer_state.json", json.dumps({
                "step": self.step, "sample_index": self.sample_index, "tokens_seen": self.tokens_seen,
                "best_eval": self.best_eval if self.best_eval != float("inf") else None,
                "evals_without_gain": self.evals_without_gain, "best_step": self.best_step}))
            write_model_dir(staging, self.plan, self.engine.module, step=self.step, ds_tag=DS_TAG)  # exportable
            meta = {k: self.plan[k] for k in ("world_size", "recipe_sha256", "recipe_critical", "data_manifest_sha256")}
            meta.update(sample_index=self.sample_index, tokens_seen=self.tokens_seen)
            path = ckpt.commit(self.ckpt_root, self.step, meta, self.recipe["checkpoint"]["keep_last"])
            _audit(self.plan, "train.checkpoint", {"run": self.recipe["run"]["name"], "step": self.step,
                                                   "checkpoint": path.name, "tokens_seen": self.tokens_seen})
        dist.barrier()

    # -- steps ------------------------------------------------------------------------------------------
    def _batch(self, micro: int):
        import torch

        idx = [self.sampler[g] for g in rank_slice(self.step, micro, self.rank, micro_batch=self.t["micro_batch_size"],
                                                   grad_accum=self.t["grad_accum"], world=self.world)]
        if self.examples is not None:
            return self.examples.batch("train", idx, self.device)
        x = torch.from_numpy(self.train_data[idx].astype(np.int64)).to(self.device)
        return {"input_ids": x, "labels": x}

    def train_step(self) -> float:
        import torch
        import torch.distributed as dist

        total = torch.zeros((), dtype=torch.float32, device=self.device)
        for micro in range(self.t["grad_accum"]):
            batch = self._batch(micro)
            out = self.engine(**batch, use_cache=False)
            if self.distiller:  # the teacher sees the same batch (and mask); its KL covers the labelled positions
                extra = {k: v for k, v in batch.items() if k not in ("input_ids", "labels")}
                loss = self.distiller.loss(out, batch["input_ids"], batch["labels"], **extra)
            else:
                loss = out.loss
            self.engine.backward(loss)
            if self.step == 1 and micro == 0 and self.rank == 0:
                # grads and Adam states both live: the model-state peak the dry run's estimate is about
                self.model_state_bytes = live_tensor_bytes(self.engine)
            self.engine.step()
            total += loss.detach().float()
        dist.all_reduce(total)
        gb = self.t["micro_batch_size"] * self.t["grad_accum"] * self.world
        self.step += 1
        self.sample_index += gb
        self.tokens_seen += gb * self.seq_len
        return total.item() / (self.t["grad_accum"] * self.world)

    def evaluate(self) -> float | None:
        """Mean held-out token loss (every rank runs the same number of forwards, for ZeRO-3)."""
        import torch
        import torch.distributed as dist

        n = len(self.heldout)
        if n == 0:
            return None
        mb = self.t["micro_batch_size"]
        per_batch = mb * self.world
        sums = torch.zeros(2, dtype=torch.float64, device=self.device)
        self.engine.eval()
        with torch.no_grad():
            for b in range((n + per_batch - 1) // per_batch):
                lo = b * per_batch + self.rank * mb
                idx = [i for i in range(lo, lo + mb) if i < n]
                weight = len(idx)
                if self.examples is not None:  # chat: the loss is a mean over the answer tokens only
                    loss = self.engine(**self.examples.batch("heldout", idx or [0], self.device),
                                       use_cache=False).loss.double()
                    tokens = self.examples.supervised("heldout", idx)
                else:
                    x = torch.from_numpy(self.heldout[idx or [0]].astype(np.int64)).to(self.device)
                    loss = self.engine(input_ids=x, labels=x, use_cache=False).loss.double()
                    tokens = weight * (self.seq_len - 1)
                sums += torch.stack([loss * tokens, torch.tensor(float(tokens), dtype=torch.float64,
                                                                   device=self.device)])
        self.engine.train()
        dist.all_reduce(sums)
        return (sums[0] / sums[1]).item()

    # -- the loop ---------------------------------------------------------------------------------------
    def fit(self) -> dict:
        import torch.distributed as dist

        t = self.t
        max_steps = t["max_steps"]
        metrics = None
        if self.rank == 0:
            metrics_mod.truncate_after(self.run_dir / "metrics.jsonl", self.step)
            metrics = metrics_mod.MetricsLog(self.run_dir, start_step=self.step, max_steps=max_steps,
                                             show_progress=self.plan.get("progress", True),
                                             every=(self.recipe.get("progress") or {}).get("every", 10))
        every = self.recipe["checkpoint"]["every"]
        eval_every = self.recipe["eval"]["every"]
        patience = self.recipe["eval"]["early_stopping_patience"]
        gb_tokens = t["micro_batch_size"] * t["grad_accum"] * self.world * self.seq_len
        t0 = float(self.plan.get("t0") or time.time())
        first_step_s = None
        meter = metrics_mod.Throughput()
        meter.tick(0)
        last_loss = None
        last_eval = None
        stopped_early = False
        rates = []
        while self.step < max_steps:
            lr = self.scheduler.get_last_lr()[0]
            loss = self.train_step()
            last_loss = loss
            rate = meter.tick(gb_tokens)
            if first_step_s is None:
                first_step_s = time.time() - t0
                self.phases["first_step"] = time.time()
                rate = 0.0
            else:
                rates.append(rate)
            if metrics is not None:
                rec = {"kind": "step", "step": self.step, "loss": loss, "lr": lr, "tokens_seen": self.tokens_seen,
                       "tokens_per_s": round(rate, 2)}
                if len(rates) == 0:
                    rec["seconds_to_first_step"] = round(first_step_s, 3)
                metrics.write(rec)
            if eval_every and self.step % eval_every == 0 or self.step == max_steps:
                last_eval = self.evaluate()
                if last_eval is not None:
                    improved = last_eval < self.best_eval - 1e-6
                    if improved:
                        self.best_eval, self.evals_without_gain, self.best_step = last_eval, 0, self.step
                        if patience:  # keep the best-by-held-out weights; final/ becomes them at the end
                            self.export_model("best", snapshot=True)
                    else:
                        self.evals_without_gain += 1
                    if metrics is not None:
                        metrics.write({"kind": "eval", "step": self.step, "eval_loss": last_eval,
                                       "eval_ppl": float(np.exp(min(last_eval, 50.0))), "best": improved})
                    if patience and self.evals_without_gain >= patience and self.step < max_steps:
                        stopped_early = True
            if self.step % every == 0 or self.step == max_steps or stopped_early:
                self.save()
            if stopped_early:
                break
        if metrics is not None:
            metrics.close()
        dist.barrier()
        summary = {
            "steps": self.step,
            "final_loss": last_loss,
            "eval_loss": last_eval,
            "eval_ppl": float(np.exp(min(last_eval, 50.0))) if last_eval is not None else None,
            "tokens_seen": self.tokens_seen,
            "tokens_per_s": float(np.median(rates)) if rates else None,
            "seconds_to_first_step": round(first_step_s, 3) if first_step_s is not None else None,
            "resumed_from_step": self.resumed_from,
            "stopped_early": stopped_early,
            "best_step": self.best_step,
            "model_state_bytes_rank0": self.model_state_bytes,
            "best_eval_loss": self.best_eval if self.best_eval != float("inf") else None,
            "world_size": self.world,
            # seconds from the `train()` call to each start-up milestone (rank 0)
            "startup": {k: round(v - t0, 2) for k, v in self.phases.items()},
        }
        if self.distiller and self.rank == 0:
            summary["distill"] = self.distiller.report()
        summary.update(self.export_final(use_best=bool(patience)))
        if self.rank == 0:
            metrics_mod.plot_loss(self.run_dir)
            atomic_write(self.run_dir / "summary.json", json.dumps(summary, indent=1, sort_keys=True))
        dist.barrier()
        return summary

    # -- final model ------------------------------------------------------------------------------------
    def export_final(self, use_best: bool = False) -> dict:
        """Write ``final/``: the last step's model, or with early stopping on the best-by-held-out snapshot
        (``best/``); ``final/selection.json`` records which."""
        best = self.run_dir / "best"
        if use_best and self.best_step is not None and (best / "model.safetensors").is_file():
            extra: dict[str, Any] = {}
            if self.rank == 0:
                selection = {"selected": "best_heldout", "step": self.best_step, "eval_loss": self.best_eval,
                             "last_step": self.step,
                             "early_stopping_patience": self.recipe["eval"]["early_stopping_patience"]}
                atomic_write(best / "selection.json", json.dumps(selection, indent=1, sort_keys=True))
                fsync_tree(best)
                self._replace_final(best)
                extra = {"final_model": str(self.run_dir / "final"), "final_selected": "best_heldout",
                         "final_step": self.best_step}
            return extra
        extra = self.export_model("final")
        if self.rank == 0:
            extra.update(final_selected="last_step", final_step=self.step)
        return extra

    def _replace_final(self, staging: Path) -> None:
        final = self.run_dir / "final"
        if final.exists():
            trash = self.run_dir / ".final-old"
            shutil.rmtree(trash, ignore_errors=True)
            os.replace(final, trash)
            shutil.rmtree(trash, ignore_errors=True)
        os.replace(staging, final)

    def _dequantized_merge(self, module):
        """QLoRA: save the adapters, reload the base in bf16 on the CPU, merge them there."""
        import tempfile

        import torch
        from peft import PeftModel
        from transformers import AutoModelForCausalLM

        with tempfile.TemporaryDirectory(dir=self.run_dir, prefix=".adapter-") as tmp:
            module.save_pretrained(tmp, safe_serialization=True)
            base = AutoModelForCausalLM.from_pretrained(self.plan["model_path"], trust_remote_code=False,
                                                        local_files_only=True, use_safetensors=True,
                                                        dtype=torch.bfloat16)
            merged = PeftModel.from_pretrained(base, tmp).merge_and_unload()
        return merged

    def export_model(self, name: str, snapshot: bool = False) -> dict:
        """Write ``<run>/<name>/`` (merged HF model + tokenizer) via a staging dir and a rename.

        ``snapshot``: mid-training (the best-so-far model): the engine's module is copied, never moved or
        merged in place.  Every rank calls this (ZeRO-3 gathers the weights collectively)."""
        import copy

        import torch

        module = self.engine.module
        extra: dict[str, Any] = {}
        rng = rng_state() if snapshot else None  # a snapshot must not shift the training RNG streams
        if self.t["zero_stage"] == 3:
            state = self.engine._zero3_consolidated_16bit_state_dict()  # collective: every rank calls it
            if self.rank != 0:
                return extra
            module = build_model(self.plan)
            module.load_state_dict(state, strict=False)
        elif self.rank != 0:
            return extra
        elif (self.t.get("lora") or {}).get("quantize"):
            module = self._dequantized_merge(module)  # 4-bit weights cannot be copied or moved to the CPU
        elif snapshot:
            module = copy.deepcopy(module)
        module = module.to("cpu")
        module.eval()
        final = self.run_dir / name
        staging = self.run_dir / f".{name}-staging"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        if self.t.get("lora") and not snapshot and not self.t["lora"].get("quantize"):
            adapter_dir = self.run_dir / "adapter"
            shutil.rmtree(adapter_dir, ignore_errors=True)
            module.save_pretrained(str(adapter_dir), safe_serialization=True)
            probe = torch.from_numpy(self.train_data[:1].astype(np.int64))
            with torch.no_grad():
                before = module(input_ids=probe).logits
                module = module.merge_and_unload()
                after = module(input_ids=probe).logits
            extra["lora_merge_max_abs_diff"] = float((before - after).abs().max())
        elif self.t.get("lora") and not self.t["lora"].get("quantize"):
            module = module.merge_and_unload()  # a copy: the training module keeps its adapters
        module.config.use_cache = True
        module.save_pretrained(str(staging), safe_serialization=True)
        # the run's tokenizer files byte for byte (a re-save of a loaded tokenizer can rewrite the user's)
        copy_tokenizer_files(Path(self.plan["tokenizer_dir"]), staging, overwrite=True)
        shutil.copyfile(self.run_dir / "data_manifest.json", staging / "data_manifest.json")
        if not snapshot:
            atomic_write(staging / "selection.json", json.dumps({"selected": "last_step", "step": self.step},
                                                                 indent=1, sort_keys=True))
        store_parity_reference(staging)
        fsync_tree(staging)
        if name == "final":
            self._replace_final(staging)
        else:
            if final.exists():
                shutil.rmtree(final)
            os.replace(staging, final)
        extra[f"{name}_model"] = str(final)
        if rng is not None:
            set_rng_state(rng)
        return extra


def store_parity_reference(model_dir: Path) -> None:
    """The export's PyTorch reference, computed now from the files just written (torch and transformers are
    loaded already) and bound to their hashes; export reuses it instead of importing both again."""
    from appliance._internal.parity_reference import write_stored_reference

    try:
        write_stored_reference(model_dir)
    except Exception as e:  # noqa: BLE001 - an optimisation: export computes the reference itself without it
        log.warning("parity reference not stored with %s (%s); export will compute it", model_dir.name, e)


def live_tensor_bytes(engine) -> int:
    """Bytes of the model states this rank holds now: parameters and their grads, and every tensor the
    optimizer reaches (DeepSpeed's flat 16-bit/fp32 partitions, gradient buffers, Adam moments), each
    storage counted once, for comparing with the dry run's estimate. Walked from the engine, not found
    with gc: uncollected garbage and activations are not model states, and how much of either is still
    alive at this instant varies from host to host."""
    import torch

    seen: dict[int, int] = {}
    visited: set[int] = set()

    def walk(obj, depth: int) -> None:
        if isinstance(obj, torch.Tensor):
            if obj.device.type != "meta":
                st = obj.untyped_storage()
                seen[st.data_ptr()] = st.nbytes()
            grad = obj.grad if isinstance(obj, torch.nn.Parameter) else None
            if grad is not None:
                walk(grad, depth)
            return
        if depth <= 0 or id(obj) in visited or isinstance(obj, (str, bytes, int, float, bool, type(None))):
            return
        visited.add(id(obj))
        if isinstance(obj, dict):
            items = list(obj.keys()) + list(obj.values())
        elif isinstance(obj, (list, tuple, set)):
            items = list(obj)
        elif isinstance(obj, torch.nn.Module):
            items = list(obj.parameters()) + list(obj.buffers())
        elif hasattr(obj, "__dict__") and type(obj).__module__.split(".")[0] in ("deepspeed", "torch"):
            items = list(vars(obj).values())
        else:
            return
        for item in items:
            walk(item, depth - 1)

    walk(engine.module, 2)
    walk(engine.optimizer, 5)
    return sum(seen.values())


def _audit(plan: dict, action: str, obj: dict) -> None:
    """Record a training event in the home's audit log (ids and counts only)."""
    if not plan.get("audit_home"):
        return
    try:
        from appliance.audit import record
        from appliance.home import Home
    except ImportError:  # audit subsystem not installed in this build
        log.warning("audit log unavailable; %s not recorded", action)
        return
    record(Home(Path(plan["audit_home"])), action, obj)
