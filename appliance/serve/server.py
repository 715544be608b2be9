"""`appliance serve`: verify the artifact, apply the network policy, load the engine, run uvicorn.

Start-up order, each step refusing before the next runs: the listen address policy (loopback unless TLS is
configured or ``insecure_http`` is asked for explicitly, exit 4), the artifact check
(:func:`appliance.export.verify.verify_artifact`: pinned key, signature, every hash, GGUF structure; exit 3),
the API-key file's signature (exit 3), then the model.  The socket is bound here (so ``port=0`` works and
the real port is known) and handed to uvicorn, which owns SIGTERM/SIGINT: it stops accepting, lets running
requests finish (``graceful_s``), then returns, and the engine is freed.  ``serve/listener.json`` says what
is listening while the server runs (``appliance doctor`` reads it); start and stop are audited.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from appliance._internal.atomic import atomic_write
from appliance.errors import IntegrityError, PolicyRefused, UsageError
from appliance.home import Home
from appliance.serve.app import AUDIT_ACTION, Limits
from appliance.serve.engine import EngineSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    tls_cert: Path | None = None
    tls_key: Path | None = None
    insecure_http: bool = False
    phi_filter: str = "off"
    graceful_s: float = 30.0
    keep_alive_s: float = 5.0


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_network_policy(opts: ServeOptions) -> dict:
    """Which transport the listener will use; refuses a non-loopback plain-HTTP listener unless asked."""
    if (opts.tls_cert is None) != (opts.tls_key is None):
        raise UsageError("--tls-cert and --tls-key go together", hint="pass both, or neither")
    for p in (opts.tls_cert, opts.tls_key):
        if p is not None and not Path(p).is_file():
            raise UsageError(f"TLS file {p} does not exist", hint="check --tls-cert / --tls-key")
    tls = opts.tls_cert is not None
    loopback = is_loopback(opts.host)
    if not loopback and not tls and not opts.insecure_http:
        raise PolicyRefused(f"refusing to serve plain HTTP on non-loopback address {opts.host}",
                            hint="pass --tls-cert CERT --tls-key KEY, or --insecure-http to accept (and audit) it")
    return {"tls": tls, "loopback": loopback, "insecure_http": (not tls and not loopback)}


def _audit_entry(home: Home) -> Callable[[dict], None]:
    from appliance.audit import record

    def write(entry: dict) -> None:
        code = entry.get("status") or 0
        outcome = "ok" if code < 400 else "refused" if code in (401, 403, 413, 429) else "error"
        try:
            record(home, AUDIT_ACTION, entry, outcome=outcome)
        except Exception:
            log.exception("audit append failed for %s", entry.get("endpoint"))

    return write


def listener_state(home: Home) -> dict | None:
    """The running server's ``serve/listener.json`` if its process is alive, else None (read-only, cheap)."""
    try:
        doc = json.loads(home.listener_path.read_text())
        os.kill(int(doc["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return doc


def _server_class():
    """uvicorn's Server, except that a SIGTERM/SIGINT ends ``run()`` normally instead of being re-raised after
    the graceful shutdown: for a service SIGTERM is the ordinary way to stop (exit 0, serve.stop audited)."""
    import contextlib
    import signal
    import threading

    import uvicorn

    class _Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self):
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            old = {s: signal.signal(s, self.handle_exit) for s in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for s, h in old.items():
                    signal.signal(s, h)

    return _Server


def serve(home: Home, artifact: Path, opts: ServeOptions, engine_settings: EngineSettings, limits: Limits,
          on_ready: Callable[[dict], None] | None = None) -> dict:
    """Run the server until SIGTERM/SIGINT; returns a summary. Raises before binding if anything is wrong."""
    import uvicorn

    from appliance.audit import record
    from appliance.serve.app import create_app
    from appliance.serve.engine import Engine
    from appliance.serve.keys import KeyStore
    from appliance.export.verify import verify_artifact
    from appliance.sign import trusted_keys

    home.require_initialized()
    net = check_network_policy(opts)
    report = verify_artifact(Path(artifact), trusted_keys(None, home), home=home)
    if report["kind"] != "gguf":
        raise UsageError(f"serve runs GGUF artifacts; {artifact} is {report['kind']}",
                         hint="export one: appliance export gguf --model VERSION")
    keystore = KeyStore(home)
    if keystore.error:
        raise IntegrityError(f"API-key file refused: {keystore.error}", hint="appliance serve keys ls")
    if keystore.active_count == 0:
        log.warning("no active API key: every request will get 401 (appliance serve keys add NAME)")
    phi = None
    if opts.phi_filter != "off":
        from appliance.config import load_site_config
        from appliance.serve.phi import PhiFilter

        phi = PhiFilter(opts.phi_filter, load_site_config(home.config_path).scrub)
    model_id = report.get("artifact_id") or Path(artifact).name
    engine = Engine(Path(artifact) / "model.gguf", model_id, engine_settings)
    sock = None
    try:
        family = socket.AF_INET6 if ":" in opts.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # accepted connections inherit it: uvicorn handed a bound socket does not set it itself, and without it
        # Nagle + delayed ACK add ~40 ms to every small response on a keep-alive connection
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((opts.host, opts.port))
        port = sock.getsockname()[1]
        app = create_app(engine, keystore, limits, _audit_entry(home), phi)
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                timeout_keep_alive=int(opts.keep_alive_s),
                                timeout_graceful_shutdown=int(opts.graceful_s),
                                ssl_certfile=str(opts.tls_cert) if opts.tls_cert else None,
                                ssl_keyfile=str(opts.tls_key) if opts.tls_key else None)
        state = {"pid": os.getpid(), "host": opts.host, "port": port, "scheme": "https" if net["tls"] else "http",
                 **net, "artifact": str(Path(artifact).absolute()), "model": model_id,
                 "slots": engine_settings.slots, "queue": engine_settings.queue, "phi_filter": opts.phi_filter,
                 "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        record(home, "serve.start", {k: v for k, v in state.items() if k not in ("pid", "started")} | {
            "max_tokens": limits.max_tokens, "max_body_bytes": limits.max_body_bytes,
            "key_id": report["key_id"]}, outcome="insecure_http" if net["insecure_http"] else "ok")
        home.serve_dir.mkdir(mode=0o700, exist_ok=True)
        atomic_write(home.listener_path, json.dumps(state, indent=2) + "\n", mode=0o600)
        server = _server_class()(config)
        if on_ready is not None:
            on_ready(state)
        started = time.monotonic()
        server.run(sockets=[sock])
    finally:
        if sock is not None:
            sock.close()
        engine.close()
        if phi is not None:
            phi.close()
        if home.listener_path.is_file():
            try:
                if json.loads(home.listener_path.read_text()).get("pid") == os.getpid():
                    home.listener_path.unlink()
            except (OSError, ValueError):
                pass
    summary = {**state, "seconds": round(time.monotonic() - started, 1),
               "engine": asdict(engine_settings), "limits": asdict(limits)}
    record(home, "serve.stop", {"model": model_id, "port": port, "seconds": summary["seconds"]})
    return summary
