"""Tampering with a real audit log is caught by the real `appliance audit verify` (exit 3); intact exits 0."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from appliance.audit import checkpoint, export, record, verify
from appliance.audit.log import entry_hash
from appliance.errors import IntegrityError
from appliance.keys import public_keys


@pytest.fixture
def audited(home, keys):
    """A home whose log has a dozen entries and a signed checkpoint in the middle."""
    for i in range(6):
        record(home, "test.step", {"i": i, "records": i * 10})
    checkpoint(home, keys.signer)
    for i in range(6, 10):
        record(home, "test.step", {"i": i}, outcome="ok" if i % 3 else "refused")
    return home


def _lines(home) -> list[str]:
    return home.audit_log_path.read_text().splitlines(keepends=True)


def _write(home, lines: list[str]) -> None:
    home.audit_log_path.write_text("".join(lines))


def _verify(cli, home, *extra):
    return cli("audit", "verify", "--json", *extra, home=home)


def test_untouched_log_verifies(cli, audited):
    before = len(_lines(audited))
    p = _verify(cli, audited)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["entries"] == before and len(out["checkpoints"]) == 1
    # `audit verify` audits itself, and the log still verifies afterwards.
    last = json.loads(_lines(audited)[-1])
    assert last["action"] == "audit.verify" and last["outcome"] == "ok"
    assert verify(audited, public_keys=public_keys(audited)).entries == before + 1


def test_edited_middle_entry(cli, audited):
    lines = _lines(audited)
    e = json.loads(lines[7])
    e["object"]["i"] = 99  # the hash is left as it was
    lines[7] = json.dumps(e) + "\n"
    _write(audited, lines)
    p = _verify(cli, audited)
    assert p.returncode == 3
    assert "seq 7" in p.stderr and "hash does not match" in p.stderr
    last = json.loads(_lines(audited)[-1])  # the failed verification is itself on record
    assert last["action"] == "audit.verify" and last["outcome"] == "failed" and last["object"]["first_bad_seq"] == 7


def test_edited_entry_with_recomputed_hash(cli, audited):
    lines = _lines(audited)
    e = json.loads(lines[4])
    e["actor"] = "someone-else"
    e["hash"] = entry_hash(e)
    lines[4] = json.dumps(e) + "\n"
    _write(audited, lines)
    p = _verify(cli, audited)
    assert p.returncode == 3 and "seq 5" in p.stderr and "prev" in p.stderr


def test_deleted_entry(cli, audited):
    lines = _lines(audited)
    del lines[8]
    _write(audited, lines)
    p = _verify(cli, audited)
    assert p.returncode == 3 and "seq 8" in p.stderr and "found seq 9" in p.stderr


def test_swapped_entries(cli, audited):
    lines = _lines(audited)
    lines[2], lines[3] = lines[3], lines[2]
    _write(audited, lines)
    p = _verify(cli, audited)
    assert p.returncode == 3 and "seq 2" in p.stderr


def test_rewritten_history_with_a_consistent_chain_is_caught_by_the_checkpoint(cli, audited):
    lines = [json.loads(x) for x in _lines(audited)]
    assert lines[2]["object"] == {"i": 1, "records": 10}
    lines[2]["object"]["records"] = 11
    prev = "0" * 64
    for e in lines:  # a careful forger re-chains everything
        e["prev"] = prev
        e["hash"] = entry_hash(e)
        prev = e["hash"]
    _write(audited, [json.dumps(e) + "\n" for e in lines])
    p = _verify(cli, audited)
    assert p.returncode == 3 and "checkpoint" in p.stderr and "rewritten" in p.stderr


def test_truncated_tail_detected_against_exported_checkpoint(cli, audited, keys, tmp_path):
    out = tmp_path / "export.jsonl"
    export(audited, "jsonl", out, signer=keys.signer)
    size = json.loads(out.read_text().splitlines()[0])["checkpoint"].split("\n")[1]
    lines = _lines(audited)
    _write(audited, lines[:-4])
    # The forger also removes the local checkpoints that cover the removed entries.
    for p in audited.checkpoints_dir.glob("*.note"):
        if int(p.stem) > len(lines) - 4:
            p.unlink()
    (audited.audit_dir / "tree-state.json").unlink()
    p = _verify(cli, audited, "--checkpoint", str(out))
    assert p.returncode == 3, p.stdout
    assert "truncated" in p.stderr and f"covers {size} entries" in p.stderr


def test_truncated_tail_detected_by_a_surviving_local_checkpoint(cli, audited, keys):
    checkpoint(audited, keys.signer)
    _write(audited, _lines(audited)[:-2])
    p = _verify(cli, audited)
    assert p.returncode == 3 and "truncated" in p.stderr


def test_forged_checkpoint_signature(cli, audited):
    (note,) = audited.checkpoints_dir.glob("*.note")
    text = note.read_text()
    body, sig = text.rsplit(" ", 1)
    chars = list(sig.strip())
    chars[-6] = "A" if chars[-6] != "A" else "B"
    note.write_text(body + " " + "".join(chars) + "\n")
    p = _verify(cli, audited)
    assert p.returncode == 3 and "does not verify" in p.stderr


def test_checkpoint_signed_by_a_foreign_key(cli, audited):
    from dataclasses import dataclass

    from appliance._internal import crypto
    from appliance.audit.checkpoint import parse, sign_checkpoint

    @dataclass
    class Foreign:
        private_key: object
        name: str = "appliance/hospital"

        def sign(self, data):
            return crypto.sign(self.private_key, data)

    (note,) = audited.checkpoints_dir.glob("*.note")
    cp = parse(note.read_text())
    note.write_text(sign_checkpoint(cp.origin, cp.size, cp.root, Foreign(crypto.new_signing_key())))
    p = _verify(cli, audited)
    assert p.returncode == 3 and "not signed by any known site key" in p.stderr


def test_torn_last_line_is_reported_then_repaired_on_next_append(audited):
    with open(audited.audit_log_path, "ab") as f:
        f.write(b'{"seq":10,"ts":"2026-')
    with pytest.raises(IntegrityError, match="torn write"):
        verify(audited, public_keys=public_keys(audited))
    e = record(audited, "test.after_crash")
    rep = json.loads(_lines(audited)[-2])
    assert rep["action"] == "audit.repair" and rep["object"]["discarded_bytes"] == 21
    assert e["seq"] == rep["seq"] + 1
    assert verify(audited, public_keys=public_keys(audited)).entries == e["seq"] + 1


def test_checkpoints_signed_before_a_key_rotation_still_verify(audited, keys):
    from appliance.keys import rotate_signing_key

    rotate_signing_key(keys)
    checkpoint(audited, keys.signer)
    rep = verify(audited, public_keys=public_keys(audited))
    assert len(rep.checkpoints) == 2 and rep.checkpoints[0]["key"] != rep.checkpoints[1]["key"]


def test_verify_accepts_an_explicit_key_map(audited, keys):
    from appliance._internal import crypto

    assert verify(audited, public_keys={keys.signer.key_id: keys.signer.public_key}).entries > 0
    with pytest.raises(IntegrityError):
        other = crypto.new_signing_key().public_key()
        verify(audited, public_keys={crypto.fingerprint(other): other})


def test_damaged_last_entry_refuses_appends(audited):
    lines = _lines(audited)
    lines[-1] = "garbage\n"
    _write(audited, lines)
    with pytest.raises(IntegrityError, match="damaged"):
        record(audited, "test.more")
    assert Path(audited.audit_log_path).read_text().endswith("garbage\n")


def test_retyped_field_is_caught_even_when_rehashed(audited):
    lines = _lines(audited)
    e = json.loads(lines[1])
    e["seq"] = True  # == 1 in Python; a verifier comparing with == alone would accept it
    e["hash"] = entry_hash(e)
    lines[1] = json.dumps(e) + "\n"
    _write(audited, lines)
    with pytest.raises(IntegrityError, match="seq 1: field seq has type bool"):
        verify(audited, public_keys=public_keys(audited))


def test_blank_last_line_refuses_appends_instead_of_restarting_the_chain(audited):
    with open(audited.audit_log_path, "ab") as f:
        f.write(b"\n")
    with pytest.raises(IntegrityError, match="damaged"):
        record(audited, "test.more")
