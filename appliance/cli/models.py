"""`appliance models`: list, show, verify, promote, roll back, import, register; lineage and trained-on."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from appliance.cli._common import JsonOpt, PassphraseFileOpt, console, emit, get_home, kv_table, unlock

app = typer.Typer(help="Model versions: champion, promote/rollback, lineage to vault records.", no_args_is_help=True)

VersionArg = Annotated[str, typer.Argument(help="A version (v0001 …) or `champion`.")]


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="models")


def _flag_text(flags: dict, short: bool = False) -> str:
    out = []
    if "trained_on_shredded" in flags:
        n = len(flags["trained_on_shredded"]["records"])
        out.append(f"shredded:{n}" if short else f"SHREDDED RECORDS ({n})")
    if "inherits_shredded" in flags:
        anc = ", ".join(flags["inherits_shredded"]["ancestors"])
        out.append(f"inherits:{anc}" if short else f"inherits shredded ({anc})")
    return " ".join(out) if short else "; ".join(out)


@app.command("ls")
def ls_cmd(json_out: JsonOpt = False) -> None:
    """Every version with its parent, status, champion mark and shred flags."""
    from appliance import registry

    home = get_home().require_initialized()
    registry.refresh_shred_flags(home)
    rows = registry.list_versions(home)

    def render(rows: list[dict]) -> None:
        from rich.table import Table

        if not rows:
            console.print("no model versions yet (appliance train … or appliance models import DIR)")
            return
        t = Table("version", "status", "parent", "records", "created", "flags")
        for r in rows:
            status = ("[bold]★ champion[/]" if r["champion"] else r["status"])
            flags = _flag_text(r["flags"], short=True)
            t.add_row(r["version"], status, r["parent"] or r["base_model"],
                      f"{r['records'].get('train', 0)}+{r['records'].get('heldout', 0)}", r["created_at"][:10],
                      f"[red]{flags}[/]" if flags else "")
        console.print(t)

    emit(rows, json_out, render)


@app.command("show")
def show_cmd(version: VersionArg, json_out: JsonOpt = False) -> None:
    """One version: recipe, record counts, training metrics, evaluations, flags."""
    from appliance import registry

    info = registry.get(get_home().require_initialized(), version)

    def render(d: dict) -> None:
        rows = {k: d[k] for k in ("version", "kind", "status", "champion", "parent", "base_model", "run_name",
                                  "created_at", "path", "manifest_sha256", "data_manifest_sha256", "key_id")}
        rows["records"] = ", ".join(f"{k}={v}" for k, v in d["records"].items())
        if d["status_reasons"]:
            rows["reasons"] = "; ".join(d["status_reasons"])
        if d["flags"]:
            rows["flags"] = _flag_text(d["flags"])
        if d["train_metrics"]:
            rows["train"] = ", ".join(f"{k}={v}" for k, v in d["train_metrics"].items())
        for e in d["evaluations"][-2:]:
            rows[f"{e['kind']} @ {e['at']}"] = _eval_brief(e["result"])
        console.print(kv_table(f"model {d['version']}", rows))

    emit(info, json_out, render)


def _eval_brief(res: dict) -> str:
    if "decision" in res:
        return f"{res['decision']}: " + "; ".join(res.get("reasons", []))
    ppl = res.get("perplexity", {}).get("overall")
    return f"heldout ppl {ppl}" if ppl is not None else "(see --json)"


@app.command("verify")
def verify_cmd(version: VersionArg, json_out: JsonOpt = False) -> None:
    """Check a version's files against its signed manifest (exit 3 on any mismatch)."""
    from appliance import registry

    res = registry.verify_version(get_home().require_initialized(), version)
    emit(res, json_out, lambda d: console.print(f"{d['version']}: OK ({d['files']} files, key {d['key_id'][:16]}…)"))


@app.command("promote")
def promote_cmd(
    version: VersionArg,
    force: Annotated[bool, typer.Option("--force", help="Promote even a version the gate rejected (audited).")] = False,
    passphrase_file: PassphraseFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Make VERSION the champion (atomic; the previous champion is kept for rollback)."""
    from appliance import registry

    keys = unlock(passphrase_file)
    res = registry.promote(keys.home, version, keys, force=force)
    emit(res, json_out, lambda d: console.print(f"champion: {d['champion']} (was {d['previous'] or 'none'})"))


@app.command("rollback")
def rollback_cmd(
    to: Annotated[str | None, typer.Option("--to", help="Roll back to this version instead of the previous champion.")] = None,
    passphrase_file: PassphraseFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Restore the previous champion."""
    from appliance import registry

    keys = unlock(passphrase_file)
    res = registry.rollback(keys.home, keys, to=to)
    emit(res, json_out, lambda d: console.print(f"champion: {d['champion']} (rolled back from {d['previous']})"))


@app.command("import")
def import_cmd(
    directory: Annotated[Path, typer.Argument(help="A local Hugging Face snapshot (safetensors only).", exists=True, file_okay=False)],
    name: Annotated[str | None, typer.Option("--name", help="Base-model name to record (default: the dir name).")] = None,
    passphrase_file: PassphraseFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Hash, copy and sign a local HF snapshot as a base model version."""
    from appliance import registry

    keys = unlock(passphrase_file)
    v = registry.import_model(keys.home, keys, directory, name=name)
    emit({"version": v, "path": str(keys.home.model_dir(v))}, json_out, lambda d: console.print(f"imported as {d['version']}"))


@app.command("register")
def register_cmd(
    run: Annotated[str, typer.Argument(help="Run name (runs/<name>/) of a finished training run.")],
    passphrase_file: PassphraseFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Register a finished training run's final model (idempotent)."""
    from appliance import registry

    keys = unlock(passphrase_file)
    v = registry.register_existing_run(keys.home, keys, run)
    emit({"version": v, "run": run}, json_out, lambda d: console.print(f"run {d['run']} is {d['version']}"))


@app.command("lineage")
def lineage_cmd(
    version: VersionArg,
    records: Annotated[bool, typer.Option("--records", help="List every record id (human view).")] = False,
    json_out: JsonOpt = False,
) -> None:
    """The vault records, sources and ingest batches a version was trained on, with their audit entries."""
    from appliance import registry

    info = registry.lineage(get_home().require_initialized(), version)

    def render(d: dict) -> None:
        console.print(f"[bold]{d['version']}[/]  base {d['base_model']}  parent {d['parent'] or '-'}  run {d['run_name'] or '-'}",
                      markup=True)
        for a in d["ancestors"]:
            console.print(f"  inherits from {a['version']} ({a['train_records']} training records)")
        console.print(f"training records: {len(d['train_record_ids'])}   held-out: {len(d['heldout_record_ids'])}"
                      f"   data manifest {d['data_manifest_sha256']}")
        console.print("sources: " + ", ".join(f"{k} ({v})" for k, v in d["sources"].items()))
        for b in d["batches"]:
            audits = ", ".join(f"#{e['seq']} {e['action']} {e['ts']}" for e in b.get("audit", []))
            console.print(f"  batch {b['batch_id']}  source {b['source']}  {b['records']} records  "
                          f"ingested {b['first_ingested_at']}  audit: {audits or '-'}")
        for e in d["audit"]:
            console.print(f"  audit #{e['seq']} {e['ts']} {e['action']} {e['outcome']}")
        if d["flags"]:
            console.print(f"[bold red]flags:[/] {_flag_text(d['flags'])}", markup=True)
        if records:
            for rid in d["train_record_ids"]:
                console.print(f"  {rid}")

    emit(info, json_out, render)


@app.command("trained-on")
def trained_on_cmd(
    record: Annotated[str | None, typer.Option("--record", help="A vault record id.")] = None,
    source: Annotated[str | None, typer.Option("--source", help="A vault source name.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Versions trained on a record or a source (directly, or inherited through a warm start)."""
    from appliance import registry

    res = registry.trained_on(get_home().require_initialized(), record=record, source=source)

    def render(d: dict) -> None:
        what = f"record {d['record']}" if d["record"] else f"source {d['source']}"
        if not d["direct"]:
            console.print(f"no model version was trained on {what}")
            return
        for r in d["direct"]:
            console.print(f"{r['version']}{' (champion)' if r['champion'] else ''}: {r['train_records']} training record(s) of {what}")
        for r in d["inherited"]:
            console.print(f"{r['version']}{' (champion)' if r['champion'] else ''}: inherits it through a warm start")

    emit(res, json_out, render)
