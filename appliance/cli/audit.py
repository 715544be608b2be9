"""`appliance audit`: verify the log, show/tail entries, export with proofs, verify exports, add notes."""

from __future__ import annotations

from collections import deque
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
    unlock,
)

app = typer.Typer(help="Tamper-evident audit log: verify, show, tail, export, verify-export, note.")

SinceOpt = Annotated[str | None, typer.Option("--since", help="From this time (ISO 8601, UTC), inclusive.")]
UntilOpt = Annotated[
    str | None, typer.Option("--until", help="Before this time (ISO 8601); a bare date includes that whole day.")
]
ActionOpt = Annotated[
    str | None, typer.Option("--action", help="Action name, prefix (vault → vault.*) or glob (keys.*).")
]
ActorOpt = Annotated[str | None, typer.Option("--actor", help="Only entries by this OS user.")]


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="audit")


def _render_entries(entries: list[dict]) -> None:
    from rich.table import Table

    from appliance._internal.hashing import canonical_json

    t = Table("seq", "time (UTC)", "actor", "action", "outcome", title_justify="left")
    t.add_column("object", overflow="fold")
    for e in entries:
        style = None if e.get("outcome") == "ok" else "yellow"
        t.add_row(
            str(e["seq"]),
            str(e["ts"]).replace("T", " ")[:23],
            str(e["actor"]),
            str(e["action"]),
            str(e["outcome"]),
            canonical_json(e.get("object", {})).decode(),
            style=style,
        )
    console.print(t)
    console.print(f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}")


@app.command("verify")
def verify_cmd(
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            "--checkpoint",
            help="An exported checkpoint (.note, an export or its .evidence.json): the log must still contain "
            "everything it covers (detects a truncated tail).",
            dir_okay=False,
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Walk the hash chain and Merkle tree and check every signed checkpoint. Exit 0 if intact, 3 if not."""
    from appliance.audit import verify_and_record
    from appliance.keys import trust_store

    home = get_home().require_initialized()
    store = trust_store(home)
    report = verify_and_record(home, checkpoint, store.keys, store.validity)

    def render(r) -> None:
        d = r.to_dict()
        rows = {
            "entries": d["entries"],
            "last entry": f"seq {d['last_seq']} at {d['last_ts']}" if d["entries"] else "-",
            "merkle root": d["root"],
            "signed checkpoints checked": len(d["checkpoints"]),
        }
        if d["external"]:
            rows["exported checkpoint"] = f"size {d['external']['size']}: consistent"
        if d["anchor"]:
            rows["anchor"] = f"{d['anchor']['path']} (size {d['anchor']['size']}): consistent"
        else:
            rows["anchor"] = "none found in " + ", ".join(d["anchor_dirs"])
        if store.ignored:
            rows["ignored key files"] = ", ".join(store.ignored)
        if r.anchored:
            title = "audit log intact (verified against " + ("the anchor" if d["anchor"] else "the exported checkpoint") + ")"
        else:
            title = ("audit log consistent but NOT anchored: a deleted tail or a wiped log cannot be ruled out "
                     "(pass --checkpoint FILE, or run as root so the anchor is kept)")
        console.print(kv_table(title, rows))

    emit(report, json_out, render)


def _select(since, until, action, actor) -> list[dict]:
    from appliance.audit import read_entries

    return list(read_entries(get_home().require_initialized(), since=since, until=until, action=action, actor=actor))


@app.command("show")
def show_cmd(
    since: SinceOpt = None,
    until: UntilOpt = None,
    action: ActionOpt = None,
    actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Every entry matching the filters, oldest first."""
    emit(_select(since, until, action, actor), json_out, _render_entries)


@app.command("tail")
def tail_cmd(
    n: Annotated[int, typer.Option("-n", "--lines", min=1, help="How many of the newest entries.")] = 20,
    since: SinceOpt = None,
    until: UntilOpt = None,
    action: ActionOpt = None,
    actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """The newest N entries matching the filters."""
    from appliance.audit import read_entries

    home = get_home().require_initialized()
    last = list(deque(read_entries(home, since=since, until=until, action=action, actor=actor), maxlen=n))
    emit(last, json_out, _render_entries)


@app.command("export")
def export_cmd(
    out: Annotated[Path, typer.Option("-o", "--output", help="File to write.", dir_okay=False)],
    fmt: Annotated[str, typer.Option("--format", help="jsonl (evidence inside), csv, cef or any registered format such as fhir or syslog (these get FILE.evidence.json beside them).")] = "jsonl",
    since: SinceOpt = None,
    until: UntilOpt = None,
    passphrase_file: PassphraseFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Export entries with a fresh signed checkpoint and inclusion proofs (check with `audit verify-export`)."""
    from appliance.audit import export

    home = get_home().require_initialized()
    keys = unlock(passphrase_file, home)
    res = export(home, fmt, out, since=since, until=until, signer=keys.signer)

    def render(d: dict) -> None:
        console.print(kv_table(f"exported {d['entries']} entries to {d['file']}", {k: v for k, v in d.items() if v is not None}))

    emit(res, json_out, render)


@app.command("verify-export")
def verify_export_cmd(
    file: Annotated[Path, typer.Argument(help="The export file (its .evidence.json beside it for csv/cef).", dir_okay=False)],
    public_key: Annotated[
        Path | None,
        typer.Option("--public-key", help="The site's signing.pub.pem to pin (else the key in the export).", dir_okay=False),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Verify an export anywhere, without a home: signature, hashes, inclusion proofs, every row. Exit 0 or 3."""
    from appliance.audit import verify_export
    from appliance.errors import InputError

    pem = None
    if public_key is not None:
        try:
            pem = public_key.read_bytes()
        except OSError as e:
            raise InputError(f"cannot read {public_key}: {e.strerror or e}", hint="check the --public-key path") from None
    res = verify_export(file, pem)

    def render(d: dict) -> None:
        rows = dict(d)
        if not d["key_pinned"]:
            rows["note"] = "key taken from the export: compare key_fingerprint with the site's published one"
        console.print(kv_table("export verified", rows))

    emit(res, json_out, render)


@app.command("note")
def note_cmd(
    text: Annotated[str, typer.Argument(help="The annotation. It is stored in the log: NEVER put PHI in it.")],
    passphrase_file: PassphraseFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Add an operator annotation (e.g. "quarterly review done"). Must not contain PHI: it is kept forever.

    With a passphrase (file) the site key is unlocked so the note may trigger a signed checkpoint.
    """
    from appliance.audit import record
    from appliance.errors import UsageError

    home = get_home().require_initialized()
    text = text.strip()
    if not text or len(text) > 2000:
        raise UsageError("a note needs 1 to 2000 characters", hint='appliance audit note "quarterly review done"')
    entry = record(home, "audit.note", {"text": text}, signer=optional_signer(passphrase_file, home))
    emit(entry, json_out, lambda e: console.print(f"noted as seq {e['seq']}"))
