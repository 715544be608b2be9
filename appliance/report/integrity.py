"""Integrity section: the audit log verified now, the latest signed checkpoint, and how to re-check both.

Everything here is public evidence (tree heads, signatures, the site's public key), so the report can
carry the checkpoint note and the PEM verbatim: an auditor copies them out and verifies with `openssl`
or with `appliance audit verify-export` on another machine, without trusting this host.
"""

from __future__ import annotations

import hashlib
import importlib
from typing import Any

from appliance.errors import ApplianceError
from appliance.home import Home


def _verify(home: Home) -> dict[str, Any]:
    try:
        from appliance.audit.verify import verify
    except ImportError:
        return {"ok": None, "error": "the audit verifier is not part of this build"}
    from appliance.audit import seal
    from appliance.keys import trust_store

    try:
        seal(home)  # with keys unlocked in this process, anchor the log first (a no-op otherwise)
        store = trust_store(home)
        rep = verify(home, public_keys=store.keys, validity=store.validity)
    except ApplianceError as e:
        return {"ok": False, "error": e.message, "first_bad_seq": getattr(e, "seq", None), "hint": e.hint}
    d = rep.to_dict() if hasattr(rep, "to_dict") else dict(rep)
    return {
        "ok": True,
        "entries": d.get("entries"),
        "root": d.get("root"),
        "last_seq": d.get("last_seq"),
        "last_ts": d.get("last_ts"),
        "checkpoints_checked": len(d.get("checkpoints") or []),
        "anchored": bool(d.get("anchored")),
        "anchor": d.get("anchor"),
        "anchor_dirs": d.get("anchor_dirs") or [],
        "ignored_key_files": store.ignored,
    }


def _latest_checkpoint(home: Home) -> dict[str, Any] | None:
    # The package exports a function named ``checkpoint`` that shadows the submodule attribute.
    cpmod = importlib.import_module("appliance.audit.checkpoint")
    cps = cpmod.list_checkpoints(home.checkpoints_dir)
    if not cps:
        return None
    size, path = cps[-1]
    text = path.read_text(encoding="utf-8", errors="replace")
    out: dict[str, Any] = {
        "file": f"audit/checkpoints/{path.name}",
        "size": size,
        "text": text,
        "count": len(cps),
    }
    try:
        cp = cpmod.parse(text, source=path.name)
    except ApplianceError as e:
        out.update(verified=False, error=e.message)
        return out
    out.update(
        origin=cp.origin,
        root_b64=cp.root_b64,
        root_hex=cp.root.hex(),
        signatures=[{"key_name": n, "note_key_id": kid.hex()} for n, kid, _sig in cp.signatures],
    )
    try:
        from appliance.keys import public_keys

        _cp, fp = cpmod.verify_note(text, public_keys(home), source=path.name)
        out.update(verified=True, fingerprint=fp)
    except ApplianceError as e:
        out.update(verified=False, error=e.message)
    return out


def _public_key(home: Home) -> dict[str, Any]:
    pem_path = home.signing_pub_path
    if not pem_path.is_file():
        return {}
    pem = pem_path.read_text()
    from cryptography.hazmat.primitives import serialization

    pub = serialization.load_pem_public_key(pem.encode())
    der = pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    from appliance.keys import trust_store

    store = trust_store(home)
    retired = sorted(f"{fp}.pub.pem" for fp, (_nb, na) in store.validity.items() if na)
    return {
        "pem": pem,
        "fingerprint": hashlib.sha256(der).hexdigest(),
        "note_key_id": hashlib.sha256(der).digest()[:4].hex(),
        "retired": retired,
    }


def how_to_verify() -> list[dict[str, str]]:
    """The exact commands an auditor runs elsewhere (each block is copy-paste ready)."""
    note = "checkpoint.note"
    steps = [
        {
            "title": "1. Export the log with its signed checkpoint and inclusion proofs (on this host)",
            "commands": "appliance audit export --format jsonl --since SINCE --until UNTIL -o audit-export.jsonl\n"
            'cp "$APPLIANCE_HOME/keys/signing.pub.pem" signing.pub.pem',
        },
        {
            "title": "2. Verify the export on another machine (appliance installed, no access to this host)",
            "commands": "appliance audit verify-export audit-export.jsonl --public-key signing.pub.pem",
        },
        {
            "title": "3. Verify the checkpoint with openssl alone (save the note and the key shown above)",
            "commands": "openssl pkey -pubin -in signing.pub.pem -outform DER | sha256sum   # = key fingerprint above\n"
            f"head -n 3 {note} > checkpoint.body\n"
            f"tail -n 1 {note} | cut -d' ' -f3 | base64 -d | tail -c +5 > checkpoint.sig\n"
            "openssl dgst -sha256 -verify signing.pub.pem -signature checkpoint.sig checkpoint.body   # Verified OK",
        },
        {
            "title": "4. Later, on this host: check the log still extends the checkpoint saved from this report "
            "(detects rewritten or truncated history)",
            "commands": f"appliance audit verify --checkpoint {note}",
        },
    ]
    return steps


def collect(home: Home) -> dict[str, Any]:
    """The integrity section's data (no secrets: public key, tree heads, signatures)."""
    ver = _verify(home)
    cp = _latest_checkpoint(home)
    key = _public_key(home)
    if cp and ver.get("entries") is not None:
        cp["entries_since"] = max(0, int(ver["entries"]) - int(cp["size"]))
    if ver.get("ok") is False or (cp is not None and cp.get("verified") is False):
        status = "failed"
    elif ver.get("ok") is None and cp is None:
        status = "no data"
    else:
        status = "ok"
    return {
        "status": status,
        "verify": ver,
        "checkpoint": cp,
        "public_key": key,
        "how_to_verify": how_to_verify(),
    }
