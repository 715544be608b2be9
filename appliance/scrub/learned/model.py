"""The learned detector at run time, and how its decision combines with the rules'.

Design: the CRF tags every token of a note with ``O`` or a PHI label (IO scheme: NAME, DATE, LOCATION, AGE,
PHONE, ID), reading the rules' detections as features.  The combination, per note:

1. Structured identifiers found by regex (phone, fax, e-mail, URL, IP, SSN, MRN, plan, account, licence,
   vehicle, device, biometric, ZIP) are kept as the rules found them: their patterns are precise and a
   miss there is a breach.
2. For the contextual types (NAME, LOCATION, FACILITY, DATE, AGE, ID) the CRF decides.  A token is PHI when
   its marginal P(not O) >= ``threshold`` (recall first: below one half by default).  A rule detection the
   CRF confirms on at least one token keeps the rule's extent (a whole "Dr. Ann Lee", "Mt. Auburn
   Hospital").  One it does not confirm is vetoed when spaCy's NER alone found it (all-caps text, drug
   names: the rules' main false positives), and a pattern rule's detection only when the CRF is sure it is
   not PHI (every token below ``veto_floor``): a missed name is a breach, an over-scrubbed word is not.
3. Tokens the CRF flags that no rule found become new detections (runs of flagged tokens joined across
   spaces and short punctuation), typed by the CRF's label.

A model is python-crfsuite bytes plus a JSON card (feature version, labels, threshold, training hashes).
The shipped default lives in ``appliance/data/scrub/``; site models are stored encrypted by
:mod:`appliance.scrub.learned.store`.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from functools import lru_cache
from importlib import resources

from appliance.errors import IntegrityError, MissingComponent
from appliance.scrub.learned.features import FEATURE_VERSION, note_features, token_range
from appliance.scrub.types import Entity, merge_entities

log = logging.getLogger(__name__)

DEFAULT_MODEL = "scrub/crf-default.crfsuite"
DEFAULT_CARD = "scrub/crf-default.json"
STRUCTURED = frozenset(
    ["PHONE", "FAX", "EMAIL", "URL", "IP_ADDRESS", "SSN", "MRN", "HEALTH_PLAN", "ACCOUNT", "LICENSE", "VEHICLE", "DEVICE", "BIOMETRIC", "ZIP"]
)
DEFAULT_THRESHOLD = 0.05
DEFAULT_VETO_FLOOR = 0.01
NER = "spacy_ner"
_JOIN = frozenset(["", " ", "-", "/", ".", ". ", ", ", "'", "'s ", "&", " & ", "  "])


class Detector:
    """A loaded CRF and its card; ``combine`` is the engine hook."""

    def __init__(self, model_bytes: bytes, card: dict):
        import pycrfsuite

        if card.get("feature_version") != FEATURE_VERSION:
            raise IntegrityError(
                f"scrub model {card.get('name', '?')}: built for features {card.get('feature_version')!r}, this appliance has {FEATURE_VERSION!r}",
                hint="retrain it: appliance scrub train (site) or rebuild the default (make scrub-model)",
            )
        self.card = card
        self.threshold = float(card.get("threshold", DEFAULT_THRESHOLD))
        self.veto_floor = float(card.get("veto_floor", DEFAULT_VETO_FLOOR))
        self.tagger = pycrfsuite.Tagger()
        # crfsuite reads the model from this buffer without owning it: keep it alive as long as the tagger
        self._model = bytes(model_bytes)
        try:
            self.tagger.open_inmemory(self._model)
        except (ValueError, OSError):
            # older python-crfsuite builds only open files
            fd, path = tempfile.mkstemp(suffix=".crfsuite")
            try:
                os.write(fd, model_bytes)
                os.close(fd)
                self.tagger.open(path)
            finally:
                os.unlink(path)
        self.labels = [lab for lab in self.tagger.labels() if lab != "O"]

    @classmethod
    def from_bytes(cls, model_bytes: bytes, card: dict) -> Detector:
        return cls(model_bytes, card)

    def token_probs(self, text: str, mode: str, raw, final) -> tuple[list[tuple[int, int]], list[tuple[str, float]]]:
        """Per token (best PHI label, its marginal probability)."""
        toks, feats = note_features(text, mode, raw, final)
        if not toks:
            return toks, []
        self.tagger.set(feats)
        out = []
        for i in range(len(toks)):
            best, p = "O", 0.0
            for lab in self.labels:
                q = self.tagger.marginal(lab, i)
                if q > p:
                    best, p = lab, q
            out.append((best, p))
        return toks, out

    def combine(self, note, raw, rule_ents: list[Entity]) -> list[Entity]:
        """The final detections of one note (see the module docstring for the rule)."""
        toks, probs = self.token_probs(note.text, note.mode, raw, rule_ents)
        if not toks:
            return rule_ents
        flagged = [p >= self.threshold for _, p in probs]
        starts = [a for a, _ in toks]
        def tok_range(a: int, b: int) -> range:
            return token_range(toks, starts, a, b)

        kept: list[Entity] = []
        explained = [False] * len(toks)
        by_pattern = [(e.start, e.end) for name, e in raw if name != NER]
        for e in rule_ents:
            rng = tok_range(e.start, e.end)
            pattern = any(a < e.end and b > e.start for a, b in by_pattern)
            if (e.type in STRUCTURED or any(flagged[i] for i in rng)
                    or (pattern and any(probs[i][1] >= self.veto_floor for i in rng))):
                kept.append(e)
                for i in rng:
                    explained[i] = True
        text = note.text
        i = 0
        while i < len(toks):
            if not flagged[i] or explained[i]:
                i += 1
                continue
            j = i
            while j + 1 < len(toks) and flagged[j + 1] and not explained[j + 1] and text[toks[j][1] : toks[j + 1][0]] in _JOIN:
                j += 1
            labs = [probs[k][0] for k in range(i, j + 1)]
            typ = max(set(labs), key=labs.count)
            score = min(probs[k][1] for k in range(i, j + 1))
            kept.append(Entity(toks[i][0], toks[j][1], typ, round(score, 3)))
            i = j + 1
        return merge_entities(kept)


@lru_cache(maxsize=1)
def default_model() -> tuple[bytes, dict]:
    """The shipped default model's bytes and card (package data)."""
    base = resources.files("appliance.data")
    try:
        model = base.joinpath(DEFAULT_MODEL).read_bytes()
        card = json.loads(base.joinpath(DEFAULT_CARD).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MissingComponent(
            f"the default scrub model appliance/data/{DEFAULT_MODEL} is missing",
            hint="rebuild it (make scrub-model) or set scrub.learned = \"off\" in appliance.toml",
        ) from None
    import hashlib

    if hashlib.sha256(model).hexdigest() != card.get("model_sha256"):
        raise IntegrityError(f"appliance/data/{DEFAULT_MODEL}: its hash does not match {DEFAULT_CARD}", hint="reinstall the appliance or rebuild the model (make scrub-model)")
    return model, card


def load_detector(settings) -> Detector | None:
    """The detector the settings ask for: the shipped default, or None for ``scrub.learned = "off"``."""
    if getattr(settings, "learned", "off") == "off":
        return None
    model, card = default_model()
    return Detector(model, card)
