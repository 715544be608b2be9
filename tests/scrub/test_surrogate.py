"""Replacement: consistent keyed surrogates, date shifting that keeps intervals, operators per type."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from appliance.scrub.dates import shift_date_text
from appliance.scrub.surrogate import Surrogates
from appliance.scrub.types import Entity

SECRET = bytes(range(32))


@pytest.fixture
def sur(settings):
    return Surrogates(SECRET, settings)


def _ents(text: str, *pairs: tuple[str, str]) -> list[Entity]:
    out = []
    for value, type_ in pairs:
        for m in re.finditer(re.escape(value), text):
            out.append(Entity(m.start(), m.end(), type_))
    return out


def test_same_name_same_surrogate_within_patient(sur):
    text = "John Smith seen. Mr. Smith ambulating. John ate."
    ents = _ents(text, ("John Smith", "NAME"), ("Smith", "NAME"), ("John", "NAME"))
    from appliance.scrub.types import merge_entities

    out, counts = sur.apply(text, merge_entities(ents), "p:1")
    first, last = out.split(" seen")[0].split()
    assert first != "John" and last != "Smith"
    assert f"Mr. {last} ambulating" in out and f"{first} ate" in out
    assert counts == {"NAME": 3}
    again, _ = sur.apply(text, merge_entities(ents), "p:1")
    assert again == out  # same patient, same secret: same surrogates (recomputed, not stored)


def test_surrogates_depend_on_secret_and_patient(settings):
    a = Surrogates(SECRET, settings).surrogate("NAME", "Smith", "p:1")
    b = Surrogates(bytes(32), settings).surrogate("NAME", "Smith", "p:1")
    names = {Surrogates(SECRET, settings).surrogate("NAME", "Smith", f"p:{i}") for i in range(20)}
    assert a != "Smith" and len(names) > 5
    assert a != b or len(names) > 5


def test_date_shift_preserves_intervals(sur):
    scope = "p:42"
    off = sur.date_offset(scope)
    assert off != 0 and abs(off) <= 365
    adm, dc = "03/14/2023", "March 20, 2023"
    a = dt.datetime.strptime(sur.surrogate("DATE", adm, scope), "%m/%d/%Y").date()
    b = dt.datetime.strptime(sur.surrogate("DATE", dc, scope), "%B %d, %Y").date()
    assert (b - a).days == 6
    assert a == dt.date(2023, 3, 14) + dt.timedelta(days=off)


def test_date_formats_round_trip():
    assert shift_date_text("2021-03-14", 30) == "2021-04-13"
    assert shift_date_text("7/22", 10) == "8/1"
    assert shift_date_text("Mar. 3rd", 30) == "Apr. 2nd"
    assert shift_date_text("MARCH 3RD", 30) == "APRIL 2ND"
    assert shift_date_text("14.03.2021", 30) == "13.04.2021"
    assert shift_date_text("Christmas", 30) == "[DATE]"
    assert shift_date_text("March 3, 2021", 0, "year_only") == "2021"
    assert shift_date_text("7/22", 0, "year_only") == "[DATE]"


def test_operators_per_type(settings):
    s = settings.model_copy(update={"operators": {"NAME": "tag", "PHONE": "redact", "DATE": "keep"}})
    sur = Surrogates(SECRET, s)
    text = "Call Mary at 555-123-4567 on 3/4/2021."
    ents = _ents(text, ("Mary", "NAME"), ("555-123-4567", "PHONE"), ("3/4/2021", "DATE"))
    out, counts = sur.apply(text, ents, "d:x")
    assert out == "Call [NAME] at  on 3/4/2021."
    assert counts == {"NAME": 1, "PHONE": 1, "DATE": 1}


def test_typed_surrogates_keep_format(sur):
    assert re.fullmatch(r"\d{3}-\d{2}-\d{4}", sur.surrogate("SSN", "123-45-6789", "p:1"))
    assert sur.surrogate("SSN", "123-45-6789", "p:1") != "123-45-6789"
    assert re.fullmatch(r"\(\d{3}\) \d{3}-\d{4}", sur.surrogate("PHONE", "(217) 555-0142", "p:1"))
    assert sur.surrogate("ZIP", "62704", "p:1") == "62700"
    assert sur.surrogate("ZIP", "03601", "p:1") == "00000"  # restricted ZIP3 036
    assert sur.surrogate("AGE", "92 y/o", "p:1") == "90+ y/o"
    assert sur.surrogate("EMAIL", "jsmith@gmail.com", "p:1").endswith("@example.org")
    assert sur.surrogate("IP_ADDRESS", "192.168.1.20", "p:1").startswith("10.")


def test_scrubber_end_to_end(settings):
    from appliance.scrub import Scrubber

    notes = [
        "Pt John Smith admitted 03/14/2023. Wife Mary at bedside. MRN 4452318.",
        "John Smith discharged 03/20/2023; call (217) 555-0142.",
    ]
    with Scrubber(settings, workers=1, secret=SECRET) as s:
        r1, r2 = s.scrub_batch(notes, ["P1", "P1"])
        other = s.scrub_batch([notes[0]], ["P2"])[0]
    joined = r1.text + r2.text
    for phi in ("John", "Smith", "Mary", "4452318", "03/14/2023", "555-0142"):
        assert phi not in joined
    name1 = r1.text.split(" admitted")[0].removeprefix("Pt ")
    assert r2.text.startswith(name1)  # same patient, same surrogate across records
    d1 = dt.datetime.strptime(re.search(r"\d\d/\d\d/\d{4}", r1.text).group(0), "%m/%d/%Y")
    d2 = dt.datetime.strptime(re.search(r"\d\d/\d\d/\d{4}", r2.text).group(0), "%m/%d/%Y")
    assert (d2 - d1).days == 6
    assert r1.counts["NAME"] >= 2 and r1.counts["MRN"] == 1 and r1.counts["DATE"] == 1
    assert other.text != r1.text  # another patient: other surrogates


def test_birth_year_over_89_is_clamped(sur):
    cutoff = dt.date.today().year - 90
    assert sur.surrogate("DATE", "03/02/1925", "p:9").endswith(str(cutoff))
    assert sur.surrogate("DATE", "March 3, 1931", "p:9").endswith(str(cutoff))
    assert sur.surrogate("DATE", "03/02/2001", "p:9")[-4:] in ("2000", "2001", "2002")  # recent years only shift
