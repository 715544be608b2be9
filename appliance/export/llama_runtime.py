"""llama.cpp as the export subsystem uses it: loading a GGUF on CPU, its quantizer, and ggml's row casts.

Every use of llama-cpp-python in ``export/`` (parity, verify --parity, generate, K-quant re-quantization) goes
through here, so the thread count, the KV-cache type and the "not installed" error are decided once.

ggml's own SIMD fp32 → f16/bf16 row conversions (``libggml-cpu``, shipped inside the llama-cpp-python wheel)
are about ten times faster than torch's cast and round identically (round-to-nearest-even, checked in
tests/export); using them keeps the exporting process free of a torch import when the checkpoint is f32/f16.
Without the library the writer falls back to torch.
"""

from __future__ import annotations

import ctypes
import logging
import os
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import numpy as np

from appliance.errors import ApplianceError, MissingComponent


def require_llama_cpp():
    """The ``llama_cpp`` module, or :class:`MissingComponent` with the next step."""
    try:
        import llama_cpp
    except ImportError:
        raise MissingComponent("llama-cpp-python is not installed",
                               hint="pip install the llama-cpp-python wheel from the install bundle") from None
    return llama_cpp


def llama_threads() -> int:
    """Half the CPUs (at least one): llama.cpp's spinning workers collapse when the host is oversubscribed."""
    return max(1, min(8, (os.cpu_count() or 2) // 2))


def context_length(path: Path, cap: int = 4096) -> int:
    """The model's trained context, capped so a long-context model does not allocate a huge KV cache."""
    from appliance.export.gguf_header import context_length as header_context

    return header_context(path, cap)


def load_llama(gguf_path: Path, n_ctx: int = 512, logits_all: bool = True, threads: int | None = None):
    """A llama-cpp-python model on CPU, quiet, deterministic (memory-mapped weights, f32 KV cache)."""
    from appliance._internal.quiet import third_party_verbose

    llama_cpp = require_llama_cpp()
    n_ctx = context_length(gguf_path, cap=n_ctx)
    # f32 KV cache: llama.cpp's default f16 cache alone costs ~1e-3 on the logits, hiding real differences
    threads = threads or llama_threads()
    return llama_cpp.Llama(model_path=str(gguf_path), n_ctx=n_ctx, n_batch=n_ctx, logits_all=logits_all,
                           n_threads=threads, n_threads_batch=threads, verbose=third_party_verbose(), seed=0,
                           n_gpu_layers=0, use_mmap=True, type_k=llama_cpp.GGML_TYPE_F32,
                           type_v=llama_cpp.GGML_TYPE_F32)


def text_form(llm) -> str | None:
    """The Unicode normalization form the GGUF's tokenizer applies before BPE (None: none); see gguf_vocab."""
    from appliance.export.gguf_vocab import NORMALIZER_KEY

    return (getattr(llm, "metadata", None) or {}).get(NORMALIZER_KEY)


def prepare_text(llm, text: str) -> str:
    """``text`` as the HF tokenizer would see it after its normalizer (llama.cpp applies none itself)."""
    from appliance.export.gguf_vocab import normalize_text

    return normalize_text(text, text_form(llm))


def quantize(src: Path, dst: Path, qtype: str) -> None:
    """Re-quantize ``src`` GGUF into ``dst`` with llama.cpp (K-quants)."""
    try:
        import llama_cpp
    except ImportError:
        raise MissingComponent(f"--type {qtype} needs llama-cpp-python (llama.cpp's quantizer)",
                               hint="install the llama-cpp-python wheel, or use --type q8_0 / q4_0") from None
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = {"q4_k_m": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M}[qtype]
    params.nthread = max(1, os.cpu_count() or 1)
    with _quiet_native_log():
        rc = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(params))
    if rc != 0:
        raise ApplianceError(f"llama.cpp quantization to {qtype} failed (code {rc})",
                             hint="re-run with -vv; try --type q8_0")


@contextmanager
def _quiet_native_log():
    """llama.cpp's log (the quantizer's ~60 lines) off unless -v; a Llama(verbose=False) resets the level to
    ERROR, which still lets ggml's warnings through (see :data:`appliance._internal.quiet.QUIET_LEVELS`)."""
    from appliance._internal.quiet import third_party_verbose

    logger = logging.getLogger("llama-cpp-python")
    old = logger.level
    if not third_party_verbose():
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(old)


@lru_cache(maxsize=1)
def _ggml_base():
    """``libggml-base`` with ``ggml_quantize_chunk`` typed, or None."""
    lib_dir = _lib_dir()
    if lib_dir is None:
        return None
    try:
        lib = ctypes.CDLL(str(lib_dir / "libggml-base.so"), mode=ctypes.RTLD_GLOBAL)
        fn = lib.ggml_quantize_chunk
    except (OSError, AttributeError):
        return None
    fn.restype = ctypes.c_size_t
    fn.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64,
                   ctypes.c_void_p]
    return lib


def _lib_dir() -> Path | None:
    import importlib.util

    try:
        spec = importlib.util.find_spec("llama_cpp")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "lib"


@lru_cache(maxsize=1)
def _ggml_cpu():
    """``libggml-cpu`` from the llama-cpp-python wheel with the two row casts typed, or None."""
    if _ggml_base() is None:  # loaded first, globally: libggml-cpu resolves its symbols against it
        return None
    try:
        lib = ctypes.CDLL(str(_lib_dir() / "libggml-cpu.so"))
        for name in ("ggml_cpu_fp32_to_fp16", "ggml_cpu_fp32_to_bf16"):
            fn = getattr(lib, name)
            fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
            fn.restype = None
        lib.ggml_cpu_init.argtypes = []
        lib.ggml_cpu_init.restype = None
        lib.ggml_cpu_init()
    except (OSError, AttributeError):
        return None
    return lib


def half_cast(a: np.ndarray, bf16: bool) -> np.ndarray | None:
    """``a`` (float32) as f16 (``np.float16``) or bf16 (``np.int16`` bits) via ggml; None without the library."""
    lib = _ggml_cpu()
    if lib is None:
        return None
    a = np.ascontiguousarray(a, dtype=np.float32)
    out = np.empty(a.shape, dtype=np.int16 if bf16 else np.float16)
    fn = lib.ggml_cpu_fp32_to_bf16 if bf16 else lib.ggml_cpu_fp32_to_fp16
    fn(a.ctypes.data, out.ctypes.data, a.size)  # ctypes drops the GIL for the call
    return out


#: GGML types whose ggml quantizer needs no importance matrix and no init tables (values of ``enum ggml_type``)
GGML_ROW_QUANTS = {"Q8_0": 8, "Q4_0": 2}


def quantize_rows(a: np.ndarray, type_name: str, row_bytes: int) -> np.ndarray | None:
    """``a`` (float32, rows = last axis) quantized by ggml's reference quantizer — the code llama.cpp itself
    uses, bit-identical to gguf-py's numpy port and ~2x faster; None without the library or for other types."""
    lib = _ggml_base()
    if lib is None or type_name not in GGML_ROW_QUANTS:
        return None
    a = np.ascontiguousarray(a, dtype=np.float32)
    n_per_row = a.shape[-1]
    n_rows = a.size // n_per_row
    out = np.empty((*a.shape[:-1], row_bytes), dtype=np.uint8)
    written = lib.ggml_quantize_chunk(GGML_ROW_QUANTS[type_name], a.ctypes.data, out.ctypes.data, 0, n_rows,
                                      n_per_row, None)
    if written != out.nbytes:
        raise ApplianceError(f"ggml quantized {written} bytes, expected {out.nbytes}")
    return out
