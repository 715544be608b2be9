"""Chunked AEAD: round trips at chunk edges, and every kind of tamper is detected."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from appliance._internal import aead_stream as A

CHUNK = 64
KEY = bytes(range(32))
AAD = b"record-1"
FULL = CHUNK + A.TAG_BYTES

edge_lengths = st.sampled_from([0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 3 * CHUNK + 5, 7 * CHUNK])


@settings(max_examples=60, deadline=None)
@given(n=st.one_of(edge_lengths, st.integers(0, 10 * CHUNK)), data=st.data())
def test_round_trip(n, data):
    pt = data.draw(st.binary(min_size=n, max_size=n))
    sealed = A.encrypt(KEY, pt, AAD, CHUNK)
    assert len(sealed) == A.sealed_size(n, CHUNK)
    assert A.plaintext_size(sealed) == n
    assert bytes(A.decrypt(KEY, sealed, AAD)) == pt
    out = bytearray(n)
    assert A.decrypt_into(KEY, sealed, out, AAD) == n and bytes(out) == pt


def test_encrypt_into_preallocated_and_wrong_size():
    pt = os.urandom(200)
    buf = bytearray(A.sealed_size(200, CHUNK))
    assert A.encrypt_into(KEY, pt, buf, AAD, CHUNK) == len(buf)
    assert bytes(A.decrypt(KEY, buf, AAD)) == pt
    with pytest.raises(ValueError):
        A.encrypt_into(KEY, pt, bytearray(len(buf) + 1), AAD, CHUNK)
    with pytest.raises(ValueError):
        A.decrypt_into(KEY, buf, bytearray(199), AAD)


def test_same_plaintext_encrypts_differently():
    assert A.encrypt(KEY, b"x" * 100, AAD, CHUNK) != A.encrypt(KEY, b"x" * 100, AAD, CHUNK)


SEALED = bytes(A.encrypt(KEY, os.urandom(3 * CHUNK + 10), AAD, CHUNK))  # 4 chunks, last partial


@settings(max_examples=150, deadline=None)
@given(pos=st.integers(0, len(SEALED) - 1), bit=st.integers(0, 7))
def test_any_bit_flip_is_detected(pos, bit):
    bad = bytearray(SEALED)
    bad[pos] ^= 1 << bit
    with pytest.raises(A.StreamError):
        A.decrypt(KEY, bad, AAD)


@pytest.mark.parametrize("cut", [
    A.HEADER_BYTES, A.HEADER_BYTES + 5, A.HEADER_BYTES + FULL, A.HEADER_BYTES + FULL + 17,
    A.HEADER_BYTES + 2 * FULL, A.HEADER_BYTES + 3 * FULL, len(SEALED) - 1, 10,
])
def test_truncation_at_and_inside_chunk_boundaries(cut):
    with pytest.raises(A.StreamError):
        A.decrypt(KEY, SEALED[:cut], AAD)


def test_chunk_swap_and_reorder_and_append():
    h, body = SEALED[: A.HEADER_BYTES], SEALED[A.HEADER_BYTES :]
    c = [body[i : i + FULL] for i in range(0, len(body), FULL)]
    for bad in (h + c[1] + c[0] + c[2] + c[3], h + c[0] + c[2] + c[1] + c[3], h + c[0] + c[1] + c[2],
                SEALED + c[0], h + c[0] + c[1] + c[2] + c[2] + c[3]):
        with pytest.raises(A.StreamError):
            A.decrypt(KEY, bad, AAD)


def test_chunks_from_another_object_with_same_key_fail():
    other = bytes(A.encrypt(KEY, os.urandom(3 * CHUNK + 10), AAD, CHUNK))  # same key and AAD, new salt
    mixed = SEALED[: A.HEADER_BYTES + FULL] + other[A.HEADER_BYTES + FULL :]
    with pytest.raises(A.StreamError):
        A.decrypt(KEY, mixed, AAD)


def test_header_edits_wrong_key_wrong_aad():
    for field_pos in (0, 4, 5, 8, 9, A.HEADER_BYTES - 1):  # magic, version, chunk size, salt
        bad = bytearray(SEALED)
        bad[field_pos] ^= 0x01
        with pytest.raises(A.StreamError):
            A.decrypt(KEY, bad, AAD)
    with pytest.raises(A.StreamError):
        A.decrypt(os.urandom(32), SEALED, AAD)
    with pytest.raises(A.StreamError):
        A.decrypt(KEY, SEALED, b"record-2")


def test_empty_plaintext_is_one_authenticated_chunk():
    sealed = bytes(A.encrypt(KEY, b"", AAD, CHUNK))
    assert len(sealed) == A.HEADER_BYTES + A.TAG_BYTES
    assert A.decrypt(KEY, sealed, AAD) == b""
    with pytest.raises(A.StreamError):
        A.decrypt(KEY, sealed[: A.HEADER_BYTES], AAD)


def test_hkdf_matches_rfc5869_implementation():
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    ikm, salt, info = os.urandom(32), os.urandom(32), b"appliance/aead-stream/v1\x00header+aad"
    ref = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm)
    assert A.hkdf_sha256_32(ikm, salt, info) == ref
