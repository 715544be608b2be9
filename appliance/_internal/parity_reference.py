"""The PyTorch side of parity: fixed prompts, the float32 reference logits, and a stored, hash-bound copy.

Export judges an artifact against what transformers computes from the same files (``export/parity.py``).
Most of that cost is importing torch and transformers (~5 s of a 127M export on 2 cores), which the trainer
has already paid when it writes a model.  So the trainer stores the reference beside the model it writes
(``export_reference.npz``), computed by the same function from the files just saved, together with the
SHA-256 of every file it depends on (weights, config, tokenizer files) and the prompts themselves.  Export
uses it only when every one of those hashes matches the files it is converting and the prompts are the
ones it would use; otherwise it computes the reference afresh.  Forging the stored logits cannot make a bad
artifact pass: the GGUF is written from the bound files, so a forged reference can only make parity fail.

Lives in ``_internal`` because both ``train`` (writes it) and ``export`` (reads it) use it.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from appliance._internal.hashing import sha256_file

log = logging.getLogger(__name__)

PROMPTS = (
    "Patient reports mild chest pain and shortness of breath.",
    "The resident ordered a CBC and BMP; follow-up in 2 weeks.",
    "Blood pressure 128/84, temperature 38.2 C, no acute distress!",
    "Attending notes:\nmetformin 500 mg BID,  insulin sliding scale?",
    "Radiology recommends an MRI of the knee. Day 12, bed 7.",
    "Nurse on call documented fall precautions",
)
# Tokenization is also checked on strings that exercise bytes the BPE never merged.
TOKENIZATION_ONLY = ("naïve café — 😀 résumé", "  leading spaces\tand tabs\n\n", "Ünïcödé 123456789 x²",
                     "Jose\u0301 Mu\u0308ller, decomposed accents")  # NFD input: a normalizing tokenizer differs

STORED_REFERENCE = "export_reference.npz"
#: the files the reference depends on (whichever exist), besides every ``*.safetensors``
BOUND_NAMES = ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
               "chat_template.jinja")


def torch_reference(model_dir: Path, prompts=PROMPTS, threads: int | None = None) -> dict:
    """HF tokenizer ids and float32 PyTorch logits for ``prompts`` (the ground truth)."""
    import torch
    from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast
    from transformers.utils import logging as hf_logging

    if threads:
        torch.set_num_threads(threads)
    # tokenizer.json as written is the truth: AutoTokenizer would swap in an architecture-specific
    # pre-tokenizer for some model types (transformers 5 rebuilds e.g. Qwen2Tokenizer's pipeline).
    tok = PreTrainedTokenizerFast.from_pretrained(str(model_dir), local_files_only=True)
    hf_logging.disable_progress_bar()
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32, local_files_only=True)
    model.eval()
    ids, logits = [], []
    with torch.no_grad():
        for p in prompts:
            x = tok(p, add_special_tokens=True)["input_ids"]
            ids.append(list(map(int, x)))
            logits.append(model(torch.tensor([x])).logits[0].float().numpy())
    extra = [list(map(int, tok(p, add_special_tokens=True)["input_ids"])) for p in TOKENIZATION_ONLY]
    return {"prompts": list(prompts), "ids": ids, "logits": logits, "extra_ids": extra}


def save_full_reference(path: Path, ref: dict, binding: dict[str, str] | None = None) -> None:
    import numpy as np

    arrays = {"n": np.array(len(ref["ids"]))}
    for i, (ids, lg) in enumerate(zip(ref["ids"], ref["logits"])):
        arrays[f"ids_{i}"] = np.array(ids, dtype=np.int64)
        arrays[f"logits_{i}"] = lg.astype(np.float32)
    for i, ids in enumerate(ref["extra_ids"]):
        arrays[f"extra_{i}"] = np.array(ids, dtype=np.int64)
    if binding is not None:
        meta = {"binding": binding, "prompts": list(ref["prompts"]), "tokenization_only": list(TOKENIZATION_ONLY)}
        arrays["meta"] = np.frombuffer(json.dumps(meta, sort_keys=True).encode("utf-8"), dtype=np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def load_full_reference(path: Path) -> tuple[dict, dict | None]:
    """The reference in ``path`` and its binding metadata (None for an unbound one)."""
    import numpy as np

    with np.load(path, allow_pickle=False) as z:
        n = int(z["n"])
        extra = sorted((k for k in z.files if k.startswith("extra_")), key=lambda k: int(k.split("_")[1]))
        meta = json.loads(z["meta"].tobytes().decode("utf-8")) if "meta" in z.files else None
        ref = {"prompts": list(meta["prompts"]) if meta else list(PROMPTS),
               "ids": [z[f"ids_{i}"].tolist() for i in range(n)],
               "logits": [z[f"logits_{i}"] for i in range(n)], "extra_ids": [z[k].tolist() for k in extra]}
    return ref, meta


def bound_files(model_dir: Path) -> list[Path]:
    return sorted([p for p in model_dir.glob("*.safetensors")] +
                  [model_dir / n for n in BOUND_NAMES if (model_dir / n).is_file()])


def binding(model_dir: Path, known: dict[str, str] | None = None) -> dict[str, str]:
    """name → SHA-256 of every file the reference depends on (``known`` hashes are reused, not recomputed)."""
    known = known or {}
    return {p.name: known.get(p.name) or sha256_file(p) for p in bound_files(model_dir)}


def write_stored_reference(model_dir: Path) -> Path:
    """Compute the reference from the files in ``model_dir`` and store it there, bound to their hashes."""
    model_dir = Path(model_dir)
    ref = torch_reference(model_dir)
    out = model_dir / STORED_REFERENCE
    tmp = out.with_name(out.name + ".tmp")
    save_full_reference(tmp, ref, binding(model_dir))
    tmp.replace(out)
    return out


def stored_reference(model_dir: Path, known: dict[str, str] | None = None) -> tuple[dict | None, str]:
    """The stored reference if it is bound to exactly these files and prompts, else None; and why."""
    path = Path(model_dir) / STORED_REFERENCE
    if not path.is_file():
        return None, "none stored"
    try:
        ref, meta = load_full_reference(path)
    except (OSError, ValueError, KeyError) as e:
        return None, f"{STORED_REFERENCE} unreadable ({e})"
    if not meta:
        return None, f"{STORED_REFERENCE} carries no binding"
    if meta.get("prompts") != list(PROMPTS) or meta.get("tokenization_only") != list(TOKENIZATION_ONLY):
        return None, f"{STORED_REFERENCE} was computed on other prompts"
    now = binding(Path(model_dir), known)
    if meta.get("binding") != now:
        old = meta.get("binding") or {}
        changed = sorted(k for k in set(now) | set(old) if now.get(k) != old.get(k))
        return None, f"{STORED_REFERENCE} does not match the files ({', '.join(changed)[:120]} changed)"
    return ref, "stored with the model, bound by SHA-256"
