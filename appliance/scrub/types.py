"""The appliance's PHI entity types (HIPAA Safe Harbor, 45 CFR 164.514(b)(2)) and the detection record.

Every recognizer reports one of :data:`SAFE_HARBOR_TYPES`; dataset labels are mapped onto them by the
dev-set converters.  ``Entity`` carries character offsets into the original text and never a value.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

# Safe Harbor identifier -> the type the scrubber reports.  (Full-face photographs have no text form.)
SAFE_HARBOR_TYPES: dict[str, str] = {
    "NAME": "(A) names of the patient, relatives, employers, household members and clinicians",
    "LOCATION": "(B) street address, city, county, precinct and other units smaller than a state",
    "FACILITY": "(B) hospital, clinic and other facility names (geographic identifiers)",
    "ZIP": "(B) ZIP codes (first three digits kept only where HHS allows)",
    "DATE": "(C) all elements of dates except the year",
    "AGE": "(C) ages over 89",
    "PHONE": "(D) telephone numbers",
    "FAX": "(E) fax numbers",
    "EMAIL": "(F) e-mail addresses",
    "SSN": "(G) social security numbers",
    "MRN": "(H) medical record numbers",
    "HEALTH_PLAN": "(I) health plan beneficiary numbers",
    "ACCOUNT": "(J) account numbers",
    "LICENSE": "(K) certificate and licence numbers",
    "VEHICLE": "(L) vehicle identifiers, serial numbers and licence plates",
    "DEVICE": "(M) device identifiers and serial numbers",
    "URL": "(N) web addresses",
    "IP_ADDRESS": "(O) IP addresses",
    "BIOMETRIC": "(P) biometric identifiers",
    "ID": "(R) any other unique identifying number, characteristic or code",
}

# Type -> the tag the `tag` operator writes ("[NAME]" ...).
TAGS = {t: f"[{t}]" for t in SAFE_HARBOR_TYPES}

# When two detections overlap, the more specific type wins over the generic one.
TYPE_PRIORITY: dict[str, int] = {
    "EMAIL": 100, "URL": 95, "IP_ADDRESS": 95, "SSN": 90, "FAX": 88, "PHONE": 86, "MRN": 85,
    "HEALTH_PLAN": 84, "ACCOUNT": 83, "LICENSE": 82, "VEHICLE": 81, "DEVICE": 80, "BIOMETRIC": 79,
    "AGE": 70, "DATE": 60, "ZIP": 55, "LOCATION": 50, "FACILITY": 52, "NAME": 45, "ID": 40,
}


@dataclass(frozen=True)
class Entity:
    """One detection: ``text[start:end]`` is PHI of ``type`` with confidence ``score``."""

    start: int
    end: int
    type: str
    score: float = 1.0

    def to_dict(self) -> dict:
        return {"start": self.start, "end": self.end, "type": self.type, "score": round(self.score, 3)}


@dataclass
class ScrubResult:
    """Scrubbed text plus counts of what was replaced, by type (never the values)."""

    text: str
    counts: dict[str, int] = field(default_factory=dict)
    # (clinical-vocabulary tokens in the original, of which no detection touched): appliance.scrub.damage
    clinical_vocab: tuple[int, int] = (0, 0)

    def to_dict(self) -> dict:
        return asdict(self)


def merge_entities(entities: list[Entity]) -> list[Entity]:
    """Resolve overlaps into disjoint spans: the union of overlapping spans takes the most specific type.

    Recall first: overlapping detections are never dropped, only merged, so every character any recognizer
    flagged stays covered.
    """
    if not entities:
        return []
    ents = sorted(entities, key=lambda e: (e.start, -e.end))
    out: list[list] = []
    for e in ents:
        if out and e.start < out[-1][1]:
            cur = out[-1]
            cur[1] = max(cur[1], e.end)
            # keep the type of the higher-priority detection; the score is the max
            if (TYPE_PRIORITY.get(e.type, 0), e.score) > (TYPE_PRIORITY.get(cur[2], 0), cur[3]):
                cur[2] = e.type
            cur[3] = max(cur[3], e.score)
        else:
            out.append([e.start, e.end, e.type, e.score])
    return [Entity(s, t, ty, sc) for s, t, ty, sc in out]
