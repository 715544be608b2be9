"""Hashing and canonical encodings used for chains, manifests and signatures."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

_BUF = 1 << 20


def canonical_json(obj: Any) -> bytes:
    """Deterministic JSON bytes: sorted keys, no spaces, UTF-8 (the input to every hash we sign)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode(
        "utf-8"
    )


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_BUF):
            h.update(chunk)
    return h.hexdigest()


def sha256_tree(root: Path) -> dict[str, str]:
    """``{relative posix path: sha256}`` for every regular file under ``root``, sorted."""
    root = Path(root)
    return {
        p.relative_to(root).as_posix(): sha256_file(p) for p in sorted(root.rglob("*")) if p.is_file()
    }
