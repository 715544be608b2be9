"""The :class:`Vault`: object store plus catalog, and the read API other subsystems use.

Each record is one sealed file ``vault/objects/<xx>/<record id>.rec`` (chunked AES-256-GCM, see
:mod:`appliance._internal.aead_stream`) under its own random 256-bit data key.  The data key is wrapped under
the current vault KEK with associated data naming the record id and the KEK id, and stored in the catalog;
the sealed object binds the record id too, so files or wrapped keys moved between records fail to open.

Writes (ingest, shred, rotate-key) hold ``vault/.lock``; readers (the trainer) only read committed catalog
rows and never take it.  A write starts by sweeping what a crash may have left behind: staging files and
object files without an active catalog row (an uncommitted batch, or a shred that stopped between the catalog
update and the unlink).
"""

from __future__ import annotations

import datetime as _dt
import fnmatch
import hashlib
import hmac
import inspect
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from appliance._internal import aead_stream, crypto
from appliance._internal.atomic import fsync_dir
from appliance._internal.locks import file_lock
from appliance.config import ScrubSection, VaultSection, load_site_config
from appliance.errors import IntegrityError, UsageError
from appliance.home import Home
from appliance.vault import catalog as _cat

RECORD_SUFFIX = ".rec"
STAGING_SUFFIX = ".staging"

#: Callbacks run after every shred with the list of shredded record ids (and ``home=`` when the callback
#: accepts it).  The model registry hooks "flag every model trained on these records" in here.
on_shred: list[Callable[..., Any]] = []
#: Modules imported before the hooks run, so subsystems that register a hook at import time always do
#: (a CLI `vault shred` process would otherwise never import the registry).
SHRED_HOOK_MODULES = ("appliance.registry",)


def _load_syncfs():
    try:
        import ctypes
        import ctypes.util

        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.syncfs
    except (OSError, AttributeError):
        return None


_SYNCFS = _load_syncfs()
_HAVE_SYNCFS = _SYNCFS is not None


def _syncfs(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if _SYNCFS(fd) != 0:
            import ctypes

            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), str(path))
    finally:
        os.close(fd)


def utc_now() -> str:
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class RecordMeta:
    """Catalog facts about one record (no text).  ``sha256`` is a *keyed* SHA-256 (HMAC under a key derived
    from the master key) of the stored text, so it identifies content without allowing guess confirmation;
    :meth:`Vault.content_hash` computes it for a given text."""

    id: str
    source: str
    batch_id: str
    ingested_at: str
    sha256: str
    n_chars: int
    n_bytes: int = 0
    sealed_bytes: int = 0
    kek_id: str | None = None
    state: str = "active"
    shredded_at: str | None = None
    scrub_counts: dict[str, int] = field(default_factory=dict, hash=False, compare=False)  # PHI found, by type

    def to_dict(self) -> dict:
        return asdict(self)


def _record_meta(row) -> RecordMeta:
    return RecordMeta(
        id=row["id"], source=row["source"], batch_id=row["batch_id"], ingested_at=row["ingested_at"],
        sha256=row["sha256"], n_chars=row["n_chars"], n_bytes=row["n_bytes"], sealed_bytes=row["sealed_bytes"],
        kek_id=row["kek_id"], state=row["state"], shredded_at=row["shredded_at"],
        scrub_counts=json.loads(row["scrub_counts"]),
    )


def record_aad(record_id: str) -> bytes:
    """Associated data of a record's sealed object."""
    return b"appliance/vault/record:" + record_id.encode()


def key_aad(record_id: str, kek_id: str) -> bytes:
    """Associated data of a record's wrapped data key."""
    return b"appliance/vault/data-key:" + record_id.encode() + b":" + kek_id.encode()


def audit(home: Home, action: str, obj: dict, keys, outcome: str = "ok") -> None:
    """Append an audit entry (ids and counts only)."""
    from appliance.audit import record

    record(home, action, obj, outcome=outcome, signer=getattr(keys, "signer", None))


class Vault:
    """An open vault: catalog connection, object store and the unlocked keys."""

    def __init__(self, home: Home, keys, settings: VaultSection, scrub_settings: ScrubSection):
        self.home = home
        self.keys = keys
        self.settings = settings
        self.scrub_settings = scrub_settings
        self.objects_dir = home.objects_dir
        self.conn = _cat.connect(home.catalog_path)
        self._hash_key = keys.derive("vault-content-hash")
        self._raw_hash_key = keys.derive("vault-raw-hash")
        self._minhash_key = keys.derive("vault-minhash")

    # -- opening -------------------------------------------------------------------------------------------
    @classmethod
    def open(cls, home: Home | str | os.PathLike, keys, settings: VaultSection | None = None) -> Vault:
        """Open the vault of ``home`` with unlocked ``keys``; creates the catalog on first use and sweeps
        crash leftovers when no other process is writing."""
        home = home if isinstance(home, Home) else Home(Path(home))
        home.require_initialized()
        catalog_missing = not home.catalog_path.exists()
        if not home.objects_dir.is_dir():
            home.create_layout()
        cfg = load_site_config(home.config_path)
        v = cls(home, keys, settings or cfg.vault, cfg.scrub)
        v.catalog_was_missing = catalog_missing  # checked against the signed state by `vault verify`
        try:
            with file_lock(v.lock_path, timeout=0):
                v.sweep()
        except TimeoutError:
            pass  # a writer is active; it swept when it started
        return v

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Vault:  # noqa: PYI034 -- the class is not subclassed
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def lock_path(self) -> Path:
        return self.home.vault_dir / ".lock"

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the vault write lock and start from a swept object store."""
        with file_lock(self.lock_path):
            self.sweep()
            _cat.record_mismatch(self.home, self.conn, self.keys)
            try:
                yield
            finally:  # committed rows are real even when the command failed later: seal what is there
                _cat.seal_state(self.home, self.conn, self.keys.signer)

    # -- object store --------------------------------------------------------------------------------------
    def object_path(self, record_id: str) -> Path:
        return self.objects_dir / record_id[-2:] / (record_id + RECORD_SUFFIX)

    def staging_path(self, record_id: str) -> Path:
        p = self.object_path(record_id)
        return p.with_name("." + p.name + STAGING_SUFFIX)

    def stage_object(self, record_id: str, sealed: bytes | bytearray) -> Path:
        """Write a sealed object under its staging name (not yet visible, not yet durable: see
        :meth:`publish_objects`)."""
        path = self.staging_path(record_id)
        path.parent.mkdir(mode=0o700, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(sealed)
                if not _HAVE_SYNCFS:
                    f.flush()
                    os.fsync(f.fileno())
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return path

    def _sync(self, dirs) -> None:
        """Make staged data (or renames) durable: one syncfs(2) for the whole batch where Linux offers it
        (a per-file fsync costs ~10 ms here, i.e. most of the ingest time), else fsync each directory."""
        if _HAVE_SYNCFS:
            _syncfs(self.objects_dir)
        else:
            for d in dirs:
                fsync_dir(d)

    def publish_objects(self, record_ids: list[str]) -> None:
        """Flush staged objects, rename them to their final names and flush again (before the catalog
        commit, so a committed row always has a durable object)."""
        dirs = {self.object_path(rid).parent for rid in record_ids}
        if not record_ids:
            return
        self._sync(dirs)
        for rid in record_ids:
            os.replace(self.staging_path(rid), self.object_path(rid))
        self._sync(dirs)

    def sweep(self) -> dict:
        """Delete staging files and object files with no active catalog row. Call only under the lock."""
        if not self.objects_dir.is_dir():
            return {"removed": 0}
        active = {r[0] for r in self.conn.execute("SELECT id FROM records WHERE state = 'active'")}
        removed = 0
        for sub in self.objects_dir.iterdir():
            if not sub.is_dir():
                continue
            for p in sub.iterdir():
                name = p.name
                orphan = name.endswith(STAGING_SUFFIX) or (
                    name.endswith(RECORD_SUFFIX) and name[: -len(RECORD_SUFFIX)] not in active
                )
                if orphan:
                    p.unlink(missing_ok=True)
                    removed += 1
            if removed:
                fsync_dir(sub)
        return {"removed": removed}

    # -- keys and hashes -----------------------------------------------------------------------------------
    def content_hash(self, text: str) -> str:
        """The keyed SHA-256 stored as ``RecordMeta.sha256`` for ``text``."""
        return hmac.new(self._hash_key, text.encode("utf-8"), hashlib.sha256).hexdigest()

    def raw_hash(self, text: str) -> str:
        """Keyed SHA-256 of a normalised raw (pre-scrub) text, for exact dedup; never leaves the catalog."""
        return hmac.new(self._raw_hash_key, text.encode("utf-8"), hashlib.sha256).hexdigest()

    def minhasher(self):
        from appliance.curate import MinHasher

        num_perm, shingle, _b, _r = self.dedup_params()
        return MinHasher(num_perm=num_perm, shingle=shingle, key=self._minhash_key)

    def dedup_params(self) -> tuple[int, int, int, int]:
        """(num_perm, shingle, bands, rows), fixed when the catalog first stored signatures (changing them
        later would make old signatures incomparable)."""
        from appliance.curate import optimal_params

        stored = _cat.get_meta(self.conn, "dedup_params")
        if stored:
            d = json.loads(stored)
            return d["num_perm"], d["shingle"], d["bands"], d["rows"]
        s = self.settings
        b, r = optimal_params(s.dedup_threshold, s.dedup_num_perm)
        _cat.set_meta(
            self.conn, "dedup_params",
            _cat.dumps({"num_perm": s.dedup_num_perm, "shingle": s.dedup_shingle, "bands": b, "rows": r}),
        )
        return s.dedup_num_perm, s.dedup_shingle, b, r

    def seal(self, record_id: str, text: str) -> tuple[bytearray, str, bytes]:
        """(sealed object, KEK id, wrapped data key) for a new record."""
        data_key = crypto.random_key()
        sealed = aead_stream.encrypt(data_key, text.encode("utf-8"), record_aad(record_id), self.settings.chunk_size)
        kek_id = self.keys.vault_kek_id
        wrapped = crypto.wrap(self.keys.vault_kek, data_key, key_aad(record_id, kek_id))
        return sealed, kek_id, wrapped

    def _data_key(self, row) -> bytes:
        kek = self.keys.vault_keks.get(row["kek_id"])
        if kek is None:
            raise IntegrityError(
                f"record {row['id']}: its key-encryption key {row['kek_id']} is not in the keyring",
                hint="appliance vault verify  (restore keys/ from backup if a KEK was lost)",
            )
        if row["wrapped_key"] is None:
            raise IntegrityError(f"record {row['id']}: no wrapped data key", hint="appliance vault verify")
        try:
            return crypto.unwrap(kek, bytes(row["wrapped_key"]), key_aad(row["id"], row["kek_id"]))
        except crypto.UnwrapError:
            raise IntegrityError(
                f"record {row['id']}: wrapped data key failed authentication", hint="appliance vault verify"
            ) from None

    def _row(self, record_id: str):
        row = self.conn.execute("SELECT * FROM records WHERE id = ?", (record_id,)).fetchone()
        if row is None:
            raise UsageError(f"no record {record_id!r} in the vault", hint="appliance vault ls")
        if row["state"] != "active":
            raise UsageError(f"record {record_id} was shredded at {row['shredded_at']}", hint="appliance vault ls")
        return row

    def _open_row(self, row) -> str:
        rid = row["id"]
        data_key = self._data_key(row)
        try:
            sealed = self.object_path(rid).read_bytes()
        except FileNotFoundError:
            raise IntegrityError(f"record {rid}: object file is missing", hint="appliance vault verify") from None
        try:
            plain = aead_stream.decrypt(data_key, sealed, record_aad(rid))
        except aead_stream.StreamError as e:
            raise IntegrityError(f"record {rid}: {e}", hint="appliance vault verify") from None
        try:
            text = plain.decode("utf-8")
        except UnicodeDecodeError:
            raise IntegrityError(f"record {rid}: plaintext is not UTF-8", hint="appliance vault verify") from None
        if not hmac.compare_digest(self.content_hash(text), row["sha256"]) or len(text) != row["n_chars"]:
            raise IntegrityError(f"record {rid}: content does not match its catalog hash",
                                 hint="appliance vault verify")
        return text

    # -- read API ------------------------------------------------------------------------------------------
    def read_text(self, record_id: str) -> str:
        """Decrypt and authenticate one record in memory. :class:`IntegrityError` on any tamper."""
        return self._open_row(self._row(record_id))

    def get(self, record_id: str) -> RecordMeta:
        row = self.conn.execute("SELECT * FROM records WHERE id = ?", (record_id,)).fetchone()
        if row is None:
            raise UsageError(f"no record {record_id!r} in the vault", hint="appliance vault ls")
        return _record_meta(row)

    def record_extras(self, record_ids=None) -> dict:
        """Patient key / note month / source-id key by record id; see :mod:`appliance.vault.metadata`."""
        from appliance.vault.metadata import extras

        return extras(self.conn, record_ids)

    def list_records(
        self, sources: list[str] | None = None, state: str | None = "active", since: str | None = None
    ) -> list[RecordMeta]:
        """Records (oldest first) whose source matches any glob in ``sources`` (all when None), in ``state``
        (``active``, ``shredded``, or None for both), ingested at or after ``since`` (ISO date/time)."""
        sql, args = "SELECT * FROM records WHERE 1=1", []
        if state is not None:
            sql += " AND state = ?"
            args.append(state)
        if since:
            sql += " AND ingested_at >= ?"
            args.append(since)
        sql += " ORDER BY ingested_at, rowid"
        rows = self.conn.execute(sql, args).fetchall()
        if sources:
            rows = [r for r in rows if any(fnmatch.fnmatchcase(r["source"], g) for g in sources)]
        return [_record_meta(r) for r in rows]

    def stats(self) -> dict:
        """Counts and sizes by source and state, batches, KEKs in use (no text)."""
        by_source = {}
        for r in self.conn.execute(
            "SELECT source, state, COUNT(*) n, SUM(n_chars) c, SUM(sealed_bytes) b FROM records GROUP BY source, state"
        ):
            d = by_source.setdefault(r["source"], {"active": 0, "shredded": 0, "chars": 0, "sealed_bytes": 0})
            d[r["state"]] = r["n"]
            if r["state"] == "active":
                d["chars"] = r["c"] or 0
                d["sealed_bytes"] = r["b"] or 0
        dropped: dict[str, int] = {}
        scrub: dict[str, int] = {}
        n_batches = 0
        for b in self.conn.execute("SELECT dropped, scrub_counts FROM batches"):
            n_batches += 1
            for k, v in json.loads(b["dropped"]).items():
                dropped[k] = dropped.get(k, 0) + v
            for k, v in json.loads(b["scrub_counts"]).items():
                scrub[k] = scrub.get(k, 0) + v
        keks = {r["kek_id"]: r["n"] for r in self.conn.execute(
            "SELECT kek_id, COUNT(*) n FROM records WHERE state = 'active' GROUP BY kek_id")}
        return {
            "records_active": sum(d["active"] for d in by_source.values()),
            "records_shredded": sum(d["shredded"] for d in by_source.values()),
            "sources": by_source,
            "batches": n_batches,
            "dropped": dropped,
            "phi_found": scrub,
            "records_by_kek": keks,
            "current_kek": self.keys.vault_kek_id,
        }

    # -- operations (implemented in their own modules) -----------------------------------------------------
    def ingest(self, paths, source: str, **kw):
        """Ingest files into ``source``; see :func:`appliance.vault.ingest.ingest`."""
        from appliance.vault.ingest import ingest

        return ingest(self, paths, source, **kw)

    def show(self, record_id: str) -> str:
        """The stored (scrubbed) text of one record, audited as ``vault.show``."""
        try:
            text = self.read_text(record_id)
        except IntegrityError:
            audit(self.home, "vault.show", {"record": record_id}, self.keys, outcome="integrity_error")
            raise
        audit(self.home, "vault.show", {"record": record_id, "chars": len(text)}, self.keys)
        return text

    def verify(self, progress=None):
        from appliance.vault.lifecycle import verify

        return verify(self, progress=progress)

    def shred(self, record_id: str | None = None, source: str | None = None, patient: str | None = None):
        from appliance.vault.lifecycle import shred

        return shred(self, record_id=record_id, source=source, patient=patient)

    def rotate_key(self, progress=None):
        from appliance.vault.lifecycle import rotate_key

        return rotate_key(self, progress=progress)

    def export(self, source: str, out_path, **kw):
        from appliance.vault.lifecycle import export

        return export(self, source, out_path, **kw)


def run_shred_hooks(home: Home, record_ids: list[str]) -> list[str]:
    """Call every :data:`on_shred` hook; returns error strings of hooks that failed (shred still stands)."""
    import importlib

    errors = []
    for mod in SHRED_HOOK_MODULES:
        try:
            importlib.import_module(mod)
        except ImportError:
            pass  # that subsystem is not part of this build
        except Exception as e:  # noqa: BLE001 -- a hook module that fails to import is reported, not fatal to a completed shred
            errors.append(f"import {mod}: {type(e).__name__}: {e}")
    for hook in on_shred:
        try:
            params = inspect.signature(hook).parameters
            wants_home = "home" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())
            hook(list(record_ids), home=home) if wants_home else hook(list(record_ids))
        except Exception as e:  # a broken hook must not undo or hide a completed shred  # noqa: BLE001
            errors.append(f"{getattr(hook, '__qualname__', hook)}: {type(e).__name__}: {e}")
    return errors
