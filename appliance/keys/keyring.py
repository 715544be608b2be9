"""The keyring: one random master key, wrapped in key slots, unwrapping everything else.

Design
- ``keys/keyring.json`` holds key *slots*, each wrapping the same 256-bit master key with AES-256-GCM:
  passphrase slots (Argon2id, parameters calibrated at init, bounds enforced on read) and one recovery slot
  (a 256-bit recovery key shown once; HKDF suffices since it has full entropy).  Any slot unlocks.
- The master key wraps the vault key-encryption keys (KEKs, by id, so `vault rotate-key` can re-wrap) and the
  EC P-256 site signing key (``keys/signing.key.enc``; public half in clear in ``keys/signing.pub.pem``).
- One trust store: the keyring records every site signing key it ever held (current and retired) with its
  public PEM and validity period; :func:`trust_store` trusts those and nothing else.  A ``*.pub.pem`` file
  dropped under ``keys/`` is ignored (and listed, so `keys show` / `doctor` can report it).  Without the
  passphrase the MAC cannot be checked; the audit anchor outside the home carries the same key list, so an
  edited keyring is caught there (see :mod:`appliance.audit.anchor`).
- The whole keyring document is MACed with a key derived from the master key, so an edit to any field
  (a swapped KEK id, a lowered KDF cost, a removed slot) is detected at unlock, not silently honoured.
- Every wrap carries associated data naming what it wraps, so blobs cannot be moved between fields.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hmac
import json
import os
import secrets
from dataclasses import dataclass, field
from typing import Any

from appliance._internal import crypto
from appliance._internal.atomic import atomic_write
from appliance._internal.hashing import canonical_json
from appliance._internal.locks import file_lock
from appliance.audit import attach, record
from appliance.errors import IntegrityError, Locked, NotInitialized, UsageError
from appliance.home import Home

FORMAT = 1
RECOVERY_PREFIX = "APPL-REC"


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _slot_aad(slot_id: str) -> bytes:
    return b"appliance/keyring/slot:" + slot_id.encode()


def _kek_aad(kek_id: str) -> bytes:
    return b"appliance/keyring/vault-kek:" + kek_id.encode()


def _signing_aad(key_id: str) -> bytes:
    return b"appliance/keyring/signing-key:" + key_id.encode()


def _mac_key(master: bytes) -> bytes:
    return crypto.hkdf(master, salt=None, info=b"appliance/keyring/mac")


def _signing_wrap_key(master: bytes) -> bytes:
    return crypto.hkdf(master, salt=None, info=b"appliance/keyring/signing-wrap")


def master_fingerprint(master: bytes) -> str:
    """A non-secret identifier of the master key (shown by `appliance keys`)."""
    return crypto.hkdf(master, salt=None, info=b"appliance/keyring/fingerprint", length=8).hex()


# -- recovery key text form ---------------------------------------------------------------------------------


def format_recovery_key(raw: bytes) -> str:
    b32 = base64.b32encode(raw).decode("ascii").rstrip("=")
    return RECOVERY_PREFIX + "-" + "-".join(b32[i : i + 4] for i in range(0, len(b32), 4))


def parse_recovery_key(text: str) -> bytes:
    t = text.strip().upper().replace(" ", "")
    if not t.startswith(RECOVERY_PREFIX + "-"):
        raise Locked("not a recovery key (it should start with APPL-REC-)", hint="check the recovery key file")
    b32 = t[len(RECOVERY_PREFIX) + 1 :].replace("-", "")
    try:
        raw = base64.b32decode(b32 + "=" * (-len(b32) % 8))
    except ValueError:
        raise Locked("recovery key is malformed", hint="check the recovery key file") from None
    if len(raw) != crypto.KEY_BYTES:
        raise Locked("recovery key has the wrong length", hint="check the recovery key file")
    return raw


# -- signing identity ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Signer:
    """The site signing identity, unlocked.  ``key_id`` is the SHA-256 of the DER public key."""

    private_key: Any
    name: str

    @property
    def key_id(self) -> str:
        return crypto.fingerprint(self.private_key)

    @property
    def public_key(self):
        return self.private_key.public_key()

    @property
    def public_pem(self) -> bytes:
        return crypto.public_pem(self.private_key)

    def sign(self, data: bytes) -> bytes:
        return crypto.sign(self.private_key, data)


@dataclass
class UnlockedKeys:
    """What an unlock yields. Lives in memory only; never serialised."""

    home: Home
    master_key: bytes = field(repr=False)
    slot_id: str
    vault_kek_id: str
    vault_keks: dict[str, bytes] = field(repr=False)
    signer: Signer = field(repr=False)

    @property
    def vault_kek(self) -> bytes:
        return self.vault_keks[self.vault_kek_id]

    def derive(self, purpose: str, length: int = 32) -> bytes:
        """A purpose-bound secret derived from the master key (e.g. the scrubber's surrogate key)."""
        return crypto.hkdf(self.master_key, salt=None, info=b"appliance/derive:" + purpose.encode(), length=length)


# -- keyring document ---------------------------------------------------------------------------------------


def _read_doc(home: Home) -> dict:
    path = home.keyring_path
    if not path.exists():
        raise NotInitialized(f"no keyring at {path}", hint=f"appliance init --home {home.root}")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ValueError("unknown keyring format")
        for k in ("slots", "vault_keks", "vault_kek_current", "signing", "mac"):
            if k not in doc:
                raise ValueError(f"missing field {k!r}")
    except (ValueError, UnicodeDecodeError) as e:
        raise IntegrityError(
            f"keyring {path} is corrupted: {e}",
            hint="restore keys/ from the site backup (the recovery key needs an intact keyring)",
        ) from None
    return doc


def _mac(doc: dict, master: bytes) -> str:
    body = {k: v for k, v in doc.items() if k != "mac"}
    return hmac.new(_mac_key(master), canonical_json(body), "sha256").hexdigest()


def _write_doc(home: Home, doc: dict, master: bytes) -> None:
    doc = dict(doc)
    doc["mac"] = _mac(doc, master)
    atomic_write(home.keyring_path, json.dumps(doc, indent=2, sort_keys=True) + "\n", mode=0o600)


def _lock(home: Home):
    return file_lock(home.keys_dir / ".lock")


def _passphrase_slot(slot_id: str, passphrase: bytes, master: bytes, target_ms: int) -> dict:
    params = crypto.calibrate_argon2(target_ms)
    slot_key = crypto.argon2id(passphrase, params)
    return {
        "id": slot_id,
        "type": "passphrase",
        "created": _now(),
        "kdf": params.to_dict(),
        "wrapped_master": crypto.b64e(crypto.wrap(slot_key, master, _slot_aad(slot_id))),
    }


def _recovery_slot(raw: bytes, master: bytes) -> dict:
    salt = os.urandom(16)
    slot_key = crypto.hkdf(raw, salt=salt, info=b"appliance/keyring/recovery-slot")
    return {
        "id": "recovery",
        "type": "recovery",
        "created": _now(),
        "kdf": {"alg": "hkdf-sha256", "salt": crypto.b64e(salt)},
        "wrapped_master": crypto.b64e(crypto.wrap(slot_key, master, _slot_aad("recovery"))),
    }


def _write_signing_key(home: Home, master: bytes, key) -> str:
    key_id = crypto.fingerprint(key)
    blob = crypto.wrap(_signing_wrap_key(master), crypto.private_key_to_der(key), _signing_aad(key_id))
    atomic_write(home.signing_key_path, blob, mode=0o600)
    atomic_write(home.signing_pub_path, crypto.public_pem(key), mode=0o644)
    return key_id


@dataclass(frozen=True)
class InitResult:
    home: str
    recovery_key: str
    signing_key_id: str
    master_fingerprint: str
    vault_kek_id: str
    kdf: dict

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d.pop("recovery_key")  # never in machine output by accident; the CLI shows it deliberately
        return d


def init_home(home: Home, passphrase: bytes, *, kdf_target_ms: int = 500, site_name: str | None = None) -> InitResult:
    """Create the home layout, master key, slots, vault KEK and signing key.  Refuses an existing home."""
    if home.initialized:
        raise UsageError(
            f"{home.root} is already initialised",
            hint="use `appliance keys` to manage slots, or choose another --home",
        )
    if not passphrase:
        raise Locked("empty passphrase", hint="choose a non-empty passphrase")
    home.create_layout()
    if not home.config_path.exists():
        from appliance.config import DEFAULT_TOML

        text = DEFAULT_TOML if site_name is None else DEFAULT_TOML.replace('"hospital"', json.dumps(site_name), 1)
        atomic_write(home.config_path, text, mode=0o600)
    with _lock(home):
        master = crypto.random_key()
        recovery = crypto.random_key()
        pslot = _passphrase_slot("passphrase-1", passphrase, master, kdf_target_ms)
        kek_id = "kek-" + secrets.token_hex(4)
        kek = crypto.random_key()
        signing = crypto.new_signing_key()
        key_id = _write_signing_key(home, master, signing)
        doc = {
            "format": FORMAT,
            "created": _now(),
            "master_fingerprint": master_fingerprint(master),
            "slots": [pslot, _recovery_slot(recovery, master)],
            "vault_keks": {
                kek_id: {"created": _now(), "wrapped": crypto.b64e(crypto.wrap(master, kek, _kek_aad(kek_id)))}
            },
            "vault_kek_current": kek_id,
            "signing": {"current": key_id, "created": _now(), "retired": [],
                        "public_pem": crypto.public_pem(signing).decode("ascii")},
        }
        _write_doc(home, doc, master)
    return InitResult(
        home=str(home.root),
        recovery_key=format_recovery_key(recovery),
        signing_key_id=key_id,
        master_fingerprint=doc["master_fingerprint"],
        vault_kek_id=kek_id,
        kdf=pslot["kdf"] | {"salt": "…"},
    )


def _open_master(doc: dict, secret: bytes, *, recovery: bool) -> tuple[bytes, str]:
    for slot in doc["slots"]:
        try:
            if recovery and slot["type"] == "recovery":
                salt = crypto.b64d(slot["kdf"]["salt"])
                key = crypto.hkdf(secret, salt=salt, info=b"appliance/keyring/recovery-slot")
            elif not recovery and slot["type"] == "passphrase":
                key = crypto.argon2id(secret, crypto.Argon2Params.from_dict(slot["kdf"]))
            else:
                continue
            return crypto.unwrap(key, crypto.b64d(slot["wrapped_master"]), _slot_aad(slot["id"])), slot["id"]
        except crypto.UnwrapError:
            continue
        except (KeyError, TypeError, ValueError) as e:
            raise IntegrityError(
                f"keyring slot {slot.get('id', '?')!r} is corrupted: {e}",
                hint="restore keys/ from the site backup",
            ) from None
    what = "recovery key" if recovery else "passphrase"
    raise Locked(
        f"wrong {what}: no key slot opened",
        hint="check the passphrase file, or unlock with the recovery key (appliance keys add-passphrase --recovery-key-file F)",
    )


def _unlock_doc(home: Home, doc: dict, master: bytes, slot_id: str) -> UnlockedKeys:
    if not hmac.compare_digest(doc["mac"], _mac(doc, master)):
        raise IntegrityError(
            f"keyring {home.keyring_path} fails its integrity check (edited outside the appliance)",
            hint="restore keys/ from the site backup and run `appliance audit verify`",
        )
    try:
        keks = {
            kid: crypto.unwrap(master, crypto.b64d(v["wrapped"]), _kek_aad(kid)) for kid, v in doc["vault_keks"].items()
        }
        blob = home.signing_key_path.read_bytes()
        key_id = doc["signing"]["current"]
        der = crypto.unwrap(_signing_wrap_key(master), blob, _signing_aad(key_id))
        signing = crypto.private_key_from_der(der)
    except (crypto.UnwrapError, OSError, KeyError, ValueError) as e:
        raise IntegrityError(
            f"key material under {home.keys_dir} does not match the keyring: {e}",
            hint="restore keys/ from the site backup",
        ) from None
    if crypto.fingerprint(signing) != key_id:
        raise IntegrityError("signing key does not match its recorded fingerprint", hint="restore keys/ from backup")
    from appliance.config import load_site_config

    try:
        name = load_site_config(home.config_path).site.name
    except Exception:  # noqa: BLE001 -- an unreadable config must not block unlocking; config check reports it
        name = "appliance"
    unlocked = UnlockedKeys(
        home=home,
        master_key=master,
        slot_id=slot_id,
        vault_kek_id=doc["vault_kek_current"],
        vault_keks=keks,
        signer=Signer(signing, name=f"appliance/{name}"),
    )
    from appliance.keys.trust import trusted_records

    attach(home, unlocked.signer, trusted_records(home, doc))  # the command ends with a signed checkpoint
    return unlocked


def unlock_home(home: Home, passphrase: bytes, *, audit: bool = True) -> UnlockedKeys:
    """Open the keyring with a passphrase. Wrong passphrase → :class:`Locked` (exit 5)."""
    home.require_initialized()
    doc = _read_doc(home)
    try:
        master, slot_id = _open_master(doc, passphrase, recovery=False)
    except Locked:
        if audit:
            record(home, "keys.unlock", {"method": "passphrase"}, outcome="refused")
        raise
    keys = _unlock_doc(home, doc, master, slot_id)
    if audit:
        record(home, "keys.unlock", {"slot": slot_id}, signer=keys.signer)
    return keys


def unlock_with_recovery(home: Home, recovery_key_text: str) -> UnlockedKeys:
    """Open the keyring with the recovery key printed at init."""
    home.require_initialized()
    doc = _read_doc(home)
    try:
        master, slot_id = _open_master(doc, parse_recovery_key(recovery_key_text), recovery=True)
    except Locked:
        record(home, "keys.unlock", {"method": "recovery"}, outcome="refused")
        raise
    keys = _unlock_doc(home, doc, master, slot_id)
    record(home, "keys.unlock", {"slot": slot_id}, signer=keys.signer)
    return keys


def describe(home: Home) -> dict:
    """Public facts about the keyring: slots, KEK ids, signing key fingerprints (no secrets, no unlock)."""
    home.require_initialized()
    doc = _read_doc(home)
    return {
        "home": str(home.root),
        "master_fingerprint": doc.get("master_fingerprint"),
        "slots": [
            {"id": s["id"], "type": s["type"], "created": s.get("created"), "kdf": {k: v for k, v in s["kdf"].items() if k != "salt"}}
            for s in doc["slots"]
        ],
        "vault_kek_current": doc["vault_kek_current"],
        "vault_keks": sorted(doc["vault_keks"]),
        "signing_key": doc["signing"]["current"],
        "retired_signing_keys": [{k: v for k, v in r.items() if k != "public_pem"}
                                 for r in doc["signing"].get("retired", []) if isinstance(r, dict)],
        "ignored_key_files": _ignored_key_files(home),
    }


def _ignored_key_files(home: Home) -> list[str]:
    from appliance.keys.trust import trust_store

    return trust_store(home).ignored


def add_passphrase(keys: UnlockedKeys, new_passphrase: bytes, *, kdf_target_ms: int = 500) -> str:
    """Add a passphrase slot; returns its id."""
    home = keys.home
    if not new_passphrase:
        raise UsageError("empty passphrase", hint="choose a non-empty passphrase")
    with _lock(home):
        doc = _read_doc(home)
        ids = {s["id"] for s in doc["slots"]}
        n = 1
        while f"passphrase-{n}" in ids:
            n += 1
        slot_id = f"passphrase-{n}"
        doc["slots"].append(_passphrase_slot(slot_id, new_passphrase, keys.master_key, kdf_target_ms))
        _write_doc(home, doc, keys.master_key)
    record(home, "keys.slot.add", {"slot": slot_id}, signer=keys.signer)
    return slot_id


def remove_slot(keys: UnlockedKeys, slot_id: str) -> None:
    """Remove a passphrase slot; the last passphrase slot cannot be removed."""
    home = keys.home
    with _lock(home):
        doc = _read_doc(home)
        slot = next((s for s in doc["slots"] if s["id"] == slot_id), None)
        if slot is None:
            raise UsageError(f"no key slot {slot_id!r}", hint="appliance keys show")
        if slot["type"] != "passphrase":
            raise UsageError("only passphrase slots can be removed", hint="appliance keys show")
        if sum(1 for s in doc["slots"] if s["type"] == "passphrase") <= 1:
            raise UsageError(
                "refusing to remove the last passphrase slot", hint="add another first: appliance keys add-passphrase"
            )
        doc["slots"] = [s for s in doc["slots"] if s["id"] != slot_id]
        _write_doc(home, doc, keys.master_key)
    record(home, "keys.slot.remove", {"slot": slot_id}, signer=keys.signer)


def rotate_signing_key(keys: UnlockedKeys) -> dict:
    """New site signing key; the old public key moves to keys/retired/ and stays valid for verification."""
    home = keys.home
    old = keys.signer
    with _lock(home):
        doc = _read_doc(home)
        atomic_write(home.retired_keys_dir / f"{old.key_id}.pub.pem", old.public_pem, mode=0o644)
        new = crypto.new_signing_key()
        new_id = _write_signing_key(home, keys.master_key, new)
        doc["signing"] = {
            "current": new_id,
            "created": _now(),
            "public_pem": crypto.public_pem(new).decode("ascii"),
            "retired": list(doc["signing"].get("retired", [])) + [{
                "key_id": old.key_id, "created": doc["signing"].get("created"), "retired": _now(),
                "public_pem": old.public_pem.decode("ascii")}],
        }
        _write_doc(home, doc, keys.master_key)
    keys.signer = Signer(new, name=old.name)
    from appliance.keys.trust import trusted_records

    attach(home, keys.signer, trusted_records(home, doc))
    record(home, "keys.signing.rotate", {"old": old.key_id, "new": new_id}, signer=keys.signer)
    return {"old": old.key_id, "new": new_id}


def add_vault_kek(keys: UnlockedKeys) -> str:
    """Create a new vault KEK and make it current (old ones stay until retired). Returns its id."""
    home = keys.home
    with _lock(home):
        doc = _read_doc(home)
        kek_id = "kek-" + secrets.token_hex(4)
        kek = crypto.random_key()
        doc["vault_keks"][kek_id] = {
            "created": _now(),
            "wrapped": crypto.b64e(crypto.wrap(keys.master_key, kek, _kek_aad(kek_id))),
        }
        doc["vault_kek_current"] = kek_id
        _write_doc(home, doc, keys.master_key)
    keys.vault_keks[kek_id] = kek
    keys.vault_kek_id = kek_id
    return kek_id


def retire_vault_kek(keys: UnlockedKeys, kek_id: str) -> None:
    """Destroy an old KEK once nothing is wrapped under it any more."""
    home = keys.home
    with _lock(home):
        doc = _read_doc(home)
        if kek_id == doc["vault_kek_current"]:
            raise UsageError("refusing to retire the current vault KEK")
        doc["vault_keks"].pop(kek_id, None)
        _write_doc(home, doc, keys.master_key)
    keys.vault_keks.pop(kek_id, None)


def read_document(home: Home) -> dict:
    """The parsed keyring document (its MAC is not checked here: see :func:`mac_matches`)."""
    return _read_doc(home)


def mac_matches(doc: dict, master: bytes) -> bool:
    return hmac.compare_digest(str(doc.get("mac", "")), _mac(doc, master))


def public_keys(home: Home) -> dict[str, Any]:
    """Every site public key that may have signed something here (current and retired), by key id: only the
    keys the keyring records; a ``*.pub.pem`` dropped under ``keys/`` is not trusted."""
    from appliance.keys.trust import trust_store

    return dict(trust_store(home).keys)
