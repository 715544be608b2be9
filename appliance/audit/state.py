"""Signed state: database rows that cannot be edited behind the audit log's back.

The owner of a database (vault catalog, model registry) hands over its protected rows as ``{key: digest}``.
:func:`seal` writes them to a manifest file beside the database and appends a ``<name>.state`` audit entry
carrying the manifest's SHA-256, a generation number and an ECDSA signature by the site key over
``(name, generation, digest)``.  :func:`check` needs only public keys: it takes the last signed state entry
from the log (generations must run 1, 2, 3…, so a copied old entry is a replay), checks the manifest
against its digest, then names every row that was added, changed or deleted since, or the database that
is gone.  A home writer without the passphrase can edit the database, the manifest and append entries,
but cannot sign a new state.  Deleting the newest state entries is a deleted tail, which `audit verify`
catches against the anchor.  The owner seals after each write it makes while a signer is at hand; a write
made without one leaves the state stale, which :func:`check` reports like tampering.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from appliance._internal import crypto
from appliance._internal.atomic import atomic_write
from appliance._internal.hashing import canonical_json, sha256_bytes
from appliance.home import Home


def row_digest(values: Any) -> str:
    """Digest of one row's protected values (anything canonical JSON can encode)."""
    return sha256_bytes(canonical_json(values))


def _payload(name: str, generation: int, digest: str) -> bytes:
    return canonical_json({"state": name, "generation": generation, "digest": digest})


def _entries(home: Home, name: str) -> list[dict]:
    from appliance.audit import read_entries

    return [e for e in read_entries(home, action=f"{name}.state") if e.get("action") == f"{name}.state"]


def seal(home: Home, name: str, rows: dict[str, str], manifest: Path, signer: Any) -> dict:
    """Write the manifest and a signed ``<name>.state`` entry for ``rows`` (caller holds its write lock)."""
    from appliance.audit import record

    last = _entries(home, name)
    generation = (int(last[-1]["object"].get("generation", 0)) if last else 0) + 1
    doc = {"state": name, "generation": generation, "rows": dict(sorted(rows.items()))}
    body = canonical_json(doc)
    atomic_write(manifest, body, mode=0o600)
    digest = sha256_bytes(body)
    sig = base64.b64encode(signer.sign(_payload(name, generation, digest))).decode("ascii")
    return record(home, f"{name}.state", {"generation": generation, "digest": digest, "rows": len(rows),
                                           "key": signer.key_id, "sig": sig}, signer=signer)


def check(home: Home, name: str, rows: dict[str, str] | None, manifest: Path, what: str,
          public_keys: dict[str, Any]) -> dict:
    """Compare ``rows`` (None: the database is missing) with the last signed state.

    Returns ``{"status": "ok" | "unsealed" | "tampered", "problems": [...], "generation", "seq"}``.
    """
    entries = _entries(home, name)
    if not entries:
        return {"status": "unsealed", "problems": [], "generation": 0, "seq": None}
    problems: list[str] = []
    want = 1
    for e in entries:
        o = e.get("object") or {}
        gen, digest, key = o.get("generation"), o.get("digest"), o.get("key")
        pub = public_keys.get(key) if isinstance(key, str) else None
        try:
            sig = base64.b64decode(str(o.get("sig", "")), validate=True)
        except ValueError:
            sig = b""
        if pub is None or not crypto.verify(pub, sig, _payload(name, int(gen or 0), str(digest))):
            problems.append(f"audit entry seq {e['seq']} ({name}.state) is not signed by a trusted site key "
                            "(forged state entry)")
        elif gen != want:
            problems.append(f"audit entry seq {e['seq']} ({name}.state) has generation {gen}, expected {want} "
                            "(an old state was replayed)")
        want = (gen if isinstance(gen, int) else want) + 1
    last = entries[-1]
    out = {"status": "tampered", "problems": problems, "generation": last["object"].get("generation"),
           "seq": last["seq"]}
    if problems:
        return out
    n = last["object"].get("rows")
    if rows is None:
        out["problems"] = [(f"{what} is missing, but the signed state (audit seq {last['seq']}) records {n} rows: "
                           "it was deleted")]
        return out
    try:
        body = manifest.read_bytes()
    except OSError:
        body = b""
    if sha256_bytes(body) != last["object"].get("digest"):
        if not rows and n:
            out["problems"] = [(f"{what} is empty, but the signed state (audit seq {last['seq']}) records {n} rows: "
                               "the database was deleted or emptied")]
        else:
            out["problems"] = [(f"{manifest.name} does not match the signed state (audit seq {last['seq']}): the "
                               f"manifest was edited or deleted, so {what} cannot be trusted")]
        return out
    sealed = json.loads(body)["rows"]
    for k in sorted(set(sealed) - set(rows)):
        problems.append(f"{what}: row {k} was deleted")
    for k in sorted(set(rows) - set(sealed)):
        problems.append(f"{what}: row {k} was added outside the appliance")
    for k in sorted(set(rows) & set(sealed)):
        if rows[k] != sealed[k]:
            problems.append(f"{what}: row {k} was edited")
    out["problems"] = problems
    out["status"] = "tampered" if problems else "ok"
    return out
