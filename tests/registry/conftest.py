"""Registry fixtures: a tiny randomly initialised llama saved as a local HF snapshot (safetensors)."""

from __future__ import annotations

from pathlib import Path

import pytest

TEXTS = [f"patient {i} seen in clinic for follow up of hypertension and diabetes, stable." for i in range(40)]


def build_tiny_model(out: Path, seed: int = 0) -> Path:
    import torch
    from transformers import LlamaForCausalLM

    from appliance.train.presets import build_config
    from appliance.train.tokenizer import special_ids, train_bpe

    tok = train_bpe(TEXTS, 300, out)
    bos, eos, pad = special_ids(tok)
    cfg = build_config("llama", "tiny", vocab_size=len(tok), max_positions=64, bos_id=bos, eos_id=eos, pad_id=pad)
    torch.manual_seed(seed)
    LlamaForCausalLM(cfg).save_pretrained(str(out))
    return out


@pytest.fixture(scope="session")
def tiny_snapshot(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("snap") / "tiny-llama")
