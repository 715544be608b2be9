"""Model versions: register (trained runs, imported snapshots), resolve, list, verify, promote, roll back.

Registering copies the model into ``models/.staging-*``, allocates the next version name (``v0001`` …)
under the registry lock, signs the directory (see :mod:`appliance.registry.files`), renames it into place and
commits the row — a crash leaves either a staging dir or an unreferenced ``v*`` dir, both swept by the next
registration.  Registering the same run output twice returns the existing version (idempotent, so a resumed
run that finishes again does not create a twin).
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import shutil
import sqlite3
import tempfile
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from appliance._internal.hashing import canonical_json, sha256_bytes
from appliance._internal.locks import file_lock
from appliance.errors import IntegrityError, PolicyRefused, UsageError
from appliance.home import Home
from appliance.registry import db, files

log = logging.getLogger(__name__)
CHAMPION = "champion"
_VERSION_RE = re.compile(r"^v(\d{4,})$")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _actor() -> str:
    from appliance.audit.log import current_actor

    return current_actor()


def _lock(home: Home):
    home.models_dir.mkdir(parents=True, exist_ok=True)
    return file_lock(home.models_dir / ".lock")


def _sweep(home: Home, conn: sqlite3.Connection) -> None:
    """Remove staging dirs and version dirs without a row (left by a crash; never acknowledged)."""
    known = {r["version"] for r in conn.execute("SELECT version FROM versions")}
    for p in home.models_dir.iterdir():
        if p.is_dir() and (p.name.startswith(".staging-") or (_VERSION_RE.match(p.name) and p.name not in known)):
            shutil.rmtree(p, ignore_errors=True)


def _next_version(conn: sqlite3.Connection) -> tuple[str, int]:
    row = conn.execute("SELECT COALESCE(MAX(seq), 0) AS m FROM versions").fetchone()
    seq = int(row["m"]) + 1
    return f"v{seq:04d}", seq


def _vault_meta(home: Home, ids: set[str]) -> dict[str, dict]:
    """Source, batch and ingest time of ``ids`` from the vault catalog (metadata only; {} without a vault)."""
    if not ids or not home.catalog_path.exists():
        return {}
    from appliance.vault import catalog

    conn = catalog.connect(home.catalog_path, readonly=True)
    try:
        rows = conn.execute("SELECT id, source, batch_id, ingested_at FROM records").fetchall()
    finally:
        conn.close()
    return {r[0]: {"source": r[1], "batch_id": r[2], "ingested_at": r[3]} for r in rows if r[0] in ids}


def _register(home: Home, keys, src: Path, *, kind: str, parent: str | None, base_model: str,
              run_name: str | None, recipe: dict | None, data_manifest: dict | None,
              train_metrics: dict | None) -> str:
    home.require_initialized()
    if keys is None or getattr(keys, "signer", None) is None:
        from appliance.errors import Locked

        raise Locked("registering a model needs the site signing key", hint="unlock with --passphrase-file FILE")
    db.guard_state(home)
    digest = files.source_digest(src)
    conn = db.connect(home)
    try:
        with _lock(home):
            row = conn.execute("SELECT version FROM versions WHERE source_sha256=? AND kind=? AND "
                               "COALESCE(run_name,'')=COALESCE(?, '')", (digest, kind, run_name)).fetchone()
            if row is not None:
                return row["version"]
            if parent is not None and conn.execute("SELECT 1 FROM versions WHERE version=?", (parent,)).fetchone() is None:
                raise UsageError(f"parent version {parent} is not registered", hint="appliance models ls")
            _sweep(home, conn)
            staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=home.models_dir))
            try:
                files.copy_snapshot(src, staging)
                if data_manifest is not None:
                    files.write_json(staging / files.DATA_MANIFEST, data_manifest)
                if recipe is not None:
                    files.write_json(staging / files.RECIPE, recipe)
                rows = []
                if data_manifest is not None:
                    ids = {r["id"] for r in data_manifest.get("records", [])}
                    meta = _vault_meta(home, ids)
                    for r in data_manifest.get("records", []):
                        m = meta.get(r["id"], {})
                        rows.append((r["id"], r["sha256"], r["split"], m.get("source"), m.get("batch_id"),
                                     m.get("ingested_at")))
                created = _now()
                with db.transaction(conn):
                    version, seq = _next_version(conn)
                    header = {"version": version, "kind": kind, "parent": parent, "base_model": base_model,
                              "run_name": run_name, "created_at": created,
                              "data_manifest_sha256": (data_manifest or {}).get("sha256")}
                    manifest_sha = files.sign_dir(staging, header, keys.signer)
                    conn.execute(
                        "INSERT INTO versions (version, seq, kind, parent, base_model, run_name, source_sha256, recipe,"
                        " data_manifest_sha256, manifest_sha256, key_id, train_metrics, created_at)"
                        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        (version, seq, kind, parent, base_model, run_name, digest,
                         canonical_json(recipe).decode() if recipe is not None else None,
                         (data_manifest or {}).get("sha256"), manifest_sha, keys.signer.key_id,
                         json.dumps(train_metrics) if train_metrics else None, created))
                    conn.executemany("INSERT INTO manifest_records VALUES (?,?,?,?,?,?,?)",
                                     [(version, *r) for r in rows])
                    staging.rename(home.model_dir(version))
                    # a parent trained on since-shredded records taints its descendants too
                    _inherit_flags(conn, version, parent)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
    finally:
        conn.close()
    counts = (data_manifest or {}).get("counts", {})
    db.record(home, "models.register", {"version": version, "kind": kind, "parent": parent, "base_model": base_model,
                                      "run": run_name, "manifest_sha256": manifest_sha,
                                      "data_manifest_sha256": (data_manifest or {}).get("sha256"),
                                      "train_records": counts.get("train"), "heldout_records": counts.get("heldout")},
           keys)
    return version


def _inherit_flags(conn: sqlite3.Connection, version: str, parent: str | None) -> None:
    if parent is None:
        return
    tainted = conn.execute("SELECT flag, detail FROM flags WHERE version=? AND flag IN "
                           "('trained_on_shredded', 'inherits_shredded')", (parent,)).fetchall()
    if tainted:
        ancestors = sorted({parent} | {a for r in tainted if r["flag"] == "inherits_shredded"
                                       for a in json.loads(r["detail"]).get("ancestors", [])})
        conn.execute("INSERT OR REPLACE INTO flags VALUES (?,?,?,?)",
                     (version, "inherits_shredded", json.dumps({"ancestors": ancestors}), _now()))


def _base_of(home: Home, recipe: dict, parent: str | None) -> str:
    model = recipe.get("model") or {}
    if parent is not None:
        return get(home, parent)["base_model"]
    if model.get("path"):
        return f"path:{model['path']}"
    init = model.get("init") or {}
    return f"init:{init.get('arch')}/{init.get('preset')}"


def register_run(home: Home, keys, run_dir: Path, final_dir: Path, manifest: dict, recipe: Any,
                 parent: str | None = None) -> str:
    """Register a finished training run's ``final/`` model with its data manifest and recipe; returns the version.

    ``parent`` defaults to the version named by the recipe's ``model.registry`` (warm start).
    """
    recipe_d = recipe.model_dump(mode="json") if hasattr(recipe, "model_dump") else dict(recipe)
    if parent is None and (recipe_d.get("model") or {}).get("registry"):
        parent = resolve_name(home, recipe_d["model"]["registry"])
    metrics = _final_metrics(Path(run_dir))
    return _register(home, keys, Path(final_dir), kind="trained", parent=parent,
                     base_model=_base_of(home, recipe_d, parent), run_name=Path(run_dir).name,
                     recipe=recipe_d, data_manifest=manifest, train_metrics=metrics)


def _final_metrics(run_dir: Path) -> dict | None:
    """The last training and eval figures from ``metrics.jsonl`` (loss, step, tokens, held-out ppl)."""
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return None
    last: dict[str, Any] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            m = json.loads(line)
        except ValueError:
            continue
        for k in ("step", "loss", "tokens", "tokens_seen", "eval_loss", "eval_ppl", "heldout_ppl", "lr"):
            if k in m:
                last[k] = m[k]
    return last or None


def import_model(home: Home, keys, snapshot: Path, name: str | None = None) -> str:
    """Register a local HF snapshot (safetensors only) as a base model version: hashed, copied, signed."""
    snapshot = Path(snapshot).expanduser().resolve()
    base = f"import:{name or snapshot.name}"
    return _register(home, keys, snapshot, kind="imported", parent=None, base_model=base, run_name=None,
                     recipe=None, data_manifest=None, train_metrics=None)


# -- reading -------------------------------------------------------------------------------------------------


def _row_dict(conn: sqlite3.Connection, row: sqlite3.Row, champion: str | None) -> dict:
    v = row["version"]
    flags = {r["flag"]: json.loads(r["detail"]) for r in conn.execute(
        "SELECT flag, detail FROM flags WHERE version=?", (v,))}
    counts = {r["split"]: r["n"] for r in conn.execute(
        "SELECT split, COUNT(*) AS n FROM manifest_records WHERE version=? GROUP BY split", (v,))}
    return {
        "version": v,
        "kind": row["kind"],
        "parent": row["parent"],
        "base_model": row["base_model"],
        "run_name": row["run_name"],
        "status": row["status"],
        "status_reasons": db.loads(row["status_reasons"], []),
        "champion": v == champion,
        "created_at": row["created_at"],
        "key_id": row["key_id"],
        "manifest_sha256": row["manifest_sha256"],
        "data_manifest_sha256": row["data_manifest_sha256"],
        "records": counts,
        "flags": flags,
        "train_metrics": db.loads(row["train_metrics"]),
        "path": None,
    }


def champion(home: Home) -> str | None:
    """The champion version, or None before the first promotion."""
    if not home.registry_path.exists():
        return None
    conn = db.connect(home)
    try:
        row = conn.execute("SELECT version FROM champion WHERE id=1").fetchone()
        return row["version"] if row else None
    finally:
        conn.close()


def resolve_name(home: Home, version: str) -> str:
    """``champion`` → the champion's version name; a version name → itself, if registered."""
    if version == CHAMPION:
        v = champion(home)
        if v is None:
            raise UsageError("there is no champion model yet",
                             hint="appliance models promote VERSION   (see appliance models ls)")
        return v
    conn = db.connect(home)
    try:
        if conn.execute("SELECT 1 FROM versions WHERE version=?", (version,)).fetchone() is None:
            raise UsageError(f"no model version {version!r}", hint="appliance models ls")
    finally:
        conn.close()
    return version


def resolve(home: Home, version: str, verify: bool = False) -> Path:
    """The directory of a registered version (``champion`` allowed); ``verify`` checks hashes and signature."""
    v = resolve_name(home, version)
    if verify:
        verify_version(home, v)
    return home.model_dir(v)


def get(home: Home, version: str) -> dict:
    """One version as a dict (row, flags, record counts, latest evaluation, path)."""
    v = resolve_name(home, version)
    conn = db.connect(home)
    try:
        row = conn.execute("SELECT * FROM versions WHERE version=?", (v,)).fetchone()
        champ = conn.execute("SELECT version FROM champion WHERE id=1").fetchone()
        out = _row_dict(conn, row, champ["version"] if champ else None)
        out["recipe"] = db.loads(row["recipe"])
        out["path"] = str(home.model_dir(v))
        out["evaluations"] = [{"kind": r["kind"], "at": r["at"], "result": json.loads(r["result"])} for r in conn.execute(
            "SELECT kind, at, result FROM evaluations WHERE version=? ORDER BY id", (v,))]
        return out
    finally:
        conn.close()


def list_versions(home: Home) -> list[dict]:
    """Every version, oldest first, with status, champion mark and flags."""
    if not home.registry_path.exists():
        return []
    conn = db.connect(home)
    try:
        champ = conn.execute("SELECT version FROM champion WHERE id=1").fetchone()
        c = champ["version"] if champ else None
        out = []
        for row in conn.execute("SELECT * FROM versions ORDER BY seq"):
            d = _row_dict(conn, row, c)
            d["path"] = str(home.model_dir(d["version"]))
            out.append(d)
        return out
    finally:
        conn.close()


def data_manifest(home: Home, version: str) -> dict | None:
    """The version's data manifest (record ids, hashes, splits) from its signed files, or None (imported)."""
    p = home.model_dir(resolve_name(home, version)) / files.DATA_MANIFEST
    return json.loads(p.read_text(encoding="utf-8")) if p.is_file() else None


def verify_version(home: Home, version: str) -> dict:
    """Verify the registry against its signed state, then a version's files against its signed manifest and
    the registry's pin; raises IntegrityError naming what was changed."""
    from appliance.keys import public_keys

    state = db.check_state(home, public_keys(home))
    if state["status"] == "tampered":
        raise IntegrityError("the model registry was changed behind the audit log's back", details=state["problems"],
                             hint="restore models/ from backup and keep this copy as evidence; appliance audit verify")
    v = resolve_name(home, version)
    conn = db.connect(home)
    try:
        row = conn.execute("SELECT manifest_sha256 FROM versions WHERE version=?", (v,)).fetchone()
    finally:
        conn.close()
    manifest = files.verify_dir(home.model_dir(v), public_keys(home), row["manifest_sha256"])
    if manifest.get("version") != v:
        raise IntegrityError(f"{v}: the signed manifest names version {manifest.get('version')!r}",
                             hint="the directory was swapped; restore it from backup")
    return {"version": v, "ok": True, "files": len(manifest["files"]), "key_id": manifest["key_id"]}


# -- decisions -----------------------------------------------------------------------------------------------


def set_status(home: Home, version: str, status: str, reasons: list[str] | None = None, keys=None) -> None:
    """Mark a version ``accepted`` / ``rejected`` (with the gate's reasons) / ``candidate``."""
    db.guard_state(home)
    v = resolve_name(home, version)
    conn = db.connect(home)
    try:
        with db.transaction(conn):
            conn.execute("UPDATE versions SET status=?, status_reasons=? WHERE version=?",
                         (status, json.dumps(reasons or []), v))
    finally:
        conn.close()
    db.record(home, f"models.{'reject' if status == 'rejected' else 'status'}",
           {"version": v, "status": status, "reasons": len(reasons or [])}, keys)


def store_evaluation(home: Home, version: str, kind: str, result: dict) -> None:
    """Keep an evaluation result (``eval`` or ``gate``) with the version."""
    v = resolve_name(home, version)
    conn = db.connect(home)
    try:
        with db.transaction(conn):
            conn.execute("INSERT INTO evaluations (version, kind, at, result) VALUES (?,?,?,?)",
                         (v, kind, _now(), json.dumps(result, default=str)))
    finally:
        conn.close()


def _set_champion(conn: sqlite3.Connection, version: str, action: str, reason: str | None) -> str | None:
    prev = conn.execute("SELECT version FROM champion WHERE id=1").fetchone()
    previous = prev["version"] if prev else None
    at = _now()
    cur = conn.execute("INSERT INTO champion_history (at, action, version, previous, actor, reason) VALUES (?,?,?,?,?,?)",
                       (at, action, version, previous, _actor(), reason))
    conn.execute("INSERT INTO champion (id, version, since, history_seq) VALUES (1, ?, ?, ?) "
                 "ON CONFLICT(id) DO UPDATE SET version=excluded.version, since=excluded.since, "
                 "history_seq=excluded.history_seq", (version, at, cur.lastrowid))
    return previous


def promote(home: Home, version: str, keys=None, *, force: bool = False, reason: str | None = None) -> dict:
    """Make ``version`` the champion (atomically, with history).  A rejected version needs ``force``."""
    db.guard_state(home)
    v = resolve_name(home, version)
    info = get(home, v)
    if info["status"] == "rejected" and not force:
        db.record(home, "models.promote", {"version": v, "refused": "rejected"}, keys, outcome="refused")
        raise PolicyRefused(f"{v} was rejected by the evaluation gate",
                            hint=f"see `appliance models show {v}`; `appliance models promote {v} --force` overrides",
                            details=info["status_reasons"])
    verify_version(home, v)  # never promote files that no longer match their signature
    conn = db.connect(home)
    try:
        with db.transaction(conn):
            previous = _set_champion(conn, v, "promote", reason or ("forced" if force else None))
            if info["status"] == "candidate":
                conn.execute("UPDATE versions SET status='accepted' WHERE version=?", (v,))
    finally:
        conn.close()
    db.record(home, "models.promote", {"version": v, "previous": previous, "forced": force}, keys)
    return {"champion": v, "previous": previous}


def rollback(home: Home, keys=None, *, to: str | None = None) -> dict:
    """Restore the champion that the current one replaced (or ``to``); refused when there is none."""
    db.guard_state(home)
    conn = db.connect(home)
    try:
        with db.transaction(conn):
            cur = conn.execute("SELECT version, history_seq FROM champion WHERE id=1").fetchone()
            if cur is None:
                raise PolicyRefused("there is no champion to roll back", hint="appliance models ls")
            if to is not None:
                target = to
                if conn.execute("SELECT 1 FROM versions WHERE version=?", (target,)).fetchone() is None:
                    raise UsageError(f"no model version {target!r}", hint="appliance models ls")
            else:
                # the entry that made the current champion; for a rollback, the promote it reverted to
                entry = conn.execute("SELECT * FROM champion_history WHERE seq=?", (cur["history_seq"],)).fetchone()
                while entry is not None and entry["action"] == "rollback":
                    entry = conn.execute("SELECT * FROM champion_history WHERE version=? AND action='promote' "
                                         "AND seq < ? ORDER BY seq DESC LIMIT 1",
                                         (entry["version"], entry["seq"])).fetchone()
                target = entry["previous"] if entry is not None else None
                if target is None:
                    raise PolicyRefused(f"{cur['version']} has no previous champion to roll back to",
                                        hint="appliance models promote VERSION")
            if target == cur["version"]:
                raise PolicyRefused(f"{target} is already the champion", hint="appliance models ls")
            verify_version(home, target)  # a tampered target must not become the champion
            _set_champion(conn, target, "rollback", f"rolled back from {cur['version']}")
    finally:
        conn.close()
    db.record(home, "models.rollback", {"version": target, "previous": cur["version"]}, keys)
    return {"champion": target, "previous": cur["version"]}


def champion_history(home: Home) -> list[dict]:
    conn = db.connect(home)
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM champion_history ORDER BY seq")]
    finally:
        conn.close()


def find_by_run(home: Home, run_name: str) -> str | None:
    """The version registered from run ``run_name`` (newest), or None."""
    if not home.registry_path.exists():
        return None
    conn = db.connect(home)
    try:
        row = conn.execute("SELECT version FROM versions WHERE run_name=? ORDER BY seq DESC LIMIT 1",
                           (run_name,)).fetchone()
        return row["version"] if row else None
    finally:
        conn.close()


def manifest_digest(manifest: dict) -> str:
    return manifest.get("sha256") or sha256_bytes(canonical_json(manifest.get("records", [])))


# -- the trainer's hook --------------------------------------------------------------------------------------

_SIGNING: contextvars.ContextVar = contextvars.ContextVar("appliance_registry_signing", default=None)


@contextmanager
def signing(keys):
    """Within this block, a training run that finishes registers its final model signed with ``keys``."""
    token = _SIGNING.set(keys)
    try:
        yield
    finally:
        _SIGNING.reset(token)


def on_final(run_dir: Path, final_dir: Path, manifest: dict, recipe: Any) -> str | None:
    """Called by the trainer when a run's final model is sealed: register it if a signing context is active.

    Without unlocked keys there is nothing to sign with; the run can be registered later with
    ``appliance models register RUN`` (idempotent either way).
    """
    keys = _SIGNING.get()
    if keys is None:
        log.info("run %s finished outside a registry signing context; not registered", Path(run_dir).name)
        return None
    home = Home(Path(run_dir).resolve().parent.parent)
    return register_run(home, keys, run_dir, final_dir, manifest, recipe)


def register_existing_run(home: Home, keys, run_name: str) -> str:
    """Register a finished run from its run directory (``final/``, ``data_manifest.json``, ``recipe.json``)."""
    run_dir = home.run_dir(run_name)
    final_dir = run_dir / "final"
    try:
        manifest = json.loads((run_dir / "data_manifest.json").read_text(encoding="utf-8"))
        recipe = json.loads((run_dir / "recipe.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise UsageError(f"run {run_name} has no readable data_manifest.json / recipe.json ({e})",
                         hint="appliance train --config R.yaml --resume") from None
    if not (final_dir / "model.safetensors").is_file() and not list(final_dir.glob("*.safetensors")):
        raise UsageError(f"run {run_name} has no final model yet", hint="appliance train --config R.yaml --resume")
    return register_run(home, keys, run_dir, final_dir, manifest, recipe)
