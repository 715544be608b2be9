"""`appliance retrain [--dry-run] [--exclude-shredded] [--resume] [--json]`: the monthly retrain cycle."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from appliance.cli._common import JsonOpt, PassphraseFileOpt, console, emit, err_console, kv_table, unlock


def register(root: typer.Typer) -> None:
    root.command("retrain")(retrain_cmd)


def _render(d: dict) -> None:
    p = d["plan"]
    c = p["counts"]
    console.print(f"[bold]retrain[/]: {d['status']}   champion {d['champion']}   base {p['base'] or '(root recipe)'} "
                  f"({p['base_reason']})", markup=True)
    rows = {"run": p["run_name"], "new records (train / held-out)": f"{c['new_train']} / {c['new_heldout']}",
            "replay records": f"{c['replay']} of {c['old_train_available']} (share {p['replay_share']:.0%}, "
                              f"target {p['replay_fraction']:.0%})",
            "old held-out records": c["old_heldout"],
            "learning rate": f"peak {p['lr'].get('peak_lr')} = {p['lr'].get('rewarm_fraction')} × "
                             f"{p['lr'].get('original_peak_lr')}, warmup {p['lr'].get('warmup_steps')} of "
                             f"{p['lr'].get('max_steps')} steps, {p['lr'].get('schedule')} decay"}
    if p.get("shredded_excluded"):
        rows["shredded records left out"] = p["shredded_excluded"]
    console.print(kv_table("plan", rows))
    for w in p.get("warnings", []):
        err_console.print(f"warning: {w}")
    if d.get("reason"):
        console.print(d["reason"])
    g = d.get("gate")
    if g:
        for ch in g["checks"]:
            console.print(f"  {'PASS' if ch['passed'] else 'FAIL'} {ch['check']}: "
                          + ", ".join(f"{k}={v}" for k, v in ch.items() if k not in ('check', 'passed')))
        console.print(f"candidate {d['candidate']}: {g['decision']}"
                      + (f" → champion is now {d['champion']}" if d["status"] == "promoted" else ""))


def retrain_cmd(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan (counts, replay share, LR plan); train nothing.")] = False,
    exclude_shredded: Annotated[bool, typer.Option("--exclude-shredded", help="Start from the newest version not trained on shredded records.")] = False,
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted retrain run (same plan).")] = False,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override a key of the candidate's recipe.")] = None,
    no_phi: Annotated[bool, typer.Option("--no-phi", help="Skip the PHI probe in the gate.")] = False,
    passphrase_file: PassphraseFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Fold new vault records into the champion; promote the candidate only if the evaluation gate passes."""
    import os

    from appliance.cli._common import ENV_PASSPHRASE_FILE, get_home
    from appliance.config import load_site_config
    from appliance.retrain import RetrainRejected, retrain

    home = get_home().require_initialized()
    if passphrase_file is None and not os.environ.get(ENV_PASSPHRASE_FILE):
        # under systemd: the unlock method the site configured (site.passphrase_file)
        configured = load_site_config(home.config_path).site.passphrase_file
        passphrase_file = Path(configured) if configured else None
    keys = unlock(passphrase_file, home)
    try:
        res = retrain(keys.home, keys, dry_run=dry_run, exclude_shredded=exclude_shredded, resume=resume,
                      overrides=set_ or [], progress=not json_out, phi=not no_phi)
    except RetrainRejected as e:
        emit(e.result, json_out, _render)
        raise
    emit(res, json_out, _render)
