"""Vault operations after ingest: verify, crypto-shred, KEK rotation and export.

- ``verify`` decrypts and authenticates every active record and names each bad one.
- ``shred`` destroys the wrapped data keys first (one catalog transaction; ``secure_delete`` plus a WAL
  checkpoint so no copy stays in the database files), then unlinks the ciphertext; the catalog row stays as
  a tombstone (state ``shredded``).  A crash between the two steps leaves undecryptable files that the next
  writer sweeps.  ``on_shred`` hooks then run with the shredded ids.
- ``rotate_key`` adds a new KEK first, records it as the rotation target in the catalog, re-wraps each data
  key in its own transaction, and retires an old KEK only when no record is wrapped under it.  Re-running
  after a crash resumes with the same target.
- ``export`` writes scrubbed text out as JSON lines, never inside the home.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from appliance._internal import crypto
from appliance._internal.atomic import fsync_dir
from appliance.errors import IntegrityError, UsageError
from appliance.vault import catalog as _cat
from appliance.vault.store import Vault, audit, key_aad, run_shred_hooks, utc_now

ENV_TEST_ROTATE_CRASH_AFTER = "APPLIANCE_VAULT_TEST_ROTATE_CRASH_AFTER"  # fault injection for the crash test


@dataclass
class VerifyReport:
    checked: int = 0
    ok: int = 0
    bad: list[dict] = field(default_factory=list)  # {"id", "error"}
    unknown_objects: int = 0
    state: dict = field(default_factory=dict)  # the catalog against its signed state (audit.state.check)

    @property
    def failed(self) -> bool:
        return bool(self.bad) or self.state.get("status") == "tampered"

    def to_dict(self) -> dict:
        return asdict(self)


def verify(v: Vault, progress=None) -> VerifyReport:
    """Decrypt and authenticate every active record and check the catalog against its signed state; never
    raises for a bad record (see ``report.bad`` and ``report.state``)."""
    from appliance.keys import trust_store

    rep = VerifyReport()
    missing = getattr(v, "catalog_was_missing", False)
    rep.state = _cat.check_state(v.home, None if missing else v.conn, trust_store(v.home, v.keys).keys)
    rows = v.conn.execute("SELECT * FROM records WHERE state = 'active' ORDER BY rowid").fetchall()
    if progress:
        progress("start", {"total": len(rows)})
    known = set()
    for row in rows:
        rep.checked += 1
        known.add(row["id"])
        try:
            v._open_row(row)
            rep.ok += 1
        except IntegrityError as e:
            rep.bad.append({"id": row["id"], "error": e.message})
        if progress:
            progress("record", {})
    if v.objects_dir.is_dir():
        for p in v.objects_dir.glob("*/*.rec"):
            if p.name[:-4] not in known:
                rep.unknown_objects += 1
    audit(v.home, "vault.verify", {"checked": rep.checked, "ok": rep.ok, "bad": [b["id"] for b in rep.bad],
                                   "state": rep.state.get("status"), "state_problems": len(rep.state.get("problems", []))},
          v.keys, outcome="integrity_error" if rep.failed else "ok")
    return rep


def shred(v: Vault, record_id: str | None = None, source: str | None = None, patient: str | None = None) -> dict:
    """Crypto-shred one record, every active record of a source (exact name), or every active record of a
    patient (the raw id as in the export's patient column; matched through its keyed hash, never stored).
    Returns ids and counts; the ``on_shred`` hooks flag the models trained on them."""
    if sum(x is not None for x in (record_id, source, patient)) != 1:
        raise UsageError("shred needs exactly one of a record id, a source or a patient id",
                         hint="appliance vault shred --record ID | --source NAME | --patient ID")
    from appliance.vault import metadata as _meta

    with v.writing():
        if patient is not None:
            ids = _meta.active_records_of_patient(v.conn, _meta.patient_key(v.keys, patient))
            if not ids:
                raise UsageError("no active records for that patient id",
                                 hint="records carry a patient only when ingested with --patient-column "
                                      "(or [vault] patient_column)")
        elif record_id is not None:
            v._row(record_id)  # raises for unknown or already shredded records
            ids = [record_id]
        else:
            ids = [r[0] for r in v.conn.execute(
                "SELECT id FROM records WHERE source = ? AND state = 'active' ORDER BY rowid", (source,))]
            if not ids:
                raise UsageError(f"no active records in source {source!r}", hint="appliance vault stats")
        now = utc_now()
        with _cat.transaction(v.conn) as c:
            for i in range(0, len(ids), 500):
                part = ids[i : i + 500]
                q = ",".join("?" * len(part))
                c.execute("UPDATE records SET wrapped_key = NULL, raw_hash = NULL, state = 'shredded', "
                          f"shredded_at = ? WHERE id IN ({q})", [now, *part])
                c.execute(f"DELETE FROM signatures WHERE record_id IN ({q})", part)
                c.execute(f"DELETE FROM lsh_bands WHERE record_id IN ({q})", part)
            _meta.forget(c, ids)
        v.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        dirs = set()
        for rid in ids:
            p = v.object_path(rid)
            p.unlink(missing_ok=True)
            dirs.add(p.parent)
        for d in dirs:
            if d.is_dir():
                fsync_dir(d)
    hook_errors = run_shred_hooks(v.home, ids)
    by = "patient" if patient is not None else "source" if source is not None else "record"
    audit(v.home, "vault.shred", {"by": by, "source": source, "records": ids, "count": len(ids),
                                  "hook_errors": len(hook_errors)}, v.keys)
    return {"shredded": ids, "count": len(ids), "by": by, "source": source, "hook_errors": hook_errors}


def rotate_key(v: Vault, progress=None) -> dict:
    """Re-wrap every active data key under a new vault KEK (crash-safe, re-runnable)."""
    from appliance.keys import add_vault_kek, retire_vault_kek

    keys = v.keys
    crash_after = int(os.environ.get(ENV_TEST_ROTATE_CRASH_AFTER, "0") or 0)
    with v.writing():
        target = _cat.get_meta(v.conn, "rotation_target")
        resumed = bool(target and target in keys.vault_keks)
        if not resumed:
            target = add_vault_kek(keys)
            with _cat.transaction(v.conn) as c:
                _cat.set_meta(c, "rotation_target", target)
        rows = v.conn.execute(
            "SELECT id, kek_id, wrapped_key FROM records WHERE state = 'active' AND kek_id != ? ORDER BY rowid",
            (target,)).fetchall()
        if progress:
            progress("start", {"total": len(rows)})
        rewrapped, failed = 0, []
        new_kek = keys.vault_keks[target]
        for row in rows:
            try:
                data_key = v._data_key(row)
            except IntegrityError as e:
                failed.append({"id": row["id"], "error": e.message})
                continue
            wrapped = crypto.wrap(new_kek, data_key, key_aad(row["id"], target))
            with _cat.transaction(v.conn) as c:
                c.execute("UPDATE records SET kek_id = ?, wrapped_key = ? WHERE id = ? AND kek_id = ?",
                          (target, wrapped, row["id"], row["kek_id"]))
            rewrapped += 1
            if crash_after and rewrapped >= crash_after:
                os._exit(137)  # simulated power cut for the crash test
            if progress:
                progress("record", {})
        retired = []
        for kid in sorted(keys.vault_keks):
            if kid == target:
                continue
            left = v.conn.execute("SELECT COUNT(*) FROM records WHERE state = 'active' AND kek_id = ?",
                                  (kid,)).fetchone()[0]
            if left == 0:
                retire_vault_kek(keys, kid)
                retired.append(kid)
        if not failed:
            with _cat.transaction(v.conn) as c:
                _cat.set_meta(c, "rotation_target", None)
        v.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # old wrapped keys out of the WAL
    result = {"new_kek": target, "resumed": resumed, "rewrapped": rewrapped, "retired": retired, "failed": failed}
    audit(v.home, "vault.rotate_key", {"new_kek": target, "resumed": resumed, "rewrapped": rewrapped,
                                       "retired": retired, "failed": [f["id"] for f in failed]},
          v.keys, outcome="integrity_error" if failed else "ok")
    if failed:
        raise IntegrityError(
            f"{len(failed)} record(s) could not be re-wrapped; their old KEK was kept",
            hint="appliance vault verify", details=[f"{f['id']}: {f['error']}" for f in failed])
    return result


def export(v: Vault, source: str, out_path, *, overwrite: bool = False) -> dict:
    """Write every active record of ``source`` (glob allowed) as JSON lines ``{id, source, batch_id,
    ingested_at, text}`` to ``out_path``, which must lie outside the home. Audited with counts and a hash."""
    out = Path(out_path).expanduser().absolute()
    home_root = v.home.root.resolve()
    resolved = out.parent.resolve() / out.name
    if resolved == home_root or home_root in resolved.parents:
        raise UsageError(f"refusing to write {out} inside the appliance home",
                         hint="choose an output path outside the home, e.g. -o /media/export/notes.jsonl")
    if out.exists() and not overwrite:
        raise UsageError(f"{out} already exists", hint="choose another path or pass --force")
    if not out.parent.is_dir():
        raise UsageError(f"directory {out.parent} does not exist", hint="create it first")
    metas = v.list_records([source])
    if not metas:
        raise UsageError(f"no active records match source {source!r}", hint="appliance vault stats")
    h = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            for m in metas:
                line = json.dumps({"id": m.id, "source": m.source, "batch_id": m.batch_id,
                                   "ingested_at": m.ingested_at, "text": v.read_text(m.id)},
                                  ensure_ascii=False).encode("utf-8") + b"\n"
                h.update(line)
                f.write(line)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, out)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, IntegrityError):
            audit(v.home, "vault.export", {"source": source, "records": 0}, v.keys, outcome="integrity_error")
        raise
    fsync_dir(out.parent)
    result = {"path": str(out), "source": source, "records": len(metas), "sha256": h.hexdigest()}
    audit(v.home, "vault.export", {"source": source, "records": len(metas), "sha256": h.hexdigest(),
                                   "record_ids": [m.id for m in metas]}, v.keys)
    return result
