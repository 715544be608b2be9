"""Model presets: (arch, preset) → a transformers config for a randomly initialised model.

Only three architectures are allowed (an allow-list, never an import path from the recipe): ``llama``,
``qwen2`` (the DeepSeek-R1-Distill family) and ``deepseek_v3`` (multi-head latent attention + MoE).
``tiny`` presets train on a CPU in seconds; ``small`` is a laptop-sized smoke model; ``1.5b`` and ``7b``
mirror the published shapes of the distilled models for real hosts.
"""

from __future__ import annotations

from typing import Any

ARCHS = ("llama", "qwen2", "deepseek_v3")

# Shape per preset, shared by all archs; arch-specific extras are added in build_config.
_SHAPES: dict[str, dict[str, int]] = {
    "tiny": {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
                 "num_key_value_heads": 2, "vocab_size": 512},
    "small": {"hidden_size": 256, "intermediate_size": 688, "num_hidden_layers": 4, "num_attention_heads": 8,
                  "num_key_value_heads": 4, "vocab_size": 4096},
    "1.5b": {"hidden_size": 1536, "intermediate_size": 8960, "num_hidden_layers": 28, "num_attention_heads": 12,
                 "num_key_value_heads": 2, "vocab_size": 32000},
    "7b": {"hidden_size": 3584, "intermediate_size": 18944, "num_hidden_layers": 28, "num_attention_heads": 28,
               "num_key_value_heads": 4, "vocab_size": 32000},
}
PRESETS = tuple(_SHAPES)


def _deepseek_extras(shape: dict[str, int]) -> dict[str, Any]:
    h = shape["hidden_size"]
    heads = shape["num_attention_heads"]
    head = h // heads
    return {
        "num_key_value_heads": heads,  # MLA has no grouped KV heads
        "moe_intermediate_size": max(16, shape["intermediate_size"] // 4),
        "n_routed_experts": 4 if h <= 256 else 64,
        "num_experts_per_tok": 2 if h <= 256 else 6,
        "n_shared_experts": 1 if h <= 256 else 2,
        "first_k_dense_replace": 1,
        "n_group": 1,
        "topk_group": 1,
        "routed_scaling_factor": 1.0,
        "norm_topk_prob": True,
        "q_lora_rank": max(16, h // 2),
        "kv_lora_rank": max(16, h // 4),
        "qk_rope_head_dim": max(8, head // 2),
        "qk_nope_head_dim": max(8, head // 2),
        "v_head_dim": max(8, head),
    }


def build_config(arch: str, preset: str, *, vocab_size: int, max_positions: int, bos_id: int, eos_id: int,
                 pad_id: int):
    """A transformers config for ``arch`` at ``preset`` with the tokenizer's vocabulary and special ids."""
    from transformers import DeepseekV3Config, LlamaConfig, Qwen2Config

    if arch not in ARCHS:
        raise ValueError(f"unknown arch {arch!r}")
    shape = dict(_SHAPES[preset])
    shape["vocab_size"] = vocab_size
    common = {
        "max_position_embeddings": max(max_positions, 128),
        "bos_token_id": bos_id,
        "eos_token_id": eos_id,
        "pad_token_id": pad_id,
        "tie_word_embeddings": False,
        "use_cache": False,
        "attention_dropout": 0.0,
    }
    if arch == "llama":
        return LlamaConfig(**shape, **common)
    if arch == "qwen2":
        return Qwen2Config(**shape, **common)
    return DeepseekV3Config(**{**shape, **_deepseek_extras(shape)}, **common)


def default_vocab_size(preset: str) -> int:
    return _SHAPES[preset]["vocab_size"]
