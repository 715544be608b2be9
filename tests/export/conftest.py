"""Tiny HF checkpoints for the export tests, built here so the tests do not depend on the trainer.

Each model is random-initialised with a fixed seed and carries a byte-level BPE tokenizer trained with
`tokenizers` on a few hundred synthetic lines, saved with ``save_pretrained`` + ``PreTrainedTokenizerFast``,
which is what the appliance trainer writes.  Dimensions are multiples of 32 so every matrix quantizes.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

ARCHS = ("llama", "qwen2", "deepseek_v3")
SPECIALS = ["<|bos|>", "<|eos|>", "<|pad|>"]


def synthetic_lines(n: int = 400, seed: int = 0) -> list[str]:
    """Clinical-looking but fully synthetic text (no PHI), deterministic."""
    rng = random.Random(seed)
    subjects = ["Patient", "The resident", "Nurse on call", "Attending", "Pharmacy", "Radiology"]
    verbs = ["reports", "denies", "notes", "reviewed", "ordered", "recommends", "documented"]
    objects = [
        "mild chest pain", "shortness of breath", "a CBC and BMP", "metformin 500 mg BID",
        "no acute distress", "follow-up in 2 weeks", "an MRI of the knee", "blood pressure 128/84",
        "temperature 38.2 C", "insulin sliding scale", "fall precautions", "a normal ECG",
    ]
    out = []
    for i in range(n):
        s = f"{rng.choice(subjects)} {rng.choice(verbs)} {rng.choice(objects)}"
        if rng.random() < 0.5:
            s += f", and {rng.choice(verbs)} {rng.choice(objects)}"
        s += rng.choice([".", "!", "?", ";"]) + (f" Day {i % 31}, bed {rng.randint(1, 40)}." if i % 3 == 0 else "")
        out.append(s)
    return out


def build_tokenizer(out_dir: Path, vocab_size: int = 384, add_bos: bool = False):
    """Train a byte-level BPE (GPT-2 style pre-tokenizer) and save it as a PreTrainedTokenizerFast."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    if add_bos:  # a tokenizer that prepends BOS itself (llama.cpp must then be told add_bos_token=true)
        tok.post_processor = processors.TemplateProcessing(single="<|bos|> $A", pair="<|bos|> $A <|bos|> $B",
                                                           special_tokens=[("<|bos|>", 0)])
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=2, special_tokens=SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(synthetic_lines(), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|bos|>", eos_token="<|eos|>", pad_token="<|pad|>",
    )
    fast.save_pretrained(out_dir)
    return fast


def _train_briefly(model, tok, steps: int) -> None:
    """A few optimizer steps on the synthetic text: a trained model's logits are peaked like a real one's,
    so quantized top-1 agreement measures quantization error rather than ties in random noise."""
    import torch

    lines = synthetic_lines()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for step in range(steps):
        batch = lines[(step * 16) % len(lines):][:16]
        enc = tok(batch, return_tensors="pt", padding=True)
        labels = enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)
        loss = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad()


def build_tiny_model(arch: str, out_dir: Path, *, seed: int = 0, vocab_size: int = 384,
                     tie_embeddings: bool | None = None, train_steps: int = 30, add_bos: bool = False) -> Path:
    """Write a random-init tiny ``arch`` model + tokenizer into ``out_dir``; returns the directory."""
    import torch
    from transformers import (
        DeepseekV3Config,
        DeepseekV3ForCausalLM,
        LlamaConfig,
        LlamaForCausalLM,
        Qwen2Config,
        Qwen2ForCausalLM,
    )

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tok = build_tokenizer(out_dir, vocab_size, add_bos=add_bos)
    ids = {"bos_token_id": tok.bos_token_id, "eos_token_id": tok.eos_token_id, "pad_token_id": tok.pad_token_id}
    common = dict(vocab_size=vocab_size, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                  num_attention_heads=4, max_position_embeddings=256, rms_norm_eps=1e-6, **ids)
    torch.manual_seed(seed)
    if arch == "llama":
        cfg = LlamaConfig(num_key_value_heads=2, tie_word_embeddings=bool(tie_embeddings), **common)
        model = LlamaForCausalLM(cfg)
    elif arch == "qwen2":
        cfg = Qwen2Config(num_key_value_heads=2, tie_word_embeddings=True if tie_embeddings is None else tie_embeddings,
                          **common)
        model = Qwen2ForCausalLM(cfg)
    elif arch == "deepseek_v3":
        # the trainer's deepseek preset shape (appliance/train/presets.py): q LoRA, small MLA ranks, 4 experts
        cfg = DeepseekV3Config(
            num_key_value_heads=4, moe_intermediate_size=32, n_shared_experts=1, n_routed_experts=4,
            num_experts_per_tok=2, n_group=1, topk_group=1, first_k_dense_replace=1, routed_scaling_factor=1.0,
            norm_topk_prob=True, q_lora_rank=32, kv_lora_rank=16, qk_rope_head_dim=8, qk_nope_head_dim=8,
            v_head_dim=16, num_nextn_predict_layers=0, tie_word_embeddings=bool(tie_embeddings), **common,
        )
        model = DeepseekV3ForCausalLM(cfg)
        # random init leaves the router bias at zero; give it values so the bias path is exercised
        with torch.no_grad():
            for layer in model.model.layers[cfg.first_k_dense_replace:]:
                layer.mlp.gate.e_score_correction_bias.uniform_(-0.05, 0.05)
    else:
        raise ValueError(arch)
    # one thread: on a small shared host, torch's thread pool oversubscribed by other jobs is 20× slower
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _train_briefly(model, tok, steps=train_steps)
    finally:
        torch.set_num_threads(threads)
    model.eval()
    model.save_pretrained(out_dir)
    return out_dir


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    """``tiny_models(arch)`` → path of a cached tiny HF model dir for ``arch`` (built once per session)."""
    cache: dict[str, Path] = {}
    root = tmp_path_factory.mktemp("tiny-models")

    def get(arch: str, variant: str = "") -> Path:
        """``variant``: "" (default) or "bos" (a tokenizer whose post-processor prepends BOS)."""
        key = arch + variant
        if key not in cache:
            cache[key] = build_tiny_model(arch, root / key, seed=0, add_bos=variant == "bos")
        return cache[key]

    return get


SITE_PASSPHRASE = b"export tests passphrase"


def make_site(root: Path):
    """An initialised home and its unlocked keys (fast KDF)."""
    from appliance.home import Home
    from appliance.keys import init_home, unlock_home

    home = Home(Path(root))
    init_home(home, SITE_PASSPHRASE, kdf_target_ms=1)
    return home, unlock_home(home, SITE_PASSPHRASE)


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    """``(home, keys)`` shared by the export tests."""
    return make_site(tmp_path_factory.mktemp("site") / "home")


@pytest.fixture
def site_passphrase_file(tmp_path) -> Path:
    p = tmp_path / "site-passphrase"
    p.write_bytes(SITE_PASSPHRASE + b"\n")
    p.chmod(0o600)
    return p


# The real-tokenizer bases (deepseek_real, qwen_real) are session fixtures of tests/conftest.py (tests/real_bases.py).
