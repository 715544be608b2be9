"""Clinical damage: how much of a note that is not PHI the scrubber changes.

Two figures (issue 12, part 6).  *Non-PHI tokens replaced*: of the word tokens outside every gold span, the
share a detection covers (needs labels; computed by :func:`appliance.scrub.evaluate.score`).  *Clinical
vocabulary kept*: of the tokens that are clinical vocabulary (the shipped list, :func:`clinical_vocab`), the
share no detection touches.  The second needs no labels, so every ingest batch records it: a batch whose
share drops has had its shorthand turned into fake names and places, which would corrupt the corpus.  On a
labelled note, vocabulary words inside a gold span (PHI or neutral) are left out of the count.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_TOKEN = re.compile(r"[A-Za-z][A-Za-z'&+/-]*")


def vocabulary_counts(text: str, detections: Iterable[tuple[int, int]], gold: Iterable[tuple[int, int]] = ()) -> tuple[int, int]:
    """(clinical-vocabulary tokens, of which no detection overlaps) in ``text``; tokens inside ``gold`` skipped."""
    from appliance.scrub.vocabulary import clinical_vocab

    vocab = clinical_vocab()
    det, skip = _coverage(len(text), detections), _coverage(len(text), gold)
    total = kept = 0
    for m in _TOKEN.finditer(text):
        if m.group(0).lower().strip("'.-/") not in vocab:
            continue
        s, e = m.span()
        if skip.find(1, s, e) >= 0:
            continue
        total += 1
        kept += det.find(1, s, e) < 0
    return total, kept


def _coverage(n: int, spans: Iterable[tuple[int, int]]) -> bytearray:
    """One byte per character, 1 where a span covers it (a bytearray ``find`` then tests a token in C)."""
    cov = bytearray(n)
    for a, b in spans:
        a, b = max(0, a), min(n, b)
        if b > a:
            cov[a:b] = b"\1" * (b - a)
    return cov


def kept_share(total: int, kept: int) -> float | None:
    """The share of vocabulary tokens kept, rounded as reports show it (None when there were none)."""
    return round(kept / total, 4) if total else None


def setting_notes(settings) -> list[str]:
    """Lines ``config check`` prints about scrub settings that change the damage (no error: more is scrubbed)."""
    notes = []
    if not getattr(settings, "clinical_veto", True):
        notes.append("scrub.clinical_veto = false: clinical shorthand, drugs and vent/drip notation that a rule "
                     "takes for a name or place are replaced too (more damage to the corpus); true is the default")
    return notes
