"""A fast, read-only GGUF header reader: scalar metadata and the tensor inventory, nothing else.

gguf-py's ``GGUFReader`` materialises every metadata array element as a numpy memmap view, which takes
seconds for a 32k-token vocabulary; the export path only needs a few scalars and the tensor table, so this
reader walks the header with ``struct`` and skips array payloads.  ``appliance verify`` still uses
``GGUFReader`` (the reference implementation) for the structure check.
"""

from __future__ import annotations

import struct
from pathlib import Path

_MAGIC = b"GGUF"
# GGUF value types → struct format of a scalar (8 = string, 9 = array handled separately)
_SCALAR = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}


class _Buf:
    def __init__(self, f):
        self.f = f

    def read(self, fmt: str):
        size = struct.calcsize("<" + fmt)
        data = self.f.read(size)
        if len(data) != size:
            raise ValueError("truncated GGUF header")
        return struct.unpack("<" + fmt, data)

    def string(self) -> str:
        (n,) = self.read("Q")
        if n > 1 << 24:
            raise ValueError("implausible string length in GGUF header")
        return self.f.read(n).decode("utf-8", errors="replace")

    def _skip_strings(self, count: int) -> None:
        """Step over ``count`` length-prefixed strings by offset arithmetic on a window of the file."""
        start = self.f.tell()
        window, pos, unpack_from = b"", 0, struct.unpack_from
        for _ in range(count):
            if pos + 8 > len(window):
                self.f.seek(start + pos)
                start, window, pos = start + pos, self.f.read(1 << 20), 0
                if len(window) < 8:
                    raise ValueError("truncated GGUF header")
            pos += 8 + unpack_from("<Q", window, pos)[0]
        self.f.seek(start + pos)

    def skip_value(self, vtype: int):
        if vtype == 8:
            return self.string()
        if vtype == 9:
            etype, count = self.read("IQ")
            if etype in _SCALAR:
                self.f.seek(count * struct.calcsize("<" + _SCALAR[etype]), 1)
            elif etype == 8:  # a string array (the vocabulary, the merges): lengths only, never decoded
                self._skip_strings(count)
            else:
                for _ in range(count):
                    self.skip_value(etype)
            return ("array", etype, count)
        return self.read(_SCALAR[vtype])[0]


def read_header(path: Path) -> dict:
    """``{"version", "metadata": {key: scalar | ("array", type, count)}, "tensors": {name: [shape, type]}}``."""
    import gguf

    with open(path, "rb") as f:
        b = _Buf(f)
        if f.read(4) != _MAGIC:
            raise ValueError(f"{path} is not a GGUF file")
        version, n_tensors, n_kv = b.read("IQQ")
        meta = {}
        for _ in range(n_kv):
            key = b.string()
            (vtype,) = b.read("I")
            meta[key] = b.skip_value(vtype)
        tensors = {}
        for _ in range(n_tensors):
            name = b.string()
            (n_dims,) = b.read("I")
            dims = list(b.read("Q" * n_dims))
            ttype, _offset = b.read("IQ")
            tensors[name] = [dims, gguf.GGMLQuantizationType(ttype).name]
    return {"version": version, "metadata": meta, "tensors": tensors}


def inventory(path: Path) -> dict:
    """Architecture, metadata key names and the tensor inventory (the manifest's ``gguf`` facts)."""
    h = read_header(path)
    return {"arch": h["metadata"].get("general.architecture"), "keys": sorted(h["metadata"]),
            "tensors": h["tensors"]}


def context_length(path: Path, cap: int = 4096) -> int:
    """The model's trained context (``{arch}.context_length``), capped to keep the KV cache small."""
    meta = read_header(path)["metadata"]
    ctx = meta.get(f"{meta.get('general.architecture')}.context_length")
    return min(int(ctx), cap) if isinstance(ctx, int) else min(2048, cap)
