"""``appliance export gguf``: HF model → signed GGUF artifact with llama.cpp parity.

f32/f16/bf16/q8_0/q4_0 are written directly by :mod:`appliance.export.gguf_writer`; q4_k_m is written
as f16 first and re-quantized by llama.cpp's own ``llama_model_quantize`` (K-quant search is llama.cpp's
business, not ours).  Parity against PyTorch is part of the export, not an option.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any, Callable

from appliance.errors import IntegrityError, UsageError
from appliance.home import Home

log = logging.getLogger(__name__)

GGUF_TYPES = ("f32", "f16", "bf16", "q8_0", "q4_0", "q4_k_m")
MODEL_FILE = "model.gguf"


def gguf_inventory(path: Path) -> dict:
    """Architecture, key names and the tensor inventory (name → [shape, type]) read back from the file."""
    from appliance.export.gguf_header import inventory

    return inventory(path)


def export_gguf(model: str, qtype: str, *, home: Home | None, signer: Any = None, out_dir: Path | None = None,
                parity: bool = True, keep_failed: bool = False, unlock: Callable[[], Any] | None = None) -> dict:
    """Export ``model`` (registry version or HF dir) as a signed GGUF artifact; returns its manifest.

    ``signer`` signs the artifact; or ``unlock`` returns it, called once the PyTorch reference process has
    started, so that the passphrase's key derivation (or a person typing it) overlaps the reference.  On any
    failure the ``.partial`` staging directory is removed, unless ``keep_failed`` (then a failed parity leaves
    it, unsigned, with ``parity.json`` for inspection)."""
    from appliance.export.artifact import (
        PARITY_FILE,
        REFERENCE_FILE,
        ArtifactBuilder,
        registry_facts,
        source_facts,
        write_json,
    )
    from appliance.export.gguf_writer import write_gguf
    from appliance.export.parity import (
        BackgroundReference,
        gguf_parity,
        llama_side,
        raise_if_failed,
        torch_reference,
    )
    from appliance._internal.parity_reference import STORED_REFERENCE, stored_reference
    from appliance.export.llama_runtime import quantize
    from appliance.export.source import resolve_source
    from appliance.sign import prepare_signing

    if qtype not in GGUF_TYPES:
        raise UsageError(f"unknown GGUF type {qtype!r}", hint=f"--type one of {', '.join(GGUF_TYPES)}")
    src = resolve_source(model, home)
    background = b = None
    phases: dict[str, float] = {}  # seconds since the export started, per finished phase (benchmarks/)

    def mark(phase: str) -> None:
        phases[phase] = round(time.perf_counter() - b.started, 3)
        log.info("%s: %.1fs", phase, phases[phase])

    try:
        b = ArtifactBuilder("gguf", qtype, src.version or src.path.name, out_dir=out_dir, home=home)
        # A fresh CLI process overlaps the PyTorch reference (mostly importing transformers) with the writer;
        # a process that has transformers loaded already (tests, the demo) computes it in-process, cheaper.
        # The trainer stores the reference beside the models it writes, bound to their hashes: read now (cheap),
        # checked against the hashes the manifest computes anyway; without one the child process starts now.
        stored = parity and (src.path / STORED_REFERENCE).is_file()
        background = BackgroundReference(src.path) if parity and not stored \
            and "transformers" not in sys.modules else None
        if unlock is not None:
            signer = unlock()
        if signer is None:
            raise UsageError("export_gguf needs a signer (or unlock)")
        target = b.path(MODEL_FILE)
        name = src.version or src.path.name
        if qtype == "q4_k_m":
            tmp = b.path("model.f16.gguf.tmp")
            summary = write_gguf(src.path, tmp, "f16", src.config, name=name)
            quantize(tmp, target, qtype)
            tmp.unlink()
            summary["bytes"] = target.stat().st_size
        else:
            summary = write_gguf(src.path, target, qtype, src.config, name=name)
        facts = {**summary, **gguf_inventory(target)}
        mark("gguf written")
        result = None
        if parity:
            ours = llama_side(target)  # llama.cpp's half of the check overlaps with PyTorch's
            mark("llama.cpp side of parity done")
        # Work that does not depend on parity also runs while the reference process computes.
        source = source_facts(src)
        b.prehash(MODEL_FILE)
        prepare_signing()
        mark("hashes ready")
        if parity:
            reference, reference_from = None, "computed at export"
            if stored:
                known = {"config.json": source["config_sha256"], "tokenizer.json": source["tokenizer_sha256"],
                         **source["weights_sha256"]}
                reference, why = stored_reference(src.path, known)
                if reference is None:  # edited since training, or other prompts: recompute from these files
                    log.warning("not using the stored parity reference: %s; computing it afresh", why)
                else:
                    reference_from = why
            if reference is None:
                reference = background.result() if background is not None else torch_reference(src.path)
            background = None
            mark("PyTorch reference ready")
            result = gguf_parity(src.path, target, qtype, reference_out=b.path(REFERENCE_FILE), reference=reference,
                                 llama=ours)
            result["reference"] = reference_from
            write_json(b.path(PARITY_FILE), result)
            if not result["passed"]:
                audit_export(home, "export.gguf", {"source": name, "type": qtype, "failures": result["failures"]},
                             signer, outcome="failed")
            raise_if_failed(result, "GGUF", b.staging if keep_failed else None)
        manifest = b.finish(signer=signer, source=source,
                            registry=registry_facts(home, src.version), format_facts=facts,
                            parity=parity_summary(result))
        mark("signed")
        manifest["phases"] = phases
    except BaseException as e:
        if b is not None and not (keep_failed and isinstance(e, IntegrityError)):
            b.abandon()  # only --keep-failed keeps a failed parity's staging directory for inspection
        raise
    finally:
        if background is not None:
            background.cancel()
        src.cleanup()
    audit_export(home, "export.gguf", {"artifact": manifest["artifact_id"], "source": name, "type": qtype,
                                       "model_sha256": manifest["files"][MODEL_FILE]["sha256"],
                                       "parity_passed": bool(result and result["passed"])}, signer)
    return manifest


def audit_export(home: Home | None, action: str, obj: dict, signer: Any, outcome: str = "ok") -> None:
    """Record an export in the home's audit log (ids and hashes only)."""
    if home is None or not home.initialized:
        return
    from appliance.audit import record

    record(home, action, obj, outcome=outcome, signer=signer)


def parity_summary(result: dict | None) -> dict | None:
    """The parity figures the manifest records (parity.json keeps all of them)."""
    if result is None:
        return None
    keys = ("passed", "type", "prompts", "positions", "tokenization_identical", "max_abs_diff", "mean_abs_diff",
            "top1_agreement", "kld_mean", "kld_p99", "confident_positions", "top1_agreement_confident",
            "thresholds", "backend")
    return {k: result.get(k) for k in keys if k in result}
