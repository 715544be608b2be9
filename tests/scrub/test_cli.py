"""The CLI contracts other tools rely on: detect, apply, eval, convert-devset (real subprocess)."""

from __future__ import annotations

import json


def test_detect_apply_eval(cli, tmp_path):
    from appliance.scrub.synthetic import generate_notes

    notes = generate_notes(6, seed=3)
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": n["id"], "text": n["text"], "patient": n["patient"]}) + "\n" for n in notes))
    gold = tmp_path / "gold.jsonl"
    gold.write_text("".join(json.dumps({"id": n["id"], "text": n["text"], "spans": n["spans"]}) + "\n" for n in notes))
    env = {"APPLIANCE_HOME": str(tmp_path / "home")}

    out = tmp_path / "det.jsonl"
    p = cli("scrub", "detect", str(src), "-o", str(out), "--workers", "1", "--json", env=env, check=True)
    assert json.loads(p.stdout)["records"] == 6
    lines = [json.loads(l) for l in out.read_text().splitlines()]
    assert [l["id"] for l in lines] == [n["id"] for n in notes]
    for l, n in zip(lines, notes):
        for e in l["entities"]:
            assert set(e) == {"start", "end", "type", "score"} and 0 <= e["start"] < e["end"] <= len(n["text"])

    scrubbed = tmp_path / "out.jsonl"
    p = cli("scrub", "apply", str(src), "-o", str(scrubbed), "--workers", "1", "--json", env=env, check=True)
    res = json.loads(p.stdout)
    assert res["records"] == 6 and res["replaced"] > 50 and all(isinstance(v, int) for v in res["counts"].values())
    text = scrubbed.read_text()
    for n in notes:
        for s in n["spans"]:
            value = n["text"][s["start"] : s["end"]]
            if s["type"] in ("NAME", "SSN", "MRN", "PHONE", "EMAIL") and len(value) > 3:
                assert value not in text, value

    txt = tmp_path / "note.txt"
    txt.write_text("Pt Jane Doe seen 7/22 by Dr. Patel, call 555-123-4567.")
    p = cli("scrub", "apply", str(txt), "-o", str(tmp_path / "note.out.txt"), "--workers", "1", env=env, check=True)
    assert "Jane" not in (tmp_path / "note.out.txt").read_text()

    p = cli("scrub", "eval", str(gold), "--json", "--workers", "1", env=env, check=True)
    rep = json.loads(p.stdout)
    assert rep["appliance"]["overall"]["recall"] > 0.9 and "misses" in rep["appliance"]
