"""The CLI contracts other tools rely on: detect, apply, eval, convert-devset (real subprocess)."""

from __future__ import annotations

import json
import re


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
    out_recs = [json.loads(l) for l in scrubbed.read_text().splitlines()]
    assert [r["id"] for r in out_recs] == [n["id"] for n in notes] and all("patient" in r for r in out_recs)
    det = {l["id"]: l["entities"] for l in lines}
    names = kept = 0
    for n, r in zip(notes, out_recs):
        for s in n["spans"]:
            value = n["text"][s["start"] : s["end"]]
            if s["type"] in ("SSN", "MRN", "PHONE", "EMAIL"):
                assert value not in r["text"], value  # format-preserving surrogates never equal the original
            elif s["type"] == "NAME" and len(value) > 3:
                names += 1
                # A leak is a name left in place because it was not detected; a random surrogate that
                # happens to equal another real name in the note is not one.
                covered = any(e["start"] <= s["start"] and s["end"] <= e["end"] for e in det[n["id"]])
                kept += value in r["text"] and not covered
    assert names > 20 and kept <= names * 0.05



def test_apply_txt_eval_convert_in_process(tmp_path, monkeypatch):
    """The same commands through the Typer app in this process (the spaCy model is already loaded)."""
    from typer.testing import CliRunner

    from appliance.cli.main import app
    from appliance.scrub.synthetic import write_corpus

    monkeypatch.setenv("APPLIANCE_HOME", str(tmp_path / "home"))
    runner = CliRunner()
    txt = tmp_path / "note.txt"
    txt.write_text("Pt Jane Doe seen 7/22 by Dr. Patel, call 555-123-4567.")
    r = runner.invoke(app, ["scrub", "apply", str(txt), "-o", str(tmp_path / "note.out.txt"), "--workers", "1", "--json"])
    assert r.exit_code == 0, r.output
    out = (tmp_path / "note.out.txt").read_text()
    # whole words: the surrogate is drawn under a random key and may contain a real name ("Janet" for "Jane")
    assert not re.search(r"\b(?:Jane|Patel)\b", out) and "555-123-4567" not in out and "seen" in out, out

    gold = tmp_path / "gold.jsonl"
    write_corpus(gold, n=8, seed=11)
    r = runner.invoke(app, ["scrub", "eval", str(gold), "--json", "--workers", "1"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    assert rep["appliance"]["overall"]["recall"] > 0.95 and "misses" in rep["appliance"]
    assert 0.0 <= rep["appliance"]["overall"]["clinical_vocab_kept"] <= 1.0  # the clinical damage figures
    r = runner.invoke(app, ["scrub", "eval", str(gold), "--workers", "1"])  # the table view
    assert r.exit_code == 0 and "OVERALL" in r.output
    assert re.search(r"clinical damage: [\d.]+ of \d+ non-PHI tokens replaced; [\d.]+ of \d+ clinical-vocabulary", r.output), r.output

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1}\n')
    r = runner.invoke(app, ["scrub", "detect", str(bad), "-o", str(tmp_path / "x.jsonl"), "--workers", "1"])
    assert r.exit_code != 0
