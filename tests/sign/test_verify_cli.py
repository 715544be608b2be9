"""`appliance verify` through the real CLI: an intact artifact exits 0 with only the public key; a flipped
byte, an edited signature, a swapped-in file, an untrusted re-signature or an edited manifest exit 3."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest


def _copy(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "artifact"
    shutil.copytree(src, dst)
    return dst


def _verify(cli, d: Path, home, *extra: str):
    # an empty APPLIANCE_HOME: verification must work from the public key alone
    return cli("verify", str(d), "--public-key", str(home.signing_pub_path), "--json", *extra,
                   env={"APPLIANCE_HOME": str(d.parent / "no-home")})


def test_intact_artifact_verifies_offline(signed_pair, tmp_path, cli):
    (home, _), a, _ = signed_pair
    d = _copy(a, tmp_path)
    p = _verify(cli, d, home)
    assert p.returncode == 0, p.stderr
    report = json.loads(p.stdout)
    assert report["signature"] == "ok" and report["kind"] == "gguf"
    assert report["structure"]["arch"] == "llama"


def test_flipped_byte_in_gguf_exits_3(signed_pair, tmp_path, cli):
    (home, _), a, _ = signed_pair
    d = _copy(a, tmp_path)
    data = bytearray((d / "model.gguf").read_bytes())
    data[len(data) // 2] ^= 0x01
    (d / "model.gguf").write_bytes(bytes(data))
    p = _verify(cli, d, home)
    assert p.returncode == 3, p.stdout + p.stderr
    assert "model.gguf" in p.stderr


def test_edited_signature_exits_3(signed_pair, tmp_path, cli):
    (home, _), a, _ = signed_pair
    d = _copy(a, tmp_path)
    bundle = json.loads((d / "model.sig").read_text())
    sig = bytearray(base64.b64decode(bundle["dsseEnvelope"]["signatures"][0]["sig"]))
    sig[-3] ^= 0xFF
    bundle["dsseEnvelope"]["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
    (d / "model.sig").write_text(json.dumps(bundle))
    assert _verify(cli, d, home).returncode == 3


def test_edited_statement_exits_3(signed_pair, tmp_path, cli):
    """Rewrite the signed statement so it matches a tampered file: the DSSE signature no longer holds."""
    (home, _), a, _ = signed_pair
    d = _copy(a, tmp_path)
    (d / "model.gguf").write_bytes((d / "model.gguf").read_bytes() + b"\0")
    bundle = json.loads((d / "model.sig").read_text())
    stmt = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    import hashlib

    for r in stmt["predicate"]["resources"]:
        if r["name"] == "model.gguf":
            r["digest"] = hashlib.sha256((d / "model.gguf").read_bytes()).hexdigest()
    bundle["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(stmt).encode()).decode()
    (d / "model.sig").write_text(json.dumps(bundle))
    assert _verify(cli, d, home).returncode == 3


def test_swapped_in_other_models_file_exits_3(signed_pair, tmp_path, cli):
    (home, _), a, b = signed_pair
    d = _copy(a, tmp_path)
    shutil.copy(b / "model.gguf", d / "model.gguf")  # a genuine, signed file, but of another artifact
    p = _verify(cli, d, home)
    assert p.returncode == 3
    assert "hash mismatch: model.gguf" in p.stderr


def test_resigned_by_untrusted_key_exits_3(signed_pair, tmp_path, cli):
    """An attacker re-signs a swapped directory with their own key (and embeds their public key)."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from appliance.sign import sign_directory

    (home, _), a, b = signed_pair
    d = _copy(a, tmp_path)
    shutil.copy(b / "model.gguf", d / "model.gguf")
    (d / "model.sig").unlink()

    class Attacker:
        private_key = ec.generate_private_key(ec.SECP256R1())

    sign_directory(d, Attacker())
    p = _verify(cli, d, home)
    assert p.returncode == 3
    assert "not trusted" in p.stderr


def test_extra_file_and_missing_signature_exit_3(signed_pair, tmp_path, cli):
    (home, _), a, _ = signed_pair
    d = _copy(a, tmp_path)
    (d / "notes.txt").write_text("added later")
    assert _verify(cli, d, home).returncode == 3
    (d / "notes.txt").unlink()
    (d / "model.sig").unlink()
    assert _verify(cli, d, home).returncode == 3


def test_verify_with_home_keys_and_audit(signed_pair, tmp_path, cli):
    (home, _), a, _ = signed_pair
    p = cli("verify", str(a), "--json", home=home)
    assert p.returncode == 0, p.stderr
    from appliance.audit import read_entries

    assert any(e["action"] == "artifact.verify" for e in read_entries(home))


def test_generate_refuses_tampered_artifact(signed_pair, tmp_path, cli):
    pytest.importorskip("llama_cpp")
    (home, _), a, _ = signed_pair
    d = _copy(a, tmp_path)
    ok = cli("generate", "--artifact", str(d), "Patient reports", "--max-tokens", "4",
                 "--public-key", str(home.signing_pub_path), "--json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["verified"] is True
    (d / "model.gguf").write_bytes((d / "model.gguf").read_bytes()[:-1] + b"\x7f")
    bad = cli("generate", "--artifact", str(d), "Patient reports", "--max-tokens", "4",
                  "--public-key", str(home.signing_pub_path))
    assert bad.returncode == 3
