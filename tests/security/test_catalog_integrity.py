"""Catalog edits behind the log's back (issue 13, part 3): `vault verify` exits 3 naming the row or file."""

from __future__ import annotations

import json
import sqlite3

import pytest

from tests.conftest import run_cli

NOTES = [f"Patient {i} seen for follow up of hypertension, blood pressure {120 + i}/80, plan unchanged."
         for i in range(6)]


@pytest.fixture
def vault_site(site, tmp_path):
    home, pw = site
    src = tmp_path / "notes.jsonl"
    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in NOTES))
    p = run_cli("vault", "ingest", str(src), "--source", "clinic-a", "--passphrase-file", str(pw), "--json",
                home=home, check=True)
    ids = json.loads(p.stdout)["record_ids"]
    assert len(ids) == len(NOTES)
    return home, pw, ids


def _sql(home, stmt, *args):
    conn = sqlite3.connect(home.catalog_path)
    with conn:
        conn.execute(stmt, args)
    conn.close()


def _verify(home, pw):
    return run_cli("vault", "verify", "--passphrase-file", str(pw), home=home)


def test_intact_catalog_verifies(vault_site):
    home, pw, _ids = vault_site
    p = _verify(home, pw)
    assert p.returncode == 0 and "catalog state: ok" in p.stdout, p.stdout + p.stderr


def test_deleted_record_row(vault_site):
    home, pw, ids = vault_site
    _sql(home, "DELETE FROM signatures WHERE record_id = ?", ids[2])
    _sql(home, "DELETE FROM lsh_bands WHERE record_id = ?", ids[2])
    _sql(home, "DELETE FROM records WHERE id = ?", ids[2])
    p = _verify(home, pw)
    assert p.returncode == 3 and f"row record:{ids[2]} was deleted" in p.stderr


def test_faked_shred(vault_site):
    home, pw, ids = vault_site
    _sql(home, "UPDATE records SET state = 'shredded', shredded_at = '2026-01-01T00:00:00Z' WHERE id = ?", ids[0])
    p = _verify(home, pw)
    assert p.returncode == 3 and f"row record:{ids[0]} was edited" in p.stderr


def test_changed_source(vault_site):
    home, pw, ids = vault_site
    _sql(home, "UPDATE records SET source = 'clinic-b' WHERE id = ?", ids[1])
    p = _verify(home, pw)
    assert p.returncode == 3 and f"row record:{ids[1]} was edited" in p.stderr


def test_deleted_catalog_file(vault_site):
    home, pw, _ids = vault_site
    for suffix in ("", "-wal", "-shm"):
        (home.catalog_path.parent / (home.catalog_path.name + suffix)).unlink(missing_ok=True)
    p = _verify(home, pw)
    assert p.returncode == 3 and "vault/catalog.sqlite is missing" in p.stderr and "deleted" in p.stderr


def test_edited_manifest_and_replayed_state_entry(vault_site):
    home, pw, ids = vault_site
    _sql(home, "UPDATE records SET source = 'elsewhere' WHERE id = ?", ids[3])
    home.catalog_state_path.write_text("{}")  # the insider rewrites the manifest too
    p = _verify(home, pw)
    assert p.returncode == 3 and "catalog.state.json does not match the signed state" in p.stderr
    # copying an old signed state entry to the end of the log is a replay
    lines = home.audit_log_path.read_text().splitlines()
    old = next(json.loads(x) for x in lines if json.loads(x)["action"] == "vault.state")
    from appliance.audit import record

    record(home, "vault.state", old["object"])
    p = _verify(home, pw)
    assert p.returncode == 3 and "replayed" in p.stderr


def test_a_later_write_does_not_launder_an_edit(vault_site, tmp_path):
    home, pw, ids = vault_site
    _sql(home, "UPDATE records SET source = 'clinic-b' WHERE id = ?", ids[4])
    src = tmp_path / "more.jsonl"
    src.write_text(json.dumps({"text": "Follow up visit, wound healing well, sutures out next week."}) + "\n")
    run_cli("vault", "ingest", str(src), "--source", "clinic-a", "--passphrase-file", str(pw), home=home, check=True)
    p = run_cli("audit", "show", "--action", "vault.state.mismatch", "--json", home=home, check=True)
    (entry,) = json.loads(p.stdout)
    assert entry["outcome"] == "integrity_error" and f"row record:{ids[4]} was edited" in entry["object"]["problems"][0]


@pytest.fixture
def patient_site(site, tmp_path):
    """Notes ingested with a patient and a date column: the catalog holds keyed `record_meta` rows."""
    home, pw = site
    src = tmp_path / "notes.jsonl"
    src.write_text("".join(json.dumps({"text": t, "patient": f"MRN-{i % 2}", "date": "2026-03-0{}".format(i + 1)})
                           + "\n" for i, t in enumerate(NOTES[:4])))
    p = run_cli("vault", "ingest", str(src), "--source", "clinic-a", "--patient-column", "patient",
                "--date-column", "date", "--passphrase-file", str(pw), "--json", home=home, check=True)
    ids = json.loads(p.stdout)["record_ids"]
    conn = sqlite3.connect(home.catalog_path)
    keys = dict(conn.execute("SELECT record_id, patient_key FROM record_meta"))
    conn.close()
    assert set(keys) == set(ids) and keys[ids[0]] != keys[ids[1]] and keys[ids[0]] == keys[ids[2]]
    assert _verify(home, pw).returncode == 0
    return home, pw, ids, keys


def test_record_meta_repointed_to_another_patient(patient_site):
    """Re-pointing a note to another patient's key would make a patient shred miss it (or take the wrong one)."""
    home, pw, ids, keys = patient_site
    _sql(home, "UPDATE record_meta SET patient_key = ? WHERE record_id = ?", keys[ids[1]], ids[0])
    p = _verify(home, pw)
    assert p.returncode == 3 and f"row meta:{ids[0]} was edited" in p.stderr, p.stdout + p.stderr


def test_record_meta_row_deleted(patient_site):
    home, pw, ids, _keys = patient_site
    _sql(home, "DELETE FROM record_meta WHERE record_id = ?", ids[3])
    p = _verify(home, pw)
    assert p.returncode == 3 and f"row meta:{ids[3]} was deleted" in p.stderr, p.stdout + p.stderr
