"""TensorRT: a clear exit-1 refusal without GPU/TensorRT; on a GPU host, an engine built from a signed ONNX
artifact with its GPU/TensorRT recorded, and a refusal to load it when the record does not match."""

from __future__ import annotations

import importlib.util
import json
import shutil

import pytest

HAS_TRT = importlib.util.find_spec("tensorrt") is not None
HAS_GPU = shutil.which("nvidia-smi") is not None


@pytest.mark.skipif(HAS_TRT and HAS_GPU, reason="this host can build engines")
def test_missing_gpu_or_tensorrt_is_a_clear_exit_1(site, site_passphrase_file, tmp_path, cli):
    home, _ = site
    pf = site_passphrase_file
    (tmp_path / "onnx").mkdir()
    p = cli("export", "tensorrt", "--onnx", str(tmp_path / "onnx"), "--passphrase-file", str(pf), home=home)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "TensorRT is not installed" in p.stderr or "no NVIDIA GPU" in p.stderr
    assert "Traceback" not in p.stderr


@pytest.mark.gpu
@pytest.mark.tensorrt
def test_engine_build_records_gpu_and_refuses_mismatch(tiny_models, site, tmp_path):
    pytest.importorskip("tensorrt")
    from appliance.errors import PolicyRefused
    from appliance.export import export_onnx, export_tensorrt
    from appliance.export.tensorrt_export import check_compatible, load_engine
    from appliance.sign import trusted_keys

    home, keys = site
    export_onnx(str(tiny_models("llama")), home=home, signer=keys.signer, out_dir=tmp_path / "onnx")
    m = export_tensorrt(tmp_path / "onnx", home=home, signer=keys.signer, out_dir=tmp_path / "trt",
                        precision="fp16", max_batch=2, max_seq=64)
    facts = m["tensorrt"]
    assert facts["tensorrt"] and facts["gpu"] and facts["compute_capability"]
    engine = load_engine(tmp_path / "trt", trusted_keys(None, home))
    assert engine.num_io_tensors == len(facts["inputs"]) + len(facts["outputs"])
    other = json.loads(json.dumps(facts))
    other["compute_capability"] = "1.0"
    with pytest.raises(PolicyRefused):
        check_compatible(other)
