"""MANIFEST.json and its vendor signature: the root of trust of a bundle.

The manifest lists every file of the bundle (path, size, sha256) plus its version and target; the vendor
signs the exact manifest bytes with ECDSA P-256 / SHA-256 (DER, ``MANIFEST.json.sig``), so that
``openssl dgst -sha256 -verify vendor.pub.pem -signature MANIFEST.json.sig MANIFEST.json`` alone can check
it on a host where no Python package is trusted yet.  :func:`verify_bundle` re-checks all of it in Python.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from appliance._internal.hashing import sha256_bytes, sha256_file
from appliance.errors import IntegrityError, UsageError

MANIFEST = "MANIFEST.json"
SIGNATURE = "MANIFEST.json.sig"
FORMAT = "appliance-bundle/1"


def _walk(root: Path) -> list[Path]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for n in sorted(filenames):
            out.append(Path(dirpath) / n)
        for d in dirnames:
            if (Path(dirpath) / d).is_symlink():
                out.append(Path(dirpath) / d)
    return out


def file_entries(root: Path) -> list[dict]:
    """``[{path, size, sha256}]`` for every file under ``root`` except the manifest and its signature."""
    entries = []
    for p in _walk(root):
        rel = p.relative_to(root).as_posix()
        if rel in (MANIFEST, SIGNATURE):
            continue
        if p.is_symlink() or not p.is_file():
            raise UsageError(f"{rel}: bundles may hold only regular files (found a link or special file)")
        entries.append({"path": rel, "size": p.stat().st_size, "sha256": sha256_file(p)})
    return sorted(entries, key=lambda e: e["path"])


def write_manifest(root: Path, meta: dict) -> dict:
    """Write ``MANIFEST.json`` (``meta`` plus the file list) into ``root`` and return it."""
    files = file_entries(root)
    manifest = {"format": FORMAT, **meta, "files": files, "total_bytes": sum(f["size"] for f in files)}
    (root / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return manifest


def load_private_key(path: Path, password: bytes | None = None):
    """The vendor's EC P-256 private key from a PEM file."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(Path(path).read_bytes(), password=password)
    except (OSError, ValueError, TypeError) as e:
        raise UsageError(
            f"cannot load vendor key {path}: {e}", hint="pass an EC P-256 PEM via --vendor-key"
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise UsageError(
            f"vendor key {path} is not an EC P-256 key", hint="openssl ecparam -name prime256v1 -genkey"
        )
    return key


def public_pem(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def key_fingerprint(pub_pem: bytes) -> str:
    """sha256 of the DER SubjectPublicKeyInfo (``openssl pkey -pubin -outform DER | sha256sum``)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    pub = load_pem_public_key(pub_pem)
    return sha256_bytes(
        pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def sign_manifest(root: Path, key) -> bytes:
    """Sign the exact bytes of ``MANIFEST.json`` (ECDSA P-256 / SHA-256, DER) into ``MANIFEST.json.sig``."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    sig = key.sign((root / MANIFEST).read_bytes(), ec.ECDSA(hashes.SHA256()))
    (root / SIGNATURE).write_bytes(sig)
    return sig


def signature_ok(root: Path, pub_pem: bytes) -> bool:
    """Whether ``MANIFEST.json.sig`` verifies against ``pub_pem`` (False when either file is missing)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        load_pem_public_key(pub_pem).verify(
            (Path(root) / SIGNATURE).read_bytes(), (Path(root) / MANIFEST).read_bytes(), ec.ECDSA(hashes.SHA256())
        )
    except (InvalidSignature, ValueError, OSError):
        return False
    return True


def verify_bundle(root: Path, pub_pem: bytes) -> dict:
    """Check signature, every listed hash and size, and that nothing unlisted was added.

    Returns a report dict; raises :class:`IntegrityError` listing every problem when anything is off.
    """
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    root = Path(root)
    mpath, spath = root / MANIFEST, root / SIGNATURE
    hint = "do not install this bundle; ask the vendor for a fresh copy"
    if not mpath.is_file() or not spath.is_file():
        raise IntegrityError(f"{root} is not a signed bundle (missing {MANIFEST} or {SIGNATURE})", hint=hint)
    raw = mpath.read_bytes()
    try:
        load_pem_public_key(pub_pem).verify(spath.read_bytes(), raw, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        raise IntegrityError(
            "bundle signature does not verify against the pinned vendor key", hint=hint
        ) from None
    manifest = json.loads(raw)
    if manifest.get("format") != FORMAT:
        raise IntegrityError(f"unknown bundle format {manifest.get('format')!r}", hint=hint)
    problems: list[str] = []
    listed = {}
    for f in manifest["files"]:
        rel = f["path"]
        listed[rel] = f
        p = root / rel
        if ".." in Path(rel).parts or Path(rel).is_absolute():
            problems.append(f"{rel}: unsafe path in manifest")
        elif not p.is_file() or p.is_symlink():
            problems.append(f"{rel}: missing")
        elif p.stat().st_size != f["size"]:
            problems.append(f"{rel}: size {p.stat().st_size} != {f['size']}")
        elif sha256_file(p) != f["sha256"]:
            problems.append(f"{rel}: sha256 mismatch")
    for p in _walk(root):
        rel = p.relative_to(root).as_posix()
        if rel not in listed and rel not in (MANIFEST, SIGNATURE):
            problems.append(f"{rel}: not listed in the manifest")
    if problems:
        raise IntegrityError(
            f"bundle {root} failed verification ({len(problems)} problems)", hint=hint, details=problems
        )
    return {
        "ok": True,
        "bundle": str(root),
        "name": manifest["name"],
        "version": manifest["version"],
        "target": manifest["target"],
        "files": len(manifest["files"]),
        "total_bytes": manifest["total_bytes"],
        "key_fingerprint": key_fingerprint(pub_pem),
    }
