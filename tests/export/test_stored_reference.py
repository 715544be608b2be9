"""The trainer's stored parity reference: reused only while it is bound to the very files exported; a stale
one is recomputed, a forged one fails the export (it can only make parity fail, never pass)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from appliance._internal.parity_reference import (
    STORED_REFERENCE,
    binding,
    load_full_reference,
    save_full_reference,
    write_stored_reference,
)
from appliance.errors import IntegrityError

pytestmark = pytest.mark.llamacpp
pytest.importorskip("llama_cpp")


@pytest.fixture
def model(tiny_models, tmp_path):
    m = tmp_path / "model"
    shutil.copytree(tiny_models("llama"), m)
    write_stored_reference(m)
    return m


def _export(model, site, out):
    from appliance.export import export_gguf

    home, keys = site
    export_gguf(str(model), "f32", home=home, signer=keys.signer, out_dir=out)
    return json.loads((out / "parity.json").read_text())


def test_stored_reference_reused_when_bound(model, site, tmp_path):
    parity = _export(model, site, tmp_path / "a")
    assert parity["passed"] and parity["reference"].startswith("stored with the model"), parity


def test_edited_weights_recompute_the_reference(model, site, tmp_path):
    """An insider edits the weights after training: the stored reference no longer binds, so export computes
    the reference from the edited files (and the GGUF, written from them, still matches them)."""
    from safetensors.numpy import load_file, save_file

    w = model / "model.safetensors"
    tensors = load_file(str(w))
    name = next(k for k in tensors if k.endswith("q_proj.weight"))
    tensors[name] = tensors[name] * 2.0
    save_file(tensors, str(w), metadata={"format": "pt"})
    parity = _export(model, site, tmp_path / "b")
    assert parity["passed"] and parity["reference"] == "computed at export", parity


def test_forged_reference_fails_the_export(model, site, tmp_path):
    """Stored logits rewritten with the binding left intact: the export compares the GGUF with them and fails."""
    ref, meta = load_full_reference(model / STORED_REFERENCE)
    assert meta["binding"] == binding(model)
    ref["logits"] = [lg + np.random.default_rng(0).normal(0, 1.0, lg.shape).astype(np.float32)
                     for lg in ref["logits"]]
    save_full_reference(model / STORED_REFERENCE, ref, meta["binding"])
    with pytest.raises(IntegrityError):
        _export(model, site, tmp_path / "c")
    assert not (tmp_path / "c" / "manifest.json").exists()
