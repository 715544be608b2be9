"""`appliance serve`: the OpenAI-compatible server on a verified artifact, and its API keys."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from appliance.cli._common import JsonOpt, PassphraseFileOpt, console, emit, err_console, get_home, unlock

app = typer.Typer(help="Serve a verified GGUF artifact over an authenticated, audited OpenAI-compatible API.",
                  invoke_without_command=True, no_args_is_help=False)
keys_app = typer.Typer(help="API keys: add (shown once), list, revoke. Every change is signed and audited.")
app.add_typer(keys_app, name="keys")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="serve")


@app.callback()
def serve_cmd(
    ctx: typer.Context,
    artifact: Annotated[Path | None, typer.Option("--artifact", help="Signed GGUF artifact directory.",
                                                  file_okay=False)] = None,
    host: Annotated[str, typer.Option("--host", help="Listen address (loopback unless TLS or --insecure-http).")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Listen port (0: any free port).")] = 8000,
    tls_cert: Annotated[Path | None, typer.Option("--tls-cert", dir_okay=False)] = None,
    tls_key: Annotated[Path | None, typer.Option("--tls-key", dir_okay=False)] = None,
    insecure_http: Annotated[bool, typer.Option("--insecure-http",
                                                help="Allow plain HTTP on a non-loopback address (audited).")]
    = False,
    parallel: Annotated[int, typer.Option("--parallel", help="Requests generated at once (llama.cpp contexts).")]
    = 1,
    queue: Annotated[int, typer.Option("--queue", help="Requests that may wait for a slot; more get 429.")] = 16,
    max_tokens: Annotated[int, typer.Option("--max-tokens", help="Cap on tokens generated per request.")] = 512,
    max_body: Annotated[int, typer.Option("--max-body-bytes", help="Largest request body (413 above).")]
    = 1 << 20,
    timeout: Annotated[float, typer.Option("--request-timeout", help="Seconds a request may wait + generate.")]
    = 120.0,
    ctx_size: Annotated[int, typer.Option("--ctx-size", help="Context per slot (0: the model's, ≤ 4096).")] = 0,
    threads: Annotated[int, typer.Option("--threads", help="llama.cpp threads per slot (0: auto).")] = 0,
    phi_filter: Annotated[str, typer.Option("--phi-filter", help="off | flag | redact generations.")] = "off",
    json_out: JsonOpt = False,
) -> None:
    """Verify ARTIFACT (exit 3 if not intact), then serve it until SIGTERM."""
    if ctx.invoked_subcommand is not None:
        return
    from appliance.errors import UsageError
    from appliance.serve import EngineSettings, Limits, ServeOptions, serve
    from appliance.serve.phi import MODES

    if artifact is None:
        raise UsageError("--artifact DIR is required", hint="appliance serve --artifact HOME/artifacts/ID")
    if phi_filter not in MODES:
        raise UsageError(f"--phi-filter {phi_filter!r}", hint=f"one of {', '.join(MODES)}")
    if parallel < 1 or queue < 0 or max_tokens < 1 or max_body < 1 or timeout <= 0:
        raise UsageError("--parallel, --max-tokens, --max-body-bytes and --request-timeout must be positive")
    opts = ServeOptions(host=host, port=port, tls_cert=tls_cert, tls_key=tls_key, insecure_http=insecure_http,
                        phi_filter=phi_filter)

    def ready(state: dict) -> None:
        note = "  (plain HTTP beyond loopback: --insecure-http, audited)" if state["insecure_http"] else ""
        err_console.print(f"serving {state['model']} on {state['scheme']}://{host}:{state['port']}{note}",
                          markup=False)

    summary = serve(get_home(), artifact, opts, EngineSettings(slots=parallel, queue=queue, n_ctx=ctx_size,
                                                               threads=threads),
                    Limits(max_body_bytes=max_body, max_tokens=max_tokens, request_timeout_s=timeout), ready)
    emit(summary, json_out, lambda s: console.print(f"stopped after {s['seconds']} s"))


@keys_app.command("add")
def keys_add(name: Annotated[str, typer.Argument(help="Who the key is for (e.g. note-drafting-tool).")],
             passphrase_file: PassphraseFileOpt = None, json_out: JsonOpt = False) -> None:
    """Create an API key and print it once; the home keeps only its hash."""
    from appliance.serve import add_key

    keys = unlock(passphrase_file)
    res = add_key(keys.home, name, keys.signer)
    emit(res, json_out, lambda r: console.print(f"{r['name']}: {r['key']}\n(shown once: store it now)"))


@keys_app.command("ls")
def keys_ls(json_out: JsonOpt = False) -> None:
    """List API keys (name, created, revoked, fingerprint); never the keys themselves."""
    from appliance.serve import list_keys

    rows = list_keys(get_home().require_initialized())

    def render(rs: list) -> None:
        from rich.table import Table

        t = Table("name", "created", "revoked", "fingerprint")
        for r in rs:
            t.add_row(r["name"], r["created"] or "", r["revoked"] or "", r["fingerprint"])
        console.print(t)

    emit(rows, json_out, render)


@keys_app.command("revoke")
def keys_revoke(name: Annotated[str, typer.Argument()], passphrase_file: PassphraseFileOpt = None,
                json_out: JsonOpt = False) -> None:
    """Revoke an API key; a running server refuses it from the next request on."""
    from appliance.serve import revoke_key

    keys = unlock(passphrase_file)
    emit(revoke_key(keys.home, name, keys.signer), json_out, lambda r: console.print(f"revoked {r['name']}"))
