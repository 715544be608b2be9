"""Facilities named by their initials where a patient moves between them, and state-university hospitals.

ICU notes name the hospital a patient came from or goes to by its initials ("TRANSFERRED TO NPBJ ICU", "sent
to GA via ambulance", "At CE EW he remained intubated", "w/u by GBMC") or by a short form of a university
("per U Maryland scale").  The cue is the movement, not the letters: initials count only right after a
movement verb and its preposition, or right before a hospital unit ("PA ED", "VS cath lab").  Units and
services of the hospital itself (MICU, CSRU, OR, IR, cath lab, the floor) are clinical vocabulary and never
match; in an ALL-CAPS note the initials must also be no English word ("TO AN", "FROM HOME").
"""

from __future__ import annotations

import re

from appliance.scrub.note import LOWER, UPPER
from appliance.scrub.types import Entity
from appliance.scrub.words import UNIT_AFTER, plain

_MOVE = (
    r"transferred|transfered|tranfered|tranferred|transfer|transferring|xferred|xfered|xfer|xfer'd|sent|brought|"
    r"admitted|readmitted|re-admitted|taken|came|arrived|returned|returning|return|recieved|received|rec'd|presented|"
    r"discharged|d/c'd|dc'd|went|seen|evaluated|followed|screened|w/u|worked\s+up|consult|consulted|records|"
    r"tx|flown|medflighted|airlifted|med-flighted|intubated|stabilized|treated|hospitalized"
)
# an ALL-CAPS or Title-less run of 2-5 capitals: the initials of a facility
_INITIALS = r"[A-Z]{2,5}"
_UNIT = r"(?:icu|ed|er|ew|cath\s+lab|hosp\.?|hospital|rehab|tcu|clinic|ccu|micu|sicu|e\.r\.|emergency\s+(?:room|dept|department))"
_AFTER_MOVE = re.compile(
    rf"(?i:\b(?:{_MOVE})\s+(?:(?:him|her|them|pt|patient|back|here|over|directly|emergently|urgently|initially)\s+)?"
    rf"(?:to|from|at|by|into|in|via)\s+(?:the\s+)?)(?P<f>{_INITIALS})(?![\w'’/-])"
)
_BEFORE_UNIT = re.compile(rf"(?i:\b(?:to|from|at|@|in|per)\s+(?:the\s+)?)(?P<f>{_INITIALS})(?=\s+(?i:{_UNIT})\b)")
_BEFORE_UNIT_LOWER = re.compile(rf"\b(?:to|from|at|@)\s+(?P<f>[a-z]{{2,4}})(?=\s+(?:er|ed|ew|icu|cath\s+lab)\b)")
# "BIDMC", "VAMC", "GBMC": initials ending in MC are a medical centre
_MC = re.compile(r"(?<![\w'’/-])(?P<f>[A-Z]{1,5}MC)(?![\w'’/-])")
# "U Maryland", "U of M hospital", "Univ. of Iowa": a university (hospital) by its state or city
_UNIV = re.compile(
    r"\b(?:U|Univ\.?|University|[A-Z])\s+(?:of\s+)?(?P<p>[A-Z][a-z]+(?:\s[A-Z][a-z]+)?|[A-Z]{2,4})"
    r"(?=\s+(?i:scale|protocol|consult|hospital|hosp|medical|med|team|service|ed|er|icu)\b)",
)
# clinical terms written as a letter and a word ("C Diff", "A Line", "D Dimer", "T Spine")
_LETTER_TERMS = frozenset("diff difficile line lines fib flutter dimer spine wave waves tube cell cells peptide".split())
_UNIV_LOWER = re.compile(
    r"\buniversity\s+of\s+(?P<p>[a-z]+(?:\s[a-z]+)?)\s+(?:hospital|hosp|medical\s+center|med\s+center)\b"
)
# a named ward: a word and a one-digit number after a transfer ("TRANSFER TODAY TO COCONUT 2", "to oak 2",
# "called To central 6"); the word is no clinical vocabulary ("to floor 2", "wean to cpap 5") and no unit follows
_WARD = re.compile(
    r"(?i:\b(?:transfer(?:red)?|transfered|tx|xfer|called|moved|go(?:ing)?|back|return(?:ed)?)\s+(?:\w+\s+){0,2}?to\s+)"
    r"(?P<f>[A-Za-z][a-z]{2,}|[A-Z]{3,})\s?(?P<n>\d)(?![\w/.%:-]|\.\d)"
)
_WARD_STOP = frozenset("floor bed room day pod week hour ps peep cpap bipap level grade step stage type unit icu".split())
# the hospital's own units, and an outside hospital not named ("OSH ED"): never a facility before a unit
_UNITS = frozenset("icu ccu micu sicu csru nicu picu ed er ew or ir ct osh snf ltac rehab tcu cath ems".split())
# ...nor after a movement verb, with more units, services and staff ("sent to EP", "seen by PA")
_NOT_FACILITY = _UNITS | frozenset(
    "ctic cticu tsicu cvicu cvu ficu vicu hcu sdu pcu imc imu mri mra ep gi hd pacu ltach nh alf vna ama ob l&d "
    "md rn np pa ho team home us usa am pm noc".split()
)


def _is_initials(word: str, mode: str, L, clinical: frozenset[str]) -> bool:
    w = plain(word)
    if w in _NOT_FACILITY or w in clinical or w.endswith("icu"):
        return False
    # in an ALL-CAPS note every word is capitals: "TO AN", "FROM HOME" are English
    return not (mode == UPPER and (w in L.english_common or w in L.english_top))


def transfer_sites(text: str, v: str, mode: str, L, clinical: frozenset[str]) -> list[Entity]:
    """Facility initials after a movement cue or before a hospital unit, MC initials, state universities."""
    out: list[Entity] = []
    for m in _AFTER_MOVE.finditer(text):
        if _is_initials(m.group("f"), mode, L, clinical):
            out.append(Entity(m.start("f"), m.end("f"), "FACILITY", 0.7))
    for m in _WARD.finditer(text):
        w = plain(m.group("f"))
        if w not in clinical and w not in _WARD_STOP and not UNIT_AFTER.match(text, m.end()):
            out.append(Entity(m.start("f"), m.end("n"), "FACILITY", 0.65))
    if mode != LOWER:
        # before a unit the initials may spell a clinical abbreviation too ("TRANSFERRED TO PA ED"); "TO THE ED"
        # lets the pattern read THE as the initials
        for m in _BEFORE_UNIT.finditer(text):
            w = plain(m.group("f"))
            if w not in _UNITS and w != "the" and not w.endswith("cu") and (mode != UPPER or w not in L.english_common):
                out.append(Entity(m.start("f"), m.end("f"), "FACILITY", 0.7))
        for m in _MC.finditer(text):
            if _is_initials(m.group("f"), mode, L, clinical):
                out.append(Entity(m.start("f"), m.end("f"), "FACILITY", 0.7))
        for m in _UNIV.finditer(v):
            if plain(m.group("p")) in clinical or plain(m.group("p")) in _LETTER_TERMS:  # "C Diff protocol", "A Line team"
                continue
            out.append(Entity(m.start(), m.end("p"), "FACILITY", 0.7))
    for m in _BEFORE_UNIT_LOWER.finditer(text):
        if plain(m.group("f")) not in clinical and plain(m.group("f")) not in L.english_common:
            out.append(Entity(m.start("f"), m.end("f"), "FACILITY", 0.6))
    for m in _UNIV_LOWER.finditer(text):
        out.append(Entity(m.start(), m.end(), "FACILITY", 0.7))
    return out
