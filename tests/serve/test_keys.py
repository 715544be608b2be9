"""API keys: shown once, only a hash kept; the key file is signed, so a key written in by hand, or an old
copy put back to revive a revoked key, lets nobody in."""

from __future__ import annotations

import json

import pytest

from appliance.errors import IntegrityError, UsageError


def test_add_keeps_only_a_hash_and_every_change_is_audited(home, keys):
    from appliance.audit import read_entries
    from appliance.serve import add_key, list_keys, revoke_key

    res = add_key(home, "coder", keys.signer)
    assert res["key"].startswith("apk_") and len(res["key"]) >= 4 + 43
    assert res["key"] not in home.api_keys_path.read_text()
    with pytest.raises(UsageError):
        add_key(home, "coder", keys.signer)  # an active name is not reused
    revoke_key(home, "coder", keys.signer)
    (row,) = list_keys(home)
    assert row["name"] == "coder" and row["revoked"] and not row["active"]
    acts = [e["action"] for e in read_entries(home, action="serve.key")]
    assert acts == ["serve.key.add", "serve.key.revoke"]
    assert all(res["key"] not in json.dumps(e) for e in read_entries(home))


def test_a_hand_written_key_is_refused(home, keys):
    from appliance.serve import add_key
    from appliance.serve.keys import KeyStore, list_keys, token_hash

    add_key(home, "real", keys.signer)
    doc = json.loads(home.api_keys_path.read_text())
    doc["keys"]["mallory"] = {"sha256": token_hash("apk_mine"), "created": "2026-01-01T00:00:00Z", "revoked": None}
    home.api_keys_path.write_text(json.dumps(doc))
    with pytest.raises(IntegrityError):
        list_keys(home)
    store = KeyStore(home)
    assert store.error and store.authenticate("apk_mine") is None


def test_an_old_signed_copy_does_not_revive_a_revoked_key(home, keys):
    from appliance.serve import add_key, revoke_key
    from appliance.serve.keys import KeyStore

    token = add_key(home, "app", keys.signer)["key"]
    old = home.api_keys_path.read_bytes()
    store = KeyStore(home)
    assert store.authenticate(token) == "app"
    revoke_key(home, "app", keys.signer)
    assert store.authenticate(token) is None  # the running server sees the revocation at once
    home.api_keys_path.write_bytes(old)  # validly signed, but an older generation
    assert store.authenticate(token) is None and "older" in store.error
    assert KeyStore(home).authenticate(token) is None  # a restarted server checks against the audit log
