"""Vendor key transitions: the only way a bundle signed by a new vendor key installs over an existing one.

An install is always judged by the vendor key pinned in the *installed* version
(``<prefix>/current/share/appliance/installer/vendor.pub.pem``), whichever copy of ``install.sh`` runs.
When the vendor replaces its key, the old key signs a short statement, ``key-transition.json``:
``{format, old_key_sha256, new_key_sha256, new_key_pem, not_before, not_after, reason, created}``, its
signature (ECDSA P-256 / SHA-256, DER) in ``key-transition.json.sig`` over the exact file bytes, so that
``openssl dgst -sha256 -verify OLD.pub.pem -signature key-transition.json.sig key-transition.json`` checks it
on the air-gapped host.  The bundle carries both files in ``installer/`` (listed in its manifest, which the
new key signs); install.sh accepts the new key only when the statement verifies against the installed key,
names the installed key as old and the bundle's pinned key as new, and today lies in its validity window.
One statement covers one step (old -> new); a host two keys behind installs the intermediate bundle first.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from appliance.bundle.manifest import key_fingerprint, load_private_key, public_pem
from appliance.errors import IntegrityError, UsageError

FORMAT = "appliance-key-transition/1"
STATEMENT = "key-transition.json"
SIGNATURE = "key-transition.json.sig"
_TIME = "%Y-%m-%dT%H:%M:%SZ"


def _read_pub(path: Path) -> bytes:
    try:
        pem = Path(path).read_bytes()
        key_fingerprint(pem)
    except (OSError, ValueError) as e:
        raise UsageError(f"cannot read public key {path}: {e}",
                         hint="pass a PEM public key (openssl ec -pubout)") from None
    return pem


def make_transition(
    old_key: Path, new_pub: Path, out: Path, *, reason: str, valid_days: int = 365, now: datetime | None = None
) -> dict:
    """Write ``out`` (the statement) and ``out``.sig, signed by ``old_key``; returns the statement."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    reason = " ".join(reason.split())
    if not reason:
        raise UsageError("a key transition needs a reason", hint='pass --reason "why the key changes"')
    if not 1 <= valid_days <= 3650:
        raise UsageError(f"--valid-days {valid_days}: give 1 to 3650 days")
    key = load_private_key(old_key)
    new_pem = _read_pub(new_pub)
    old_fpr, new_fpr = key_fingerprint(public_pem(key)), key_fingerprint(new_pem)
    if old_fpr == new_fpr:
        raise UsageError("the new public key is the old key's own", hint="pass the NEW vendor key's public half")
    start = (now or datetime.now(UTC)).replace(microsecond=0)
    statement = {
        "format": FORMAT,
        "old_key_sha256": old_fpr,
        "new_key_sha256": new_fpr,
        "new_key_pem": new_pem.decode("ascii"),
        "not_before": start.strftime(_TIME),
        "not_after": (start + timedelta(days=valid_days)).strftime(_TIME),
        "reason": reason,
        "created": start.strftime(_TIME),
    }
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    raw = (json.dumps(statement, indent=2, sort_keys=True) + "\n").encode("utf-8")
    out.write_bytes(raw)
    Path(f"{out}.sig").write_bytes(key.sign(raw, ec.ECDSA(hashes.SHA256())))
    return {**statement, "statement": str(out), "signature": f"{out}.sig"}


def attach_transition(statement: Path, installer_dir: Path, signing_pub_pem: bytes) -> dict:
    """Copy a statement (and its .sig) into a staged bundle's ``installer/``; it must name the signing key."""
    statement = Path(statement)
    sig = Path(f"{statement}.sig")
    if not statement.is_file() or not sig.is_file():
        raise UsageError(f"{statement} or {sig} not found",
                         hint="appliance bundle transition --old-key OLD --new-pub NEW -o key-transition.json")
    try:
        data = json.loads(statement.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UsageError(f"{statement}: not a key-transition statement ({e})") from None
    if data.get("format") != FORMAT:
        raise UsageError(f"{statement}: format {data.get('format')!r} is not {FORMAT}")
    if data.get("new_key_sha256") != key_fingerprint(signing_pub_pem):
        raise UsageError(f"{statement} names new key sha256:{str(data.get('new_key_sha256'))[:16]}…, "
                         "not the key this bundle is signed with", hint="sign the bundle with the new vendor key")
    shutil.copyfile(statement, installer_dir / STATEMENT)
    shutil.copyfile(sig, installer_dir / SIGNATURE)
    return data


def check_transition(bundle: Path, trusted_pem: bytes, *, now: datetime | None = None) -> tuple[bytes, dict]:
    """``(new pinned key PEM, statement)`` when ``bundle`` carries a valid transition from ``trusted_pem``.

    Mirrors install.sh's check (which uses openssl); raises IntegrityError naming what is wrong.
    """
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    inst = Path(bundle) / "installer"
    st, sig, pinned = inst / STATEMENT, inst / SIGNATURE, inst / "vendor.pub.pem"
    hint = "ask the vendor for a bundle with a key-transition statement signed by the key you have installed"
    if not st.is_file() or not sig.is_file():
        raise IntegrityError("bundle signature does not verify against the pinned vendor key, and the bundle "
                             "carries no key-transition statement", hint=hint)
    raw = st.read_bytes()
    try:
        load_pem_public_key(trusted_pem).verify(sig.read_bytes(), raw, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        raise IntegrityError("the key-transition statement is not signed by the pinned vendor key", hint=hint) from None
    data = json.loads(raw)
    new_pem = pinned.read_bytes() if pinned.is_file() else b""
    problems = []
    if data.get("format") != FORMAT:
        problems.append(f"format {data.get('format')!r} is not {FORMAT}")
    if data.get("old_key_sha256") != key_fingerprint(trusted_pem):
        problems.append("it does not name the pinned key as the old key")
    if not new_pem or data.get("new_key_sha256") != key_fingerprint(new_pem):
        problems.append("it does not name the key the bundle pins as the new key")
    t = (now or datetime.now(UTC)).strftime(_TIME)
    if not (re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", str(data.get("not_before", "")))
            and data["not_before"] <= t <= str(data.get("not_after", ""))):
        problems.append(f"outside its validity {data.get('not_before')} .. {data.get('not_after')}")
    if not str(data.get("reason", "")).strip():
        problems.append("it gives no reason")
    if problems:
        raise IntegrityError("key-transition statement refused: " + "; ".join(problems), hint=hint)
    return new_pem, data
