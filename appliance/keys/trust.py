"""The site's one trust store: the signing keys its keyring records, nothing else.

The keyring (MAC'd with a key derived from the master key) lists the current signing key and every retired
one, each with its public PEM and validity period (``created`` → ``retired``).  Those are the keys that
audit checkpoints, registry versions and artifacts may be signed by.  A ``*.pub.pem`` file under ``keys/``
(``signing.pub.pem`` is a convenience copy for `openssl`) is trusted only when its fingerprint is a recorded
key id; any other is ignored and listed in :attr:`TrustStore.ignored`, which `keys show` and `doctor`
report.  Without the passphrase the MAC cannot be checked (``mac_checked`` is False): the anchor kept
outside the home mirrors this key list, and audit verification holds checkpoints to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from appliance._internal import crypto
from appliance.errors import IntegrityError
from appliance.home import Home
from appliance.keys.keyring import UnlockedKeys, mac_matches, read_document


@dataclass
class TrustStore:
    """The site keys a home trusts: exactly those its keyring records (by key id), each with its validity."""

    keys: dict[str, Any]  # key id → EC public key
    validity: dict[str, tuple[str | None, str | None]]  # key id → (not_before, not_after or None if current)
    ignored: list[str]  # key files under keys/ that the keyring does not record (planted or stale)
    mac_checked: bool  # True only when the keyring MAC was verified (keys unlocked)

    def records(self) -> list[dict]:
        return [{"key_id": fp, "public_pem": crypto.public_pem(pub).decode("ascii"),
                 "not_before": self.validity[fp][0], "not_after": self.validity[fp][1]}
                for fp, pub in sorted(self.keys.items())]


def recorded_keys(home: Home, doc: dict) -> list[tuple[str, bytes | None, str | None, str | None]]:
    """(key id, PEM or None, not_before, not_after) for the current and every retired signing key."""
    sig = doc.get("signing") or {}
    out = []
    for r in sig.get("retired", []) or []:
        if isinstance(r, dict) and isinstance(r.get("key_id"), str):
            pem = r.get("public_pem")
            out.append((r["key_id"], pem.encode() if isinstance(pem, str) else None, r.get("created"), r.get("retired")))
    if isinstance(sig.get("current"), str):
        pem = sig.get("public_pem")
        out.append((sig["current"], pem.encode() if isinstance(pem, str) else None, sig.get("created"), None))
    return out


def trusted_records(home: Home, doc: dict) -> list[dict]:
    """The trusted keys of a keyring whose MAC the caller has just checked, as anchor records."""
    return store_from_doc(home, doc, mac_checked=True).records()


def store_from_doc(home: Home, doc: dict, *, mac_checked: bool) -> TrustStore:
    keys: dict[str, Any] = {}
    validity: dict[str, tuple[str | None, str | None]] = {}
    for kid, pem, nb, na in recorded_keys(home, doc):
        if pem is None:  # a keyring written before PEMs were recorded: the file, if its fingerprint matches
            p = home.signing_pub_path if na is None else home.retired_keys_dir / f"{kid}.pub.pem"
            pem = p.read_bytes() if p.is_file() else None
        if pem is None:
            continue
        try:
            pub = crypto.load_public_pem(pem)
        except ValueError:
            continue
        if crypto.fingerprint(pub) == kid:
            keys[kid] = pub
            validity[kid] = (nb, na)
    ignored = []
    for p in sorted(home.keys_dir.rglob("*.pem")) if home.keys_dir.is_dir() else []:
        try:
            fp = crypto.fingerprint(crypto.load_public_pem(p.read_bytes()))
        except (OSError, ValueError):
            fp = None
        if fp not in keys:
            ignored.append(str(p))
    return TrustStore(keys=keys, validity=validity, ignored=ignored, mac_checked=mac_checked)


def trust_store(home: Home, keys: UnlockedKeys | None = None) -> TrustStore:
    """The keys recorded in the keyring (MAC checked when ``keys`` is given); key files alone are never trusted."""
    home.require_initialized()
    doc = read_document(home)
    if keys is not None and not mac_matches(doc, keys.master_key):
        raise IntegrityError(
            f"keyring {home.keyring_path} fails its integrity check (edited outside the appliance)",
            hint="restore keys/ from the site backup and run `appliance audit verify`",
        )
    return store_from_doc(home, doc, mac_checked=keys is not None)
