"""Hospital exports: text/id/patient/date columns, patient keys never stored raw, shred by patient."""

from __future__ import annotations

import csv
import json
import random

import pytest

from appliance.errors import UsageError
from appliance.vault import metadata


def _export(path, vt, rows):
    rng = random.Random(11)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["note_id", "patient_id", "note_text", "written_at"])
        for nid, pid, date in rows:
            w.writerow([nid, pid, vt.note(rng), date])
    return path


ROWS = [("N-1", "MRN-0042", "2026-01-05"), ("N-2", "MRN-0042", "2026-02-11T08:30"), ("N-3", "MRN-0077", "2026-02-20"),
        ("N-4", "MRN-0077", ""), ("N-5", "MRN-0099", "03/15/2026")]
COLS = {"text_column": "note_text", "id_column": "note_id", "patient_column": "patient_id",
        "date_column": "written_at"}


def test_hospital_csv_keeps_patient_as_keyed_hash_and_month(vault, keys, scrubber, tmp_path, vt, home):
    f = _export(tmp_path / "export.csv", vt, ROWS)
    rep = vault.ingest([f], "hosp", scrubber=scrubber, columns=COLS)
    assert not rep.failed and rep.kept == 5, rep.to_dict()
    ex = vault.record_extras()
    assert len(ex) == 5
    by_patient = {}
    for rid, x in ex.items():
        by_patient.setdefault(x.patient_key, []).append(rid)
    assert sorted(len(v) for v in by_patient.values()) == [1, 2, 2]
    assert metadata.patient_key(keys, "MRN-0042") in by_patient
    assert metadata.patient_key(keys, " MRN-0042 ") == metadata.patient_key(keys, "MRN-0042")
    assert sorted(x.note_month or "-" for x in ex.values()) == ["-", "2026-01", "2026-02", "2026-02", "2026-03"]
    assert all(x.source_id_key and len(x.source_id_key) == 64 for x in ex.values())
    # nothing raw on disk: neither the patient ids, nor the note ids, nor a full date
    vault.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    blob = b"".join(p.read_bytes() for p in (home.root / "vault").glob("catalog.sqlite*"))
    for raw in (b"MRN-0042", b"MRN-0077", b"N-1", b"2026-01-05", b"2026-02-20"):
        assert raw not in blob, raw


def test_config_keys_work_like_the_options(home, keys, scrubber, tmp_path, vt):
    from appliance.vault import Vault

    vt.set_vault_config(home, **COLS)
    with Vault.open(home, keys) as v:
        rep = v.ingest([_export(tmp_path / "e.csv", vt, ROWS[:2])], "cfg", scrubber=scrubber)
        assert rep.kept == 2 and len({x.patient_key for x in v.record_extras().values()}) == 1


def test_jsonl_fields(vault, scrubber, tmp_path, vt):
    rng = random.Random(5)
    f = tmp_path / "e.jsonl"
    f.write_text("".join(json.dumps({"body": vt.note(rng), "pid": p, "d": "2025-12-01"}) + "\n" for p in "ABA"))
    rep = vault.ingest([f], "j", scrubber=scrubber,
                       columns={"text_column": "body", "patient_column": "pid", "date_column": "d"})
    assert rep.kept == 3
    assert len({x.patient_key for x in vault.record_extras().values()}) == 2


def test_missing_column_names_the_option_and_config_key(vault, scrubber, tmp_path, vt):
    f = _export(tmp_path / "export.csv", vt, ROWS[:1])
    rep = vault.ingest([f], "hosp", scrubber=scrubber)  # default text column "text" is not there
    err = rep.errors[0]["error"]
    assert "'text'" in err and "--text-column" in err and "text_column" in err and "note_text" in err, err
    rep = vault.ingest([f], "hosp", scrubber=scrubber, columns={"text_column": "note_text", "patient_column": "mrn"})
    err = rep.errors[0]["error"]
    assert "'mrn'" in err and "--patient-column" in err and "patient_column" in err, err
    bad = tmp_path / "baddate.csv"
    bad.write_text(f"note_text,written_at\n\"{vt.note(random.Random(1))}\",last tuesday\n")
    rep = vault.ingest([bad], "hosp", scrubber=scrubber, columns={"text_column": "note_text", "date_column": "written_at"})
    assert "not a date" in rep.errors[0]["error"] and vault.list_records(["hosp"]) == []


def test_shred_patient_shreds_only_that_patient_and_runs_hooks(vault, keys, scrubber, tmp_path, vt, home):
    from appliance.vault import on_shred

    vault.ingest([_export(tmp_path / "export.csv", vt, ROWS)], "hosp", scrubber=scrubber, columns=COLS)
    target = set(metadata.active_records_of_patient(vault.conn, metadata.patient_key(keys, "MRN-0077")))
    assert len(target) == 2
    seen = []
    hook = seen.extend  # the registry's lineage flagging is one of these hooks
    on_shred.append(hook)
    try:
        res = vault.shred(patient="MRN-0077")
    finally:
        on_shred.remove(hook)
    assert set(res["shredded"]) == target and res["by"] == "patient" and set(seen) == target
    assert {m.id for m in vault.list_records(["hosp"], state="shredded")} == target
    assert len(vault.list_records(["hosp"])) == 3
    assert not (set(vault.record_extras()) & target)  # no patient link left behind
    entry = [json.loads(x) for x in (home.root / "audit" / "log.jsonl").read_text().splitlines()][-1]
    assert entry["action"] == "vault.shred" and "MRN-0077" not in json.dumps(entry)
    with pytest.raises(UsageError, match="no active records for that patient"):
        vault.shred(patient="MRN-0077")
    with pytest.raises(UsageError):
        vault.shred(patient="x", source="hosp")


def test_cli_shred_patient(home, keys, scrubber, tmp_path, vt, cli, passphrase_file):
    from appliance.vault import Vault

    with Vault.open(home, keys) as v:
        v.ingest([_export(tmp_path / "export.csv", vt, ROWS)], "hosp", scrubber=scrubber, columns=COLS)
    r = cli("vault", "shred", "--patient", "MRN-0042", "--passphrase-file", str(passphrase_file), "--json",
            home=home)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["count"] == 2
    h = cli("vault", "ingest", "--help")
    for opt in ("--text-column", "--patient-column", "--date-column", "--id-column"):
        assert opt in h.stdout
