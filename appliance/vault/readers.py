"""Input readers: txt, md, jsonl, csv, and directories (recursively), streamed with bounded memory.

A txt/md file is one record; a jsonl line holds one record in a configurable string field; a csv row holds
one in a configurable column.  Every read is bounded: a line (or a txt file) longer than the largest
record allowed is a per-file error, never an allocation of its full size.  Failures raise
:class:`FileRejected` with a short reason; the ingest pipeline turns it into a per-file error line.
"""

from __future__ import annotations

import codecs
import csv
import errno
import json
import os
import stat
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path

from appliance.config import VaultSection

SUFFIXES = {".txt": "text", ".md": "text", ".markdown": "text", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}
_SNIFF = 8192


class FileRejected(Exception):
    """A file that cannot be ingested; ``str(e)`` is the reason shown to the user."""


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


def _jsonl(path: Path, s: VaultSection) -> Iterator[str]:
    field = s.jsonl_text_field
    with _open(path, s) as f:
        for n, line in _lines(f, _limit_bytes(s)):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise FileRejected(f"line {n}: not valid JSON ({e.msg})") from None
            if not isinstance(obj, dict) or not isinstance(obj.get(field), str):
                raise FileRejected(f"line {n}: no string field {field!r}")
            yield obj[field]


def _csv(path: Path, s: VaultSection) -> Iterator[str]:
    limit = _limit_bytes(s)
    col = s.csv_text_column
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
            if col not in header:
                raise FileRejected(f"no column {col!r} (columns: {', '.join(header[:10])})")
            idx = header.index(col)
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    break
                except csv.Error as e:
                    raise FileRejected(f"CSV row {reader.line_num}: {e}") from None
                if not row:
                    continue
                if idx >= len(row):
                    raise FileRejected(f"CSV row {reader.line_num}: missing column {col!r}")
                yield row[idx]
    finally:
        csv.field_size_limit(old)


def read_records(path: Path, s: VaultSection) -> Iterator[str]:
    """Every record text in ``path`` (lazy); raises :class:`FileRejected` when the file is unusable."""
    kind = SUFFIXES.get(path.suffix.lower())
    if kind == "text":
        return _text(path, s)
    if kind == "jsonl":
        return _jsonl(path, s)
    if kind == "csv":
        return _csv(path, s)
    raise FileRejected(f"unsupported file type {path.suffix!r}")


def validate_file(path: Path, s: VaultSection) -> int:
    """Read ``path`` once without keeping anything; the number of records, or :class:`FileRejected`.

    The pipeline validates a file before taking any record from it, so a file that fails on line 900 adds
    nothing to the vault (a file is all or nothing) while memory stays bounded.
    """
    n = 0
    for _ in read_records(path, s):
        n += 1
    if n == 0:
        raise FileRejected("no records in file")
    return n
