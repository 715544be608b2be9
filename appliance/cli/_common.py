"""Shared CLI plumbing: global state (home, verbosity), common options, output and unlock.

Every command follows one shape: parse options, call one library function, hand the result to
:func:`emit`, which prints JSON (``--json``) or calls a small renderer.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from appliance.errors import Locked
from appliance.home import Home

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

ENV_PASSPHRASE_FILE = "APPLIANCE_PASSPHRASE_FILE"


class _State:
    home: str | None = None
    verbosity: int = 0


state = _State()

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")]
PassphraseFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--passphrase-file",
        help=f"Read the passphrase from this file (or set {ENV_PASSPHRASE_FILE}); otherwise prompt.",
        dir_okay=False,
    ),
]


def get_home() -> Home:
    """The home chosen by ``--home`` or ``APPLIANCE_HOME`` (not checked for initialisation)."""
    return Home.resolve(state.home)


def read_passphrase(passphrase_file: Path | None, *, confirm: bool = False, prompt: str = "Passphrase") -> bytes:
    """Passphrase from ``--passphrase-file``, ``APPLIANCE_PASSPHRASE_FILE`` or an interactive prompt."""
    path = passphrase_file or (Path(os.environ[ENV_PASSPHRASE_FILE]) if os.environ.get(ENV_PASSPHRASE_FILE) else None)
    if path is not None:
        try:
            raw = Path(path).read_bytes()
        except OSError as e:
            raise Locked(
                f"cannot read passphrase file {path}: {e.strerror or e}",
                hint="check the path given to --passphrase-file / APPLIANCE_PASSPHRASE_FILE",
            ) from None
        value = raw.rstrip(b"\r\n")
        if not value:
            raise Locked(f"passphrase file {path} is empty", hint="write the passphrase into the file")
        return value
    if not sys.stdin.isatty():
        raise Locked(
            "no passphrase: stdin is not a terminal and no passphrase file was given",
            hint=f"pass --passphrase-file FILE or set {ENV_PASSPHRASE_FILE}",
        )
    first = getpass.getpass(f"{prompt}: ")
    if confirm and getpass.getpass(f"{prompt} (again): ") != first:
        raise Locked("passphrases did not match", hint="run the command again")
    if not first:
        raise Locked("empty passphrase", hint="enter a passphrase")
    return first.encode("utf-8")


def unlock(passphrase_file: Path | None, home: Home | None = None):
    """Unlock the keyring of the current home; returns :class:`appliance.keys.UnlockedKeys`."""
    from appliance.keys import unlock_home

    home = (home or get_home()).require_initialized()
    return unlock_home(home, read_passphrase(passphrase_file))


def optional_signer(passphrase_file: Path | None, home: Home | None = None):
    """The site signer when a passphrase source is configured (flag or env), else None — for commands that
    work without keys but write a signed audit checkpoint when they can."""
    if passphrase_file is None and not os.environ.get(ENV_PASSPHRASE_FILE):
        return None
    return unlock(passphrase_file, home).signer


def _default(o: Any) -> Any:
    if isinstance(o, Path):
        return str(o)
    if hasattr(o, "to_dict"):
        return o.to_dict()
    if isinstance(o, (set, frozenset)):
        return sorted(o)
    if isinstance(o, bytes):
        return o.hex()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=_default, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def emit(data: Any, as_json: bool, render: Callable[[Any], None] | None = None) -> None:
    """Print ``data`` as JSON, or hand it to ``render`` for a human view."""
    if as_json:
        print_json(data)
    elif render is not None:
        render(data)
    else:
        console.print(data)


def kv_table(title: str, rows: dict[str, Any]):
    """A two-column Rich table for key/value results."""
    from rich.table import Table

    t = Table(title=title, show_header=False, title_justify="left")
    t.add_column(style="bold")
    t.add_column()
    for k, v in rows.items():
        t.add_row(str(k), str(v))
    return t
