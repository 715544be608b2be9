"""Key hierarchy: master key in slots → vault KEKs and the EC P-256 site signing key."""

from appliance.keys.keyring import (
    InitResult,
    Signer,
    UnlockedKeys,
    add_passphrase,
    add_vault_kek,
    describe,
    format_recovery_key,
    init_home,
    public_keys,
    remove_slot,
    retire_vault_kek,
    rotate_signing_key,
    unlock_home,
    unlock_with_recovery,
)
from appliance.keys.trust import TrustStore, trust_store

__all__ = [
    "InitResult",
    "Signer",
    "TrustStore",
    "UnlockedKeys",
    "add_passphrase",
    "add_vault_kek",
    "describe",
    "format_recovery_key",
    "init_home",
    "public_keys",
    "remove_slot",
    "retire_vault_kek",
    "rotate_signing_key",
    "trust_store",
    "unlock_home",
    "unlock_with_recovery",
]
