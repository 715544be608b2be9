"""Tokenizers: train a byte-level BPE on vault text in memory (deterministic), or load a model's own.

A trained tokenizer is saved once, at the start of a run, into ``runs/<name>/tokenizer/`` and reused on
``--resume`` (re-training on a vault that has grown would silently change every token id).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

BOS, EOS, PAD = "<|bos|>", "<|eos|>", "<|pad|>"


def train_bpe(texts: Iterable[str], vocab_size: int, out_dir: Path):
    """Train a byte-level BPE on ``texts`` and save it as an HF tokenizer dir; returns the fast tokenizer."""
    # One thread: the trainer's merge order must not depend on scheduling.
    os.environ.setdefault("RAYON_NUM_THREADS", "1")
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=None, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=[BOS, EOS, PAD],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS, eos_token=EOS, pad_token=PAD,
                                   model_max_length=1 << 30)
    fast.add_bos_token = False
    out_dir.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(str(out_dir))
    return fast


def load(path: Path):
    """Load an HF tokenizer dir (never remote code)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path), trust_remote_code=False, local_files_only=True)


def special_ids(tok) -> tuple[int, int, int]:
    """(bos, eos, pad) ids; a tokenizer without pad uses eos for padding (packed data never pads)."""
    eos = tok.eos_token_id
    if eos is None:
        raise ValueError("tokenizer has no EOS token")
    bos = tok.bos_token_id if tok.bos_token_id is not None else eos
    pad = tok.pad_token_id if tok.pad_token_id is not None else eos
    return bos, eos, pad


def encoder(tok) -> Callable[[str], list[int]]:
    """A text → ids function without special tokens (EOS separators are added by the packer)."""
    backend = tok.backend_tokenizer

    def encode(text: str) -> list[int]:
        return backend.encode(text, add_special_tokens=False).ids

    return encode
