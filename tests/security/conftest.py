"""Fixtures for the insider attacks: a home made through the real CLI, with its anchor in a per-test directory.

The attacker edits files under the home only (never the anchor directory, which stands for the root-owned
``/etc/appliance/anchor``) and does not know the passphrase.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.home import Home
from tests.conftest import PASSPHRASE, run_cli


@pytest.fixture
def anchor_dir(tmp_path: Path, monkeypatch) -> Path:
    d = tmp_path / "etc-appliance-anchor"
    monkeypatch.setenv("APPLIANCE_ANCHOR_DIR", str(d))
    return d


@pytest.fixture
def site(tmp_path: Path, anchor_dir: Path):
    """``(home, pw)``: a home initialised with `appliance init`, then two notes (one unlocked)."""
    pw = tmp_path / "pw"
    pw.write_bytes(PASSPHRASE + b"\n")
    home = Home(tmp_path / "home")
    run_cli("init", "--passphrase-file", str(pw), "--kdf-target-ms", "1", home=home, check=True)
    run_cli("audit", "note", "first review", home=home, check=True)
    run_cli("audit", "note", "second review", "--passphrase-file", str(pw), home=home, check=True)
    return home, pw


def drop_lines(path: Path, n: int) -> None:
    """Delete the last ``n`` lines of a JSONL file, the way an insider with an editor would."""
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-n]))
