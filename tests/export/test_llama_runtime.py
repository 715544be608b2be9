"""ggml's casts and row quantizers (used by the GGUF writer) give exactly the bytes of the reference encoders."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.mark.llamacpp
def test_ggml_casts_and_quants_match_reference_bytes():
    pytest.importorskip("llama_cpp")
    import gguf
    import torch

    from appliance.export.llama_runtime import half_cast, quantize_rows

    rng = np.random.default_rng(0)
    a = (rng.standard_normal((3, 64, 96)) * 3).astype(np.float32)
    a[0, 0, :6] = [np.inf, -np.inf, -0.0, 65519.0, 1e-8, 3.0e38]  # overflow, subnormal, signed zero
    t = torch.from_numpy(a)
    f16 = half_cast(a, bf16=False)
    assert f16 is not None and f16.shape == a.shape
    assert np.array_equal(f16.view(np.uint16), t.to(torch.float16).numpy().view(np.uint16))
    assert np.array_equal(half_cast(a, bf16=True), t.to(torch.bfloat16).view(torch.int16).numpy())
    b = (rng.standard_normal((3, 64, 96)) * 0.05).astype(np.float32)  # weight-like values
    b[1, 2] = 0.0  # an all-zero block (scale 0)
    for name in ("Q8_0", "Q4_0"):
        qt = gguf.GGMLQuantizationType[name]
        block, size = gguf.GGML_QUANT_SIZES[qt]
        ours = quantize_rows(b, name, b.shape[-1] // block * size)
        assert ours is not None and np.array_equal(ours, gguf.quants.quantize(b, qt)), name
    assert quantize_rows(b, "Q4_K", 1) is None  # K-quants stay with llama.cpp's own quantizer
