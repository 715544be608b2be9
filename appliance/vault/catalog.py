"""The vault catalog (``vault/catalog.sqlite``, WAL): metadata only, never text.

Rows hold ids, source names, batch ids, times, sizes, scrub counts per entity type, keyed content hashes (of
the stored text, and of the raw text for exact dedup; the latter is cleared on shred),
the record's wrapped data key and its KEK id, MinHash signatures and LSH band keys (all keyed hashes, see
:mod:`appliance.curate.minhash`), and the state (``active`` / ``shredded``).  ``secure_delete`` is on, so a
shredded record's wrapped key is overwritten in the database pages, and shred checkpoints the WAL so no
copy lingers in the log.

Integrity: every vault write ends by sealing the protected columns of each batch and record row (ids,
source, batch, times, sizes, content hashes, scrub counts, state, shred time) with :mod:`appliance.audit.state`:
a manifest beside the catalog whose hash is signed into the audit log.  :func:`check_state` needs only the
site's public keys and names each row edited, deleted or added behind the log's back, or a deleted catalog.
Wrapped keys and KEK ids are left out: AEAD with associated data already binds them to the record.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS batches(
    id TEXT PRIMARY KEY,
    ingest_id TEXT NOT NULL,
    source TEXT NOT NULL,
    created_at TEXT NOT NULL,
    n_records INTEGER NOT NULL,
    scrub_counts TEXT NOT NULL,
    dropped TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS records(
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    batch_id TEXT NOT NULL REFERENCES batches(id),
    ingested_at TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    raw_hash TEXT,
    n_chars INTEGER NOT NULL,
    n_bytes INTEGER NOT NULL,
    sealed_bytes INTEGER NOT NULL,
    kek_id TEXT,
    wrapped_key BLOB,
    scrub_counts TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'shredded')),
    shredded_at TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS records_active_hash ON records(sha256) WHERE state = 'active';
CREATE INDEX IF NOT EXISTS records_raw_hash ON records(raw_hash) WHERE state = 'active';
CREATE INDEX IF NOT EXISTS records_source ON records(source, state);
CREATE INDEX IF NOT EXISTS records_kek ON records(kek_id);
CREATE TABLE IF NOT EXISTS signatures(record_id TEXT PRIMARY KEY REFERENCES records(id), sig BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS lsh_bands(band INTEGER NOT NULL, key INTEGER NOT NULL, record_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS lsh_lookup ON lsh_bands(band, key);
CREATE INDEX IF NOT EXISTS lsh_record ON lsh_bands(record_id);
"""


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """Open the catalog (creating the schema unless ``readonly``); autocommit mode, explicit transactions."""
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None, timeout=30)
    else:
        conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        path.chmod(0o600)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA secure_delete = ON")
    if not readonly:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")  # a committed batch survives a power cut
        conn.executescript(_SCHEMA)
        conn.execute(
            "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
        )
    return conn


def get_meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row["value"] if row else None


def set_meta(conn: sqlite3.Connection, key: str, value: str | None) -> None:
    if value is None:
        conn.execute("DELETE FROM meta WHERE key = ?", (key,))
    else:
        conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))


def dumps(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


class transaction:
    """``with transaction(conn):`` BEGIN IMMEDIATE … COMMIT, or ROLLBACK on any exception."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.conn.execute("COMMIT")
        else:
            self.conn.execute("ROLLBACK")


STATE_NAME = "vault"
_RECORD_COLS = ("id", "source", "batch_id", "ingested_at", "sha256", "raw_hash", "n_chars", "n_bytes",
                "sealed_bytes", "scrub_counts", "state", "shredded_at")
_BATCH_COLS = ("id", "ingest_id", "source", "created_at", "n_records", "scrub_counts", "dropped")


def protected_rows(conn: sqlite3.Connection) -> dict[str, str]:
    """``{"record:<id>" | "batch:<id>" | "meta:<id>": digest}`` over the columns that must not change behind
    the log (``meta``: the patient/month/source-id row of :mod:`appliance.vault.metadata`)."""
    from appliance.audit.state import row_digest
    from appliance.vault.metadata import protected_rows as metadata_rows

    out = {}
    for table, cols in (("records", _RECORD_COLS), ("batches", _BATCH_COLS)):
        for r in conn.execute(f"SELECT {', '.join(cols)} FROM {table}"):
            out[f"{table[:-1] if table == 'records' else 'batch'}:{r[0]}"] = row_digest(list(r))
    out.update(metadata_rows(conn))
    return out


def seal_state(home, conn: sqlite3.Connection, signer: Any) -> dict:
    """Sign the catalog's current rows into the audit log (the caller holds the vault write lock)."""
    from appliance.audit.state import seal

    return seal(home, STATE_NAME, protected_rows(conn), home.catalog_state_path, signer)


def check_state(home, conn: sqlite3.Connection | None, public_keys: dict) -> dict:
    """Compare the catalog (None: the file is missing) with its last signed state; see ``audit.state.check``."""
    from appliance.audit.state import check

    rows = protected_rows(conn) if conn is not None else None
    return check(home, STATE_NAME, rows, home.catalog_state_path, "vault/catalog.sqlite", public_keys)


def record_mismatch(home, conn: sqlite3.Connection, keys) -> dict:
    """Before a write: if the catalog differs from its signed state, say so in the log (signed at the next
    checkpoint) so that the seal after this write cannot launder the edit.  A write is not refused: rows a
    killed ingest or shred committed before its seal are legitimate, and the entry lists them for review."""
    from appliance.audit import record
    from appliance.keys import trust_store

    st = check_state(home, conn, trust_store(home, keys).keys)
    if st["status"] == "tampered":
        record(home, "vault.state.mismatch", {"problems": st["problems"][:50], "count": len(st["problems"])},
               outcome="integrity_error", signer=keys.signer)
    return st


# -- keyless read functions (metadata only; what the compliance report reads) ------------------------------


def read_summary(path: Path) -> dict | None:
    """Per-source counts by state, every batch, shred groups and shred times; None without a catalog.

    Opens the catalog read-only; needs no key and never touches record text.
    """
    if not Path(path).is_file():
        return None
    conn = connect(Path(path), readonly=True)
    try:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not {"records", "batches"} <= names:
            return None
        sources: dict[str, dict[str, int]] = {}
        for r in conn.execute("SELECT source, state, COUNT(*) AS n FROM records GROUP BY source, state"):
            sources.setdefault(r["source"], {"active": 0, "shredded": 0})[r["state"]] = r["n"]
        batches = [{"batch": b["id"], "ingest_id": b["ingest_id"], "source": b["source"],
                    "created_at": b["created_at"], "records": b["n_records"],
                    "phi_found": json.loads(b["scrub_counts"] or "{}"), "dropped": json.loads(b["dropped"] or "{}")}
                   for b in conn.execute("SELECT id, ingest_id, source, created_at, n_records, scrub_counts, dropped "
                                         "FROM batches ORDER BY created_at, id")]
        groups = [dict(r) for r in conn.execute(
            "SELECT source, batch_id, COUNT(*) AS n, MIN(shredded_at) AS first, MAX(shredded_at) AS last FROM records "
            "WHERE state='shredded' GROUP BY source, batch_id ORDER BY first")]
        times = [r[0] for r in conn.execute("SELECT shredded_at FROM records WHERE state='shredded'")]
    finally:
        conn.close()
    return {"sources": sources, "batches": batches, "shredded_groups": groups, "shredded_times": times}


def shredded_ids(path: Path) -> set[str]:
    """Ids of every shredded record (tombstones); empty without a catalog."""
    if not Path(path).is_file():
        return set()
    conn = connect(Path(path), readonly=True)
    try:
        return {r[0] for r in conn.execute("SELECT id FROM records WHERE state='shredded'")}
    except sqlite3.Error:
        return set()
    finally:
        conn.close()
