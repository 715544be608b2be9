"""Per-record metadata beside the catalog: a keyed patient hash, the note's month, a keyed source-id hash.

A hospital export carries a note id, a patient id and a date next to the text.  None of the raw values is
stored: the patient id and the export's note id become HMAC-SHA256 under keys derived from the master key
(``vault-patient-key`` / ``vault-source-id``), so equal ids link records without revealing or confirming an
id; the date is kept as ``YYYY-MM`` only (what per-month evaluation needs; the day would add an identifier).
The table ``record_meta`` lives in the catalog database; rows are written in the ingest batch's transaction
and deleted in the shred transaction, so a shredded record leaves no patient link behind.  Its rows are part
of the catalog's signed state (:func:`protected_rows`), so re-pointing a record to another patient, or
deleting the link that a patient-level shred follows, is tampering that `vault verify` names.
"""

from __future__ import annotations

import hashlib
import hmac
import sqlite3
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_SCHEMA = """
CREATE TABLE IF NOT EXISTS record_meta(
    record_id TEXT PRIMARY KEY REFERENCES records(id),
    patient_key TEXT,
    note_month TEXT,
    source_id_key TEXT
);
CREATE INDEX IF NOT EXISTS record_meta_patient ON record_meta(patient_key);
"""


@dataclass(frozen=True)
class RecordExtra:
    patient_key: str | None = None
    note_month: str | None = None  # YYYY-MM
    source_id_key: str | None = None


def ensure(conn: sqlite3.Connection) -> None:
    """Create the table if this catalog predates it (idempotent)."""
    conn.executescript(_SCHEMA)


def _exists(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='record_meta'").fetchone() is not None


def _canonical(raw: str) -> bytes:
    return unicodedata.normalize("NFC", raw.strip()).encode("utf-8")


def patient_key(keys, raw_patient_id: str) -> str:
    """The stored form of a patient id: hex HMAC-SHA256 under a key derived from the master key."""
    return hmac.new(keys.derive("vault-patient-key"), _canonical(raw_patient_id), hashlib.sha256).hexdigest()


def source_id_key(keys, raw_id: str) -> str:
    """The stored form of an export's note id (keyed, like the patient id)."""
    return hmac.new(keys.derive("vault-source-id"), _canonical(raw_id), hashlib.sha256).hexdigest()


def insert(conn: sqlite3.Connection, rows: Sequence[tuple[str, str | None, str | None, str | None]]) -> None:
    """``(record_id, patient_key, note_month, source_id_key)`` rows, inside the caller's transaction."""
    rows = [r for r in rows if any(x is not None for x in r[1:])]
    if rows:
        conn.executemany("INSERT OR REPLACE INTO record_meta(record_id, patient_key, note_month, source_id_key) "
                         "VALUES (?, ?, ?, ?)", rows)


def protected_rows(conn: sqlite3.Connection) -> dict[str, str]:
    """``{"meta:<record id>": digest}`` of every row, for the catalog's signed state."""
    from appliance.audit.state import row_digest

    if not _exists(conn):
        return {}
    return {f"meta:{r[0]}": row_digest(list(r)) for r in conn.execute(
        "SELECT record_id, patient_key, note_month, source_id_key FROM record_meta")}


def forget(conn: sqlite3.Connection, record_ids: Sequence[str]) -> None:
    """Delete the metadata of shredded records (inside the shred transaction)."""
    if not _exists(conn):
        return
    for i in range(0, len(record_ids), 500):
        part = list(record_ids[i : i + 500])
        conn.execute(f"DELETE FROM record_meta WHERE record_id IN ({','.join('?' * len(part))})", part)


def extras(conn: sqlite3.Connection, record_ids: Iterable[str] | None = None) -> dict[str, RecordExtra]:
    """Metadata by record id (records without any are absent)."""
    if not _exists(conn):
        return {}
    rows = conn.execute("SELECT record_id, patient_key, note_month, source_id_key FROM record_meta").fetchall()
    want = set(record_ids) if record_ids is not None else None
    return {r[0]: RecordExtra(r[1], r[2], r[3]) for r in rows if want is None or r[0] in want}


def active_records_of_patient(conn: sqlite3.Connection, key: str) -> list[str]:
    """Ids of the active records whose patient key is ``key`` (ingest order)."""
    if not _exists(conn):
        return []
    return [r[0] for r in conn.execute(
        "SELECT r.id FROM records r JOIN record_meta m ON m.record_id = r.id "
        "WHERE m.patient_key = ? AND r.state = 'active' ORDER BY r.rowid", (key,))]
