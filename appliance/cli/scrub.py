"""`appliance scrub`: detect, apply, evaluate the PHI scrubber; convert the development sets.

Thin: each command parses options, calls one function in :mod:`appliance.scrub`, and renders the result.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from appliance.cli._common import JsonOpt, PassphraseFileOpt, console, emit, get_home

app = typer.Typer(help="Find and replace PHI (HIPAA Safe Harbor) in clinical text.", no_args_is_help=True)

OutOpt = Annotated[Path, typer.Option("-o", "--out", help="Output file.", dir_okay=False)]
WorkersOpt = Annotated[int | None, typer.Option("--workers", min=1, help="Worker processes (default: scrub.workers).")]


def _settings():
    from appliance.config import load_site_config

    return load_site_config(get_home().config_path).scrub


def _counts_table(title: str, data: dict):
    from rich.table import Table

    t = Table(title=title, title_justify="left")
    t.add_column("type")
    t.add_column("count", justify="right")
    for k, v in data.get("counts", {}).items():
        t.add_row(k, str(v))
    console.print(t)
    console.print(f"records: {data['records']}  →  {data['out']}")


@app.command()
def detect(
    src: Annotated[Path, typer.Argument(help='JSONL, one {"id","text"} per line.', exists=True, dir_okay=False)],
    out: OutOpt,
    workers: WorkersOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write {"id","entities":[{"start","end","type","score"}]} per input line, same order."""
    from appliance.scrub.files import detect_file

    emit(detect_file(src, out, _settings(), workers=workers), as_json, lambda d: _counts_table("entities found", d))


@app.command()
def apply(
    src: Annotated[Path, typer.Argument(help="A .txt file (one document) or .jsonl with a text field.", exists=True, dir_okay=False)],
    out: OutOpt,
    workers: WorkersOpt = None,
    key_file: Annotated[
        Path | None,
        typer.Option("--key-file", help="32-byte secret (raw or hex) for surrogates stable across runs; default random.", exists=True, dir_okay=False),
    ] = None,
    patient_field: Annotated[str, typer.Option("--patient-field", help="JSONL field grouping records of one patient.")] = "patient",
    as_json: JsonOpt = False,
) -> None:
    """Replace PHI with surrogates / tags per scrub.operators and write the scrubbed text."""
    from appliance.scrub.files import apply_file

    secret = None
    if key_file is not None:
        raw = key_file.read_bytes().strip()
        try:
            secret = bytes.fromhex(raw.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            secret = raw
    res = apply_file(src, out, _settings(), workers=workers, secret=secret, patient_field=patient_field)
    emit(res, as_json, lambda d: _counts_table("PHI replaced", d))


def _render_eval(d: dict) -> None:
    from rich.table import Table

    systems = [k for k in ("appliance", "presidio") if k in d]
    t = Table(title=f"token-level evaluation: {d['gold']}", title_justify="left")
    t.add_column("type")
    t.add_column("gold tok", justify="right")
    for s in systems:
        t.add_column(f"{s} recall", justify="right")
        t.add_column(f"{s} prec.", justify="right")
    t.add_column("values covered", justify="right")

    def f(x):
        return "-" if x is None else f"{x:.3f}"

    types = sorted(set().union(*(d[s]["per_type"] for s in systems)))
    for ty in types + ["OVERALL"]:
        row = [ty]
        first = d["appliance"]["overall"] if ty == "OVERALL" else d["appliance"]["per_type"].get(ty, {})
        row.append(str(first.get("gold_tokens", 0)))
        for s in systems:
            r = d[s]["overall"] if ty == "OVERALL" else d[s]["per_type"].get(ty, {})
            row += [f(r.get("recall")), f(r.get("precision"))]
        row.append(f(first.get("values_covered")))
        t.add_row(*row, style="bold" if ty == "OVERALL" else None)
    console.print(t)
    for s in systems:  # clinical damage (appliance.scrub.damage): what the scrubber does to the non-PHI text
        o = d[s]["overall"]
        console.print(f"{s}: clinical damage: {f(o.get('non_phi_replaced'))} of {o.get('non_phi_tokens')} non-PHI tokens "
                      f"replaced; {f(o.get('clinical_vocab_kept'))} of {o.get('clinical_vocab_tokens')} clinical-vocabulary "
                      f"tokens kept; character precision {f(o.get('char_precision'))}", markup=False)
    misses = d["appliance"]["misses"]
    if misses:
        console.print(f"\n{len(misses)} missed values (first 30):")
        for m in misses[:30]:
            console.print(f"  [{m['type']}] {m['missed_tokens']!r}  …{m['context']}…", markup=False)


@app.command("eval")
def eval_(
    gold: Annotated[Path, typer.Argument(help='Gold JSONL: {"id","text","spans":[{"start","end","type"}]}.', exists=True, dir_okay=False)],
    baseline: Annotated[str | None, typer.Option("--baseline", help="Also score plain Presidio on the same texts: presidio.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Only the first N records.")] = None,
    workers: WorkersOpt = None,
    candidate: Annotated[str | None, typer.Option("--candidate", help="A scrub model id: compare it with the active model on these notes (audited).")] = None,
    passphrase_file: PassphraseFileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Token-level recall and precision per type and overall, with the list of misses."""
    from appliance.scrub.evaluate import evaluate_file

    if candidate is not None:
        from appliance.cli.scrub_models import candidate_eval

        candidate_eval(gold, candidate, passphrase_file, as_json)
        return

    emit(evaluate_file(gold, _settings(), baseline=baseline, workers=workers, limit=limit), as_json, _render_eval)


@app.command("convert-devset")
def convert_devset(
    kind: Annotated[str, typer.Argument(help="asq | presidio-synth | markup (notes labelled [[TYPE:value]]) | physionet (a deid folder)")],
    src: Annotated[Path, typer.Argument(exists=True, help="The set's file (a folder with id.text and id-phi.phrase for physionet).")],
    out: OutOpt,
    as_json: JsonOpt = False,
) -> None:
    """Convert a development set into the gold JSONL format (labels mapped to Safe Harbor types)."""
    from appliance.scrub.devsets import convert_devset as convert

    emit(convert(kind, src, out), as_json, lambda d: console.print(d))


@app.command()
def synth(
    out: OutOpt,
    n: Annotated[int, typer.Option("-n", min=1, help="Number of notes.")] = 300,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    topic: Annotated[str, typer.Option("--topic", help="base | month2 (different vocabulary/topic mix)")] = "base",
    as_json: JsonOpt = False,
) -> None:
    """Write a synthetic clinical corpus with its PHI answer key (gold format, plus a patient field)."""
    from appliance.scrub.synthetic import write_corpus

    emit(write_corpus(out, n=n, seed=seed, topic=topic), as_json, lambda d: console.print(d))


def register(root: typer.Typer) -> None:
    from appliance.cli import scrub_models

    scrub_models.register(app)
    root.add_typer(app, name="scrub")
