"""Input readers: txt, md, jsonl, csv, and directories (recursively), streamed with bounded memory.

A txt/md file is one record; a jsonl line holds one record in a configurable string field; a csv row holds
one in a configurable column.  :func:`read_rows` also yields each record's metadata from the optional id,
patient and date columns (``[vault] id_column`` / ``patient_column`` / ``date_column``, or ``--id-column`` …
at ingest); a configured column that a file lacks, or a date that does not parse, rejects the whole file with
a reason naming the option.  Every read is bounded: a line (or a txt file) longer than the largest
record allowed is a per-file error, never an allocation of its full size.  Failures raise
:class:`FileRejected` with a short reason; the ingest pipeline turns it into a per-file error line.
"""

from __future__ import annotations

import codecs
import csv
import datetime as _dt
import errno
import json
import os
import stat
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from appliance.config import VaultSection

SUFFIXES = {".txt": "text", ".md": "text", ".markdown": "text", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}
_SNIFF = 8192


class FileRejected(Exception):
    """A file that cannot be ingested; ``str(e)`` is the reason shown to the user."""


@dataclass(frozen=True)
class RowMeta:
    """Per-record metadata read next to the text (raw values: the ingest pipeline hashes what needs it)."""

    source_id: str | None = None  # the export's own note id (--id-column)
    patient: str | None = None  # raw patient identifier (--patient-column); never stored as is
    date: _dt.date | None = None  # the note's date (--date-column)


_NO_META = RowMeta()
# (option, config key) per metadata role, for error messages
_OPTS = {"text": ("--text-column", "text_column"), "id": ("--id-column", "id_column"),
         "patient": ("--patient-column", "patient_column"), "date": ("--date-column", "date_column")}
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%d.%m.%Y", "%m/%d/%Y", "%Y%m%d")


def _columns(s: VaultSection, kind: str) -> dict[str, str]:
    """Role → column/field name for this file kind (``text`` always; the others only when configured)."""
    text = s.text_column or (s.csv_text_column if kind == "csv" else s.jsonl_text_field)
    cols = {"text": text}
    for role in ("id", "patient", "date"):
        name = getattr(s, f"{role}_column")
        if name:
            cols[role] = name
    return cols


def _missing(role: str, name: str, where: str) -> FileRejected:
    opt, key = _OPTS[role]
    return FileRejected(f"no {where} {name!r} for the {role} (set {opt} at ingest or [vault] {key} in appliance.toml)")


def parse_date(raw: str) -> _dt.date:
    """A note date from ISO (``2026-01-31``, ``2026-01-31T08:15``) or a few common export formats."""
    raw = raw.strip()
    try:
        return _dt.datetime.fromisoformat(raw).date()  # 3.11 reads a trailing Z
    except ValueError:
        pass
    for fmt in _DATE_FORMATS:
        try:
            return _dt.datetime.strptime(raw, fmt).date()
        except ValueError:
            continue
    raise ValueError(raw)


def _meta(values: dict[str, object], where: str) -> RowMeta:
    """RowMeta from raw column values (empty cells are "unknown")."""
    def text(v) -> str | None:
        if v is None:
            return None
        v = str(v).strip()
        return v or None

    date = None
    raw_date = text(values.get("date"))
    if raw_date:
        try:
            date = parse_date(raw_date)
        except ValueError:
            raise FileRejected(f"{where}: {raw_date[:40]!r} is not a date (expected e.g. 2026-01-31; "
                               f"see --date-column / [vault] date_column)") from None
    return RowMeta(source_id=text(values.get("id")), patient=text(values.get("patient")), date=date)


def display_name(value: object) -> str:
    """``value`` as text safe to print on one terminal line: control and format characters (ANSI escapes,
    newlines, bidi overrides) and lone surrogates (undecodable file-name bytes) become ``\\xNN``/``\\uNNNN``."""
    out = []
    for ch in str(value):
        if unicodedata.category(ch)[0] == "C" or ch == "\\":
            out.append("\\\\" if ch == "\\" else (f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}"))
        else:
            out.append(ch)
    return "".join(out)


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def _classify(p: Path, root: Path, follow_symlinks: bool) -> tuple[Path, str | None]:
    """The path to read (a followed link resolved) and a problem, judged without following by default."""
    try:
        st = p.lstat()
    except OSError as e:
        return p, f"cannot read: {e.strerror or e}"
    if stat.S_ISLNK(st.st_mode):
        if not follow_symlinks:
            return p, "symbolic link (not followed; --follow-symlinks follows links that stay inside the tree)"
        target = p.resolve()
        if not _inside(target, root.resolve()):
            return p, "symbolic link pointing outside the input tree (refused)"
        try:
            st = target.lstat()
        except OSError as e:
            return p, f"cannot read link target: {e.strerror or e}"
        p = target
    if not stat.S_ISREG(st.st_mode):
        kind = ("FIFO" if stat.S_ISFIFO(st.st_mode) else "device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
                else "socket" if stat.S_ISSOCK(st.st_mode) else "directory" if stat.S_ISDIR(st.st_mode) else "special file")
        return p, f"not a regular file ({kind}; refused)"
    return p, None


def expand(paths: Iterable[str | os.PathLike], follow_symlinks: bool = False) -> Iterator[tuple[Path, str | None]]:
    """``(path, problem)`` for every input file: directories are walked (sorted, supported suffixes only,
    hidden entries skipped); an explicitly named file of an unknown type is yielded with a problem.

    Symbolic links are not followed (a link is a per-file problem) unless ``follow_symlinks``, and then only to
    targets inside the named tree (a named directory, or the directory of a named file); directory links are
    never descended.  FIFOs, devices and sockets are refused without being opened.
    """
    for raw in paths:
        p = Path(raw)
        if p.is_dir() and not p.is_symlink():
            for dirpath, dirnames, filenames in os.walk(p):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in sorted(filenames):
                    if name.startswith(".") or Path(name).suffix.lower() not in SUFFIXES:
                        continue
                    yield _classify(Path(dirpath) / name, p, follow_symlinks)
        elif not p.exists() and not p.is_symlink():
            yield p, "no such file or directory"
        elif p.suffix.lower() not in SUFFIXES and not p.is_dir():
            yield p, f"unsupported file type {p.suffix or '(none)'!r} (use .txt, .md, .jsonl or .csv)"
        else:
            yield _classify(p, p.absolute().parent, follow_symlinks)


def _limit_bytes(s: VaultSection) -> int:
    return s.max_record_chars * 4 + 4096  # UTF-8 is at most 4 bytes per character, plus JSON/CSV framing


def _open(path: Path, s: VaultSection):
    try:
        # O_NOFOLLOW: a file swapped for a link after expand() is refused; O_NONBLOCK: a file swapped for a
        # FIFO cannot hang the open.  The type is judged on the opened descriptor, so nothing can race it.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        reason = "symbolic link (refused)" if e.errno == errno.ELOOP else f"cannot read: {e.strerror or e}"
        raise FileRejected(reason) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise FileRejected("not a regular file (refused)")
        if st.st_size == 0:
            raise FileRejected("empty file")
        if st.st_size > s.max_file_bytes:
            raise FileRejected(f"file is {st.st_size} bytes, over the {s.max_file_bytes}-byte limit")
        os.set_blocking(fd, True)
        f = os.fdopen(fd, "rb")
    except OSError as e:
        os.close(fd)
        raise FileRejected(f"cannot read: {e.strerror or e}") from None
    except FileRejected:
        os.close(fd)
        raise
    head = f.read(_SNIFF)
    if b"\x00" in head:
        f.close()
        raise FileRejected("binary file (contains NUL bytes)")
    f.seek(0)
    return f


def _lines(f, limit: int) -> Iterator[tuple[int, str]]:
    """(line number, decoded line) with each line capped at ``limit`` bytes; strict UTF-8."""
    dec = codecs.getincrementaldecoder("utf-8")("strict")
    n = 0
    while True:
        try:
            raw = f.readline(limit + 1)
        except OSError as e:
            raise FileRejected(f"read error: {e.strerror or e}") from None
        if not raw:
            break
        n += 1
        if len(raw) > limit:
            raise FileRejected(f"line {n} is longer than {limit} bytes")
        if b"\x00" in raw:
            raise FileRejected(f"binary content (NUL byte) on line {n}")
        try:
            yield n, dec.decode(raw)
        except UnicodeDecodeError as e:
            raise FileRejected(f"invalid UTF-8 on line {n} (byte {e.start})") from None
    try:
        dec.decode(b"", final=True)
    except UnicodeDecodeError:
        raise FileRejected("invalid UTF-8 at end of file") from None


def _text(path: Path, s: VaultSection) -> Iterator[str]:
    limit = _limit_bytes(s)
    with _open(path, s) as f:
        raw = f.read(limit + 1)
        if len(raw) > limit:
            raise FileRejected(f"file is longer than one record may be ({s.max_record_chars} characters)")
    if b"\x00" in raw:
        raise FileRejected("binary file (contains NUL bytes)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise FileRejected(f"invalid UTF-8 (byte {e.start})") from None
    if not text.strip():
        raise FileRejected("no text in file")
    yield text


def _jsonl(path: Path, s: VaultSection, chat: bool = False) -> Iterator[tuple[str, RowMeta]]:
    cols = _columns(s, "jsonl")
    field = cols["text"]
    if chat:  # a conversation per line: no text field (see appliance.vault.chat)
        from appliance.vault import chat as chatmod
    with _open(path, s) as f:
        for n, line in _lines(f, _limit_bytes(s)):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise FileRejected(f"line {n}: not valid JSON ({e.msg})") from None
            if chat:
                try:
                    text = chatmod.record_text(obj)
                except chatmod.ChatFormatError as e:
                    raise FileRejected(f"line {n}: {e} (--format chat expects {{\"messages\": [{{\"role\", "
                                       f"\"content\"}}, ...]}} or {{\"prompt\", \"response\"}} per line)") from None
            elif not isinstance(obj, dict) or not isinstance(obj.get(field), str):
                raise FileRejected(f"line {n}: no string field {field!r} (set --text-column at ingest "
                                   f"or [vault] text_column in appliance.toml)")
            else:
                text = obj[field]
            for role, name in cols.items():
                if role != "text" and name not in obj:
                    raise _missing(role, name, f"field on line {n}:")
            meta = _meta({r: obj.get(c) for r, c in cols.items() if r != "text"}, f"line {n}") \
                if len(cols) > 1 else _NO_META
            yield text, meta


def _csv(path: Path, s: VaultSection) -> Iterator[tuple[str, RowMeta]]:
    limit = _limit_bytes(s)
    cols = _columns(s, "csv")
    col = cols["text"]
    old = csv.field_size_limit()
    csv.field_size_limit(limit)
    try:
        with _open(path, s) as f:
            lines = (line for _n, line in _lines(f, limit))
            reader = csv.reader(lines)
            try:
                header = next(reader)
            except StopIteration:
                raise FileRejected("empty CSV") from None
            except csv.Error as e:
                raise FileRejected(f"CSV header: {e}") from None
            header = [h.lstrip("\ufeff").strip() for h in header]
            for role, name in cols.items():
                if name not in header:
                    raise FileRejected(f"{_missing(role, name, 'column')} (columns: {', '.join(header[:10])})")
            idx = header.index(col)
            meta_idx = {role: header.index(name) for role, name in cols.items() if role != "text"}
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    break
                except csv.Error as e:
                    raise FileRejected(f"CSV row {reader.line_num}: {e}") from None
                if not row:
                    continue
                if max([idx, *meta_idx.values()]) >= len(row):
                    raise FileRejected(f"CSV row {reader.line_num}: fewer fields than the header")
                meta = _meta({r: row[i] for r, i in meta_idx.items()}, f"CSV row {reader.line_num}") \
                    if meta_idx else _NO_META
                yield row[idx], meta
    finally:
        csv.field_size_limit(old)


def read_rows(path: Path, s: VaultSection, record_format: str = "text") -> Iterator[tuple[str, RowMeta]]:
    """Every ``(text, RowMeta)`` in ``path`` (lazy); raises :class:`FileRejected` when the file is unusable.
    ``record_format="chat"``: one conversation per JSONL line, stored as canonical JSON."""
    kind = SUFFIXES.get(path.suffix.lower())
    if record_format == "chat":
        if kind != "jsonl":
            raise FileRejected(f"--format chat reads .jsonl files only, not {path.suffix or '(none)'!r}")
        return _jsonl(path, s, chat=True)
    if kind == "text":
        return ((t, _NO_META) for t in _text(path, s))
    if kind == "jsonl":
        return _jsonl(path, s)
    if kind == "csv":
        return _csv(path, s)
    raise FileRejected(f"unsupported file type {path.suffix!r}")


def read_records(path: Path, s: VaultSection) -> Iterator[str]:
    """Every record text in ``path`` (lazy); raises :class:`FileRejected` when the file is unusable."""
    return (text for text, _meta in read_rows(path, s))


def validate_file(path: Path, s: VaultSection, record_format: str = "text") -> int:
    """Read ``path`` once without keeping anything; the number of records, or :class:`FileRejected`.

    The pipeline validates a file before taking any record from it, so a file that fails on line 900 adds
    nothing to the vault (a file is all or nothing) while memory stays bounded.
    """
    n = 0
    for _ in read_rows(path, s, record_format):
        n += 1
    if n == 0:
        raise FileRejected("no records in file")
    return n
