"""The registry database (``models/registry.sqlite``): schema, connection and write transactions.

The database is the index of model versions; the signed files under ``models/<version>/`` are the content.
Every write runs in ``BEGIN IMMEDIATE`` (one writer at a time, readers never see half a change) with
``synchronous=FULL`` in WAL mode, so a promotion either happened or did not after a power cut.  The champion
is a single row (``champion.id = 1``) changed in the same transaction that appends to
``champion_history``: the pointer and its history cannot disagree.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from appliance.home import Home

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS versions (
    version TEXT PRIMARY KEY,
    seq INTEGER NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('trained', 'imported')),
    parent TEXT REFERENCES versions(version),
    base_model TEXT NOT NULL,
    run_name TEXT,
    source_sha256 TEXT NOT NULL,          -- hash of the source directory's file hashes (idempotent register)
    recipe TEXT,                          -- canonical JSON of the recipe the version was trained with
    data_manifest_sha256 TEXT,
    manifest_sha256 TEXT NOT NULL,        -- sha256 of the signed MANIFEST.json
    key_id TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'candidate' CHECK (status IN ('candidate', 'accepted', 'rejected')),
    status_reasons TEXT,                  -- JSON list
    train_metrics TEXT,                   -- JSON (final loss, steps, tokens) from the run
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS versions_run ON versions(run_name);
CREATE TABLE IF NOT EXISTS manifest_records (
    version TEXT NOT NULL REFERENCES versions(version),
    record_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    split TEXT NOT NULL CHECK (split IN ('train', 'heldout')),
    source TEXT,
    batch_id TEXT,
    ingested_at TEXT,
    PRIMARY KEY (version, record_id)
);
CREATE INDEX IF NOT EXISTS manifest_records_record ON manifest_records(record_id);
CREATE INDEX IF NOT EXISTS manifest_records_source ON manifest_records(source);
CREATE TABLE IF NOT EXISTS champion (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version TEXT NOT NULL REFERENCES versions(version),
    since TEXT NOT NULL,
    history_seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS champion_history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('promote', 'rollback')),
    version TEXT NOT NULL,
    previous TEXT,
    actor TEXT NOT NULL,
    reason TEXT
);
CREATE TABLE IF NOT EXISTS flags (
    version TEXT NOT NULL REFERENCES versions(version),
    flag TEXT NOT NULL,
    detail TEXT NOT NULL,                 -- JSON
    at TEXT NOT NULL,
    PRIMARY KEY (version, flag)
);
CREATE TABLE IF NOT EXISTS evaluations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    version TEXT NOT NULL REFERENCES versions(version),
    kind TEXT NOT NULL,                   -- 'eval' (appliance eval) | 'gate' (retrain decision)
    at TEXT NOT NULL,
    result TEXT NOT NULL                  -- JSON
);
CREATE INDEX IF NOT EXISTS evaluations_version ON evaluations(version);
"""


def connect(home: Home) -> sqlite3.Connection:
    """Open (creating if needed) the registry database of ``home``; autocommit mode, explicit transactions."""
    path = home.registry_path
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = not path.exists()
    old = os.umask(0o077)
    try:
        conn = sqlite3.connect(path, isolation_level=None, timeout=30.0)
    finally:
        os.umask(old)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    if fresh or conn.execute("SELECT name FROM sqlite_master WHERE name='meta'").fetchone() is None:
        with transaction(conn):
            for stmt in _SCHEMA.split(";"):
                if stmt.strip():
                    conn.execute(stmt)
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on any exception)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def loads(raw: str | None, default: Any = None) -> Any:
    return json.loads(raw) if raw else default


STATE_NAME = "models"
_PROTECTED = {  # table → (key columns, protected columns); evaluations are results, not decisions
    "versions": (("version",), ("version", "seq", "kind", "parent", "base_model", "run_name", "source_sha256",
                                "manifest_sha256", "status")),
    "manifest_records": (("version", "record_id"), ("version", "record_id", "sha256", "split", "source", "batch_id")),
    "champion": (("id",), ("id", "version", "since", "history_seq")),
    "champion_history": (("seq",), ("seq", "at", "action", "version", "previous", "reason")),
    "flags": (("version", "flag"), ("version", "flag", "detail")),
}


def protected_rows(conn: sqlite3.Connection) -> dict[str, str]:
    """``{"<table>:<key>": digest}`` over the rows the log's decisions depend on (champion, status, lineage)."""
    from appliance.audit.state import row_digest

    out = {}
    for table, (key, cols) in _PROTECTED.items():
        have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
        use = [c for c in cols if c in have]
        for r in conn.execute(f"SELECT {', '.join(use)} FROM {table}"):
            out[f"{table}:{'/'.join(str(r[k]) for k in key)}"] = row_digest(list(r))
    return out


def seal_state(home: Home, signer) -> dict | None:
    """Sign the registry's rows into the audit log (``models.state``); a no-op without a signer."""
    from appliance.audit.state import seal

    if signer is None or not home.registry_path.exists():
        return None
    conn = connect(home)
    try:
        rows = protected_rows(conn)
    finally:
        conn.close()
    return seal(home, STATE_NAME, rows, home.registry_state_path, signer)


def check_state(home: Home, public_keys: dict) -> dict:
    """The registry against its last signed state (a missing registry.sqlite counts as deleted)."""
    from appliance.audit.state import check

    rows = None
    if home.registry_path.exists():
        conn = connect(home)
        try:
            rows = protected_rows(conn)
        finally:
            conn.close()
    return check(home, STATE_NAME, rows, home.registry_state_path, "models/registry.sqlite", public_keys)


def guard_state(home: Home) -> None:
    """Refuse to change a registry that was edited behind the log's back (sealing it would launder the edit)."""
    from appliance.errors import IntegrityError
    from appliance.keys import public_keys

    if not home.initialized:
        return
    state = check_state(home, public_keys(home))
    if state["status"] == "tampered":
        raise IntegrityError("the model registry was changed behind the audit log's back; refusing to change it "
                             "further", details=state["problems"],
                             hint="appliance models verify VERSION; restore models/ from backup")


def record(home: Home, action: str, obj: dict, keys=None, outcome: str = "ok") -> None:
    """``audit.record`` the decision, then seal the registry's rows (signed ``models.state``) with the unlocked
    key (``keys``, else the one unlocked earlier in this process)."""
    from appliance import audit

    signer = getattr(keys, "signer", None) or audit.attached_signer(home)
    audit.record(home, action, obj, outcome=outcome, signer=signer)
    seal_state(home, signer)
