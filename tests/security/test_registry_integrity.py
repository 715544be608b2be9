"""Registry edits behind the log's back (issue 13, parts 2-3): `models verify` exits 3 naming what changed."""

from __future__ import annotations

import sqlite3

import pytest

from appliance import registry
from tests.conftest import PASSPHRASE, run_cli
from tests.registry.conftest import build_tiny_model
from tests.registry.test_versions import _fake_run, _manifest


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("snap") / "tiny")


@pytest.fixture
def models_site(site, snapshot):
    from appliance.keys import unlock_home

    home, pw = site
    keys = unlock_home(home, PASSPHRASE)
    base = registry.import_model(home, keys, snapshot)
    m1 = _manifest(["a1", "a2", "a3"], ["a9"])
    run_dir, recipe = _fake_run(home, "r1", snapshot, m1)
    v1 = registry.register_run(home, keys, run_dir, run_dir / "final", m1, recipe)
    run_cli("models", "promote", base, "--passphrase-file", str(pw), home=home, check=True)
    run_cli("models", "promote", v1, "--passphrase-file", str(pw), home=home, check=True)
    return home, pw, base, v1


def _sql(home, stmt, *args):
    conn = sqlite3.connect(home.registry_path)
    with conn:
        conn.execute(stmt, args)
    conn.close()


def _verify(home, v):
    return run_cli("models", "verify", v, home=home)


def test_intact_registry_verifies(models_site):
    home, _pw, _base, v1 = models_site
    p = _verify(home, v1)
    assert p.returncode == 0, p.stdout + p.stderr


def test_champion_pointer_edit(models_site):
    home, _pw, base, v1 = models_site
    _sql(home, "UPDATE champion SET version = ?", base)
    p = _verify(home, v1)
    assert p.returncode == 3 and "row champion:1 was edited" in p.stderr


def test_champion_history_row_deleted(models_site):
    home, _pw, _base, v1 = models_site
    _sql(home, "DELETE FROM champion_history WHERE version = ?", v1)
    p = _verify(home, v1)
    assert p.returncode == 3 and "champion_history:" in p.stderr and "was deleted" in p.stderr


def test_version_status_edit(models_site):
    home, _pw, base, v1 = models_site
    _sql(home, "UPDATE versions SET status = 'rejected' WHERE version = ?", base)
    p = _verify(home, v1)
    assert p.returncode == 3 and f"row versions:{base} was edited" in p.stderr


def test_manifest_rows_deleted(models_site):
    home, _pw, _base, v1 = models_site
    _sql(home, "DELETE FROM manifest_records WHERE version = ? AND record_id = 'a1'", v1)
    p = _verify(home, v1)
    assert p.returncode == 3 and f"row manifest_records:{v1}/a1 was deleted" in p.stderr


def test_registry_database_deleted(models_site):
    home, _pw, _base, v1 = models_site
    for suffix in ("", "-wal", "-shm"):
        (home.registry_path.parent / (home.registry_path.name + suffix)).unlink(missing_ok=True)
    p = _verify(home, v1)
    assert p.returncode == 3 and "models/registry.sqlite is missing" in p.stderr


def test_champion_weights_replaced_and_resigned_with_a_planted_key(models_site):
    from appliance._internal import crypto
    from appliance.keys import Signer
    from appliance.registry import files

    home, _pw, _base, v1 = models_site
    d = home.model_dir(v1)
    w = d / "model.safetensors"
    w.write_bytes(w.read_bytes()[:-16] + b"\0" * 16)
    key = crypto.new_signing_key()
    (home.retired_keys_dir / f"{crypto.fingerprint(key)}.pub.pem").write_bytes(crypto.public_pem(key))
    header = {k: v for k, v in files.read_manifest(d).items() if k not in ("files", "key_id")}
    sha = files.sign_dir(d, header, Signer(key, "appliance/hospital"))
    _sql(home, "UPDATE versions SET manifest_sha256 = ? WHERE version = ?", sha, v1)
    p = _verify(home, v1)
    assert p.returncode == 3, p.stdout + p.stderr


def test_shred_after_lineage_rows_deleted_is_not_silent(models_site):
    from appliance.errors import IntegrityError

    home, _pw, _base, v1 = models_site
    _sql(home, "DELETE FROM manifest_records WHERE version = ?", v1)
    with pytest.raises(IntegrityError, match="behind the audit log"):
        registry.flag_shredded(home, ["a1"])  # what the vault's shred hook calls
    p = run_cli("models", "promote", v1, "--passphrase-file", str(_pw), home=home)
    assert p.returncode == 3 and f"manifest_records:{v1}/a1 was deleted" in p.stderr
