"""Date recognizer cases (rules/dates.py), on the real spaCy model."""

from __future__ import annotations

import pytest

from tests.scrub.conftest import covered


@pytest.mark.parametrize(
    "text, value",
    [
        ("Admitted 03/14/2023 for CHP.", "03/14/2023"),
        ("Seen 7/22 in clinic.", "7/22"),
        ("Surgery on March 3, 2021 uneventful.", "March 3, 2021"),
        ("Follow-up on the 3rd with PCP.", "3rd"),
        ("Echo from 2021-03-14 reviewed.", "2021-03-14"),
        ("Last seen the third of June.", "third of June"),
        ("Symptoms began in March.", "March"),
        ("Visited ED last Friday.", "last Friday"),
        ("Admitted Christmas Eve.", "Christmas Eve"),
        ("DOB 4-Jan-1950.", "4-Jan-1950"),
    ],
)
def test_dates_found(found, text, value):
    assert covered(found(text), value), found(text)



@pytest.mark.parametrize(
    "text, frag",
    [
        ("Norco 5/325 1 tab q6h PRN.", "5/325"),
        ("Pain 8/10, improved to 3/10.", "8/10"),
        ("BP 120/80, HR 72.", "120/80"),
        ("Strength 4/5 in RLE, 2/6 murmur.", "4/5"),
        ("Give 1/2 tab of metoprolol.", "1/2"),
        ("Pt may need help with ADLs.", "may"),
        ("Diagnosed in 2019.", "2019"),
    ],
)
def test_dates_negative(found, text, frag):
    assert not any(frag in v for v, t in found(text)), found(text)


# real ICU notes write a history's dates as month/two-digit year, glued to a word, or with a stray full stop
@pytest.mark.parametrize(
    "text, value",
    [
        ("PMH: CAD, CABG 1/78 c/b sternal wound infection.", "1/78"),
        ("S/P UTI 6/85. SHE PRESENTED TO THE ER.", "6/85"),
        ("prostate CA, s/p pelvic fx4/97, right arm fx 5/97.", "4/97"),
        ("hct 28.2 am labs on10/14/82 to hct 30 post transfusion", "10/14/82"),
        ("Did well, transferred to Quartermain.8/31. Readmitted to unit 9/3.", "8/31"),
        ("11/21.93 \nneuro: pt alert oriented x3", "11/21.93"),
        ('s/o: "i\'m at the general hospital. it\'s the 11th." pt now oriented', "11th"),
        ("not oriented to place. stated march 21, 1899 then corrected self", "1899"),
        ("HTN. DM W RETINOPATHY. CVA 74'. CHOLECYSTECTOMY 77'.", "74'"),
    ],
)
def test_history_dates_found(found, text, value):
    assert covered(found(text), value), found(text)


@pytest.mark.parametrize(
    "text, frag",
    [
        ("Vent: CPAP PS 5/40% overnight, tolerating well.", "5/40"),
        ("SIMV 600x12/5/40%, ABG 7.34/45/90.", "45/90"),
        ("Gave 1/50 mg of narcan.", "1/50"),
        ("BCx2/4 bottles positive.", "2/4"),
    ],
)
def test_history_dates_negative(found, text, frag):
    assert not any(frag in v for v, t in found(text)), found(text)
