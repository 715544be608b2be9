"""Fixtures for the signing tests: reuse the tiny-model builder of tests/export (loaded by path, since the
test folders are not packages)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("export_fixtures", Path(__file__).parents[1] / "export" / "conftest.py")
export_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(export_fixtures)


@pytest.fixture(scope="module")
def signed_pair(tmp_path_factory):
    """Two signed GGUF artifacts of two different models, exported by one site; ``(site, a_dir, b_dir)``."""
    from appliance.export import export_gguf

    root = tmp_path_factory.mktemp("signed")
    home, keys = export_fixtures.make_site(root / "home")
    a = export_fixtures.build_tiny_model("llama", root / "model-a", seed=0, train_steps=0)
    b = export_fixtures.build_tiny_model("llama", root / "model-b", seed=1, train_steps=0)
    # parity is exercised in tests/export; here only signatures and structure matter
    export_gguf(str(a), "q8_0", home=home, signer=keys.signer, out_dir=root / "art-a", parity=False)
    export_gguf(str(b), "q8_0", home=home, signer=keys.signer, out_dir=root / "art-b", parity=False)
    return (home, keys), root / "art-a", root / "art-b"
