"""``appliance verify DIR``: is this artifact exactly what the site signed, and is it well-formed?

Export owns the artifact formats, so it owns their checks; :mod:`appliance.sign` only knows signed directories
(the dependency runs one way: export → sign).

Order of checks (each failure is an :class:`IntegrityError`, exit 3):
1. the signature (model-signing bundle) by a pinned key, and every file's SHA-256 (no file missing, none extra);
2. the signed ``manifest.json`` agrees with the files (hash and size of each);
3. the format's structure: for GGUF, the required metadata keys and the exact tensor inventory (name, shape,
   type) recorded at export, read back with ``GGUFReader``; for ONNX, ``onnx.checker`` and the I/O names;
   for a TensorRT engine, that it was built for this GPU and TensorRT (checked when it is loaded);
4. optionally (``--parity``) the parity re-run against the PyTorch reference stored in the artifact.

Needs only the public key: the home is used for the pinned keys and the audit log when there is one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from appliance._internal.hashing import sha256_file
from appliance.errors import IntegrityError, UsageError
from appliance.home import Home
from appliance.sign import verify_directory

log = logging.getLogger(__name__)

MANIFEST_FILE = "manifest.json"
_UNLISTED = {"manifest.json", "model.sig", "signer.pub.pem"}  # written after the manifest's inventory

_REQUIRED_KEYS = {
    "*": ["general.architecture", "tokenizer.ggml.model", "tokenizer.ggml.tokens", "tokenizer.ggml.token_type",
          "tokenizer.ggml.merges", "tokenizer.ggml.pre", "{a}.block_count", "{a}.context_length",
          "{a}.embedding_length", "{a}.attention.head_count", "{a}.attention.head_count_kv",
          "{a}.rope.freq_base", "{a}.attention.layer_norm_rms_epsilon", "{a}.feed_forward_length"],
    "deepseek2": ["{a}.attention.q_lora_rank", "{a}.attention.kv_lora_rank", "{a}.attention.key_length_mla",
                  "{a}.attention.value_length_mla", "{a}.leading_dense_block_count", "{a}.expert_shared_count",
                  "{a}.expert_feed_forward_length", "{a}.rope.dimension_count"],
}


def _check_manifest_files(directory: Path, manifest: dict) -> None:
    listed = manifest.get("files") or {}
    present = {p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()} - _UNLISTED
    problems = [f"missing: {n}" for n in sorted(set(listed) - present)]
    problems += [f"not in manifest: {n}" for n in sorted(present - set(listed))]
    for name in sorted(set(listed) & present):
        if sha256_file(directory / name) != listed[name].get("sha256"):
            problems.append(f"hash differs from manifest: {name}")
    if problems:
        raise IntegrityError("the artifact's files do not match its manifest", details=problems,
                             hint="do not use this artifact; re-export it")


def check_gguf_structure(path: Path, expected: dict) -> dict:
    """Required keys and the exact tensor inventory of a GGUF file; raises IntegrityError."""
    import gguf

    try:
        r = gguf.GGUFReader(str(path))
    except Exception as e:  # noqa: BLE001 - a garbled file fails inside the reader with assorted errors
        raise IntegrityError(f"{path.name} is not a readable GGUF file ({type(e).__name__}: {e})",
                             hint="do not use this artifact; re-export it") from None
    f = r.fields.get("general.architecture")
    arch = bytes(f.parts[f.data[0]]).decode() if f else None
    problems = []
    if arch != expected.get("arch"):
        problems.append(f"architecture {arch!r}, manifest says {expected.get('arch')!r}")
    for key in _REQUIRED_KEYS["*"] + _REQUIRED_KEYS.get(arch or "", []):
        k = key.format(a=arch)
        if k not in r.fields:
            problems.append(f"missing metadata key {k}")
    got = {t.name: [[int(x) for x in t.shape], t.tensor_type.name] for t in r.tensors}
    want = expected.get("tensors") or {}
    problems += [f"missing tensor {n}" for n in sorted(set(want) - set(got))]
    problems += [f"unexpected tensor {n}" for n in sorted(set(got) - set(want))]
    problems += [f"tensor {n}: {got[n]} != manifest {want[n]}" for n in sorted(set(got) & set(want))
                 if got[n] != want[n]]
    n_layer = _field_int(r, f"{arch}.block_count")
    for name in ["token_embd.weight", "output_norm.weight"] + [f"blk.{i}.attn_norm.weight" for i in range(n_layer)]:
        if name not in got:
            problems.append(f"required tensor {name} absent")
    if problems:
        raise IntegrityError(f"{path.name} does not have the structure recorded at export", details=problems[:30],
                             hint="do not use this artifact; re-export it")
    return {"arch": arch, "tensors": len(got), "keys": len(r.fields)}


def _field_int(r, key: str) -> int:
    f = r.fields.get(key)
    return int(f.parts[f.data[0]][0]) if f is not None else 0


def verify_artifact(directory: Path, public_keys: Mapping[str, Any], *, parity: bool = False,
                    home: Home | None = None) -> dict:
    """Run every check on ``directory``; returns a report or raises IntegrityError. Audited if ``home``."""
    directory = Path(directory)
    try:
        report = _verify(directory, public_keys, parity)
    except IntegrityError as e:
        _audit(home, directory, "failed", {"error": e.message})
        raise
    _audit(home, directory, "ok", {"kind": report["kind"], "key_id": report["key_id"], "parity": parity})
    return report


def _verify(directory: Path, public_keys: Mapping[str, Any], parity: bool) -> dict:

    if not directory.is_dir():
        raise UsageError(f"{directory} is not a directory", hint="appliance verify ARTIFACT_DIR")
    sig = verify_directory(directory, public_keys)
    try:
        manifest = json.loads((directory / MANIFEST_FILE).read_text())
    except (OSError, ValueError) as e:
        raise IntegrityError(f"{directory} has no readable {MANIFEST_FILE} ({type(e).__name__})") from None
    _check_manifest_files(directory, manifest)
    kind = manifest.get("kind")
    report: dict[str, Any] = {"path": str(directory), "artifact_id": manifest.get("artifact_id"), "kind": kind,
                              "format": manifest.get("format"), "key_id": sig["key_id"],
                              "files": len(manifest.get("files", {})), "signature": "ok",
                              "registry": manifest.get("registry"), "appliance_version":
                              manifest.get("appliance_version")}
    if kind == "gguf":
        report["structure"] = check_gguf_structure(directory / "model.gguf", manifest.get("gguf") or {})
    elif kind == "onnx":
        from appliance.export.onnx_export import check_onnx_structure

        report["structure"] = check_onnx_structure(directory, manifest.get("onnx") or {})
    elif kind == "tensorrt":
        report["structure"] = {"engine_bytes": (directory / "model.engine").stat().st_size,
                               "built_for": (manifest.get("tensorrt") or {}).get("compatibility")}
    else:
        raise IntegrityError(f"unknown artifact kind {kind!r} in manifest")
    if parity:
        report["parity"] = _recheck_parity(directory, kind, manifest)
    return report


def _recheck_parity(directory: Path, kind: str, manifest: dict) -> dict:
    from appliance.export.artifact import REFERENCE_FILE
    from appliance.export.parity import recheck_gguf

    ref = directory / REFERENCE_FILE
    if not ref.is_file():
        raise IntegrityError("the artifact carries no parity reference to re-run", hint="re-export it")
    if kind == "gguf":
        result = recheck_gguf(directory / "model.gguf", ref, manifest["format"])
    elif kind == "onnx":
        from appliance.export.onnx_export import recheck_onnx

        result = recheck_onnx(directory, ref, manifest)
    else:
        raise UsageError(f"--parity is not available for {kind} artifacts")
    if not result["passed"]:
        raise IntegrityError(f"parity re-run failed for {directory}", details=result["failures"],
                             hint="do not use this artifact")
    return result


def _audit(home: Home | None, directory: Path, outcome: str, obj: dict) -> None:
    if home is None or not home.initialized:
        return
    from appliance.audit import record

    record(home, "artifact.verify", {"artifact": directory.name, **obj}, outcome=outcome)
