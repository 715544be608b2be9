"""Labelled and unlabelled identifiers (rules/ids.py)."""

from __future__ import annotations

import pytest

from tests.scrub.conftest import covered


@pytest.mark.parametrize(
    "text, value, type_",
    [
        ("SSN 123-45-6789 on file.", "123-45-6789", "SSN"),
        ("MRN: 4452318.", "4452318", "MRN"),
        ("Medicare ID 1EG4-TE5-MK73.", "1EG4-TE5-MK73", "HEALTH_PLAN"),
        ("Member ID: XJH884422901.", "XJH884422901", "HEALTH_PLAN"),
        ("Acct # 998877665.", "998877665", "ACCOUNT"),
        ("DEA number AB1234563.", "AB1234563", "LICENSE"),
        ("License plate 7ABC123 noted.", "7ABC123", "VEHICLE"),
        ("VIN 1HGCM82633A004352.", "1HGCM82633A004352", "VEHICLE"),
        ("Pacemaker serial no. PJN123456 checked.", "PJN123456", "DEVICE"),
        ("Fingerprint ID FP-20931177 verified.", "FP-20931177", "BIOMETRIC"),
        ("Reference case #JH-998877.", "JH-998877", None),
        ("Specimen S44-26942 sent.", "S44-26942", None),
    ],
)
def test_identifiers(found, text, value, type_):
    f = found(text)
    assert covered(f, value), f
    if type_:
        assert any(value in v and t == type_ for v, t in f), f



def test_identifier_negatives(found):
    f = found("Given 10000 units heparin, Hgb 8.2, EF 35%, COVID-19 negative, T2DM, B12 level, L4-L5 disc.")
    assert not f, f
