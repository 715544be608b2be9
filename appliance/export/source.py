"""Where an export reads its model from: a registry version, an HF model directory, or a checkpoint.

``resolve_source`` turns ``--model VERSION|PATH`` into a :class:`ModelSource` (directory, parsed config,
architecture).  A LoRA version (``adapter_config.json``) is merged into its base with peft first, into a
scratch directory, so every exporter sees plain full weights.  Tensors are read lazily through
``safe_open`` (one tensor at a time; single-file or sharded checkpoints).  ``RUN:step_N``, ``RUN:best`` and
checkpoint directories are consolidated first (:mod:`appliance.export.checkpoint_source`).
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from appliance._internal.tokenizer_files import copy_tokenizer_files
from appliance.errors import InputError, UsageError
from appliance.home import Home

log = logging.getLogger(__name__)

#: HF ``model_type`` → llama.cpp architecture name.
SUPPORTED_ARCHS = {"llama": "llama", "qwen2": "qwen2", "deepseek_v3": "deepseek2"}


@dataclass
class ModelSource:
    """A resolved HF model directory ready for export."""

    path: Path
    config: dict
    requested: str
    version: str | None = None  # registry version, when the model came from the registry
    merged_from_lora: bool = False
    origin: dict = field(default_factory=dict)  # run / checkpoint / step / the run's registry version
    _scratch: Path | None = field(default=None, repr=False)

    @property
    def model_type(self) -> str:
        return self.config.get("model_type", "")

    @property
    def gguf_arch(self) -> str:
        return SUPPORTED_ARCHS[self.model_type]

    def cleanup(self) -> None:
        """Remove the scratch directory of a merged LoRA model (no-op otherwise)."""
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None


def _registry_dir(home: Home, version: str) -> tuple[str, Path]:
    """(version name, directory) of a registry version, its signature verified first."""
    try:  # the registry owns version → directory (and checks the version's own signature)
        from appliance.registry import resolve, resolve_name  # type: ignore[attr-defined]
    except ImportError:
        return version, home.model_dir(version)
    name = resolve_name(home, version)  # "champion" → its version name
    return name, Path(resolve(home, name, verify=True))


def resolve_source(model: str, home: Home | None = None) -> ModelSource:
    """``model`` is a directory path or a registry version of ``home``; LoRA adapters are merged."""
    from appliance.export.checkpoint_source import (
        is_checkpoint_dir,
        materialize,
        origin_of_dir,
        parse_ref,
        resolve_ref,
    )

    p = Path(model).expanduser()
    version = None
    ref = None if p.is_dir() else parse_ref(model)
    if ref is not None or (p.is_dir() and is_checkpoint_dir(p)):  # RUN:step_N | RUN:best | a checkpoint dir
        res = resolve_ref(home, *ref) if ref is not None else materialize(p, home)
        try:
            return ModelSource(path=res.path, config=_read_config(res.path), requested=model, origin=res.origin,
                               _scratch=res.scratch)
        except BaseException:
            if res.scratch is not None:
                shutil.rmtree(res.scratch, ignore_errors=True)
            raise
    if not p.is_dir():
        if home is None:
            raise UsageError(f"{model!r} is not a directory and no appliance home is set",
                             hint="pass --model PATH/TO/HF_DIR, or --home HOME with a registry version")
        version, p = _registry_dir(home, model)
        if not p.is_dir():
            raise UsageError(f"no model directory for version {model!r} ({p})", hint="appliance models list")
    p = p.absolute()
    if (p / "adapter_config.json").is_file():
        return _merge_lora(p, model, version)
    origin = {} if version is not None else origin_of_dir(home, p)  # runs/<run>/final keeps its registry link
    return ModelSource(path=p, config=_read_config(p), requested=model, version=version, origin=origin)


def _read_config(p: Path) -> dict:
    cfg_path = p / "config.json"
    if not cfg_path.is_file():
        raise InputError(f"{p} has no config.json (not an HF model directory)",
                         hint="point --model at a trained model's final/ directory or a registry version")
    cfg = json.loads(cfg_path.read_text())
    if cfg.get("model_type") not in SUPPORTED_ARCHS:
        raise UsageError(
            f"architecture {cfg.get('model_type')!r} is not supported for export",
            hint=f"supported: {', '.join(SUPPORTED_ARCHS)}",
        )
    if not (p / "tokenizer.json").is_file():
        raise InputError(f"{p} has no tokenizer.json", hint="save the tokenizer next to the model (save_pretrained)")
    return cfg


def _merge_lora(adapter_dir: Path, requested: str, version: str | None) -> ModelSource:
    """Merge a peft LoRA adapter into its base model; the merged copy lives in a scratch directory."""
    import torch
    from peft import PeftConfig, PeftModel
    from transformers import AutoModelForCausalLM

    pcfg = PeftConfig.from_pretrained(str(adapter_dir))
    base = Path(pcfg.base_model_name_or_path or "")
    if not base.is_dir():
        raise InputError(f"LoRA base model {base} not found for {adapter_dir}",
                         hint="keep the base model directory the adapter was trained on")
    scratch = Path(tempfile.mkdtemp(prefix="appliance-merge-"))
    model = AutoModelForCausalLM.from_pretrained(str(base), dtype=torch.float32)
    model = PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()
    model.save_pretrained(scratch)
    tok_src = adapter_dir if (adapter_dir / "tokenizer.json").is_file() else base
    copy_tokenizer_files(tok_src, scratch)
    del model
    log.info("merged LoRA adapter %s into %s", adapter_dir, base)
    return ModelSource(path=scratch, config=_read_config(scratch), requested=requested, version=version,
                       merged_from_lora=True, _scratch=scratch)


class TensorReader:
    """Lazy access to the checkpoint's tensors: names, shapes, and one tensor at a time as float32 numpy."""

    def __init__(self, model_dir: Path):
        from safetensors import safe_open

        self._stack = ExitStack()
        self._where: dict[str, object] = {}
        index = model_dir / "model.safetensors.index.json"
        if index.is_file():
            files = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        elif (model_dir / "model.safetensors").is_file():
            files = ["model.safetensors"]
        else:
            raise InputError(f"{model_dir} has no model.safetensors", hint="save the model with safe_serialization")
        self._files: dict[int, Path] = {}
        self._torch_handles: dict[int, object] = {}
        for fn in files:
            # numpy handles: no torch import for f32/f16 checkpoints; bf16 tensors go through torch (below)
            h = self._stack.enter_context(safe_open(str(model_dir / fn), framework="numpy"))
            self._files[id(h)] = model_dir / fn
            for k in h.keys():  # noqa: SIM118 - a safetensors handle is not iterable
                self._where[k] = h

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()

    def names(self) -> list[str]:
        return list(self._where)

    def __contains__(self, name: str) -> bool:
        return name in self._where

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(self._where[name].get_slice(name).get_shape())  # type: ignore[attr-defined]

    def dtype(self, name: str) -> str:
        return self._where[name].get_slice(name).get_dtype()  # type: ignore[attr-defined]

    def get(self, name: str):
        """The tensor as a float32 numpy array (bf16 goes through torch: numpy has no bfloat16)."""
        import numpy as np

        h = self._where[name]
        if self.dtype(name) != "BF16":
            return np.asarray(h.get_tensor(name), dtype=np.float32)  # type: ignore[attr-defined]
        th = self._torch_handles.get(id(h))
        if th is None:
            from safetensors import safe_open

            th = self._stack.enter_context(safe_open(str(self._files[id(h)]), framework="pt"))
            self._torch_handles[id(h)] = th
        return th.get_tensor(name).float().numpy()  # type: ignore[attr-defined]

    def iter_names(self) -> Iterator[str]:
        return iter(self._where)
