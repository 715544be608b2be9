"""`appliance doctor`: dependency versions, GPU, air gap, disk and permissions of this host."""

from __future__ import annotations

import typer

from appliance.cli._common import JsonOpt, console, emit, get_home


def register(root: typer.Typer) -> None:
    root.command("doctor")(doctor)


def doctor(json_out: JsonOpt = False) -> None:
    """Report versions of every core dependency, CUDA/GPU, air gap, free disk and key permissions."""
    from appliance.doctor import run_doctor

    report = run_doctor(get_home())

    def render(r: dict) -> None:
        from rich.table import Table

        style = {"ok": "green", "warn": "yellow", "error": "bold red"}
        console.print(
            f"appliance {r['appliance']} · python {r['python']} · {r['platform']} · home {r['home']}"
        )
        t = Table(title="host", title_justify="left")
        for col in ("check", "status", "detail"):
            t.add_column(col)
        for name, c in r["checks"].items():
            t.add_row(name, f"[{style[c['status']]}]{c['status']}[/]", c["detail"])
        console.print(t)
        v = Table(title="dependencies", title_justify="left")
        for col in ("package", "version", "pinned", "status"):
            v.add_column(col)
        for d in r["versions"]:
            v.add_row(
                d["name"], d["version"] or "-", d["pinned"] or "", f"[{style[d['status']]}]{d['status']}[/]"
            )
        console.print(v)
        console.print(f"overall: [{style[r['status']]}]{r['status']}[/]")

    emit(report, json_out, render)
