"""General place families: ``X, <country>``, places in brackets after a facility or a city, gazetteer cities
after a preposition in lower-case notes, counties and areas, service places ("Quincy police"), ordinal
streets, corners, city + ZIP, and the floor or unit after a street.
"""

from __future__ import annotations

import functools
import re

from appliance.scrub.lexicon import lexicon
from appliance.scrub.note import LOWER, NORMAL
from appliance.scrub.types import Entity
from appliance.scrub.words import (
    AFTER_ROLE_STOP,
    CREDENTIAL_WORDS,
    LANGUAGES,
    match_at_words,
    plain,
    unknown_name_word,
)

_PW = r"[^\W\d_][^\W\d_'’.-]+"  # one place word
_PLACE_PHRASE = rf"{_PW}(?:\s{_PW}){{0,2}}"


@functools.lru_cache(maxsize=1)
def _country_rx() -> tuple[re.Pattern, re.Pattern, frozenset[str]]:
    """(country name, the place words right before it, first words of country names)."""
    L = lexicon()
    names = sorted((c for c in L.countries if len(c) > 3 and c not in ("america", "united states")), key=len, reverse=True)
    alt = "|".join(re.escape(c).replace(r"\ ", r"\s+") for c in names)
    before = re.compile(rf"(?i)(?<![\w'’-])(?P<p>{_PLACE_PHRASE}(?:,\s*{_PLACE_PHRASE})?)(?P<sep>,\s*|\s+)$")
    return re.compile(rf"(?i)(?:{alt})\b"), before, frozenset(c.split()[0] for c in names)


_PLACE_STOP = frozenset(["in", "from", "to", "near", "born", "at", "of", "and", "the", "lives", "living", "home", "back", "going", "trip", "travel", "travels", "visit", "visiting", "moved", "flying", "flew", "returned", "return"])


def _countries(v: str, mode: str, L) -> list[Entity]:
    out = []
    country, before, firsts = _country_rx()
    for cm in match_at_words(v, country, firsts):
        m = before.search(v, max(0, cm.start() - 80), cm.start())
        if not m:
            continue
        c = cm.group(0)
        if mode == NORMAL and not c[:1].isupper():
            continue
        if m.group("sep").strip() == "" and mode != LOWER:
            continue
        # keep the place words nearest the country ("by phone in Galway" -> "Galway")
        pieces = [(x.start(), x.group(0)) for x in re.finditer(r"[^\s,]+", m.group("p"))]
        k = len(pieces)
        while k > 0:
            w = pieces[k - 1][1]
            lw = w.lower()
            if lw in _PLACE_STOP or lw in L.english_common and plain(w) not in L.cities or mode == NORMAL and not w[:1].isupper():
                break
            k -= 1
        pieces = pieces[k:]
        if not pieces:
            continue
        if any(plain(w) in L.clinical or plain(w) in L.countries or (mode == NORMAL and not w[:1].isupper()) for _, w in pieces):
            continue
        if mode == LOWER and not all(plain(w) in L.cities or unknown_name_word(w, L) for _, w in pieces):
            continue
        s = m.start("p") + pieces[0][0]
        e = m.start("p") + pieces[-1][0] + len(pieces[-1][1])
        # "Ponta Delgada, São Miguel": each comma part is a place
        for part in re.finditer(r"[^,]+", v[s:e]):
            a, b = s + part.start() + (len(part.group(0)) - len(part.group(0).lstrip())), s + part.end()
            out.append(Entity(a, b, "LOCATION", 0.75))
    return out


_FAC_HEADS = r"hospital|medical\s+center|health\s+center|clinic|center|centre|rehab|rehabilitation|nursing\s+home|home|hospice|infirmary|snf|ltac|ltach"
_FAC_PAREN = re.compile(rf"(?i)\b(?:{_FAC_HEADS})\s*\(\s*(?P<p>{_PLACE_PHRASE})\s*\)")
_PLACE_PAREN = re.compile(rf"(?i)\b(?:in|from|near)\s+(?P<c>{_PW}(?:\s{_PW})?)\s*\(\s*(?P<p>{_PLACE_PHRASE})\s*\)")
_PREP_PLACE = re.compile(r"(?i)\b(?:in|from|near|to|outside(?:\s+of)?|around|of)\s+(?=(?P<w>(?:st\.?\s+)?[a-z][a-z'’.-]+(?:\s+[a-z][a-z'’.-]+){0,2}))")
_COUNTY_RX = re.compile(r"(?i)\b(?P<p>(?:(?:st\.?|saint|san|santa|de|la|le|du|new|east|west|north|south)\s+)?[^\W\d_][^\W\d_'’-]+)\s+county\b")
_AREA_RX = re.compile(r"(?i)(?:\b(?:in|from|near|around)\s+(?:the\s+)?|,\s*)(?P<p>[a-z][a-z'’-]+)\s+area\b")
_CITY_WORD_STOP = frozenset(["home", "house", "bed", "mobile", "reading", "park", "center", "media", "orange", "bath", "chester", "hospital", "clinic", "pain", "bed", "surgery", "rehab", "person", "time", "order"])


def _place_ok(p: str, mode: str, L) -> bool:
    words = p.split()
    if mode == NORMAL and not all(w[:1].isupper() for w in words):
        return False
    if len(words) == 1 and words[0].isupper() and len(words[0]) <= 5 and mode == NORMAL:
        return False  # "(MICU)", "(ED)"
    return not any(plain(w) in L.clinical or plain(w) in LANGUAGES or plain(w) in CREDENTIAL_WORDS for w in words)


def places(v: str, mode: str, L) -> list[Entity]:
    out = _countries(v, mode, L)
    for m in _FAC_PAREN.finditer(v) if "(" in v else ():
        p = m.group("p")
        if _place_ok(p, mode, L) and (plain(p) in L.cities or all(unknown_name_word(w, L) or w[:1].isupper() and mode == NORMAL for w in p.split())):
            out.append(Entity(m.start("p"), m.end("p"), "LOCATION", 0.7))
    for m in _PLACE_PAREN.finditer(v):
        c, p = m.group("c"), m.group("p")
        city = plain(c) in L.cities or (mode == NORMAL and all(w[:1].isupper() for w in c.split()) and not any(plain(w) in L.clinical for w in c.split()))
        if city and _place_ok(p, mode, L) and not any(plain(w) in L.english_top and len(p.split()) == 1 for w in p.split()):
            out.append(Entity(m.start("p"), m.end("p"), "LOCATION", 0.7))
    for m in _PREP_PLACE.finditer(v):
        words = m.group("w").split()
        for k in range(len(words), 0, -1):
            cand = " ".join(words[:k])
            key = re.sub(r"^st\.?\s", "saint ", plain(cand))
            if key not in L.cities or len(key) < 4:
                continue
            if k == 1 and (key in L.english_common or key in _CITY_WORD_STOP or key in L.first_names):
                break
            if mode == NORMAL and not cand[:1].islower():
                break  # a capitalised place is the address recognizer's
            out.append(Entity(m.start("w"), m.start("w") + len(cand), "LOCATION", 0.65))
            break
    for m in _COUNTY_RX.finditer(v) if "county" in v.lower() else ():
        p = m.group("p")
        lp = plain(p)
        if lp in L.english_vocab and f"{lp} county" not in L.counties:
            continue
        if mode == NORMAL and (not p[:1].isupper() or v[m.end() - 6] == "C"):
            continue  # Title-case counties are the address recognizer's
        out.append(Entity(m.start("p"), m.end(), "LOCATION", 0.7))
    for m in _AREA_RX.finditer(v) if " area" in v.lower() else ():
        if unknown_name_word(m.group("p"), L):
            out.append(Entity(m.start("p"), m.end("p"), "LOCATION", 0.6))
    return out


_SERVICE_PLACE = re.compile(r"(?i)\b(?P<c>[a-z][a-z'’.-]+(?:\s[a-z][a-z'’.-]+)?)\s+(?:police|fire|sheriff'?s?|ems|county\s+ems)\b")
_ORDINAL_STREET = re.compile(r"(?i)\b(?:[nsew]\.?\s+)?\d{1,3}(?:st|nd|rd|th)\s+(?:st|street|ave|avenue|rd|road|pl|place|blvd|ter|terrace)\b\.?")
_CORNER = re.compile(r"(?i)\b(?:on|at|of)\s+(?P<p>\d{1,3}(?:st|nd|rd|th)\s+(?:and|&)\s+[a-z][a-z'’-]+)")
_CITY_ZIP = re.compile(r",[ \t]*(?P<c>[A-Za-z][a-z'’-]+(?:[ \t][A-Za-z][a-z'’-]+)?)[ \t]+\d{5}(?:-\d{4})?\b")
_ARROW_PLACE = re.compile(r"→\s*(?P<p>[A-Z][a-zà-ÿ'’-]+(?:\s[A-Z][a-zà-ÿ'’-]+)?)")

_FLOOR_AFTER_STREET = re.compile(r"(?i)\b(?:st|street|ave|avenue|rd|road|blvd|dr|drive|ln|lane|way|ct|court|pl|place)\.?,[ \t]*(?P<f>(?:\d{1,2}(?:st|nd|rd|th)[ \t]+(?:floor|fl)|(?:apt|unit|suite|ste)\.?[ \t]*#?[ \t]*\w{1,5}))(?=,)")

_HEAD_CITY = re.compile(r"(?i)\b(?:rehab|rehabilitation|hospital|clinic|center|centre|health|medical)[ \t]+(?P<c>[a-z][a-z'’-]{3,}(?:[ \t][a-z][a-z'’-]{3,})?)(?=[ \t]*(?:[.,;)\n]|$))")
_ENGLISH_SUFFIXES = ("er", "ers", "ing", "ed", "tion", "ness", "ly", "ment", "able", "ible", "ity", "ism", "ist", "ous", "ive", "al", "es")
_IN_UNKNOWN = re.compile(r"\b(?:in|from|near|outside)\s+(?P<p>[a-z]{5,})(?=[.,;])")


def place_cues(text: str, v: str, mode: str, L) -> list[Entity]:
    out = []
    for m in _SERVICE_PLACE.finditer(v):
        c = m.group("c")
        words = c.split()
        for k in (2, 1):
            if len(words) < k:
                continue
            cand = " ".join(words[-k:])
            if plain(cand) in L.cities and (mode != NORMAL or cand[:1].isupper()) and plain(cand) not in _CITY_WORD_STOP:
                s = m.start("c") + len(c) - len(cand)
                out.append(Entity(s, m.start("c") + len(c), "LOCATION", 0.7))
                break
    for m in _ORDINAL_STREET.finditer(v):
        out.append(Entity(m.start(), m.end(), "LOCATION", 0.7))
    for m in _CORNER.finditer(v):
        last = m.group("p").split()[-1]
        if plain(last) not in L.clinical and last not in AFTER_ROLE_STOP:
            out.append(Entity(m.start("p"), m.end("p"), "LOCATION", 0.65))
    for m in _CITY_ZIP.finditer(v):
        c = m.group("c")
        if plain(c) in L.cities or plain(c.split()[-1]) in L.cities:
            out.append(Entity(m.start("c"), m.end("c"), "LOCATION", 0.7))
    for m in _HEAD_CITY.finditer(v):
        c = m.group("c")
        if (mode != NORMAL or c[:1].isupper()) and plain(c) in L.cities and plain(c) not in L.english_common and plain(c) not in _CITY_WORD_STOP:
            out.append(Entity(m.start("c"), m.end("c"), "LOCATION", 0.65))
    if mode == LOWER:
        for m in _IN_UNKNOWN.finditer(v):
            p = m.group("p")
            if unknown_name_word(p, L) and p not in L.first_names and p not in L.surnames and p not in L.english_vocab and not p.endswith(_ENGLISH_SUFFIXES):
                out.append(Entity(m.start("p"), m.end("p"), "LOCATION", 0.55))
    for m in _ARROW_PLACE.finditer(v) if "→" in v else ():
        p = m.group("p")
        if not any(plain(w) in L.clinical for w in p.split()):
            out.append(Entity(m.start("p"), m.end("p"), "LOCATION", 0.65))
    return out


def floor_after_street(v: str) -> list[Entity]:
    out = []
    for m in _FLOOR_AFTER_STREET.finditer(v):
        out.append(Entity(m.start("f"), m.end("f"), "LOCATION", 0.65))
    return out
