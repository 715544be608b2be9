"""Training recipes: YAML → validated pydantic models, ``--set key=value`` overrides, resume-critical diff.

A recipe is data: every component is chosen from an allow-list (arch, preset, schedule, precision), never
by import path.  Loading gathers every problem at once (:func:`appliance.config.validate`); unknown keys are
errors.  :func:`critical_view` is the part of a recipe that a resumed run must not change silently.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, ValidationError, model_validator

from appliance.config import Strict, format_errors
from appliance.errors import ConfigError, InputError
from appliance.train.presets import ARCHS, PRESETS


class _Finite(Strict):
    """Recipe sections: as Strict, and ``.inf``/``.nan`` are refused for every float (they pass ``ge=0``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


MAX_STEPS = 10_000_000  # far beyond any run this appliance can finish; a typo such as 1.0e15 is refused
EXACTLY_ONE_MODEL = "give exactly one of model.init, model.path, model.registry"
WARMUP_BELOW_MAX = "warmup_steps must be smaller than max_steps"
OFFLOAD_PARAMS_ZERO3 = "offload: optimizer_and_params needs zero_stage: 3"
OFFLOAD_OPT_ZERO = "offload: optimizer needs zero_stage 1, 2 or 3"
_Beta = Annotated[float, Field(ge=0.0, lt=1.0)]  # Adam's moment decay rates must lie in [0, 1)


class RunSection(_Finite):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    nproc: int = Field(default=1, ge=1, le=1024)  # ranks on this host
    hostfile: str | None = None  # DeepSpeed hostfile for multi-node runs
    master_port: int | None = Field(default=None, ge=1024, le=65535)
    # seconds a rank waits for all the others to meet (other nodes started, master reachable) before it
    # stops with a message naming the master address and port
    rendezvous_timeout_s: int = Field(default=300, ge=1, le=86400)


class InitSection(_Finite):
    arch: Literal["llama", "qwen2", "deepseek_v3"]
    preset: Literal["tiny", "small", "1.5b", "7b"] = "tiny"
    vocab_size: int | None = Field(default=None, ge=260, le=262144)  # default: the preset's


class ModelSection(_Finite):
    init: InitSection | None = None
    path: str | None = None  # a local HF directory (safetensors only)
    registry: str | None = None  # a registered model version

    @model_validator(mode="after")
    def _exactly_one(self):
        n = sum(x is not None for x in (self.init, self.path, self.registry))
        if n != 1:
            raise ValueError(EXACTLY_ONE_MODEL)
        return self


class DataSection(_Finite):
    sources: list[str] = ["*"]  # vault source names; "*" = all  # noqa: RUF012
    # text: notes packed for continued pretraining; chat: conversations (vault ingest --format chat), one per
    # row, loss on the assistant turns only (appliance.train.chat)
    format: Literal["text", "chat"] = "text"
    # chat: a Jinja chat template; default the base tokenizer's own, else the appliance's built-in one
    chat_template: str | None = Field(default=None, min_length=1, max_length=65536)

    @model_validator(mode="after")
    def _template_needs_chat(self):
        if self.chat_template is not None and self.format != "chat":
            raise ValueError("data.chat_template needs data.format: chat")
        return self
    seq_len: int = Field(default=128, ge=8, le=131072)
    heldout_fraction: float = Field(default=0.05, ge=0.0, le=0.5)
    max_eval_samples: int = Field(default=64, ge=1)


class LoraSection(_Finite):
    r: int = Field(default=16, ge=1, le=1024)
    alpha: int = Field(default=32, ge=1)
    dropout: float = Field(default=0.05, ge=0.0, lt=1.0)
    target_modules: list[str] | None = None  # default: every attention/MLP projection
    # QLoRA: the frozen base loaded in 4-bit NF4 through bitsandbytes (GPU only; refused on a CPU host)
    quantize: Literal["4bit"] | None = None


class TrainSection(_Finite):
    seed: int = Field(default=1234, ge=0, le=2**32 - 1)  # numpy/torch seed range
    max_steps: int = Field(default=40, ge=1, le=MAX_STEPS)
    micro_batch_size: int = Field(default=2, ge=1)
    grad_accum: int = Field(default=1, ge=1)
    lr: float = Field(default=3e-4, gt=0.0, le=1.0)
    warmup_steps: int = Field(default=5, ge=0, le=MAX_STEPS)
    schedule: Literal["cosine", "linear", "wsd", "constant"] = "cosine"
    min_lr_ratio: float = Field(default=0.1, ge=0.0, le=1.0)
    decay_fraction: float = Field(default=0.2, gt=0.0, le=1.0)  # wsd: share of steps spent decaying
    weight_decay: float = Field(default=0.01, ge=0.0, le=10.0)
    betas: tuple[_Beta, _Beta] = (0.9, 0.95)
    grad_clip: float = Field(default=1.0, ge=0.0, le=1e6)  # 0 = off
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"
    zero_stage: int = Field(default=2, ge=0, le=3)
    offload: Literal["none", "optimizer", "optimizer_and_params"] = "none"
    gradient_checkpointing: bool = False
    lora: LoraSection | None = None

    @model_validator(mode="after")
    def _checks(self):
        if self.warmup_steps >= self.max_steps and self.max_steps > 1:
            raise ValueError(WARMUP_BELOW_MAX)
        if self.offload == "optimizer_and_params" and self.zero_stage != 3:
            raise ValueError(OFFLOAD_PARAMS_ZERO3)
        if self.offload == "optimizer" and self.zero_stage == 0:
            raise ValueError(OFFLOAD_OPT_ZERO)
        return self


class TokenizerSection(_Finite):
    """A tokenizer trained on vault text (model.init): a vocabulary entry must occur in this many records."""

    min_records: int = Field(default=5, ge=1, le=1_000_000)


class CheckpointSection(_Finite):
    every: int = Field(default=10, ge=1)
    keep_last: int = Field(default=2, ge=1)


class EvalSection(_Finite):
    every: int | None = Field(default=20, ge=1)  # null = only at the end
    # Stop after this many evals without a lower held-out loss; final/ is then the best-by-held-out model
    # (not the last step's), recorded in final/selection.json and the run's result.
    early_stopping_patience: int | None = Field(default=None, ge=1)


class DistillSection(_Finite):
    """Distill a frozen teacher into the student (see :mod:`appliance.train.distill`)."""

    teacher: str = Field(min_length=1)  # a local HF model directory, or a registry version (``champion`` too)
    temperature: float = Field(default=2.0, gt=0.0, le=100.0)  # softens both distributions; the KL is scaled T^2
    alpha: float = Field(default=0.5, ge=0.0, le=1.0)  # weight of the KL term; 1 - alpha goes to cross-entropy


class ProgressSection(Strict):
    every: int = Field(default=10, ge=1)  # off a terminal: one log line per this many steps


class Recipe(_Finite):
    run: RunSection
    model: ModelSection
    data: DataSection = DataSection()
    train: TrainSection = TrainSection()
    checkpoint: CheckpointSection = CheckpointSection()
    eval: EvalSection = EvalSection()
    tokenizer: TokenizerSection = TokenizerSection()
    progress: ProgressSection = ProgressSection()
    distill: DistillSection | None = None

    @model_validator(mode="after")
    def _qlora_needs_base(self):
        if self.train.lora and self.train.lora.quantize and self.model.init is not None:
            raise ValueError("train.lora.quantize needs a pretrained base (model.path or model.registry), "
                             "not model.init")
        return self

    @property
    def world_size_hint(self) -> int:
        return self.run.nproc

    def global_batch(self, world_size: int) -> int:
        return self.train.micro_batch_size * self.train.grad_accum * world_size


def _get(data: Any, dotted: str) -> Any:
    for p in dotted.split("."):
        data = data.get(p) if isinstance(data, dict) else None
    return data


def _cross_field_problems(data: Any) -> list[tuple[str, str]]:
    """``(section, message)`` for the cross-field rules, judged on the raw mapping so they are reported even
    when fields are wrong too (pydantic runs an ``after`` validator only once every field of its model
    validated).  The messages are those of the model validators, so one reported by both is listed once."""
    out = []
    model = _get(data, "model")
    if isinstance(model, dict) and sum(model.get(k) is not None for k in ("init", "path", "registry")) != 1:
        out.append(("model", EXACTLY_ONE_MODEL))
    w, m = _get(data, "train.warmup_steps"), _get(data, "train.max_steps")
    w, m = (5 if w is None else w), (40 if m is None else m)
    if (all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in (w, m))
            and w >= m > 1):
        out.append(("train", WARMUP_BELOW_MAX))
    off, z = _get(data, "train.offload") or "none", _get(data, "train.zero_stage")
    z = 2 if z is None else z
    if off == "optimizer_and_params" and z != 3:
        out.append(("train", OFFLOAD_PARAMS_ZERO3))
    if off == "optimizer" and z == 0:
        out.append(("train", OFFLOAD_OPT_ZERO))
    return out


def _validate_recipe(data: Any, source: str) -> Recipe:
    """Validate into :class:`Recipe`; field and cross-field problems come in one ConfigError."""
    try:
        return Recipe.model_validate(data)
    except ValidationError as err:
        problems = format_errors(source, err)
    for loc, msg in _cross_field_problems(data):
        line = f"{source}: {loc}: Value error, {msg}"
        if line not in problems:
            problems.append(line)
    raise ConfigError(source, problems)


def _parse_value(raw: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw


def apply_overrides(data: dict, overrides: list[str], source: str) -> dict:
    """Apply ``key.sub=value`` strings (YAML-typed values) to a recipe dict; all bad ones reported together."""
    problems = []
    for item in overrides:
        if "=" not in item:
            problems.append(f"--set {item}: expected key=value")
            continue
        key, raw = item.split("=", 1)
        parts = [p for p in key.strip().split(".") if p]
        if not parts:
            problems.append(f"--set {item}: empty key")
            continue
        node = data
        for p in parts[:-1]:
            nxt = node.get(p)
            if nxt is None:
                nxt = node[p] = {}
            if not isinstance(nxt, dict):
                problems.append(f"--set {item}: {p} is not a section")
                break
            node = nxt
        else:
            node[parts[-1]] = _parse_value(raw)
    if problems:
        raise ConfigError(source, problems)
    return data


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> Recipe:
    """Read a YAML recipe, apply ``--set`` overrides, validate (every problem reported at once)."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise InputError(f"cannot read recipe {path}: {e.strerror or e}",
                         hint="appliance train --config appliance/recipes/tiny_llama_full.yaml") from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise ConfigError(str(path), [f"{path}: not valid YAML: {e}"]) from None
    if not isinstance(data, dict):
        raise ConfigError(str(path), [f"{path}: the top level must be a mapping"])
    data = apply_overrides(data, list(overrides or []), str(path))
    return _validate_recipe(data, str(path))


def recipe_from_dict(data: dict, source: str = "recipe") -> Recipe:
    return _validate_recipe(data, source)


def recipe_to_dict(recipe: Recipe) -> dict:
    return recipe.model_dump(mode="json")


# Settings a resumed run must keep (or name in --allow-change).  world_size is never allowed to change
# here: ZeRO partitions and per-rank RNG streams are saved per rank (see checkpoint.py).
CRITICAL_KEYS = (
    "model",
    "data.sources",
    "data.format",
    "data.chat_template",
    "data.seq_len",
    "data.heldout_fraction",
    "train.seed",
    "train.max_steps",
    "train.micro_batch_size",
    "train.grad_accum",
    "train.lr",
    "train.warmup_steps",
    "train.schedule",
    "train.min_lr_ratio",
    "train.decay_fraction",
    "train.weight_decay",
    "train.betas",
    "train.precision",
    "train.zero_stage",
    "train.lora",
    "distill",
)
NEVER_CHANGEABLE = ("world_size", "model", "train.lora", "train.zero_stage", "train.precision")


# Critical keys added later: left out of the view at their default, so checkpoints written before they
# existed still resume.
_LATER_DEFAULTS = {"data.format": "text", "data.chat_template": None}


def critical_view(recipe_dict: dict) -> dict[str, Any]:
    """The resume-critical settings of a recipe, by dotted key."""
    out = {}
    for key in CRITICAL_KEYS:
        node: Any = recipe_dict
        for p in key.split("."):
            node = node.get(p) if isinstance(node, dict) else None
        if key in _LATER_DEFAULTS and node == _LATER_DEFAULTS[key]:
            continue
        out[key] = node
    return out


def diff_critical(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """``[(key, old, new)]`` for every critical setting that differs."""
    keys = sorted(set(old) | set(new))
    return [(k, old.get(k), new.get(k)) for k in keys if old.get(k) != new.get(k)]


__all__ = [
    "ARCHS",
    "CRITICAL_KEYS",
    "NEVER_CHANGEABLE",
    "PRESETS",
    "Recipe",
    "apply_overrides",
    "critical_view",
    "diff_critical",
    "load_recipe",
    "recipe_from_dict",
    "recipe_to_dict",
]
