"""Demo stage "init": `appliance init` in the demo home, then show the key fingerprints and unlock once."""

from __future__ import annotations


def demo_stage(ctx) -> dict:
    from appliance.keys import describe, init_home

    res = init_home(ctx.home, ctx.passphrase, kdf_target_ms=200, site_name="demo-hospital")
    ctx.recovery_key = res.recovery_key
    from appliance.audit import record

    record(ctx.home, "keys.init", {"signing_key": res.signing_key_id, "kek": res.vault_kek_id})
    keys = ctx.keys()  # unlock (audited)
    info = describe(ctx.home)
    return {
        "home": res.home,
        "signing_key": res.signing_key_id,
        "master_fingerprint": res.master_fingerprint,
        "slots": [s["id"] for s in info["slots"]],
        "unlocked_slot": keys.slot_id,
    }
