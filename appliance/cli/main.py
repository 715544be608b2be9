"""The ``appliance`` entry point: root options, sub-app registration, and the error → exit-code map.

Each ``appliance.cli.<name>`` module exposes ``register(root)``, adding its sub-app or commands.  Modules
are imported here, but none of them imports a heavy library at module level, so ``--help`` stays fast.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from typing import Annotated

import typer

try:  # typer ≥ 0.20 vendors click; its exceptions are the ones raised
    from typer._click.exceptions import ClickException
    from typer._click.exceptions import UsageError as ClickUsageError
except ImportError:  # pragma: no cover
    from click.exceptions import ClickException
    from click.exceptions import UsageError as ClickUsageError
from typer.exceptions import Abort as TyperAbort

from appliance import __version__
from appliance.cli._common import err_console, state
from appliance.errors import INTERRUPTED, USAGE, ApplianceError

app = typer.Typer(
    name="appliance",
    help="Train and ship a hospital's own language model on an air-gapped host.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
)

# Order here is the order of `appliance --help`.
COMMAND_MODULES = (
    "init",
    "keys",
    "audit",
    "doctor",
    "vault",
    "scrub",
    "train",
    "models",
    "evaluate",
    "retrain",
    "export",
    "verify",
    "serve",
    "bundle",
    "harden",
    "report",
    "demo",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"appliance {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    home: Annotated[
        str | None, typer.Option("--home", help="Appliance home (default: $APPLIANCE_HOME).", show_default=False)
    ] = None,
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="-v info, -vv debug logging.")] = 0,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    state.home = home
    state.verbosity = verbose
    from appliance._internal import quiet

    quiet.configure(verbose)  # third-party logs, bars and warnings only with -v; before any library import
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    log = logging.getLogger("appliance")
    if not log.handlers:
        from rich.logging import RichHandler

        log.addHandler(RichHandler(console=err_console, show_path=verbose > 1, markup=False))
    log.setLevel(level)


def _register_all() -> None:
    for name in COMMAND_MODULES:
        modname = f"appliance.cli.{name}"
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError as e:
            if e.name == modname:  # the module is simply not part of this build
                continue
            raise
        mod.register(app)


_register_all()


def _report(err: ApplianceError) -> None:
    err_console.print(f"[bold red]error:[/] {err.message}", markup=True, highlight=False)
    for line in err.details:
        err_console.print(f"  - {line}", markup=False)
    if err.hint:
        err_console.print(f"[bold]next:[/] {err.hint}", markup=True)


def run(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    from appliance._internal import netguard

    netguard.install()
    debug = os.environ.get("APPLIANCE_DEBUG") == "1"
    try:
        rc = app(args=argv, prog_name="appliance", standalone_mode=False)
    except ApplianceError as e:
        if debug:
            raise
        _report(e)
        sys.exit(e.exit_code)
    except TyperAbort:
        err_console.print("interrupted")
        sys.exit(INTERRUPTED)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(INTERRUPTED)
    except ClickException as e:
        e.show()
        sys.exit(USAGE if isinstance(e, ClickUsageError) else e.exit_code)
    except Exception as e:  # an unexpected failure: one line, traceback only on request
        if debug:
            raise
        err_console.print(f"[bold red]internal error:[/] {type(e).__name__}: {e}", markup=True)
        err_console.print("next: re-run with APPLIANCE_DEBUG=1 for a traceback and report it", markup=False)
        sys.exit(1)
    sys.exit(rc if isinstance(rc, int) else 0)
