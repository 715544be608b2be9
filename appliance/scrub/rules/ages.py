"""Ages over 89: "92-year-old", "aged 95", "ninety-one", "Age: 93 y" and an Age column of a table.
"""

from __future__ import annotations

import re

from appliance.scrub import patterns as P
from appliance.scrub.note import Note
from appliance.scrub.rules.base import ClinicalRecognizer
from appliance.scrub.types import Entity
from appliance.scrub.words import match_span, strip_span


class ClinicalAgeRecognizer(ClinicalRecognizer):
    """Ages over 89 ("92-year-old", "92 yo", "aged 95", "ninety-one")."""

    NAME = "clinical_age"
    ENTITIES = ("AGE",)

    def find(self, note: Note) -> list[Entity]:
        out = []
        for m in P.AGE.finditer(note.view):
            s, e = strip_span(note.view, *match_span(m))
            out.append(Entity(s, e, "AGE", 0.9))
        return out


_TABLE_ROW = re.compile(r"(?m)^[^\n|]*\|.*\|[^\n]*$")


def table_ages(text: str) -> list[Entity]:
    out = []
    if "|" not in text or not re.search(r"(?i)\|\s*age\s*\|", text):
        return out
    age_col = None
    for row in _TABLE_ROW.finditer(text):
        cells = [(c.start(), c.group(0)) for c in re.finditer(r"[^|]+", row.group(0))]
        heads = [c.strip().lower() for _, c in cells]
        if "age" in heads:
            age_col = heads.index("age")
            continue
        if age_col is None or age_col >= len(cells):
            continue
        off, cell = cells[age_col]
        cm = re.fullmatch(r"\s*(\d{2,3})\s*(?:y/?o|yo|y)?\s*", cell)
        if cm and int(cm.group(1)) > 89:
            s = row.start() + off + cm.start(1)
            out.append(Entity(s, s + len(cm.group(1)), "AGE", 0.8))
    return out


_AGE_Y = re.compile(r"(?i)\bage\s*:?\s*(?P<a>(?:9\d|1[01]\d)\s?(?:y|yo|yrs?)\b)")


def age_years(v: str) -> list[Entity]:
    out = []
    for m in _AGE_Y.finditer(v):
        out.append(Entity(m.start("a"), m.end("a"), "AGE", 0.8))
    return out
