"""Site scrub models in the home: sealed like vault records, listed, activated (audited).

Design: a model trained on a site's notes holds PHI (its feature strings include the words of the notes), so
it is stored exactly as the vault stores a record: the crfsuite bytes are sealed with chunked AEAD
(:mod:`appliance._internal.aead_stream`) under a random data key, and the data key is wrapped under the
current vault key-encryption key, both bound to the model id.  Beside it, ``<id>.json`` holds only the card
(counts, hashes, feature version, the wrapped key): nothing to read without the keys.  The folder lives
under ``vault/`` (``Home.scrub_models_dir``), which no export ever packages.

``active.json`` names the active model ("default" = the shipped one) with a MAC under a key derived from the
master key, so an insider who edits the pointer makes the next load fail instead of silently switching the
scrubber.  Training, evaluation and activation each append an audit entry with ids, counts and hashes only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from datetime import UTC, datetime

from appliance._internal import aead_stream, crypto
from appliance._internal.atomic import atomic_write
from appliance.errors import InputError, IntegrityError

DEFAULT_ID = "default"


def _model_aad(model_id: str) -> bytes:
    return b"appliance/scrub-model:" + model_id.encode()


def _key_aad(model_id: str, kek_id: str) -> bytes:
    return b"appliance/scrub-model/data-key:" + model_id.encode() + b":" + kek_id.encode()


def _pointer_mac(keys, model_id: str) -> str:
    return hmac.new(keys.derive("scrub-models/active"), model_id.encode(), hashlib.sha256).hexdigest()


def _audit(keys, action: str, obj: dict) -> None:
    from appliance.audit import record

    record(keys.home, action, obj, signer=keys.signer)


def save_site_model(keys, model_bytes: bytes, card: dict) -> str:
    """Seal a trained model into the home; returns its id.  Audited (counts and hashes only)."""
    home = keys.home
    d = home.scrub_models_dir
    d.mkdir(parents=True, exist_ok=True)
    model_id = "site-" + datetime.now(UTC).strftime("%Y%m%d%H%M%S") + "-" + secrets.token_hex(3)
    data_key = crypto.random_key()
    sealed = aead_stream.encrypt(data_key, model_bytes, _model_aad(model_id))
    kek_id = keys.vault_kek_id
    wrapped = crypto.wrap(keys.vault_kek, data_key, _key_aad(model_id, kek_id))
    meta = {"id": model_id, "created": datetime.now(UTC).isoformat(timespec="seconds"), "kek_id": kek_id,
            "wrapped_key": crypto.b64e(wrapped), "sealed_sha256": hashlib.sha256(bytes(sealed)).hexdigest(),
            "card": {k: v for k, v in card.items() if not k.startswith("_")}}
    atomic_write(d / f"{model_id}.sealed", bytes(sealed))
    atomic_write(d / f"{model_id}.json", json.dumps(meta, indent=2))
    _audit(keys, "scrub.model.train", {"model": model_id, "training": meta["card"].get("training", {}),
                                       "tokens": meta["card"].get("tokens"), "model_sha256": meta["card"].get("model_sha256")})
    return model_id


def _meta(home, model_id: str) -> dict:
    p = home.scrub_models_dir / f"{model_id}.json"
    if not p.is_file() or "/" in model_id:
        raise InputError(f"no scrub model {model_id!r} in {home.scrub_models_dir}", hint="appliance scrub models lists them")
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except ValueError as e:
        raise IntegrityError(f"{p}: not a model card ({e})", hint="the file was edited; retrain the model") from None


def load_site_model(keys, model_id: str) -> tuple[bytes, dict]:
    """(model bytes, card) of a sealed site model; IntegrityError if anything was tampered with."""
    home = keys.home
    meta = _meta(home, model_id)
    kek = keys.vault_keks.get(meta.get("kek_id", ""))
    if kek is None:
        raise IntegrityError(f"scrub model {model_id}: its key-encryption key is not in the keyring", hint="retrain the model")
    try:
        data_key = crypto.unwrap(kek, crypto.b64d(meta["wrapped_key"]), _key_aad(model_id, meta["kek_id"]))
        sealed = (home.scrub_models_dir / f"{model_id}.sealed").read_bytes()
        model = bytes(aead_stream.decrypt(data_key, sealed, _model_aad(model_id)))
    except (crypto.UnwrapError, aead_stream.StreamError, KeyError, ValueError, OSError) as e:
        raise IntegrityError(f"scrub model {model_id}: cannot be opened ({e})", hint="the sealed file was edited or moved; retrain") from None
    if hashlib.sha256(model).hexdigest() != meta["card"].get("model_sha256"):
        raise IntegrityError(f"scrub model {model_id}: content does not match its card", hint="retrain the model")
    return model, meta["card"]


def active_id(home, keys=None) -> str:
    """The active model id ("default" when none was activated); checks the pointer's MAC when keys are given."""
    p = home.scrub_models_dir / "active.json"
    if not p.is_file():
        return DEFAULT_ID
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
        model_id = str(doc["active"])
    except (ValueError, KeyError) as e:
        raise IntegrityError(f"{p}: unreadable ({e})", hint="appliance scrub models activate ID") from None
    if keys is not None and not hmac.compare_digest(str(doc.get("mac", "")), _pointer_mac(keys, model_id)):
        raise IntegrityError(f"{p}: the active-model pointer fails its MAC (edited outside the appliance)",
                             hint="appliance scrub models activate ID (audited) to set it again")
    return model_id


def activate(keys, model_id: str) -> dict:
    """Make ``model_id`` (or "default") the model the scrubber uses.  Audited."""
    home = keys.home
    if model_id != DEFAULT_ID:
        load_site_model(keys, model_id)  # refuse a model that does not open
    previous = active_id(home)
    home.scrub_models_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(home.scrub_models_dir / "active.json", json.dumps({"active": model_id, "mac": _pointer_mac(keys, model_id)}))
    _audit(keys, "scrub.model.activate", {"model": model_id, "previous": previous})
    return {"active": model_id, "previous": previous}


def active_model(keys) -> tuple[bytes, dict] | None:
    """The active site model's (bytes, card), or None when the shipped default is active."""
    model_id = active_id(keys.home, keys)
    return None if model_id == DEFAULT_ID else load_site_model(keys, model_id)


def list_models(home) -> list[dict]:
    """The default and every site model (no keys needed: cards only), the active one marked."""
    from appliance.scrub.learned.model import default_model

    act = active_id(home)
    _, card = default_model()
    rows = [{"id": DEFAULT_ID, "active": act == DEFAULT_ID, "created": None, "training": card.get("training", {}),
             "feature_version": card.get("feature_version")}]
    d = home.scrub_models_dir
    for p in sorted(d.glob("site-*.json")) if d.is_dir() else []:
        meta = json.loads(p.read_text(encoding="utf-8"))
        rows.append({"id": meta["id"], "active": act == meta["id"], "created": meta.get("created"),
                     "training": meta["card"].get("training", {}), "feature_version": meta["card"].get("feature_version")})
    return rows


def audit_eval(keys, candidate: str, active: str, figures: dict) -> None:
    """Record a candidate-vs-active comparison (figures only)."""
    _audit(keys, "scrub.model.eval", {"candidate": candidate, "active": active, **figures})
