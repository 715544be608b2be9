"""Data section: ingest batches, records kept and dropped, PHI found by type (counts), shred events.

Each ingest run and batch carries its scrubbing policy (per-type operator, waivers; see ``scrubbing.py``),
and PHI found is split into items replaced and items kept under a waiver.

Sources: the vault catalog opened read-only (metadata only: ids, sources, batches, counts, states) and
the audit entries of the period (``vault.ingest``, ``vault.shred``, ``vault.show``, ``vault.export``).
No key is needed and no record is decrypted.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from appliance.home import Home
from appliance.report.auditlog import by_action, obj
from appliance.report.period import Period
from appliance.report.scrubbing import policy, split_found


def _add(counter: Counter, d: Any) -> None:
    if isinstance(d, dict):
        for k, v in d.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                counter[str(k)] += v


def _catalog(home: Home, period: Period) -> dict[str, Any] | None:
    from appliance.vault.catalog import read_summary

    d = read_summary(home.catalog_path)
    if d is None:
        return None
    return {
        "sources": d["sources"],
        "batches": [b for b in d["batches"] if period.contains(b["created_at"])],
        "shredded_groups": d["shredded_groups"],
        "shredded_in_period": sum(1 for t in d["shredded_times"] if period.contains(t)),
    }


def collect(home: Home, entries: list[dict], period: Period) -> dict[str, Any]:
    """Counts only: never a record's text, never a value the scrubber found."""
    inside = [e for e in entries if period.contains(e.get("ts"))]
    ingests = []
    records_in = kept = 0
    dropped: Counter = Counter()
    phi: Counter = Counter()
    replaced: Counter = Counter()
    kept_phi: Counter = Counter()
    for e in by_action(inside, "vault.ingest"):
        if e["action"] != "vault.ingest":
            continue  # per-batch entries are shown through the catalog's batch table
        o = obj(e)
        ingests.append(
            {
                "ts": e["ts"],
                "actor": e.get("actor"),
                "outcome": e.get("outcome"),
                "ingest_id": o.get("ingest_id"),
                "source": o.get("source"),
                "files_ok": o.get("files_ok"),
                "files_failed": o.get("files_failed"),
                "records_in": o.get("records_in"),
                "kept": o.get("kept"),
                "dropped": o.get("dropped") or {},
                "phi_found": o.get("phi_found") or {},
                "batches": o.get("batches"),
                "policy": policy(o),
            }
        )
        rep, kp = split_found(o.get("phi_found") or {}, policy(o)["operators"])
        replaced.update(rep)
        kept_phi.update(kp)
        records_in += int(o.get("records_in") or 0)
        kept += int(o.get("kept") or 0)
        _add(dropped, o.get("dropped"))
        _add(phi, o.get("phi_found"))
    shreds = [
        {"ts": e["ts"], "actor": e.get("actor"), "outcome": e.get("outcome"), "object": obj(e)}
        for e in by_action(inside, "vault.shred")
    ]
    disclosures = [
        {
            "ts": e["ts"],
            "actor": e.get("actor"),
            "action": e["action"],
            "outcome": e.get("outcome"),
            "object": obj(e),
        }
        for e in by_action(inside, "vault.show", "vault.export")
    ]
    catalog = _catalog(home, period)
    if catalog:
        batch_policy = {obj(e).get("batch"): policy(obj(e)) for e in entries if e.get("action") == "vault.ingest.batch"}
        for b in catalog["batches"]:
            b["policy"] = batch_policy.get(b["batch"], {"operators": {}, "waivers": {}})
    if catalog and not ingests:  # a log without summaries (older build): fall back to the catalog's batches
        for b in catalog["batches"]:
            kept += int(b["records"] or 0)
            _add(dropped, b["dropped"])
            _add(phi, b["phi_found"])
            rep, kp = split_found(b["phi_found"], b["policy"]["operators"])
            replaced.update(rep)
            kept_phi.update(kp)
        records_in = kept + sum(dropped.values())
    has = bool(ingests or shreds or disclosures or (catalog and (catalog["batches"] or catalog["sources"])))
    return {
        "status": "ok" if has else "no data",
        "ingests": ingests,
        "totals": {"records_in": records_in, "kept": kept, "dropped": sum(dropped.values())},
        "dropped_by_reason": dict(dropped.most_common()),
        "phi_by_type": dict(phi.most_common()),
        "phi_replaced": dict(replaced),
        "phi_kept": dict(kept_phi),  # found but left in the text (operator keep/off under a waiver)
        "shreds": shreds,
        "disclosures": disclosures,
        "catalog": catalog,
    }
