"""Export → verify-export round trips per format, on another "machine" (no home), and tampered exports."""

from __future__ import annotations

import csv
import json

import pytest

from appliance._internal import crypto
from appliance.audit import FORMATS, export, read_entries, record, verify, verify_export
from appliance.audit.log import entry_hash
from appliance.errors import IntegrityError, UsageError
from appliance.keys import public_keys

NASTY = 'review done | a=b \\ c\nsecond line "quoted", comma'


@pytest.fixture
def logged(home, keys):
    record(home, "vault.ingest", {"batch": "b-1", "records": 12})
    record(home, "audit.note", {"text": NASTY})
    record(home, "train.start", {"run": "r1"}, outcome="refused")
    return home


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "cef"])
def test_round_trip(logged, keys, tmp_path, fmt):
    out = tmp_path / f"audit.{fmt}"
    res = export(logged, fmt, out, signer=keys.signer)
    n = len(list(read_entries(logged))) - 1  # everything but the audit.export entry written afterwards
    assert res["entries"] == n and res["tree_size"] == n
    assert (res["evidence"] is None) == (fmt == "jsonl")
    v = verify_export(out, keys.signer.public_pem)
    assert v["verified"] and v["entries"] == n and v["key_pinned"] and v["format"] == fmt
    assert v["key_fingerprint"] == keys.signer.key_id
    assert verify_export(out)["key_pinned"] is False
    last = list(read_entries(logged))[-1]
    assert last["action"] == "audit.export" and last["object"]["format"] == fmt
    assert verify(logged, checkpoint_file=out, public_keys=public_keys(logged)).external["consistent"]


def test_since_until_and_action_filters(logged, keys, tmp_path):
    entries = list(read_entries(logged))
    t1 = entries[2]["ts"]
    out = tmp_path / "part.jsonl"
    res = export(logged, "jsonl", out, since=t1, signer=keys.signer)
    assert res["entries"] == len(entries) - 2
    assert verify_export(out)["first_seq"] == 2
    assert [e["seq"] for e in read_entries(logged, until=t1)] == [0, 1]
    assert [e["action"] for e in read_entries(logged, action="vault")] == ["vault.ingest"]
    assert [e["action"] for e in read_entries(logged, action="*.note")] == ["audit.note"]
    assert list(read_entries(logged, actor="nobody-here")) == []
    day = t1[:10]
    same_day = [e for e in read_entries(logged) if e["ts"].startswith(day)]
    assert list(read_entries(logged, since=day, until=day)) == same_day


def test_tampered_jsonl_entry_fails(logged, keys, tmp_path):
    out = tmp_path / "a.jsonl"
    export(logged, "jsonl", out, signer=keys.signer)
    lines = out.read_text().splitlines()
    rec = json.loads(lines[2])
    rec["entry"]["outcome"] = "ok" if rec["entry"]["outcome"] != "ok" else "error"
    out.write_text("\n".join(lines[:2] + [json.dumps(rec)] + lines[3:]) + "\n")
    with pytest.raises(IntegrityError, match="hash does not match"):
        verify_export(out)
    rec["entry"]["hash"] = entry_hash(rec["entry"])  # rehash: now only the inclusion proof can tell
    out.write_text("\n".join(lines[:2] + [json.dumps(rec)] + lines[3:]) + "\n")
    with pytest.raises(IntegrityError, match="inclusion proof fails"):
        verify_export(out)


def test_dropped_jsonl_line_fails(logged, keys, tmp_path):
    out = tmp_path / "a.jsonl"
    export(logged, "jsonl", out, signer=keys.signer)
    lines = out.read_text().splitlines()
    out.write_text("\n".join(lines[:1] + lines[2:]) + "\n")
    with pytest.raises(IntegrityError, match="header says"):
        verify_export(out)


def test_tampered_csv_row_fails(logged, keys, tmp_path):
    out = tmp_path / "a.csv"
    export(logged, "csv", out, signer=keys.signer)
    rows = list(csv.reader(out.open(newline="")))
    assert rows[0][0] == "seq"
    assert json.loads(rows[3][6]) == {"text": NASTY}  # newline, quotes and commas survive
    rows[2][2] = "mallory"
    with out.open("w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)
    with pytest.raises(IntegrityError, match="actor differs"):
        verify_export(out)


def test_tampered_cef_line_fails(logged, keys, tmp_path):
    out = tmp_path / "a.cef"
    export(logged, "cef", out, signer=keys.signer)
    text = out.read_text()
    assert text.startswith("CEF:0|appliance|appliance|")
    assert "\\=" in text and "\\n" in text  # CEF escaping of the nasty note
    out.write_text(text.replace("outcome=refused", "outcome=ok", 1))
    with pytest.raises(IntegrityError, match="outcome differs"):
        verify_export(out)


def test_tampered_evidence_sidecar_fails(logged, keys, tmp_path):
    out = tmp_path / "a.csv"
    res = export(logged, "csv", out, signer=keys.signer)
    ev_path = tmp_path / "a.csv.evidence.json"
    assert res["evidence"] == str(ev_path)
    ev = json.loads(ev_path.read_text())
    ev["proofs"][1][0] = "00" * 32
    ev_path.write_text(json.dumps(ev))
    with pytest.raises(IntegrityError, match="inclusion proof fails"):
        verify_export(out)


def test_wrong_pinned_key_and_forged_checkpoint_fail(logged, keys, tmp_path):
    out = tmp_path / "a.jsonl"
    export(logged, "jsonl", out, signer=keys.signer)
    other = crypto.public_pem(crypto.new_signing_key())
    with pytest.raises(IntegrityError, match="not signed by any known site key"):
        verify_export(out, other)
    lines = out.read_text().splitlines()
    head = json.loads(lines[0])
    head["checkpoint"] = head["checkpoint"].replace("\n", "\n1", 1)  # claim a bigger tree
    out.write_text("\n".join([json.dumps(head)] + lines[1:]) + "\n")
    with pytest.raises(IntegrityError, match="does not verify"):
        verify_export(out)


def test_export_needs_a_signer_and_a_known_format(logged, keys, tmp_path):
    with pytest.raises(UsageError, match="unlocked site key"):
        export(logged, "jsonl", tmp_path / "x", signer=None)
    with pytest.raises(UsageError, match="unknown export format"):
        export(logged, "xml", tmp_path / "x", signer=keys.signer)
    assert {"jsonl", "csv", "cef"} <= set(FORMATS)


def test_cli_export_and_verify_export_elsewhere(cli, logged, passphrase_file, tmp_path):
    out = tmp_path / "a.cef"
    p = cli("audit", "export", "--format", "cef", "-o", str(out), "--passphrase-file", str(passphrase_file), "--json", home=logged)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["format"] == "cef"
    # "Another machine": no home at all, only the export, its evidence and the site's public key.
    elsewhere = {"APPLIANCE_HOME": str(tmp_path / "no-such-home")}
    p = cli("audit", "verify-export", str(out), "--public-key", str(logged.signing_pub_path), "--json", env=elsewhere)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["key_pinned"] is True
    out.write_text(out.read_text().replace("suser=", "suser=x", 1))
    p = cli("audit", "verify-export", str(out), env=elsewhere)
    assert p.returncode == 3 and "differs from the signed entry" in p.stderr
