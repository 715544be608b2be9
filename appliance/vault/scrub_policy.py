"""The ingest scrubbing policy: every Safe Harbor type is replaced, unless a named waiver says otherwise.

A type counts as *unscrubbed* when its operator is ``keep`` (``scrub.operators`` / ``default_operator``), when
no enabled recognizer reports it (``enabled_recognizers`` / ``disabled_recognizers``), or when its score
threshold is 1.0 (only perfect-confidence hits would count, which switches most detection off).  Vault ingest
refuses (exit 4) while any unscrubbed type lacks a ``[[waiver.scrub]]`` entry naming it with a reason; the
per-type operator table and the waivers that applied go into every ingest audit entry, so a report shows
what was scrubbed how.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from appliance.config import ScrubSection, WaiverSection
from appliance.errors import ConfigError, PolicyRefused

OFF = "off"  # the type is not detected at all (no recognizer, or threshold 1.0)


@dataclass
class ScrubPolicy:
    operators: dict[str, str]  # Safe Harbor type -> surrogate | tag | redact | keep | off
    unscrubbed: list[str]
    waived: dict[str, str] = field(default_factory=dict)  # type -> reason
    unwaived: list[str] = field(default_factory=list)

    def audit_fields(self) -> dict:
        """What every ingest audit entry records (no PHI: type names, operators and waiver reasons only)."""
        return {"operators": dict(self.operators), "waivers": dict(self.waived)}


def _detected_types(s: ScrubSection) -> set[str]:
    from appliance.scrub.rules import REGISTRY

    enabled = list(s.enabled_recognizers) or list(REGISTRY)
    disabled = set(s.disabled_recognizers)
    types: set[str] = set()
    for name in enabled:
        if name in REGISTRY and name not in disabled:
            types.update(REGISTRY[name].ENTITIES)
    return types


def waiver_problems(w: WaiverSection, source: str = "appliance.toml") -> list[str]:
    """Config problems in the waivers themselves (unknown type names)."""
    from appliance.scrub.types import SAFE_HARBOR_TYPES

    out = []
    for i, wv in enumerate(w.scrub):
        for t in wv.types:
            if t != "*" and t not in SAFE_HARBOR_TYPES:
                out.append(f"{source}: waiver.scrub.{i}.types: unknown type {t!r} "
                           f"(known: *, {', '.join(SAFE_HARBOR_TYPES)})")
    return out


def evaluate(s: ScrubSection, w: WaiverSection) -> ScrubPolicy:
    """The effective operator of every Safe Harbor type and which unscrubbed types are (not) waived."""
    from appliance.scrub.types import SAFE_HARBOR_TYPES

    detected = _detected_types(s)
    ops: dict[str, str] = {}
    for t in SAFE_HARBOR_TYPES:
        threshold = s.thresholds.get(t, s.score_threshold)
        if t not in detected or threshold >= 1.0:
            ops[t] = OFF
        else:
            ops[t] = s.operators.get(t, s.default_operator)
    always_off = _always_undetected()
    unscrubbed = [t for t, op in ops.items() if op in ("keep", OFF) and not (op == OFF and t in always_off)]
    reasons: dict[str, str] = {}
    for wv in w.scrub:
        for t in wv.types:
            for tt in (unscrubbed if t == "*" else [t]):
                reasons.setdefault(tt, wv.reason)
    waived = {t: reasons[t] for t in unscrubbed if t in reasons}
    return ScrubPolicy(ops, unscrubbed, waived, [t for t in unscrubbed if t not in reasons])


def _always_undetected() -> set[str]:
    """Types no recognizer reports even with the default configuration (nothing a site switched off)."""
    from appliance.scrub.types import SAFE_HARBOR_TYPES

    return set(SAFE_HARBOR_TYPES) - _detected_types(ScrubSection())


def enforce(s: ScrubSection, w: WaiverSection, source: str = "appliance.toml") -> ScrubPolicy:
    """The policy for an ingest, or PolicyRefused naming every unscrubbed type that has no waiver."""
    problems = waiver_problems(w, source)
    if problems:
        raise ConfigError(source, problems)
    pol = evaluate(s, w)
    if pol.unwaived:
        detail = [f"{t}: {'keep' if pol.operators[t] == 'keep' else 'not detected (recognizer disabled or threshold 1.0)'}"
                  for t in pol.unwaived]
        raise PolicyRefused(
            f"scrubbing is switched off for {', '.join(pol.unwaived)} in {source}; vault ingest refused",
            hint=f"restore the scrub operators/recognizers in {source}, or add a waiver.scrub table there "
                 f"with types = {pol.unwaived} and a reason (who approved it, why); see appliance config check",
            details=detail,
        )
    return pol
