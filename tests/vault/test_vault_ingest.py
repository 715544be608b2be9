"""Ingest pipeline (library level): readers, bad files, normalisation, filters, dedup across batches."""

from __future__ import annotations

import json
import random

import pytest

from appliance.config import VaultSection
from appliance.errors import UsageError
from appliance.vault.normalize import normalize
from appliance.vault.readers import FileRejected, read_records, validate_file


def test_normalize():
    assert normalize("  Cafe\u0301\r\nline\t two  \x07\u200b\n\n\n\nend  ") == "Caf\u00e9\nline two\n\nend"


def test_mixed_inputs_and_bad_files(vault, scrubber, tmp_path, vt):
    rng = random.Random(3)
    d = tmp_path / "in"
    (d / "sub").mkdir(parents=True)
    (d / "a.txt").write_text(vt.note(rng))
    (d / "b.md").write_text("# Visit\n\n" + vt.note(rng))
    vt.write_jsonl(d / "sub" / "c.jsonl", [vt.note(rng) for _ in range(3)])
    with open(d / "sub" / "d.csv", "w") as f:
        f.write("id,text\n")
        f.writelines(f'{i},"{vt.note(rng)}"\n' for i in range(2))
    (d / "ignored.bin").write_bytes(b"\x00\x01")  # unsupported suffix inside a directory: skipped
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "binary.txt").write_bytes(b"abc\x00def" * 10)
    (bad / "latin1.txt").write_bytes("caf\xe9 au lait ".encode("latin-1") * 5)
    (bad / "empty.jsonl").write_bytes(b"")
    (bad / "broken.jsonl").write_text(json.dumps({"text": vt.note(rng)}) + "\n{not json\n")
    (bad / "nofield.jsonl").write_text(json.dumps({"body": "x"}) + "\n")
    (bad / "nocol.csv").write_text("a,b\n1,2\n")
    (bad / "dangling.txt").symlink_to(tmp_path / "missing")
    with open(bad / "long_line.jsonl", "wb") as f:  # one 100 MB line, never read whole
        f.write(b'{"text": "')
        block = b"a" * (1 << 20)
        f.writelines(block for _ in range(100))
        f.write(b'"}\n')
    with open(bad / "huge_field.csv", "w") as f:
        f.write("text\n\"" + "word " * 300_000 + "\"\n")
    (bad / "unknown.pdf").write_bytes(b"%PDF")
    rep = vault.ingest([d, bad / "unknown.pdf", *sorted(p for p in bad.iterdir() if p.suffix != ".pdf")],
                       "mixed", scrubber=scrubber)
    errs = {e["path"].rsplit("/", 1)[-1]: e["error"] for e in rep.errors}
    assert set(errs) == {"binary.txt", "latin1.txt", "empty.jsonl", "broken.jsonl", "nofield.jsonl", "nocol.csv",
                         "dangling.txt", "long_line.jsonl", "huge_field.csv", "unknown.pdf"}, errs
    assert "binary" in errs["binary.txt"] and "UTF-8" in errs["latin1.txt"] and "empty" in errs["empty.jsonl"]
    assert "longer than" in errs["long_line.jsonl"]
    assert rep.failed and rep.files_ok == 4 and rep.kept == 7 and rep.records_in == 7
    # broken.jsonl's valid first line was not ingested: a file is all or nothing
    assert len(vault.list_records(["mixed"])) == 7


def test_filters_and_dedup_within_and_across_batches(home, keys, scrubber, tmp_path, vt):
    from appliance.vault import Vault

    vt.set_vault_config(home, batch_records=3)
    v = Vault.open(home, keys)
    rng = random.Random(5)
    base = [vt.note(rng, 150) for _ in range(6)]
    near = base[0].replace(base[0].split()[10], "zebra", 1)  # one-word edit of base[0]
    junk = ["short", "{}<>|#*" * 20 + " x", "\n".join(["same line again and again"] * 8)]
    r1 = v.ingest([vt.write_jsonl(tmp_path / "1.jsonl", base[:4] + [base[1], near] + junk)], "s1", scrubber=scrubber)
    assert r1.kept == 4 and r1.dropped == {"exact_duplicate": 1, "near_duplicate": 1, "too_short": 1,
                                            "symbol_ratio": 1, "repeated_lines": 1}, r1.to_dict()
    assert len(r1.batches) == 2  # 6 texts passed the filters, 3 per batch
    # a later ingest dedups against everything already stored, in another source too
    near2 = base[2] + " zebra"
    r2 = v.ingest([vt.write_jsonl(tmp_path / "2.jsonl", [base[3], near2, base[4], base[5]])], "s2", scrubber=scrubber)
    assert r2.kept == 2 and r2.dropped == {"exact_duplicate": 1, "near_duplicate": 1}
    st = v.stats()
    assert st["records_active"] == 6 and st["dropped"]["near_duplicate"] == 2


def test_source_name_is_validated(vault, scrubber, tmp_path):
    with pytest.raises(UsageError):
        vault.ingest([tmp_path], "bad name/../x", scrubber=scrubber)


def test_readers_bound_memory(tmp_path):
    s = VaultSection(max_record_chars=100)
    p = tmp_path / "a.txt"
    p.write_text("x" * 10_000)  # over the byte bound (4 bytes/char + framing)
    with pytest.raises(FileRejected):
        validate_file(p, s)
    p2 = tmp_path / "b.jsonl"
    p2.write_text('{"text": "ok"}\n\n{"text": "two"}\n')
    assert list(read_records(p2, s)) == ["ok", "two"] and validate_file(p2, s) == 2
