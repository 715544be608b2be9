"""`appliance report`: the compliance officer's HTML report (and PDF) for a period."""

from __future__ import annotations

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
    optional_signer,
)


def register(root: typer.Typer) -> None:
    root.command("report")(report)


def report(
    since: Annotated[
        str | None, typer.Option("--since", help="Start of the period (YYYY-MM-DD or ISO time, UTC).")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="End of the period (a bare date includes that day).")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--output",
            help="HTML file to write (default: ./appliance-report-<time>.html).",
            dir_okay=False,
        ),
    ] = None,
    pdf: Annotated[
        bool, typer.Option("--pdf", help="Also print a PDF beside it (needs a local headless Chromium).")
    ] = False,
    harden_json: Annotated[
        Path | None,
        typer.Option(
            "--harden-json",
            help="Include the per-check rows of a saved `appliance harden check --json`.",
            dir_okay=False,
        ),
    ] = None,
    passphrase_file: PassphraseFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Write a self-contained compliance report: integrity, activity, data, models, artifacts, host.

    Reads metadata only: no unlock, nothing decrypted, no PHI in the report.  With a passphrase file
    (--passphrase-file or APPLIANCE_PASSPHRASE_FILE; never prompted) it first signs a fresh checkpoint.
    """
    from appliance.report import build_report, default_output

    home = get_home().require_initialized()
    signer = optional_signer(passphrase_file, home)
    res = build_report(
        home, output or default_output(home), since, until, pdf=pdf, signer=signer, harden_json=harden_json
    )

    def render(d: dict) -> None:
        rows = {
            "report": d["path"],
            "pdf": d["pdf"] or "—",
            "sha256": d["sha256"],
            "audit log": "intact"
            if d["audit_verified"]
            else f"FAILED: {d['audit_error']}"
            if d["audit_verified"] is False
            else "not verified",
            "entries in period": d["entries_in_period"],
            "champion": d["champion"] or "none",
            "models flagged by shredding": ", ".join(d["models_flagged"]) or "none",
            "artifacts failing verification": ", ".join(d["artifacts_failed"]) or "none",
        }
        rows.update({f"section {k}": v for k, v in d["sections"].items()})
        console.print(kv_table("compliance report", rows))

    emit(res, json_out, render)
