"""Ages over 89 (rules/ages.py)."""

from __future__ import annotations

from tests.scrub.conftest import covered


def test_ages_over_89(found):
    assert covered(found("92 y/o F with CHF."), "92")
    assert covered(found("A 101-year-old man."), "101")
    assert covered(found("Pt is ninety-three years old."), "ninety-three")
    assert not any(t == "AGE" for _, t in found("A 45 y/o M with CHF, on 90 mg of drug."))
