"""`appliance scrub train | review | models [activate]` and `scrub eval --candidate`: the learned detector.

Thin: each command parses options, calls one function of :mod:`appliance.scrub.learned`, renders the result.
Site models hold PHI, so every command that opens one unlocks the keys (``--passphrase-file``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from appliance.cli._common import JsonOpt, PassphraseFileOpt, console, emit, get_home, unlock

models_app = typer.Typer(help="The scrubber's learned models: the shipped default and site models.", invoke_without_command=True)


def train(
    labelled: Annotated[Path | None, typer.Argument(help="Labelled notes: [[TYPE:value]] markup or gold JSONL.", exists=True, dir_okay=False)] = None,
    default: Annotated[bool, typer.Option("--default", help="Rebuild the shipped default model from public data (needs --devset, -o).")] = False,
    devset: Annotated[Path | None, typer.Option("--devset", help="The PhysioNet deid dev folder (id.text, id-phi.phrase).", exists=True, file_okay=False)] = None,
    out: Annotated[Path | None, typer.Option("-o", "--out", help="--default: the folder to write crf-default.* into.", file_okay=False)] = None,
    synthetic: Annotated[int | None, typer.Option("--synthetic", min=0, help="Synthetic notes added to a site model's training (default 200).")] = None,
    passphrase_file: PassphraseFileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Train the learned detector: a site model (sealed in the home, not yet active) or, with --default, the shipped one."""
    from appliance.errors import UsageError

    if default:
        if devset is None or out is None:
            raise UsageError("scrub train --default needs --devset DIR and -o DIR", hint="appliance scrub train --default --devset DIR -o appliance/data/scrub")
        from appliance.scrub.learned.train import build_default

        emit(build_default(devset, out), as_json, lambda d: console.print(d))
        return
    if labelled is None:
        raise UsageError("scrub train needs a labelled-notes file (or --default)", hint="appliance scrub review --source S -o labels.txt writes one")
    from appliance.cli.scrub import _settings
    from appliance.scrub.learned.site import train_site

    keys = unlock(passphrase_file)
    res = train_site(keys, labelled, _settings(), devset=devset, synthetic=synthetic)
    emit(res, as_json, lambda d: console.print(f"trained {d['model']} ({d['train_seconds']} s); compare it: "
                                               f"appliance scrub eval GOLD --candidate {d['model']}, then appliance scrub models activate {d['model']}"))


def review(
    source: Annotated[Path, typer.Option("--source", help='Notes to review: a .txt note or .jsonl of {"id","text"}.', exists=True, dir_okay=False)],
    out: Annotated[Path, typer.Option("-o", "--out", help="Where to save the reviewed notes as [[TYPE:value]] markup.", dir_okay=False)],
    sample: Annotated[int, typer.Option("--sample", min=1, help="Notes to sample.")] = 20,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    labels: Annotated[Path | None, typer.Option("--labels", help='Decisions, JSON lines {"note","start","end","type"} (type O = not PHI).', exists=True, dir_okay=False)] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Accept every detection and reject every near-miss not in --labels.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Show a sample of detections and near-misses to confirm or correct; save the labels for scrub train."""
    import sys

    from appliance.cli.scrub import _settings
    from appliance.scrub.engine import DetectionEngine
    from appliance.scrub.learned.site import apply_decisions, read_decisions, review_items, write_markup

    items, texts = review_items(source, DetectionEngine(_settings()), sample=sample, seed=seed)
    decisions = read_decisions(labels) if labels else {}
    if not yes and sys.stdin.isatty():
        for it in items:
            key = (it["note"], it["start"], it["end"])
            if key in decisions:
                continue
            ctx = texts[it["note"]][max(0, it["start"] - 40): it["end"] + 40].replace("\n", " ")
            console.print(f"[{it['kind']}] {it['value']!r} as {it['type']}   …{ctx}…", markup=False)
            ans = typer.prompt("  PHI type (Enter = as shown for a detection, O = not PHI)", default=it["type"] if it["kind"] == "detection" else "O")
            decisions[key] = ans.strip().upper() or "O"
    spans = apply_decisions(items, decisions, accept=yes)
    res = write_markup(texts, spans, out)
    res["items"] = len(items)
    emit(res, as_json, lambda d: console.print(f"{d['items']} items reviewed in {d['notes']} notes; {d['spans']} PHI spans saved to {d['out']} "
                                               f"(it holds PHI: keep it where the source notes are); next: appliance scrub train {d['out']}"))


def candidate_eval(gold: Path, candidate: str, passphrase_file: Path | None, as_json: bool) -> None:
    """`scrub eval GOLD --candidate M`: active vs candidate on labelled notes (audited)."""
    from rich.table import Table

    from appliance.cli.scrub import _settings
    from appliance.scrub.learned.site import compare_models

    res = compare_models(unlock(passphrase_file), gold, candidate, _settings())

    def render(d: dict) -> None:
        t = Table(title=f"{d['notes']} labelled notes: {d['gold']}", title_justify="left")
        for c in ("system", "recall", "precision", "char precision", "non-PHI replaced"):
            t.add_column(c, justify="right" if c != "system" else "left")
        for k, label in (("rules", "rules alone"), ("active", f"active ({d['active_model']})"), ("candidate", f"candidate ({d['candidate_model']})")):
            r = d[k]
            t.add_row(label, *("-" if r[x] is None else f"{r[x]:.3f}" for x in ("recall", "precision", "char_precision", "non_phi_replaced")))
        console.print(t)
        console.print("candidate is better on recall and character precision" if d["candidate_better"] else "candidate is NOT better on both recall and character precision")

    emit(res, as_json, render)


@models_app.callback()
def models(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List the models (default + site ones), the active one marked."""
    if ctx.invoked_subcommand is not None:
        return
    from appliance.scrub.learned.store import list_models

    rows = list_models(get_home())

    def render(rs: list[dict]) -> None:
        from rich.table import Table

        t = Table(title="scrub models", title_justify="left")
        for c in ("", "id", "created", "training notes"):
            t.add_column(c)
        for r in rs:
            t.add_row("*" if r["active"] else "", r["id"], r["created"] or "(shipped)", ", ".join(f"{k} {v['notes']}" for k, v in r["training"].items()))
        console.print(t)

    emit(rows, as_json, render)


@models_app.command("activate")
def activate(
    model_id: Annotated[str, typer.Argument(help='A site model id (scrub models) or "default".')],
    passphrase_file: PassphraseFileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Make a model the one the scrubber uses (audited)."""
    from appliance.scrub.learned.store import activate as do

    emit(do(unlock(passphrase_file), model_id), as_json, lambda d: console.print(f"active scrub model: {d['active']} (was {d['previous']})"))


def register(app: typer.Typer) -> None:
    app.command("train")(train)
    app.command("review")(review)
    app.add_typer(models_app, name="models")
