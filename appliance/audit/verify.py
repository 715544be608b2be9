"""Verification of a home's audit log: chain, sequence, Merkle roots at every signed checkpoint.

One streaming pass over the log (O(log n) memory): each line must parse, carry exactly the entry fields,
hash to its ``hash``, have ``seq`` equal to its position and ``prev`` equal to the previous hash.  The
compact Merkle range is compared with every checkpoint under ``audit/checkpoints`` (signatures checked
against current and retired site keys) and, when given, an exported checkpoint: a checkpoint larger than
the log means the tail was cut off; a different root means history was rewritten.  The first problem is
raised as :class:`IntegrityError` naming the entry (``err.seq``).

Trust comes from the caller: ``public_keys`` (the keyring's trust store, or a ``--public-key``) and their
validity periods; a checkpoint signed by a retired key must not cover entries written after it was retired.
Anchors outside the home (:mod:`appliance.audit.anchor`) are checked like checkpoints; a checkpoint signed by
a key the anchor does not list is refused (a planted key), and the report is ``anchored`` only when one was
found.  Without an anchor (or ``--checkpoint``) a log wiped together with its checkpoints looks like a
fresh one: the report then says "not anchored", never "intact".
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from appliance.audit import log, merkle
from appliance.audit.checkpoint import verify_note
from appliance.errors import InputError, IntegrityError
from appliance.home import Home


@dataclass
class VerifyReport:
    entries: int
    root: str  # hex Merkle root of the whole log
    last_seq: int | None
    last_ts: str | None
    checkpoints: list[dict] = field(default_factory=list)  # {"size", "file", "key"}
    external: dict | None = None  # the exported checkpoint given with --checkpoint
    anchor: dict | None = None  # {"path", "size", "key"}: the anchor the log was verified against
    anchor_dirs: list[str] = field(default_factory=list)  # where anchors were looked for
    ok: bool = True
    recorded: bool | None = None  # whether the audit.verify entry was written (None: not asked to)

    @property
    def anchored(self) -> bool:
        """True only when the log was verified against an anchor or an exported checkpoint."""
        return self.anchor is not None or self.external is not None

    def to_dict(self) -> dict:
        return asdict(self) | {"anchored": self.anchored}


def _bad(seq: int | None, message: str, hint: str = "restore audit/ from backup and keep this copy as evidence"):
    err = IntegrityError(message, hint=hint)
    err.seq = seq  # type: ignore[attr-defined]  # the first bad entry, for the audit.verify record
    return err


def load_checkpoint_text(path: Path) -> str:
    """A checkpoint note from a ``.note`` file, an export's evidence JSON, or a jsonl export's header."""
    sidecar = Path(str(path) + ".evidence.json")  # a csv/cef export: its checkpoint is in the sidecar
    if sidecar.is_file():
        path = sidecar
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise InputError(f"cannot read checkpoint file {path}: {e.strerror or e}", hint="check the path") from None
    if raw.lstrip().startswith(b"{"):
        first = raw.split(b"\n", 1)[0]
        for candidate in (raw, first):
            try:
                doc = json.loads(candidate)
            except ValueError:
                continue
            if isinstance(doc, dict) and isinstance(doc.get("checkpoint"), str):
                return doc["checkpoint"]
        raise IntegrityError(f"{path}: no checkpoint found in this JSON", hint="pass a .note file or an export")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise IntegrityError(f"{path}: checkpoint is not UTF-8 text", hint="pass a .note file or an export") from None


def _anchor_targets(home: Home, keys: dict, targets: dict, checked: list) -> tuple[dict | None, set | None]:
    """Verify every anchor for this home; add each as a target.  Returns the newest and its key ids."""
    from appliance._internal import crypto
    from appliance.audit import anchor

    best, listed = None, None
    for path, doc in anchor.find(home):
        anchor_keys = {}
        for rec in doc.get("keys") or []:
            try:
                anchor_keys[rec["key_id"]] = crypto.load_public_pem(rec["public_pem"].encode())
            except (KeyError, TypeError, ValueError, AttributeError):
                continue
        cp, fp = verify_note(doc["checkpoint"], anchor_keys or keys, source=f"anchor {path}")
        targets.setdefault(cp.size, []).append((f"anchor {path}", cp.root))
        if best is None or cp.size > best["size"]:
            best = {"path": str(path), "size": cp.size, "key": fp}
            listed = set(anchor_keys) if anchor_keys else None
    return best, listed


def verify(
    home: Home, checkpoint_file: Path | None = None, public_keys: Mapping[str, Any] | None = None,
    validity: Mapping[str, tuple[str | None, str | None]] | None = None,
) -> VerifyReport:
    """Walk the chain and the tree; raise IntegrityError at the first problem, else return a report.

    ``public_keys`` ({key id: EC public key}) are the keys checkpoints may be signed by: the caller's trust
    store.  ``validity`` ({key id: (not_before, not_after)}) bounds what a retired key may cover.
    """
    from appliance.audit import anchor

    length, cps = log.snapshot(home)
    keys = dict(public_keys or {})
    validity = dict(validity or {})

    # Signatures first: they are cheap, and a forged note must fail even if the log is fine.
    targets: dict[int, list[tuple[str, bytes]]] = {}
    checked: list[dict] = []
    for size, path in cps:
        cp, fp = verify_note(path.read_bytes(), keys, source=f"checkpoint {path.name}")
        if cp.size != size:
            raise _bad(None, f"checkpoint {path.name} states size {cp.size}, not {size} (renamed?)")
        targets.setdefault(size, []).append((f"checkpoint {path.name}", cp.root))
        checked.append({"size": size, "file": str(path), "key": fp})
    external = None
    if checkpoint_file is not None:
        src = f"exported checkpoint {Path(checkpoint_file).name}"
        cp, fp = verify_note(load_checkpoint_text(Path(checkpoint_file)), keys, source=src)
        targets.setdefault(cp.size, []).append((src, cp.root))
        external = {"file": str(checkpoint_file), "size": cp.size, "root": cp.root.hex(), "key": fp, "consistent": False}
    anchored, anchor_listed = _anchor_targets(home, keys, targets, checked)
    if anchor_listed is not None:
        for c in checked:
            if c["key"] not in anchor_listed:
                raise _bad(None, f"checkpoint {Path(c['file']).name} is signed by key {c['key'][:16]}…, which the "
                           f"audit anchor {anchored['path']} does not list (a key planted in the home?)")
    retired_by = {c["size"]: validity[c["key"]][1] for c in checked
                  if c["key"] in validity and validity[c["key"]][1]}

    def check_roots(size: int, root: bytes, good_below: int) -> None:
        for src, want in targets.get(size, []):
            if want != root:
                raise _bad(
                    good_below,
                    f"{src}: the log's first {size} entries hash to a different root: entries between seq "
                    f"{good_below} and {size - 1} were rewritten",
                )

    cr = merkle.CompactRange()
    check_roots(0, cr.root, 0)
    good_below = 0  # the largest checkpoint size verified so far
    prev = log.ZERO_HASH
    last_ts = None
    for offset, line in log.iter_lines(home.audit_log_path, 0, length):
        i = cr.size
        if not line.endswith(b"\n"):
            raise _bad(i, f"audit log entry seq {i}: incomplete last line ({len(line)} bytes, torn write)",
                       hint="the next append cuts a torn line off; run `appliance audit verify` again after it")
        entry = log.parse_line(line, i)
        problem = log.field_problem(entry)
        if problem:
            raise _bad(i, f"audit log entry seq {i}: {problem}")
        if entry["hash"] != log.entry_hash(entry):
            raise _bad(i, f"audit log entry seq {i}: hash does not match its contents (the entry was edited)")
        if entry["seq"] != i:
            raise _bad(
                i,
                f"audit log entry seq {i}: found seq {entry['seq']} at this position "
                "(an entry was deleted, inserted or moved)",
            )
        if entry["prev"] != prev:
            raise _bad(
                i,
                f"audit log entry seq {i}: prev does not match the hash of seq {i - 1} "
                "(an earlier entry was rewritten or replaced)",
            )
        prev = entry["hash"]
        last_ts = entry["ts"]
        cr.append(log.entry_leaf(entry))
        if cr.size in retired_by and entry["ts"][:19] > str(retired_by[cr.size])[:19]:
            raise _bad(i, f"checkpoint {cr.size}.note is signed by a key retired at {retired_by[cr.size]} but covers "
                       f"entry seq {i} written at {entry['ts']}")
        if cr.size in targets:
            check_roots(cr.size, cr.root, good_below)
            good_below = cr.size
    n = cr.size
    for size in sorted(targets):
        if size > n:
            src = targets[size][0][0]
            raise _bad(
                n,
                f"{src} covers {size} entries but the log has only {n}: entries seq {n}..{size - 1} are "
                "missing (the tail was truncated)",
            )
    if external is not None:
        external["consistent"] = True
    return VerifyReport(
        entries=n,
        root=cr.root.hex(),
        last_seq=n - 1 if n else None,
        last_ts=last_ts,
        checkpoints=checked,
        external=external,
        anchor=anchored,
        anchor_dirs=[str(d) for d in anchor.directories(home)],
    )


def verify_and_record(home: Home, checkpoint_file: Path | None = None, public_keys=None,
                      validity=None) -> VerifyReport:
    """:func:`verify`, then an ``audit.verify`` entry saying how it went (what `appliance audit verify` runs)."""
    from appliance.audit import record

    try:
        report = verify(home, checkpoint_file, public_keys, validity)
    except IntegrityError as err:
        try:
            record(home, "audit.verify", {"first_bad_seq": getattr(err, "seq", None)}, outcome="failed")
        except Exception:  # a log too damaged to append to must not hide the verification failure  # noqa: BLE001, S110
            pass
        raise
    try:
        record(
            home,
            "audit.verify",
            {"entries": report.entries, "checkpoints": len(report.checkpoints),
             "external_size": (report.external or {}).get("size"), "anchor_size": (report.anchor or {}).get("size")},
        )
        report.recorded = True
    except PermissionError:  # verifying a read-only copy: the result stands, it just cannot be logged there
        logging.getLogger(__name__).warning("audit log is read-only here; the verification was not recorded")
        report.recorded = False
    return report
