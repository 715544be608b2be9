"""Knowledge distillation: a frozen teacher's temperature-softened next-token distributions teach the student.

Recipe ``distill: {teacher: PATH|VERSION, temperature: T, alpha: A}``.  The loss per micro-batch is

    alpha * T**2 * KL(softmax(teacher / T) || softmax(student / T)) + (1 - alpha) * CE

(forward KL, Hinton et al.'s T**2 keeps the soft term's gradient scale independent of T), averaged over the
positions whose label is not masked (``-100``), so chat SFT's answer-only mask applies to both terms.

Parent side (:class:`Teacher`, from :func:`resolve_teacher`): the teacher is a local HF directory or a
registry version (resolved and its signed manifest verified by the registry).  Its identity (the directory's
file-hash digest, or the version and its manifest hash), T and alpha go into the plan, the audit entry and
``final/distill.json``.  Before anything trains, :meth:`Teacher.check_tokenizer` compares the two
vocabularies (token→id maps, special tokens, and a probe encoding), not file bytes: a mismatch is a
:class:`~appliance.errors.UsageError` naming both paths and the first differing token.

Rank side (:class:`Distiller`): every rank loads its own full copy of the teacher (it has no gradients and no
optimizer state, so ZeRO has nothing to partition), in eval mode, ``requires_grad=False``, outside the
DeepSpeed engine: it is never in the optimizer and never in a checkpoint.  Its in-memory weights are hashed at
load and at the end of the run; the run's summary carries both digests.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appliance._internal.atomic import atomic_write
from appliance._internal.hashing import canonical_json, sha256_bytes, sha256_tree
from appliance.errors import InputError, UsageError

IGNORE_INDEX = -100  # the label value HF's loss skips (chat SFT masks prompts with it)
_PROBE = "Patient denies chest pain; BP 120/80, HR 72. Plan: follow up in 2 weeks.\n"
_DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}
_FIELD = "distill.teacher"


# -- parent side -------------------------------------------------------------------------------------------


@dataclass
class Teacher:
    """A resolved teacher: where it is, what it is (identity), and the recipe's T and alpha."""

    path: Path
    identity: dict[str, Any]
    temperature: float
    alpha: float
    extra: dict[str, Any] = field(default_factory=dict)

    def plan_entry(self) -> dict[str, Any]:
        """What the ranks need (``plan.json``) and what the run records (manifest, audit)."""
        return {"teacher_path": str(self.path), "teacher": self.identity, "temperature": self.temperature,
                "alpha": self.alpha}

    def audit_entry(self) -> dict[str, Any]:
        return {"teacher": self.identity, "temperature": self.temperature, "alpha": self.alpha}

    def load_tokenizer(self):
        from appliance.train import tokenizer as tokmod

        return tokmod.load(self.path)

    def adopt_tokenizer(self, out_dir: Path):
        """A student built from ``model.init`` takes the teacher's tokenizer instead of training its own."""
        import shutil

        from appliance._internal.tokenizer_files import copy_tokenizer_files
        from appliance.train import tokenizer as tokmod

        shutil.rmtree(out_dir, ignore_errors=True)
        copy_tokenizer_files(self.path, out_dir, overwrite=True)  # the teacher's bytes, never a re-save
        return tokmod.load(out_dir)

    def check_tokenizer(self, student_tok, student_desc: str, student_vocab_rows: int | None = None) -> None:
        """Refuse (exit 2) unless the student's tokenizer is the teacher's, before anything trains."""
        diff = tokenizer_difference(student_tok, self.load_tokenizer())
        if diff is None:
            rows = teacher_vocab_rows(self.path)
            need = len(student_tok)
            small = [(who, n) for who, n in (("student", student_vocab_rows), ("teacher", rows))
                     if n is not None and n < need]
            if not small:
                return
            diff = "; ".join(f"the {who}'s embedding has {n} rows for {need} tokens" for who, n in small)
        raise UsageError(f"{_FIELD}: teacher {self.path} and student {student_desc} do not share a tokenizer: {diff}",
                         hint="distill only into a student with the teacher's tokenizer (same model family), or "
                              "start the student from model.init, which adopts the teacher's tokenizer")

    def write_manifest(self, final_dir: Path) -> None:
        """``final/distill.json``: the teacher's identity, T and alpha, registered and signed with the model."""
        if final_dir.is_dir():
            atomic_write(final_dir / "distill.json", json.dumps(self.audit_entry(), indent=1, sort_keys=True))


def is_path_spec(spec: str) -> bool:
    """``distill.teacher`` names a directory when it looks like a path or one exists; else a registry version."""
    return "/" in spec or spec.startswith((".", "~")) or Path(spec).is_dir()


def resolve_teacher(home, distill: Any) -> Teacher:
    """The recipe's ``distill`` section → a :class:`Teacher` (a registry version is verified first)."""
    spec = distill.teacher
    if is_path_spec(spec):
        path = check_teacher_dir(Path(spec).expanduser()).resolve()  # the ranks may run elsewhere
        digest = sha256_bytes(canonical_json(sha256_tree(path)))
        identity: dict[str, Any] = {"kind": "path", "path": str(path), "sha256": digest}
    else:
        try:
            from appliance import registry
        except ImportError:  # registry not in this build
            raise UsageError(f"{_FIELD}: {spec!r} is not a directory and this build has no model registry",
                             hint="set distill.teacher to a local HF model directory") from None
        try:
            path = check_teacher_dir(registry.resolve(home, spec, verify=True))
        except UsageError as e:
            raise UsageError(f"{_FIELD}: {e.message}", hint=e.hint or "appliance models ls") from None
        row = registry.get(home, spec)
        identity = {"kind": "registry", "version": row["version"], "manifest_sha256": row["manifest_sha256"]}
    return Teacher(path=path, identity=identity, temperature=float(distill.temperature), alpha=float(distill.alpha))


def check_teacher_dir(path: Path) -> Path:
    if not path.is_dir():
        raise InputError(f"{_FIELD}: teacher directory {path} does not exist",
                         hint="set distill.teacher to a local HF model directory or a registry version "
                              "(appliance models ls)")
    if not (path / "config.json").is_file() or not list(path.glob("*.safetensors")):
        raise InputError(f"{_FIELD}: {path} is not an HF model directory with config.json and .safetensors weights",
                         hint="point distill.teacher at a Hugging Face model directory (pickled weights are never "
                              "loaded)")
    return path


def teacher_vocab_rows(path: Path) -> int | None:
    try:
        return int(json.loads((path / "config.json").read_text(encoding="utf-8"))["vocab_size"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def tokenizer_difference(student, teacher) -> str | None:
    """The first difference between two tokenizers' vocabularies, in words; None when they agree."""
    for name in ("bos_token", "eos_token", "pad_token", "unk_token"):
        a, b = getattr(student, name, None), getattr(teacher, name, None)
        if str(a) != str(b):
            return f"special token {name} is {a!r} in the student, {b!r} in the teacher"
    sa, ta = set(map(str, student.all_special_tokens)), set(map(str, teacher.all_special_tokens))
    if sa != ta:
        tok = sorted(sa ^ ta)[0]
        return f"special token {tok!r} is only in the {'student' if tok in sa else 'teacher'}"
    sv, tv = student.get_vocab(), teacher.get_vocab()
    for tok, i in sorted(sv.items(), key=lambda kv: (kv[1], kv[0])):
        j = tv.get(tok)
        if j != i:
            return f"token {tok!r} is id {i} in the student, {'absent' if j is None else f'id {j}'} in the teacher"
    only = sorted(set(tv) - set(sv), key=lambda t: (tv[t], t))
    if only:
        return f"token {only[0]!r} (id {tv[only[0]]}) is only in the teacher"
    a = student(_PROBE, add_special_tokens=False)["input_ids"]
    b = teacher(_PROBE, add_special_tokens=False)["input_ids"]
    if a != b:
        k = next((n for n, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        return (f"same vocabulary but the text {_PROBE.strip()!r} encodes differently from token {k} on "
                f"(pre-tokenizer or normalizer differ)")
    return None


def dry_run_report(teacher: Teacher, recipe, student_tok, student_desc: str,
                   student_vocab_rows: int) -> dict[str, Any]:
    """For ``train --dry-run``: check the tokenizers, count the teacher's parameters (meta device, no weights)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    teacher.check_tokenizer(student_tok, student_desc, student_vocab_rows)
    config = AutoConfig.from_pretrained(str(teacher.path), local_files_only=True, trust_remote_code=False)
    with torch.device("meta"):
        params = sum(p.numel() for p in AutoModelForCausalLM.from_config(config).parameters())
    per = 4 if recipe.train.precision == "fp32" else 2
    return {**teacher.audit_entry(), "params": params, "dtype": _DTYPES[recipe.train.precision],
            "bytes_per_device": params * per, "gib_per_device": round(params * per / (1 << 30), 3),
            "note": "a full frozen copy on every rank (no grads, no optimizer states), outside ZeRO"}


# -- rank side ---------------------------------------------------------------------------------------------


def weights_digest(module) -> str:
    """sha256 over the module's parameters and buffers (name-sorted, raw bytes): frozen means unchanged."""
    import torch

    h = hashlib.sha256()
    state = module.state_dict()
    for name in sorted(state):
        t = state[name].detach().cpu().contiguous()
        h.update(name.encode() + b"\0" + str(t.dtype).encode() + b"\0" + str(tuple(t.shape)).encode() + b"\0")
        h.update(t.view(-1).view(dtype=torch.uint8).numpy().tobytes())
    return h.hexdigest()


def kd_loss(student_logits, teacher_logits, labels, ce, temperature: float, alpha: float):
    """``(mixed loss, mean KL)`` over next-token positions whose label is not ``IGNORE_INDEX``.

    Logits are compared over the vocabulary both have (embeddings are often padded past the tokenizer)."""
    import torch
    import torch.nn.functional as F

    n = min(student_logits.size(-1), teacher_logits.size(-1))
    mask = labels[:, 1:] != IGNORE_INDEX
    s = student_logits[:, :-1, :n][mask].float() / temperature
    t = teacher_logits[:, :-1, :n][mask].float() / temperature
    log_t = F.log_softmax(t, dim=-1)
    per_pos = (log_t.exp() * (log_t - F.log_softmax(s, dim=-1))).sum(-1)
    kl = per_pos.sum() / torch.clamp(mask.sum(), min=1)
    return alpha * temperature**2 * kl + (1.0 - alpha) * ce, kl


class Distiller:
    """One rank's frozen teacher and the mixed loss."""

    def __init__(self, entry: dict, precision: str, device):
        import torch
        from transformers import AutoModelForCausalLM

        self.temperature = float(entry["temperature"])
        self.alpha = float(entry["alpha"])
        self.identity = entry["teacher"]
        model = AutoModelForCausalLM.from_pretrained(entry["teacher_path"], trust_remote_code=False,
                                                     local_files_only=True, use_safetensors=True,
                                                     dtype=getattr(torch, _DTYPES[precision]))
        model.requires_grad_(False)
        self.model = model.to(device).eval()
        self.digest_at_load = weights_digest(self.model)
        self.kl_sum = 0.0
        self.kl_n = 0

    def loss(self, out, input_ids, labels, **forward_kwargs):
        """The mixed loss for the student's forward ``out`` on ``input_ids`` (the teacher sees the same batch)."""
        import torch

        with torch.no_grad():
            teacher_logits = self.model(input_ids=input_ids, use_cache=False, **forward_kwargs).logits
        loss, kl = kd_loss(out.logits, teacher_logits, labels, out.loss, self.temperature, self.alpha)
        self.kl_sum += float(kl.detach())
        self.kl_n += 1
        return loss

    def report(self) -> dict[str, Any]:
        """For the run's summary: identity, T, alpha, mean training KL, and the teacher digests (load / end)."""
        return {"teacher": self.identity, "temperature": self.temperature, "alpha": self.alpha,
                "train_kl_mean": self.kl_sum / self.kl_n if self.kl_n else None,
                "teacher_digest_at_load": self.digest_at_load, "teacher_digest_at_end": weights_digest(self.model),
                "teacher_trainable_params": sum(p.numel() for p in self.model.parameters() if p.requires_grad)}


def from_plan(plan: dict, device) -> Distiller | None:
    """The rank's :class:`Distiller` when the plan distills, else None."""
    entry = plan.get("distill")
    return Distiller(entry, plan["recipe"]["train"]["precision"], device) if entry else None
