"""Attacks on the audit log by a home writer without the passphrase (issue 13, part 1)."""

from __future__ import annotations

import json
import shutil

from tests.conftest import run_cli
from tests.security.conftest import drop_lines


def _verify(home, *extra):
    return run_cli("audit", "verify", *extra, home=home)


def test_unlocked_command_ends_with_anchored_checkpoint(site, anchor_dir):
    home, _pw = site
    n = len(home.audit_log_path.read_text().splitlines())
    sizes = sorted(int(p.stem) for p in home.checkpoints_dir.glob("*.note"))
    assert sizes[-1] == n  # the newest signed checkpoint covers the whole log, no export needed
    (anchor,) = anchor_dir.glob("*.json")
    assert json.loads(anchor.read_text())["size"] == n
    p = _verify(home)
    assert p.returncode == 0 and "intact" in p.stdout and "anchor" in p.stdout


def test_locked_entries_are_covered_by_the_next_unlocked_command(site, anchor_dir):
    home, pw = site
    run_cli("audit", "note", "while locked", home=home, check=True)
    run_cli("keys", "show", home=home, check=True)
    run_cli("audit", "note", "unlocked again", "--passphrase-file", str(pw), home=home, check=True)
    n = len(home.audit_log_path.read_text().splitlines())
    (anchor,) = anchor_dir.glob("*.json")
    assert json.loads(anchor.read_text())["size"] == n


def test_deleted_last_entry_and_its_checkpoint_exit_3(site):
    home, _pw = site
    newest = max(home.checkpoints_dir.glob("*.note"), key=lambda p: int(p.stem))
    newest.unlink()
    drop_lines(home.audit_log_path, 1)
    p = _verify(home)
    assert p.returncode == 3, p.stdout + p.stderr
    assert "anchor" in p.stderr and "truncated" in p.stderr


def test_wiped_log_and_checkpoints_exit_3(site):
    home, _pw = site
    shutil.rmtree(home.audit_dir)
    p = _verify(home)
    assert p.returncode == 3 and "anchor" in p.stderr and "log has only 0" in p.stderr


def test_log_older_than_anchor_exit_3(site, tmp_path):
    home, pw = site
    backup = tmp_path / "audit-backup"
    shutil.copytree(home.audit_dir, backup)
    run_cli("audit", "note", "later work", "--passphrase-file", str(pw), home=home, check=True)
    shutil.rmtree(home.audit_dir)
    shutil.copytree(backup, home.audit_dir)  # roll the whole audit/ back to the older copy
    p = _verify(home)
    assert p.returncode == 3 and "anchor" in p.stderr and "missing" in p.stderr


def test_config_cannot_redirect_the_anchor_away(site, tmp_path):
    home, _pw = site
    decoy = tmp_path / "decoy"
    decoy.mkdir()
    cfg = home.config_path.read_text().replace("[audit]\n", f'[audit]\nanchor_dir = "{decoy}"\n', 1)
    home.config_path.write_text(cfg)
    shutil.rmtree(home.audit_dir)
    p = _verify(home)
    assert p.returncode == 3 and "anchor" in p.stderr


def test_exported_checkpoint_catches_a_wipe_without_an_anchor(site, tmp_path, anchor_dir):
    home, _pw = site
    note = tmp_path / "saved.note"
    shutil.copy(max(home.checkpoints_dir.glob("*.note"), key=lambda p: int(p.stem)), note)
    shutil.rmtree(anchor_dir)  # e.g. a host where the anchor could not be written
    shutil.rmtree(home.audit_dir)
    p = _verify(home, "--checkpoint", str(note))
    assert p.returncode == 3 and "saved.note" in p.stderr


def test_report_says_intact_only_against_an_anchor(site, tmp_path, anchor_dir):
    home, _pw = site
    out = tmp_path / "r.html"
    run_cli("report", "-o", str(out), home=home, check=True)
    page = out.read_text()
    assert "Audit log intact" in page and str(anchor_dir) in page
    shutil.rmtree(anchor_dir)
    run_cli("report", "-o", str(out), home=home, check=True)
    page = out.read_text()
    assert "Audit log intact" not in page and "NOT anchored" in page
    p = _verify(home)
    assert p.returncode == 0 and "NOT anchored" in p.stdout
