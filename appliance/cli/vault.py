"""`appliance vault`: ingest, list, inspect, verify, shred, rotate the key, export."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from appliance.cli._common import (
    JsonOpt,
    PassphraseFileOpt,
    console,
    emit,
    err_console,
    get_home,
    kv_table,
    unlock,
)

app = typer.Typer(help="The encrypted data vault: ingest, ls, stats, show, verify, shred, rotate-key, export.",
                  no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="vault")


def _open(passphrase_file: Path | None):
    from appliance.vault import Vault

    keys = unlock(passphrase_file)
    return Vault.open(get_home(), keys)


def _table(title: str, counts: dict, key: str = "reason"):
    from rich.table import Table

    t = Table(title=title, title_justify="left")
    t.add_column(key)
    t.add_column("count", justify="right")
    for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        t.add_row(str(k), str(n))
    return t


@app.command("ingest")
def ingest_cmd(
    paths: Annotated[list[Path], typer.Argument(help="Files (.txt .md .jsonl .csv) or directories (recursive).")],
    source: Annotated[str, typer.Option("--source", help="Source name for these records, e.g. notes-2026-01.")],
    text_column: Annotated[str | None, typer.Option(
        "--text-column", help="CSV column / JSONL field with the note text ([vault] text_column; default 'text').")] = None,
    id_column: Annotated[str | None, typer.Option(
        "--id-column", help="Column with the export's note id (stored as a keyed hash; [vault] id_column).")] = None,
    patient_column: Annotated[str | None, typer.Option(
        "--patient-column", help="Column with the patient id: stored only as a keyed hash; groups the held-out "
                                 "split by patient and enables `vault shred --patient` ([vault] patient_column).")] = None,
    date_column: Annotated[str | None, typer.Option(
        "--date-column", help="Column with the note date (kept as YYYY-MM for per-month eval; [vault] date_column).")] = None,
    record_format: Annotated[str, typer.Option(
        "--format", help="text (notes) or chat: one conversation per JSONL line, {\"messages\": [{\"role\", "
                         "\"content\"}, ...]} or {\"prompt\", \"response\"}, each message scrubbed; "
                         "for recipes with data.format: chat.")] = "text",
    passphrase_file: PassphraseFileOpt = None,
    json_out: JsonOpt = False,
    follow_symlinks: Annotated[bool, typer.Option(
        "--follow-symlinks", help="Follow symbolic links whose target stays inside the named tree.")] = False,
) -> None:
    """Scrub, filter, de-duplicate, encrypt and catalogue text files. Exit 1 if any file failed.

    CSV/JSONL exports: name the text column with --text-column and keep the patient, date and note id with
    --patient-column, --date-column and --id-column (the same keys in the [vault] section of appliance.toml).
    """
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    vault = _open(passphrase_file)
    progress = Progress(TextColumn("ingest"), BarColumn(), DownloadColumn(), TextColumn("{task.fields[kept]} kept"),
                        TimeRemainingColumn(), console=err_console, transient=True,
                        disable=not err_console.is_terminal)
    task = None

    def on_progress(event: str, info: dict) -> None:
        nonlocal task
        if event == "start":
            task = progress.add_task("ingest", total=info["total_bytes"] or None, kept=0)
        elif event == "advance" and task is not None:
            progress.advance(task, info["bytes"])
        elif event == "batch" and task is not None:
            progress.update(task, kept=info["kept"])

    with progress:
        report = vault.ingest(paths, source, progress=on_progress, follow_symlinks=follow_symlinks, columns={
            "text_column": text_column, "id_column": id_column, "patient_column": patient_column,
            "date_column": date_column}, record_format=record_format)
    for e in report.errors:
        err_console.print(f"error: {e['path']}: {e['error']}", markup=False, highlight=False)

    def render(r) -> None:
        s = r.summary()
        console.print(kv_table(f"ingest {s['ingest_id']} → source {s['source']}", {
            "files": f"{s['files_ok']}/{s['files_total']} ok", "records in": s["records_in"], "kept": s["kept"],
            "batches": s["batches"], "seconds": r.seconds,
            # clinical damage: the share of clinical-vocabulary words the scrubber left unchanged
            "clinical vocab kept": "-" if s["clinical_vocab_kept"] is None else
            f"{s['clinical_vocab_kept']:.3f} of {s['clinical_vocab_tokens']}"}))
        if s["dropped"]:
            console.print(_table("dropped", s["dropped"]))
        if s["phi_found"]:
            console.print(_table("PHI found (replaced)", s["phi_found"], key="type"))

    emit(report, json_out, render)
    if report.failed:
        raise typer.Exit(1)


@app.command("ls")
def ls_cmd(
    source: Annotated[list[str] | None, typer.Option("--source", help="Source name or glob (repeatable).")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Only records ingested at/after this ISO date.")] = (
        None
    ),
    shredded: Annotated[bool, typer.Option("--shredded", help="List shredded tombstones instead.")] = False,
    passphrase_file: PassphraseFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """List records (metadata only)."""
    vault = _open(passphrase_file)
    metas = vault.list_records(source or None, state="shredded" if shredded else "active", since=since)

    def render(ms) -> None:
        from rich.table import Table

        t = Table(title=f"{len(ms)} records", title_justify="left")
        for col in ("id", "source", "batch", "ingested", "chars", "kek", "state"):
            t.add_column(col, no_wrap=True, justify="right" if col == "chars" else "left")
        for m in ms:
            t.add_row(m.id, m.source, m.batch_id, m.ingested_at[:19], str(m.n_chars), m.kek_id or "-", m.state)
        console.print(t)

    emit([m.to_dict() for m in metas], json_out, lambda d: render(metas))


@app.command("stats")
def stats_cmd(passphrase_file: PassphraseFileOpt = None, json_out: JsonOpt = False) -> None:
    """Counts by source and state, batches, drop reasons, PHI found, KEK use."""
    vault = _open(passphrase_file)
    st = vault.stats()

    def render(d: dict) -> None:
        from rich.table import Table

        console.print(kv_table("vault", {"active records": d["records_active"], "shredded": d["records_shredded"],
                                         "batches": d["batches"], "current KEK": d["current_kek"]}))
        t = Table("source", "active", "shredded", "chars", "sealed bytes", title="sources", title_justify="left")
        for name, s in sorted(d["sources"].items()):
            t.add_row(name, str(s["active"]), str(s["shredded"]), str(s["chars"]), str(s["sealed_bytes"]))
        console.print(t)
        if d["dropped"]:
            console.print(_table("dropped at ingest", d["dropped"]))
        if d["phi_found"]:
            console.print(_table("PHI found at ingest", d["phi_found"], key="type"))

    emit(st, json_out, render)


@app.command("show")
def show_cmd(
    record: Annotated[str, typer.Argument(help="Record id (see `appliance vault ls`).")],
    passphrase_file: PassphraseFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Print one record's scrubbed text (audited)."""
    vault = _open(passphrase_file)
    text = vault.show(record)
    meta = vault.get(record)
    emit({"record": meta.to_dict(), "text": text}, json_out, lambda d: typer.echo(d["text"]))


@app.command("verify")
def verify_cmd(passphrase_file: PassphraseFileOpt = None, json_out: JsonOpt = False) -> None:
    """Decrypt and authenticate every record. Exit 3 naming each bad record."""
    from appliance.errors import IntegrityError

    vault = _open(passphrase_file)
    rep = vault.verify()
    emit(rep, json_out, lambda r: console.print(
        f"verified {r.checked} records: {r.ok} ok, {len(r.bad)} bad"
        + (f", {r.unknown_objects} unknown object files" if r.unknown_objects else "")
        + f"; catalog state: {r.state.get('status')}"))
    if rep.state.get("status") == "tampered":
        raise IntegrityError("the vault catalog was changed behind the audit log's back",
                             hint="restore vault/ from backup and keep this copy as evidence; appliance audit verify",
                             details=rep.state["problems"] + [f"{b['id']}: {b['error']}" for b in rep.bad])
    if rep.failed:
        raise IntegrityError(f"{len(rep.bad)} of {rep.checked} records failed verification",
                             hint="shred them (appliance vault shred --record ID) or restore vault/ from backup",
                             details=[f"{b['id']}: {b['error']}" for b in rep.bad])


@app.command("shred")
def shred_cmd(
    record: Annotated[str | None, typer.Option("--record", help="Record id to shred.")] = None,
    source: Annotated[str | None, typer.Option("--source", help="Shred every record of this source.")] = None,
    patient: Annotated[str | None, typer.Option(
        "--patient", help="Shred every record of this patient id (erasure request; needs --patient-column at ingest).")] = None,
    passphrase_file: PassphraseFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Crypto-shred records: destroy their data keys, then their ciphertext; keep a tombstone.

    Audited; models trained on the shredded records are flagged in the registry's lineage.
    """
    vault = _open(passphrase_file)
    res = vault.shred(record_id=record, source=source, patient=patient)
    for e in res["hook_errors"]:
        err_console.print(f"warning: on-shred hook failed: {e}", markup=False)
    emit(res, json_out, lambda d: console.print(f"shredded {d['count']} record(s)"))


@app.command("rotate-key")
def rotate_cmd(passphrase_file: PassphraseFileOpt = None, json_out: JsonOpt = False) -> None:
    """Re-wrap every data key under a new key-encryption key (crash-safe; re-run to resume)."""
    vault = _open(passphrase_file)
    res = vault.rotate_key()
    emit(res, json_out, lambda d: console.print(
        f"re-wrapped {d['rewrapped']} data keys under {d['new_kek']}"
        + (f"; retired {', '.join(d['retired'])}" if d["retired"] else "") + (" (resumed)" if d["resumed"] else "")))


@app.command("export")
def export_cmd(
    source: Annotated[str, typer.Option("--source", help="Source name or glob to export.")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Output .jsonl file (outside the home).")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    passphrase_file: PassphraseFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Write scrubbed text out as JSON lines {id, source, batch_id, ingested_at, text} (audited)."""
    vault = _open(passphrase_file)
    res = vault.export(source, out, overwrite=force)
    emit(res, json_out, lambda d: console.print(f"exported {d['records']} records to {d['path']}"))
