"""Where a bundle's wheels come from on the staging host, and a fast check that those indexes answer.

No package-index address is built into the appliance.  Each of the primary index and the extra indexes comes
from the first of: a command-line option (``--index-url``, ``--extra-index-url``), the spec (``index_url``,
``extra_index_urls``: a spec that names its index names all its sources), the staging host's own pip
configuration (``pip config list``: ``PIP_*`` variables, then the ``download``, ``install`` and ``global``
sections).  ``--no-extra-index`` drops every extra index.  pip itself then runs with ``--isolated`` and
these sources spelled out, so what was probed is exactly what pip uses.

:func:`probe_indexes` opens each index once with a short timeout (in a child process: the CLI process
refuses network traffic) and raises :class:`IndexUnreachable` naming the first one that does not answer,
so a staging host that cannot reach an index fails in seconds instead of sitting in pip's retries.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

from appliance.bundle.spec import BundleSpec
from appliance.errors import ApplianceError, UsageError

PROBE_TIMEOUT_S = 8.0
_CONFIG_ORDER = (":env:", "download", "install", "global")
_PROBE = r"""
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=float(sys.argv[2])) as r:
        r.read(1)
except Exception as e:
    print(f"{type(e).__name__}: {getattr(e, 'reason', None) or e}", file=sys.stderr)
    sys.exit(1)
"""


class IndexUnreachable(ApplianceError):
    """A package index of the bundle's sources does not answer from this staging host."""


def pip_config_indexes(python: str = sys.executable) -> tuple[str | None, tuple[str, ...]]:
    """``(index-url, extra-index-urls)`` from this host's pip configuration (``pip config list``)."""
    try:
        out = subprocess.run([python, "-m", "pip", "config", "list"], capture_output=True, text=True,
                             timeout=60, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None, ()
    values: dict[tuple[str, str], str] = {}
    for line in out.splitlines():
        key, sep, raw = line.partition("=")
        section, dot, name = key.rpartition(".")
        if sep and dot:
            values[(section, name)] = raw.strip().strip("'\"")

    def first(name: str) -> str | None:
        return next((values[(s, name)] for s in _CONFIG_ORDER if (s, name) in values), None)

    extra = first("extra-index-url")
    return first("index-url"), tuple(extra.split()) if extra else ()


def resolve_sources(
    spec: BundleSpec,
    *,
    index_url: str | None = None,
    extra_index_urls: list[str] | None = None,
    no_extra_index: bool = False,
    find_links: list[Path] | None = None,
    python: str = sys.executable,
) -> BundleSpec:
    """The spec with concrete sources for this staging host (see the module docstring for the order)."""
    index, extras = spec.index_url, spec.extra_index_urls
    if index is None:  # the spec defers to the staging host
        cfg_index, cfg_extras = pip_config_indexes(python)
        index, extras = cfg_index, extras or cfg_extras
    if index_url is not None:
        index = index_url
    if extra_index_urls:
        extras = tuple(extra_index_urls)
    if no_extra_index:
        extras = ()
    links = spec.find_links + tuple(Path(p).absolute() for p in find_links or ())
    if index is None and spec.requirements and not any(p.is_dir() for p in links):
        raise UsageError(
            f"{spec.path.name}: no package index for its requirements: the spec names none and this host's pip "
            "configuration has no index-url",
            hint="pip config set global.index-url URL, or pass --index-url URL (or --find-links DIR)",
        )
    return dataclasses.replace(spec, index_url=index or "", extra_index_urls=tuple(extras), find_links=links)


def _probe_one(url: str, python: str, timeout: float) -> str | None:
    """None when ``url`` answers, else why not."""
    u = urlparse(url)
    if u.scheme == "file":
        p = Path(unquote(u.path))
        return None if p.is_dir() else f"{p} is not a directory on this host"
    if u.scheme not in ("http", "https"):
        return f"unsupported URL scheme {u.scheme!r}"
    try:
        proc = subprocess.run([python, "-I", "-c", _PROBE, url, str(timeout)], capture_output=True, text=True,
                              timeout=timeout + 10, check=False)
    except subprocess.TimeoutExpired:
        return f"no answer within {timeout:.0f} s"
    if proc.returncode == 0:
        return None
    return (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]


def probe_indexes(spec: BundleSpec, *, python: str = sys.executable, timeout: float = PROBE_TIMEOUT_S,
                  progress=lambda m: None) -> None:
    """Raise :class:`IndexUnreachable` naming the first of the spec's indexes that does not answer."""
    urls = ([(spec.index_url, False)] if spec.index_url else []) + [(u, True) for u in spec.extra_index_urls]
    for url, extra in urls:
        progress(f"checking {'extra ' if extra else ''}index {url}")
        why = _probe_one(url, python, timeout)
        if why is None:
            continue
        if extra:
            hint = ("pass --no-extra-index (and keep the wheels it served in a --find-links directory), "
                    "or fix this host's access to it")
        else:
            hint = "pass --index-url URL of a mirror this host reaches, or fix pip's index-url (pip config list)"
        raise IndexUnreachable(f"{'extra ' if extra else ''}package index {url} is unreachable from this "
                               f"staging host: {why}", hint=hint)
