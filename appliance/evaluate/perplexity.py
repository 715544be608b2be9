"""Per-record negative log-likelihood of a causal LM, aggregated into perplexities.

Each record is scored on its own, as the trainer sees it: ``[EOS] + tokens + [EOS]`` (the packer separates
documents with EOS, so a document always follows one), cut into windows of ``seq_len + 1`` tokens that
overlap by one, so every token after the leading EOS is predicted exactly once.  Scores are kept per record
(sum of NLL, token count) so perplexity can be grouped by source, ingest month or split afterwards.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LoadedModel:
    model: object
    tokenizer: object
    eos_id: int
    pad_id: int
    device: str

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.backend_tokenizer.encode(text, add_special_tokens=False).ids


def load_model(model_dir: Path, device: str | None = None) -> LoadedModel:
    """Load a local HF model dir (safetensors only, never remote code) for evaluation."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    tok = AutoTokenizer.from_pretrained(str(model_dir), trust_remote_code=False, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), trust_remote_code=False, local_files_only=True,
                                                 use_safetensors=True, dtype=torch.float32)
    model.to(device).eval()
    eos = tok.eos_token_id
    pad = tok.pad_token_id if tok.pad_token_id is not None else eos
    return LoadedModel(model, tok, eos, pad, device)


def _windows(ids: list[int], seq_len: int) -> list[list[int]]:
    out, start = [], 0
    while start < len(ids) - 1:
        out.append(ids[start:start + seq_len + 1])
        start += seq_len
    return out


def record_nll(lm: LoadedModel, texts: Iterable[str], seq_len: int = 128, batch_size: int = 8) -> list[tuple[float, int]]:
    """``[(sum of NLL in nats, tokens predicted)]`` per text, in order."""
    import torch

    results: list[list[float]] = []
    pending: list[tuple[int, list[int]]] = []  # (record index, window)

    def flush() -> None:
        if not pending:
            return
        width = max(len(w) for _, w in pending)
        inp = torch.full((len(pending), width), lm.pad_id, dtype=torch.long)
        mask = torch.zeros((len(pending), width), dtype=torch.long)
        for row, (_, w) in enumerate(pending):
            inp[row, :len(w)] = torch.tensor(w)
            mask[row, :len(w)] = 1
        inp, mask = inp.to(lm.device), mask.to(lm.device)
        with torch.no_grad():
            logits = lm.model(input_ids=inp, attention_mask=mask).logits.float()
        logp = torch.log_softmax(logits[:, :-1], dim=-1)
        target = inp[:, 1:]
        nll = -logp.gather(-1, target.unsqueeze(-1)).squeeze(-1) * mask[:, 1:]
        for row, (idx, w) in enumerate(pending):
            results[idx][0] += float(nll[row].sum())
            results[idx][1] += len(w) - 1
        pending.clear()

    for text in texts:
        results.append([0.0, 0])
        ids = [lm.eos_id] + lm.encode(text) + [lm.eos_id]
        for w in _windows(ids, seq_len):
            pending.append((len(results) - 1, w))
            if len(pending) >= batch_size:
                flush()
    flush()
    return [(s, int(n)) for s, n in results]


def ppl(scores: Sequence[tuple[float, int]]) -> float | None:
    """Perplexity of a group of records (token-weighted); None for an empty group."""
    tokens = sum(n for _, n in scores)
    if tokens == 0:
        return None
    mean = sum(s for s, _ in scores) / tokens
    return round(math.exp(mean), 4) if mean < 700 else float("inf")


def grouped_ppl(scores: Sequence[tuple[float, int]], keys: Sequence[str]) -> dict[str, float | None]:
    """Perplexity per group (``keys[i]`` is record ``i``'s group)."""
    groups: dict[str, list[tuple[float, int]]] = {}
    for s, k in zip(scores, keys):
        groups.setdefault(k, []).append(s)
    return {k: ppl(v) for k, v in sorted(groups.items())}


def score_texts(lm: LoadedModel, read_text: Callable[[str], str], ids: Sequence[str], seq_len: int) -> list[tuple[float, int]]:
    """Decrypt (in memory) and score records by id."""
    return record_nll(lm, (read_text(i) for i in ids), seq_len=seq_len)
