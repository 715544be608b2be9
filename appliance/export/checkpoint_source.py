"""Export any checkpoint: ``RUN:step_N``, ``RUN:best``, ``RUN:final``, or a checkpoint directory.

A training checkpoint (``runs/<run>/checkpoints/step_N/``) holds DeepSpeed's ZeRO shards in ``ds/`` and,
since the trainer writes it (:mod:`appliance.train.checkpoint_model`), a ``model/`` folder with the config,
the run's tokenizer files and, for LoRA, the adapter config.  To export it we verify the checkpoint's
manifest (every file's sha256), consolidate the shards into one fp32 state dict with DeepSpeed's own
``zero_to_fp32`` (in-process), load it into the architecture, merge a LoRA adapter, and save a plain HF
directory into a scratch folder; the tokenizer files are copied byte for byte.

``RUN:best`` is the best held-out eval: ``final/`` when early stopping selected it
(``final/selection.json``), else the mid-run ``best/`` snapshot, else the kept checkpoint at the step
whose eval loss in ``metrics.jsonl`` is lowest; if that step's weights were not kept, we say so.

Every result carries an ``origin`` (run, checkpoint, step, the run's registry version, the data-manifest
hash) that the artifact manifest records, so an export of a checkpoint keeps its link to the registry.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from appliance._internal.tokenizer_files import copy_tokenizer_files
from appliance.errors import InputError, IntegrityError, UsageError
from appliance.home import Home

log = logging.getLogger(__name__)

_REF_RE = re.compile(r"^(?P<run>[A-Za-z0-9][A-Za-z0-9._-]*):(?P<which>step_\d+|\d+|best|final|latest)$")
MODEL_DIR, CHECKPOINT_INFO = "model", "checkpoint.json"  # written by appliance.train.checkpoint_model


@dataclass
class Resolved:
    """An HF model directory to export and where it came from; ``scratch`` is ours to delete afterwards."""

    path: Path
    origin: dict = field(default_factory=dict)
    scratch: Path | None = None


def parse_ref(model: str) -> tuple[str, str] | None:
    """``("run", "step_00000010" | "best" | "final" | "latest")`` for ``RUN:…``, else None."""
    m = _REF_RE.match(model)
    if not m:
        return None
    which = m.group("which")
    if which.isdigit():
        which = f"step_{int(which):08d}"
    elif which.startswith("step_"):
        which = f"step_{int(which[5:]):08d}"
    return m.group("run"), which


def is_checkpoint_dir(p: Path) -> bool:
    return (p / "manifest.json").is_file() and (p / "ds").is_dir()


def _steps(run_dir: Path) -> list[int]:
    from appliance.train.checkpoint import committed

    return sorted(step for step, _ in committed(run_dir / "checkpoints"))


def _available(run_dir: Path) -> str:
    names = [f"step_{s}" for s in _steps(run_dir)]
    if (run_dir / "final" / "config.json").is_file():
        names.append("final")
    return ", ".join(names) or "none"


def _registry_version(home: Home | None, run: str) -> str | None:
    if home is None:
        return None
    try:
        from appliance.registry import find_by_run
    except ImportError:
        return None
    return find_by_run(home, run)


def origin_of_dir(home: Home | None, p: Path) -> dict:
    """``{"run", "registry_version"}`` for a directory inside the home's ``runs/`` (else ``{}``)."""
    if home is None:
        return {}
    try:
        rel = p.resolve().relative_to(home.runs_dir.resolve())
    except ValueError:
        return {}
    run = rel.parts[0] if rel.parts else None
    if not run:
        return {}
    out = {"run": run, "registry_version": _registry_version(home, run)}
    if len(rel.parts) > 1:
        out["run_path"] = "/".join(rel.parts[1:])
    return out


def resolve_ref(home: Home | None, run: str, which: str) -> Resolved:
    """``RUN:which`` → an HF directory (``final/``, ``best/``) or a materialized checkpoint."""
    if home is None:
        raise UsageError(f"{run}:{which} names a run, but no appliance home is set", hint="pass --home HOME")
    run_dir = home.run_dir(run)
    if not run_dir.is_dir():
        runs = sorted(p.name for p in home.runs_dir.iterdir()) if home.runs_dir.is_dir() else []
        raise UsageError(f"no run {run!r} in {home.runs_dir}", hint=f"runs: {', '.join(runs) or 'none'}")
    if which == "final":
        return _run_dir_model(home, run_dir, "final")
    if which == "best":
        return _best(home, run_dir)
    if which == "latest":
        steps = _steps(run_dir)
        if not steps:
            raise UsageError(f"run {run} has no checkpoints", hint=f"available: {_available(run_dir)}")
        which = f"step_{steps[-1]:08d}"
    ckpt = run_dir / "checkpoints" / which
    if not ckpt.is_dir():
        raise UsageError(f"run {run} has no checkpoint {which}",
                         hint=f"available: {_available(run_dir)} (export --model {run}:step_N)")
    return materialize(ckpt, home)


def _run_dir_model(home: Home, run_dir: Path, name: str, **extra) -> Resolved:
    d = run_dir / name
    if not (d / "config.json").is_file():
        raise UsageError(f"run {run_dir.name} has no {name}/ model", hint=f"available: {_available(run_dir)}")
    sel = d / "selection.json"
    selection = json.loads(sel.read_text(encoding="utf-8")) if sel.is_file() else {}
    origin = {"run": run_dir.name, "run_path": name, "registry_version": _registry_version(home, run_dir.name),
              "step": selection.get("step"), "selected": selection.get("selected"), **extra}
    return Resolved(path=d, origin=origin)


def _best(home: Home, run_dir: Path) -> Resolved:
    """The best held-out eval of the run (see the module docstring for the order)."""
    final_sel = run_dir / "final" / "selection.json"
    if final_sel.is_file() and json.loads(final_sel.read_text(encoding="utf-8")).get("selected") == "best_heldout":
        return _run_dir_model(home, run_dir, "final")
    if (run_dir / "best" / "model.safetensors").is_file():
        return _run_dir_model(home, run_dir, "best", selected="best_heldout")
    from appliance.train.metrics import read

    evals = [r for r in read(run_dir / "metrics.jsonl", "eval") if r.get("eval_loss") is not None]
    if not evals:
        raise UsageError(f"run {run_dir.name} has no held-out eval to choose the best by",
                         hint=f"available: {_available(run_dir)}; set eval.every in the recipe")
    best = min(evals, key=lambda r: (r["eval_loss"], r["step"]))
    step = int(best["step"])
    extra = {"selected": "best_heldout", "eval_loss": best["eval_loss"]}
    final_step = json.loads(final_sel.read_text(encoding="utf-8")).get("step") if final_sel.is_file() else None
    if final_step == step:
        return _run_dir_model(home, run_dir, "final", **extra)
    ckpt = run_dir / "checkpoints" / f"step_{step:08d}"
    if ckpt.is_dir():
        res = materialize(ckpt, home)
        res.origin.update(extra)
        return res
    raise UsageError(f"the best held-out eval of run {run_dir.name} was at step {step} "
                     f"(eval loss {best['eval_loss']:.4g}), whose weights were not kept",
                     hint=f"available: {_available(run_dir)}; eval.early_stopping_patience keeps the best model")


def materialize(ckpt: Path, home: Home | None = None) -> Resolved:
    """Verify checkpoint ``ckpt``, consolidate its ZeRO shards and write an HF directory into a scratch folder."""
    from appliance.train.checkpoint import verify

    ckpt = Path(ckpt).absolute()
    manifest = verify(ckpt)
    if manifest is None:
        raise IntegrityError(f"checkpoint {ckpt} does not verify against its manifest.json",
                             hint="export another step (RUN:step_N) or the run's final model")
    model_dir = ckpt / MODEL_DIR
    if not (model_dir / CHECKPOINT_INFO).is_file():
        raise InputError(f"checkpoint {ckpt} has no {MODEL_DIR}/ folder (written by an older appliance)",
                         hint="export the run's final model, or resume the run to write a new checkpoint")
    info = json.loads((model_dir / CHECKPOINT_INFO).read_text(encoding="utf-8"))
    scratch = Path(tempfile.mkdtemp(prefix="appliance-ckpt-"))
    out = scratch / f"{info['run']}-{ckpt.name}"  # the artifact is named after this directory
    try:
        _write_hf_dir(ckpt, model_dir, info, out)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    origin = {"run": info["run"], "checkpoint": ckpt.name, "step": info["step"],
              "registry_version": _registry_version(home, info["run"]),
              "data_manifest_sha256": manifest.get("data_manifest_sha256"),
              "checkpoint_manifest_sha256": _manifest_digest(manifest)}
    return Resolved(path=out, origin=origin, scratch=scratch)


def _manifest_digest(manifest: dict) -> str:
    from appliance.train.checkpoint import manifest_digest

    return manifest_digest(manifest)


def consolidated_state_dict(ckpt: Path, info: dict) -> dict:
    """One fp32 state dict from the checkpoint's DeepSpeed files (ZeRO 1-3 through ``zero_to_fp32``)."""
    import torch

    tag = info.get("ds_tag", "ds")
    if int(info.get("zero_stage", 2)) == 0:  # no ZeRO: the model-states file holds the whole module
        states = torch.load(ckpt / tag / "mp_rank_00_model_states.pt", map_location="cpu", weights_only=False)
        return {k: v.float() for k, v in states["module"].items()}
    # DeepSpeed logs to stdout at import (accelerator detection) and zero_to_fp32 prints its progress;
    # stdout carries the CLI's --json output, so both go to a buffer (logged at debug level)
    chatter = io.StringIO()
    with contextlib.redirect_stdout(chatter):
        from deepspeed.utils.zero_to_fp32 import get_fp32_state_dict_from_zero_checkpoint

        state = get_fp32_state_dict_from_zero_checkpoint(str(ckpt), tag=tag)
    log.debug("zero_to_fp32: %s", chatter.getvalue().strip())
    return state


def _write_hf_dir(ckpt: Path, model_dir: Path, info: dict, out: Path) -> None:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    state = consolidated_state_dict(ckpt, info)
    config = AutoConfig.from_pretrained(str(model_dir), local_files_only=True)
    config.use_cache = True
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    if info.get("lora"):
        from peft import PeftConfig, get_peft_model

        model = get_peft_model(model, PeftConfig.from_pretrained(str(model_dir)))
    missing, unexpected = model.load_state_dict(state, strict=False)
    tied = {k for k in missing if k.endswith("lm_head.weight")} if config.tie_word_embeddings else set()
    if unexpected or set(missing) - tied:
        raise InputError(f"checkpoint {ckpt} does not match its model config: "
                         f"{len(set(missing) - tied)} missing, {len(unexpected)} unexpected tensors "
                         f"(e.g. {sorted(set(missing) - tied)[:2] or sorted(unexpected)[:2]})",
                         hint="the checkpoint's model/ folder and ds/ shards come from different runs")
    if info.get("lora"):
        model = model.merge_and_unload()
    model.tie_weights()
    model.eval()
    model.save_pretrained(str(out), safe_serialization=True)
    copy_tokenizer_files(model_dir, out, overwrite=True)
    log.info("checkpoint %s consolidated (%d tensors%s)", ckpt.name, len(state), ", LoRA merged" if info.get("lora")
             else "")
