"""Signed checkpoints: a tree head (origin, size, root) as a C2SP signed note, signed with the site key.

Format (c2sp.org/tlog-checkpoint inside c2sp.org/signed-note)::

    appliance/<site>\\n
    <size>\\n
    <base64 root>\\n
    \\n
    — <key name> <base64(4-byte key ID || DER ECDSA P-256/SHA-256 signature over the three lines)>\\n

The signature uses signed-note type 0x02 (ECDSA, as in transparency-dev/witness), whose key ID is the first
four bytes of SHA-256 over the DER SubjectPublicKeyInfo.  Files live at ``audit/checkpoints/<size>.note``.
Verification follows the spec: lines from unknown keys are ignored, a known key whose signature fails
rejects the note, and at least one known key must verify.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from appliance._internal import crypto
from appliance.errors import IntegrityError

EM_DASH = "\u2014"
MAX_NOTE_BYTES = 64 * 1024
MAX_SIGNATURES = 16
_ORIGIN_RE = re.compile(r"^[^\s+\u2014][^\n]*$")


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    signatures: tuple[tuple[str, bytes, bytes], ...] = field(default=())  # (key name, key id, signature)
    text: str = ""  # the signed body, with its final newline

    @property
    def root_b64(self) -> str:
        return base64.b64encode(self.root).decode("ascii")

    def to_dict(self) -> dict:
        return {"origin": self.origin, "size": self.size, "root": self.root.hex(), "signed_by": [s[0] for s in self.signatures]}


def _spki_der(pub: Any) -> bytes:
    return pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_id(pub: Any) -> bytes:
    """Signed-note key ID for an ECDSA key (type 0x02): SHA-256(DER SPKI)[:4]."""
    return hashlib.sha256(_spki_der(pub)).digest()[:4]


def key_name(signer_name: str) -> str:
    """A valid note key name (no spaces, no '+') derived from the signer's name."""
    name = re.sub(r"[\s+]+", "_", signer_name.strip()) or "appliance"
    return name


def body(origin: str, size: int, root: bytes) -> str:
    if not _ORIGIN_RE.match(origin):
        raise ValueError(f"invalid checkpoint origin {origin!r}")
    if size < 0 or len(root) != 32:
        raise ValueError("checkpoint needs a size >= 0 and a 32-byte root")
    return f"{origin}\n{size}\n{base64.b64encode(root).decode('ascii')}\n"


def sign_checkpoint(origin: str, size: int, root: bytes, signer: Any) -> str:
    """The signed note text for a tree head.  ``signer`` has ``.sign``, ``.private_key`` and ``.name``."""
    text = body(origin, size, root)
    pub = signer.private_key.public_key()
    sig = signer.sign(text.encode("utf-8"))
    blob = base64.b64encode(key_id(pub) + sig).decode("ascii")
    return f"{text}\n{EM_DASH} {key_name(signer.name)} {blob}\n"


def parse(note: str | bytes, source: str = "checkpoint") -> Checkpoint:
    """Parse a signed note (no signature check); raises IntegrityError if it is malformed."""

    def bad(why: str) -> IntegrityError:
        return IntegrityError(f"{source}: malformed checkpoint: {why}", hint="re-export the checkpoint from the site")

    if isinstance(note, bytes):
        if len(note) > MAX_NOTE_BYTES:
            raise bad("too large")
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError:
            raise bad("not UTF-8") from None
    if len(note.encode("utf-8")) > MAX_NOTE_BYTES:
        raise bad("too large")
    if any(ord(c) < 0x20 and c != "\n" for c in note):
        raise bad("contains control characters")
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise bad("no blank line before the signatures")
    text, sig_block = note[: split + 1], note[split + 2 :]
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise bad("needs origin, size and root lines")
    origin, size_s, root_s = lines[0], lines[1], lines[2]
    if not origin or not size_s.isdigit() or (size_s != "0" and size_s.startswith("0")):
        raise bad("bad origin or size line")
    try:
        root = base64.b64decode(root_s, validate=True)
    except binascii.Error:
        raise bad("root is not base64") from None
    if len(root) != 32:
        raise bad("root is not 32 bytes")
    sigs = []
    for line in sig_block[:-1].split("\n"):
        m = re.fullmatch(EM_DASH + r" (\S+) (\S+)", line)
        if not m:
            raise bad(f"bad signature line {line[:40]!r}")
        try:
            raw = base64.b64decode(m.group(2), validate=True)
        except binascii.Error:
            raise bad("signature is not base64") from None
        if len(raw) < 5:
            raise bad("signature too short")
        sigs.append((m.group(1), raw[:4], raw[4:]))
    if not sigs or len(sigs) > MAX_SIGNATURES:
        raise bad(f"{len(sigs)} signature lines")
    return Checkpoint(origin=origin, size=int(size_s), root=root, signatures=tuple(sigs), text=text)


def verify_note(note: str | bytes, public_keys: Mapping[str, Any], source: str = "checkpoint") -> tuple[Checkpoint, str]:
    """Parse and check the signatures against ``public_keys`` ({fingerprint: EC public key}).

    Returns the checkpoint and the fingerprint of the key that verified it; raises IntegrityError otherwise.
    """
    cp = parse(note, source)
    by_id: dict[bytes, list[tuple[str, Any]]] = {}
    for fp, pub in public_keys.items():
        by_id.setdefault(key_id(pub), []).append((fp, pub))
    good = None
    for _name, kid, sig in cp.signatures:
        for fp, pub in by_id.get(kid, []):
            if crypto.verify(pub, sig, cp.text.encode("utf-8")):
                good = good or fp
            else:
                raise IntegrityError(
                    f"{source}: signature by key {fp[:16]}… does not verify (forged or altered checkpoint)",
                    hint="appliance audit verify   (and compare with the exported checkpoints)",
                )
    if good is None:
        raise IntegrityError(
            f"{source}: not signed by any known site key",
            hint="pass the site's public key with --public-key, or check keys/signing.pub.pem and keys/retired/",
        )
    return cp, good


def write(directory: Path, note_text: str, size: int) -> Path:
    """Write ``<size>.note`` atomically (0644: checkpoints are public evidence)."""
    from appliance._internal.atomic import atomic_write

    path = Path(directory) / f"{size}.note"
    atomic_write(path, note_text, mode=0o644)
    return path


def list_checkpoints(directory: Path) -> list[tuple[int, Path]]:
    """``(size, path)`` for every ``<size>.note`` file, ascending by size."""
    out = []
    d = Path(directory)
    if not d.is_dir():
        return out
    for p in d.glob("*.note"):
        if p.stem.isdigit():
            out.append((int(p.stem), p))
    return sorted(out)


# -- checkpoints of a home's log ------------------------------------------------------------------------------


def origin_for(home) -> str:
    """``audit.origin`` from the site config, else ``appliance/<site.name>``."""
    from appliance.config import load_site_config

    cfg = load_site_config(home.config_path)
    return cfg.audit.origin or f"appliance/{key_name(cfg.site.name)}"


def write_for_home(home, signer) -> tuple[Path, Checkpoint]:
    """Sign the tree head of the whole log and write ``<size>.note``.  The caller holds the audit lock.

    An existing note for the same size is replaced only if it states the same root; a different root
    there is evidence of tampering and is kept (IntegrityError).
    """
    from appliance.audit import log

    log.ensure_dirs(home)
    cr, offset = log.current_tree(home)
    root = cr.root
    path = Path(home.checkpoints_dir) / f"{cr.size}.note"
    if path.exists():
        try:
            old = parse(path.read_bytes(), str(path))
        except IntegrityError:
            old = None
        if old is None or old.root != root:
            raise IntegrityError(
                f"{path.name} already exists and states a different tree root than the log now has",
                hint="appliance audit verify",
            )
    text = sign_checkpoint(origin_for(home), cr.size, root, signer)
    path = write(home.checkpoints_dir, text, cr.size)
    log.save_state(home, cr, offset)
    return path, parse(text, str(path))


def last_size(home) -> int:
    """Size of the newest checkpoint in the home (0 if none).

    Read from the tree-state cache, which every checkpoint write updates; listing the directory is the
    fallback when the cache is missing or names a note that is not there.
    """
    from appliance.audit import log

    size = log.load_state(home)[0].size
    if size and (Path(home.checkpoints_dir) / f"{size}.note").is_file():
        return size
    cps = list_checkpoints(home.checkpoints_dir)
    return cps[-1][0] if cps else 0
