"""Patient-grouped CV of the learned scrubber on the PhysioNet dev notes and their re-surrogated copy, beside
plain Presidio in the same run, and the throughput ratio against Presidio on the same notes.

    .venv/bin/python benchmarks/scrub_cv.py [--devset DIR] [--folds 5] [--out scrub_cv.json]
    (also run by benchmarks/scrub_quality.py --sets physionet)

Protocol (issue 12): per fold, the CRF trains on the other folds' patients + the seeded synthetic notes of
the default build, and is scored on the held-out patients only; the rules learn nothing, so their pass is
computed once.  The re-surrogated copy replaces every gold value by a fresh one of the same kind and shape:
a model that learned this corpus's surrogate names gains nothing there.  Throughput: notes/s of the
appliance scrubber as shipped (rules + default CRF, ``scrub.workers`` = 2) vs plain Presidio (one
AnalyzerEngine, the same spaCy model, full pipeline) on the dev notes.
Targets: token recall >= 0.99 on the Safe Harbor types, char precision >= 0.75, non-PHI replaced <= 1%,
throughput >= 3x Presidio.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEVSET = Path(os.environ.get("APPLIANCE_PII_DEV", ROOT.parent / "shared" / "data" / "pii-dev")) / "physionet-deid-dev"
_KEYS = ("recall", "precision", "char_precision", "non_phi_replaced")


def _figures(gold, preds) -> dict:
    from appliance.scrub.evaluate import score

    s = score(gold, preds, max_misses=0)
    return {"overall": {k: s["overall"][k] for k in _KEYS},
            "per_type": {t: v["recall"] for t, v in s["per_type"].items() if v["recall"] is not None}}


def run_cv(devset: Path, folds: int = 5, workers: int = 2) -> dict:
    from appliance.config import ScrubSection
    from appliance.scrub import Scrubber
    from appliance.scrub.evaluate import presidio_baseline
    from appliance.scrub.learned.train import DEFAULT_SYNTHETIC, cross_validate, rule_runs, rules_engine
    from appliance.scrub.physionet import convert_physionet, resurrogate
    from appliance.scrub.synthetic import generate_notes

    dev = convert_physionet(devset)
    sets = {"physionet-dev": dev, "physionet-resurrogated": resurrogate(dev)}
    extra = generate_notes(DEFAULT_SYNTHETIC["n"], seed=DEFAULT_SYNTHETIC["seed"])
    eng = rules_engine()
    extra_runs = rule_runs(extra, eng)
    presidio = presidio_baseline(ScrubSection().spacy_model)
    out: dict = {"folds": folds, "sets": {}}
    for name, recs in sets.items():
        t0 = time.perf_counter()
        runs = rule_runs(recs, eng)
        cv = cross_validate(recs, runs, k=folds, extra=extra, extra_runs=extra_runs)
        t1 = time.perf_counter()
        peer = presidio([r["text"] for r in recs])
        out["sets"][name] = {
            "notes": len(recs), "patients": len({r["patient"] for r in recs}),
            "rules": _figures(recs, cv["rules"]), "rules+crf (CV)": _figures(recs, cv["predictions"]),
            "presidio": _figures(recs, peer), "train_seconds_per_fold": cv["train_seconds"], "cv_seconds": round(t1 - t0, 1),
        }
        print(f"{name}: done in {time.perf_counter() - t0:.0f} s", flush=True)
    texts = [r["text"] for r in dev]
    with Scrubber(ScrubSection(workers=workers)) as s:
        s.detect_batch(texts[:8])
        t0 = time.perf_counter()
        s.detect_batch(texts)
        ours = len(texts) / (time.perf_counter() - t0)
    presidio(texts[:8])
    t0 = time.perf_counter()
    presidio(texts)
    peer = len(texts) / (time.perf_counter() - t0)
    out["throughput"] = {"appliance_notes_per_s": round(ours, 2), "presidio_notes_per_s": round(peer, 2), "ratio": round(ours / peer, 2), "workers": workers}
    return out


def render(res: dict) -> None:
    for name, r in res["sets"].items():
        print(f"\n{name} ({r['notes']} notes, {r['patients']} patients, {res['folds']}-fold patient-grouped CV)")
        print(f"  {'system':<16}{'recall':>8}{'prec':>8}{'char-p':>8}{'non-PHI':>9}   recall per type")
        for sysname in ("rules", "rules+crf (CV)", "presidio"):
            o, pt = r[sysname]["overall"], r[sysname]["per_type"]
            f = "  ".join(f"{t} {v:.3f}" for t, v in sorted(pt.items()))
            print(f"  {sysname:<16}{o['recall']:>8.3f}{o['precision'] or 0:>8.3f}{o['char_precision'] or 0:>8.3f}{o['non_phi_replaced']:>9.4f}   {f}")
    t = res["throughput"]
    print(f"\nthroughput: appliance {t['appliance_notes_per_s']} notes/s ({t['workers']} workers) vs Presidio {t['presidio_notes_per_s']} notes/s: {t['ratio']}x (target 3x)")


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devset", type=Path, default=DEVSET)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("scrub_cv.json"))
    args = ap.parse_args(argv)
    res = run_cv(args.devset, args.folds, args.workers)
    render(res)
    args.out.write_text(json.dumps(res, indent=2))
    print(f"wrote {args.out}")
    return res


if __name__ == "__main__":
    main()
