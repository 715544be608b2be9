"""RFC 6962 tree hashing and proofs, checked against trees computed by hand with plain sha256."""

from __future__ import annotations

import hashlib

import pytest

from appliance.audit.merkle import (
    EMPTY_ROOT,
    CompactRange,
    MerkleTree,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)


def H(b: bytes) -> bytes:
    return hashlib.sha256(b).digest()


def L(d: bytes) -> bytes:  # leaf hash by hand
    return H(b"\x00" + d)


def N(a: bytes, b: bytes) -> bytes:  # interior node by hand
    return H(b"\x01" + a + b)


D = [f"d{i}".encode() for i in range(8)]
l0, l1, l2, l3, l4, l5, l6, l7 = (L(d) for d in D)
n01, n23, n45, n67 = N(l0, l1), N(l2, l3), N(l4, l5), N(l6, l7)
n0123, n4567 = N(n01, n23), N(n45, n67)

# MTH for every size 0..8, spelled out (RFC 6962 §2.1: split at the largest power of two below n).
HAND_ROOTS = {
    0: H(b""),
    1: l0,
    2: n01,
    3: N(n01, l2),
    4: n0123,
    5: N(n0123, l4),
    6: N(n0123, n45),
    7: N(n0123, N(n45, l6)),
    8: N(n0123, n4567),
}


def tree(n: int) -> MerkleTree:
    return MerkleTree([leaf_hash(d) for d in D[:n]])


def test_empty_tree_is_sha256_of_empty_string():
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert tree(0).root == EMPTY_ROOT
    assert CompactRange().root == EMPTY_ROOT


@pytest.mark.parametrize("n", range(9))
def test_roots_match_hand_computed(n):
    assert tree(n).root == HAND_ROOTS[n]
    cr = CompactRange()
    for d in D[:n]:
        cr.append(leaf_hash(d))
    assert cr.root == HAND_ROOTS[n]
    assert tree(8).root_at(n) == HAND_ROOTS[n]


def test_rfc6962_example_inclusion_proofs_for_seven_leaves():
    # RFC 6962 §2.1.3 example tree (7 leaves): a..l named as there.
    t = tree(7)
    j, k = N(n45, l6), n0123
    assert t.inclusion_proof(0) == [l1, n23, j]  # [b, h, l]
    assert t.inclusion_proof(3) == [l2, n01, j]  # [c, g, l]
    assert t.inclusion_proof(4) == [l5, l6, k]  # [f, j, k]
    assert t.inclusion_proof(6) == [n45, k]  # [i, k]
    for i in range(7):
        assert verify_inclusion(L(D[i]), i, 7, t.inclusion_proof(i), HAND_ROOTS[7])


def test_hand_inclusion_proofs_for_other_sizes():
    assert tree(1).inclusion_proof(0) == []
    assert tree(3).inclusion_proof(2) == [n01]
    assert tree(5).inclusion_proof(4) == [n0123]
    assert tree(5).inclusion_proof(1) == [l0, n23, l4]
    assert tree(6).inclusion_proof(5) == [l4, n0123]
    assert tree(8).inclusion_proof(7) == [l6, n45, n0123]
    assert verify_inclusion(l2, 2, 3, [n01], HAND_ROOTS[3])
    assert verify_inclusion(l1, 1, 5, [l0, n23, l4], HAND_ROOTS[5])


def test_rfc6962_example_consistency_proofs():
    t = tree(7)
    # RFC 6962 §2.1.3: PROOF(3, D[7]) = [c, d, g, l]; PROOF(4, D[7]) = [l]; PROOF(6, D[7]) = [i, j, k]
    assert t.consistency_proof(3) == [l2, l3, n01, N(n45, l6)]
    assert t.consistency_proof(4) == [N(n45, l6)]
    assert t.consistency_proof(6) == [n45, l6, n0123]
    for m, proof in ((3, [l2, l3, n01, N(n45, l6)]), (4, [N(n45, l6)]), (6, [n45, l6, n0123])):
        assert verify_consistency(m, 7, HAND_ROOTS[m], HAND_ROOTS[7], proof)


def test_consistency_with_empty_and_equal_trees():
    assert tree(5).consistency_proof(0) == []
    assert verify_consistency(0, 5, H(b""), HAND_ROOTS[5], [])
    assert not verify_consistency(0, 5, l0, HAND_ROOTS[5], [])
    assert verify_consistency(5, 5, HAND_ROOTS[5], HAND_ROOTS[5], [])
    assert not verify_consistency(5, 5, HAND_ROOTS[4], HAND_ROOTS[5], [])


@pytest.mark.parametrize("n", range(1, 9))
def test_every_proof_verifies_and_every_tamper_fails(n):
    t = tree(n)
    for i in range(n):
        p = t.inclusion_proof(i)
        assert verify_inclusion(L(D[i]), i, n, p, HAND_ROOTS[n])
        assert not verify_inclusion(L(b"other"), i, n, p, HAND_ROOTS[n])
        if n > 1:
            assert not verify_inclusion(L(D[i]), (i + 1) % n, n, p, HAND_ROOTS[n])
        if p:
            bad = list(p)
            bad[0] = H(b"x")
            assert not verify_inclusion(L(D[i]), i, n, bad, HAND_ROOTS[n])
            assert not verify_inclusion(L(D[i]), i, n, p[:-1], HAND_ROOTS[n])
        assert not verify_inclusion(L(D[i]), i, n, p + [l0], HAND_ROOTS[n])
    for m in range(1, n):
        p = t.consistency_proof(m)
        assert verify_consistency(m, n, HAND_ROOTS[m], HAND_ROOTS[n], p)
        assert not verify_consistency(m, n, HAND_ROOTS[m], H(b"forged"), p)
        assert not verify_consistency(m, n, H(b"forged"), HAND_ROOTS[n], p)
        if p:
            assert not verify_consistency(m, n, HAND_ROOTS[m], HAND_ROOTS[n], p[:-1])


def test_certificate_transparency_reference_vectors():
    """The roots of the CT reference test tree (certificate-transparency merkle_tree_test)."""
    leaves = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
    roots = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]
    hashes = [leaf_hash(bytes.fromhex(x)) for x in leaves]
    for n in range(1, 9):
        assert MerkleTree(hashes[:n]).root.hex() == roots[n - 1]


def test_larger_tree_matches_compact_range_and_proofs():
    hashes = [leaf_hash(str(i).encode()) for i in range(1000)]
    t = MerkleTree(hashes)
    cr = CompactRange()
    for h in hashes:
        cr.append(h)
    assert cr.root == t.root
    for i in (0, 1, 511, 512, 999):
        assert verify_inclusion(hashes[i], i, 1000, t.inclusion_proof(i), t.root)
    for m in (1, 333, 512, 999):
        assert verify_consistency(m, 1000, t.root_at(m), t.root, t.consistency_proof(m))
