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
