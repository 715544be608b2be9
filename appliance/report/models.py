"""Models section: versions, champion history, evaluation and gate results, loss curves, lineage, flags.

Reads the registry through its public API (metadata only; no unlock) and ``runs/*/metrics.jsonl``.  The
lineage summary is counts per source and ingest batch (ids), never record content.  Versions trained on
since-shredded records are found twice: the registry's flags, and a read-only cross-check of the vault
catalog's shredded ids against each version's training split (catches a shred the registry missed).
"""

from __future__ import annotations

import json
from typing import Any

from appliance.home import Home
from appliance.report.auditlog import by_action, obj
from appliance.report.period import Period

MAX_RUNS = 12


def _loss_curves(home: Home) -> dict[str, dict[str, list[tuple[float, float]]]]:
    runs = home.runs_dir
    if not runs.is_dir():
        return {}
    files = sorted(runs.glob("*/metrics.jsonl"), key=lambda p: p.stat().st_mtime)[-MAX_RUNS:]
    out: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for f in files:
        train: list[tuple[float, float]] = []
        held: list[tuple[float, float]] = []
        for line in f.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if not isinstance(rec, dict) or not isinstance(rec.get("step"), (int, float)):
                continue
            if rec.get("kind") == "step" and isinstance(rec.get("loss"), (int, float)):
                train.append((rec["step"], float(rec["loss"])))
            elif rec.get("kind") == "eval" and isinstance(rec.get("eval_loss"), (int, float)):
                held.append((rec["step"], float(rec["eval_loss"])))
        if train or held:
            out[f.parent.name] = {"train": train, "heldout": held}
    return out


def _shredded_cross_check(home: Home) -> dict[str, int]:
    """``{version: n}`` training records that the catalog now lists as shredded (owners' read functions)."""
    from appliance.registry import training_records
    from appliance.vault.catalog import shredded_ids

    shredded = shredded_ids(home.catalog_path)
    out: dict[str, int] = {}
    if shredded:
        for version, rid in training_records(home):
            if rid in shredded:
                out[version] = out.get(version, 0) + 1
    return out


def _lineage_summary(home: Home, version: str) -> dict[str, Any]:
    from appliance.registry import lineage

    lin = lineage(home, version, audit=False)
    return {
        "version": version,
        "parent": lin.get("parent"),
        "base_model": lin.get("base_model"),
        "run_name": lin.get("run_name"),
        "train_records": len(lin.get("train_record_ids") or []),
        "heldout_records": len(lin.get("heldout_record_ids") or []),
        "sources": lin.get("sources") or {},
        "batches": [
            {
                "batch": b.get("batch_id"),
                "source": b.get("source"),
                "records": b.get("records"),
                "first_ingested_at": b.get("first_ingested_at"),
            }
            for b in lin.get("batches") or []
        ],
        "ancestors": lin.get("ancestors") or [],
        "data_manifest_sha256": lin.get("data_manifest_sha256"),
    }


def collect(home: Home, entries: list[dict], period: Period) -> dict[str, Any]:
    inside = [e for e in entries if period.contains(e.get("ts"))]
    events = [
        {
            "ts": e["ts"],
            "actor": e.get("actor"),
            "action": e["action"],
            "outcome": e.get("outcome"),
            "object": obj(e),
        }
        for e in by_action(inside, "models", "retrain", "eval", "evaluate", "train")
    ]
    curves = _loss_curves(home)
    versions: list[dict] = []
    history: list[dict] = []
    evaluations: list[dict] = []
    lineage: list[dict] = []
    error = None
    if home.registry_path.is_file():
        try:
            from appliance import registry

            versions = registry.list_versions(home)
            history = registry.champion_history(home)
            for v in versions:
                info = registry.get(home, v["version"])
                for ev in info.get("evaluations") or []:
                    evaluations.append(
                        {
                            "version": v["version"],
                            "kind": ev.get("kind"),
                            "at": ev.get("at"),
                            "result": ev.get("result"),
                        }
                    )
                if v.get("kind") == "trained":
                    lineage.append(_lineage_summary(home, v["version"]))
        except ImportError:
            error = "the registry is not part of this build"
        except Exception as e:  # a damaged registry must not stop the rest of the report  # noqa: BLE001
            error = f"{type(e).__name__}: {e}"
    cross = _shredded_cross_check(home)
    flagged = []
    for v in versions:
        flags = v.get("flags") or {}
        if flags or v["version"] in cross:
            direct = flags.get("trained_on_shredded") or {}
            inherited = flags.get("inherits_shredded") or {}
            flagged.append(
                {
                    "version": v["version"],
                    "champion": v.get("champion"),
                    "shredded_records_trained_on": len(direct.get("records") or [])
                    or cross.get(v["version"], 0),
                    "inherits_from": inherited.get("ancestors") or [],
                    "catalog_cross_check": cross.get(v["version"], 0),
                    "registry_flagged": bool(flags),
                }
            )
    has = bool(versions or curves or events)
    return {
        "status": "error" if error and not has else ("ok" if has else "no data"),
        "error": error,
        "versions": [
            {
                k: v.get(k)
                for k in (
                    "version",
                    "kind",
                    "parent",
                    "base_model",
                    "run_name",
                    "status",
                    "status_reasons",
                    "champion",
                    "created_at",
                    "key_id",
                    "records",
                    "train_metrics",
                    "manifest_sha256",
                )
            }
            for v in versions
        ],
        "champion": next((v["version"] for v in versions if v.get("champion")), None),
        "champion_history": history,
        "evaluations": evaluations,
        "lineage": lineage,
        "flagged": flagged,
        "loss_curves": curves,
        "events": events,
    }
