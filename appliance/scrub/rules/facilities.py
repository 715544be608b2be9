"""Facilities: hospitals, clinics, nursing homes and other named facilities, in cased, ALL-CAPS and
lower-case notes ("St. Vincent's", "Elm Clinic", "CAMPBELL EMERGENCY DEPT", "south marybury general hospital").
"""

from __future__ import annotations

import re

from appliance.scrub import patterns as P
from appliance.scrub.lexicon import lexicon
from appliance.scrub.note import LOWER, UPPER, Note
from appliance.scrub.rules.base import ClinicalRecognizer
from appliance.scrub.types import Entity
from appliance.scrub.words import (
    GENERIC_FACILITY,
    NOT_PLACE_WORDS,
    PLACE_LEAD_WORDS,
    STOP_AFTER_NAME,
    looks_like_month,
    match_span,
    strip_span,
    unknown_word,
)

# "our Dallas clinic", "UCLA med center", "Cedars-Sinai ER": a proper name before a lower-case facility word
_FACILITY_LOWER_HEAD = re.compile(
    r"\b(?:(?:St\.?|Mt\.?|Saint|Mount)\s+)?(?:[A-Z][\w'’&.-]*\s+){1,3}(?:(?:downtown|main|satellite|outpatient|inpatient|community|county|general|medical|med|health|cancer|heart|dialysis|rehab|urgent\s+care|primary\s+care|family)\s+)?"
    r"(?:clinic|hospital|medical\s+center|med\s+center|health\s+center|office|facility|practice|ER|ED|campus|center|centre|infirmary|hospice|nursing\s+home|rehab|lab|pharmacy)\b"
)
_CAP_PHRASE = re.compile(r"(?:(?:St\.?|Mt\.?|Saint|Mount)\s+)?[A-Z][\w'’&-]*(?:\s+(?:of\s+|the\s+|and\s+|&\s+)?[A-Z][\w'’&-]*){0,4}")

# the facility word first: "Hospital Universitario La Paz", "Hospice of the Valley", "Clinique des Cèdres"
_FACILITY_HEAD_FIRST = re.compile(
    r"\b(?:Hospital|Hospice|Clinic|Clínica|Clinica|Clinique|Hôpital|Hopital|Ospedale|Klinikum|Centro|Sanatorio|Policlínica|Home)"
    r"(?:\s+(?:of\s+the|of|for\s+the|for|de\s+la|de|del|des|du|di|della)\s+|\s+)"
    r"(?P<n>[A-ZÀ-ÖØ-Þ][\w'’-]+(?:\s+(?:de|del|la|las|los|di|du|des|[A-ZÀ-ÖØ-Þ][\w'’-]+)){0,4})"
)


class ClinicalFacilityRecognizer(ClinicalRecognizer):
    """Hospitals, clinics, nursing homes and other named facilities ("St. Vincent's", "Elm Clinic")."""

    NAME = "clinical_facility"
    ENTITIES = ("FACILITY",)

    def _lower_case(self, note: Note) -> list[Entity]:
        return _lower_facilities(note)

    def find(self, note: Note) -> list[Entity]:
        v = note.view
        L = lexicon()
        out = []
        if note.mode == LOWER:
            return self._lower_case(note)
        for m in P.FACILITY.finditer(v):
            s, e = strip_span(v, *match_span(m))
            words = [w.strip(".,'’").lower() for w in v[s:e].split()]
            # "The Patient Center"? need at least one word that is not generic
            lead = words[0]
            if len(words) < 2 or all(w in GENERIC_FACILITY or w in L.clinical for w in words):
                continue
            if all(w in L.clinical or w in L.english_common or w in ("of", "the", "and", "&") for w in words) and not re.search(
                r"\b(?:Hospital|Clinic|Medical Center|Infirmary|Hospice|Nursing Home)\b", v[s:e]
            ):
                continue
            if lead in ("the", "a", "an", "our", "his", "her", "their") and s == m.start():
                s += len(v[s:e].split()[0]) + 1
            out.append(Entity(s, e, "FACILITY", 0.85))
        for m in _FACILITY_LOWER_HEAD.finditer(v):
            s, e = strip_span(v, *match_span(m))
            lead = v[s:e].split()[0].lower().strip(".,")
            if lead in L.clinical or lead in NOT_PLACE_WORDS or looks_like_month(lead):
                continue
            out.append(Entity(s, e, "FACILITY", 0.7))
        for m in _FACILITY_CAPS.finditer(note.text):
            lead = m.group(0).split()[0].lower()
            if lead not in L.clinical and lead not in L.english_common:
                out.append(Entity(m.start(), m.end(), "FACILITY", 0.75))
        for m in P.SAINT.finditer(v):
            s, e = strip_span(v, *match_span(m))
            out.append(Entity(s, e, "FACILITY", 0.8))
        if note.mode == "normal":
            for m in _FACILITY_HEAD_FIRST.finditer(v):
                words = m.group("n").split()
                # trim everyday/clinical words at the end ("Hospital Universitario La Paz Madrid" stays whole)
                while words and (words[-1].lower() in L.clinical or words[-1].lower() in GENERIC_FACILITY or words[-1].lower() in STOP_AFTER_NAME):
                    words.pop()
                if not words or all(w.lower() in L.clinical or w.lower() in GENERIC_FACILITY or w.lower() in L.english_top for w in words if w[:1].isupper()):
                    continue
                e = m.start("n") + len(" ".join(words)) if " ".join(words) == m.group("n")[: len(" ".join(words))] else m.end("n")
                out.append(Entity(m.start(), e, "FACILITY", 0.7))
        # a capitalised phrase right after "admitted to", "seen at", "transferred from" is a place
        for m in _CAP_PHRASE.finditer(v):
            before = v[max(0, m.start() - 30) : m.start()]
            if not P.FACILITY_CONTEXT.search(before):
                continue
            s, e = strip_span(v, *match_span(m))
            words = [w.strip(".,'’").lower() for w in v[s:e].split()]
            lead_clinical = words and words[0] in L.clinical and not (len(words) > 1 and words[1] not in L.clinical and words[1] not in L.english_common)
            if not words or words[0] in NOT_PLACE_WORDS or lead_clinical or all(
                w in L.clinical or w in NOT_PLACE_WORDS or w in ("of", "the", "and", "&") for w in words
            ):
                continue
            if looks_like_month(words[0]) or re.fullmatch(r"[A-Z]{1,2}", v[s:e]):
                continue  # "on March", "at A"
            if note.mode == UPPER and len(words) == 1:
                continue
            if all(w in GENERIC_FACILITY or w in L.clinical for w in words):
                continue
            out.append(Entity(s, e, "FACILITY", 0.6))
        return out


_FACILITY_LOWER = re.compile(
    r"\b((?:(?:st\.?|saint|mt\.?|mount)\s+)?(?:[a-z][\w'’&.-]*\s+){1,3}(?:hospital|medical center|health center|clinic|infirmary|"
    r"hospice|nursing home|rehabilitation center|rehab center|care center|surgery center|urgent care|cancer center|"
    r"pharmacy|medical group|health system|memorial hospital|regional medical center|elementary school|high school|school))\b"
)

_FACILITY_CAPS = re.compile(
    r"\b(?:[A-Z][A-Z'’&.-]{2,}\s+){1,4}(?:GENERAL\s+)?(?:HOSPITAL|MEDICAL\s+CENTER|CLINIC|HEALTH\s+CENTER|EMERGENCY\s+DEP(?:ARTMEN)?T|"
    r"INFIRMARY|NURSING\s+HOME|REHAB(?:ILITATION)?\s+CENTER|HOSPICE|MEMORIAL)\b"
)


def _lower_facilities(note: Note) -> list[Entity]:
    L = lexicon()
    out = []
    v = note.view
    for m in _FACILITY_LOWER.finditer(v):
        s, e = m.span(1)
        words = v[s:e].split()
        # drop leading words that are not part of a name ("seen at", "from the", "new-onset")
        while words and (words[0].lower().strip(".,") in L.english_common or words[0].lower() in L.clinical) and words[0].lower() not in ("st.", "st", "saint", "mt.", "mount"):
            # a place word before a name no list knows starts the name ("south marybury general hospital")
            if words[0].lower() in PLACE_LEAD_WORDS and len(words) > 2 and unknown_word(words[1].lower(), L):
                break
            s += len(words[0]) + 1
            words = words[1:]
        if len(words) >= 2:
            out.append(Entity(s, e, "FACILITY", 0.6))
    return out
