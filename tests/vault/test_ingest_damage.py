"""Each ingest batch records the clinical damage an unlabelled batch can show: clinical vocabulary kept."""

from __future__ import annotations

from appliance.audit import read_entries

NOTES = [
    "Lumbar puncture done today, CSF sent. Levo gtt weaning, PSV 10/5, MAE, neuro intact.",
    "Pt seen by Dr. Okonkwo. Lumbar drain clamped at midnight; propofol off, extubated to NC.",
]


def test_ingest_batch_records_clinical_vocabulary_kept(vault, scrubber, tmp_path, vt, home):
    rep = vault.ingest([vt.write_jsonl(tmp_path / "n.jsonl", NOTES)], "icu", scrubber=scrubber)
    s = rep.summary()
    assert rep.kept == 2 and s["clinical_vocab_tokens"] >= 10, s
    assert 0.9 <= s["clinical_vocab_kept"] <= 1.0, s  # the name goes; the shorthand stays
    (batch,) = [e for e in read_entries(home, action="vault.ingest.batch") if e["object"]["source"] == "icu"] or [None]
    assert batch is not None
    d = batch["object"]
    assert d["clinical_vocab_tokens"] == s["clinical_vocab_tokens"] and d["clinical_vocab_kept"] == s["clinical_vocab_kept"]
    (run,) = [e for e in read_entries(home, action="vault.ingest") if e["action"] == "vault.ingest"]
    assert run["object"]["clinical_vocab_kept"] == s["clinical_vocab_kept"]
