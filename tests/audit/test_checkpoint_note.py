"""The signed-note checkpoint format, its key ID, and forged or malformed notes."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from appliance._internal import crypto
from appliance.audit.checkpoint import parse, sign_checkpoint, verify_note
from appliance.errors import IntegrityError


@dataclass
class _Signer:
    """A stand-in with the Signer interface, for unit tests of the note format."""

    private_key: object
    name: str = "appliance/test-site"

    def sign(self, data: bytes) -> bytes:
        return crypto.sign(self.private_key, data)


ROOT = hashlib.sha256(b"some root").digest()


@pytest.fixture
def signer():
    return _Signer(crypto.new_signing_key())


def _keys(*signers):
    return {crypto.fingerprint(s.private_key): s.private_key.public_key() for s in signers}


def test_note_layout_and_key_id(signer):
    note = sign_checkpoint("appliance/test-site", 42, ROOT, signer)
    lines = note.split("\n")
    assert lines[:4] == ["appliance/test-site", "42", base64.b64encode(ROOT).decode(), ""]
    assert note.endswith("\n") and lines[-1] == ""
    sig_line = lines[4]
    assert sig_line.startswith("\u2014 appliance/test-site ")
    raw = base64.b64decode(sig_line.split(" ")[2])
    der = signer.private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # signed-note type 0x02 (ECDSA): key ID = SHA-256(DER SPKI)[:4]; the signature covers the body text.
    assert raw[:4] == hashlib.sha256(der).digest()[:4]
    body = "appliance/test-site\n42\n" + base64.b64encode(ROOT).decode() + "\n"
    signer.private_key.public_key().verify(raw[4:], body.encode(), ec.ECDSA(hashes.SHA256()))
    cp, fp = verify_note(note, _keys(signer))
    assert (cp.origin, cp.size, cp.root, fp) == ("appliance/test-site", 42, ROOT, crypto.fingerprint(signer.private_key))


def test_forged_signature_fails(signer):
    note = sign_checkpoint("appliance/test-site", 42, ROOT, signer)
    body, sig_line = note.rsplit("\n\n", 1)
    name_blob = sig_line.rstrip("\n").split(" ")
    raw = bytearray(base64.b64decode(name_blob[2]))
    raw[-5] ^= 0x01
    forged = body + "\n\n" + " ".join(name_blob[:2] + [base64.b64encode(bytes(raw)).decode()]) + "\n"
    with pytest.raises(IntegrityError, match="does not verify"):
        verify_note(forged, _keys(signer))


def test_altered_body_fails(signer):
    note = sign_checkpoint("appliance/test-site", 42, ROOT, signer)
    with pytest.raises(IntegrityError, match="does not verify"):
        verify_note(note.replace("\n42\n", "\n41\n", 1), _keys(signer))


def test_note_by_another_key_is_rejected(signer):
    other = _Signer(crypto.new_signing_key())
    note = sign_checkpoint("appliance/test-site", 42, ROOT, other)
    with pytest.raises(IntegrityError, match="not signed by any known site key"):
        verify_note(note, _keys(signer))
    # A retired key still verifies old notes: it is simply one more known key.
    verify_note(note, _keys(signer, other))


@pytest.mark.parametrize(
    "text",
    [
        "appliance/x\n1\nnot-base64!\n\n\u2014 k AAAAAAAA\n",
        "appliance/x\n01\n" + base64.b64encode(ROOT).decode() + "\n\n\u2014 k AAAAAAAA\n",
        "appliance/x\n1\n" + base64.b64encode(ROOT).decode() + "\n",
        "appliance/x\n1\n" + base64.b64encode(ROOT).decode() + "\n\n-- k AAAAAAAA\n",
        "appliance/x\n1\n" + base64.b64encode(ROOT[:31]).decode() + "\n\n\u2014 k AAAAAAAA\n",
        "appliance/x\t\n1\n" + base64.b64encode(ROOT).decode() + "\n\n\u2014 k AAAAAAAA\n",
    ],
)
def test_malformed_notes_are_integrity_errors(text):
    with pytest.raises(IntegrityError, match="malformed"):
        parse(text)


def test_openssl_verifies_the_checkpoint_signature(signer, tmp_path):
    """Anyone can check a checkpoint with stock openssl: the signature is plain DER ECDSA over the body."""
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    note = sign_checkpoint("appliance/test-site", 7, ROOT, signer)
    body, sig_line = note.rsplit("\n\n", 1)
    (tmp_path / "body").write_text(body + "\n")
    (tmp_path / "sig").write_bytes(base64.b64decode(sig_line.split(" ")[2])[4:])
    (tmp_path / "pub.pem").write_bytes(crypto.public_pem(signer.private_key))
    cmd = ["openssl", "dgst", "-sha256", "-verify", str(tmp_path / "pub.pem"), "-signature", str(tmp_path / "sig")]
    ok = subprocess.run(cmd + [str(tmp_path / "body")], capture_output=True, text=True, check=False)
    assert ok.returncode == 0 and "Verified OK" in ok.stdout
    (tmp_path / "body").write_text(body.replace("\n7\n", "\n8\n") + "\n")
    assert subprocess.run(cmd + [str(tmp_path / "body")], capture_output=True, check=False).returncode != 0
