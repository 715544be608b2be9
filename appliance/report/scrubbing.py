"""How each ingest was scrubbed: the per-type operator and any waiver, from the ingest audit entries.

Every ``vault.ingest`` / ``vault.ingest.batch`` entry records ``operators`` (Safe Harbor type -> surrogate |
tag | redact | keep | off) and ``waivers`` (type -> reason).  A type whose operator is ``keep`` or ``off``
was found but NOT replaced, so the report splits "found" into replaced and kept-under-waiver instead of
calling every found item scrubbed.  Counts and type names only; no value the scrubber saw.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

UNSCRUBBED = ("keep", "off")


def policy(o: dict) -> dict[str, Any]:
    """``{"operators", "waivers"}`` of one ingest entry's object (empty for entries older than the fields)."""
    ops = o.get("operators") if isinstance(o.get("operators"), dict) else {}
    waivers = o.get("waivers") if isinstance(o.get("waivers"), dict) else {}
    return {"operators": {str(k): str(v) for k, v in ops.items()},
            "waivers": {str(k): str(v) for k, v in waivers.items()}}


def split_found(phi_found: dict, operators: dict[str, str]) -> tuple[Counter, Counter]:
    """``(replaced, kept)`` per type: kept are the items of a type whose operator leaves them in the text."""
    replaced, kept = Counter(), Counter()
    for t, n in (phi_found or {}).items():
        if isinstance(n, (int, float)) and not isinstance(n, bool):
            (kept if operators.get(t) in UNSCRUBBED else replaced)[str(t)] += int(n)
    return replaced, kept


def describe(p: dict) -> str:
    """One cell: the operators grouped (``surrogate: NAME, PHONE · keep: MRN``) and the waivers with reasons."""
    ops = p.get("operators") or {}
    if not ops:
        return "not recorded (entry predates per-type operators)"
    groups: dict[str, list[str]] = {}
    for t, op in sorted(ops.items()):
        groups.setdefault(op, []).append(t)
    order = sorted(groups, key=lambda op: (op not in UNSCRUBBED, op))  # what is left unscrubbed comes first
    text = " · ".join(f"{op}: {', '.join(groups[op])}" for op in order)
    waivers = p.get("waivers") or {}
    if waivers:
        text += " | waived: " + "; ".join(f"{t} ({r})" for t, r in sorted(waivers.items()))
    return text
