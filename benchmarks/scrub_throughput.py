"""Scrubber throughput vs plain Presidio, same notes, same spaCy model, same run.

    .venv/bin/python benchmarks/scrub_throughput.py [--notes 200] [--workers 2] [--out scrub_throughput.json]

Plain Presidio = ``AnalyzerEngine`` with its default recognizers and the full spaCy pipeline of the same model,
fed through Presidio's own ``BatchAnalyzerEngine`` (its ``nlp.pipe`` path, its best case).  The appliance runs
``Scrubber.detect_batch`` with its worker pool already started (the vault keeps one pool for a whole
ingest).  Both are scored on the notes' answer key, so the speed ratio is reported next to recall.
Prints notes/s for each and the ratio; writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--notes", type=int, default=200)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--spacy-model", default="en_core_web_sm")
    ap.add_argument("--out", type=Path, default=Path("scrub_throughput.json"))
    args = ap.parse_args(argv)

    from appliance._internal import netguard

    netguard.install()
    from appliance.config import ScrubSection
    from appliance.scrub import Scrubber
    from appliance.scrub.evaluate import presidio_baseline, score
    from appliance.scrub.synthetic import generate_notes

    notes = generate_notes(args.notes, seed=args.seed) 
    texts = [n["text"] for n in notes]
    chars = sum(map(len, texts))

    presidio = presidio_baseline(args.spacy_model)
    presidio(texts[:4])  # warm-up (lazy recognizer compilation)
    t0 = time.perf_counter()
    p_pred = presidio(texts)
    p_sec = time.perf_counter() - t0
    del presidio

    settings = ScrubSection(spacy_model=args.spacy_model, workers=args.workers)
    with Scrubber(settings, workers=args.workers) as s:
        s.detect_batch(texts[: 2 * args.workers])  # warm-up each worker
        t0 = time.perf_counter()
        ents = s.detect_batch(texts)
        a_sec = time.perf_counter() - t0

    a_score = score(notes, [[(e.start, e.end, e.type) for e in es] for es in ents], max_misses=0)["overall"]
    p_score = score(notes, p_pred, max_misses=0)["overall"]
    res = {
        "notes": len(texts),
        "chars": chars,
        "spacy_model": args.spacy_model,
        "workers": args.workers,
        "cpu_count": os.cpu_count(),
        "load_avg_1m": os.getloadavg()[0],
        "python": platform.python_version(),
        "presidio": {"seconds": round(p_sec, 3), "notes_per_s": round(len(texts) / p_sec, 2), **p_score},
        "appliance": {"seconds": round(a_sec, 3), "notes_per_s": round(len(texts) / a_sec, 2), **a_score},
    }
    res["speedup"] = round(p_sec / a_sec, 2)
    args.out.write_text(json.dumps(res, indent=2) + "\n")
    print(f"presidio : {res['presidio']['notes_per_s']:8.2f} notes/s   recall {p_score['recall']:.4f}  precision {p_score['precision']:.4f}")
    print(f"appliance: {res['appliance']['notes_per_s']:8.2f} notes/s   recall {a_score['recall']:.4f}  precision {a_score['precision']:.4f}")
    print(f"speedup  : {res['speedup']:.2f}x  ({args.workers} workers, load avg {res['load_avg_1m']:.1f})  -> {args.out}")
    return res


if __name__ == "__main__":
    main()
