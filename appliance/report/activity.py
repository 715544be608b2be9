"""Activity section: who did what and when, from the audit entries inside the period.

Rows keep the entry's ids and counts (the audit log never holds PHI); "touches clinical text" marks
the actions that decrypt or read vault records, which is what a compliance officer asks about first.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta
from typing import Any

from appliance.report.period import Period, parse_ts

MAX_ROWS = 5000
MAX_VALUE_CHARS = 120

# Operations that read clinical text (decrypt vault records, or scrub incoming files).  The vault's are
# exact names (``vault.ingest.batch`` is a detail of its ingest, not a second access); the others are
# families (``train.start``, ``eval.run`` …).
PHI_EXACT = ("vault.ingest", "vault.show", "vault.export", "vault.verify")
PHI_FAMILIES = ("train", "retrain", "eval", "evaluate", "scrub")


def touches_phi(action: str) -> bool:
    return action in PHI_EXACT or any(action == p or action.startswith(p + ".") for p in PHI_FAMILIES)


def summarize_object(o: Any, depth: int = 0) -> str:
    """A short ``k=v`` rendering of an entry's object (ids and counts), bounded in length."""
    if isinstance(o, dict):
        parts = []
        for k, v in o.items():
            if isinstance(v, (dict, list)) and depth >= 1:
                v = f"[{len(v)}]"
            else:
                v = summarize_object(v, depth + 1) if isinstance(v, (dict, list)) else v
            parts.append(f"{k}={v}")
        s = ", ".join(parts)
        return s if depth == 0 else "{" + s + "}"
    if isinstance(o, list):
        if len(o) > 5:
            return f"[{len(o)} items]"
        return "[" + ", ".join(summarize_object(x, depth + 1) for x in o) + "]"
    s = "—" if o is None else str(o)
    return s if len(s) <= MAX_VALUE_CHARS else s[: MAX_VALUE_CHARS - 1] + "…"


def bucket_size(period: Period, entries: list[dict]) -> str:
    """``hour`` for short spans, ``day`` up to ~4 months, else ``week`` (so plots stay readable)."""
    times = [t for t in (parse_ts(e.get("ts", "")) for e in entries) if t]
    if not times:
        return "day"
    start = period.since or min(times)
    end = period.until if period.until and period.since else max(times)
    span = end - start
    if span <= timedelta(days=2):
        return "hour"
    return "day" if span <= timedelta(days=120) else "week"


def bucket_key(ts: str, size: str) -> str:
    dt = parse_ts(ts)
    if dt is None:
        return "?"
    if size == "hour":
        return dt.strftime("%Y-%m-%d %H:00")
    if size == "week":
        monday = dt - timedelta(days=dt.weekday())
        return monday.strftime("%Y-%m-%d")
    return dt.strftime("%Y-%m-%d")


def collect(entries: list[dict], period: Period) -> dict[str, Any]:
    """Rows (newest last, capped), counts per action/actor/outcome and per time bucket."""
    inside = [e for e in entries if period.contains(e.get("ts"))]
    if not inside:
        return {"status": "no data", "total": 0}
    size = bucket_size(period, inside)
    by_bucket_action: dict[str, Counter] = defaultdict(Counter)
    by_bucket_actor: dict[str, Counter] = defaultdict(Counter)
    phi_by_actor: dict[str, dict[str, Any]] = {}
    for e in inside:
        b = bucket_key(e.get("ts", ""), size)
        by_bucket_action[b][e.get("action", "?")] += 1
        by_bucket_actor[b][str(e.get("actor", "?"))] += 1
        if touches_phi(e.get("action", "")):
            a = phi_by_actor.setdefault(
                str(e.get("actor", "?")), {"count": 0, "actions": Counter(), "first": e["ts"]}
            )
            a["count"] += 1
            a["actions"][e["action"]] += 1
            a["last"] = e["ts"]
    rows = [
        {
            "seq": e.get("seq"),
            "ts": e.get("ts"),
            "actor": e.get("actor"),
            "host": e.get("host"),
            "action": e.get("action"),
            "outcome": e.get("outcome"),
            "phi": touches_phi(e.get("action", "")),
            "object": summarize_object(e.get("object") or {}),
        }
        for e in inside[-MAX_ROWS:]
    ]
    return {
        "status": "ok",
        "total": len(inside),
        "shown": len(rows),
        "bucket": size,
        "rows": rows,
        "by_action": dict(Counter(e.get("action", "?") for e in inside).most_common()),
        "by_actor": dict(Counter(str(e.get("actor", "?")) for e in inside).most_common()),
        "by_outcome": dict(Counter(str(e.get("outcome", "?")) for e in inside).most_common()),
        "series_action": {b: dict(c) for b, c in sorted(by_bucket_action.items())},
        "series_actor": {b: dict(c) for b, c in sorted(by_bucket_actor.items())},
        "phi_access": [
            {
                "actor": k,
                "count": v["count"],
                "actions": dict(v["actions"]),
                "first": v["first"],
                "last": v["last"],
            }
            for k, v in sorted(phi_by_actor.items())
        ],
        "not_ok": [r for r in rows if r["outcome"] not in ("ok",)],
    }
