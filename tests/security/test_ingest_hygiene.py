"""Attack: an insider plants symlinks (to /etc/passwd, to a file outside the tree), a FIFO and file names with
ANSI escapes/newlines in the input tree. Ingest must not read outside the tree, not block, and print names
escaped."""

from __future__ import annotations

import json
import os

OUTSIDE = "Outside-the-tree secret note about Zebediah Canarywick, chest pain, stable follow up soon."


def _tree(tmp_path):
    root = tmp_path / "in"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "ok.txt").write_text("Patient seen today for knee pain, physiotherapy advised, review in two weeks.\n")
    secret = tmp_path / "elsewhere.txt"
    secret.write_text(OUTSIDE + "\n")
    os.symlink("/etc/passwd", root / "passwd.txt")
    os.symlink(secret, root / "secret.txt")
    os.symlink("sub/ok.txt", root / "inner.txt")
    os.mkfifo(root / "pipe.txt")
    (root / "dev.jsonl").symlink_to("/dev/zero")
    (root / "bad\x1b[31m\nname.txt").write_text("")  # empty: a per-file error whose name must be escaped
    return root


def test_links_fifo_and_hostile_names(home, passphrase_file, tmp_path, cli):
    root = _tree(tmp_path)
    r = cli("vault", "ingest", str(root), "--source", "s1", "--passphrase-file", str(passphrase_file), "--json",
            home=home, timeout=120)
    assert r.returncode == 1, r.stderr  # some files failed
    rep = json.loads(r.stdout)
    assert rep["kept"] == 1 and rep["files_ok"] == 1
    err = r.stderr
    for name in ("passwd.txt", "secret.txt", "inner.txt", "dev.jsonl"):
        assert f"{name}: symbolic link (not followed" in err
    assert "pipe.txt: not a regular file (FIFO; refused)" in err
    assert "\x1b" not in err and "bad\\x1b[31m\\x0aname.txt: empty file" in err
    assert all(line.startswith(("error:", "  ", "next:")) or not line for line in err.splitlines())


def test_follow_symlinks_stays_inside_the_tree(home, passphrase_file, tmp_path, cli):
    root = _tree(tmp_path)
    r = cli("vault", "ingest", str(root), "--source", "s1", "--follow-symlinks", "--passphrase-file",
            str(passphrase_file), "--json", home=home, timeout=120)
    assert r.returncode == 1, r.stderr
    err = r.stderr
    assert "passwd.txt: symbolic link pointing outside the input tree (refused)" in err
    assert "secret.txt: symbolic link pointing outside the input tree (refused)" in err
    assert "dev.jsonl: symbolic link pointing outside the input tree (refused)" in err
    assert "inner.txt" not in err  # followed: inside the tree (then an exact duplicate of sub/ok.txt)
    rep = json.loads(r.stdout)
    assert rep["kept"] == 1 and rep["dropped"].get("exact_duplicate") == 1
    out = tmp_path / "export.jsonl"
    cli("vault", "export", "--source", "s1", "-o", str(out), "--passphrase-file", str(passphrase_file), home=home,
        check=True)
    exported = out.read_text()
    assert "knee pain" in exported and "Canarywick" not in exported and "root:" not in exported


def test_named_symlink_and_fifo_refused(home, passphrase_file, tmp_path, cli):
    link = tmp_path / "shadow.txt"
    os.symlink("/etc/passwd", link)
    fifo = tmp_path / "p.jsonl"
    os.mkfifo(fifo)
    r = cli("vault", "ingest", str(link), str(fifo), "--source", "s1", "--passphrase-file", str(passphrase_file),
            home=home, timeout=60)
    assert r.returncode == 1
    assert "shadow.txt: symbolic link (not followed" in r.stderr and "p.jsonl: not a regular file (FIFO" in r.stderr
