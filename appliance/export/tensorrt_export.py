"""``appliance export tensorrt --onnx DIR``: a TensorRT engine built from a verified ONNX artifact.

The ONNX artifact is verified (signature, hashes, structure) before TensorRT sees it.  The engine is built
with the TensorRT Python API: one optimization profile spanning batch 1..max_batch, sequence 1..max_seq
and a past of 0..max_seq (prefill and decode from the same engine), fp16/bf16/fp32.  A TensorRT engine is
only valid on the GPU architecture (compute capability) and the TensorRT version it was built with, unless
built with compatibility flags — the manifest records TensorRT's version, the GPU name, its compute
capability and the flags used (``hardware_compatibility_level``, ``version_compatible``), and
:func:`load_engine` refuses an engine whose record does not match the running host.

Without TensorRT or an NVIDIA GPU every entry point raises :class:`MissingComponent` (exit 1) before doing
any work.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path
from typing import Any

from appliance.errors import ApplianceError, MissingComponent, PolicyRefused, UsageError
from appliance.home import Home

log = logging.getLogger(__name__)

ENGINE_FILE = "model.engine"
PRECISIONS = ("fp16", "bf16", "fp32")


def gpu_info() -> dict:
    """Name and compute capability of GPU 0 (via nvidia-smi); MissingComponent without a GPU."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        raise MissingComponent("no NVIDIA GPU on this host (nvidia-smi not found); TensorRT needs one",
                               hint="build TensorRT engines on the inference server; ship the ONNX artifact")
    try:
        out = subprocess.run([smi, "--query-gpu=name,compute_cap,driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=30, check=True).stdout.strip()
    except (subprocess.SubprocessError, OSError) as e:
        raise MissingComponent(f"nvidia-smi failed: {e}", hint="check the NVIDIA driver (nvidia-smi)") from None
    if not out:
        raise MissingComponent("nvidia-smi lists no GPU", hint="check the NVIDIA driver (nvidia-smi)")
    name, cc, driver = [x.strip() for x in out.splitlines()[0].split(",")]
    return {"name": name, "compute_capability": cc, "driver": driver}


def _require_tensorrt():
    try:
        import tensorrt as trt
    except ImportError:
        raise MissingComponent("TensorRT is not installed",
                               hint="pip install tensorrt (on a host with an NVIDIA GPU)") from None
    return trt


def _profile_shapes(facts: dict, max_batch: int, max_seq: int) -> dict[str, tuple[tuple, tuple, tuple]]:
    """(min, opt, max) per input: batch 1..max_batch, seq 1..max_seq, past 0..max_seq, total 1..2·max_seq."""
    opt_b, opt_s = max(1, max_batch // 2), max(1, max_seq // 4)
    shapes = {"input_ids": ((1, 1), (opt_b, opt_s), (max_batch, max_seq)),
              "attention_mask": ((1, 1), (opt_b, 2 * opt_s), (max_batch, 2 * max_seq))}
    names = facts["inputs"][2:]
    dims = [(cs[t][1], cs[t][3]) for cs in facts["cache_shapes"] for t in ("key", "value")]
    for name, (h, d) in zip(names, dims):
        shapes[name] = ((1, h, 0, d), (opt_b, h, opt_s, d), (max_batch, h, max_seq, d))
    return shapes


def export_tensorrt(onnx_dir: Path, *, home: Home | None, signer: Any, out_dir: Path | None = None,
                    precision: str = "fp16", max_batch: int = 4, max_seq: int = 512,
                    public_keys: dict | None = None) -> dict:
    """Build a signed TensorRT engine artifact from the ONNX artifact in ``onnx_dir``."""
    from appliance.export.artifact import ArtifactBuilder
    from appliance.export.gguf_export import audit_export
    from appliance.export.verify import verify_artifact
    from appliance.sign import trusted_keys

    if precision not in PRECISIONS:
        raise UsageError(f"unknown precision {precision!r}", hint=f"--precision one of {', '.join(PRECISIONS)}")
    trt = _require_tensorrt()
    gpu = gpu_info()
    keys = public_keys if public_keys is not None else trusted_keys(None, home)
    onnx_report = verify_artifact(Path(onnx_dir), keys, home=home)
    if onnx_report["kind"] != "onnx":
        raise UsageError(f"{onnx_dir} is a {onnx_report['kind']} artifact, not ONNX",
                         hint="appliance export onnx --model VERSION first")
    import json

    onnx_manifest = json.loads((Path(onnx_dir) / "manifest.json").read_text())
    facts = onnx_manifest["onnx"]

    b = ArtifactBuilder("tensorrt", precision, onnx_manifest["artifact_id"], out_dir=out_dir, home=home)
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # explicit batch is the only mode in TensorRT 10
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(Path(onnx_dir) / "model.onnx")):
        errs = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        b.abandon()
        raise ApplianceError("TensorRT could not parse the ONNX graph", details=errs[:10],
                             hint="check the TensorRT version supports this opset")
    config = builder.create_builder_config()
    if precision == "fp16":
        config.set_flag(trt.BuilderFlag.FP16)
    elif precision == "bf16":
        config.set_flag(trt.BuilderFlag.BF16)
    # Engines stay tied to this GPU architecture and TensorRT version (fastest kernels); recorded below.
    config.hardware_compatibility_level = trt.HardwareCompatibilityLevel.NONE
    profile = builder.create_optimization_profile()
    shapes = _profile_shapes(facts, max_batch, max_seq)
    for name, (lo, opt, hi) in shapes.items():
        profile.set_shape(name, lo, opt, hi)
    config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        b.abandon()
        raise ApplianceError("TensorRT engine build failed", hint="re-run with -vv to see TensorRT's log")
    b.path(ENGINE_FILE).write_bytes(bytes(serialized))
    for name in ("tokenizer.json", "tokenizer_config.json", "config.json"):
        if (Path(onnx_dir) / name).is_file():
            b.path(name).write_bytes((Path(onnx_dir) / name).read_bytes())
    engine_facts = {
        "tensorrt": trt.__version__,
        "gpu": gpu["name"],
        "compute_capability": gpu["compute_capability"],
        "driver": gpu["driver"],
        "precision": precision,
        "compatibility": {"hardware_compatibility_level": "NONE", "version_compatible": False,
                          "compute_capability": gpu["compute_capability"], "tensorrt": trt.__version__},
        "profiles": [{k: {"min": list(v[0]), "opt": list(v[1]), "max": list(v[2])} for k, v in shapes.items()}],
        "onnx_artifact": onnx_manifest["artifact_id"],
        "onnx_sha256": onnx_manifest["files"]["model.onnx"]["sha256"],
        "inputs": facts["inputs"], "outputs": facts["outputs"],
    }
    manifest = b.finish(signer=signer, source=onnx_manifest.get("source", {}),
                        registry=onnx_manifest.get("registry", {}), format_facts=engine_facts, parity=None)
    audit_export(home, "export.tensorrt", {"artifact": manifest["artifact_id"], "onnx": onnx_manifest["artifact_id"],
                                           "gpu": gpu["name"], "precision": precision}, signer)
    return manifest


def check_compatible(engine_facts: dict) -> dict:
    """Refuse (exit 4) an engine built for another GPU architecture or TensorRT version."""
    trt = _require_tensorrt()
    gpu = gpu_info()
    problems = []
    if engine_facts.get("tensorrt") != trt.__version__ and not engine_facts["compatibility"]["version_compatible"]:
        problems.append(f"built with TensorRT {engine_facts.get('tensorrt')}, this host has {trt.__version__}")
    if engine_facts.get("compute_capability") != gpu["compute_capability"] and \
            engine_facts["compatibility"]["hardware_compatibility_level"] == "NONE":
        problems.append(f"built for compute capability {engine_facts.get('compute_capability')} "
                        f"({engine_facts.get('gpu')}), this GPU is {gpu['compute_capability']} ({gpu['name']})")
    if problems:
        raise PolicyRefused("this TensorRT engine was built for another GPU or TensorRT version", details=problems,
                            hint="rebuild it here: appliance export tensorrt --onnx ONNX_ARTIFACT_DIR")
    return {"gpu": gpu, "tensorrt": trt.__version__}


def load_engine(directory: Path, public_keys: dict, home: Home | None = None):
    """Verify an engine artifact, check it matches this GPU/TensorRT, and deserialize it."""
    import json

    from appliance.export.verify import verify_artifact

    report = verify_artifact(Path(directory), public_keys, home=home)
    if report["kind"] != "tensorrt":
        raise UsageError(f"{directory} is not a TensorRT artifact")
    facts = json.loads((Path(directory) / "manifest.json").read_text())["tensorrt"]
    check_compatible(facts)
    trt = _require_tensorrt()
    runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
    engine = runtime.deserialize_cuda_engine((Path(directory) / ENGINE_FILE).read_bytes())
    if engine is None:
        raise PolicyRefused("TensorRT refused to deserialize the engine", hint="rebuild it on this host")
    return engine
