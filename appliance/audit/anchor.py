"""The audit anchor: the newest signed tree head, kept where the home's writer cannot roll it back.

A hostile insider who can write the home can delete the log's tail, or the log and its checkpoints together,
and recompute a hash chain; only a record outside the home shows that more existed.  After every command that
had the keys unlocked, :func:`update` writes ``<anchor dir>/<home id>.json``: the signed checkpoint note
(size, root), the trusted key list from the MAC-checked keyring, and the home path.  The default directory,
``/etc/appliance/anchor``, is root-owned, so the appliance (run as root) can write it and a home writer
cannot; ``APPLIANCE_ANCHOR_DIR`` or ``audit.anchor_dir`` in appliance.toml choose another.  Since
appliance.toml is itself under the home, :func:`find` looks in *every* candidate directory (environment,
config, default): pointing the config at an empty directory does not hide the real anchor.

The anchor only moves forward: an update to a smaller size, or to the same size with another root, is
refused (that log was rewritten).  The home id is the keyring's master fingerprint; an anchor naming this
home's path under another id is reported too, so editing the fingerprint does not hide it either.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from appliance.errors import IntegrityError
from appliance.home import Home

ENV_ANCHOR_DIR = "APPLIANCE_ANCHOR_DIR"
DEFAULT_DIR = Path("/etc/appliance/anchor")
FORMAT = 1
_log = logging.getLogger(__name__)
_warned: list[str] = []  # warn once per process about an anchor directory we cannot write


def _configured_dir(home: Home) -> Path | None:
    from appliance.config import load_site_config
    from appliance.errors import ConfigError

    try:
        d = load_site_config(home.config_path).audit.anchor_dir
    except ConfigError:
        return None
    return Path(d).expanduser() if d else None


def directories(home: Home) -> list[Path]:
    """Where anchors are written (the first) and looked for (all): env, appliance.toml, the default."""
    out: list[Path] = []
    env = os.environ.get(ENV_ANCHOR_DIR)
    for d in (Path(env).expanduser() if env else None, _configured_dir(home), DEFAULT_DIR):
        if d is not None and d.absolute() not in out:
            out.append(d.absolute())
    return out


def home_id(home: Home) -> str:
    """The keyring's master fingerprint (stable across a moved home), else a hash of the home's path."""
    try:
        fp = json.loads(home.keyring_path.read_text(encoding="utf-8")).get("master_fingerprint")
        if isinstance(fp, str) and fp.isalnum() and len(fp) <= 64:
            return fp
    except (OSError, ValueError, AttributeError):
        pass
    return hashlib.sha256(str(home.root.resolve()).encode()).hexdigest()[:16]


def _read(path: Path) -> dict | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise IntegrityError(f"audit anchor {path} is unreadable: {e}", hint="restore it from the site's records") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("checkpoint"), str):
        raise IntegrityError(f"audit anchor {path} is not an anchor document", hint="restore it from the site's records")
    return doc


def find(home: Home) -> list[tuple[Path, dict]]:
    """Every anchor for this home in every candidate directory (by home id, or naming this home's path)."""
    hid, here = home_id(home), str(home.root.resolve())
    found: list[tuple[Path, dict]] = []
    for d in directories(home):
        direct = d / f"{hid}.json"
        doc = _read(direct) if direct.is_file() else None
        if doc is not None:
            found.append((direct, doc))
        try:
            others = sorted(p for p in d.glob("*.json") if p != direct) if d.is_dir() else []
        except OSError:
            others = []
        for p in others:
            try:
                other = _read(p)
            except IntegrityError:
                continue
            if other is not None and other.get("home") == here:
                found.append((p, other))
    return found


def update(home: Home, note: str, size: int, root: bytes, trusted: list[dict]) -> Path | None:
    """Record the newest signed tree head outside the home; returns the anchor path (None: not writable)."""
    from appliance._internal.atomic import atomic_write

    d = directories(home)[0]
    path = d / f"{home_id(home)}.json"
    old = _read(path) if path.is_file() else None
    if old is not None:
        if int(old.get("size", 0)) > size:
            raise IntegrityError(
                f"audit anchor {path} covers {old['size']} entries but the log now has {size}: refusing to roll "
                "the anchor back (the log's tail was removed)", hint="appliance audit verify")
        if int(old.get("size", 0)) == size and old.get("root") == root.hex() and old.get("keys") == trusted:
            return path
    doc: dict[str, Any] = {"format": FORMAT, "home_id": home_id(home), "home": str(home.root.resolve()),
                           "size": size, "root": root.hex(), "checkpoint": note, "keys": trusted}
    try:
        d.mkdir(parents=True, exist_ok=True, mode=0o755)
        atomic_write(path, json.dumps(doc, indent=2, sort_keys=True) + "\n", mode=0o644)
    except OSError as e:
        if _warned:
            return None
        _warned.append(str(d))
        _log.warning("audit anchor not written to %s (%s): run the appliance as root, or set %s", d,
                     e.strerror or e, ENV_ANCHOR_DIR)
        return None
    return path


def writable(home: Home) -> tuple[Path, bool]:
    """The directory anchors are written to, and whether this process can write there (for doctor)."""
    d = directories(home)[0]
    probe = d if d.is_dir() else d.parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return d, os.access(probe, os.W_OK)
