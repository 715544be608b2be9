"""Privacy probes: does the model recite its training records, and does it emit PHI-looking text?

* Memorization: for training records and held-out records alike, feed the first ``prefix`` tokens and
  decode ``k`` tokens greedily; report the share of records whose next ``k`` tokens come back exactly (and
  the token-level match rate).  A model that memorizes scores much higher on training than held-out records.
* PHI: sample ``samples`` generations of ``tokens`` tokens each from a fixed seed (so champion and candidate
  are probed identically), run them through the site's scrubber, report detections per 1,000 tokens by type.
  Generated text stays in memory; only counts leave this module.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from appliance.evaluate.perplexity import LoadedModel


def _greedy(lm: LoadedModel, prefixes: list[list[int]], k: int) -> list[list[int]]:
    import torch

    inp = torch.tensor(prefixes, dtype=torch.long, device=lm.device)
    out = []
    with torch.no_grad():
        for _ in range(k):
            nxt = lm.model(input_ids=inp).logits[:, -1].argmax(-1, keepdim=True)
            out.append(nxt)
            inp = torch.cat([inp, nxt], dim=1)
    return torch.cat(out, dim=1).tolist() if out else [[] for _ in prefixes]


def memorization(lm: LoadedModel, texts: Sequence[str], prefix: int = 32, k: int = 16, batch_size: int = 16) -> dict:
    """Exact-match rate of greedy ``k``-token continuations after a ``prefix``-token prompt."""
    pairs = []
    for t in texts:
        ids = [lm.eos_id] + lm.encode(t)
        if len(ids) >= 1 + prefix + k:
            pairs.append((ids[:1 + prefix], ids[1 + prefix:1 + prefix + k]))
    exact = matched = 0
    for i in range(0, len(pairs), batch_size):
        chunk = pairs[i:i + batch_size]
        got = _greedy(lm, [p for p, _ in chunk], k)
        for (_, want), g in zip(chunk, got):
            same = sum(a == b for a, b in zip(want, g))
            matched += same
            exact += same == k
    n = len(pairs)
    return {"records": n, "skipped_short": len(texts) - n, "prefix_tokens": prefix, "k": k,
            "exact_match_rate": round(exact / n, 4) if n else None,
            "token_match_rate": round(matched / (n * k), 4) if n else None}


def sample(lm: LoadedModel, samples: int, tokens: int, seed: int, temperature: float = 1.0) -> list[list[int]]:
    """``samples`` generations of ``tokens`` tokens from an EOS prompt (a document start), seeded."""
    import torch

    g = torch.Generator(device=lm.device).manual_seed(seed)
    inp = torch.full((samples, 1), lm.eos_id, dtype=torch.long, device=lm.device)
    with torch.no_grad():
        for _ in range(tokens):
            logits = lm.model(input_ids=inp).logits[:, -1].float() / temperature
            nxt = torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=g)
            inp = torch.cat([inp, nxt], dim=1)
    return inp[:, 1:].tolist()


def phi_rate(lm: LoadedModel, detect_batch: Callable[[list[str]], list[list]], samples: int = 16, tokens: int = 64,
             seed: int = 0) -> dict:
    """PHI detections per 1,000 generated tokens (by type) in seeded samples."""
    gens = sample(lm, samples, tokens, seed)
    texts = [lm.tokenizer.decode(g, skip_special_tokens=True) for g in gens]
    found = detect_batch(texts)
    by_type: dict[str, int] = {}
    for ents in found:
        for e in ents:
            by_type[e.type] = by_type.get(e.type, 0) + 1
    n = sum(by_type.values())
    total = samples * tokens
    return {"samples": samples, "tokens": total, "detections": n, "per_1k_tokens": round(1000 * n / total, 3),
            "by_type": dict(sorted(by_type.items())), "seed": seed}
