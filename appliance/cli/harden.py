"""`appliance harden`: check the host (air gap, firewall, devices, key material) and render the templates."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from appliance.cli._common import JsonOpt, console, emit, get_home

app = typer.Typer(
    help="Check and apply the host hardening (air gap, nftables, auditd, USB, core dumps, FDE)."
)

RootOpt = Annotated[Path, typer.Option("--root", help="Root of the system to check / render into.")]


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="harden")


@app.command("check")
def check_cmd(
    root: RootOpt = Path("/"),
    only: Annotated[
        list[str] | None, typer.Option("--only", help="Run only this check id (repeatable).")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Run every hardening check; exit 4 if a required one fails."""
    from appliance.errors import PolicyRefused
    from appliance.harden import check

    report = check(root, get_home(), only=only)

    def render(r: dict) -> None:
        from rich.table import Table

        style = {"pass": "green", "fail": "bold red", "skip": "yellow"}
        t = Table(title=f"hardening of {r['root']} (home {r['home']})", title_justify="left")
        for col in ("check", "status", "detail", "reference"):
            t.add_column(col, overflow="fold")
        for c in r["checks"]:
            t.add_row(
                c["id"],
                f"[{style[c['status']]}]{c['status']}[/]",
                c["detail"],
                f"CIS: {c['cis']}\nSTIG: {c['stig']}\nHIPAA: {c['hipaa']}",
            )
        console.print(t)

    emit(report, json_out, render)
    if not report["ok"]:
        raise PolicyRefused(
            f"{len(report['failed'])} required hardening check(s) failed: " + ", ".join(report["failed"]),
            hint=f"appliance harden apply --root {root} --dry-run",
        )


@app.command("apply")
def apply_cmd(
    root: Annotated[Path, typer.Option("--root", help="Root to render into (/ for this host).")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show a unified diff; change nothing.")] = False,
    templates: Annotated[
        Path | None, typer.Option("--templates", help="Template dir (default: installed).")
    ] = None,
    prefix: Annotated[
        str, typer.Option("--prefix", help="Install prefix named in audit rules.")
    ] = "/opt/appliance",
    json_out: JsonOpt = False,
) -> None:
    """Render nftables, sysctl, modprobe.d, audit rules, limits, systemd drop-ins, fstab options and masks."""
    from appliance.harden import apply

    result = apply(root, get_home(), dry_run=dry_run, templates=templates, prefix=prefix)

    def render(r: dict) -> None:
        if r["dry_run"]:
            typer.echo(r["diff"], nl=False)
            console.print(f"{len(r['changes'])} change(s) would be made under {r['root']} (dry run)")
        else:
            console.print(f"{len(r['changes'])} change(s) written under {r['root']}")
            for c in r["changes"]:
                console.print(f"  {c['kind']:6} {c['path']}")

    emit(result, json_out, render)
