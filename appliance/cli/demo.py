"""`appliance demo`: the end-to-end run on the embedded synthetic corpus, in a temporary home."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from appliance.cli._common import JsonOpt, console, err_console, print_json
from appliance.demo.table import stage_names  # light: names only; stage modules load when they run


def register(root: typer.Typer) -> None:
    root.command("demo")(demo)


def demo(
    workdir: Annotated[
        Path | None, typer.Option("--workdir", help="Where to create the demo home (default: a new temp dir).")
    ] = None,
    stage: Annotated[
        list[str] | None,
        typer.Option("--stage", help=f"Run only these stages (repeatable; table order): {', '.join(stage_names())}."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Run every stage end to end (init → … → report) non-interactively and say what each did."""
    from appliance.demo import run_demo

    out = err_console if json_out else console

    def on_stage(name: str, event: str, result: dict | None) -> None:
        if event == "start":
            out.print(f"[bold cyan]▶ {name}[/]", markup=True)
        else:
            shown = {k: v for k, v in (result or {}).items() if not isinstance(v, (dict, list)) or len(str(v)) < 160}
            for k, v in shown.items():
                out.print(f"   {k}: {v}", markup=False)

    summary = run_demo(workdir, on_stage=on_stage, stages=stage)
    if json_out:
        print_json(summary)
    else:
        console.print(f"[bold green]demo complete[/] — home: {summary['home']}", markup=True)
        if "report" in summary:
            console.print(f"report: {summary['report']}")
