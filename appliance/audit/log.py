"""The append-only log file: one canonical-JSON entry per line, each chained to the previous by hash.

An entry is ``{seq, ts, actor, host, pid, action, object, outcome, prev, hash}``; ``hash`` is SHA-256 over
the canonical JSON of the entry without ``hash``, ``prev`` the previous entry's hash (64 zeros first).
The Merkle leaf of an entry is the RFC 6962 leaf hash of the canonical JSON of the whole entry.

Appends hold an exclusive flock on ``audit/.lock``, read only the last line (seeking back from the end),
write one line with a single ``write`` and fsync before the lock is released, so concurrent processes
interleave whole entries and never fork the chain.  A line left without its newline by a crash mid-write
was never acknowledged to its caller; the next append cuts it off and records an ``audit.repair`` entry.

``tree-state.json`` caches the compact Merkle range at the last checkpoint (size, byte offset, subtree
roots) so a checkpoint reads only the entries added since.  It is a cache: verification never reads it,
and any mismatch makes the writer rebuild it from the log.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from appliance._internal.atomic import atomic_write
from appliance._internal.hashing import canonical_json, sha256_bytes
from appliance.audit import merkle
from appliance.errors import IntegrityError, UsageError
from appliance.home import Home

ZERO_HASH = "0" * 64
FIELDS = ("seq", "ts", "actor", "host", "pid", "action", "object", "outcome", "prev", "hash")
MAX_ENTRY_BYTES = 64 * 1024
_ACTION_RE = re.compile(r"^[a-z0-9][a-z0-9_\-]*(\.[a-z0-9_\-]+)*$")
_OUTCOME_RE = re.compile(r"^[a-z][a-z_]{0,31}$")
_BLOCK = 8192


def state_path(home: Home) -> Path:
    return home.audit_dir / "tree-state.json"


def now_ts() -> str:
    """UTC, ISO-8601 with microseconds and a trailing Z."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def current_actor() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (containers, odd uids): fall back to the numeric uid  # noqa: BLE001
        return f"uid:{os.getuid()}"


_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def field_problem(entry: dict) -> str | None:
    """What is structurally wrong with a parsed entry (fields and their types), or None."""
    found = set(entry)
    if found != set(FIELDS):
        return f"wrong fields (missing {sorted(set(FIELDS) - found)}, unexpected {sorted(found - set(FIELDS))})"
    types = {"seq": int, "pid": int, "ts": str, "actor": str, "host": str, "action": str, "outcome": str,
             "object": dict, "prev": str, "hash": str}
    for k, t in types.items():
        if not isinstance(entry[k], t) or isinstance(entry[k], bool):
            return f"field {k} has type {type(entry[k]).__name__}, expected {t.__name__}"
    if not (_HEX64.match(entry["prev"]) and _HEX64.match(entry["hash"])):
        return "prev/hash are not 64 lowercase hex digits"
    return None


def entry_hash(entry: dict) -> str:
    return sha256_bytes(canonical_json({k: v for k, v in entry.items() if k != "hash"}))


def entry_leaf(entry: dict) -> bytes:
    return merkle.leaf_hash(canonical_json(entry))


def ensure_dirs(home: Home) -> None:
    """Create audit/ and audit/checkpoints/ (0700) inside an existing home; never create the home itself."""
    cps = home.checkpoints_dir
    if os.path.isdir(cps):  # the common case, checked with one stat
        return
    if not home.root.is_dir():
        home.require_initialized()
    for d in (home.audit_dir, cps):
        if not d.is_dir():
            d.mkdir(exist_ok=True, mode=0o700)


def new_entry(seq: int, prev: str, action: str, obj: dict | None, outcome: str) -> dict:
    """Build (and hash) the next entry; validates what callers pass in."""
    if not isinstance(action, str) or len(action) > 64 or not _ACTION_RE.match(action):
        raise UsageError(f"invalid audit action {action!r}", hint="use a dotted lowercase name like vault.ingest")
    if not isinstance(outcome, str) or not _OUTCOME_RE.match(outcome):
        raise UsageError(f"invalid audit outcome {outcome!r}", hint='use "ok", "error", "refused", …')
    if obj is None:
        obj = {}
    if not isinstance(obj, dict):
        raise UsageError("audit object must be a dict of ids and counts")
    entry: dict[str, Any] = {
        "seq": seq,
        "ts": now_ts(),
        "actor": current_actor(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "action": action,
        "object": obj,
        "outcome": outcome,
        "prev": prev,
    }
    try:
        entry["hash"] = entry_hash(entry)
    except (TypeError, ValueError) as e:
        raise UsageError(f"audit object is not JSON-serialisable: {e}") from None
    return entry


# -- reading --------------------------------------------------------------------------------------------------


def _read_last_line(f) -> tuple[bytes, int, bool]:
    """(last line without newline, its start offset, complete?) of an open binary file; b"" if empty."""
    f.seek(0, os.SEEK_END)
    end = f.tell()
    if end == 0:
        return b"", 0, True
    f.seek(end - 1)
    complete = f.read(1) == b"\n"
    stop = end - 1 if complete else end  # the line's content ends here
    pos = stop
    chunks: list[bytes] = []
    while pos > 0:
        step = min(_BLOCK, pos)
        pos -= step
        f.seek(pos)
        block = f.read(step)
        nl = block.rfind(b"\n")
        if nl >= 0:
            chunks.append(block[nl + 1 :])
            start = pos + nl + 1
            break
        chunks.append(block)
    else:
        start = 0
    line = b"".join(reversed(chunks))
    return line[: stop - start], start, complete


def parse_line(line: bytes, position: int) -> dict:
    """Decode one log line; IntegrityError names the position (expected seq) when it is not an entry."""
    try:
        entry = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise IntegrityError(
            f"audit log entry seq {position}: line is not valid JSON", hint="appliance audit verify"
        ) from None
    if not isinstance(entry, dict):
        raise IntegrityError(f"audit log entry seq {position}: line is not a JSON object", hint="appliance audit verify")
    return entry


def iter_lines(path: Path, start: int = 0, end: int | None = None) -> Iterator[tuple[int, bytes]]:
    """``(offset, line)`` for each newline-terminated line in ``path[start:end]``; a torn tail is yielded as is."""
    try:
        f = open(path, "rb")  # noqa: SIM115 -- opened apart so the open error is mapped; `with f:` below closes it
    except FileNotFoundError:
        return
    with f:
        f.seek(start)
        offset = start
        while end is None or offset < end:
            line = f.readline() if end is None else f.readline(end - offset)
            if not line:
                break
            yield offset, line
            offset += len(line)


def snapshot(home: Home) -> tuple[int, list[tuple[int, Path]]]:
    """Byte length of the log and the checkpoint list, taken together under the lock (a consistent view)."""
    from appliance._internal.locks import file_lock
    from appliance.audit.checkpoint import list_checkpoints

    def take() -> tuple[int, list[tuple[int, Path]]]:
        try:
            size = home.audit_log_path.stat().st_size
        except FileNotFoundError:
            size = 0
        return size, list_checkpoints(home.checkpoints_dir)

    if not home.audit_dir.is_dir():
        return 0, []
    try:
        with file_lock(home.audit_lock_path):
            return take()
    except PermissionError:  # a read-only copy (e.g. verified by a compliance officer): nothing appends to it
        return take()


# -- appending ------------------------------------------------------------------------------------------------


def _tail(home: Home, f) -> tuple[int, str]:
    """Next seq and the previous hash, repairing a torn final line.  Caller holds the lock."""
    f.seek(0, os.SEEK_END)
    if f.tell() == 0:
        return 0, ZERO_HASH
    line, start, complete = _read_last_line(f)
    if not complete:
        # A crash between write and fsync: the line was never acknowledged. Cut it and say so.
        f.truncate(start)
        f.flush()
        os.fsync(f.fileno())
        seq, prev = _tail(home, f)
        rep = new_entry(seq, prev, "audit.repair", {"discarded_bytes": len(line), "reason": "torn final line"}, "ok")
        _write_line(f, rep)
        return seq + 1, rep["hash"]
    try:
        entry = parse_line(line, -1)
    except IntegrityError:
        entry = {}
    seq, h = entry.get("seq"), entry.get("hash")
    if not isinstance(seq, int) or not isinstance(h, str) or len(h) != 64:
        raise IntegrityError(
            "the last audit log entry is damaged; refusing to append to it",
            hint="appliance audit verify   (then restore audit/ from backup)",
        )
    return seq + 1, h


def _write_line(f, entry: dict) -> None:
    data = canonical_json(entry) + b"\n"
    if len(data) > MAX_ENTRY_BYTES:
        raise UsageError(f"audit entry too large ({len(data)} bytes)", hint="record ids and counts, not content")
    f.seek(0, os.SEEK_END)
    f.write(data)
    f.flush()
    os.fsync(f.fileno())


def append(home: Home, action: str, obj: dict | None, outcome: str) -> dict:
    """Append one entry (caller holds the audit lock).  Returns the entry."""
    ensure_dirs(home)
    path = home.audit_log_path
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    with os.fdopen(fd, "r+b") as f:
        seq, prev = _tail(home, f)
        entry = new_entry(seq, prev, action, obj, outcome)
        _write_line(f, entry)
    return entry


# -- the tree-state cache ---------------------------------------------------------------------------------------


def load_state(home: Home) -> tuple[merkle.CompactRange, int]:
    """The cached compact range and the byte offset just after its last entry (or an empty one)."""
    try:
        d = json.loads(state_path(home).read_text())
        cr = merkle.CompactRange(int(d["size"]), [bytes.fromhex(x) for x in d["nodes"]])
        return cr, int(d["offset"])
    except (OSError, ValueError, KeyError, TypeError):
        return merkle.CompactRange(), 0


def save_state(home: Home, cr: merkle.CompactRange, offset: int) -> None:
    doc = {"size": cr.size, "offset": offset, "nodes": [n.hex() for n in cr.nodes]}
    atomic_write(state_path(home), json.dumps(doc), mode=0o600)


def current_tree(home: Home) -> tuple[merkle.CompactRange, int]:
    """Compact range over the whole log now, and the byte offset of its end (caller holds the lock)."""
    cr, offset = load_state(home)
    path = home.audit_log_path
    if cr.size:
        # The cache is valid only if the line at its offset is the entry it expects next (or the end).
        ok = False
        for _off, line in iter_lines(path, offset):
            try:
                ok = json.loads(line).get("seq") == cr.size
            except (ValueError, AttributeError):
                ok = False
            break
        else:
            ok = path.exists() and path.stat().st_size == offset
        if not ok:
            cr, offset = merkle.CompactRange(), 0
    for off, line in iter_lines(path, offset):
        if not line.endswith(b"\n"):
            break
        cr.append(entry_leaf(parse_line(line, cr.size)))
        offset = off + len(line)
    return cr, offset
