"""The site deny list: words always treated as PHI (``scrub.deny_list``; ``scrub.deny_by_type`` types them).
"""

from __future__ import annotations

import re

from appliance.scrub.note import Note
from appliance.scrub.rules.base import ClinicalRecognizer
from appliance.scrub.types import Entity


class ClinicalDenyListRecognizer(ClinicalRecognizer):
    """Site deny list: words always treated as PHI (``deny_list``; ``deny_by_type`` types them)."""

    NAME = "deny_list"
    ENTITIES = ("NAME", "FACILITY", "LOCATION", "ID")

    def __init__(self, settings=None):
        super().__init__(settings)
        items: list[tuple[str, str]] = []
        for w in getattr(settings, "deny_list", []) or []:
            items.append(("ID", w))
        for t, ws in (getattr(settings, "deny_by_type", {}) or {}).items():
            items += [(t, w) for w in ws]
        self._rx = [(t, re.compile(rf"(?<!\w){re.escape(w)}(?!\w)", re.IGNORECASE)) for t, w in items if w.strip()]

    def find(self, note: Note) -> list[Entity]:
        out = []
        for t, rx in self._rx:
            out += [Entity(m.start(), m.end(), t, 1.0) for m in rx.finditer(note.text)]
        return out
