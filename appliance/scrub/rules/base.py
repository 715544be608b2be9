"""The recognizer base class: a fast ``find(note)`` path for the engine and Presidio's ``analyze`` for hosts.

Subclasses set ``NAME`` (the config name in the registry) and ``ENTITIES``; Presidio stays optional at import.
"""

from __future__ import annotations

import re

from appliance.scrub.note import Note
from appliance.scrub.types import Entity

try:  # Presidio is the host framework; the fast path does not need it imported
    from presidio_analyzer import EntityRecognizer as _PresidioBase
    from presidio_analyzer import RecognizerResult as _PresidioResult
except ImportError:  # pragma: no cover - presidio is a hard dependency of the product
    _PresidioBase = object
    _PresidioResult = None


class ClinicalRecognizer(_PresidioBase):
    """Base: subclasses set ``NAME`` and ``ENTITIES`` and implement ``find``."""

    NAME = "clinical"
    ENTITIES: tuple[str, ...] = ()

    def __init__(self, settings=None):
        self.settings = settings
        if _PresidioBase is not object:
            super().__init__(supported_entities=list(self.ENTITIES), name=self.NAME, supported_language="en")

    def load(self) -> None:  # Presidio hook; word lists load lazily
        pass

    def find(self, note: Note) -> list[Entity]:
        raise NotImplementedError

    def context_words(self, type_: str) -> list[str]:
        extra = getattr(self.settings, "context_words", {}) or {}
        return [re.escape(w.lower()) for w in extra.get(type_, [])]

    # Presidio interface
    def analyze(self, text, entities, nlp_artifacts=None):
        doc = getattr(nlp_artifacts, "tokens", None) if nlp_artifacts is not None else None
        note = Note.make(text, doc)
        out = []
        for e in self.find(note):
            if entities and e.type not in entities:
                continue
            out.append(_PresidioResult(entity_type=e.type, start=e.start, end=e.end, score=e.score))
        return out
