"""`appliance init`: create the home, keys and config."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from appliance.cli._common import (
    JsonOpt,
    PassphraseFileOpt,
    console,
    emit,
    get_home,
    kv_table,
    read_passphrase,
)


def register(root: typer.Typer) -> None:
    root.command("init")(init)
    _register_config(root)


def init(
    passphrase_file: PassphraseFileOpt = None,
    recovery_key_out: Annotated[
        Path | None, typer.Option("--recovery-key-out", help="Write the recovery key to this file (0600) instead of printing it.")
    ] = None,
    kdf_target_ms: Annotated[int, typer.Option("--kdf-target-ms", help="Argon2id cost to calibrate for, per unlock.")] = 500,
    site_name: Annotated[str | None, typer.Option("--site-name", help="Site name for appliance.toml and signatures.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Create a new appliance home: layout (0700), master key in slots, vault key, site signing key."""
    from appliance.audit import record
    from appliance.keys import init_home, unlock_home

    home = get_home()
    passphrase = read_passphrase(passphrase_file, confirm=True, prompt="New passphrase")
    res = init_home(home, passphrase, kdf_target_ms=kdf_target_ms, site_name=site_name)
    keys = unlock_home(home, passphrase, audit=False)
    record(home, "keys.init", {"signing_key": res.signing_key_id, "kek": res.vault_kek_id}, signer=keys.signer)
    if recovery_key_out:
        fd = os.open(recovery_key_out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(res.recovery_key + "\n")
    out = res.to_dict() | {"recovery_key_file": str(recovery_key_out) if recovery_key_out else None}

    def render(d: dict) -> None:
        console.print(kv_table(f"initialised {d['home']}", {k: v for k, v in d.items() if k not in ("kdf", "home")}))

    emit(out, json_out, render)
    if not recovery_key_out:
        # Shown once, deliberately on stderr-free stdout after the table: write it down and store it offline.
        typer.echo("")
        typer.echo("RECOVERY KEY (shown once; store it offline, it unlocks everything):")
        typer.echo(res.recovery_key)


config_app = typer.Typer(help="Check the site configuration (appliance.toml).", no_args_is_help=True)


@config_app.command("check")
def config_check(json_out: JsonOpt = False) -> None:
    """Validate appliance.toml and list every problem at once (exit 2), and every waiver (scrubbing off unwaived: exit 4)."""
    from appliance.config import load_site_config
    from appliance.scrub.damage import setting_notes
    from appliance.vault import scrub_policy

    home = get_home()
    cfg = load_site_config(home.config_path)
    pol = scrub_policy.enforce(cfg.scrub, cfg.waiver, str(home.config_path))  # exit 4: scrubbing off, no waiver
    waivers = [w.model_dump() for w in cfg.waiver.scrub]
    notes = setting_notes(cfg.scrub)
    out = {"path": str(home.config_path), "ok": not pol.unwaived, "config": cfg.model_dump(),
           "waivers": waivers, "unscrubbed": pol.unscrubbed, "unwaived": pol.unwaived, "notes": notes}

    def render(d: dict) -> None:
        for w in d["waivers"]:
            console.print(f"WAIVER scrub {', '.join(w['types'])}: {w['reason']}"
                          + (f" (approved by {w['approved_by']})" if w.get("approved_by") else ""), markup=False)
        for n in d["notes"]:
            console.print(f"NOTE {n}", markup=False)
        console.print(f"{d['path']}: ok" + (f" ({len(d['waivers'])} waiver(s))" if d["waivers"] else ""),
                      markup=False)

    emit(out, json_out, render)


def _register_config(root: typer.Typer) -> None:
    root.add_typer(config_app, name="config")
