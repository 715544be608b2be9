"""Geography: street addresses, PO boxes, city + state, counties, ZIP codes, residence and employer cues,
unknown places after "in"/"near", highways and gazetteer cities; the address block growth is in
:mod:`appliance.scrub.rules.address_blocks`.
"""

from __future__ import annotations

import re

from appliance.scrub import patterns as P
from appliance.scrub.lexicon import CLINICAL_SHAPE, lexicon
from appliance.scrub.note import LOWER, UPPER, Note
from appliance.scrub.rules.address_blocks import UNI_CAP, address_blocks
from appliance.scrub.rules.base import ClinicalRecognizer
from appliance.scrub.types import Entity
from appliance.scrub.words import (
    NOT_PLACE_WORDS,
    PLACE_LEAD_WORDS,
    UNIT_AFTER,
    looks_like_month,
    match_span,
    strip_span,
    unknown_word,
)

_CITY_STATE_CI = re.compile(P.CITY_STATE.pattern.replace("(?P<city>[A-Z][a-z'’.-]+(?:[ -](?:[A-Z][a-z'’.-]+|de|la|du|of)){0,3})", r"(?P<city>[A-Za-z][a-z'’.-]+(?:[ -][A-Za-z][a-z'’.-]+){0,2})"), re.IGNORECASE)
_CITY_LEAD_WORDS = frozenset(
    ["lives", "living", "resides", "residing", "in", "from", "at", "to", "near", "and", "moved", "visiting", "the", "of", "seen", "admitted", "born", "home", "patient", "pt", "address", "addr", "city", "located", "located", "based", "currently", "now", "was", "is", "transferred"]
)
_GEO_PREP = re.compile(
    r"(?:\b(?:in|from|to|near|at|of|visiting|lives|living|resides|residing|moved|relocated|born|raised|grew\s+up|"
    r"travel(?:ed|led)?|trip|vacation|home\s+in|located|based)\s+(?:in\s+|to\s+|at\s+)?(?:the\s+)?|@\s*"
    # a list of proper nouns: "Johns Hopkins Hospital, Baltimore", "123 Elm St, Springfield"
    r"|[A-Z][\w'’.]*,\s+)$",
    re.IGNORECASE,
)

_ZIP_LABELED = re.compile(r"(?i)\b(?:zip|zip\s*code|zipcode|postal\s*code|postcode|post\s*code|plz|cap)\s*(?:[:#]|is)?\s*((?-i:[A-Z]{0,2}[- ]?)\d{3,5}(?:[ -]\d{2,4}|[ ]?(?-i:[A-Z]{2}))?)\b")

_PLACE_POSTCODE = re.compile(
    rf"\b(?:in|at|from|to|near)\s+(?P<p>{UNI_CAP}[^\W\d_'’.-]+(?:[ -](?:{UNI_CAP}[^\W\d_'’.-]*|de|da|do|del|la|di|am|an|im|sur|nad|pod)){{0,4}})"
    r"\s+(?P<z>\d{4}(?:-\d{3})?|\d{3}\s\d{2}|\d{2}-\d{3})\b"
)

# Canadian "B0J 2H0" and British "SW1A 1AA" postcodes: the letter-digit alternation is distinctive
_MILITARY = re.compile(
    r"(?i)\b(?:(?:psc|cmr|unit)\s+\d+,?\s+box\s+\d+|(?:usns|usnv|uss|usc?gc)\s+[^\W\d_]+(?:\s+[^\W\d_]+)?),?\s+(?:apo|fpo|dpo)\s+a[aep]\s+\d{5}\b"
)
_CA_UK_POSTCODE = re.compile(r"\b(?:[A-Z]\d[A-Z]\s?\d[A-Z]\d|[A-Z]{1,2}\d[A-Z\d]?\s\d[A-Z]{2})\b")
_STREET_CI = re.compile(P.STREET.pattern, re.IGNORECASE)
_UNIT_CI = re.compile(P.UNIT.pattern, re.IGNORECASE)
_RESIDENCE = re.compile(
    r"\b(?:resides|residing|lives|living|moved|relocated|born|raised|grew\s+up|travel(?:ed|led)|visiting|home|"
    r"am|based|returned|originally|staying|stayed|flew|trip|vacation(?:ing)?|holiday|visited|located|settled)\s+"
    rf"(?:in|to|from|near|at)\s+(?:the\s+)?(?P<p>{UNI_CAP}[^\W\d_'’]+(?:['’]s)?(?:[ -]{UNI_CAP}[^\W\d_'’]+){{0,2}})",
    re.IGNORECASE,
)
_EMPLOYER = re.compile(
    rf"\b(?:works\s+(?:at|for)|working\s+(?:at|for)|employed\s+(?:at|by)|employer\s*:?|job\s+at|retired\s+from)\s+(?:the\s+)?"
    rf"(?P<p>{UNI_CAP}[\w'’&.-]*(?:(?:,\s+|\s+and\s+|\s+&\s+|\s+|-){UNI_CAP}[\w'’&.-]*){{0,5}})",
)

_EMPLOYER_LOWER = re.compile(
    r"\b(?:works\s+(?:at|for)|working\s+(?:at|for)|employed\s+(?:at|by)|employer\s*:?|job\s+at|retired\s+from)\s+(?:the\s+)?"
    r"(?P<p>[a-z][\w'’&-]*(?:\s+[a-z][\w'’&-]*){0,3}?)(?=\s+(?:as|since|for|and|where|but)\b|\s*[,.;()]|$)"
)

_RESIDENCE_LOWER = re.compile(
    r"\b(?:resides|residing|lives|living|moved|relocated|born|raised)\s+(?:in|to|from|near)\s+(?P<p>[a-z][a-z'’-]+(?:\s+[a-z][a-z'’-]+){0,3})"
)


def _lower_residence(v: str, L) -> list[Entity]:
    """Lower-case notes: the place after "resides in" / "moved from", when a word of it is no English word
    ("resides in new anthonyside", "moved from lake ruben county"), or the gazetteer knows it."""
    out = []
    for m in _RESIDENCE_LOWER.finditer(v):
        words, pos, end, unknown = m.group("p").split(), m.start("p"), m.start("p"), False
        for w in words:
            a = v.index(w, pos)
            pos = a + len(w)
            if w in L.clinical or looks_like_month(w):
                break
            if unknown_word(w, L) or w in L.cities or w in L.surnames and w not in L.english_common:
                unknown = True
            elif w not in PLACE_LEAD_WORDS:
                break
            end = pos
        if unknown and end > m.start("p"):
            out.append(Entity(m.start("p"), end, "LOCATION", 0.6))
    return out


_PLACE_NAME = rf"{UNI_CAP}[^\W\d_'’]+(?:[ -](?:{UNI_CAP}[^\W\d_'’]+|de|del|la|le|du|do|da|u|nad|am|an|sur|sul)){{0,3}}"

# a place name no word list knows, after "in"/"near" and before the end of the clause ("I'm in HARSTAD, at",
# "10th year in Laax,"), or after a place label ("Where: Beerze", "home city Messina:", "Birthplace: Kiel")
_PLACE_IN = re.compile(
    rf"\b(?:in|near)\s+(?P<p>{_PLACE_NAME})(?=\s*[,.;:!?)]|\s*$|\s+(?:for|on|and|at|in|where|which|who|since|until)\b)"
    rf"|(?i:\b(?:where|city|town|village|hometown|birthplace|place\s+of\s+birth|born\s+in)\s*:\s*|\bhome\s+(?:city|town)\s+)(?P<q>{_PLACE_NAME})"
)

# a street named without its number: "(Walgreens on Blue Hill Ave)", "corner of Maple St", "lives off Route 9"
_STREET_NAME_ONLY = re.compile(
    r"\b(?:on|off|at|near|of|along|down|up)\s+(?P<p>(?:[A-Z][a-z'’]+\s+){1,3}(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|"
    r"Parkway|Pkwy|Highway|Hwy|Terrace|Ter|Turnpike|Tpke|Expressway)\b\.?)"
)

# numbered highways: "on I-93 southbound", "Route 128", "US-1", "Hwy 101" (not the isotopes I-123/I-125/I-131)
_HIGHWAY = re.compile(
    r"(?i:\b(?:on|off|via|take|took|from|onto|near|along|exit\s+\d+\s+(?:on|off))\s+)(?P<h>(?-i:I|US|SR)-?\s?(?!12[35]\b|131\b)\d{1,3}[A-Z]?\b|"
    r"(?:Route|Rte\.?|Hwy|Highway|Interstate)\s+\d{1,3}[A-Z]?\b)"
)


def _unknown_places(v: str, L) -> list[Entity]:
    """Single or short place names the gazetteer lacks (small towns, foreign cities), by their cue and shape:
    every word must be unknown to the English, clinical, month and first-name lists, or a known city, and not
    shaped like a drug or procedure; ALL-CAPS words need six letters (shorter ones are abbreviations)."""
    out = []
    for m in _PLACE_IN.finditer(v):
        g = "p" if m.group("p") else "q"
        if g == "q":
            # after a place label: the leading words that are no everyday or clinical word ("Where: Beerze Country Club")
            a = m.start("q")
            e = a
            for w in re.finditer(r"[^\s-]+", m.group("q")):
                lw = w.group(0).lower()
                if lw in L.clinical or lw in L.english_common or looks_like_month(lw):
                    break
                e = a + w.end()
            if e > a:
                out.append(Entity(a, e, "LOCATION", 0.6))
            continue
        words = [w for w in re.split(r"[ -]", m.group(g)) if w[:1].isupper()]
        if not words:
            continue
        ok = True
        for w in words:
            lw = w.lower()
            if lw in L.cities and lw not in L.clinical:
                continue
            if w.isupper() and len(w) < 6 and g == "p" or not unknown_word(lw, L) or g == "p" and lw in L.first_names or CLINICAL_SHAPE.search(lw) and lw not in L.surnames:
                ok = False
                break
        if ok:
            out.append(Entity(*strip_span(v, *m.span(g)), "LOCATION", 0.6))
    return out


_AMBIGUOUS_STATES = frozenset(["MS", "PA", "OR", "IN", "ME", "CO", "OK", "MA", "MD", "DE", "OH", "NP", "DO", "ID", "HI", "LA", "AL"])


def _plausible_city_state(v: str, m: re.Match, mode: str, L) -> bool:
    """A "City ST" match without a ZIP: is it an address, or prose before an abbreviation?

    Real notes end lines and sentences with words that are also postal codes: "wean as tolerated" (AS),
    "R/O for MI", "head CT", "no stool / GU".  The city and its state share a line, and unless the city is
    a known one, a comma sits between them ("Lochearn, MD"), and a one-word city is not clinical or
    everyday vocabulary.
    """
    from appliance.scrub.vocabulary import is_vocabulary_word

    gap = v[m.end("city") : m.start("state")]
    if "\n" in gap:
        return False
    city = m.group("city")
    if city.lower() in L.cities:
        return True
    if "," not in gap and len(m.group("state")) <= 2:
        return False  # "Head CT", "for MI": a full state name ("Ohio") needs no comma
    words = re.findall(r"[A-Za-z]+", city)
    if mode == UPPER:
        words = [w.upper() for w in words]
    # "Lake City, FL": a comma and two words is an address whatever the words
    return ("," in gap and len(words) > 1) or not all(is_vocabulary_word(w) for w in words)


class ClinicalAddressRecognizer(ClinicalRecognizer):
    """Street addresses (US and common foreign forms), PO boxes, city + state, counties, ZIP codes, cities."""

    NAME = "clinical_address"
    ENTITIES = ("LOCATION", "ZIP")

    def find(self, note: Note) -> list[Entity]:
        v = note.view
        L = lexicon()
        out = []
        street_rx = _STREET_CI if note.mode == LOWER else P.STREET
        unit_rx = _UNIT_CI if note.mode == LOWER else P.UNIT
        anchors: list[tuple[int, int]] = []  # streets and boxes: the address-block growth starts from these
        for m in street_rx.finditer(v):
            s, e = m.start(), m.end()
            tail = unit_rx.match(v, e)
            if tail:
                e = tail.end()
            words = v[s : m.end()].split()  # the street itself; a unit after it ("Unit 12") is judged apart
            # "2 Dr" / "3 views CT" are not streets: need a word between the number and the suffix
            if len(words) < 3 and not re.search(r"\d(?:st|nd|rd|th)\b", v[s:e]):
                continue
            full_suffix = len(words[-1].strip(".,")) > 4 and words[-1][0].isupper()
            if not full_suffix and any(w.lower().strip(".,") in L.clinical and w.lower() not in ("st", "dr", "rd", "ct") for w in words[1:-1]):
                continue
            out.append(Entity(*strip_span(v, s, e), "LOCATION", 0.9))
            anchors.append((out[-1].start, out[-1].end))
        for rx, score in ((P.FOREIGN_STREET, 0.75), (P.PO_BOX, 0.9), (P.UNIT_ALONE, 0.7), (P.COUNTY, 0.8)):
            for m in rx.finditer(v):
                out.append(Entity(*strip_span(v, *match_span(m)), "LOCATION", score))
                if rx is not P.COUNTY:
                    anchors.append((out[-1].start, out[-1].end))
        city_rx = _CITY_STATE_CI if note.mode == LOWER else P.CITY_STATE_UPPER if note.mode == UPPER else P.CITY_STATE
        for m in city_rx.finditer(v):
            city = m.group("city")
            cw = city.lower().split()
            # "history of HTN, MS" or "pain, CA" : the word before a state code must be a plausible place
            if cw[-1] in L.clinical or cw[0] in ("and", "or", "the", "with", "of", "in", "hx", "pmh"):
                continue
            state = m.group("state")
            if note.mode == LOWER and len(state) == 2 and not m.group("zip"):
                continue  # "or", "in", "me", "hi" are words in a lower-case note
            # (compared upper-cased: the title-cased view of an ALL-CAPS note reads "Md", "Id")
            # ambiguous postal codes (multiple sclerosis, physician assistant, ...) need a gazetteer city
            if len(state) == 2 and state.upper() in _AMBIGUOUS_STATES and not m.group("zip") and city.lower() not in L.cities:
                continue
            if not m.group("zip") and not _plausible_city_state(v, m, note.mode, L):
                continue
            cs, _ce = m.span("city")
            # a capitalised sentence word before the city ("Lives in Springfield, IL") is trimmed by the gazetteer
            toks = city.split()
            while len(toks) > 1 and " ".join(toks).lower() not in L.cities and toks[0].lower() in _CITY_LEAD_WORDS:
                cs += len(toks[0]) + 1
                toks = toks[1:]
            # the state itself is not PHI, but a gold "City, ST" span reads as one address unit
            out.append(Entity(cs, m.end("state"), "LOCATION", 0.85))
            if m.group("zip"):
                out.append(Entity(m.start("zip"), m.end("zip"), "ZIP", 0.95))
        for m in P.ZIP.finditer(v):
            before = v[max(0, m.start() - 30) : m.start()]
            if P.ZIP_CONTEXT.search(before):
                out.append(Entity(m.start(), m.end(), "ZIP", 0.9))
        if note.mode == LOWER:
            out += _lower_residence(v, L)
        if note.mode == "normal":
            out += _unknown_places(v, L)
            for m in _STREET_NAME_ONLY.finditer(v):
                words = m.group("p").lower().split()
                if not any(w in L.clinical for w in words[:-1]):
                    out.append(Entity(*strip_span(v, *m.span("p")), "LOCATION", 0.65))
        for m in _HIGHWAY.finditer(v):
            out.append(Entity(m.start("h"), m.end("h"), "LOCATION", 0.7))
        if note.mode != LOWER:
            for m in _RESIDENCE.finditer(v):
                if not m.group("p")[0].isupper():
                    continue
                s, e = strip_span(v, *m.span("p"))
                words = v[s:e].lower().split()
                if words and words[0] not in L.clinical and words[0] not in L.states and words[0] not in L.countries:
                    out.append(Entity(s, e, "LOCATION", 0.65))
        for m in (_EMPLOYER_LOWER if note.mode == LOWER else _EMPLOYER).finditer(v):
            out.append(Entity(*strip_span(v, *m.span("p")), "FACILITY", 0.6))
        for m in _ZIP_LABELED.finditer(v):
            out.append(Entity(m.start(1), m.end(1), "ZIP", 0.85))
        for m in _MILITARY.finditer(v):
            out.append(Entity(m.start(), m.end(), "LOCATION", 0.85))
        # a place then a postcode of another country: "in Bjert 6091", "in Quinta de São Tiago 3610-114"
        for m in _PLACE_POSTCODE.finditer(v):
            z = m.group("z")
            words = m.group("p").lower().split()
            if re.fullmatch(r"(?:19|20)\d\d", z) or words[0] in L.clinical or words[0] in NOT_PLACE_WORDS or looks_like_month(words[0]):
                continue
            if UNIT_AFTER.match(v, m.end("z")):
                continue
            out.append(Entity(*m.span("p"), "LOCATION", 0.6))
            out.append(Entity(*m.span("z"), "ZIP", 0.7))
        for m in _CA_UK_POSTCODE.finditer(v):
            out.append(Entity(m.start(), m.end(), "ZIP", 0.75))
        out += self._gazetteer_places(note)
        if note.mode != LOWER:
            out += address_blocks(note, out, anchors)
        return out

    def _gazetteer_places(self, note: Note) -> list[Entity]:
        """Known US cities: multi-word names anywhere, single words after a place preposition."""
        L = lexicon()
        v = note.view
        out = []
        for m in re.finditer(r"\b[A-Z][a-z]+(?:[ -](?:[A-Z][a-z]+|de|la|del)){0,3}\b" if note.mode != LOWER else r"\b[a-z]+(?: [a-z]+){0,2}\b", v):
            words = m.group(0).split()
            # try the longest gazetteer match starting at each word
            i = 0
            pos = m.start()
            starts = []
            for w in words:
                idx = v.index(w, pos)
                starts.append(idx)
                pos = idx + len(w)
            while i < len(words):
                found = None
                for j in range(min(len(words), i + 4), i, -1):
                    cand = " ".join(words[i:j]).lower()
                    if cand in L.cities or cand in L.counties:
                        found = j
                        break
                if found is None:
                    i += 1
                    continue
                s = starts[i]
                e = starts[found - 1] + len(words[found - 1])
                multi = found - i > 1
                before = v[max(0, s - 30) : s]
                single_ok = bool(_GEO_PREP.search(before)) and words[i].lower() not in L.first_names
                if note.mode == LOWER:
                    ok = bool(_GEO_PREP.search(before)) and (multi or words[i] not in L.english_vocab and words[i] not in L.first_names)
                else:
                    ok = multi or single_ok
                if ok:
                    out.append(Entity(s, e, "LOCATION", 0.7))
                i = found
        return out
