"""A version's files on disk: copy into staging, hash, sign, verify.

``models/<version>/`` holds the HF model files, ``data_manifest.json`` (record ids + content hashes per
split), ``recipe.json``, then ``MANIFEST.json`` (canonical JSON: version, parent, base model, key id and the
sha256 of every other file) and ``MANIFEST.sig`` (ECDSA P-256/SHA-256, DER, by the site key) plus
``signer.pub.pem``.  Anyone can check a version without the appliance::

    openssl dgst -sha256 -verify signer.pub.pem -signature MANIFEST.sig MANIFEST.json
    # then compare `sha256sum` of each file with MANIFEST.json "files"

(the embedded public key is a convenience; :func:`verify_dir` trusts only the home's own public keys).
Only safetensors weights are accepted: pickle-based formats (``*.bin``, ``*.pt``, ``*.pkl``) can run code.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from appliance._internal import crypto
from appliance._internal.atomic import fsync_tree
from appliance._internal.hashing import canonical_json, sha256_bytes, sha256_file, sha256_tree
from appliance._internal.parity_reference import STORED_REFERENCE
from appliance.errors import InputError, IntegrityError

MANIFEST = "MANIFEST.json"
SIGNATURE = "MANIFEST.sig"
PUBKEY = "signer.pub.pem"
DATA_MANIFEST = "data_manifest.json"
RECIPE = "recipe.json"
_UNSIGNED = {MANIFEST, SIGNATURE, PUBKEY}
_PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
# Files of a HF snapshot worth keeping; anything else (READMEs, images, optimizer states) is left behind.
_KEEP_SUFFIXES = (".json", ".safetensors", ".txt", ".model", ".jinja", ".tiktoken")
_KEEP_NAMES = {STORED_REFERENCE}  # the trainer's hash-bound parity reference (export reuses it)


def check_snapshot(src: Path) -> list[Path]:
    """The files of a local HF snapshot to copy; refuses pickle weights, symlinks outside it and no weights."""
    src = Path(src)
    if not src.is_dir():
        raise InputError(f"{src} is not a directory", hint="give the directory of a Hugging Face snapshot")
    files: list[Path] = []
    pickles: list[str] = []
    for p in sorted(src.rglob("*")):
        rel = p.relative_to(src)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if p.is_symlink():
            target = p.resolve()
            if src.resolve() not in target.parents:
                raise InputError(f"{rel} is a symlink leaving the snapshot", hint="copy the real files into the snapshot")
        if not p.is_file():
            continue
        if p.name.endswith(_PICKLE_SUFFIXES):
            pickles.append(str(rel))
            continue
        if (p.name.endswith(_KEEP_SUFFIXES) or p.name in _KEEP_NAMES) and p.name not in _UNSIGNED:
            files.append(p)
    if not any(f.name.endswith(".safetensors") for f in files):
        hint = "convert the weights to safetensors first" if pickles else "check the directory"
        raise InputError(f"{src}: no *.safetensors weights" + (f" (only pickle files: {', '.join(pickles[:3])})"
                                                              if pickles else ""), hint=hint)
    if not (src / "config.json").is_file():
        raise InputError(f"{src}: no config.json", hint="give the directory of a Hugging Face snapshot")
    return files


def copy_snapshot(src: Path, dest: Path) -> None:
    """Copy the snapshot's kept files (dereferencing links) into ``dest``."""
    src = Path(src)
    for p in check_snapshot(src):
        target = dest / p.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(p, target)
        os.chmod(target, 0o600)


def source_digest(src: Path) -> str:
    """A digest of the snapshot's kept files (names + contents): the identity of what was registered."""
    src = Path(src)
    return sha256_bytes(canonical_json({p.relative_to(src).as_posix(): sha256_file(p) for p in check_snapshot(src)}))


def write_json(path: Path, obj: Any) -> None:
    path.write_bytes(json.dumps(obj, indent=1, sort_keys=True).encode("utf-8") + b"\n")
    os.chmod(path, 0o600)


def sign_dir(directory: Path, header: dict, signer) -> str:
    """Write MANIFEST.json (``header`` + every file's sha256), its signature and the public key; fsync all.

    Returns the sha256 of MANIFEST.json (what the registry row pins).
    """
    directory = Path(directory)
    files = {k: v for k, v in sha256_tree(directory).items() if k not in _UNSIGNED}
    manifest = dict(header, files=files, key_id=signer.key_id, format=1)
    data = canonical_json(manifest)
    (directory / MANIFEST).write_bytes(data)
    (directory / SIGNATURE).write_bytes(signer.sign(data))
    (directory / PUBKEY).write_bytes(signer.public_pem)
    fsync_tree(directory)
    return sha256_bytes(data)


def read_manifest(directory: Path) -> dict:
    try:
        return json.loads((Path(directory) / MANIFEST).read_bytes())
    except (OSError, ValueError) as e:
        raise IntegrityError(f"{directory}: unreadable {MANIFEST}: {e}",
                             hint="appliance models verify VERSION; restore the version from backup") from None


def verify_dir(directory: Path, public_keys: dict[str, Any], expected_manifest_sha256: str | None = None) -> dict:
    """Check signature, pinned manifest hash and every file hash; raise IntegrityError listing all problems."""
    directory = Path(directory)
    problems: list[str] = []
    try:
        data = (directory / MANIFEST).read_bytes()
        sig = (directory / SIGNATURE).read_bytes()
    except OSError as e:
        raise IntegrityError(f"{directory}: missing {MANIFEST} or {SIGNATURE} ({e.strerror or e})",
                             hint="restore the version from backup or register it again") from None
    try:
        manifest = json.loads(data)
    except ValueError:
        raise IntegrityError(f"{directory}: {MANIFEST} is not JSON", hint="restore the version from backup") from None
    pub = public_keys.get(manifest.get("key_id", ""))
    if pub is None:
        problems.append(f"signed by unknown key {manifest.get('key_id')!r} (not a key of this site)")
    elif not crypto.verify(pub, sig, data):
        problems.append(f"{MANIFEST}: bad signature")
    if expected_manifest_sha256 and sha256_bytes(data) != expected_manifest_sha256:
        problems.append(f"{MANIFEST}: differs from the one the registry pinned")
    listed = manifest.get("files", {})
    present = {k: v for k, v in sha256_tree(directory).items() if k not in _UNSIGNED}
    for name, digest in sorted(listed.items()):
        if name not in present:
            problems.append(f"{name}: missing")
        elif present[name] != digest:
            problems.append(f"{name}: sha256 mismatch")
    for name in sorted(set(present) - set(listed)):
        problems.append(f"{name}: not in the signed manifest")
    if problems:
        raise IntegrityError(f"{directory.name}: verification failed", details=problems,
                             hint="do not use this version; `appliance models rollback` or restore it from backup")
    return manifest
