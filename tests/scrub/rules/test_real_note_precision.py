"""Precision on real ICU shorthand: what the rules used to flag in terse nursing notes, and the PHI beside it.

Each "keep" line is written in the style of real notes (all-caps, terse, vent and drip shorthand) and holds no
PHI: nothing in it may be detected.  Each "find" line holds PHI of the same shape, which must still be found.
"""

from __future__ import annotations

import pytest

from tests.scrub.conftest import covered

KEEP = [
    # postal codes that are words or clinical abbreviations: AS, MI, CT, GU, ID
    "CONTINUE TO WEAN NEO AS TOLERATED. SUPPORT PT/FAMILY AS NEEDED.",
    "PT R/O X2 FOR MI. NEG HEAD CT.",
    "GI: TF AT GOAL, NO STOOL\nGU: FOLEY DRAINING CLEAR YELLOW URINE",
    "Head CT negative. Pt ruled out for MI.",
]

FIND = [
    ("MOVED FROM LAKE CITY, FL LAST YEAR.", "LAKE CITY"),
    ("Lives in Springfield, IL with her son.", "Springfield"),
    ("daughter lives in Tallahassee, FL", "Tallahassee"),
]


@pytest.mark.parametrize("text", KEEP)
def test_shorthand_is_not_phi(found, text):
    assert found(text) == [], found(text)


@pytest.mark.parametrize("text, value", FIND)
def test_phi_beside_shorthand_is_found(found, text, value):
    assert covered(found(text), value), found(text)
