"""Attack/accident: a name the scrubber does not replace (here a waived `keep` for NAME, so the real scrubber
leaves it) sits in one vault record. A tokenizer trained on the vault must not spell it out: its vocabulary
admits only words found in at least `tokenizer.min_records` records.  After ingest -> train -> export, no
plaintext piece of the canary is anywhere under the home, the TMPDIR the commands ran with, or the exported
GGUF (whose vocabulary ships to inference hosts)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

RECIPE = Path(__file__).resolve().parents[2] / "appliance" / "recipes" / "tiny_llama_full.yaml"
WORDS = ["patient", "presented", "with", "acute", "chest", "pain", "radiating", "to", "left", "arm", "shortness", "of", "breath", "history", "includes", "hypertension", "diabetes", "medications", "lisinopril", "metformin", "examination", "revealed", "mild", "edema", "troponin", "elevated", "admitted", "cardiology", "consulted", "heparin", "started", "plan", "follow", "up", "outpatient", "clinic", "weeks", "stable", "discharged", "afebrile", "oxygen", "saturation", "room", "air", "abdomen", "soft", "nontender", "gait", "steady", "wound", "clean"]
CANARY = ("Zebediah", "Quillfeather")


def _notes(n: int) -> list[str]:
    rng = random.Random(5)
    return [" ".join(rng.choice(WORDS) for _ in range(60)).capitalize() + "." for _ in range(n)]


@pytest.mark.llamacpp
@pytest.mark.parametrize("min_records", [5, 1])  # 1 = the old behaviour: proves the check can fail
def test_canary_name_in_one_record_never_enters_the_vocabulary(home, passphrase_file, cli, tmp_path, min_records):
    cfg = home.config_path
    cfg.write_text(cfg.read_text().replace("[scrub]\n", '[scrub]\noperators = { NAME = "keep" }\n')
                   + '\n[[waiver.scrub]]\ntypes = ["NAME"]\nreason = "tokenizer canary test: names kept on purpose"\n')
    notes = _notes(40)
    notes[7] += " Seen with Zebediah Quillfeather; Zebediah Quillfeather agrees. Zebediah Quillfeather signed."
    src = tmp_path / "notes.jsonl"
    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in notes))
    r = cli("vault", "ingest", str(src), "--source", "clinic-1", "--passphrase-file", str(passphrase_file),
            "--json", home=home)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["kept"] >= 35
    src.unlink()

    tmpdir = tmp_path / "tmpdir"  # the TMPDIR every step uses, scanned at the end
    tmpdir.mkdir()
    env = {"TMPDIR": str(tmpdir)}
    p = cli("train", "--config", str(RECIPE), "--passphrase-file", str(passphrase_file), "--json",
            "--set", "run.name=canary", "--set", "run.nproc=1", "--set", "train.max_steps=2",
            "--set", "train.warmup_steps=1", "--set", "checkpoint.every=2", "--set", "eval.every=2",
            "--set", "data.seq_len=32", "--set", "data.heldout_fraction=0.0",
            "--set", "model.init.vocab_size=4000", "--set", f"tokenizer.min_records={min_records}", home=home,
            env=env)
    assert p.returncode == 0, p.stderr[-4000:]
    tok_json = home.run_dir("canary") / "tokenizer" / "tokenizer.json"
    vocab = json.loads(tok_json.read_text())["model"]["vocab"]
    assert any("chest" in t for t in vocab)  # common words are still whole tokens (the check can fail)
    if min_records == 1:
        assert any(CANARY[1] in t for t in vocab)
        return
    # ingest -> train -> export: the shipped GGUF (its embedded vocabulary) is scanned with everything else
    x = cli("export", "gguf", "--model", json.loads(p.stdout)["final_model"], "--type", "f32",
            "--passphrase-file", str(passphrase_file), "--json", home=home, env=env)
    assert x.returncode == 0, x.stderr[-4000:]
    gguf = next(Path(json.loads(x.stdout)["path"]).glob("*.gguf"))
    assert b"chest" in gguf.read_bytes()  # the vocabulary is in the file: the scan below can find words
    scanned = 0
    for root in (home.root, tmpdir, gguf.parent):
        for f in root.rglob("*"):
            if f.is_file() and not f.is_symlink() and f.stat().st_size < 200_000_000:
                data = f.read_bytes()
                scanned += 1
                for word in CANARY:
                    assert word[:5].encode() not in data and word[-6:].encode() not in data, (f, word)
    assert scanned > 20
