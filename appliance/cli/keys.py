"""`appliance keys`: fingerprints, passphrase slots, signing-key rotation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from appliance.cli._common import JsonOpt, PassphraseFileOpt, console, emit, get_home, read_passphrase, unlock

app = typer.Typer(help="Show key fingerprints, manage passphrase slots, rotate the signing key.")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="keys")


def _unlock_any(passphrase_file: Path | None, recovery_key_file: Path | None):
    if recovery_key_file is not None:
        from appliance.keys import unlock_with_recovery

        return unlock_with_recovery(get_home().require_initialized(), recovery_key_file.read_text())
    return unlock(passphrase_file)


@app.callback(invoke_without_command=True)
def _default(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """With no subcommand: the same as `appliance keys show`."""
    if ctx.invoked_subcommand is None:
        show(json_out)


@app.command("show")
def show(json_out: JsonOpt = False) -> None:
    """Fingerprints of the master key, vault KEKs and signing keys; the key slots."""
    from appliance.keys import describe

    info = describe(get_home())

    def render(d: dict) -> None:
        from rich.table import Table

        console.print(f"master key fingerprint: {d['master_fingerprint']}")
        console.print(f"signing key (sha256 of public key): {d['signing_key']}")
        for r in d["retired_signing_keys"]:
            console.print(f"  retired: {r['key_id']} ({r.get('created') or '?'} → {r['retired']})")
        for f in d.get("ignored_key_files", []):
            console.print(f"  [yellow]ignored (not in the keyring, not trusted):[/] {f}", markup=True)
        console.print(f"vault KEK: {d['vault_kek_current']} (all: {', '.join(d['vault_keks'])})")
        t = Table("slot", "type", "created", "kdf")
        for s in d["slots"]:
            t.add_row(s["id"], s["type"], s.get("created") or "", " ".join(f"{k}={v}" for k, v in s["kdf"].items()))
        console.print(t)

    emit(info, json_out, render)


@app.command("add-passphrase")
def add_passphrase_cmd(
    passphrase_file: PassphraseFileOpt = None,
    new_passphrase_file: Annotated[Path | None, typer.Option("--new-passphrase-file", help="File holding the new passphrase.")] = None,
    recovery_key_file: Annotated[Path | None, typer.Option("--recovery-key-file", help="Unlock with the recovery key instead.")] = None,
    kdf_target_ms: Annotated[int, typer.Option("--kdf-target-ms")] = 500,
    json_out: JsonOpt = False,
) -> None:
    """Add a passphrase slot (unlock with an existing passphrase or the recovery key)."""
    from appliance.keys import add_passphrase

    keys = _unlock_any(passphrase_file, recovery_key_file)
    new = read_passphrase(new_passphrase_file, confirm=True, prompt="New passphrase")
    slot = add_passphrase(keys, new, kdf_target_ms=kdf_target_ms)
    emit({"added_slot": slot}, json_out, lambda d: console.print(f"added key slot {d['added_slot']}"))


@app.command("remove-passphrase")
def remove_passphrase_cmd(
    slot: Annotated[str, typer.Argument(help="Slot id, as shown by `appliance keys show`.")],
    passphrase_file: PassphraseFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Remove a passphrase slot (never the last one)."""
    from appliance.keys import remove_slot

    remove_slot(unlock(passphrase_file), slot)
    emit({"removed_slot": slot}, json_out, lambda d: console.print(f"removed key slot {d['removed_slot']}"))


@app.command("rotate-signing")
def rotate_signing_cmd(passphrase_file: PassphraseFileOpt = None, json_out: JsonOpt = False) -> None:
    """New site signing key; old public keys are kept for verification."""
    from appliance.keys import rotate_signing_key

    res = rotate_signing_key(unlock(passphrase_file))
    emit(res, json_out, lambda d: console.print(f"signing key rotated: {d['old']} → {d['new']}"))
