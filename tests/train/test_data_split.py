"""The held-out split is grouped by patient when patients are known, and the manifest says so."""

from __future__ import annotations

from appliance.train.data import InMemorySource, build_manifest, manifest_for


def test_patient_grouped_split():
    texts = {f"r{i:03d}": f"note {i}" for i in range(400)}
    patients = {rid: f"pk{i // 4}" for i, rid in enumerate(sorted(texts))}  # 100 patients × 4 notes
    m = manifest_for(InMemorySource(texts, patients=patients), 0.2)
    assert m["grouped_by"] == "patient" and m["records_with_patient"] == 400
    sides: dict[str, set] = {}
    for r in m["records"]:
        sides.setdefault(r["patient"], set()).add(r["split"])
    assert all(len(s) == 1 for s in sides.values())  # no patient on both sides
    assert 5 <= sum(s == {"heldout"} for s in sides.values()) <= 40
    # by record, the same data would put some patient on both sides
    plain = build_manifest(InMemorySource(texts).list_records(), 0.2)
    assert plain["grouped_by"] == "record" and all("patient" not in r for r in plain["records"])
    split = {r["id"]: r["split"] for r in plain["records"]}
    mixed = [p for p in set(patients.values()) if len({split[r] for r, q in patients.items() if q == p}) > 1]
    assert mixed
    half = manifest_for(InMemorySource(texts, patients=dict(list(patients.items())[:200])), 0.2)
    assert half["grouped_by"] == "patient_where_known" and half["records_with_patient"] == 200
