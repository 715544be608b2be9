"""ONNX export: explicit past/present KV I/O; prefill and one decode step match PyTorch in onnxruntime."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("onnxruntime")


def _export(tiny_models, site, arch, out):
    from appliance.export import export_onnx

    home, keys = site
    return export_onnx(str(tiny_models(arch)), home=home, signer=keys.signer, out_dir=out)


def _check(m, out):
    parity = json.loads((out / "parity.json").read_text())
    assert parity["passed"], parity
    assert parity["prefill_max_abs_diff"] <= 1e-4 and parity["decode_max_abs_diff"] <= 1e-4
    assert parity["top1_agreement"] == 1.0
    n = m["onnx"]["n_layers"]
    assert m["onnx"]["inputs"][:2] == ["input_ids", "attention_mask"]
    assert len(m["onnx"]["inputs"]) == 2 + 2 * n and len(m["onnx"]["outputs"]) == 1 + 2 * n


def test_onnx_llama_prefill_and_decode(tiny_models, site, tmp_path):
    out = tmp_path / "onnx"
    m = _export(tiny_models, site, "llama", out)
    _check(m, out)
    # the exported graph really carries the cache: a 2-step decode from presents equals a full forward
    import onnxruntime as ort

    sess = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    ids = np.array([[5, 17, 42, 8, 99]], dtype=np.int64)
    empty = {n: np.zeros((1, 2, 0, 16), np.float32) for n in names[2:]}
    full = sess.run(None, {"input_ids": ids, "attention_mask": np.ones((1, 5), np.int64), **empty})
    first = sess.run(None, {"input_ids": ids[:, :3], "attention_mask": np.ones((1, 3), np.int64), **empty})
    step = sess.run(None, {"input_ids": ids[:, 3:], "attention_mask": np.ones((1, 5), np.int64),
                           **dict(zip(names[2:], first[1:]))})
    assert np.allclose(step[0][0], full[0][0, 3:], atol=1e-4)
    assert step[1].shape == (1, 2, 5, 16)


def test_onnx_artifact_verifies_with_parity(tiny_models, site, tmp_path, cli):
    home, _ = site
    out = tmp_path / "onnx"
    _export(tiny_models, site, "qwen2", out)
    p = cli("verify", str(out), "--parity", "--public-key", str(home.signing_pub_path), "--json",
            env={"APPLIANCE_HOME": str(tmp_path / "none")})
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["parity"]["passed"]
    data = bytearray((out / "model.onnx").read_bytes())
    data[-100] ^= 0x10
    (out / "model.onnx").write_bytes(bytes(data))
    p = cli("verify", str(out), "--public-key", str(home.signing_pub_path), env={"APPLIANCE_HOME": str(tmp_path / "none")})
    assert p.returncode == 3


@pytest.mark.slow
def test_onnx_deepseek_v3_mla_moe(tiny_models, site, tmp_path):
    out = tmp_path / "onnx"
    m = _export(tiny_models, site, "deepseek_v3", out)
    _check(m, out)
    # MLA: the cache holds the compressed latent (kv_lora_rank) and the shared rope key, one "head"
    assert m["onnx"]["cache_shapes"][0] == {"key": ["batch", 1, "past", 16], "value": ["batch", 1, "past", 8]}
