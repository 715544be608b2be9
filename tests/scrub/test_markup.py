"""The inline-markup gold format a site uses to label its own notes (`scrub convert-devset markup`)."""

from __future__ import annotations

import pytest

from appliance.errors import InputError
from appliance.scrub.devsets import convert_markup


def test_offsets_point_at_the_values(tmp_path):
    src = tmp_path / "notes.phi.txt"
    src.write_text("=== note: a ===\nPt [[NAME:Ana Lima]] seen [[DATE:3/4]] in [[LOCATION:Salem]], [[~STATE:MA]].\n"
                   "=== note: b ===\nno phi\n", encoding="utf-8")
    a, b = convert_markup(src)
    assert a["id"] == "a" and a["text"] == "Pt Ana Lima seen 3/4 in Salem, MA."
    assert [(a["text"][s["start"]:s["end"]], s["type"]) for s in a["spans"]] == [
        ("Ana Lima", "NAME"), ("3/4", "DATE"), ("Salem", "LOCATION"), ("MA", "~STATE")]
    assert b == {"id": "b", "text": "no phi", "spans": []}


@pytest.mark.parametrize("body, needle", [
    ("=== note: x ===\nbad [[FOO:bar]]\n", ":2: note x: unknown PHI type 'FOO'"),
    ("=== note: x ===\nopen [[NAME:Ann\n", "not a complete"),
    ("no header\n", "no '=== note: ID ===' line"),
    ("=== note: x ===\na\n=== note: x ===\nb\n", "appears twice"),
])
def test_bad_markup_names_the_place(tmp_path, body, needle):
    src = tmp_path / "bad.phi.txt"
    src.write_text(body, encoding="utf-8")
    with pytest.raises(InputError) as e:
        convert_markup(src)
    assert needle in str(e.value)


def test_courtesy_titles_are_neutral_in_scoring():
    """'Dr' inside or outside a gold NAME span neither helps nor hurts: conventions differ between sets."""
    from appliance.scrub.evaluate import score

    inside = [{"id": "a", "text": "seen by Dr Okafor today", "spans": [{"start": 8, "end": 17, "type": "NAME"}]}]
    outside = [{"id": "b", "text": "seen by Dr Okafor today", "spans": [{"start": 11, "end": 17, "type": "NAME"}]}]
    for gold in (inside, outside):
        for pred in ([(11, 17, "NAME")], [(8, 17, "NAME")]):
            r = score(gold, [pred])["overall"]
            assert (r["recall"], r["precision"], r["gold_tokens"]) == (1.0, 1.0, 1), (gold, pred, r)
    r = score(inside, [[(8, 10, "NAME")]])["overall"]  # only the title found: nothing of the name recalled
    assert r["recall"] == 0.0 and r["pred_tokens"] == 0
