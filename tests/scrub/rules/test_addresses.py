"""Geography: addresses, cities, facilities (rules/addresses.py, rules/facilities.py)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    "text, value, type_",
    [
        ("Lives at 123 Oak Street, Springfield, IL 62704.", "123 Oak Street", "LOCATION"),
        ("Lives at 123 Oak Street, Springfield, IL 62704.", "Springfield", "LOCATION"),
        ("Lives at 123 Oak Street, Springfield, IL 62704.", "62704", "ZIP"),
        ("Moved from Cook County last year.", "Cook County", "LOCATION"),
        ("Resides in Chicago with son.", "Chicago", "LOCATION"),
        ("Transferred from Methodist Hospital.", "Methodist Hospital", "FACILITY"),
        ("Seen at St. Vincent's for CP.", "St. Vincent's", "FACILITY"),
        ("Followed at our Dallas clinic.", "Dallas clinic", "FACILITY"),
        ("Admitted to Cedar Crest on 2/3/21.", "Cedar Crest", "FACILITY"),
    ],
)
def test_geography(found, text, value, type_):
    f = found(text)
    assert any(value in v and (t == type_ or type_ in ("LOCATION", "FACILITY") and t in ("LOCATION", "FACILITY")) for v, t in f), f



def test_geography_negatives(found):
    f = found("Transferred to ICU. Pain in the left lower quadrant. Lives in Texas.")
    assert not f, f
