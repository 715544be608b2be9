"""Parity judges the quantizer: an undertrained tiny model passes q8_0; a GGUF whose bytes were broken fails."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

pytestmark = pytest.mark.llamacpp
pytest.importorskip("llama_cpp")


@pytest.fixture(scope="module")
def q8(tiny_models, tmp_path_factory):
    """(model dir, clean q8_0 GGUF, PyTorch reference) for the 30-step tiny llama."""
    from appliance.export.gguf_writer import write_gguf
    from appliance.export.parity import torch_reference

    m = tiny_models("llama")
    out = tmp_path_factory.mktemp("q8") / "m.gguf"
    write_gguf(m, out, "q8_0", json.loads((m / "config.json").read_text()))
    return m, out, torch_reference(m)


def _broken_copy(src, dst, tensor: str, edit) -> None:
    """Copy the GGUF and edit one tensor's raw Q8_0 bytes in place, as an attacker or a bad disk would."""
    import gguf

    shutil.copyfile(src, dst)
    r = gguf.GGUFReader(str(dst), "r+")
    t = next(t for t in r.tensors if t.name == tensor)
    assert t.tensor_type.name == "Q8_0"
    edit(t.data.view(np.uint8).reshape(-1, 34))  # a Q8_0 block: f16 scale + 32 int8
    r.data.flush()
    del r


def test_undertrained_model_passes_q8_0(q8):
    from appliance.export.parity import gguf_parity

    m, out, ref = q8
    res = gguf_parity(m, out, "q8_0", reference=ref)
    assert res["passed"], res["failures"]
    assert res["kld_mean"] < res["thresholds"]["kld_mean"] and "top1_agreement_confident" in res


def test_zeroed_attention_row_fails(q8, tmp_path):
    from appliance.export.parity import gguf_parity

    m, out, ref = q8
    row_blocks = 64 // 32  # hidden 64: one output row of attn_v is two Q8_0 blocks

    def zero_row(blocks):
        blocks[:row_blocks] = 0

    bad = tmp_path / "row.gguf"
    _broken_copy(out, bad, "blk.0.attn_v.weight", zero_row)
    res = gguf_parity(m, bad, "q8_0", reference=ref)
    assert not res["passed"] and any("KL" in f for f in res["failures"]), res


def test_swapped_scales_fail(q8, tmp_path):
    from appliance.export.parity import gguf_parity

    m, out, ref = q8

    def swap_scales(blocks):
        blocks[:, :2] = blocks[::-1, :2].copy()

    bad = tmp_path / "scales.gguf"
    _broken_copy(out, bad, "blk.0.ffn_down.weight", swap_scales)
    res = gguf_parity(m, bad, "q8_0", reference=ref)
    assert not res["passed"] and any("KL" in f for f in res["failures"]), res
