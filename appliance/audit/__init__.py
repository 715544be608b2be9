"""Tamper-evident audit log: hash-chained JSON Lines, an RFC 6962 Merkle tree, signed checkpoints.

Public API (everything else in the package is internal to it):

- :func:`record` appends one entry (``action`` dotted, ``object`` ids and counts — never PHI); with a signer
  it writes a signed checkpoint every ``audit.checkpoint_every`` entries.
- :func:`checkpoint` signs the current tree head now; :func:`verify` walks chain, tree and checkpoints.
- :func:`read_entries` filters entries; :func:`export` / :func:`verify_export` move evidence off the host.
- :func:`attach` is called when keys are unlocked (with the signer and the trusted key list: audit takes
  keys from its caller and imports nothing above it); :func:`seal` then signs the whole log and updates the
  anchor outside the home (:mod:`appliance.audit.anchor`), and runs by itself when the process exits, so
  every command that had the keys ends with a signed, anchored checkpoint covering all entries so far
  (including those written earlier while locked).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from appliance.audit.export import FORMATS, ExportFormat, register_format, verify_export
from appliance.audit.verify import VerifyReport, verify, verify_and_record
from appliance.home import Home

__all__ = [
    "FORMATS",
    "ExportFormat",
    "VerifyReport",
    "anchor_status",
    "attach",
    "attached_signer",
    "checkpoint",
    "export",
    "read_entries",
    "record",
    "register_format",
    "seal",
    "verify",
    "verify_and_record",
    "verify_export",
]


_every_cache: dict[str, tuple[tuple[int, int], int]] = {}


def _checkpoint_every(home: Home) -> int:
    """``audit.checkpoint_every``, re-read only when appliance.toml changes (appends are hot paths)."""
    import os

    from appliance.config import AuditSection, load_site_config
    from appliance.errors import ConfigError

    path = home.config_path
    try:
        st = os.stat(path)
        stamp = (st.st_mtime_ns, st.st_size)
    except FileNotFoundError:
        stamp = (0, -1)
    hit = _every_cache.get(str(path))
    if hit and hit[0] == stamp:
        return hit[1]
    try:
        every = load_site_config(path).audit.checkpoint_every
    except ConfigError:  # a broken config is reported by the command that reads it; keep auditing
        every = AuditSection().checkpoint_every
    _every_cache[str(path)] = (stamp, every)
    return every


def record(home: Home, action: str, object: dict | None = None, outcome: str = "ok", signer: Any = None) -> dict:
    """Append one entry and return it.

    Safe across processes (an exclusive file lock around read-tail / write / fsync).  When ``signer`` is
    given and ``checkpoint_every`` entries were added since the newest checkpoint, also writes a signed one.
    """
    from appliance._internal.locks import file_lock
    from appliance.audit import log
    from appliance.audit.checkpoint import last_size, write_for_home

    log.ensure_dirs(home)
    every = _checkpoint_every(home) if signer is not None else 0
    with file_lock(home.audit_lock_path):
        entry = log.append(home, action, object, outcome)
        if signer is not None and entry["seq"] + 1 - last_size(home) >= every:
            write_for_home(home, signer)
    return entry


_attached: dict[str, tuple[Home, Any, list[dict]]] = {}


def attach(home: Home, signer: Any, trusted: list[dict]) -> None:
    """Remember the unlocked signer (and the keyring's trusted keys) so this process seals the log at exit."""
    import atexit

    if not _attached:
        atexit.register(_seal_at_exit)
    _attached[str(home.root)] = (home, signer, list(trusted))


def anchor_status(home: Home) -> tuple[Path, bool]:
    """The directory the anchor is written to and whether this process may write it."""
    from appliance.audit import anchor

    return anchor.writable(home)


def attached_signer(home: Home) -> Any:
    """The signer unlocked earlier in this process for ``home`` (see :func:`attach`), or None."""
    hit = _attached.get(str(home.root))
    return hit[1] if hit else None


def seal(home: Home) -> dict | None:
    """Sign the whole log (unless the newest checkpoint already covers it) and update the anchor.

    Needs an attached signer (see :func:`attach`); returns ``{"size", "checkpoint", "anchor"}`` or None.
    """
    from appliance._internal.locks import file_lock
    from appliance.audit import anchor, log
    from appliance.audit.checkpoint import write_for_home

    hit = _attached.get(str(home.root))
    if hit is None or not home.audit_log_path.is_file():
        return None
    _home, signer, trusted = hit
    with file_lock(home.audit_lock_path):
        cr, _off = log.current_tree(home)
        if cr.size == 0:
            return None
        note_path = home.checkpoints_dir / f"{cr.size}.note"
        if note_path.is_file():
            note = note_path.read_text(encoding="utf-8")
        else:
            note_path, _cp = write_for_home(home, signer)
            note = note_path.read_text(encoding="utf-8")
        where = anchor.update(home, note, cr.size, cr.root, trusted)
    return {"size": cr.size, "checkpoint": str(note_path), "anchor": str(where) if where else None}


def _seal_at_exit() -> None:
    import logging

    for key, (home, _s, _t) in list(_attached.items()):
        try:
            seal(home)
        except Exception as e:  # noqa: BLE001 -- at exit nothing can be raised; the next verify reports it
            logging.getLogger(__name__).warning("audit log of %s not sealed: %s", home.root, e)
        _attached.pop(key, None)


def checkpoint(home: Home, signer: Any) -> Path:
    """Write a signed checkpoint of the whole log now; returns ``audit/checkpoints/<size>.note``."""
    from appliance._internal.locks import file_lock
    from appliance.audit import log
    from appliance.audit.checkpoint import write_for_home

    log.ensure_dirs(home)
    with file_lock(home.audit_lock_path):
        path, _cp = write_for_home(home, signer)
    return path


def read_entries(
    home: Home,
    since: str | None = None,
    until: str | None = None,
    action: str | None = None,
    actor: str | None = None,
) -> Iterator[dict]:
    """Entries in order, filtered: ``since`` inclusive / ``until`` exclusive (ISO; a bare date as ``until``
    means through that day), ``action`` exact, a prefix (``vault`` → ``vault.*``) or a glob, ``actor`` exact."""
    from fnmatch import fnmatchcase

    from appliance.audit import log
    from appliance.audit.export import in_range, parse_time

    lo, hi = parse_time(since), parse_time(until, end=True)
    length, _ = log.snapshot(home)
    for i, (_off, line) in enumerate(log.iter_lines(home.audit_log_path, 0, length)):
        if not line.endswith(b"\n"):
            break  # a torn last line is not an entry
        e = log.parse_line(line, i)
        if action and not (
            e.get("action") == action or str(e.get("action", "")).startswith(action + ".") or fnmatchcase(str(e.get("action")), action)
        ):
            continue
        if actor and e.get("actor") != actor:
            continue
        if not in_range(e, lo, hi):
            continue
        yield e


def export(
    home: Home,
    fmt: str,
    out: Path,
    since: str | None = None,
    until: str | None = None,
    signer: Any = None,
) -> dict:
    """Write a verifiable export (see :mod:`appliance.audit.export`); checkpoints first and audits itself."""
    from appliance.audit.export import export as _export

    return _export(home, fmt, Path(out), since, until, signer)

