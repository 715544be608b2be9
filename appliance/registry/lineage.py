"""Lineage: which vault records trained which model version, and what shredding does to that.

A version's *own* training split is its data manifest (stored as rows at registration, with the record's
source, ingest batch and time copied from the catalog, so lineage survives a shred).  A warm-started
version also carries what its ancestors learned, so "trained on" questions and shred flags follow the
parent chain: a record shredded from the vault flags every version that trained on it directly
(``trained_on_shredded``) and every descendant (``inherits_shredded``).
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from appliance.home import Home
from appliance.registry import db
from appliance.registry.versions import get, resolve_name


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ancestors(conn: sqlite3.Connection, version: str) -> list[str]:
    out, v = [], version
    while True:
        row = conn.execute("SELECT parent FROM versions WHERE version=?", (v,)).fetchone()
        if row is None or row["parent"] is None:
            return out
        v = row["parent"]
        out.append(v)


def _descendants(conn: sqlite3.Connection, versions: Iterable[str]) -> list[str]:
    seeds = list(versions)
    if not seeds:
        return []
    marks = ",".join("?" * len(seeds))
    q = (f"WITH RECURSIVE d(v) AS (SELECT version FROM versions WHERE parent IN ({marks}) "
         "UNION SELECT versions.version FROM versions JOIN d ON versions.parent = d.v) SELECT v FROM d")
    return sorted({r["v"] for r in conn.execute(q, seeds)} - set(seeds))


def _mentions(obj: Any, needles: set[str]) -> bool:
    if isinstance(obj, str):
        return obj in needles
    if isinstance(obj, dict):
        return any(_mentions(v, needles) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return any(_mentions(v, needles) for v in obj)
    return False


def lineage(home: Home, version: str, *, audit: bool = True) -> dict:
    """The records in ``version``'s training and held-out splits, their sources and ingest batches with the
    batches' audit entries, the version's own audit entries and its ancestry."""
    v = resolve_name(home, version)
    info = get(home, v)
    conn = db.connect(home)
    try:
        rows = [dict(r) for r in conn.execute(
            "SELECT record_id, sha256, split, source, batch_id, ingested_at FROM manifest_records "
            "WHERE version=? ORDER BY record_id", (v,))]
        ancestors = _ancestors(conn, v)
        inherited = {a: conn.execute("SELECT COUNT(*) AS n FROM manifest_records WHERE version=? AND split='train'",
                                     (a,)).fetchone()["n"] for a in ancestors}
    finally:
        conn.close()
    train = [r for r in rows if r["split"] == "train"]
    batches: dict[str, dict] = {}
    for r in train:
        b = batches.setdefault(r["batch_id"] or "(unknown)", {"batch_id": r["batch_id"], "source": r["source"],
                                                               "records": 0, "first_ingested_at": r["ingested_at"]})
        b["records"] += 1
        if r["ingested_at"] and (b["first_ingested_at"] is None or r["ingested_at"] < b["first_ingested_at"]):
            b["first_ingested_at"] = r["ingested_at"]
    batch_ids = {b for b in batches if b != "(unknown)"}
    version_entries: list[dict] = []
    if audit:
        from appliance.audit import read_entries

        needles_v = {v} | ({info["run_name"]} if info["run_name"] else set())
        for e in read_entries(home):
            obj = e.get("object") or {}
            if e.get("action", "").startswith("vault.") and _mentions(obj, batch_ids):
                for b in batches.values():
                    if b["batch_id"] and _mentions(obj, {b["batch_id"]}):
                        b.setdefault("audit", []).append(_brief(e))
            elif _mentions(obj, needles_v):
                version_entries.append(_brief(e))
    return {
        "version": v,
        "parent": info["parent"],
        "ancestors": [{"version": a, "train_records": inherited[a]} for a in ancestors],
        "base_model": info["base_model"],
        "run_name": info["run_name"],
        "data_manifest_sha256": info["data_manifest_sha256"],
        "train_record_ids": [r["record_id"] for r in train],
        "heldout_record_ids": [r["record_id"] for r in rows if r["split"] == "heldout"],
        "records": rows,
        "sources": dict(sorted(Counter(r["source"] or "(unknown)" for r in train).items())),
        "batches": sorted(batches.values(), key=lambda b: (b["first_ingested_at"] or "", b["batch_id"] or "")),
        "audit": version_entries,
        "flags": info["flags"],
    }


def _brief(e: dict) -> dict:
    return {k: e.get(k) for k in ("seq", "ts", "actor", "action", "outcome", "object", "hash")}


def trained_on(home: Home, record: str | None = None, source: str | None = None) -> dict:
    """Versions whose training split held ``record`` (or any record of ``source``), and their descendants,
    which inherit what a warm start learned."""
    if (record is None) == (source is None):
        from appliance.errors import UsageError

        raise UsageError("give exactly one of --record or --source", hint="appliance models trained-on --record ID")
    if not home.registry_path.exists():
        return {"record": record, "source": source, "direct": [], "inherited": []}
    conn = db.connect(home)
    try:
        if record is not None:
            q = conn.execute("SELECT version, COUNT(*) AS n FROM manifest_records WHERE record_id=? AND split='train' "
                             "GROUP BY version", (record,))
        else:
            q = conn.execute("SELECT version, COUNT(*) AS n FROM manifest_records WHERE source=? AND split='train' "
                             "GROUP BY version", (source,))
        direct = {r["version"]: r["n"] for r in q}
        inherited = [d for d in _descendants(conn, direct) if d not in direct]
        champ = conn.execute("SELECT version FROM champion WHERE id=1").fetchone()
    finally:
        conn.close()
    c = champ["version"] if champ else None
    return {
        "record": record,
        "source": source,
        "direct": [{"version": k, "train_records": n, "champion": k == c} for k, n in sorted(direct.items())],
        "inherited": [{"version": k, "champion": k == c} for k in inherited],
    }


def flag_shredded(home: Home, record_ids: Iterable[str], keys=None) -> dict:
    """Flag every version trained on any of ``record_ids`` (and every descendant); returns what was flagged."""
    ids = sorted(set(record_ids))
    if not ids or not home.registry_path.exists():
        return {"direct": [], "inherited": []}
    db.guard_state(home)  # deleted lineage rows must not make a shred flag nothing, silently
    conn = db.connect(home)
    try:
        with db.transaction(conn):
            hits: dict[str, set[str]] = {}
            for i in range(0, len(ids), 500):
                chunk = ids[i:i + 500]
                for r in conn.execute("SELECT version, record_id FROM manifest_records WHERE split='train' AND "
                                      f"record_id IN ({','.join('?' * len(chunk))})", chunk):
                    hits.setdefault(r["version"], set()).add(r["record_id"])
            for v, recs in hits.items():
                old = conn.execute("SELECT detail FROM flags WHERE version=? AND flag='trained_on_shredded'",
                                   (v,)).fetchone()
                merged = sorted(set(json.loads(old["detail"])["records"]) | recs if old else recs)
                conn.execute("INSERT OR REPLACE INTO flags VALUES (?,?,?,?)",
                             (v, "trained_on_shredded", json.dumps({"records": merged}), _now()))
            inherited = _descendants(conn, hits)
            for d in inherited:
                anc = [a for a in _ancestors(conn, d) if a in hits]
                old = conn.execute("SELECT detail FROM flags WHERE version=? AND flag='inherits_shredded'",
                                   (d,)).fetchone()
                merged = sorted(set(json.loads(old["detail"])["ancestors"]) | set(anc) if old else set(anc))
                conn.execute("INSERT OR REPLACE INTO flags VALUES (?,?,?,?)",
                             (d, "inherits_shredded", json.dumps({"ancestors": merged}), _now()))
    finally:
        conn.close()
    result = {"direct": sorted(hits), "inherited": inherited}
    if hits or inherited:
        db.record(home, "models.flag", {"flag": "trained_on_shredded", "versions": sorted(hits),
                                     "inherited": inherited, "records": len(ids)}, keys)
    return result


def refresh_shred_flags(home: Home, keys=None) -> dict:
    """Reconcile flags with the vault catalog (catches shreds made while the registry hook was not loaded).

    Reads only the catalog's ids and states (metadata, no keys needed)."""
    if not home.catalog_path.exists() or not home.registry_path.exists():
        return {"direct": [], "inherited": []}
    from appliance.vault import catalog

    conn = catalog.connect(home.catalog_path, readonly=True)
    try:
        shredded = [r[0] for r in conn.execute("SELECT id FROM records WHERE state = 'shredded'")]
    finally:
        conn.close()
    if not shredded:
        return {"direct": [], "inherited": []}
    known = set()
    rconn = db.connect(home)
    try:
        for r in rconn.execute("SELECT detail FROM flags WHERE flag='trained_on_shredded'"):
            known |= set(json.loads(r["detail"])["records"])
        trained = {r["record_id"] for r in rconn.execute("SELECT DISTINCT record_id FROM manifest_records "
                                                          "WHERE split='train'")}
    finally:
        rconn.close()
    todo = (set(shredded) & trained) - known
    return flag_shredded(home, todo, keys) if todo else {"direct": [], "inherited": []}


def tainted_versions(home: Home) -> set[str]:
    """Versions that trained, directly or through an ancestor, on a since-shredded record."""
    if not home.registry_path.exists():
        return set()
    conn = db.connect(home)
    try:
        return {r["version"] for r in conn.execute(
            "SELECT DISTINCT version FROM flags WHERE flag IN ('trained_on_shredded', 'inherits_shredded')")}
    finally:
        conn.close()


def training_records(home: Home) -> list[tuple[str, str]]:
    """``(version, record_id)`` for every training record of every version (read-only; empty without a registry)."""
    if not home.registry_path.is_file():
        return []
    import sqlite3

    conn = sqlite3.connect(f"file:{home.registry_path}?mode=ro", uri=True, timeout=30)
    try:
        return [(v, r) for v, r in conn.execute("SELECT version, record_id FROM manifest_records WHERE split='train'")]
    except sqlite3.Error:
        return []
    finally:
        conn.close()
