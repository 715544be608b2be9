"""Site adaptation: review -> train (sealed in the home) -> models -> eval --candidate -> activate (audited)."""

from __future__ import annotations

import json

import pytest

NAME = "Quixotewicz"


_NOTE = ("NURSING NOTE 0700-1900\nNeuro: alert, MAE. Pt {n}OOB to chair.\nResp: PSV 10/5, sats 97%.\n"
         "Social: wife {w} visited, updated re plan. Levo gtt weaned off.\nPlan: transfer to {l} rehab on {d}.\n")


def _fill(i: int, mark) -> str:
    return _NOTE.format(n=mark("NAME", NAME) + " ", w=mark("NAME", "Marguerite " + NAME), l=mark("LOCATION", "Fenwick Hall"), d=mark("DATE", f"3/{i + 4}"))


def _notes() -> list[dict]:
    return [{"id": f"n{i}", "text": _fill(i, lambda t, v: v)} for i in range(8)]


def _markup(path) -> None:
    path.write_text("\n".join(f"=== note: n{i} ===\n" + _fill(i, lambda t, v: f"[[{t}:{v}]]") for i in range(8)))


def test_site_model_sealed_activated_audited(home, keys, tmp_path):
    from appliance.audit import read_entries
    from appliance.errors import IntegrityError
    from appliance.scrub.learned.site import load_labelled, train_site
    from appliance.scrub.learned.store import activate, active_id, active_model, list_models

    labelled = tmp_path / "site.txt"
    _markup(labelled)
    assert any(s["type"] == "LOCATION" for r in load_labelled(labelled) for s in r["spans"])
    res = train_site(keys, labelled, synthetic=0)
    mid = res["model"]
    stored = b"".join(p.read_bytes() for p in home.scrub_models_dir.iterdir())
    model, card = active_model(keys) or (None, None)
    assert model is None  # trained, not yet active
    activate(keys, mid)
    model, card = active_model(keys)
    assert NAME.lower().encode() in model  # the model does hold the site's words ...
    assert NAME.lower().encode() not in stored.lower() and b"marguerite" not in stored.lower()  # ... never in plaintext
    assert [r["id"] for r in list_models(home) if r["active"]] == [mid]
    acts = [e for e in read_entries(home) if e["action"] == "scrub.model.activate"]
    assert acts and acts[-1]["object"]["model"] == mid
    trained = [e for e in read_entries(home) if e["action"] == "scrub.model.train"]
    assert trained[-1]["object"]["training"]["site"]["notes"] == 8 and NAME not in json.dumps(trained)
    # an insider repoints the scrubber by editing the pointer: the next load refuses
    ptr = home.scrub_models_dir / "active.json"
    ptr.write_text(json.dumps({"active": "default", "mac": "0" * 64}))
    with pytest.raises(IntegrityError):
        active_id(home, keys)


def test_review_train_eval_cli(cli, home, passphrase_file, tmp_path):
    src = tmp_path / "notes.jsonl"
    src.write_text("".join(json.dumps(n) + "\n" for n in _notes()))
    labels = tmp_path / "labels.txt"
    p = cli("scrub", "review", "--source", str(src), "-o", str(labels), "--sample", "4", "--yes", "--json", home=home, check=True)
    rev = json.loads(p.stdout)
    assert rev["notes"] == 4 and rev["items"] >= rev["spans"] > 0 and "[[NAME:" in labels.read_text()
    gold = tmp_path / "gold.txt"
    _markup(gold)
    pf = ["--passphrase-file", str(passphrase_file)]
    p = cli("scrub", "train", str(gold), "--synthetic", "0", "--json", *pf, home=home, check=True)
    mid = json.loads(p.stdout)["model"]
    p = cli("scrub", "eval", str(gold), "--candidate", mid, "--json", *pf, home=home, check=True)
    ev = json.loads(p.stdout)
    assert ev["active_model"] == "default" and ev["candidate_model"] == mid
    assert set(ev["candidate"]) >= {"recall", "char_precision", "non_phi_replaced"} and ev["candidate"]["recall"] >= 0.9
    p = cli("scrub", "models", "activate", mid, "--json", *pf, home=home, check=True)
    p = cli("scrub", "models", "--json", home=home, check=True)
    rows = json.loads(p.stdout)
    assert [r["id"] for r in rows if r["active"]] == [mid] and rows[0]["id"] == "default"
