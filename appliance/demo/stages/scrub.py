"""Demo stage "scrub": score the scrubber on part of the embedded synthetic corpus against its answer key.

Uses the same keyed Scrubber the vault ingest uses (secret derived from the unlocked keys), reports
token-level recall/precision and replacement counts by type (never values), and records them in the audit log.
"""

from __future__ import annotations

import time
from pathlib import Path

from appliance.demo import corpus as demo_corpus

SAMPLE = 60


def demo_stage(ctx, corpus: Path | None = None, sample: int = SAMPLE, workers: int | None = None) -> dict:
    """Detect PHI in ``sample`` notes, score against the answer key, scrub them; counts only."""
    from appliance.config import load_site_config
    from appliance.scrub import Scrubber
    from appliance.scrub.evaluate import load_gold, score

    corpus = demo_corpus.require(corpus or demo_corpus.MONTH1)
    gold = load_gold(corpus)[:sample]
    texts = [r["text"] for r in gold]
    keys = ctx.keys()
    settings = load_site_config(ctx.home.config_path).scrub
    with Scrubber(settings, secret=keys.derive("scrub-surrogates"), workers=workers) as s:
        t0 = time.perf_counter()
        ents = s.detect_batch(texts)
        results = s.scrub_batch(texts, [r.get("patient") for r in gold])
        seconds = time.perf_counter() - t0
    rep = score(gold, [[(e.start, e.end, e.type) for e in es] for es in ents], max_misses=0)
    counts: dict[str, int] = {}
    for r in results:
        for k, v in r.counts.items():
            counts[k] = counts.get(k, 0) + v
    out = {
        "notes": len(texts),
        "recall": rep["overall"]["recall"],
        "precision": rep["overall"]["precision"],
        "replaced": sum(counts.values()),
        "counts": dict(sorted(counts.items())),
        "notes_per_s": round(2 * len(texts) / seconds, 1),
    }
    from appliance.audit import record

    record(ctx.home, "scrub.evaluate", {k: out[k] for k in ("notes", "recall", "precision", "replaced", "counts")},
           signer=keys.signer)
    return out
