"""`appliance eval --model VERSION`: held-out perplexity, train/held-out gap, memorization and PHI probes."""

from __future__ import annotations

from typing import Annotated

import typer

from appliance.cli._common import JsonOpt, PassphraseFileOpt, console, emit, unlock


def register(root: typer.Typer) -> None:
    root.command("eval")(eval_cmd)


def eval_cmd(
    model: Annotated[str, typer.Option("--model", help="Version to evaluate (v0001 …) or `champion`.")] = "champion",
    no_phi: Annotated[bool, typer.Option("--no-phi", help="Skip the PHI probe (no scrubber load).")] = False,
    passphrase_file: PassphraseFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Evaluate a model version on its data manifest's held-out records; the result is stored with it."""
    from appliance.evaluate import evaluate_version

    keys = unlock(passphrase_file)
    res = evaluate_version(keys.home, keys, model, phi=not no_phi)

    def render(d: dict) -> None:
        from rich.table import Table

        p = d["perplexity"]
        console.print(f"[bold]{d['version']}[/]  held-out perplexity {p['overall']}  "
                      f"({p['records']} records, {p['tokens']} tokens)", markup=True)
        if "train_perplexity" in d:
            console.print(f"train perplexity {d['train_perplexity']}  gap {d['gap']['heldout_over_train']:+.1%}")
        t = Table("group", "perplexity")
        for k, v in p["by_source"].items():
            t.add_row(f"source {k}", str(v))
        for k, v in p["by_month"].items():
            t.add_row(f"month {k}", str(v))
        console.print(t)
        m = d.get("memorization")
        if m:
            console.print(f"memorization (exact next {m['train']['k']} tokens): train {m['train']['exact_match_rate']}"
                          f"  held-out {m['heldout']['exact_match_rate']}")
        if d.get("phi"):
            ph = d["phi"]
            console.print(f"PHI probe: {ph['per_1k_tokens']} detections / 1k tokens ({ph['detections']} in "
                          f"{ph['tokens']} sampled tokens) {ph['by_type']}")

    emit(res, json_out, render)
