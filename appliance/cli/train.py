"""`appliance train --config R.yaml [--resume] [--set key=value ...] [--allow-change key ...] [--json]`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from appliance.cli._common import JsonOpt, PassphraseFileOpt, emit, err_console, get_home, kv_table, unlock


def _render(result: dict) -> None:
    rows = {k: result.get(k) for k in ("run_dir", "final_model", "steps", "final_loss", "eval_ppl", "tokens_seen",
                                       "tokens_per_s", "resumed_from_step", "checkpoint", "train_records",
                                       "heldout_records", "seconds")}
    err_console.print(kv_table("training finished", rows))


def register(root: typer.Typer) -> None:
    @root.command("train")
    def train_cmd(
        config: Annotated[Path, typer.Option("--config", "-c", help="Training recipe (YAML).", dir_okay=False)],
        resume: Annotated[bool, typer.Option("--resume", help="Continue from the newest verified checkpoint.")] = False,
        set_: Annotated[list[str] | None, typer.Option("--set", help="Override a recipe key: key.sub=value.")] = None,
        allow_change: Annotated[
            list[str] | None,
            typer.Option("--allow-change", help="Accept a changed resume-critical setting (logged)."),
        ] = None,
        passphrase_file: PassphraseFileOpt = None,
        json_: JsonOpt = False,
    ) -> None:
        """Train (or --resume) a model from the vault with DeepSpeed; final HF model in runs/<name>/final/."""
        from appliance.train.recipe import load_recipe
        from appliance.train.run import train_from_vault

        load_recipe(config, set_ or [])  # report recipe problems before asking for a passphrase
        home = get_home().require_initialized()
        keys = unlock(passphrase_file, home)
        result = train_from_vault(home, keys, config, overrides=set_ or [], resume=resume,
                                  allow_change=allow_change or [])
        emit(result, json_, _render)
