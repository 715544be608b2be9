"""Clinical vocabulary veto: shorthand, drugs, units and vent/exam notation are not names, places or dates.

Design: real ICU notes are terse, often all-caps, and full of words a name/place recognizer (spaCy NER above
all) takes for proper nouns ("MAE", "GTT", "Neuro", "Lumbar puncture") and numbers a date rule takes for
dates ("PSV 10/5", "5/5", "600x12").  After the recognizers run, :func:`veto` drops a NAME/LOCATION/FACILITY
detection whose every word is clinical vocabulary (the shipped list, ``appliance/data/scrub/``) or an
everyday English word that is not also a name or a city — unless a strong cue says it is PHI (a courtesy
title, a relative, a "name:" label, a facility head word).  Dates and ids are dropped when their notation is
a vent setting, a pain score, a volume or a dose.  Vocabulary learned from labelled notes
(:func:`learn_tokens`) is passed in ``extra`` and, when scored, is learned inside each CV fold only.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from importlib import resources

from appliance.scrub.types import Entity

_WORD = re.compile(r"[A-Za-z][A-Za-z'&+/-]*")
_NAME_CUE = re.compile(
    r"(?i)(?:\b(?:dr|mr|mrs|ms|miss|mx)\.?|\b(?:son|daughter|dtr|wife|husband|hus|mother|mom|father|dad|sister|sis|brother|bro|"
    r"niece|nephew|grandson|granddaughter|friend|aunt|uncle|cousin|fiance|fiancee|spouse|partner|hcp|proxy)(?:'s|s)?(?:\s+named)?|"
    r"\bname(?:d|\s+is)?\s*:?|\bpatient\s*:|\bpt\s*:|\bcalled|\bby|\bwith|\bper)\s*$"
)
_PLACE_AFTER = re.compile(r"(?i)^\s*(?:hospital|medical|med\.?\s+ctr|center|ctr|clinic|rehab|nursing|manor|county|house|home\b|general|memorial|healthcare|va\b)")
_PLACE_BEFORE = re.compile(r"(?i)\b(?:lives?\s+in|living\s+in|resident\s+of|transferred\s+(?:from|to)|transfer\s+(?:from|to)|from\s+home\s+in|home\s+in)\s*$")
_VENT_BEFORE = re.compile(r"(?i)(?:\b(?:psv|ps|cpap|bipap|peep|simv|ac|imv|prvc|vent(?:ed)?|settings?|support|pressure|ipap|epap|fio2|on|of|to|at)\b[\s:/@]*)$")
_SCALE_AFTER = re.compile(r"(?i)^\s*(?:pain|strength|str|motor|in\s+strength|blood|bottles|bcx|cultures?|of\s+\d|power)")
_SCALE_BEFORE = re.compile(r"(?i)(?:\bpain\b[^.\n]{0,20}|\bstrength\b[^.\n]{0,12}|\b(?:c/o|rates?|rated|scale|grip|motor)\s*)$")
_MEASURE = re.compile(r"(?i)^\d+(?:\.\d+)?\s*(?:x\s*\d+|cc|ml|mg|mcg|g|gm|l|u|units?|meq|mmhg|s|'s)$|^\d+-\d+-peep$|^x\d+$|^\d{2,4}$")


@lru_cache(maxsize=1)
def clinical_vocab() -> frozenset[str]:
    """The shipped clinical vocabulary (lower-case), plus the lexicon's clinical words."""
    from appliance.scrub.lexicon import CLINICAL_WORDS

    raw = resources.files("appliance.data").joinpath("scrub/clinical_vocab.txt").read_text(encoding="utf-8")
    words = {w.lower() for line in raw.splitlines() if not line.startswith("#") for w in line.split()}
    return frozenset(words | set(CLINICAL_WORDS))


@lru_cache(maxsize=1)
def _everyday() -> frozenset[str]:
    """Frequent English words that are not also a first name, surname or city."""
    from appliance.scrub.lexicon import lexicon

    L = lexicon()
    try:
        from wordfreq import top_n_list

        words = set(top_n_list("en", 25000))
    except ImportError:  # pragma: no cover - wordfreq is a dependency
        words = set()
    return frozenset(words - L.first_names - L.surnames - L.cities)


def is_vocabulary_word(word: str, extra: frozenset[str] = frozenset()) -> bool:
    """True when ``word`` alone is clinical vocabulary or an everyday word, not a name."""
    w = word.lower().strip("'.-/")
    if not w:
        return True
    return w in clinical_vocab() or w in extra or w in _everyday() or w.rstrip("s") in clinical_vocab()


def strong_cue(text: str, start: int, end: int, type_: str) -> bool:
    """A cue that the span is PHI whatever its words: a title or relative before a name, a facility word."""
    before = text[max(0, start - 30) : start]
    if type_ == "NAME":
        return bool(_NAME_CUE.search(before))
    return bool(_PLACE_AFTER.match(text[end : end + 20]) or _PLACE_BEFORE.search(before))


def _is_vent_or_scale(text: str, e: Entity) -> bool:
    before, after = text[max(0, e.start - 25) : e.start], text[e.end : e.end + 20]
    if _VENT_BEFORE.search(before) and re.search(r"(?i)\b(?:psv|ps|cpap|bipap|peep|simv|vent|support|ipap|ac)\b", before):
        return True
    return bool(_SCALE_AFTER.match(after) or _SCALE_BEFORE.search(before))


def veto(text: str, ents: list[Entity], extra: frozenset[str] = frozenset()) -> list[Entity]:
    """Drop detections whose words are clinical vocabulary, and dates/ids that are settings or measures."""
    out = []
    for e in ents:
        span = text[e.start : e.end]
        if e.type in ("NAME", "LOCATION", "FACILITY"):
            words = _WORD.findall(span)
            if not words and not strong_cue(text, e.start, e.end, e.type):
                continue  # "x3": no word at all
            if words and all(is_vocabulary_word(w, extra) for w in words) and not strong_cue(text, e.start, e.end, e.type):
                continue
        elif e.type == "DATE" and re.fullmatch(r"\d{1,2}/\d{1,2}", span) and _is_vent_or_scale(text, e):
            continue
        elif e.type in ("ID", "PHONE", "ACCOUNT", "VEHICLE") and _MEASURE.match(span.strip()):
            continue
        out.append(e)
    return out


def learn_tokens(records: list[dict], min_count: int = 3) -> frozenset[str]:
    """Lower-case words seen ``min_count``+ times in labelled notes and never inside a PHI span.

    A site's (or a CV fold's training) non-PHI vocabulary: its own shorthand.  Any word that ever appears
    inside a gold span (neutral ones included) is excluded, so names learned this way can never be vetoed.
    """
    seen: Counter[str] = Counter()
    phi: set[str] = set()
    for r in records:
        text = r["text"]
        for s in r["spans"]:
            phi.update(w.lower() for w in _WORD.findall(text[s["start"] : s["end"]]))
        seen.update(w.lower() for w in _WORD.findall(text))
    from appliance.scrub.lexicon import lexicon

    L = lexicon()
    names = L.first_names | L.surnames | L.cities
    return frozenset(w for w, n in seen.items() if n >= min_count and w not in phi and w not in names)
