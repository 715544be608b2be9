"""Artifact signatures in the OpenSSF model-signing format, made and checked offline.

``sign_directory`` hashes every file of an artifact directory (SHA-256 per file), wraps the resulting
in-toto statement in a DSSE envelope signed with the site's EC P-256 key, and writes it as ``model.sig``
(a Sigstore bundle without transparency-log entries).  The public half goes next to it as
``signer.pub.pem`` for convenience only: trust comes from the keys the verifier pins (``--public-key`` or
the home's current + retired keys), never from the embedded copy.

``verify_directory`` checks that the signing key is one of the pinned keys, the DSSE signature, and that the
directory holds exactly the signed files with the signed hashes.  Every failure is an
:class:`~appliance.errors.IntegrityError` (exit 3).
"""

from __future__ import annotations

import base64
import hashlib
import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from appliance.errors import IntegrityError, UsageError
from appliance.home import Home

SIGNATURE_FILE = "model.sig"
PUBLIC_KEY_FILE = "signer.pub.pem"


def _pem(public_key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def pem_hint(public_key: Any) -> str:
    """The key identifier model-signing puts in a bundle: SHA-256 hex of the PEM public key."""
    return hashlib.sha256(_pem(public_key)).hexdigest()


def key_id(public_key: Any) -> str:
    """The appliance key id: SHA-256 hex of the DER SubjectPublicKeyInfo."""
    from cryptography.hazmat.primitives import serialization

    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def prepare_signing() -> None:
    """Import the model-signing library now (seconds of imports), e.g. while an exporter waits on parity."""
    from model_signing import hashing  # noqa: F401
    from model_signing._signing import sign_ec_key, signing  # noqa: F401


def _hashing_config():
    from model_signing import hashing

    # The signature file is written after hashing; everything else in the directory is covered.
    return hashing.Config().set_ignored_paths(paths=[SIGNATURE_FILE], ignore_git_paths=False)


def _in_memory_signer(private_key: Any):
    """model-signing's EC signer, fed the unlocked key object instead of a PEM file on disk."""
    from model_signing._signing import sign_ec_key

    class _KeySigner(sign_ec_key.Signer):
        def __init__(self, key: Any):  # the private key never touches the disk
            sign_ec_key._check_supported_ec_key(key.public_key())
            self._private_key = key

    return _KeySigner(private_key)


def sign_directory(directory: Path, signer: Any) -> dict:
    """Sign every file in ``directory`` with ``signer`` (an unlocked :class:`appliance.keys.Signer`)."""
    from model_signing._signing import signing

    directory = Path(directory)
    (directory / PUBLIC_KEY_FILE).write_bytes(_pem(signer.private_key.public_key()))
    manifest = _hashing_config().hash(directory)
    signature = _in_memory_signer(signer.private_key).sign(signing.Payload(manifest))
    signature.write(directory / SIGNATURE_FILE)
    files = sorted(r.identifier for r in manifest.resource_descriptors())
    return {"signature": str(directory / SIGNATURE_FILE), "key_id": key_id(signer.private_key.public_key()),
            "files": files}


def read_statement(directory: Path) -> dict:
    """The in-toto statement inside ``model.sig`` (unverified; for display and diagnostics)."""
    bundle = _read_bundle(Path(directory))
    return json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))


def _read_bundle(directory: Path) -> dict:
    sig = directory / SIGNATURE_FILE
    if not sig.is_file():
        raise IntegrityError(f"{directory} has no {SIGNATURE_FILE}: the artifact is unsigned",
                             hint="re-export it with `appliance export ...` (exports are signed)")
    try:
        bundle = json.loads(sig.read_text())
        bundle["dsseEnvelope"]["payload"]
        return bundle
    except (ValueError, KeyError, TypeError) as e:
        raise IntegrityError(f"{sig} is not a model-signing bundle ({type(e).__name__})",
                             hint="the signature file was altered; re-export the artifact") from None


def _file_diff(directory: Path, bundle: dict) -> list[str]:
    """Readable per-file differences between the signed statement and the directory (diagnostics only)."""
    from appliance._internal.hashing import sha256_file

    try:
        statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
        signed = {r["name"]: r["digest"] for r in statement["predicate"]["resources"]}
    except (ValueError, KeyError, TypeError):
        return ["the signed statement cannot be decoded"]
    present = {p.relative_to(directory).as_posix() for p in directory.rglob("*")
               if p.is_file() and p.name != SIGNATURE_FILE}
    out = [f"missing file: {n}" for n in sorted(set(signed) - present)]
    out += [f"unsigned file: {n}" for n in sorted(present - set(signed))]
    out += [f"hash mismatch: {n}" for n in sorted(set(signed) & present)
            if sha256_file(directory / n) != signed[n]]
    return out


def load_public_key(pem_path: Path) -> Any:
    """A PEM public key from disk (EC P-256/384/521)."""
    from cryptography.hazmat.primitives import serialization

    try:
        return serialization.load_pem_public_key(Path(pem_path).read_bytes())
    except (OSError, ValueError) as e:
        raise UsageError(f"cannot read public key {pem_path}: {e}", hint="pass a PEM file to --public-key") from None


def verify_directory(directory: Path, public_keys: Mapping[str, Any]) -> dict:
    """Verify ``model.sig`` over ``directory`` against the pinned ``public_keys`` ({key id: key})."""
    from model_signing import verifying

    directory = Path(directory)
    if not public_keys:
        raise UsageError("no trusted public key to verify with",
                         hint="pass --public-key SITE.pub.pem or run inside the appliance home (--home)")
    bundle = _read_bundle(directory)
    hint = (bundle.get("verificationMaterial") or {}).get("publicKey", {}).get("hint")
    by_hint = {pem_hint(k): (kid, k) for kid, k in public_keys.items()}
    if hint not in by_hint:
        raise IntegrityError("the artifact was signed by a key that is not trusted here",
                             hint="verify with the signing site's public key (--public-key PEM)",
                             details=[f"signature key hint: {hint}"])
    kid, pub = by_hint[hint]
    with tempfile.TemporaryDirectory(prefix="appliance-verify-") as td:
        pem_file = Path(td) / "key.pem"
        pem_file.write_bytes(_pem(pub))
        cfg = verifying.Config().use_elliptic_key_verifier(public_key=pem_file)
        cfg.set_hashing_config(_hashing_config())
        try:
            cfg.verify(directory, directory / SIGNATURE_FILE)
        except Exception as e:  # noqa: BLE001 - ValueError / cryptography errors: all mean "not intact"
            details = _file_diff(directory, bundle) or [str(e) or type(e).__name__]
            raise IntegrityError(f"signature check failed for {directory}",
                                 hint="do not use this artifact; re-export it from the registry",
                                 details=details[:20]) from None
    statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    files = sorted(r["name"] for r in statement.get("predicate", {}).get("resources", []))
    return {"key_id": kid, "files": files, "statement_type": statement.get("_type"),
            "predicate_type": statement.get("predicateType")}


def trusted_keys(public_key: Path | None = None, home: Home | None = None) -> dict[str, Any]:
    """Pinned keys: ``--public-key`` if given, else the keys an initialised home's keyring records (current and
    retired); outside a home only ``--public-key`` is trusted (never a PEM lying next to the artifact)."""
    if public_key is not None:
        k = load_public_key(public_key)
        return {key_id(k): k}
    if home is not None and home.initialized:
        from appliance.keys import public_keys

        return dict(public_keys(home))
    raise UsageError("no public key to verify with (no --public-key and no appliance home here)",
                     hint="appliance verify DIR --public-key SITE_SIGNING.pub.pem")
