"""Reading the audit log for the report: every entry, through the audit package's public reader.

The report never trusts what it cannot verify, so the integrity section runs the real verifier; the
other sections only need the entries, read here in one pass.  Lines that do not parse are skipped and
counted (the integrity section names them).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from appliance.home import Home


def all_entries(home: Home) -> tuple[list[dict], int]:
    """``(entries, unreadable_lines)`` for the whole log, oldest first."""
    try:
        from appliance.audit import read_entries  # the audit package's public reader
    except ImportError:
        read_entries = None
    if read_entries is not None:
        try:
            return list(read_entries(home)), 0
        except TypeError:  # an older signature; fall back to reading the file
            pass
        except Exception:  # a damaged log: read what parses; the integrity section reports the damage  # noqa: BLE001, S110
            pass
    entries: list[dict] = []
    bad = 0
    path = home.audit_log_path
    if not path.is_file():
        return entries, 0
    with open(path, "rb") as f:
        for line in f:
            if not line.endswith(b"\n"):
                bad += 1
                continue
            try:
                e = json.loads(line)
            except ValueError:
                bad += 1
                continue
            if isinstance(e, dict) and isinstance(e.get("action"), str):
                entries.append(e)
            else:
                bad += 1
    return entries, bad


def by_action(entries: Iterable[dict], *prefixes: str) -> list[dict]:
    """Entries whose action equals one of ``prefixes`` or starts with ``prefix + '.'``."""
    out = []
    for e in entries:
        a = e.get("action", "")
        if any(a == p or a.startswith(p + ".") for p in prefixes):
            out.append(e)
    return out


def obj(entry: dict) -> dict[str, Any]:
    o = entry.get("object")
    return o if isinstance(o, dict) else {}
