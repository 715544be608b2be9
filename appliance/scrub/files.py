"""File-level operations behind ``appliance scrub detect|apply``: stream JSONL/text through a Scrubber.

Input is read in blocks (a few hundred records) so a large file never sits in memory twice and both worker
processes stay busy; output keeps input order.  Results carry counts only, never values.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from appliance.errors import InputError

_BLOCK = 512


def _read_jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    try:
        f = Path(path).open(encoding="utf-8")  # noqa: SIM115 -- opened apart so the open error is mapped; `with f:` below closes it
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror or e}", hint="check the input path") from None
    with f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError as e:
                raise InputError(f"{path}:{n}: not valid JSON: {e}", hint="one JSON object per line") from None
            if not isinstance(rec, dict) or not isinstance(rec.get("text"), str):
                raise InputError(f"{path}:{n}: needs a string field \"text\"", hint='lines look like {"id": ..., "text": ...}')
            yield n, rec


def _blocks(it, size: int = _BLOCK):
    block = []
    for x in it:
        block.append(x)
        if len(block) >= size:
            yield block
            block = []
    if block:
        yield block


def detect_file(src: Path, dest: Path, settings, *, workers: int | None = None) -> dict:
    """``{"id","text"}`` lines → ``{"id","entities":[{"start","end","type","score"}]}`` lines, same order."""
    from appliance.scrub import Scrubber

    counts: Counter = Counter()
    n = 0
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with Scrubber(settings, workers=workers) as s, dest.open("w", encoding="utf-8") as out:
        for block in _blocks(_read_jsonl(src)):
            ents = s.detect_batch([r["text"] for _, r in block])
            for (line_no, rec), es in zip(block, ents):
                rid = rec.get("id", line_no)
                out.write(json.dumps({"id": rid, "entities": [e.to_dict() for e in es]}, ensure_ascii=False) + "\n")
                counts.update(e.type for e in es)
                n += 1
    return {"records": n, "entities": sum(counts.values()), "counts": dict(sorted(counts.items())), "out": str(dest)}


def apply_file(
    src: Path,
    dest: Path,
    settings,
    *,
    workers: int | None = None,
    secret: bytes | None = None,
    patient_field: str = "patient",
) -> dict:
    """Scrub a .txt file (one document) or a .jsonl file (``text`` replaced, other fields kept)."""
    from appliance.scrub import Scrubber

    src, dest = Path(src), Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    counts: Counter = Counter()
    n = 0
    jsonl = src.suffix.lower() in (".jsonl", ".ndjson")
    with Scrubber(settings, workers=workers, secret=secret) as s:
        if not jsonl:
            try:
                text = src.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as e:
                raise InputError(f"cannot read {src}: {e}", hint="apply takes a UTF-8 .txt or a .jsonl file") from None
            (res,) = s.scrub_batch([text])
            dest.write_text(res.text, encoding="utf-8")
            counts.update(res.counts)
            n = 1
        else:
            with dest.open("w", encoding="utf-8") as out:
                for block in _blocks(_read_jsonl(src)):
                    recs = [r for _, r in block]
                    keys = [None if r.get(patient_field) is None else str(r[patient_field]) for r in recs]
                    for rec, res in zip(recs, s.scrub_batch([r["text"] for r in recs], keys)):
                        out.write(json.dumps({**rec, "text": res.text}, ensure_ascii=False) + "\n")
                        counts.update(res.counts)
                        n += 1
    return {"records": n, "replaced": sum(counts.values()), "counts": dict(sorted(counts.items())), "out": str(dest)}
