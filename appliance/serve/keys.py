"""API keys for `appliance serve`: 256-bit random bearer tokens, of which the home keeps only a hash.

``serve/api-keys.json`` maps a key name to the SHA-256 of its token (a fast unkeyed hash is enough: the
tokens are 256-bit random, so there is nothing to brute-force), when it was made and when it was revoked.
The whole file is signed with the site signing key, so an insider who can write the home but does not
know the passphrase cannot add a key of their own; a ``generation`` counter, recorded in the audit log at
every change, lets the server refuse an older signed copy put back to revive a revoked key.

A running server holds a :class:`KeyStore`: each request costs one ``stat`` of the file, and a changed file
is re-read and re-verified at once, so a revocation takes effect on the next request.  A file that fails
verification fails closed (every request gets 401) until it is fixed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import re
import secrets
import threading
from datetime import UTC, datetime
from typing import Any

from appliance._internal import crypto
from appliance._internal.atomic import atomic_write
from appliance._internal.hashing import canonical_json
from appliance._internal.locks import file_lock
from appliance.errors import IntegrityError, UsageError
from appliance.home import Home

log = logging.getLogger(__name__)

SCHEMA = "appliance.serve.keys/1"
TOKEN_PREFIX = "apk_"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _signed_bytes(doc: dict) -> bytes:
    return canonical_json({k: v for k, v in doc.items() if k != "signature"})


def read_keyfile(home: Home) -> dict:
    """The verified key file (an empty one if none exists yet); IntegrityError if it was altered."""
    path = home.api_keys_path
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {"schema": SCHEMA, "generation": 0, "keys": {}}
    try:
        doc = json.loads(raw)
        sig = base64.b64decode(doc["signature"])
        kid = doc["key_id"]
        if doc.get("schema") != SCHEMA or not isinstance(doc.get("keys"), dict):
            raise ValueError("schema")
    except (ValueError, KeyError, TypeError):
        raise IntegrityError(f"{path} is not a signed API-key file", hint="restore serve/ from backup, or "
                             "move the file away and add the keys again (appliance serve keys add NAME)") from None
    from appliance.keys import public_keys

    pub = public_keys(home).get(kid)
    if pub is None or not crypto.verify(pub, sig, _signed_bytes(doc)):
        raise IntegrityError(f"{path}: signature check failed (the file was changed outside the appliance)",
                             hint="restore serve/ from backup, or re-create the keys with `appliance serve keys add`")
    return doc


def _write_keyfile(home: Home, doc: dict, signer: Any) -> None:
    doc = {**doc, "key_id": signer.key_id}
    doc["signature"] = base64.b64encode(signer.sign(_signed_bytes(doc))).decode()
    atomic_write(home.api_keys_path, json.dumps(doc, indent=2, sort_keys=True) + "\n", mode=0o600)


def _ensure_dir(home: Home) -> None:
    home.require_initialized()
    home.serve_dir.mkdir(mode=0o700, exist_ok=True)


def _change(home: Home, signer: Any, action: str, name: str, mutate) -> dict:
    from appliance.audit import record

    _ensure_dir(home)
    with file_lock(home.serve_dir / ".lock"):
        doc = read_keyfile(home)
        result = mutate(doc)
        doc["generation"] = int(doc.get("generation", 0)) + 1
        _write_keyfile(home, doc, signer)
        record(home, action, {"key_name": name, "generation": doc["generation"],
                              "fingerprint": doc["keys"][name]["sha256"][:16]}, signer=signer)
    return result


def add_key(home: Home, name: str, signer: Any) -> dict:
    """Create key ``name``; returns ``{"name", "key"}``: the only time the token is ever shown."""
    if not _NAME_RE.match(name or ""):
        raise UsageError(f"invalid key name {name!r}", hint="use letters, digits, '.', '_' or '-' (max 64)")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)  # 256 bits

    def mutate(doc: dict) -> dict:
        old = doc["keys"].get(name)
        if old is not None and not old.get("revoked"):
            raise UsageError(f"an active key named {name!r} exists",
                             hint=f"appliance serve keys revoke {name}   (or choose another name)")
        doc["keys"][name] = {"sha256": token_hash(token), "created": _now(), "revoked": None}
        return {"name": name, "key": token}

    return _change(home, signer, "serve.key.add", name, mutate)


def revoke_key(home: Home, name: str, signer: Any) -> dict:
    """Revoke key ``name`` (kept in the file, marked revoked); a running server refuses it at once."""

    def mutate(doc: dict) -> dict:
        entry = doc["keys"].get(name)
        if entry is None:
            raise UsageError(f"no API key named {name!r}", hint="appliance serve keys ls")
        if entry.get("revoked"):
            raise UsageError(f"API key {name!r} is already revoked")
        entry["revoked"] = _now()
        return {"name": name, "revoked": entry["revoked"]}

    return _change(home, signer, "serve.key.revoke", name, mutate)


def list_keys(home: Home) -> list[dict]:
    """Every key (name, created, revoked, fingerprint = first 16 hex of its hash); never the token."""
    doc = read_keyfile(home)
    return [{"name": n, "created": e.get("created"), "revoked": e.get("revoked"), "fingerprint": e["sha256"][:16],
             "active": not e.get("revoked")} for n, e in sorted(doc["keys"].items())]


def audited_generation(home: Home) -> int:
    """The newest key-file generation the audit log has seen (0 if none)."""
    from appliance.audit import read_entries

    gen = 0
    for e in read_entries(home, action="serve.key"):
        g = (e.get("object") or {}).get("generation")
        if isinstance(g, int):
            gen = max(gen, g)
    return gen


class KeyStore:
    """The server's view of the key file: re-verified whenever the file changes; thread-safe."""

    def __init__(self, home: Home):
        self.home = home
        self._lock = threading.Lock()
        self._stamp: tuple | None = None
        self._active: dict[str, str] = {}  # token hash -> key name
        self._min_generation = audited_generation(home)
        self.error: str | None = None
        self._reload_if_changed()

    def _stat(self) -> tuple | None:
        try:
            st = os.stat(self.home.api_keys_path)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size, st.st_ctime_ns)

    def _reload_if_changed(self) -> None:
        stamp = self._stat()
        if stamp == self._stamp and self._stamp is not None:
            return
        with self._lock:
            if stamp == self._stamp and self._stamp is not None:
                return
            try:
                doc = read_keyfile(self.home)
                gen = int(doc.get("generation", 0))
                if gen < self._min_generation:
                    raise IntegrityError(f"API-key file generation {gen} is older than {self._min_generation} "
                                         "(an old copy was put back)")
                self._min_generation = gen
                self._active = {e["sha256"]: n for n, e in doc["keys"].items() if not e.get("revoked")}
                self.error = None
            except IntegrityError as e:  # fail closed: nobody is let in until the file is fixed
                log.error("API keys refused: %s", e.message)
                self._active = {}
                self.error = e.message
            self._stamp = stamp

    @property
    def active_count(self) -> int:
        return len(self._active)

    def authenticate(self, token: str | None) -> str | None:
        """The key name for a bearer ``token``, or None (unknown, revoked, or the key file is not intact)."""
        self._reload_if_changed()
        if not token:
            return None
        return self._active.get(token_hash(token))
