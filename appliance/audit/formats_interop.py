"""Audit export formats for other tools: FHIR R4 AuditEvent (IHE BALP patterns) and RFC 5424 syslog.

Both are lossless views of the signed entries: every field of an entry can be read back from a row, so
`appliance audit verify-export` proves each exported row against the entries in the sidecar evidence
(``FILE.evidence.json``), exactly as for csv/cef.

- ``fhir``: a FHIR R4 ``Bundle`` (type ``collection``) of ``AuditEvent`` resources.  ``type``/``subtype``
  follow IHE BALP and DICOM (DCM 110100 Application Activity, 110101 Audit Log Used, 110106 Export,
  110107 Import, 110110 Patient Record, 110113 Security Alert, 110114 User Authentication) plus ISO 21089
  lifecycle events; the appliance action itself is a subtype coding in ``urn:appliance:audit-action``.
  ``agent`` is the OS user (requestor) and the appliance process; ``source.observer`` the host;
  ``entity`` the audit entry (hash, seq, prev, pid, object as canonical JSON) and one entity per id named in
  the object (records, batches, versions, artifacts): identifiers only, never content.
- ``syslog``: one RFC 5424 line per entry, facility 13 (log audit), severity from the outcome, MSGID the
  action (cut to 32 characters), structured data ``[audit@32473 …]`` carrying every field and
  ``[object@32473 …]`` the object's scalar values for SIEM field extraction.  32473 is the private
  enterprise number reserved for documentation (RFC 5612); a site with its own PEN can change ``SD_PEN``.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC
from pathlib import Path
from typing import Any

from appliance._internal.atomic import atomic_write
from appliance._internal.hashing import canonical_json
from appliance.audit.export import Evidence, ExportFormat, register_format
from appliance.errors import IntegrityError

# -- FHIR R4 AuditEvent ---------------------------------------------------------------------------------------

DCM = "http://dicom.nema.org/resources/ontology/DCM"
LIFECYCLE = "http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle"
ACTION_SYSTEM = "urn:appliance:audit-action"
ENTRY_SYSTEM = "urn:appliance:audit-entry"
USER_SYSTEM = "urn:appliance:os-user"
HOST_SYSTEM = "urn:appliance:host"
SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
ROLE_TYPE = "http://terminology.hl7.org/CodeSystem/extra-security-role-type"

_DCM_DISPLAY = {
    "110100": "Application Activity",
    "110101": "Audit Log Used",
    "110106": "Export",
    "110107": "Import",
    "110110": "Patient Record",
    "110113": "Security Alert",
    "110114": "User Authentication",
    "110122": "Login",
    "110129": "Security Configuration",
    "110131": "Software Configuration",
    "110150": "Application",
}

# action (exact or prefix) -> (DCM type, DCM subtype or None, ISO 21089 lifecycle codes, FHIR action code)
_EVENT_MAP: tuple[tuple[str, str, str | None, tuple[str, ...], str], ...] = (
    ("keys.unlock", "110114", "110122", (), "E"),
    ("keys", "110113", "110129", (), "U"),
    ("audit.note", "110100", None, ("attest",), "C"),
    ("audit.repair", "110113", None, ("restore",), "U"),
    ("audit.export", "110101", None, ("disclose",), "R"),
    ("audit", "110101", None, ("access",), "R"),
    ("report", "110101", None, ("report",), "R"),
    ("vault.ingest", "110107", None, ("receive", "deidentify", "encrypt"), "C"),
    ("vault.show", "110110", None, ("access",), "R"),
    ("vault.export", "110106", None, ("extract", "disclose"), "R"),
    ("vault.shred", "110110", None, ("destroy",), "D"),
    ("vault.rotate", "110113", "110129", ("encrypt",), "U"),
    ("vault.verify", "110100", None, ("verify",), "E"),
    ("vault", "110100", None, ("access",), "R"),
    ("train", "110100", None, ("transform",), "E"),
    ("retrain", "110100", None, ("transform",), "E"),
    ("eval", "110100", None, ("verify",), "E"),
    ("evaluate", "110100", None, ("verify",), "E"),
    ("models.import", "110107", None, ("receive",), "C"),
    ("models", "110100", None, (), "U"),
    ("export", "110106", None, ("transform",), "C"),
    ("sign", "110100", None, ("attest",), "E"),
    ("verify", "110100", None, ("verify",), "E"),
    ("bundle", "110113", "110131", (), "E"),
    ("upgrade", "110113", "110131", (), "U"),
    ("install", "110113", "110131", (), "C"),
    ("harden", "110113", "110129", (), "E"),
)

# Object keys whose values are identifiers worth their own entity (anything else stays in the entry's JSON).
_ID_KEYS = {
    "record",
    "record_id",
    "records",
    "batch",
    "batch_id",
    "source",
    "version",
    "model",
    "parent",
    "champion",
    "candidate",
    "artifact",
    "artifact_id",
    "run",
    "slot",
    "signing_key",
    "kek",
    "kek_id",
    "versions",
    "batch_ids",
    "record_ids",
}
_FHIR_ID_RE = re.compile(r"[^A-Za-z0-9\-.]")
_MAX_ID_ENTITIES = 50


def _event_codes(action: str) -> tuple[str, str | None, tuple[str, ...], str]:
    for prefix, typ, sub, life, act in _EVENT_MAP:
        if action == prefix or action.startswith(prefix + "."):
            return typ, sub, life, act
    return "110100", None, (), "E"


def _outcome_code(outcome: str) -> str:
    """FHIR R4 AuditEventOutcome: 0 success, 4 minor failure, 8 serious failure, 12 major failure."""
    if outcome == "ok":
        return "0"
    if outcome in ("refused", "denied", "rejected", "skipped"):
        return "4"
    if outcome in ("tampered", "integrity"):
        return "12"
    return "8"


def _coding(system: str, code: str, display: str | None = None) -> dict:
    c = {"system": system, "code": code}
    if display:
        c["display"] = display
    return c


def _id_entities(obj: dict) -> list[dict]:
    """One entity per identifier named in the object (``records: [..]`` → ``urn:appliance:record`` each)."""
    out = []
    for key, value in obj.items():
        if not (key in _ID_KEYS or key.endswith(("_id", "_ids"))):
            continue
        many = isinstance(value, list)
        system = f"urn:appliance:{key[:-1] if many and key.endswith('s') else key}"
        for v in value if many else [value]:
            if isinstance(v, (str, int)) and not isinstance(v, bool) and str(v):
                out.append(
                    {
                        "what": {"identifier": {"system": system, "value": str(v)}},
                        "type": _coding(ENTITY_TYPE, "2", "System Object"),
                    }
                )
            if len(out) >= _MAX_ID_ENTITIES:
                return out
    return out


def audit_event(entry: dict, site: str | None = None) -> dict:
    """One audit entry as a FHIR R4 AuditEvent (ids and counts only, as in the entry)."""
    action = entry["action"]
    typ, sub, life, act = _event_codes(action)
    subtype = [_coding(ACTION_SYSTEM, action)]
    if sub:
        subtype.append(_coding(DCM, sub, _DCM_DISPLAY[sub]))
    subtype += [_coding(LIFECYCLE, c) for c in life]
    obj = entry.get("object") or {}
    entity = [
        {
            "what": {"identifier": {"system": ENTRY_SYSTEM, "value": entry["hash"]}},
            "type": _coding(ENTITY_TYPE, "2", "System Object"),
            "role": _coding(OBJECT_ROLE, "13", "Security Resource"),
            "detail": [
                {"type": "seq", "valueString": str(entry["seq"])},
                {"type": "prev", "valueString": entry["prev"]},
                {"type": "pid", "valueString": str(entry["pid"])},
                {"type": "object", "valueString": canonical_json(obj).decode("utf-8")},
            ],
        }
    ]
    entity += _id_entities(obj)
    source: dict[str, Any] = {
        "observer": {
            "identifier": {"system": HOST_SYSTEM, "value": entry["host"]},
            "display": f"appliance on {entry['host']}",
        },
        "type": [_coding(SOURCE_TYPE, "4", "Application Server")],
    }
    if site:
        source["site"] = site
    return {
        "resourceType": "AuditEvent",
        "id": _FHIR_ID_RE.sub("-", f"appliance-{entry['seq']}-{entry['hash'][:16]}")[:64],
        "type": _coding(DCM, typ, _DCM_DISPLAY[typ]),
        "subtype": subtype,
        "action": act,
        "recorded": entry["ts"],
        "outcome": _outcome_code(entry["outcome"]),
        "outcomeDesc": entry["outcome"],
        "agent": [
            {
                "type": {"coding": [_coding(ROLE_TYPE, "humanuser", "human user")]},
                "who": {
                    "identifier": {"system": USER_SYSTEM, "value": entry["actor"]},
                    "display": entry["actor"],
                },
                "requestor": True,
                "network": {"address": entry["host"], "type": "1"},
            },
            {
                "type": {"coding": [_coding(DCM, "110150", "Application")]},
                "who": {
                    "identifier": {
                        "system": "urn:appliance:process",
                        "value": f"{entry['host']}/{entry['pid']}",
                    },
                    "display": "appliance",
                },
                "requestor": False,
            },
        ],
        "source": source,
        "entity": entity,
    }


def _site(ev: Evidence) -> str | None:
    first = ev.checkpoint.split("\n", 1)[0].strip()
    return first or None


def fhir_bundle(ev: Evidence) -> dict:
    """The export as a FHIR R4 Bundle of type ``collection``."""
    from datetime import datetime

    site = _site(ev)
    entries = []
    for e in ev.entries:
        res = audit_event(e, site)
        entries.append(
            {
                "fullUrl": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, ENTRY_SYSTEM + ':' + e['hash'])}",
                "resource": res,
            }
        )
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "entry": entries,
    }


def _fhir_write(path: Path, ev: Evidence) -> None:
    bundle = fhir_bundle(ev)
    atomic_write(path, json.dumps(bundle, indent=1, ensure_ascii=False) + "\n", mode=0o600)


def _detail(entity: dict, name: str) -> str:
    for d in entity.get("detail") or []:
        if d.get("type") == name:
            return d["valueString"]
    raise KeyError(name)


def _fhir_row(res: dict) -> dict:
    """Read an AuditEvent back into the entry fields it carries (for verify-export)."""
    ent = next(x for x in res["entity"] if x["what"]["identifier"]["system"] == ENTRY_SYSTEM)
    requestor = next(a for a in res["agent"] if a.get("requestor") is True)
    action = next(c["code"] for c in res["subtype"] if c.get("system") == ACTION_SYSTEM)
    return {
        "seq": int(_detail(ent, "seq")),
        "ts": res["recorded"],
        "actor": requestor["who"]["identifier"]["value"],
        "host": res["source"]["observer"]["identifier"]["value"],
        "pid": int(_detail(ent, "pid")),
        "action": action,
        "object": json.loads(_detail(ent, "object")),
        "outcome": res["outcomeDesc"],
        "prev": _detail(ent, "prev"),
        "hash": ent["what"]["identifier"]["value"],
    }


def _fhir_read(path: Path) -> list[dict]:
    try:
        bundle = json.loads(Path(path).read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise IntegrityError(f"{Path(path).name}: not a FHIR JSON document") from None
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise IntegrityError(f"{Path(path).name}: not a FHIR Bundle")
    rows = []
    for i, item in enumerate(bundle.get("entry") or [], 1):
        res = item.get("resource") if isinstance(item, dict) else None
        if not isinstance(res, dict) or res.get("resourceType") != "AuditEvent":
            raise IntegrityError(f"{Path(path).name}: bundle entry {i} is not an AuditEvent")
        try:
            rows.append(_fhir_row(res))
        except (KeyError, StopIteration, TypeError, ValueError):
            raise IntegrityError(
                f"{Path(path).name}: AuditEvent {i} lacks the appliance entry fields"
            ) from None
    return rows


# -- RFC 5424 syslog ------------------------------------------------------------------------------------------

FACILITY = 13  # log audit
SD_PEN = 32473  # RFC 5612 documentation PEN
APP_NAME = "appliance"
_SEVERITY = {"ok": 6, "refused": 4, "denied": 4, "skipped": 5}
_FIELDS = ("seq", "actor", "host", "pid", "action", "outcome", "prev", "hash", "object")
_PRINTUSASCII = re.compile(r"[^\x21-\x7e]")
_PARAM_NAME_BAD = re.compile(r"[^\x21-\x7e]|[=\]\"]")


def _header_token(value: str, maxlen: int) -> str:
    """A HOSTNAME/APP-NAME/PROCID/MSGID token: printable US-ASCII, no spaces, bounded, '-' when empty."""
    s = _PRINTUSASCII.sub("_", value)[:maxlen]
    return s or "-"


def _sd_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _sd_unescape(value: str) -> str:
    return re.sub(r'\\([\\"\]])', r"\1", value)


def _severity(outcome: str) -> int:
    return _SEVERITY.get(outcome, 3)


def syslog_line(entry: dict) -> str:
    """One entry as an RFC 5424 message (no trailing newline)."""
    pri = FACILITY * 8 + _severity(entry["outcome"])
    params = {
        "seq": str(entry["seq"]),
        "actor": entry["actor"],
        "host": entry["host"],
        "pid": str(entry["pid"]),
        "action": entry["action"],
        "outcome": entry["outcome"],
        "prev": entry["prev"],
        "hash": entry["hash"],
        "object": canonical_json(entry.get("object") or {}).decode("utf-8"),
    }
    sd = f"[audit@{SD_PEN}" + "".join(f' {k}="{_sd_escape(v)}"' for k, v in params.items()) + "]"
    scalars = []
    for k, v in (entry.get("object") or {}).items():
        name = _PARAM_NAME_BAD.sub("_", k)[:32]
        if name and isinstance(v, (str, int, float, bool)) and not isinstance(v, bool):
            scalars.append(f' {name}="{_sd_escape(str(v))}"')
    if scalars:
        sd += f"[object@{SD_PEN}" + "".join(scalars) + "]"
    header = " ".join(
        (
            f"<{pri}>1",
            entry["ts"],
            _header_token(entry["host"], 255),
            APP_NAME,
            _header_token(str(entry["pid"]), 128),
            _header_token(entry["action"], 32),
        )
    )
    msg = f"{entry['actor']} {entry['action']} {entry['outcome']}"
    return f"{header} {sd} {msg}"


# RFC 5424 section 6: HEADER SP STRUCTURED-DATA [SP MSG]
SYSLOG_RE = re.compile(
    r"^<(?P<pri>\d{1,3})>(?P<version>[1-9]\d{0,2}) "
    r"(?P<timestamp>-|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})) "
    r"(?P<hostname>[\x21-\x7e]{1,255}) (?P<appname>[\x21-\x7e]{1,48}) (?P<procid>[\x21-\x7e]{1,128}) "
    r"(?P<msgid>[\x21-\x7e]{1,32}) "
    r"(?P<sd>-|(?:\[[^\s=\]\"]{1,32}(?: [^\s=\]\"]{1,32}=\"(?:[^\"\\\]]|\\[\"\\\]])*\")*\])+)"
    r"(?: (?P<msg>.*))?$",
    re.DOTALL,
)
_SD_ELEMENT_RE = re.compile(
    r"\[(?P<id>[^\s=\]\"]{1,32})(?P<params>(?: [^\s=\]\"]{1,32}=\"(?:[^\"\\\]]|\\[\"\\\]])*\")*)\]"
)
_SD_PARAM_RE = re.compile(r" (?P<name>[^\s=\]\"]{1,32})=\"(?P<value>(?:[^\"\\\]]|\\[\"\\\]])*)\"")


def parse_syslog(line: str) -> dict:
    """Parse an RFC 5424 line: header fields plus ``sd`` = {SD-ID: {param: value}}; ValueError if invalid."""
    m = SYSLOG_RE.match(line)
    if not m:
        raise ValueError("not an RFC 5424 message")
    out = m.groupdict()
    pri = int(out["pri"])
    if pri > 191:
        raise ValueError("PRI out of range")
    sd: dict[str, dict[str, str]] = {}
    if out["sd"] != "-":
        for el in _SD_ELEMENT_RE.finditer(out["sd"]):
            sd[el.group("id")] = {
                p.group("name"): _sd_unescape(p.group("value"))
                for p in _SD_PARAM_RE.finditer(el.group("params"))
            }
    out["sd"] = sd
    out["facility"], out["severity"] = divmod(pri, 8)
    return out


def _syslog_write(path: Path, ev: Evidence) -> None:
    atomic_write(path, "".join(syslog_line(e) + "\n" for e in ev.entries), mode=0o600)


def _syslog_read(path: Path) -> list[dict]:
    rows = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").split("\n"), 1):
        if not line:
            continue
        try:
            msg = parse_syslog(line)
            p = msg["sd"][f"audit@{SD_PEN}"]
            row = {k: p[k] for k in _FIELDS}
            row.update(
                seq=int(row["seq"]),
                pid=int(row["pid"]),
                object=json.loads(row["object"]),
                ts=msg["timestamp"],
            )
        except (ValueError, KeyError) as e:
            raise IntegrityError(
                f"{Path(path).name}: line {n} is not an appliance RFC 5424 record ({e})"
            ) from None
        rows.append(row)
    return rows


register_format(ExportFormat("fhir", _fhir_write, _fhir_read))
register_format(ExportFormat("syslog", _syslog_write, _syslog_read))
