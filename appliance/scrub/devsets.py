"""Converters from the two public development sets to the appliance's gold format.

Gold format, one JSON object per line: ``{"id", "text", "spans": [{"start", "end", "type"}]}``.  Dataset
labels are mapped onto Safe Harbor types; labels that are not Safe Harbor identifiers (organisations, job
titles, nationalities, countries and states, ages of 89 or less, bare years, weekdays, relative dates) keep a
``~`` prefix (``~ORGANIZATION``): the evaluator neither counts them as misses nor charges detections on them
as false positives.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from appliance.errors import InputError

_SYNTH_MAP = {
    "PERSON": "NAME",
    "STREET_ADDRESS": "LOCATION",
    "GPE": "LOCATION",
    "ZIP_CODE": "ZIP",
    "DATE_TIME": "DATE",
    "PHONE_NUMBER": "PHONE",
    "EMAIL_ADDRESS": "EMAIL",
    "CREDIT_CARD": "ACCOUNT",
    "IBAN_CODE": "ACCOUNT",
    "US_SSN": "SSN",
    "IP_ADDRESS": "IP_ADDRESS",
    "AGE": "AGE",
    "US_DRIVER_LICENSE": "LICENSE",
    "DOMAIN_NAME": "URL",
}
_ASQ_MAP = {
    "NAME": "NAME",
    "GEOGRAPHIC_LOCATION": "LOCATION",
    "DATE": "DATE",
    "UNIQUE_IDENTIFIER": "ID",
    "MEDICAL_RECORD_NUMBER": "MRN",
    "HEALTH_PLAN_BENEFICIARY_NUMBER": "HEALTH_PLAN",
    "ACCOUNT_NUMBER": "ACCOUNT",
    "CERTIFICATE_LICENSE_NUMBER": "LICENSE",
    "EMAIL_ADDRESS": "EMAIL",
    "FAX_NUMBER": "FAX",
    "PHONE_NUMBER": "PHONE",
    "SOCIAL_SECURITY_NUMBER": "SSN",
    "SSN": "SSN",
    "IP_ADDRESS": "IP_ADDRESS",
    "URL": "URL",
    "VEHICLE_IDENTIFIER": "VEHICLE",
    "DEVICE_IDENTIFIER": "DEVICE",
    "BIOMETRIC_IDENTIFIER": "BIOMETRIC",
}
_MONTH = re.compile(r"(?i)\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b")
_WEEKDAY = re.compile(r"(?i)^(?:last|next|this|on)?\s*(?:mon|tues|wednes|thurs|fri|satur|sun)day$")


def _date_is_phi(value: str) -> bool:
    """A date span is a Safe Harbor element only if it has more than a year: a month, a day, digits m/d."""
    v = value.strip()
    if re.fullmatch(r"(?:19|20)\d{2}s?|'\d{2}s?|the\s+\d{2,4}s", v, re.IGNORECASE):
        return False
    return bool(_MONTH.search(v) or re.search(r"\d{1,4}[-/.]\d{1,2}", v) or re.search(r"\d(?:st|nd|rd|th)\b", v))


def _geo_is_phi(value: str) -> bool:
    from appliance.scrub.lexicon import lexicon

    L = lexicon()
    v = value.strip().lower()
    return not (v in L.countries or v in L.states)


def convert_presidio_synth(src: Path) -> list[dict]:
    """presidio-research ``synth_dataset_v2.json`` → gold records."""
    try:
        data = json.loads(Path(src).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InputError(f"cannot read {src}: {e}", hint="pass presidio_synth_dataset_v2.json") from None
    out = []
    for i, rec in enumerate(data):
        spans = []
        for s in rec.get("spans", []):
            label = s["entity_type"]
            value = s.get("entity_value", rec["full_text"][s["start_position"] : s["end_position"]])
            t = _SYNTH_MAP.get(label)
            if t == "DATE" and not _date_is_phi(value) or t == "AGE" and not (value.strip().isdigit() and int(value) > 89) or t == "LOCATION" and label == "GPE" and not _geo_is_phi(value):
                t = None
            spans.append({"start": s["start_position"], "end": s["end_position"], "type": t or f"~{label}"})
        out.append({"id": f"synth-{i:05d}", "text": rec["full_text"], "spans": sorted(spans, key=lambda x: x["start"])})
    return out


def convert_asq_phi(src: Path) -> tuple[list[dict], list[str]]:
    """asq-phi ``synthetic_clinical_queries.txt`` → (gold records, values that could not be located)."""
    try:
        raw = Path(src).read_text(encoding="utf-8")
    except OSError as e:
        raise InputError(f"cannot read {src}: {e}", hint="pass asq_phi_synthetic_clinical_queries.txt") from None
    out, unlocated = [], []
    for i, block in enumerate(b for b in raw.split("===QUERY===") if b.strip()):
        query, _, tags = block.partition("===PHI_TAGS===")
        text = query.strip()
        spans = []
        for line in tags.strip().splitlines():
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                tag = json.loads(line)
            except ValueError:
                continue
            value, label = str(tag.get("value", "")), str(tag.get("identifier_type", ""))
            t = _ASQ_MAP.get(label, "ID")
            if t == "DATE" and not _date_is_phi(value) and not _WEEKDAY.match(value.strip()):
                t = f"~{label}"
            hits = [m.start() for m in re.finditer(re.escape(value), text)] or [
                m.start() for m in re.finditer(re.escape(value), text, re.IGNORECASE)
            ]
            if not hits:
                unlocated.append(value)
                continue
            spans += [{"start": h, "end": h + len(value), "type": t} for h in hits]
        out.append({"id": f"asq-{i:04d}", "text": text, "spans": sorted(spans, key=lambda x: x["start"])})
    return out, unlocated


_NOTE_HEAD = re.compile(r"^=== note: *(\S+) *===[ \t]*$", re.MULTILINE)
_MARK = re.compile(r"\[\[([~A-Z_]+):(.+?)\]\]", re.DOTALL)


def convert_markup(src: Path) -> list[dict]:
    """Notes hand-labelled inline: ``=== note: ID ===`` starts a note; PHI is written ``[[TYPE:value]]``.

    The way a site labels a few of its own notes to measure the scrubber on them (``scrub eval``).  Types are
    the Safe Harbor types (``NAME``, ``DATE`` …) or ``~LABEL`` for neutral text; an unknown type or an unclosed
    mark is an error naming the note and the line.
    """
    from appliance.scrub.types import SAFE_HARBOR_TYPES

    raw = Path(src).read_text(encoding="utf-8")
    heads = list(_NOTE_HEAD.finditer(raw))
    if not heads:
        raise InputError(f"{src}: no '=== note: ID ===' line found", hint="start every note with '=== note: ID ==='")
    out, seen = [], set()
    for i, h in enumerate(heads):
        nid = h.group(1)
        if nid in seen:
            raise InputError(f"{src}: note id {nid!r} appears twice", hint="give every note its own id")
        seen.add(nid)
        body = raw[h.end():heads[i + 1].start() if i + 1 < len(heads) else len(raw)].strip("\n")
        text, spans, pos = [], [], 0
        n = 0
        for m in _MARK.finditer(body):
            typ, value = m.group(1), m.group(2)
            line = raw.count("\n", 0, h.end()) + body.count("\n", 0, m.start()) + 2
            if typ == "~" or not typ.startswith("~") and typ not in SAFE_HARBOR_TYPES:
                raise InputError(f"{src}:{line}: note {nid}: unknown PHI type {typ!r}",
                                 hint="use one of " + ", ".join(SAFE_HARBOR_TYPES) + " or ~LABEL")
            text.append(body[pos:m.start()])
            n += len(body[pos:m.start()])
            spans.append({"start": n, "end": n + len(value), "type": typ})
            text.append(value)
            n += len(value)
            pos = m.end()
        text.append(body[pos:])
        plain = "".join(text)
        if "[[" in plain or "]]" in plain:
            line = raw.count("\n", 0, h.end()) + 1
            raise InputError(f"{src}: note {nid} (from line {line}): a '[[' or ']]' is not a complete [[TYPE:value]] mark",
                             hint="write PHI as [[TYPE:value]]")
        out.append({"id": nid, "text": plain, "spans": spans})
    return out


def write_gold(records: list[dict], dest: Path) -> None:
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with dest.open("w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def convert_devset(kind: str, src: Path, dest: Path) -> dict:
    """Convert a development set (``asq`` | ``presidio-synth`` | ``markup`` | ``physionet`` DIR) into gold JSONL at ``dest``."""
    if kind in ("asq", "asq-phi"):
        recs, unlocated = convert_asq_phi(src)
    elif kind in ("presidio-synth", "synth"):
        recs, unlocated = convert_presidio_synth(src), []
    elif kind == "markup":
        recs, unlocated = convert_markup(src), []
    elif kind == "physionet":
        from appliance.scrub.physionet import convert_physionet

        recs, unlocated = convert_physionet(src), []
    else:
        raise InputError(f"unknown dev set {kind!r}", hint="use asq, presidio-synth, markup or physionet")
    write_gold(recs, dest)
    spans = [s for r in recs for s in r["spans"]]
    return {
        "records": len(recs),
        "spans": len(spans),
        "safe_harbor_spans": sum(1 for s in spans if not s["type"].startswith("~")),
        "unlocated_values": len(unlocated),
        "out": str(dest),
    }
