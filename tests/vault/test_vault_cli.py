"""The vault through the real CLI: tamper detection (exit 3), canary grep, kill -9 mid-ingest, bad files."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from appliance._internal import aead_stream as A
from appliance._internal import crypto


def _ingest(cli, home, pf, path, source="notes", env=None):
    return cli("vault", "ingest", str(path), "--source", source, "--passphrase-file", str(pf), "--json",
               home=home, env=env)


def _ids(cli, home, pf) -> list[str]:
    r = cli("vault", "ls", "--json", "--passphrase-file", str(pf), home=home, check=True)
    return [m["id"] for m in json.loads(r.stdout)]


def _obj(home, rid: str) -> Path:
    return home.objects_dir / rid[-2:] / f"{rid}.rec"


def test_tamper_cases_detected_and_untouched_records_still_read(home, passphrase_file, tmp_path, cli, vt):
    vt.set_vault_config(home, chunk_size=1024)
    rng = random.Random(11)
    src = vt.write_jsonl(tmp_path / "n.jsonl", [vt.note(rng, 600) for _ in range(13)])
    r = _ingest(cli, home, passphrase_file, src)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["kept"] == 13
    ids = _ids(cli, home, passphrase_file)
    full = 1024 + A.TAG_BYTES
    p = [_obj(home, i) for i in ids]
    assert all(x.stat().st_size > A.HEADER_BYTES + 3 * full for x in p)  # several chunks each

    def edit(path, fn):
        path.write_bytes(bytes(fn(bytearray(path.read_bytes()))))

    def flip(b):
        b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        return b

    def swap_chunks(b):
        h = A.HEADER_BYTES
        return b[:h] + b[h + full : h + 2 * full] + b[h : h + full] + b[h + 2 * full :]

    def edit_header(b):
        b[5:9] = (2048).to_bytes(4, "big")  # declared chunk size
        return b

    edit(p[0], flip)
    edit(p[1], lambda b: b[: A.HEADER_BYTES + 2 * full])  # truncated at a chunk boundary
    edit(p[2], lambda b: b[: A.HEADER_BYTES + full + 500])  # truncated inside a chunk
    edit(p[3], swap_chunks)
    a, b = p[4].read_bytes(), p[5].read_bytes()  # two records' files swapped
    p[4].write_bytes(b)
    p[5].write_bytes(a)
    edit(p[6], edit_header)
    con = sqlite3.connect(home.catalog_path)
    w7, w8 = (con.execute("SELECT wrapped_key FROM records WHERE id=?", (i,)).fetchone()[0] for i in ids[7:9])
    con.execute("UPDATE records SET wrapped_key=? WHERE id=?", (w8, ids[7]))  # wrapped keys swapped
    con.execute("UPDATE records SET wrapped_key=? WHERE id=?", (w7, ids[8]))
    kek = con.execute("SELECT kek_id FROM records WHERE id=?", (ids[9],)).fetchone()[0]
    from appliance.vault.store import key_aad

    wrong = crypto.wrap(os.urandom(32), os.urandom(32), key_aad(ids[9], kek))  # a data key under the wrong KEK
    con.execute("UPDATE records SET wrapped_key=? WHERE id=?", (wrong, ids[9]))
    con.commit()
    con.close()
    p[10].unlink()  # missing object file

    r = cli("vault", "verify", "--passphrase-file", str(passphrase_file), home=home)
    assert r.returncode == 3, (r.stdout, r.stderr)
    named = {i for i in ids if i in r.stderr}
    assert named == set(ids[:11]), r.stderr
    s = cli("vault", "show", ids[12], "--passphrase-file", str(passphrase_file), home=home)
    assert s.returncode == 0 and len(s.stdout) > 1000  # untouched records still read
    s = cli("vault", "show", ids[3], "--passphrase-file", str(passphrase_file), home=home)
    assert s.returncode == 3

    # flip one random byte in every remaining object file: every record is now bad
    for x in p:
        if x.exists():
            edit(x, flip)
    r = cli("vault", "verify", "--json", "--passphrase-file", str(passphrase_file), home=home)
    assert r.returncode == 3
    assert {b["id"] for b in json.loads(r.stdout)["bad"]} == set(ids)


def test_canary_never_reaches_disk_and_management_commands(home, passphrase_file, tmp_path, cli, vt):
    """One CLI ingest (a canary note, good files and a bad one), then every management command; finally
    grep every byte under the home and TMPDIR for the canary."""
    vt.set_vault_config(home)
    canary = "the quokka lanterns whisper marmalade sonnets beneath a periwinkle aqueduct"
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    env = {"TMPDIR": str(tmpdir)}
    pf = str(passphrase_file)
    rng = random.Random(2)
    d = tmp_path / "in"
    d.mkdir()
    (d / "note.txt").write_text(vt.note(rng) + "\n" + canary + ".\n" + vt.note(rng))
    vt.write_jsonl(d / "more.jsonl", [vt.note(rng) for _ in range(3)])
    (d / "bin.txt").write_bytes(b"\x00\x01\x02" * 100)
    r = _ingest(cli, home, passphrase_file, d, source="m1", env=env)
    assert r.returncode == 1, r.stderr  # one file failed, the rest is ingested
    assert "bin.txt" in r.stderr and json.loads(r.stdout)["kept"] == 4

    ids = _ids(cli, home, pf)
    r = cli("vault", "export", "--source", "m1", "-o", str(home.root / "leak.jsonl"), "--passphrase-file", pf,
            home=home, env=env)
    assert r.returncode == 2 and not (home.root / "leak.jsonl").exists()
    out = tmp_path / "exp.jsonl"
    r = cli("vault", "export", "--source", "m*", "-o", str(out), "--passphrase-file", pf, "--json", home=home, env=env)
    exported = [json.loads(line) for line in out.read_text().splitlines()]
    assert r.returncode == 0 and sorted(e["id"] for e in exported) == sorted(ids)
    with_canary = [e["id"] for e in exported if canary in e["text"]]
    assert len(with_canary) == 1, "the canary must be stored (else the grep proves nothing)"
    r = cli("vault", "show", with_canary[0], "--passphrase-file", pf, home=home, env=env)
    assert r.returncode == 0 and canary in r.stdout
    r = cli("vault", "stats", "--passphrase-file", pf, home=home, env=env)
    assert r.returncode == 0 and "m1" in r.stdout  # human tables
    r = cli("vault", "rotate-key", "--passphrase-file", pf, "--json", home=home, env=env)
    assert r.returncode == 0 and json.loads(r.stdout)["rewrapped"] == 4
    plain = [i for i in ids if i != with_canary[0]]
    r = cli("vault", "shred", "--record", plain[0], "--passphrase-file", pf, "--json", home=home, env=env)
    assert r.returncode == 0 and json.loads(r.stdout)["count"] == 1
    r = cli("vault", "ls", "--shredded", "--json", "--passphrase-file", pf, home=home, env=env)
    assert [m["id"] for m in json.loads(r.stdout)] == [plain[0]]
    r = cli("vault", "verify", "--json", "--passphrase-file", pf, home=home, env=env)
    assert r.returncode == 0 and json.loads(r.stdout)["ok"] == 3
    r = cli("audit", "verify", home=home, env=env)
    assert r.returncode == 0, r.stderr

    needles = [canary.encode(), b"marmalade sonnets", canary.encode("utf-16-le")]
    for root in (home.root, tmpdir):
        for f in root.rglob("*"):
            if f.is_file():
                data = f.read_bytes()
                for n in needles:
                    assert n not in data, f"plaintext canary found in {f}"


def test_kill_mid_ingest_keeps_exactly_committed_batches(home, passphrase_file, tmp_path, cli, vt, scrubber):
    vt.set_vault_config(home, batch_records=4)
    rng = random.Random(4)
    src = vt.write_jsonl(tmp_path / "n.jsonl", [vt.note(rng, 100) for _ in range(24)])
    env = dict(os.environ, APPLIANCE_HOME=str(home.root), APPLIANCE_VAULT_TEST_RECORD_DELAY="0.25")
    env.pop("APPLIANCE_PASSPHRASE_FILE", None)
    proc = subprocess.Popen([sys.executable, "-m", "appliance", "vault", "ingest", str(src), "--source", "crash",
                             "--passphrase-file", str(passphrase_file)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    seen = 0
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
            if home.catalog_path.exists():
                try:
                    con = sqlite3.connect(f"file:{home.catalog_path}?mode=ro", uri=True, timeout=5)
                    seen = con.execute("SELECT COUNT(*) FROM batches").fetchone()[0]
                    con.close()
                except sqlite3.OperationalError:
                    continue
            if seen >= 2:
                time.sleep(0.4)  # now in the middle of batch 3 (some objects staged, none committed)
                break
        assert proc.poll() is None, "ingest finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert seen >= 2
    leftovers = list(home.objects_dir.rglob("*"))
    pf = str(passphrase_file)
    r = cli("vault", "verify", "--json", "--passphrase-file", pf, home=home)
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    con = sqlite3.connect(home.catalog_path)
    batches = con.execute("SELECT n_records FROM batches").fetchall()
    n_records = con.execute("SELECT COUNT(*) FROM records").fetchone()[0]
    con.close()
    assert len(batches) >= seen and all(n == 4 for (n,) in batches)
    assert rep["checked"] == n_records == 4 * len(batches) and rep["ok"] == n_records
    files = [f for f in home.objects_dir.rglob("*") if f.is_file()]
    assert len(files) == n_records  # orphans of the killed batch were swept
    assert len([f for f in leftovers if f.is_file()]) >= n_records
    # the same input again (library, shared scrubber): the committed records are exact duplicates (judged on the
    # raw text, so the scrubber's key does not matter), the rest arrive now
    from appliance.keys import unlock_home
    from appliance.vault import Vault

    with Vault.open(home, unlock_home(home, vt.PASSPHRASE)) as v:
        out = v.ingest([src], "crash", scrubber=scrubber)
        assert out.kept == 24 - n_records and out.dropped == {"exact_duplicate": n_records}
        assert v.verify().ok == 24
