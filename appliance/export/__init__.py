"""Exports that leave the appliance: GGUF (llama.cpp), ONNX (onnxruntime), TensorRT engines — each signed,
each checked for parity against the PyTorch model before it is signed.

Public API (heavy libraries are imported inside the functions):

- :func:`export_gguf` (``appliance export gguf``), :func:`export_onnx`, :func:`export_tensorrt`
- :func:`generate` — verify a GGUF artifact, then stream tokens from llama-cpp-python
"""

from __future__ import annotations

from typing import Any


def export_gguf(*args: Any, **kwargs: Any) -> dict:
    """See :func:`appliance.export.gguf_export.export_gguf`."""
    from appliance.export.gguf_export import export_gguf as f

    return f(*args, **kwargs)


def export_onnx(*args: Any, **kwargs: Any) -> dict:
    """See :func:`appliance.export.onnx_export.export_onnx`."""
    from appliance.export.onnx_export import export_onnx as f

    return f(*args, **kwargs)


def export_tensorrt(*args: Any, **kwargs: Any) -> dict:
    """See :func:`appliance.export.tensorrt_export.export_tensorrt`."""
    from appliance.export.tensorrt_export import export_tensorrt as f

    return f(*args, **kwargs)


def generate(*args: Any, **kwargs: Any):
    """See :func:`appliance.export.generate.generate`."""
    from appliance.export.generate import generate as f

    return f(*args, **kwargs)


__all__ = ["export_gguf", "export_onnx", "export_tensorrt", "generate"]
