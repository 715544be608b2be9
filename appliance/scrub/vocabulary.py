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

from appliance.scrub.lexicon import AMBIGUOUS_NAME_WORDS
from appliance.scrub.types import Entity

_WORD = re.compile(r"[A-Za-z][A-Za-z'&+/-]*")
_NAME_CUE = re.compile(
    r"(?i)(?:\b(?:dr|mr|mrs|ms|miss|mx)\.?|\b(?:son|daughter|dtr|wife|husband|hus|mother|mom|father|dad|sister|sis|brother|bro|"
    r"niece|nephew|grandson|granddaughter|friend|girlfriend|boyfriend|other|aunt|uncle|cousin|fiance|fiancee|spouse|partner|hcp|proxy)(?:'s|s)?(?:\s+named)?\s*[:\-]?|"
    r"\bname(?:d|\s+is)?\s*:?|\bpatient\s*:|\bpt\s*:|\bcalled|\bby|\bwith|\bper|\(|\b[A-Za-z]\.|"
    r"\b(?:rn|np|rd|sw|md|pa|aide|officer|security|chaplain|fellow|resident|attending|mgmt|pcp)\s*:?)\s*$"
)
_PLACE_AFTER = re.compile(r"(?i)^\s*(?:hospital|medical|med\.?\s+ctr|center|ctr|clinic|rehab|nursing|manor|county|house|home\b|general|memorial|healthcare|va\b)")
_NAME_AFTER = re.compile(r"(?i)^\s*(?:rn|md|np|pa|do|rd)\b|^'s\s+(?:wife|husband|son|daughter|mother|father)")
_INSIDE_CUE = re.compile(r"(?i)^(?:dr|mr|mrs|ms|miss|st)\b\.?\s|\d|\b(?:hospital|medical|center|ctr|clinic|rehab|rehabilitation|care|health|"
                         r"pharmacy|st|rd|ave|street|road|unit|county|square|hosp)\b")
_PLACE_BEFORE = re.compile(r"(?i)\b(?:at|to|in|near|from|lives?\s+in|living\s+in|resident\s+of|transferred\s+(?:from|to)|transfer\s+(?:from|to)|from\s+home\s+in|home\s+in)\s*$")
_SCALE_AFTER = re.compile(r"(?i)^\s*(?:pain|strength|str|motor|in\s+strength|blood|bottles|bcx|cultures?|of\s+\d|power)")
_SCALE_BEFORE = re.compile(r"(?i)(?:\bpain\b[^.\n]{0,20}|\bstrength\b[^.\n]{0,12}|\b(?:c/o|rates?|rated|scale|grip|motor)\s*)$")
_MEASURE = re.compile(r"(?i)^\d+(?:\.\d+)?\s*(?:x\s*\d+|cc|ml|mg|mcg|g|gm|l|u|units?|meq|mmhg|s|'s)$|^\d+-\d+-peep$|^x\d+$")


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

        ranked = top_n_list("en", 25000)
    except ImportError:  # pragma: no cover - wordfreq is a dependency
        ranked = []
    # below the 5,000 most frequent words, a word that is also a name or a city keeps its name reading
    return frozenset(_head() | (set(ranked) - L.first_names - L.surnames - L.cities))


@lru_cache(maxsize=1)
def _head() -> frozenset[str]:
    """The 5,000 most frequent words, everyday even when also a rare surname ("tan", "but", "son")."""
    from appliance.scrub.lexicon import lexicon

    L = lexicon()
    try:
        from wordfreq import top_n_list

        ranked = top_n_list("en", 5000)
    except ImportError:  # pragma: no cover - wordfreq is a dependency
        ranked = []
    return frozenset(set(ranked) - L.common_first - L.top_surnames - L.cities)


@lru_cache(maxsize=1)
def _names() -> frozenset[str]:
    from appliance.scrub.lexicon import lexicon

    L = lexicon()
    return frozenset(L.first_names | L.surnames)


def _names_or_cities() -> frozenset[str]:
    from appliance.scrub.lexicon import lexicon

    return _names() | lexicon().cities


def _is_name(w: str) -> bool:
    return w in _names()


def is_vocabulary_word(word: str, extra: frozenset[str] = frozenset()) -> bool:
    """True when ``word`` alone is clinical vocabulary or an everyday word, not a name."""
    w = word.lower().strip("'.-/")
    if not w:
        return True
    if w in AMBIGUOUS_NAME_WORDS and w not in clinical_vocab():
        return False  # "hope", "faith", "june": the rules that found them already asked for a cue
    if word[:1].isupper() and word[1:].islower() and w in _names_or_cities():
        return False  # "Lima", "Rob": Title case and a known city or name
    if w in clinical_vocab() or w in extra or (len(w) > 3 and w.rstrip("s") in clinical_vocab()):
        return True
    # an everyday word vetoes only where case says nothing (ALL-CAPS of 4+ letters, or lower-case): a Title-case
    # word ("Cedar", "Rob") or short capitals ("EM", "KLT": initials) keep their name/place reading
    letters = w.replace("'", "").replace("-", "")
    caseless = word.islower() or (word.isupper() and len(letters) >= 4)
    if word.islower():  # lower-case: only the most frequent words (a lower-case name is still a name)
        return w in _head()
    return caseless and w in _everyday()


def strong_cue(text: str, start: int, end: int, type_: str) -> bool:
    """A cue that the span is PHI whatever its words: a title or relative before a name, a facility word."""
    before = text[max(0, start - 30) : start]
    if _INSIDE_CUE.search(text[start:end]) and not (type_ == "NAME" and re.search(r"\d", text[start:end])):
        return True  # "dr. o'malley", "cape cod hospital", "Unit 12": the cue is inside the span
    if type_ == "NAME":
        return bool(_NAME_CUE.search(before) or _NAME_AFTER.match(text[end : end + 12]))
    return bool(_PLACE_AFTER.match(text[end : end + 20]) or _PLACE_BEFORE.search(before))


def _is_vent_or_scale(text: str, e: Entity) -> bool:
    before, after = text[max(0, e.start - 25) : e.start], text[e.end : e.end + 20]
    if re.search(r"(?i)\b(?:psv|ps|cpap|bipap|peep|simv|vent|support|ipap|epap|flowby|rales|imv)\b[^\n]{0,12}$", before):
        return True
    if re.match(r"\s*%|/\d+\s*%|\s+(?:st|strength)\b", after, re.IGNORECASE):
        return True
    return bool(_SCALE_AFTER.match(after) or _SCALE_BEFORE.search(before))


def veto(text: str, ents: list[Entity], extra: frozenset[str] = frozenset()) -> list[Entity]:
    """Drop detections whose words are clinical vocabulary, and dates/ids that are settings or measures."""
    out: list[Entity] = []
    name_ends = {e.end for e in ents if e.type == "NAME" and not all(is_vocabulary_word(w, extra) for w in _WORD.findall(text[e.start : e.end]))}
    for e in ents:
        span = text[e.start : e.end]
        if e.type == "NAME" and any(0 <= e.start - x <= 3 for x in name_ends):
            out.append(e)  # "K. BROWN (KB)": initials right after a name
            continue
        if e.type in ("NAME", "LOCATION", "FACILITY"):
            words = _WORD.findall(span)
            if not words and not strong_cue(text, e.start, e.end, e.type):
                continue  # "x3": no word at all
            if words and all(is_vocabulary_word(w, extra) for w in words) and not strong_cue(text, e.start, e.end, e.type):
                continue
        elif e.type == "DATE" and re.fullmatch(r"\d{1,2}/\d{1,2}(?:/\d{1,2})?", span) and _is_vent_or_scale(text, e) or e.type in ("ID", "PHONE", "ACCOUNT", "VEHICLE") and _MEASURE.match(span.strip()):
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
