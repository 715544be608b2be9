"""General rule families (appliance.scrub.families): each positive case asserts the exact span and type a family
finds; each negative case is a clinical look-alike the same family must leave alone."""

from __future__ import annotations

import pytest

from appliance.scrub.families import find_families
from appliance.scrub.note import Note
from appliance.scrub.types import merge_entities

_FILLER = " Vitals stable overnight, tolerating diet, no acute events."
_LOWER_FILLER = " vitals stable overnight, tolerating diet, no acute events."


def spans(text: str) -> set[tuple[str, str]]:
    return {(text[e.start : e.end], e.type) for e in merge_entities(find_families(Note.make(text)))}


POSITIVE = [
    # 1: quoted names after a naming cue, beside a name, in brackets
    ('Pt prefers to be called "Bobbi" by staff.' + _FILLER, ("Bobbi", "NAME")),
    ('Confused overnight, calls out for "Esperanza" repeatedly.' + _FILLER, ("Esperanza", "NAME")),
    ('Visit w/ Theodore "Teddy" Vasquez at home.' + _FILLER, ("Theodore", "NAME")),
    ('Visit w/ Theodore "Teddy" Vasquez at home.' + _FILLER, ("Vasquez", "NAME")),
    ('Visit w/ Theodore "Teddy" Vasquez at home.' + _FILLER, ("Teddy", "NAME")),
    ('returned with a friend ("dez", states is neighbor).' + _LOWER_FILLER, ("dez", "NAME")),
    # 2: a name in brackets after a role or relative noun
    ("told her case mgmt (gloria) will call back." + _LOWER_FILLER, ("gloria", "NAME")),
    ("Kosher tray ordered, diet office (Terrence) aware." + _FILLER, ("Terrence", "NAME")),
    ("Met with interpreter (Wislet, #2231) at bedside." + _FILLER, ("Wislet", "NAME")),
    ("Kids (Maya, 7, and Ezra, 4) with grandparents." + _FILLER, ("Ezra", "NAME")),
    ("Sitter at bedside overnight (Marisol, PCA)." + _FILLER, ("Marisol", "NAME")),
    ("May stay at his brother's (Anselmo) after discharge." + _FILLER, ("Anselmo", "NAME")),
    ("Goals discussed with Lucinda (daughter, HCP) by phone." + _FILLER, ("Lucinda", "NAME")),
    # 3: a role word directly followed by a name, in lower and UPPER notes
    ("rt bronwyn aware of abg, will recheck." + _LOWER_FILLER, ("bronwyn", "NAME")),
    ("wound rn hunter consulted for sacral wound." + _LOWER_FILLER, ("hunter", "NAME")),
    ("discussed w/ cm dominguez re: snf placement." + _LOWER_FILLER, ("dominguez", "NAME")),
    ("Called to room by RN Destiny for desat." + _FILLER, ("Destiny", "NAME")),
    ("HEMODYNAMICALLY STABLE. HCP = MARGUERITE (DAUGHTER). PLAN: ADMIT TO FLOOR FOR MONITORING.", ("MARGUERITE", "NAME")),
    ("PT STABLE AND COMFORTABLE, FAMILY AT BEDSIDE. ADMITTING RN: ROSALIND", ("ROSALIND", "NAME")),
    # 4: a name before a credential in sign-offs; slash-separated names; transcriptionist initials
    ("pt calm, belongings checked by jaswinder rn and security." + _LOWER_FILLER, ("jaswinder", "NAME")),
    ("plan reviewed with team, will follow.\n-- tq rn", ("tq", "NAME")),
    ("Access cannulated x2 by Oluwaseun PCT, 15g." + _FILLER, ("Oluwaseun", "NAME")),
    ("Consults: Dr. Halvorsen / Okafor (Cardiology)." + _FILLER, ("Okafor", "NAME")),
    ("Signed: Maria Lopez, MD Transcribed 05/06/24 09:12 rtw", ("rtw", "NAME")),
    # 5: table cells
    ("| Room | Name | Age |\n| 12 | Quintero, Esteban | 92 |\n| 14 | Lindqvist, Astrid | 67 |", ("Quintero, Esteban", "NAME")),
    ("| Room | Name | Age |\n| 12 | Quintero, Esteban | 92 |\n| 14 | Lindqvist, Astrid | 67 |", ("92", "AGE")),
    # 6: label cue + full name in UPPER case
    ("URGENT CARE NOTE\nPT: DESHAWN OKONJO-BAILEY   DOB 01/02/2019\nSEEN FOR FEVER AND COUGH, STABLE.", ("DESHAWN OKONJO-BAILEY", "NAME")),
    # 7: places
    ("Sister reached by phone in Cork, Ireland today." + _FILLER, ("Cork", "LOCATION")),
    ("BROTHER FLYING IN FROM PATRAS, GREECE NEXT WEEK. PT STABLE, AFEBRILE, TOLERATING DIET.", ("PATRAS", "LOCATION")),
    ("Prior films from Lowell General Hospital (Lowell) requested." + _FILLER, ("Lowell", "LOCATION")),
    ("husband works at a warehouse in north andover most days." + _LOWER_FILLER, ("north andover", "LOCATION")),
    ("they moved, now in ramsey county near family." + _LOWER_FILLER, ("ramsey county", "LOCATION")),
    # 8: pharmacy chains and facility-type phrases
    ("refill sent to walgreens on elm street today." + _LOWER_FILLER, ("walgreens", "FACILITY")),
    ("refill sent to walgreens on elm street today." + _LOWER_FILLER, ("elm street", "LOCATION")),
    ("attends sunrise adult day health three days a week." + _LOWER_FILLER, ("sunrise adult day health", "FACILITY")),
    # 9: dates and numbers
    ("Stayed with pt overnight 3/11-3/12, helpful." + _FILLER, ("3/12", "DATE")),
    ("ran out of meds on memorial day, called clinic." + _LOWER_FILLER, ("memorial day", "DATE")),
    ("LAST SEEN BY PCP OCTOBER. PT STABLE, AFEBRILE, TOLERATING DIET, NO ACUTE EVENTS.", ("OCTOBER", "DATE")),
    ("Covering intern Dr. Ito (pgr 4-5521) aware." + _FILLER, ("4-5521", "PHONE")),
    ("Gift card 4111 1111 1111 1111 issued for study visit." + _FILLER, ("4111 1111 1111 1111", "ACCOUNT")),
]


@pytest.mark.parametrize("text,expected", POSITIVE)
def test_family_positive(text, expected):
    assert expected in spans(text)


NEGATIVE = [
    ("rn aware, will reassess in 1h." + _LOWER_FILLER, "aware"),
    ("rn will call family in am." + _LOWER_FILLER, "will"),
    ("pa submitted to insurer today." + _LOWER_FILLER, "submitted"),
    ("pt c/o 8/10 pain, requesting prn." + _LOWER_FILLER, "c"),
    ("LIVER: 1.4 CM HYPODENSITY, TOO SMALL TO CHARACTERIZE. NO BILIARY DILATION SEEN.", "HYPODENSITY"),
    ("Reviewed with Jonah Reyes, MD (Anesthesiology) pre-op." + _FILLER, "Anesthesiology"),
    ("interpreter (spanish) present for consent." + _LOWER_FILLER, "spanish"),
    ('Reading task ("Grandfather Passage") recorded for speech eval.' + _FILLER, "Grandfather"),
    ("Pain 3/4-7/10 with movement, improved." + _FILLER, "7/10"),
    ("Tele sinus, HR 80s. Transfer to MICU (bed 4) when available." + _FILLER, "MICU"),
    ("Dictated by: Ana Ruiz, MD\nResident: Tomas Berg, MD", "MD"),
    ("rt arm weak, rt knee swollen, pa lat cxr ordered." + _LOWER_FILLER, "arm"),
    ("rt arm weak, rt knee swollen, pa lat cxr ordered." + _LOWER_FILLER, "lat"),
    ("RT NEB GIVEN, SECURITY GUARD AT DOOR. PT STABLE, AFEBRILE, TOLERATING DIET, NO ACUTE EVENTS.", "NEB"),
    ("rn drew labs at 0600, rt titrate o2 to sat > 92%." + _LOWER_FILLER, "drew"),
    ("rn drew labs at 0600, rt titrate o2 to sat > 92%." + _LOWER_FILLER, "titrate"),
]


@pytest.mark.parametrize("text,word", NEGATIVE)
def test_family_negative(text, word):
    assert not any(word == v or word in v.split() for v, _ in spans(text)), spans(text)


def test_roles_are_one_lexicon():
    import re

    from appliance.scrub.families import ROLE

    rx = re.compile(rf"(?i)^(?:{ROLE})$")
    for w in ("case mgmt", "diet office", "security officer", "sister", "hcp", "doula", "interpreter", "rn"):
        assert rx.match(w), w
