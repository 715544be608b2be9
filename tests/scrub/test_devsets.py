"""Dev-set and synthetic-corpus evaluations with recall floors just under measured figures."""

from __future__ import annotations

import json

import pytest

from tests.scrub.conftest import dev_file


def _eval(engine, records):
    from appliance.scrub.evaluate import score

    ents = engine.detect([r["text"] for r in records])
    return score(records, [[(e.start, e.end, e.type) for e in es] for es in ents])


def test_asq_phi_subset(engine, tmp_path):
    from appliance.scrub.devsets import convert_devset

    out = tmp_path / "asq.jsonl"
    info = convert_devset("asq", dev_file("asq_phi_synthetic_clinical_queries.txt"), out)
    assert info["records"] == 1051 and info["safe_harbor_spans"] > 2900
    recs = [json.loads(l) for l in out.read_text().splitlines()][::4]  # a fixed quarter keeps the suite fast
    r = _eval(engine, recs)
    assert r["overall"]["recall"] >= ASQ_RECALL_FLOOR, r["overall"]
    assert r["overall"]["values_covered"] >= ASQ_VALUES_FLOOR, r["misses"][:10]
    assert r["overall"]["precision"] >= 0.85


def test_presidio_synth_subset(engine, tmp_path):
    from appliance.scrub.devsets import convert_devset

    out = tmp_path / "synth.jsonl"
    info = convert_devset("presidio-synth", dev_file("presidio_synth_dataset_v2.json"), out)
    assert info["records"] == 1500
    recs = [json.loads(l) for l in out.read_text().splitlines()][::5]
    r = _eval(engine, recs)
    assert r["overall"]["recall"] >= SYNTH_RECALL_FLOOR, r["overall"]


def test_synthetic_clinical_notes(engine):
    from appliance.scrub.synthetic import generate_notes

    recs = generate_notes(60, seed=1234)
    r = _eval(engine, recs)
    assert r["overall"]["recall"] >= NOTES_RECALL_FLOOR, (r["overall"], r["misses"][:10])
    assert r["overall"]["precision"] >= 0.75
    month2 = _eval(engine, generate_notes(30, seed=99, topic="month2"))
    assert month2["overall"]["recall"] >= NOTES_RECALL_FLOOR - 0.01, month2["overall"]


@pytest.mark.parametrize("name", ["clinical_dev", "clinical_dev2", "clinical_dev3", "clinical_dev4"])
def test_clinical_dev_notes(engine, name):
    """Hand-labelled clinical notes in many styles (nursing, discharge, telephone, radiology, UPPER, lower).

    ``clinical_dev2`` and ``clinical_dev3`` (a former blind set) are tuned only through general rule families."""
    from pathlib import Path

    from appliance.scrub.devsets import convert_markup

    src = Path(__file__).resolve().parents[1] / "data" / "scrub" / f"{name}.phi.txt"
    if not src.exists():
        pytest.skip(f"tests/data/scrub/{name}.phi.txt is not in this checkout")
    recs = convert_markup(src)
    assert len(recs) >= 40
    r = _eval(engine, recs)
    recall_floor, precision_floor = CLINICAL_FLOORS[name]
    assert r["overall"]["recall"] >= recall_floor, (r["overall"], r["misses"][:10])
    assert r["overall"]["precision"] >= precision_floor, r["overall"]


def test_scorer_counts_tokens():
    from appliance.scrub.evaluate import score

    gold = [{"id": "a", "text": "Pt John Smith seen 3/4 by Acme Corp", "spans": [
        {"start": 3, "end": 13, "type": "NAME"}, {"start": 19, "end": 22, "type": "DATE"},
        {"start": 26, "end": 35, "type": "~ORGANIZATION"}]}]
    r = score(gold, [[(3, 7, "NAME"), (26, 30, "FACILITY"), (0, 2, "NAME")]])
    assert r["per_type"]["NAME"]["recall"] == 0.5  # John found, Smith missed
    assert r["per_type"]["DATE"]["recall"] == 0.0
    assert r["overall"]["precision"] == 0.5  # "John" right, "Pt" wrong; "Acme" neutral
    assert {m["missed_tokens"] for m in r["misses"]} == {"Smith", "3 4"}


# Floors sit just under the figures measured on these subsets (see the issue note); a regression fails.
# titles ("Dr", "Mrs") are neutral tokens in scoring (asq puts them inside NAME values, our notes outside)
ASQ_RECALL_FLOOR = 0.996  # measured 0.9976 on all 1,051 queries
ASQ_VALUES_FLOOR = 0.998  # measured 1.0
SYNTH_RECALL_FLOOR = 0.925  # measured 0.930 on the fifth (0.934 on all 1,500)
NOTES_RECALL_FLOOR = 0.998  # measured 1.0 (seed 1234) and 1.0 (month2)
# (recall, precision) floors: clinical_dev measured 0.986 / 0.805 on its 50 hand-labelled notes; clinical_dev2
# measured 0.990 / 0.806 on the second 50 (0.920 / 0.795 before the general rule families); clinical_dev3, blind
# until this round, measured 0.944 / 0.792 blind and 0.996 / 0.801 after the family-10 rules
# span-edge trimming (family 11) and the state/address fixes: dev 0.9855/0.871, dev2 0.990/0.855, dev3 0.995/0.865,
# dev4 (the latest blind set, opened for tuning) 0.971/0.824; after relative/credential/street/chain families
# dev4 measured 0.990/0.828
CLINICAL_FLOORS = {
    "clinical_dev": (0.984, 0.865),
    "clinical_dev2": (0.988, 0.85),
    "clinical_dev3": (0.994, 0.86),
    "clinical_dev4": (0.988, 0.826),
}
