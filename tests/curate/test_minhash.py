"""MinHash + LSH: planted near-copies are found (recall ≥ 0.95), unrelated documents are not."""

from __future__ import annotations

import random

import numpy as np

from appliance.curate import LSHIndex, MinHasher, band_keys, jaccard, optimal_params

VOCAB = [f"w{i}" for i in range(3000)]


def _doc(rng: random.Random, n: int = 200) -> list[str]:
    return [rng.choice(VOCAB) for _ in range(n)]


def near_copy(rng: random.Random, words: list[str]) -> str:
    """1–2 word edits (substitute / insert / delete) plus case and whitespace noise."""
    w = list(words)
    for _ in range(rng.randint(1, 2)):
        i = rng.randrange(len(w))
        op = rng.choice("sid")
        if op == "s":
            w[i] = rng.choice(VOCAB)
        elif op == "i":
            w.insert(i, rng.choice(VOCAB))
        else:
            del w[i]
    text = "  ".join(w) if rng.random() < 0.5 else " ".join(w)
    return text.upper() if rng.random() < 0.3 else text


def test_planted_near_copy_recall_and_precision():
    rng = random.Random(7)
    mh = MinHasher(num_perm=128, shingle=5, key=b"k" * 32)
    index = LSHIndex(threshold=0.8, num_perm=128)
    originals = [_doc(rng) for _ in range(300)]
    for i, w in enumerate(originals):
        index.insert(f"d{i}", mh.signature(" ".join(w)))
    hits = sum(f"d{i}" in index.query(mh.signature(near_copy(rng, originals[i]))) for i in range(300))
    recall = hits / 300
    assert recall >= 0.95, recall
    false_pos = sum(bool(index.query(mh.signature(" ".join(_doc(rng))))) for _ in range(200))
    assert false_pos == 0


def test_signature_properties():
    mh = MinHasher(num_perm=64, shingle=3, key=b"a")
    s1 = mh.signature("the quick brown fox jumps over the lazy dog")
    assert s1.dtype == np.uint32 and s1.shape == (64,)
    assert jaccard(s1, mh.signature("The  quick brown fox jumps over the lazy dog")) == 1.0
    # keyed: another key gives unrelated signatures for the same text (stored hashes need the master key)
    assert jaccard(s1, MinHasher(num_perm=64, shingle=3, key=b"b").signature("the quick brown fox jumps over the lazy dog")) < 0.2
    short = mh.signature("hi")  # fewer words than the shingle size still yields a signature
    assert short.shape == (64,)
    assert len(band_keys(s1, 8, 8)) == 8


def test_optimal_params_respect_num_perm_and_favor_recall():
    b, r = optimal_params(0.8, 128)
    assert b * r <= 128
    p = lambda s: 1 - (1 - s**r) ** b
    assert p(0.9) > 0.99 and p(0.5) < 0.05
