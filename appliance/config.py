"""Site configuration (``appliance.toml``) as pydantic models, and the one validator every config uses.

Unknown keys are errors (a typo must not silently fall back to a default).  :func:`validate` turns a
pydantic ``ValidationError`` into a :class:`ConfigError` that lists *every* problem at once, each as
``<file>: <dotted.field>: <message>``.  Each subsystem owns one section class below; sections are
independent so a site can set just the keys it cares about.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from appliance.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


class Strict(BaseModel):
    """Base for config models: unknown keys are errors, values are immutable after load."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def format_errors(source: str, err: ValidationError) -> list[str]:
    problems = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e.get("loc", ())) or "(top level)"
        msg = e.get("msg", "invalid")
        if e.get("type") == "extra_forbidden":
            msg = "unknown key (check the spelling against the documented keys)"
        problems.append(f"{source}: {loc}: {msg}")
    return problems


def validate(model: type[M], data: Any, source: str) -> M:
    """Validate ``data`` into ``model`` or raise ConfigError listing every problem."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ConfigError(source, format_errors(source, err)) from None


# ----------------------------------------------------------------------------------------------------------
# Sections of appliance.toml
# ----------------------------------------------------------------------------------------------------------


class SiteSection(Strict):
    name: str = "hospital"
    # How `retrain` under systemd unlocks: a passphrase file readable only by the appliance user.
    passphrase_file: str | None = None


class AuditSection(Strict):
    checkpoint_every: int = Field(default=100, ge=1, le=1_000_000)
    origin: str | None = None  # signed-note origin line; defaults to "appliance/<site.name>"
    anchor_dir: str | None = None  # where the newest signed tree head is mirrored (default /etc/appliance/anchor)


class KeysSection(Strict):
    kdf_target_ms: int = Field(default=500, ge=1, le=60_000)


class ScrubSection(Strict):
    """PHI scrubber settings (owned by appliance.scrub)."""

    spacy_model: str = "en_core_web_sm"  # package name or a directory path; never downloaded
    language: str = "en"
    score_threshold: float = Field(default=0.35, ge=0.0, le=1.0)
    disabled_recognizers: list[str] = []
    enabled_recognizers: list[str] = []  # empty = all registered
    allow_list: list[str] = []  # words never treated as PHI (drug names, abbreviations)
    deny_list: list[str] = []  # words always treated as PHI (e.g. local facility names)
    deny_by_type: dict[str, list[str]] = {}  # entity type -> words always treated as PHI of that type
    thresholds: dict[str, float] = {}  # entity type -> minimum score (overrides score_threshold)
    context_words: dict[str, list[str]] = {}  # entity type -> extra context words
    operators: dict[str, Literal["surrogate", "tag", "redact", "keep"]] = {}
    default_operator: Literal["surrogate", "tag", "redact", "keep"] = "surrogate"
    date_mode: Literal["shift", "year_only"] = "shift"
    date_shift_max_days: int = Field(default=365, ge=1, le=3650)
    workers: int = Field(default=2, ge=1, le=256)
    batch_size: int = Field(default=32, ge=1, le=4096)
    # run spaCy NER only on sentences with a capitalised word no rule explained (false: every whole note)
    gate_ner: bool = True
    # the clinical vocabulary veto (appliance/scrub/vocabulary.py): a name/place/facility detection made only of
    # clinical shorthand, drugs, units or vent/drip notation is dropped unless a strong cue (a title, a relative,
    # "name:") says it is PHI.  false keeps every detection: more of the corpus is replaced (over-scrubbing)
    clinical_veto: bool = True
    # the learned detector over the rules: "default" = the shipped model unless a site model is active
    # (appliance scrub models activate), "off" = the rules alone.  Off by default: under patient-grouped
    # cross-validation the shipped model raises precision on the PhysioNet notes but loses recall on the other
    # labelled sets, and a missed name is a breach; a site turns it on after `scrub eval --candidate`
    learned: Literal["default", "off"] = "off"


class VaultSection(Strict):
    """Vault and ingest settings (owned by appliance.vault and appliance.curate)."""

    chunk_size: int = Field(default=65536, ge=1024, le=16 * 1024 * 1024)  # AEAD chunk (plaintext bytes)
    jsonl_text_field: str = "text"
    csv_text_column: str = "text"
    # Column (CSV) / field (JSONL) names; text_column overrides the two above.  `vault ingest --text-column`
    # etc. override these per run.  Patient ids are stored only as a keyed hash; dates only as YYYY-MM.
    text_column: str | None = None
    id_column: str | None = None
    patient_column: str | None = None
    date_column: str | None = None
    max_file_bytes: int = Field(default=1 << 30, ge=1)
    max_record_chars: int = Field(default=200_000, ge=1)  # also bounds a line/field read (4 bytes per char)
    min_record_chars: int = Field(default=20, ge=0)
    max_symbol_ratio: float = Field(default=0.35, ge=0.0, le=1.0)
    max_repeated_line_ratio: float = Field(default=0.5, ge=0.0, le=1.0)
    min_latin_ratio: float = Field(default=0.5, ge=0.0, le=1.0)
    dedup_threshold: float = Field(default=0.8, gt=0.0, le=1.0)  # estimated Jaccard of word shingles
    # num_perm and shingle are fixed in the catalog at its first ingest (older signatures must stay comparable)
    dedup_num_perm: int = Field(default=128, ge=16, le=1024)
    dedup_shingle: int = Field(default=5, ge=1, le=32)
    batch_records: int = Field(default=500, ge=1)  # records per atomic commit (and per scrub call)


class GateSection(Strict):
    """Evaluation gate of `appliance retrain` and the probe sizes `appliance eval` uses (owned by evaluate)."""

    max_old_ppl_regression: float = Field(default=0.05, ge=0.0)  # relative, 0.05 = 5 % worse allowed
    min_new_ppl_improvement: float = Field(default=0.0)  # relative improvement required on new data
    max_phi_rate_increase: float = Field(default=0.0, ge=0.0)  # detections / 1k tokens
    # The PHI probe samples text, so a difference is counted only beyond this many standard errors of the
    # (Poisson) detection counts: a gate that rejects on sampling noise would block every retrain.
    phi_noise_sigmas: float = Field(default=2.0, ge=0.0)
    phi_samples: int = Field(default=16, ge=1, le=10_000)
    phi_tokens: int = Field(default=64, ge=1, le=4096)
    memorization_records: int = Field(default=32, ge=0)
    memorization_prefix_tokens: int = Field(default=32, ge=1)
    memorization_k: int = Field(default=16, ge=1)
    max_eval_records: int = Field(default=256, ge=1)  # per evaluated set (stable sample by record-id hash)
    seed: int = 0


class RetrainSection(Strict):
    replay_fraction: float = Field(default=0.25, ge=0.0, lt=1.0)  # share of the training mix from old records
    lr_rewarm_fraction: float = Field(default=0.5, gt=0.0, le=1.0)  # of the original peak lr
    schedule: Literal["cosine", "wsd"] = "cosine"
    warmup_fraction: float = Field(default=0.1, ge=0.0, lt=1.0)  # share of steps spent re-warming
    max_steps: int | None = Field(default=None, ge=1)  # default: the champion's recipe's max_steps
    recipe: str | None = None  # a recipe path; defaults to the champion's recipe
    gate: GateSection = GateSection()


class ScrubWaiver(Strict):
    """One explicit, audited exception to "every PHI type is scrubbed at ingest" (``[[waiver.scrub]]``).

    ``types`` names the Safe Harbor types that may be stored unscrubbed (``keep`` operator, or no enabled
    recognizer / a threshold of 1.0 for them); ``"*"`` waives all.  ``reason`` is kept in every ingest entry.
    """

    types: list[str] = Field(min_length=1)
    reason: str = Field(min_length=10, max_length=500)
    approved_by: str | None = None


class WaiverSection(Strict):
    """Policy waivers; each one is listed by `config check` and recorded in the audit log where it applies."""

    scrub: list[ScrubWaiver] = []


class SiteConfig(Strict):
    site: SiteSection = SiteSection()
    audit: AuditSection = AuditSection()
    keys: KeysSection = KeysSection()
    scrub: ScrubSection = ScrubSection()
    vault: VaultSection = VaultSection()
    retrain: RetrainSection = RetrainSection()
    waiver: WaiverSection = WaiverSection()


def load_site_config(path: Path) -> SiteConfig:
    """Read and validate ``appliance.toml``; a missing file means all defaults."""
    if not path.exists():
        return SiteConfig()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(str(path), [f"{path}: not valid TOML: {e}"]) from None
    return validate(SiteConfig, data, str(path))


DEFAULT_TOML = """\
# appliance site configuration. Every key is optional; unknown keys are errors.
[site]
name = "hospital"

[audit]
checkpoint_every = 100      # write a signed checkpoint every N entries (and on every export)

[scrub]
spacy_model = "en_core_web_sm"   # spaCy package name or a directory; never downloaded
default_operator = "surrogate"    # surrogate | tag | redact | keep
date_mode = "shift"               # shift | year_only
clinical_veto = true              # clinical vocabulary is never a name or place unless a strong cue says so

[vault]
dedup_threshold = 0.8

[retrain]
replay_fraction = 0.25
"""
