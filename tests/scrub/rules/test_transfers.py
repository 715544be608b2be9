"""Facility initials where a patient moves between hospitals (rules/transfers.py), on the real spaCy model."""

from __future__ import annotations

import pytest

from tests.scrub.conftest import covered


@pytest.mark.parametrize(
    "text, value",
    [
        ("55 YO MALE WITH NON-Q WAVE MI, TRANSFERRED TO NPBJ ICU. AT 2A PT HAD CHEST PAIN.", "NPBJ"),
        ("HO ASKED ABOUT A CONSULT FROM THE HMFL. PT MAY BE W/U BY GBMC FOR HEART TRANSPLANT.", "HMFL"),
        ("PT MAY BE W/U BY GBMC FOR POSSIBLE HEART TRANSPLANT. FAMILY AWARE.", "GBMC"),
        ("He was intubated and tranfered to CE for further care. At CE EW he remained intubated.", "CE"),
        ("Troponin 34. Sent to GA via ambulance for further workup.", "GA"),
        ("Started IV insulin per U Maryland scale, FS 114 at 6pm.", "U Maryland"),
        ("Pt recieved from university of grayslake hospital, intubated with 7.5 ett.", "university of grayslake hospital"),
        ("EXTUBATED AT OSH. TRANSFERRED TO PA ED. INTUBATED FOR RESP DISTRESS.", "PA"),
        ("PLAN: STABLE DAY. TRANSFER TODAY TO COCONUT 2 WHEN BED AVAILABLE.", "COCONUT 2"),
        ("Cardiac arrest called To central 6 At 0455. Pt was found unresponsive.", "central 6"),
        ("accept note: 83 yo female admitted to SJ 01/17 s/p fall at home, hip fx.", "SJ"),
        ("Gtt titrated per H South scale overnight, FS 140.", "H South"),
    ],
)
def test_transfer_sites_found(found, text, value):
    assert covered(found(text), value), found(text)


@pytest.mark.parametrize(
    "text, frag",
    [
        ("Pt transferred to MICU, then sent to IR and CT; seen by PT and OT.", "MICU"),
        ("TRANSFERRED TO CCU FROM THE FLOOR. SENT TO CT. PT TO OR IN AM.", "CCU"),
        ("ADMITTED TO CSRU S/P CABG X3. TRANSFERRED FROM OSH ED.", "CSRU"),
        ("PT RETURNED TO THE FLOOR AT 1400, SENT TO EP LAB TOMORROW.", "EP"),
        ("pt sent to the er from home, brought to ct.", "er"),
        ("WEAN TO CPAP 5 OVERNIGHT. TRANSFER TO FLOOR 2 WHEN STABLE.", "FLOOR"),
        ("Start heparin per C Diff protocol? no - per pharmacy.", "Diff"),
    ],
)
def test_transfer_units_not_facilities(found, text, frag):
    assert not any(v.split() and frag in v.split() for v, t in found(text)), found(text)
