"""spaCy's statistical NER as a recognizer, filtered for clinical text: drug names, eponyms, abbreviations,
section headers, states and countries are dropped; lower-case notes keep only PERSON spans the gazetteers confirm.
"""

from __future__ import annotations

import re

from appliance.scrub import patterns as P
from appliance.scrub.lexicon import AMBIGUOUS_NAME_WORDS, CLINICAL_SHAPE, EPONYMS, lexicon
from appliance.scrub.note import LOWER, Note
from appliance.scrub.rules.base import ClinicalRecognizer
from appliance.scrub.types import Entity
from appliance.scrub.vocabulary import clinical_vocab
from appliance.scrub.words import (
    GENERIC_FACILITY,
    LABEL_WORDS,
    RELATION_WORDS,
    STOP_AFTER_NAME,
    eponym_use,
    plain,
    strip_span,
    unknown_word,
)

_NER_MAP = {"PERSON": "NAME", "GPE": "LOCATION", "LOC": "LOCATION", "FAC": "FACILITY", "ORG": "FACILITY", "DATE": "DATE"}
_ORG_HINT = re.compile(r"(?i)\b(?:hospital|clinic|medical|health|healthcare|center|centre|memorial|infirmary|hospice|nursing|rehab|care|pharmacy|university|college|school|institute|st\.?|saint|mt\.?|mount|general|regional|community|county|valley|lake|river)\b")

_PERSON_CUE = re.compile(
    r"(?i)\b(?:son|daughter|wife|husband|mother|father|brother|sister|friend|partner|dr|mr|mrs|ms|nurse|pt|patient|named|"
    r"niece|nephew|grandson|granddaughter|aunt|uncle|neighbor|caregiver|with|by|per|called)\W*$"
)
_DEVICE_EPONYMS = frozenset(
    ["holter", "swan", "ganz", "swan-ganz", "doppler", "tenckhoff", "hickman", "mediport", "quinton", "permcath", "groshong", "jackson-pratt", "penrose", "blakemore", "minnesota", "sengstaken", "yankauer", "ambu", "bovie", "kelly", "cobb", "stryker", "hoyer", "heimlich"]
)


def _trim_person(v: str, s: int, e: int) -> tuple[int, int]:
    """Drop leading/trailing words spaCy swept into a PERSON ("Daughter Susan", "John Smith Seen")."""
    words = [(m.start() + s, m.end() + s) for m in re.finditer(r"\S+", v[s:e])]
    L = lexicon()

    def bad(a: int, b: int) -> bool:
        w = v[a:b].strip(".,:;'’").lower().removesuffix("'s")
        if len(w) <= 1:
            return False
        if w in L.first_names or w in L.common_surnames:
            return w in L.clinical or w in STOP_AFTER_NAME or w in RELATION_WORDS
        return w in L.clinical or w in L.english_common or w in RELATION_WORDS or w in STOP_AFTER_NAME or w in LABEL_WORDS

    while words and bad(*words[0]):
        words.pop(0)
    while words and bad(*words[-1]):
        words.pop()
    if not words:
        return s, s
    return words[0][0], words[-1][1]


def note_ents(note: Note) -> list[tuple[int, int, str]]:
    """spaCy entities of a note as (start, end, label): precomputed by the engine, or from a whole-note doc."""
    if "ents" in note.extra:
        return note.extra["ents"]
    if note.doc is None:
        return []
    return [(e.start_char, e.end_char, e.label_) for e in note.doc.ents]


class ClinicalSpacyNerRecognizer(ClinicalRecognizer):
    """spaCy's statistical NER, filtered for clinical text (drug names, eponyms, abbreviations, states)."""

    NAME = "spacy_ner"
    ENTITIES = ("NAME", "LOCATION", "FACILITY", "DATE")

    def find(self, note: Note) -> list[Entity]:
        ents = note_ents(note)
        if not ents:
            return []
        if note.mode == LOWER:
            return self._lower_case_persons(note, ents)
        L = lexicon()
        vocab = clinical_vocab()
        v = note.view
        out = []
        for start, end, label in ents:
            type_ = _NER_MAP.get(label)
            if type_ is None:
                continue
            s, e = strip_span(v, start, end)
            if e <= s:
                continue
            txt = v[s:e]
            words = [w.lower().strip(".,'’") for w in txt.split()]
            words = [w.removesuffix("'s").removesuffix("’s") for w in words]
            if all(w in L.clinical or w in STOP_AFTER_NAME or not w for w in words):
                continue
            if type_ in ("LOCATION", "FACILITY") and all(w in vocab or not w for w in words):
                continue  # "Lumbar" (puncture), "Cardiac" (cath): clinical vocabulary is no place
            if re.fullmatch(r"[A-Z0-9/-]{1,5}", txt) and type_ != "DATE":
                continue  # abbreviations: CHF, ICU, MS, T2DM
            if type_ == "NAME":
                if eponym_use(v, s, e) or any(eponym_use(v, s + i, s + i + len(w)) for i, w in ((txt.find(x), x) for x in txt.split())):
                    continue
                if any(c.isdigit() for c in txt) or len(txt.strip(". ")) <= 2:
                    continue
                s, e = _trim_person(v, s, e)
                if e > s:
                    words = v[s:e].split()
                    lw0 = words[0].lower().strip(".,'’").removesuffix("'s")
                    plains = [plain(w.strip(".,'’")) for w in words]
                    if any(x in EPONYMS or all(y in EPONYMS for y in x.split("-")) for x in plains):
                        continue  # "Ménière", "Guillain-Barré"
                    if len(words) > 1 and all(
                        (x in L.english_vocab or CLINICAL_SHAPE.search(x)) and x not in L.first_names and x not in L.common_surnames
                        for x in plains
                    ):
                        continue  # "Pulmonary Embolism"
                    if len(words) > 1 and any(x in vocab and x not in L.first_names and x not in L.surnames for x in plains) and all(
                        (x in L.english_vocab or x in vocab or CLINICAL_SHAPE.search(x)) and x not in L.first_names for x in plains
                    ):
                        continue  # "LUMBAR DRAIN CLAMPED": clinical vocabulary with everyday words is no person
                    if len(words) == 1 and not _PERSON_CUE.search(v, max(0, s - 25), s) and (
                        lw0 in EPONYMS
                        or lw0 in _DEVICE_EPONYMS
                        or (lw0 in L.english_vocab and lw0 not in L.first_names and lw0 not in L.common_surnames)
                        or (lw0 in AMBIGUOUS_NAME_WORDS and (s == 0 or v[max(0, s - 2) : s].strip() in ("", ".", ":")))
                    ):
                        continue  # "Addendum", "Holter", "Mark on the skin"
                    header_like = not unknown_word(lw0, L) or len(lw0) <= 5 or bool(CLINICAL_SHAPE.search(lw0))
                    if len(words) == 1 and header_like and re.match(r"\s*:", v[e : e + 3]) and lw0 not in L.first_names and lw0 not in L.common_surnames and (
                        s == 0 or re.search(r"(?:^|[\n.;])\s*$", v[max(0, s - 4) : s])
                    ):
                        continue  # a section header the model read as a person ("Neuro:", "Psych:")
                    out.append(Entity(s, e, "NAME", 0.85))
            elif type_ == "LOCATION":
                low = txt.lower().removeprefix("the ")
                if low in L.states or low in L.countries or low in ("us", "usa"):
                    continue  # a state or country is not a Safe Harbor identifier
                out.append(Entity(s, e, "LOCATION", 0.75))
            elif type_ == "FACILITY":
                if label == "ORG" and not _ORG_HINT.search(txt):
                    continue
                if all(w in GENERIC_FACILITY or w in L.clinical for w in words):
                    continue
                out.append(Entity(s, e, "FACILITY", 0.7))
            # spaCy DATE includes "today", "3 days", "2019": keep only those with a month or day element
            elif type_ == "DATE" and re.search(rf"(?i)\b(?:{P.MONTHS_FULL}|{P.MONTHS_ABBR})\b", txt) and re.search(r"\d", txt):
                out.append(Entity(s, e, "DATE", 0.7))
        return out


    def _lower_case_persons(self, note: Note, ents) -> list[Entity]:
        """spaCy NER is unreliable without capitals: keep only PERSON spans the name gazetteers confirm."""
        L = lexicon()
        out = []
        for start, end, label in ents:
            if label != "PERSON":
                continue
            words = [w.strip(".,'’") for w in note.view[start:end].split()]
            if words and all(w in L.first_names or w in L.surnames for w in words) and not any(
                w in L.clinical or w in L.english_common and w not in L.first_names for w in words
            ):
                out.append(Entity(start, end, "NAME", 0.7))
        return out
