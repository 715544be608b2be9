"""The files that make up a user's tokenizer, and copying them byte for byte.

A tokenizer the user brought (``model.path``) is the user's: training and export copy its files, never a
``save_pretrained`` of a loaded tokenizer.  transformers may rebuild a tokenizer as an architecture class on
load (transformers 5 turns a Qwen2 ``tokenizer.json`` into ``Qwen2Tokenizer``, adding an NFC normalizer)
and would write *that* back, so a re-save is a rewrite.  Shared by ``train`` and ``export``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

#: Everything a Hugging Face tokenizer directory may hold (``generation_config.json`` carries the special-token
#: ids generation stops on, so it travels with the tokenizer).
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja",
                   "vocab.json", "merges.txt", "added_tokens.json", "tokenizer.model", "generation_config.json")


def tokenizer_files(src: Path) -> list[str]:
    """Names of the tokenizer files present in ``src``."""
    return [n for n in TOKENIZER_FILES if (Path(src) / n).is_file()]


def copy_tokenizer_files(src: Path, dst: Path, *, overwrite: bool = False) -> list[str]:
    """Copy the tokenizer files of ``src`` into ``dst`` byte for byte; returns the names copied.

    ``overwrite=False`` keeps a file already in ``dst`` (e.g. the ``generation_config.json`` a model save
    just wrote); ``overwrite=True`` replaces it, so ``dst`` ends with exactly the user's bytes."""
    src, dst = Path(src), Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    copied = []
    for name in tokenizer_files(src):
        target = dst / name
        if target.exists() and not overwrite:
            continue
        tmp = dst / f".{name}.tmp-{os.getpid()}"
        shutil.copyfile(src / name, tmp)
        os.replace(tmp, target)
        copied.append(name)
    return copied
