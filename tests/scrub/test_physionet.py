"""The PhysioNet deid development set: converter, patient-grouped folds, re-surrogation, vocabulary, floors.

Floors sit just under the figures measured (rules + vocabulary veto, no learning).  All 1,024 dev notes: token
recall 0.847, character precision 0.105, non-PHI tokens replaced 0.032.  The fixed third the test scores
(every third note): recall 0.817, character precision 0.111, non-PHI replaced 0.033, clinical vocabulary kept
0.966; the same third of the re-surrogated copy: 0.841, 0.115, 0.033, 0.967.  The issue's targets (0.99 / 0.75 / 1 %) are far above these: see
benchmarks/scrub_quality.py for the learned detector's figures.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.scrub.conftest import DEV_DIR

PHYSIONET = DEV_DIR / "physionet-deid-dev"
needs_dev = pytest.mark.skipif(not (PHYSIONET / "id.text").exists(), reason=f"{PHYSIONET} not present")

TEXT = "START_OF_RECORD=7||||1||||\nPt John Doe seen 3/14 at GH.\nCall 555-1234. Dr. Lee aware. 2098\n||||END_OF_RECORD\n"


def _mini(tmp_path, phrases: str):
    d = tmp_path / "deid"
    d.mkdir()
    (d / "id.text").write_text(TEXT + TEXT.replace("7||||1", "8||||1"))
    (d / "id-phi.phrase").write_text(phrases)
    return d


BODY = TEXT.split("\n", 1)[1]


def _span_line(pat, note, value, label):
    a = BODY.index(value)
    return f"{pat} {note} {a} {a + len(value)} {label} {value}\n"


def test_convert_devset_physionet_cli(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from appliance.cli.main import app

    phrases = "".join(_span_line("7", "1", v, t) for v, t in [("John Doe", "PTName"), ("3/14", "Date"), ("GH", "Location"),
                                                              ("555-1234", "Phone"), ("Lee", "HCPName"), ("2098", "DateYear")])
    src = _mini(tmp_path, phrases)
    monkeypatch.setenv("APPLIANCE_HOME", str(tmp_path / "home"))
    out = tmp_path / "gold.jsonl"
    r = CliRunner().invoke(app, ["scrub", "convert-devset", "physionet", str(src), "-o", str(out), "--json"])
    assert r.exit_code == 0, r.output
    recs = [json.loads(l) for l in out.read_text().splitlines()]
    assert [(x["id"], x["patient"]) for x in recs] == [("7-1", "7"), ("8-1", "8")]
    got = [(recs[0]["text"][s["start"] : s["end"]], s["type"]) for s in recs[0]["spans"]]
    assert got == [("John Doe", "NAME"), ("3/14", "DATE"), ("GH", "LOCATION"), ("555-1234", "PHONE"), ("Lee", "~HCPName"), ("2098", "~DateYear")]
    assert recs[1]["spans"] == []

    # a bad line is refused naming the file, the line and what to do
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "id.text").write_text(TEXT)
    (bad / "id-phi.phrase").write_text(_span_line("7", "1", "GH", "Location") + "7 1 10 999 Date x\n")
    r = CliRunner().invoke(app, ["scrub", "convert-devset", "physionet", str(bad), "-o", str(tmp_path / "b.jsonl")])
    msg = str(r.exception)  # the app object, not main.run: the InputError itself (main.run renders it, exit 2)
    assert r.exit_code != 0 and "id-phi.phrase:2" in msg and "outside the record" in msg, msg
    assert "offsets count characters" in r.exception.hint


def _recs(n_patients=12, notes=3):
    return [{"id": f"{p}-{n}", "patient": str(p), "text": "x", "spans": []} for p in range(n_patients) for n in range(notes)]


def test_patient_folds_group_by_patient_and_are_deterministic():
    from appliance.errors import InputError
    from appliance.scrub.physionet import patient_folds

    recs = _recs()
    folds = patient_folds(recs, k=5, seed=0)
    assert len(folds) == 5
    seen_test: dict[str, int] = {}
    for f, (train, test) in enumerate(folds):
        assert set(train).isdisjoint(test) and sorted(train + test) == list(range(len(recs)))
        train_p = {recs[i]["patient"] for i in train}
        for i in test:
            p = recs[i]["patient"]
            assert p not in train_p  # no patient on both sides of a fold
            assert seen_test.setdefault(p, f) == f  # nor in two test folds
    assert set(seen_test) == {r["patient"] for r in recs}
    assert patient_folds(recs, k=5, seed=0) == folds
    assert patient_folds(recs, k=5, seed=1) != folds
    with pytest.raises(InputError):
        patient_folds(_recs(n_patients=3), k=5)


_HEAD_WORDS = {"general", "hospital", "home", "medical", "center", "clinic", "house", "unit", "ward", "floor", "rehab", "nursing", "memorial"}


@needs_dev
def test_resurrogate_replaces_every_value_in_kind_and_shape():
    from appliance.scrub.physionet import convert_physionet, resurrogate

    recs = convert_physionet(PHYSIONET)
    assert len(recs) == 1024 and sum(len(r["spans"]) for r in recs) == 766
    assert len({r["patient"] for r in recs}) == 81
    fresh = resurrogate(recs, seed=0)
    assert resurrogate(recs, seed=0) == fresh  # reproducible
    changed = total = 0
    for old, new in zip(recs, fresh):
        o_sp, end = [], 0
        for sp in sorted(old["spans"], key=lambda s: s["start"]):
            if sp["start"] >= end:  # overlapping gold spans: the first is the value (as resurrogate reads them)
                o_sp.append(sp)
                end = sp["end"]
        assert [s["type"] for s in new["spans"]] == [s["type"] for s in o_sp]  # same kind, one for one
        pos_o = pos_n = 0
        for so, sn in zip(o_sp, new["spans"]):
            vo, vn = old["text"][so["start"] : so["end"]], new["text"][sn["start"] : sn["end"]]
            # offsets consistent: the text between values is unchanged
            assert old["text"][pos_o : so["start"]] == new["text"][pos_n : sn["start"]]
            pos_o, pos_n = so["end"], sn["end"]
            total += 1
            changed += vn.lower() != vo.lower()
            if so["type"] in ("PHONE", "ID"):
                assert re.sub(r"\d", "9", vn) == re.sub(r"\d", "9", vo), (vo, vn)  # digit layout kept
            elif re.fullmatch(r"[\d/.-]+", vo):
                assert re.sub(r"\d+", "9", vn) == re.sub(r"\d+", "9", vo), (vo, vn)  # a date keeps its notation
            if vo.isalpha():
                assert (vn.isupper(), vn.islower()) == (vo.isupper(), vo.islower()), (vo, vn)  # case kept
        assert old["text"][pos_o:] == new["text"][pos_n:]
        # no original name or place word is left in its note (kind words such as "Hospital" are kept on purpose)
        fresh_words = {w for sn in new["spans"] for w in re.findall(r"[a-z]{4,}", new["text"][sn["start"] : sn["end"]].lower())}
        for so, sn in zip(o_sp, new["spans"]):
            if so["type"] not in ("NAME", "LOCATION"):
                continue
            vo, vn = old["text"][so["start"] : so["end"]].lower(), new["text"][sn["start"] : sn["end"]].lower()
            for w in set(re.findall(r"[a-z]{4,}", vo)) - fresh_words - _HEAD_WORDS:  # a fresh value may be an old one
                if len(re.findall(rf"\b{w}\b", old["text"].lower())) == len(re.findall(rf"\b{w}\b", vo)):
                    assert not re.search(rf"\b{w}\b", new["text"].lower()), (w, new["id"])
    assert changed / total >= 0.95, (changed, total)


def test_vocabulary_sources_and_vetoed_words():
    from importlib import resources

    from appliance.scrub.types import Entity
    from appliance.scrub.vocabulary import clinical_vocab, veto

    data = resources.files("appliance.data").joinpath("scrub")
    sources = data.joinpath("SOURCES.md").read_text(encoding="utf-8")
    for f in data.iterdir():
        if f.name.endswith(".txt"):
            assert f"`{f.name}`" in sources, f"{f.name} is shipped without a source/licence row in SOURCES.md"
    rows = [l for l in sources.splitlines() if l.startswith("| ") and not l.startswith("| file") and not l.startswith("|---")]
    assert rows and all(l.rstrip(" |").split("|")[-1].strip() for l in rows)  # every row names a licence
    vocab = clinical_vocab()
    for w in ("lumbar", "puncture", "gtt", "levo", "psv", "mae", "neuro", "csru", "oob", "peep"):
        assert w in vocab, w
    text = "Lumbar puncture done; levo gtt weaning; PSV 10/5; MAE. Wife Maria Lumbar at bedside."
    def at(value: str, type_: str) -> Entity:
        return Entity(text.index(value), text.index(value) + len(value), type_, 0.8)

    ents = [at("Lumbar", "LOCATION"), at("levo gtt", "NAME"), at("10/5", "DATE"), at("MAE", "NAME"), at("Maria Lumbar", "NAME")]
    kept = {text[e.start : e.end] for e in veto(text, ents)}
    assert kept == {"Maria Lumbar"}, kept  # shorthand and the vent setting go; the cued name stays


@needs_dev
def test_physionet_floors(engine):
    from appliance.scrub.evaluate import score
    from appliance.scrub.physionet import convert_physionet, resurrogate

    recs = convert_physionet(PHYSIONET)
    # a fixed third of each (every third note) keeps the suite fast; its figures are in the module docstring
    for name, rs, rec_floor in (("dev third", recs[::3], 0.81), ("re-surrogated third", resurrogate(recs, seed=0)[::3], 0.83)):
        ents = engine.detect([r["text"] for r in rs])
        o = score(rs, [[(e.start, e.end, e.type) for e in es] for es in ents])["overall"]
        assert o["recall"] >= rec_floor, (name, o)
        assert o["char_precision"] >= 0.10, (name, o)
        assert o["non_phi_replaced"] <= 0.035, (name, o)
        assert o["clinical_vocab_kept"] >= 0.96, (name, o)
