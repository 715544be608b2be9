"""Audit exports that verify on another machine: entries + a fresh signed checkpoint + inclusion proofs.

An export always writes a new checkpoint first, then carries the evidence: the signed note, the signer's
public key (PEM), the exported entries in canonical form and one RFC 6962 inclusion proof per entry
(leaf index = seq) against that checkpoint.  ``jsonl`` embeds the evidence (a header line, then
``{"entry", "proof"}`` per line); other formats write the rows a SIEM wants and a ``FILE.evidence.json``
sidecar, and :func:`verify_export` checks every row against the proven entries.

Formats are pluggable: :data:`FORMATS` maps a name to an :class:`ExportFormat` (``write`` the file from
the evidence, ``read`` its rows back as partial entries); add one with :func:`register_format`.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from appliance import __version__
from appliance._internal import crypto
from appliance._internal.atomic import atomic_write
from appliance._internal.hashing import canonical_json, sha256_file
from appliance.audit import log, merkle
from appliance.audit.checkpoint import verify_note, write_for_home
from appliance.errors import InputError, IntegrityError, UsageError
from appliance.home import Home

EXPORT_TYPE = "appliance.audit.export"
EVIDENCE_TYPE = "appliance.audit.evidence"
EVIDENCE_SUFFIX = ".evidence.json"


@dataclass
class Evidence:
    """What proves an export: the signed checkpoint, its key, the entries and their inclusion proofs."""

    format: str
    checkpoint: str  # signed note text
    public_key: str  # PEM of the key that signed it
    entries: list[dict]
    proofs: list[list[str]]  # hex node hashes, one list per entry
    since: str | None = None
    until: str | None = None
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "type": EVIDENCE_TYPE,
            "version": 1,
            "format": self.format,
            "checkpoint": self.checkpoint,
            "public_key": self.public_key,
            "since": self.since,
            "until": self.until,
            "entries": self.entries,
            "proofs": self.proofs,
        } | self.extra

    @classmethod
    def from_dict(cls, d: dict, source: str) -> Evidence:
        try:
            if d.get("type") not in (EVIDENCE_TYPE, EXPORT_TYPE):
                raise KeyError("type")
            return cls(
                format=str(d["format"]),
                checkpoint=str(d["checkpoint"]),
                public_key=str(d["public_key"]),
                entries=list(d["entries"]),
                proofs=[list(p) for p in d["proofs"]],
                since=d.get("since"),
                until=d.get("until"),
            )
        except (KeyError, TypeError) as e:
            raise IntegrityError(f"{source}: evidence is incomplete ({e})", hint="re-export from the site") from None


@dataclass(frozen=True)
class ExportFormat:
    """``write(path, evidence)`` writes the export; ``read(path)`` returns its rows as (partial) entries,
    each with at least ``seq`` and ``hash``.  ``read_evidence`` is set when the file embeds its evidence."""

    name: str
    write: Callable[[Path, Evidence], None]
    read: Callable[[Path], list[dict]]
    read_evidence: Callable[[Path], Evidence] | None = None


FORMATS: dict[str, ExportFormat] = {}


def register_format(fmt: ExportFormat) -> None:
    """Add (or replace) an export format; `appliance audit export --format NAME` picks it up."""
    FORMATS[fmt.name] = fmt


# -- time filters ---------------------------------------------------------------------------------------------


def parse_time(text: str | datetime | None, *, end: bool = False) -> datetime | None:
    """ISO date or date-time (naive = UTC).  A bare date as an ``until`` bound means the end of that day."""
    if text is None or text == "":
        return None
    if isinstance(text, datetime):
        return text.replace(tzinfo=UTC) if text.tzinfo is None else text.astimezone(UTC)
    s = text.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
            d = datetime.fromisoformat(s).replace(tzinfo=UTC)
            return d + timedelta(days=1) if end else d
        d = datetime.fromisoformat(s)
    except ValueError:
        raise UsageError(f"cannot read time {text!r}", hint="use ISO 8601, e.g. 2026-01-31 or 2026-01-31T08:00:00Z") from None
    return d.replace(tzinfo=UTC) if d.tzinfo is None else d.astimezone(UTC)


def in_range(entry: dict, since: datetime | None, until: datetime | None) -> bool:
    """``since`` inclusive, ``until`` exclusive."""
    if since is None and until is None:
        return True
    ts = parse_time(entry.get("ts"))
    return (since is None or ts >= since) and (until is None or ts < until)


# -- export ---------------------------------------------------------------------------------------------------


def export(
    home: Home, fmt: str, out: Path, since: str | None = None, until: str | None = None, signer: Any = None
) -> dict:
    """Checkpoint the log, then write the entries in [since, until) as ``fmt`` with their evidence."""
    from appliance._internal.locks import file_lock
    from appliance.audit import record

    if fmt not in FORMATS:
        raise UsageError(f"unknown export format {fmt!r}", hint=f"choose one of: {', '.join(sorted(FORMATS))}")
    if signer is None:
        raise UsageError("an export signs a checkpoint and needs the unlocked site key", hint="pass --passphrase-file")
    lo, hi = parse_time(since), parse_time(until, end=True)
    out = Path(out)
    log.ensure_dirs(home)
    with file_lock(home.audit_lock_path):
        cp_path, cp = write_for_home(home, signer)
        leaves: list[bytes] = []
        chosen: list[dict] = []
        for _off, line in log.iter_lines(home.audit_log_path):
            if len(leaves) == cp.size:
                break
            entry = log.parse_line(line, len(leaves))
            leaves.append(log.entry_leaf(entry))
            if in_range(entry, lo, hi):
                chosen.append(entry)
    tree = merkle.MerkleTree(leaves)
    if tree.root != cp.root:
        raise IntegrityError(
            "the log changed since its last checkpoint in a way the new checkpoint does not cover",
            hint="appliance audit verify",
        )
    ev = Evidence(
        format=fmt,
        checkpoint=cp_path.read_text(encoding="utf-8"),
        public_key=signer.public_pem.decode("ascii"),
        entries=chosen,
        proofs=[[h.hex() for h in tree.inclusion_proof(e["seq"])] for e in chosen],
        since=since,
        until=until,
    )
    FORMATS[fmt].write(out, ev)
    evidence_path = None
    if FORMATS[fmt].read_evidence is None:
        evidence_path = Path(str(out) + EVIDENCE_SUFFIX)
        atomic_write(evidence_path, json.dumps(ev.to_dict(), indent=1, ensure_ascii=False), mode=0o600)
    digest = sha256_file(out)
    record(
        home,
        "audit.export",
        {"format": fmt, "entries": len(chosen), "tree_size": cp.size, "sha256": digest},
        signer=signer,
    )
    return {
        "file": str(out),
        "evidence": str(evidence_path) if evidence_path else None,
        "format": fmt,
        "entries": len(chosen),
        "tree_size": cp.size,
        "root": cp.root.hex(),
        "checkpoint": str(cp_path),
        "sha256": digest,
        "key_fingerprint": signer.key_id,
    }


# -- verify an export (no home needed) -------------------------------------------------------------------------


def _load_evidence(path: Path) -> tuple[ExportFormat, Evidence]:
    side = Path(str(path) + EVIDENCE_SUFFIX)
    if side.is_file():
        try:
            doc = json.loads(side.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise IntegrityError(f"{side}: not valid JSON", hint="re-export from the site") from None
        ev = Evidence.from_dict(doc if isinstance(doc, dict) else {}, str(side))
        if ev.format not in FORMATS:
            raise UsageError(f"{side}: unknown export format {ev.format!r}")
        return FORMATS[ev.format], ev
    for fmt in FORMATS.values():
        if fmt.read_evidence is not None:
            try:
                return fmt, fmt.read_evidence(path)
            except _NotThisFormat:
                continue
    raise InputError(
        f"{path}: no export evidence found (no {side.name} beside it, and not a jsonl export)",
        hint="copy the .evidence.json file that `appliance audit export` wrote next to the export",
    )


class _NotThisFormat(Exception):
    pass


def verify_export(path: Path, public_key_pem: bytes | None = None) -> dict:
    """Check an export anywhere: checkpoint signature, every entry's hash and inclusion proof, every row.

    ``public_key_pem`` pins the site key (recommended); otherwise the key embedded in the export is used
    and its fingerprint is reported, to be compared with the one the site publishes.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such export file: {path}", hint="check the path")
    fmt, ev = _load_evidence(path)
    try:
        pinned = public_key_pem is not None
        pub = crypto.load_public_pem(public_key_pem if pinned else ev.public_key.encode("ascii"))
    except ValueError as e:
        raise InputError(f"cannot load the public key: {e}", hint="pass the site's signing.pub.pem") from None
    fp = crypto.fingerprint(pub)
    cp, _ = verify_note(ev.checkpoint, {fp: pub}, source=f"{path.name}: checkpoint")
    if len(ev.proofs) != len(ev.entries):
        raise IntegrityError(f"{path.name}: {len(ev.entries)} entries but {len(ev.proofs)} proofs")
    last = None
    for entry, proof in zip(ev.entries, ev.proofs):
        seq = entry.get("seq") if isinstance(entry, dict) else None
        problem = log.field_problem(entry) if isinstance(entry, dict) else "not an object"
        if problem:
            raise IntegrityError(f"{path.name}: exported entry seq {seq}: {problem}")
        if entry.get("hash") != log.entry_hash(entry):
            raise IntegrityError(f"{path.name}: exported entry seq {seq}: hash does not match its contents")
        if last is not None and seq <= last["seq"]:
            raise IntegrityError(f"{path.name}: exported entry seq {seq}: out of order")
        if last is not None and seq == last["seq"] + 1 and entry.get("prev") != last["hash"]:
            raise IntegrityError(f"{path.name}: exported entry seq {seq}: prev does not match seq {seq - 1}")
        try:
            nodes = [bytes.fromhex(h) for h in proof]
        except (ValueError, TypeError):
            raise IntegrityError(f"{path.name}: exported entry seq {seq}: malformed proof") from None
        if not merkle.verify_inclusion(log.entry_leaf(entry), seq, cp.size, nodes, cp.root):
            raise IntegrityError(
                f"{path.name}: exported entry seq {seq}: not in the signed log (inclusion proof fails)",
                hint="the export was altered after it was written; ask the site for a fresh export",
            )
        last = entry
    rows = fmt.read(path)
    if len(rows) != len(ev.entries):
        raise IntegrityError(f"{path.name}: {len(rows)} rows but the evidence proves {len(ev.entries)} entries")
    for i, (row, entry) in enumerate(zip(rows, ev.entries)):
        if "seq" not in row or "hash" not in row:
            raise IntegrityError(f"{path.name}: row {i + 1} lacks seq/hash")
        for k, v in row.items():
            if entry.get(k) != v:
                raise IntegrityError(
                    f"{path.name}: row {i + 1} (seq {entry['seq']}): {k} differs from the signed entry (altered)",
                    hint="the export was altered after it was written; ask the site for a fresh export",
                )
    return {
        "file": str(path),
        "format": fmt.name,
        "entries": len(ev.entries),
        "first_seq": ev.entries[0]["seq"] if ev.entries else None,
        "last_seq": ev.entries[-1]["seq"] if ev.entries else None,
        "tree_size": cp.size,
        "root": cp.root.hex(),
        "origin": cp.origin,
        "key_fingerprint": fp,
        "key_pinned": pinned,
        "verified": True,
    }


# -- jsonl ----------------------------------------------------------------------------------------------------


def _jsonl_write(path: Path, ev: Evidence) -> None:
    header = {k: v for k, v in ev.to_dict().items() if k not in ("entries", "proofs")}
    header["type"] = EXPORT_TYPE
    header["count"] = len(ev.entries)
    buf = io.BytesIO()
    buf.write(canonical_json(header) + b"\n")
    for entry, proof in zip(ev.entries, ev.proofs):
        buf.write(canonical_json({"entry": entry, "proof": proof}) + b"\n")
    atomic_write(path, buf.getvalue(), mode=0o600)


def _jsonl_lines(path: Path) -> list[Any]:
    try:
        return [json.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
    except (ValueError, UnicodeDecodeError):
        raise _NotThisFormat() from None


def _jsonl_read_evidence(path: Path) -> Evidence:
    lines = _jsonl_lines(path)
    if not lines or not isinstance(lines[0], dict) or lines[0].get("type") != EXPORT_TYPE:
        raise _NotThisFormat()
    body = lines[1:]
    if any(not isinstance(x, dict) or "entry" not in x or "proof" not in x for x in body):
        raise IntegrityError(f"{path.name}: a line is not an {{entry, proof}} object")
    if lines[0].get("count") != len(body):
        raise IntegrityError(f"{path.name}: header says {lines[0].get('count')} entries, file has {len(body)}")
    return Evidence.from_dict(
        lines[0] | {"entries": [x["entry"] for x in body], "proofs": [x["proof"] for x in body]}, str(path)
    )


def _jsonl_read(path: Path) -> list[dict]:
    return [x["entry"] for x in _jsonl_lines(path)[1:]]


# -- csv ------------------------------------------------------------------------------------------------------

_CSV_FIELDS = log.FIELDS


def _csv_write(path: Path, ev: Evidence) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(_CSV_FIELDS)
    for e in ev.entries:
        w.writerow([canonical_json(e[k]).decode() if k == "object" else e[k] for k in _CSV_FIELDS])
    atomic_write(path, buf.getvalue(), mode=0o600)


def _csv_read(path: Path) -> list[dict]:
    rows = []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != _CSV_FIELDS:
            raise IntegrityError(f"{path.name}: unexpected CSV columns {reader.fieldnames}")
        for r in reader:
            try:
                rows.append(r | {"seq": int(r["seq"]), "pid": int(r["pid"]), "object": json.loads(r["object"])})
            except (ValueError, TypeError):
                raise IntegrityError(f"{path.name}: row {reader.line_num} is malformed") from None
    return rows


# -- CEF (ArcSight Common Event Format) -----------------------------------------------------------------------

_CEF_EXT = (  # CEF key -> entry field
    ("externalId", "seq"),
    ("rt", None),  # derived from ts, for SIEM time lines; ts itself travels in cs4
    ("suser", "actor"),
    ("shost", "host"),
    ("dvcpid", "pid"),
    ("act", "action"),
    ("outcome", "outcome"),
    ("cs1Label", None),
    ("cs1", "object"),
    ("cs2Label", None),
    ("cs2", "hash"),
    ("cs3Label", None),
    ("cs3", "prev"),
    ("cs4Label", None),
    ("cs4", "ts"),
)
_CEF_LABELS = {"cs1Label": "object", "cs2Label": "entryHash", "cs3Label": "prevHash", "cs4Label": "timestamp"}


def _cef_header_escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace("|", "\\|")


def _cef_ext_escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace("=", "\\=").replace("\n", "\\n").replace("\r", "\\r")


def _cef_ext_unescape(s: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "r": "\r"}.get(m.group(1), m.group(1)), s)


def _cef_line(e: dict) -> str:
    severity = 3 if e["outcome"] == "ok" else 7
    ts = parse_time(e["ts"])
    values = {
        "externalId": str(e["seq"]),
        "rt": str(int(ts.timestamp() * 1000)),
        "suser": e["actor"],
        "shost": e["host"],
        "dvcpid": str(e["pid"]),
        "act": e["action"],
        "outcome": e["outcome"],
        "cs1": canonical_json(e["object"]).decode(),
        "cs2": e["hash"],
        "cs3": e["prev"],
        "cs4": e["ts"],
    } | _CEF_LABELS
    head = "CEF:0|" + "|".join(
        _cef_header_escape(x) for x in ("appliance", "appliance", __version__, e["action"], e["action"], str(severity))
    )
    ext = " ".join(f"{k}={_cef_ext_escape(values[k])}" for k, _ in _CEF_EXT)
    return f"{head}|{ext}"


def _cef_parse_ext(ext: str) -> dict[str, str]:
    out = {}
    for m in re.finditer(r"(\w+)=((?:\\.|[^\\])*?)(?=\s+\w+=|$)", ext):
        out[m.group(1)] = _cef_ext_unescape(m.group(2))
    return out


def _cef_write(path: Path, ev: Evidence) -> None:
    atomic_write(path, "".join(_cef_line(e) + "\n" for e in ev.entries), mode=0o600)


def _cef_read(path: Path) -> list[dict]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        parts = re.split(r"(?<!\\)\|", line, maxsplit=7)
        if len(parts) != 8 or parts[0] != "CEF:0":
            raise IntegrityError(f"{path.name}: line {n} is not a CEF:0 record")
        ext = _cef_parse_ext(parts[7])
        try:
            row = {field: ext[key] for key, field in _CEF_EXT if field}
            row["seq"] = int(row["seq"])
            row["pid"] = int(row["pid"])
            row["object"] = json.loads(row["object"])
        except (KeyError, ValueError) as e:
            raise IntegrityError(f"{path.name}: line {n}: malformed CEF extension ({e})") from None
        if parts[4] != _cef_header_escape(row["action"]):
            raise IntegrityError(f"{path.name}: line {n}: header action differs from act=")
        rows.append(row)
    return rows


register_format(ExportFormat("jsonl", _jsonl_write, _jsonl_read, _jsonl_read_evidence))
register_format(ExportFormat("csv", _csv_write, _csv_read))
register_format(ExportFormat("cef", _cef_write, _cef_read))


def iter_formats() -> Iterable[str]:
    return sorted(FORMATS)

# FHIR AuditEvent and RFC 5424 syslog live in their own module and register themselves here.
from appliance.audit import formats_interop as _formats_interop  # noqa: F401
