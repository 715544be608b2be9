"""Tokenizers: train a byte-level BPE on vault text in memory (deterministic), or load a model's own.

A trained tokenizer is saved once, at the start of a run, into ``runs/<name>/tokenizer/`` and reused on
``--resume`` (re-training on a vault that has grown would silently change every token id).

Vocabulary admission (privacy): the trainer sees only pre-tokens ("words" of the byte-level regex split)
that occur in at least ``min_records`` distinct records.  BPE builds every merge from pairs inside the words
it is given, so every vocabulary entry is a substring of an admitted word and therefore occurs in at least
``min_records`` records: a name that one note leaked (and the scrubber missed) cannot become a token, so it
is not spelled out in ``tokenizer.json`` or in a GGUF vocabulary.  Rare words are still encodable, byte by
byte (the initial alphabet is all 256 bytes).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

BOS, EOS, PAD = "<|bos|>", "<|eos|>", "<|pad|>"


def admitted_words(texts: Iterable[str], min_records: int, pre_tokenizer) -> list[list[str]]:
    """Per record, its pre-tokens (original text pieces) that occur in at least ``min_records`` records."""
    pieces = []
    doc_freq: Counter = Counter()
    for t in texts:
        words = [t[a:b] for _w, (a, b) in pre_tokenizer.pre_tokenize_str(t)]
        pieces.append(words)
        doc_freq.update(set(words))
    keep = {w for w, n in doc_freq.items() if n >= min_records}
    return [[w for w in words if w in keep] for words in pieces]


def train_bpe(texts: Iterable[str], vocab_size: int, out_dir: Path, min_records: int = 5,
              extra_special_tokens: tuple[str, ...] = ()):
    """Train a byte-level BPE on ``texts`` and save it as an HF tokenizer dir; returns the fast tokenizer.

    Only words found in at least ``min_records`` distinct texts reach the trainer (see the module docstring).
    ``extra_special_tokens`` follow BOS/EOS/PAD (a chat run's role markers, :mod:`appliance.train.chat`).
    """
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
        special_tokens=[BOS, EOS, PAD, *extra_special_tokens],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    # Each admitted word is fed as its own string: words are never re-joined, so no merge spans two of them.
    batches = admitted_words(texts, max(1, int(min_records)), tok.pre_tokenizer)
    tok.train_from_iterator(iter(batches), trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS, eos_token=EOS, pad_token=PAD,
                                   model_max_length=1 << 30)
    fast.add_bos_token = False
    out_dir.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(str(out_dir))
    return fast


def load(path: Path):
    """Load an HF tokenizer dir (never remote code).

    With a ``tokenizer.json`` the file is taken as written (``PreTrainedTokenizerFast``): ``AutoTokenizer``
    would rebuild some model types' tokenizers (transformers 5 turns a Qwen2 one into ``Qwen2Tokenizer``
    with an NFC normalizer), and the ids trained on must be the ids the exported GGUF produces."""
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    if (Path(path) / "tokenizer.json").is_file():
        return PreTrainedTokenizerFast.from_pretrained(str(path), local_files_only=True)
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
