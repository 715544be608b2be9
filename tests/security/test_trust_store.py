"""Planted trust (issue 13, part 2): only keys the MAC'd keyring records are trusted."""

from __future__ import annotations

import json
import shutil

from appliance._internal import crypto
from appliance._internal.hashing import canonical_json
from appliance.audit import log as audit_log
from appliance.audit.checkpoint import sign_checkpoint
from appliance.audit.merkle import CompactRange
from appliance.keys import Signer
from tests.conftest import run_cli


def _plant_key(home):
    """An attacker key, its public half dropped into keys/retired/ under a plausible name."""
    key = crypto.new_signing_key()
    path = home.retired_keys_dir / f"{crypto.fingerprint(key)}.pub.pem"
    path.write_bytes(crypto.public_pem(key))
    return key, path


def _rewrite_log_without(home, action_prefix, key):
    """Drop entries, re-chain the rest and re-sign one checkpoint with ``key`` (what the insider can do)."""
    entries = [json.loads(line) for line in home.audit_log_path.read_text().splitlines()]
    kept = [e for e in entries if not e["action"].startswith(action_prefix)]
    assert len(kept) < len(entries)
    prev, out, cr = audit_log.ZERO_HASH, [], CompactRange()
    for i, e in enumerate(kept):
        e = dict(e, seq=i, prev=prev)
        e.pop("hash")
        e["hash"] = audit_log.entry_hash(e)
        prev = e["hash"]
        out.append(canonical_json(e) + b"\n")
        cr.append(audit_log.entry_leaf(e))
    home.audit_log_path.write_bytes(b"".join(out))
    shutil.rmtree(home.checkpoints_dir)
    home.checkpoints_dir.mkdir()
    (home.audit_dir / "tree-state.json").unlink(missing_ok=True)
    note = sign_checkpoint("appliance/hospital", cr.size, cr.root, Signer(key, "appliance/hospital"))
    (home.checkpoints_dir / f"{cr.size}.note").write_text(note)


def test_planted_retired_key_does_not_verify_a_rewritten_log(site, anchor_dir):
    home, _pw = site
    shutil.rmtree(anchor_dir)  # the key store alone must refuse it, even with no anchor to compare
    key, _ = _plant_key(home)
    _rewrite_log_without(home, "keys.", key)
    p = run_cli("audit", "verify", home=home)
    assert p.returncode == 3 and "not signed by any known site key" in p.stderr


def test_planted_key_also_listed_in_an_edited_keyring_is_caught_by_the_anchor(site):
    home, _pw = site
    key, path = _plant_key(home)
    doc = json.loads(home.keyring_path.read_text())  # the MAC cannot be recomputed without the passphrase
    doc["signing"]["retired"].append({"key_id": crypto.fingerprint(key), "retired": "2099-01-01T00:00:00Z",
                                      "public_pem": path.read_text()})
    home.keyring_path.write_text(json.dumps(doc))
    _rewrite_log_without(home, "keys.", key)
    p = run_cli("audit", "verify", home=home)
    assert p.returncode == 3 and "anchor" in p.stderr


def test_keys_show_and_doctor_report_a_planted_key(site):
    home, _pw = site
    _key, path = _plant_key(home)
    p = run_cli("keys", "show", "--json", home=home, check=True)
    assert json.loads(p.stdout)["ignored_key_files"] == [str(path)]
    p = run_cli("keys", "show", home=home, env={"COLUMNS": "300"}, check=True)
    assert "ignored" in p.stdout and path.name in p.stdout
    p = run_cli("doctor", "--json", home=home)
    trust = json.loads(p.stdout)["checks"]["trust"]
    assert trust["status"] == "warn" and trust["ignored_key_files"] == [str(path)]


def test_artifact_signed_by_a_planted_key_is_refused(site, tmp_path):
    home, _pw = site
    from appliance.sign import sign_directory

    key, _ = _plant_key(home)
    art = tmp_path / "art"
    art.mkdir()
    (art / "model.gguf").write_bytes(b"replaced weights")
    sign_directory(art, Signer(key, "appliance/hospital"))
    p = run_cli("verify", str(art), home=home)
    assert p.returncode == 3, p.stdout + p.stderr
    # outside a home only --public-key is trusted, never the PEM the artifact carries
    p = run_cli("verify", str(art), env={"APPLIANCE_HOME": str(tmp_path / "nohome")})
    assert p.returncode == 2 and "--public-key" in p.stderr
