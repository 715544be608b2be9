"""The vault read API, listing, stats, shred (+ hooks), rotate-key (+ crash resume) and export."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys

import pytest

from appliance.errors import IntegrityError, UsageError
from appliance.vault import Vault, on_shred

PASSPHRASE = b"correct horse battery staple"


@pytest.fixture
def filled(vault, scrubber, tmp_path, vt):
    rng = random.Random(1)
    a = [vt.note(rng) for _ in range(6)]
    b = [vt.note(rng) for _ in range(4)]
    ra = vault.ingest([vt.write_jsonl(tmp_path / "a.jsonl", a)], "month1", scrubber=scrubber)
    rb = vault.ingest([vt.write_jsonl(tmp_path / "b.jsonl", b)], "other", scrubber=scrubber)
    assert ra.kept == 6 and rb.kept == 4, (ra.to_dict(), rb.to_dict())
    return vault, ra, rb


def test_read_api(filled):
    v, _ra, rb = filled
    metas = v.list_records()
    assert len(metas) == 10
    assert {m.source for m in v.list_records(["month*"])} == {"month1"}
    assert len(v.list_records(["*"])) == 10 and v.list_records(["nope"]) == []
    m = v.list_records(["other"])[0]
    assert m.batch_id in rb.batches and m.n_chars > 0 and len(m.sha256) == 64
    text = v.read_text(m.id)
    assert len(text) == m.n_chars and v.content_hash(text) == m.sha256
    # no plaintext in the catalog or the objects
    blob = v.home.catalog_path.read_bytes() + b"".join(p.read_bytes() for p in v.objects_dir.rglob("*.rec"))
    assert text[:40].encode() not in blob


def test_open_by_path_and_stats(filled, home, keys):
    v2 = Vault.open(str(home.root), keys)
    st = v2.stats()
    assert st["records_active"] == 10 and set(st["sources"]) == {"month1", "other"}
    assert st["records_by_kek"] == {keys.vault_kek_id: 10}


def test_shred_hooks_tombstone_and_dedup_release(filled, tmp_path, scrubber, vt):
    v, ra, _ = filled
    seen = []
    on_shred.append(lambda ids: seen.append(list(ids)))
    on_shred.append(lambda ids, home=None: seen.append(("home", str(home.root))))
    try:
        rid = ra.record_ids[0]
        text = v.read_text(rid)
        res = v.shred(record_id=rid)
    finally:
        del on_shred[-2:]
    assert res["shredded"] == [rid] and seen[0] == [rid] and seen[1] == ("home", str(v.home.root))
    assert not v.object_path(rid).exists()
    row = v.conn.execute("SELECT state, wrapped_key FROM records WHERE id=?", (rid,)).fetchone()
    assert row["state"] == "shredded" and row["wrapped_key"] is None
    assert v.conn.execute("SELECT COUNT(*) FROM lsh_bands WHERE record_id=?", (rid,)).fetchone()[0] == 0
    with pytest.raises(UsageError):
        v.read_text(rid)
    assert [m.id for m in v.list_records(state="shredded")] == [rid]
    with pytest.raises(UsageError):
        v.shred(record_id=rid)
    # source shred
    res = v.shred(source="other")
    assert res["count"] == 4 and v.list_records(["other"]) == []
    # the shredded text may be ingested again (it is no longer a duplicate of anything active)
    r = v.ingest([vt.write_jsonl(tmp_path / "again.jsonl", [text])], "month1", scrubber=scrubber)
    assert r.kept == 1


def test_rotate_key_rewraps_and_retires(filled, keys):
    v, _, _ = filled
    old = keys.vault_kek_id
    res = v.rotate_key()
    assert res["rewrapped"] == 10 and res["retired"] == [old] and old not in keys.vault_keks
    assert v.verify().ok == 10
    from appliance.keys import unlock_home

    v2 = Vault.open(v.home, unlock_home(v.home, PASSPHRASE))  # a fresh unlock sees the new KEK only
    assert all(v2.read_text(m.id) for m in v2.list_records())
    assert {m.kek_id for m in v2.list_records()} == {res["new_kek"]}


def test_rotate_key_resumes_after_crash(filled, home, tmp_path):
    code = (
        "import sys; from appliance.home import Home; from appliance.keys import unlock_home;"
        "from appliance.vault import Vault;"
        f"from pathlib import Path; h=Home(Path({str(home.root)!r})); Vault.open(h, unlock_home(h, {PASSPHRASE!r})).rotate_key()"
    )
    env = dict(os.environ, APPLIANCE_VAULT_TEST_ROTATE_CRASH_AFTER="4")
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert p.returncode == 137, p.stderr
    from appliance.keys import unlock_home

    keys = unlock_home(home, PASSPHRASE)
    v = Vault.open(home, keys)
    kinds = {m.kek_id for m in v.list_records()}
    assert len(kinds) == 2  # half-way: some under the new KEK, some under the old one; all readable
    assert v.verify().ok == 10
    res = v.rotate_key()
    assert res["resumed"] and res["rewrapped"] == 6 and len(res["retired"]) == 1
    assert {m.kek_id for m in v.list_records()} == {res["new_kek"]} and v.verify().ok == 10


def test_export_refuses_home_and_writes_jsonl(filled, tmp_path):
    v, _, _ = filled
    with pytest.raises(UsageError):
        v.export("month1", v.home.root / "out.jsonl")
    with pytest.raises(UsageError):
        v.export("month1", v.home.vault_dir / "x.jsonl")
    out = tmp_path / "exp" / "m.jsonl"
    out.parent.mkdir()
    res = v.export("month*", out)
    lines = [json.loads(l) for l in out.read_text().splitlines()]
    assert res["records"] == 6 == len(lines) and {l["source"] for l in lines} == {"month1"}
    assert lines[0]["text"] == v.read_text(lines[0]["id"])
    with pytest.raises(UsageError):
        v.export("month1", out)  # exists


def test_read_text_detects_tamper(filled):
    v, ra, _ = filled
    rid = ra.record_ids[1]
    p = v.object_path(rid)
    data = bytearray(p.read_bytes())
    data[-1] ^= 0x80
    p.write_bytes(bytes(data))
    with pytest.raises(IntegrityError):
        v.read_text(rid)
    rep = v.verify()
    assert [b["id"] for b in rep.bad] == [rid] and rep.ok == 9


def test_audit_entries_have_no_text(filled, home):
    v, ra, _ = filled
    text = v.show(ra.record_ids[0])
    v.verify()
    log = b"".join(p.read_bytes() for p in home.audit_dir.rglob("*") if p.is_file())
    for action in (b"vault.ingest", b"vault.ingest.batch", b"vault.show", b"vault.verify"):
        assert action in log
    assert text[:30].encode() not in log


def test_failing_shred_hook_does_not_undo_the_shred(filled):
    v, ra, _ = filled

    def broken(ids):
        raise RuntimeError("registry unavailable")

    on_shred.append(broken)
    try:
        res = v.shred(record_id=ra.record_ids[2])
    finally:
        on_shred.remove(broken)
    assert res["count"] == 1 and any("registry unavailable" in e for e in res["hook_errors"])
    assert v.get(ra.record_ids[2]).state == "shredded"


def test_list_since_and_states(filled):
    v, _ra, _ = filled
    assert len(v.list_records(since="2000-01-01")) == 10
    assert v.list_records(since="2999-01-01") == []
    assert len(v.list_records(state=None)) == 10
    assert v.list_records(state="shredded") == []
