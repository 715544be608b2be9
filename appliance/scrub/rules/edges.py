"""Span edges: after merging, drop words at either end of a span that never identify on their own — a title
before a name ("Dr." Haddad), a preposition before a place ("at" Jordan Hospital), an age label or unit
("Age:" 92, 91 "yo").  Every PHI token stays covered; the label is not counted or surrogated.
"""

from __future__ import annotations

import re

from appliance.scrub.types import Entity

_EDGE_TITLES = frozenset(["dr", "doctor", "mr", "mrs", "ms", "miss", "mx", "prof", "professor", "rev", "reverend"])
_EDGE_PREPS = frozenset(["at", "in", "to", "from", "by", "with", "on", "per", "w", "and"])  # not "via": Via dei …
_EDGE_LEAD = {
    "NAME": _EDGE_TITLES,
    "FACILITY": _EDGE_TITLES | _EDGE_PREPS,
    "LOCATION": _EDGE_TITLES | _EDGE_PREPS,
    "AGE": frozenset(["age", "aged"]),
}

# only the clinical shorthand: "96-year-old" stays whole (gold conventions count it as the age)
_EDGE_TAIL = {"AGE": frozenset(["yo", "y.o", "yo.f", "yof", "yom"])}
_EDGE_WORD = re.compile(r"[^\W\d_]+(?:\.[^\W\d_]+)*")


def trim_edges(text: str, ents: list[Entity]) -> list[Entity]:
    """Drop non-identifying label words (titles, prepositions, age labels) from the ends of merged spans."""
    out = []
    for e in ents:
        s, t = e.start, e.end
        lead, tail = _EDGE_LEAD.get(e.type), _EDGE_TAIL.get(e.type)
        while lead:
            m = _EDGE_WORD.match(text, s, t)
            if not m or m.group().lower() not in lead:
                break
            if e.type == "LOCATION" and m.group() in ("N", "S", "E", "W") and text[m.end() : m.end() + 1] == ".":
                break  # a compass point ("W. Main St"), not "w" for with
            rest = re.match(r"\.?:?[ \t]+|\.?:" if e.type == "AGE" else r"\.?[ \t\n]+", text[m.end() : t])
            if not rest or m.end() + rest.end() >= t:
                break
            s = m.end() + rest.end()
        while tail:
            m = re.search(r"(?:(?<=\d)|\s|-)(?P<w>[^\W\d_]+(?:[./][^\W\d_]+)*)\.?$", text[s:t])
            if not m or m.group("w").lower().replace("/", ".") not in tail and m.group("w").lower().replace("/", "") not in tail:
                break
            nt = s + m.start()
            nt = s + len(text[s:nt].rstrip(" \t-"))
            if nt <= s or not re.search(r"\d", text[s:nt]):
                break
            t = nt
        out.append(Entity(s, t, e.type, e.score) if (s, t) != (e.start, e.end) else e)
    return out
