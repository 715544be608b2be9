"""Key hierarchy: slots, wrong passphrase, corruption, rotation — through the library and the real CLI."""

from __future__ import annotations

import json
import os
import stat

import pytest

from appliance.errors import IntegrityError, Locked, UsageError
from appliance.keys import (
    add_passphrase,
    describe,
    public_keys,
    remove_slot,
    rotate_signing_key,
    unlock_home,
    unlock_with_recovery,
)
from appliance.keys.keyring import init_home

PW = b"correct horse battery staple"


def test_layout_is_private(home):
    assert stat.S_IMODE(os.stat(home.root).st_mode) == 0o700
    for sub in ("keys", "vault", "audit", "models", "runs", "artifacts"):
        assert stat.S_IMODE(os.stat(home.root / sub).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(home.keyring_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(home.signing_key_path).st_mode) == 0o600


def test_unlock_yields_same_keys_every_time(home):
    a = unlock_home(home, PW)
    b = unlock_home(home, PW)
    assert a.master_key == b.master_key and a.vault_kek == b.vault_kek
    assert a.signer.key_id == b.signer.key_id
    assert len(a.vault_kek) == 32


def test_wrong_passphrase_is_locked(home):
    with pytest.raises(Locked, match="wrong passphrase"):
        unlock_home(home, b"nope")


def test_recovery_key_unlocks(tmp_path):
    from appliance.home import Home

    h = Home(tmp_path / "h")
    res = init_home(h, PW, kdf_target_ms=1)
    keys = unlock_with_recovery(h, res.recovery_key)
    assert keys.master_key == unlock_home(h, PW).master_key
    with pytest.raises(Locked):
        unlock_with_recovery(h, res.recovery_key[:-4] + "AAAA")


def test_secret_material_not_in_keyring_in_clear(home):
    keys = unlock_home(home, PW)
    blob = home.keyring_path.read_bytes() + home.signing_key_path.read_bytes()
    assert keys.master_key not in blob and keys.vault_kek not in blob
    assert keys.master_key.hex().encode() not in blob


def test_add_and_remove_passphrase_slot(home):
    keys = unlock_home(home, PW)
    slot = add_passphrase(keys, b"second", kdf_target_ms=1)
    assert unlock_home(home, b"second").master_key == keys.master_key
    remove_slot(keys, slot)
    with pytest.raises(Locked):
        unlock_home(home, b"second")
    with pytest.raises(UsageError, match="last passphrase slot"):
        remove_slot(keys, "passphrase-1")


def test_rotate_signing_keeps_old_public_key(home):
    keys = unlock_home(home, PW)
    old = keys.signer.key_id
    res = rotate_signing_key(keys)
    assert res["old"] == old and res["new"] != old
    pubs = public_keys(home)
    assert old in pubs and res["new"] in pubs
    assert unlock_home(home, PW).signer.key_id == res["new"]
    assert describe(home)["retired_signing_keys"][0]["key_id"] == old


def test_tampered_keyring_fields_detected(home):
    doc = json.loads(home.keyring_path.read_text())
    doc["vault_kek_current"] = "kek-deadbeef"
    home.keyring_path.write_text(json.dumps(doc))
    with pytest.raises(IntegrityError):
        unlock_home(home, PW)


def test_kdf_bounds_enforced_on_read(home):
    doc = json.loads(home.keyring_path.read_text())
    doc["slots"][0]["kdf"]["memory_kib"] = 1 << 40  # a keyring edited to exhaust memory at unlock
    home.keyring_path.write_text(json.dumps(doc))
    with pytest.raises(IntegrityError, match="memory_kib"):
        unlock_home(home, PW)


# -- real CLI -----------------------------------------------------------------------------------------------


def test_cli_wrong_passphrase_exit_5(home, cli, tmp_path):
    bad = tmp_path / "bad"
    bad.write_text("wrong\n")
    p = cli("keys", "rotate-signing", "--passphrase-file", str(bad), home=home)
    assert p.returncode == 5, p.stderr
    assert "wrong passphrase" in p.stderr and "next:" in p.stderr


def test_cli_missing_passphrase_file_exit_5(home, cli, tmp_path):
    p = cli("keys", "rotate-signing", home=home, env={"APPLIANCE_PASSPHRASE_FILE": str(tmp_path / "missing")})
    assert p.returncode == 5
    assert "cannot read passphrase file" in p.stderr


def test_cli_corrupted_keyring_exit_3(home, cli, passphrase_file):
    home.keyring_path.write_text("{not json")
    p = cli("keys", "rotate-signing", "--passphrase-file", str(passphrase_file), home=home)
    assert p.returncode == 3
    assert "corrupted" in p.stderr


def test_cli_init_and_show(tmp_path, cli, passphrase_file):
    from appliance.home import Home

    h = Home(tmp_path / "fresh")
    rec = tmp_path / "recovery.txt"
    p = cli("init", "--passphrase-file", str(passphrase_file), "--kdf-target-ms", "1",
            "--recovery-key-out", str(rec), "--json", home=h)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert "recovery_key" not in out and rec.read_text().startswith("APPL-REC-")
    assert stat.S_IMODE(os.stat(rec).st_mode) == 0o600
    show = json.loads(cli("keys", "--json", home=h, check=True).stdout)
    assert show["signing_key"] == out["signing_key_id"]
    again = cli("init", "--passphrase-file", str(passphrase_file), home=h)
    assert again.returncode == 2 and "already initialised" in again.stderr


def test_cli_uninitialised_home_is_usage_error(tmp_path, cli):
    from appliance.home import Home

    p = cli("keys", "show", home=Home(tmp_path / "nothing"))
    assert p.returncode == 2 and "appliance init" in p.stderr
