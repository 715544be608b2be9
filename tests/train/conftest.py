"""Fixtures for the training tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# --import-mode=importlib does not put test folders on sys.path; the helpers module lives next to us.
sys.path.insert(0, str(Path(__file__).resolve().parent))  # train_helpers, test_train_cli


@pytest.fixture(scope="session")
def train_tmp(tmp_path_factory) -> Path:
    """One scratch dir for the session: the reference run is shared by several tests."""
    return tmp_path_factory.mktemp("train")


@pytest.fixture(scope="session")
def reference(train_tmp):
    """The exactness recipe (tiny llama, 2 ranks, 8 steps, checkpoint every 3, keep_last 1), never interrupted."""
    from train_helpers import base_recipe, run

    home = train_tmp / "reference"
    rc, res, err = run(home, base_recipe("exact"))
    assert rc == 0, err[-4000:]
    return home, res
