"""MinHash signatures and LSH banding in numpy (our own; datasketch is only the benchmark peer).

- Shingles are word k-grams of the lower-cased text (ASCII punctuation splits words).  Each word is hashed
  once with keyed BLAKE2b (8 bytes); a k-gram's hash is a polynomial combination of its word hashes computed
  vectorised in numpy (uint64 wrap-around), folded to 32 bits.
- Keying matters: the vault stores signatures and band keys in its catalog, and unkeyed hashes of a short
  text (fewer than k words → a single shingle, so one band key pins the whole text) could be confirmed by a
  dictionary attack ("was 'HIV positive, J. Smith' ingested?").  With a key derived from the master key the
  stored hashes reveal nothing without unlocking; what remains visible is only which records are similar.
- Permutations are multiply-shift universal hashes ``(a·h + b mod 2^64) >> 32`` (``a`` odd), 32-bit like
  datasketch's, with ``a, b`` drawn from a fixed seed so signatures are stable across runs.
- Band parameters are chosen like datasketch's ``_optimal_param`` (minimise weighted false-positive and
  false-negative area around the threshold), weighted towards recall because every candidate is verified
  against its estimated Jaccard similarity afterwards.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np

MAX_HASH = np.uint64((1 << 32) - 1)
_SHIFT = np.uint64(32)
_POLY = np.uint64(0x100000001B3)  # FNV-64 prime as the k-gram polynomial base
# ASCII punctuation splits words (like \w+ would, but str.translate + split run in C)
_PUNCT_TO_SPACE = str.maketrans({c: " " for c in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"})
_BLOCK = 2048  # shingles per numpy block: bounds memory at _BLOCK × num_perm × 8 bytes


@lru_cache(maxsize=64)
def optimal_params(threshold: float, num_perm: int, fp_weight: float = 0.1, fn_weight: float = 0.9) -> tuple[int, int]:
    """(bands, rows) minimising ``fp_weight·FP + fn_weight·FN`` (integrated S-curve areas), b·r ≤ num_perm."""
    best, opt = float("inf"), (1, num_perm)
    lo = np.linspace(0.0, threshold, 201)
    hi = np.linspace(threshold, 1.0, 201)
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            fp = np.trapezoid(1 - (1 - lo**r) ** b, lo)
            fn = np.trapezoid((1 - hi**r) ** b, hi)
            err = fp * fp_weight + fn * fn_weight
            if err < best:
                best, opt = err, (b, r)
    return opt


class MinHasher:
    """Computes MinHash signatures (``uint32[num_perm]``) of texts."""

    def __init__(self, num_perm: int = 128, shingle: int = 5, key: bytes = b"", seed: int = 1):
        self.num_perm = num_perm
        self.shingle = shingle
        self.key = key[:64]
        gen = np.random.default_rng(seed)
        self._a = gen.integers(0, 1 << 64, size=num_perm, dtype=np.uint64, endpoint=False) | np.uint64(1)
        self._b = gen.integers(0, 1 << 64, size=num_perm, dtype=np.uint64, endpoint=False)
        self._cache: dict[str, int] = {}

    def _word_hash(self, w: str) -> int:
        h = self._cache.get(w)
        if h is None:
            h = int.from_bytes(hashlib.blake2b(w.encode("utf-8"), digest_size=8, key=self.key).digest(), "little")
            if len(self._cache) > 500_000:  # bounded memory on huge vocabularies
                self._cache.clear()
            self._cache[w] = h
        return h

    def shingle_hashes(self, text: str) -> np.ndarray:
        """Unique 32-bit hashes of the word k-grams of ``text`` (one shingle for texts shorter than k words)."""
        words = text.lower().translate(_PUNCT_TO_SPACE).split()
        if not words:
            words = [text.strip().lower()]
        hs = list(map(self._cache.get, words))  # C-level lookups; hash only the words not seen before
        if None in hs:
            hs = [h if h is not None else self._word_hash(w) for h, w in zip(hs, words)]
        wh = np.array(hs, dtype=np.uint64)
        k = min(self.shingle, len(words))
        m = len(words) - k + 1
        h = wh[:m].copy()
        with np.errstate(over="ignore"):
            for j in range(1, k):
                h = h * _POLY + wh[j : j + m]
        h = (h ^ (h >> np.uint64(32))) & MAX_HASH
        return np.unique(h)

    def signature(self, text: str) -> np.ndarray:
        """MinHash signature of ``text``."""
        hv = self.shingle_hashes(text)
        sig = np.full(self.num_perm, MAX_HASH, dtype=np.uint64)
        with np.errstate(over="ignore"):
            for i in range(0, len(hv), _BLOCK):
                # multiply-shift universal hashing: (a·h + b mod 2^64) >> 32, a odd — three numpy passes
                # instead of the six a mod-(2^61 − 1) family needs
                x = hv[i : i + _BLOCK, None] * self._a[None, :]
                x += self._b
                x >>= _SHIFT
                np.minimum(sig, x.min(axis=0), out=sig)
        return sig.astype(np.uint32)


def jaccard(sig1: np.ndarray, sig2: np.ndarray) -> float:
    """Estimated Jaccard similarity of two signatures."""
    return float(np.count_nonzero(sig1 == sig2)) / len(sig1)


def band_keys(sig: np.ndarray, bands: int, rows: int) -> list[int]:
    """One signed 64-bit key per band (fits an SQLite INTEGER)."""
    raw = np.ascontiguousarray(sig[: bands * rows], dtype=np.uint32).reshape(bands, rows)
    out = []
    for i in range(bands):
        d = hashlib.blake2b(raw[i].tobytes(), digest_size=8, person=b"lsh-band").digest()
        out.append(int.from_bytes(d, "little", signed=True))
    return out


class LSHIndex:
    """In-memory LSH over band keys, with candidates verified by estimated Jaccard ≥ threshold."""

    def __init__(self, threshold: float = 0.8, num_perm: int = 128, params: tuple[int, int] | None = None):
        self.threshold = threshold
        self.bands, self.rows = params or optimal_params(threshold, num_perm)
        self._tables: list[dict[int, list[str]]] = [{} for _ in range(self.bands)]
        self._sigs: dict[str, np.ndarray] = {}

    def insert(self, key: str, sig: np.ndarray) -> None:
        self._sigs[key] = sig
        for t, bk in zip(self._tables, band_keys(sig, self.bands, self.rows)):
            t.setdefault(bk, []).append(key)

    def candidates(self, sig: np.ndarray) -> set[str]:
        out: set[str] = set()
        for t, bk in zip(self._tables, band_keys(sig, self.bands, self.rows)):
            out.update(t.get(bk, ()))
        return out

    def query(self, sig: np.ndarray) -> list[str]:
        """Keys whose estimated Jaccard with ``sig`` is at least the threshold."""
        return [k for k in self.candidates(sig) if jaccard(self._sigs[k], sig) >= self.threshold]

    def __len__(self) -> int:
        return len(self._sigs)
