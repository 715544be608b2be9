"""RFC 6962 / RFC 9162 Merkle tree hashing over audit entries, with inclusion and consistency proofs.

Leaf hash ``SHA-256(0x00 || data)``, interior node ``SHA-256(0x01 || left || right)``, the empty tree hashes
to ``SHA-256("")``.  A tree of ``n`` leaves splits at the largest power of two below ``n``, which is the same
tree as "hash pairs level by level, carry an odd last node up unchanged"; :class:`MerkleTree` builds those
levels once so every inclusion proof costs O(log n).  :class:`CompactRange` keeps only the O(log n) perfect
subtree roots, so the log can be hashed while streaming it.  Verification follows RFC 9162 §2.1.3.2 and
§2.1.4.2 and needs nothing but the hashes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """Largest power of two strictly below ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleTree:
    """An in-memory tree over a list of leaf hashes (32 bytes each)."""

    def __init__(self, leaf_hashes: Sequence[bytes]):
        self.size = len(leaf_hashes)
        levels = [list(leaf_hashes)]
        while len(levels[-1]) > 1:
            below = levels[-1]
            up = [node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
            if len(below) % 2:
                up.append(below[-1])  # an odd last node is carried up unchanged (RFC 6962 split)
            levels.append(up)
        self._levels = levels

    @property
    def root(self) -> bytes:
        return self._levels[-1][0] if self.size else EMPTY_ROOT

    def inclusion_proof(self, index: int) -> list[bytes]:
        """RFC 6962 audit path for leaf ``index``, bottom-up."""
        if not 0 <= index < self.size:
            raise IndexError(f"leaf {index} outside a tree of size {self.size}")
        proof = []
        for level in self._levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                proof.append(level[sibling])
            index >>= 1
        return proof

    def subtree_hash(self, start: int, end: int) -> bytes:
        """MTH of leaves[start:end] (any range, not only tree nodes)."""
        if start == end:
            return EMPTY_ROOT
        n = end - start
        if n & (n - 1) == 0 and start % n == 0:  # an aligned perfect subtree is a stored node
            return self._levels[n.bit_length() - 1][start // n]
        if n == 1:
            return self._levels[0][start]
        k = _split(n)
        return node_hash(self.subtree_hash(start, start + k), self.subtree_hash(start + k, end))

    def root_at(self, size: int) -> bytes:
        """Root of the tree made of the first ``size`` leaves."""
        if not 0 <= size <= self.size:
            raise IndexError(f"size {size} outside 0..{self.size}")
        return self.subtree_hash(0, size)

    def consistency_proof(self, old_size: int) -> list[bytes]:
        """RFC 6962 §2.1.2 PROOF(m, D[n]) between the first ``old_size`` leaves and the whole tree."""
        if not 0 <= old_size <= self.size:
            raise IndexError(f"old size {old_size} outside 0..{self.size}")
        if old_size == 0 or old_size == self.size:
            return []
        return self._subproof(old_size, 0, self.size, True)

    def _subproof(self, m: int, start: int, end: int, complete: bool) -> list[bytes]:
        n = end - start
        if m == n:
            return [] if complete else [self.subtree_hash(start, end)]
        k = _split(n)
        if m <= k:
            return self._subproof(m, start, start + k, complete) + [self.subtree_hash(start + k, end)]
        return self._subproof(m - k, start + k, end, False) + [self.subtree_hash(start, start + k)]


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    return MerkleTree(leaf_hashes).root


class CompactRange:
    """Streaming root: the roots of the perfect subtrees covering the leaves so far, largest first."""

    def __init__(self, size: int = 0, nodes: Sequence[bytes] = ()):
        if len(nodes) != (size).bit_count():
            raise ValueError(f"a compact range of size {size} needs {(size).bit_count()} nodes")
        self.size = size
        self.nodes = list(nodes)

    def append(self, leaf: bytes) -> None:
        self.nodes.append(leaf)
        self.size += 1
        # Merge equal-sized neighbours: one merge per trailing 1-bit of the old size.
        s = self.size
        while s & 1 == 0:
            right = self.nodes.pop()
            left = self.nodes.pop()
            self.nodes.append(node_hash(left, right))
            s >>= 1

    @property
    def root(self) -> bytes:
        if not self.nodes:
            return EMPTY_ROOT
        r = self.nodes[-1]
        for left in reversed(self.nodes[:-1]):
            r = node_hash(left, r)
        return r


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 §2.1.3.2: does ``proof`` show ``leaf`` at ``index`` in the tree of ``size`` with ``root``?"""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if len(p) != HASH_SIZE or sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn & 1 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: is the tree ``old_size``/``old_root`` a prefix of ``new_size``/``new_root``?"""
    if not 0 <= old_size <= new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT
    path = list(proof)
    if any(len(p) != HASH_SIZE for p in path):
        return False
    if old_size & (old_size - 1) == 0:  # an exact power of two: the old root itself starts the path
        path.insert(0, old_root)
    if not path:
        return False
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn & 1 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0
