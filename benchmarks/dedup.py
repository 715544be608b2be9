"""Near-duplicate detection: our numpy MinHash+LSH (appliance.curate) vs datasketch's MinHashLSH.

Same corpus, same parameters (num_perm, word 5-gram shingles, threshold 0.8, the same (bands, rows)), and the
same final decision (LSH candidate with estimated Jaccard ≥ threshold).  Reports recall on planted
near-copies (1–3 word edits plus case/whitespace noise), false positives on fresh documents, CPU time of
signing + indexing + querying (process time, so other load on a shared host does not skew it), and the speed
ratio (datasketch time / ours).

    .venv/bin/python benchmarks/dedup.py [--docs 2000] [--copies 500] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from appliance.curate import LSHIndex, MinHasher, optimal_params

VOCAB = [f"w{i}" for i in range(5000)]
_WORD = re.compile(r"\w+")


def corpus(n_docs: int, n_copies: int, n_fresh: int, seed: int = 0):
    rng = random.Random(seed)
    docs = [[rng.choice(VOCAB) for _ in range(rng.randint(150, 400))] for _ in range(n_docs)]
    copies = []
    for i in rng.sample(range(n_docs), n_copies):
        w = list(docs[i])
        for _ in range(rng.randint(1, 3)):
            j = rng.randrange(len(w))
            op = rng.choice("sid")
            if op == "s":
                w[j] = rng.choice(VOCAB)
            elif op == "i":
                w.insert(j, rng.choice(VOCAB))
            else:
                del w[j]
        text = "  ".join(w)
        copies.append((i, text.upper() if rng.random() < 0.3 else text))
    fresh = [" ".join(rng.choice(VOCAB) for _ in range(200)) for _ in range(n_fresh)]
    return [" ".join(d) for d in docs], copies, fresh


def run_ours(docs, copies, fresh, num_perm, shingle, threshold, params):
    t0 = time.process_time()
    mh = MinHasher(num_perm=num_perm, shingle=shingle, key=b"bench-key")
    idx = LSHIndex(threshold, num_perm, params=params)
    for i, d in enumerate(docs):
        idx.insert(str(i), mh.signature(d))
    hits = sum(str(i) in idx.query(mh.signature(t)) for i, t in copies)
    fps = sum(bool(idx.query(mh.signature(t))) for t in fresh)
    return hits, fps, time.process_time() - t0


def run_datasketch(docs, copies, fresh, num_perm, shingle, threshold, params):
    from datasketch import MinHash, MinHashLSH

    def sig(text):
        words = _WORD.findall(text.lower())
        k = min(shingle, len(words))
        sh = {" ".join(words[i : i + k]).encode() for i in range(len(words) - k + 1)}
        m = MinHash(num_perm=num_perm)
        m.update_batch(list(sh))
        return m

    t0 = time.process_time()
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, params=params)
    sigs = {}
    for i, d in enumerate(docs):
        m = sig(d)
        sigs[str(i)] = m
        lsh.insert(str(i), m)

    def query(m):
        return [k for k in lsh.query(m) if sigs[k].jaccard(m) >= threshold]

    hits = sum(str(i) in query(sig(t)) for i, t in copies)
    fps = sum(bool(query(sig(t))) for t in fresh)
    return hits, fps, time.process_time() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=2000)
    ap.add_argument("--copies", type=int, default=500)
    ap.add_argument("--fresh", type=int, default=500)
    ap.add_argument("--num-perm", type=int, default=128)
    ap.add_argument("--shingle", type=int, default=5)
    ap.add_argument("--threshold", type=float, default=0.8)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    params = optimal_params(a.threshold, a.num_perm)
    docs, copies, fresh = corpus(a.docs, a.copies, a.fresh)
    res = {"docs": a.docs, "copies": a.copies, "fresh": a.fresh, "num_perm": a.num_perm, "shingle": a.shingle,
           "threshold": a.threshold, "bands_rows": list(params)}
    for name, fn in (("ours", run_ours), ("datasketch", run_datasketch)):
        hits, fps, secs = fn(docs, copies, fresh, a.num_perm, a.shingle, a.threshold, params)
        res[name] = {"recall": round(hits / len(copies), 4), "false_positives": fps, "seconds": round(secs, 3)}
    res["speed_ratio_datasketch_over_ours"] = round(res["datasketch"]["seconds"] / res["ours"]["seconds"], 2)
    if a.json:
        print(json.dumps(res, indent=2))
    else:
        for name in ("ours", "datasketch"):
            r = res[name]
            print(f"{name:>10}: recall {r['recall']:.3f}  false positives {r['false_positives']}/{a.fresh}  "
                  f"{r['seconds']:.2f}s")
        print(f"bands×rows {params[0]}×{params[1]}; datasketch time / ours = {res['speed_ratio_datasketch_over_ours']}x")


if __name__ == "__main__":
    main()
