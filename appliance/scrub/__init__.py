"""The clinical PHI scrubber (HIPAA Safe Harbor): the only way text enters the vault.

Public API::

    with Scrubber(settings.scrub, secret=key32) as s:
        results = s.scrub_batch(texts, patient_keys)   # -> [ScrubResult(text, counts)]
        entities = s.detect_batch(texts)                 # -> [[Entity(start, end, type, score)]]

A ``Scrubber`` starts its worker processes once (``settings.workers`` or ``workers=``); each worker loads the
spaCy model named in config (never downloaded) and the recognizer registry, and runs ``nlp.pipe`` over its
share of a batch, then the learned detector (the shipped default, or the site model passed as
``learned_model``, see :mod:`appliance.scrub.learned`).  Surrogates and date offsets come from HMAC under ``secret`` (random per Scrubber unless
the caller passes one, e.g. derived from the vault key), so no real→fake mapping is ever stored.
"""

from __future__ import annotations

import logging
import secrets as _secrets
from collections.abc import Sequence

from appliance.scrub.types import SAFE_HARBOR_TYPES, Entity, ScrubResult

__all__ = ["SAFE_HARBOR_TYPES", "Entity", "ScrubResult", "Scrubber"]

log = logging.getLogger(__name__)

# -- worker side -------------------------------------------------------------------------------------------
_W: dict = {}


def _init_worker(settings, secret: bytes, learned=None) -> None:
    try:
        import os

        # one spaCy/BLAS thread per worker process: the processes are the parallelism
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        from appliance._internal import netguard

        netguard.install()
        _load_worker(settings, secret, learned)
    except BaseException as e:  # surfaced by _ping: a failing initializer would only say "BrokenProcessPool"  # noqa: BLE001
        _W["error"] = e


def _load_worker(settings, secret: bytes, learned=None) -> None:
    from appliance.scrub.engine import DetectionEngine
    from appliance.scrub.surrogate import Surrogates

    detector = None
    if learned is not None:  # a site model: (crfsuite bytes, card), decrypted by the caller
        from appliance.scrub.learned import Detector

        detector = Detector(*learned) if getattr(settings, "learned", "off") != "off" else False
    _W["engine"] = DetectionEngine(settings, learned=detector)
    _W["sur"] = Surrogates(secret, settings)


def _ping() -> bool:
    if "error" in _W:
        raise _W["error"]
    return True


def _detect_chunk(texts: list[str]) -> list[list[tuple]]:
    return [[(e.start, e.end, e.type, e.score) for e in ents] for ents in _W["engine"].detect(texts)]


def _scrub_chunk(texts: list[str], scopes: list[str]) -> list[tuple[str, dict, tuple[int, int]]]:
    from appliance.scrub.damage import vocabulary_counts

    ents = _W["engine"].detect(texts)
    sur = _W["sur"]
    return [(*sur.apply(t, e, s), vocabulary_counts(t, [(x.start, x.end) for x in e])) for t, e, s in zip(texts, ents, scopes)]


# -- caller side -------------------------------------------------------------------------------------------
class Scrubber:
    """Detect and replace PHI in batches of texts, in a pool of worker processes started once."""

    def __init__(self, settings=None, *, workers: int | None = None, secret: bytes | None = None, learned_model: tuple[bytes, dict] | None = None):
        from appliance.config import ScrubSection
        from appliance.scrub.engine import resolve_spacy_model

        self.settings = settings if settings is not None else ScrubSection()
        # fail fast, with the setting's name, before any process starts
        resolve_spacy_model(self.settings.spacy_model)
        self._secret = secret if secret is not None else _secrets.token_bytes(32)
        if len(self._secret) < 16:
            raise ValueError("Scrubber secret must be at least 16 bytes (32 recommended)")
        self.workers = int(workers if workers is not None else getattr(self.settings, "workers", 1))
        self._pool = None
        if self.workers > 1:
            import multiprocessing as mp
            import sys
            import threading
            from concurrent.futures import ProcessPoolExecutor

            # fork a single-threaded caller after loading the model once (workers start in milliseconds and
            # share its memory); spawn otherwise, since forking a threaded process can deadlock the child
            method = "fork" if sys.platform == "linux" and threading.active_count() == 1 else "spawn"
            if method == "fork":
                _load_worker(self.settings, self._secret, learned_model)
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=mp.get_context(method),
                initializer=_init_worker,
                initargs=(self.settings, self._secret, learned_model),
            )
            try:
                for f in [self._pool.submit(_ping) for _ in range(self.workers)]:
                    f.result()
            except BaseException:
                self.close()
                raise
        else:
            _load_worker(self.settings, self._secret, learned_model)

    # chunks: contiguous slices, a few per worker so one long note does not idle the other core
    def _chunks(self, n: int) -> list[tuple[int, int]]:
        parts = max(1, min(n, self.workers * 2 if self._pool else 1))
        size = -(-n // parts)
        return [(i, min(n, i + size)) for i in range(0, n, size)]

    def detect_batch(self, texts: Sequence[str]) -> list[list[Entity]]:
        """Entities per text (character offsets, merged, disjoint), in input order."""
        texts = [str(t) for t in texts]
        if not texts:
            return []
        if self._pool is None:
            raw = _detect_chunk(texts)
        else:
            futs = [self._pool.submit(_detect_chunk, texts[a:b]) for a, b in self._chunks(len(texts))]
            raw = [r for f in futs for r in f.result()]
        return [[Entity(*t) for t in ents] for ents in raw]

    def scrub_batch(self, texts: Sequence[str], patient_keys: Sequence[str | None] | None = None) -> list[ScrubResult]:
        """Scrubbed texts with counts by type.  Records sharing a patient key share surrogates and date shift."""
        texts = [str(t) for t in texts]
        if patient_keys is not None and len(patient_keys) != len(texts):
            raise ValueError("patient_keys must be as long as texts")
        keys = list(patient_keys) if patient_keys is not None else [None] * len(texts)
        # no patient key: the document is its own scope (a random nonce, never derived from the text)
        scopes = [f"p:{k}" if k is not None else f"d:{_secrets.token_hex(12)}" for k in keys]
        if not texts:
            return []
        if self._pool is None:
            raw = _scrub_chunk(texts, scopes)
        else:
            futs = [self._pool.submit(_scrub_chunk, texts[a:b], scopes[a:b]) for a, b in self._chunks(len(texts))]
            raw = [r for f in futs for r in f.result()]
        return [ScrubResult(text=t, counts=c, clinical_vocab=v) for t, c, v in raw]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> Scrubber:  # noqa: PYI034 -- the class is not subclassed
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):  # pragma: no cover - best effort if the caller forgot close()
        try:
            self.close()
        except Exception:  # noqa: BLE001, S110 -- best effort at interpreter exit
            pass
