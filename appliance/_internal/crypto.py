"""Key-level cryptography: random keys, HKDF, Argon2id, AES-256-GCM key wrapping, EC P-256 signing.

Bulk record encryption (chunked AEAD) lives in :mod:`appliance._internal.aead_stream`; this module only
handles small secrets.  Wrapped blobs are ``version(1) || nonce(12) || ciphertext+tag`` and always carry
associated data naming what they wrap, so a blob moved to another slot or record fails to unwrap.
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_BYTES = 32
_WRAP_VERSION = 1


class UnwrapError(Exception):
    """A wrapped blob failed authentication (wrong key, wrong AAD, or tampered)."""


def random_key(n: int = KEY_BYTES) -> bytes:
    return os.urandom(n)


def hkdf(key: bytes, *, salt: bytes | None, info: bytes, length: int = KEY_BYTES) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(key)


def wrap(kek: bytes, secret: bytes, aad: bytes) -> bytes:
    """Encrypt and authenticate ``secret`` under ``kek``, bound to ``aad``."""
    nonce = os.urandom(12)
    return bytes([_WRAP_VERSION]) + nonce + AESGCM(kek).encrypt(nonce, secret, aad)


def unwrap(kek: bytes, blob: bytes, aad: bytes) -> bytes:
    if len(blob) < 1 + 12 + 16 or blob[0] != _WRAP_VERSION:
        raise UnwrapError("wrapped key has an unknown format")
    try:
        return AESGCM(kek).decrypt(blob[1:13], blob[13:], aad)
    except InvalidTag:
        raise UnwrapError("wrapped key failed authentication") from None


def b64e(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64d(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


# -- Argon2id -----------------------------------------------------------------------------------------------

# Upper bounds enforced when reading a keyring: a tampered keyring must not make unlock eat the host.
ARGON2_MAX_MEMORY_KIB = 4 * 1024 * 1024  # 4 GiB
ARGON2_MAX_TIME = 64
ARGON2_MAX_PARALLELISM = 16
# Lower bounds (OWASP 2023 minimum for Argon2id): calibration never goes below these.
ARGON2_MIN_MEMORY_KIB = 19 * 1024
ARGON2_MIN_TIME = 2


@dataclass(frozen=True)
class Argon2Params:
    memory_kib: int
    time_cost: int
    parallelism: int
    salt: bytes

    def to_dict(self) -> dict:
        return {
            "alg": "argon2id",
            "memory_kib": self.memory_kib,
            "time_cost": self.time_cost,
            "parallelism": self.parallelism,
            "salt": b64e(self.salt),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Argon2Params:
        """Parse stored parameters, refusing values outside the enforced bounds."""
        if d.get("alg") != "argon2id":
            raise ValueError(f"unsupported KDF {d.get('alg')!r}")
        p = cls(int(d["memory_kib"]), int(d["time_cost"]), int(d["parallelism"]), b64d(d["salt"]))
        if not (8 <= p.memory_kib <= ARGON2_MAX_MEMORY_KIB):
            raise ValueError(f"argon2 memory_kib {p.memory_kib} outside 8..{ARGON2_MAX_MEMORY_KIB}")
        if not (1 <= p.time_cost <= ARGON2_MAX_TIME):
            raise ValueError(f"argon2 time_cost {p.time_cost} outside 1..{ARGON2_MAX_TIME}")
        if not (1 <= p.parallelism <= ARGON2_MAX_PARALLELISM):
            raise ValueError(f"argon2 parallelism {p.parallelism} outside 1..{ARGON2_MAX_PARALLELISM}")
        if len(p.salt) < 16:
            raise ValueError("argon2 salt shorter than 16 bytes")
        return p


def argon2id(secret: bytes, params: Argon2Params) -> bytes:
    from argon2.low_level import Type, hash_secret_raw

    return hash_secret_raw(
        secret,
        params.salt,
        time_cost=params.time_cost,
        memory_cost=params.memory_kib,
        parallelism=params.parallelism,
        hash_len=KEY_BYTES,
        type=Type.ID,
    )


def calibrate_argon2(target_ms: int, memory_kib: int = 64 * 1024, parallelism: int = 1) -> Argon2Params:
    """Pick Argon2id parameters that take about ``target_ms`` here, never below the OWASP floor."""
    salt = os.urandom(16)
    memory_kib = max(ARGON2_MIN_MEMORY_KIB, memory_kib)
    if target_ms < 150:  # small targets: trade memory down before time (floors still hold)
        memory_kib = ARGON2_MIN_MEMORY_KIB
    probe = Argon2Params(memory_kib, ARGON2_MIN_TIME, parallelism, salt)
    t0 = time.perf_counter()
    argon2id(b"calibration", probe)
    per_pass = max((time.perf_counter() - t0) / ARGON2_MIN_TIME, 1e-4)
    time_cost = int(min(ARGON2_MAX_TIME, max(ARGON2_MIN_TIME, round(target_ms / 1000 / per_pass))))
    return Argon2Params(memory_kib, time_cost, parallelism, salt)


# -- EC P-256 signing ---------------------------------------------------------------------------------------


def new_signing_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def private_key_to_der(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def private_key_from_der(der: bytes) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_der_private_key(der, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError("signing key is not an EC key")  # noqa: TRY004 -- ValueError is this module's contract for a wrong key
    return key


def public_pem(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> bytes:
    pub = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    return pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_public_pem(pem: bytes) -> ec.EllipticCurvePublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("public key is not an EC key")  # noqa: TRY004 -- ValueError is this module's contract for a wrong key
    return key


def fingerprint(pub: ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey) -> str:
    """SHA-256 of the DER SubjectPublicKeyInfo, hex (what `openssl pkey -pubin -outform DER | sha256sum` prints)."""
    if isinstance(pub, ec.EllipticCurvePrivateKey):
        pub = pub.public_key()
    der = pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def sign(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    """ECDSA P-256 / SHA-256, DER-encoded (openssl dgst -sha256 -verify accepts it)."""
    return key.sign(data, ec.ECDSA(hashes.SHA256()))


def verify(pub: ec.EllipticCurvePublicKey, signature: bytes, data: bytes) -> bool:
    try:
        pub.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        return True
    except InvalidSignature:
        return False
