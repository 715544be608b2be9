"""Install and upgrade from inside the appliance: a thin wrapper around the pinned ``install.sh``.

``appliance upgrade --bundle DIR`` runs the installer copy that the *current* install carries
(``<prefix>/versions/<v>/share/appliance/installer/install.sh``) with the vendor key pinned there, never the
script on the stick: the running appliance already trusts its own copy, so a bundle cannot swap the key
that judges it.  The script's exit codes map back to the error tree (3 integrity, 4 refused).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from appliance.errors import ApplianceError, IntegrityError, PolicyRefused, UsageError
from appliance.home import Home


def audit(home: Home | None, action: str, obj: dict | None = None, outcome: str = "ok") -> None:
    """Write an audit entry when ``home`` is an initialised appliance home (bundle and harden actions)."""
    if home is None or not home.initialized:
        return
    from appliance.audit import record

    record(home, action, obj, outcome)


def audit_installed(home_dir: str, manifest_path: str, previous: str = "", key_transition: str = "") -> None:
    """Called by install.sh after a successful install: one ``bundle.install`` entry in the home's log
    (``key_transition``: ``"sha256:OLD -> sha256:NEW"`` when the install moved the pinned vendor key)."""
    m = json.loads(Path(manifest_path).read_text(encoding="utf-8"))
    obj = {"bundle": m["name"], "version": m["version"], "previous": previous or None, "files": len(m["files"])}
    if key_transition:
        obj["vendor_key_transition"] = key_transition
    audit(Home(Path(home_dir)), "bundle.install", obj)


def installed_layout(python_prefix: Path | None = None) -> tuple[Path, Path]:
    """``(install prefix, pinned installer dir)`` of the running appliance, or raise UsageError."""
    venv = Path(python_prefix or sys.prefix).resolve()
    installer = venv / "share" / "appliance" / "installer"
    if venv.parent.name != "versions" or not (installer / "install.sh").is_file():
        raise UsageError(
            f"this appliance ({venv}) was not installed from a bundle",
            hint="run installer/install.sh from the bundle, or the installed <prefix>/current/bin/appliance",
        )
    return venv.parent.parent, installer


def upgrade(
    bundle: Path, *, home: Home | None = None, prefix: Path | None = None, python_prefix: Path | None = None
) -> dict:
    """Install ``bundle`` as a new version next to the running one, via the pinned installer."""
    inst_prefix, installer = installed_layout(python_prefix)
    prefix = Path(prefix or inst_prefix)
    before = (
        (prefix / "installed-version").read_text().strip()
        if (prefix / "installed-version").is_file()
        else None
    )
    cmd = [
        "sh",
        str(installer / "install.sh"),
        "--bundle",
        str(Path(bundle).absolute()),
        "--prefix",
        str(prefix),
        "--yes",
    ]
    if home is not None:
        cmd += ["--home", str(home.root)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    if proc.returncode != 0:
        audit(
            home,
            "bundle.upgrade",
            {"bundle": str(bundle), "installed": before, "exit": proc.returncode},
            outcome="refused" if proc.returncode in (3, 4) else "error",
        )
        err = {3: IntegrityError, 4: PolicyRefused}.get(proc.returncode, ApplianceError)
        msg = next(
            (ln.split("error: ", 1)[1] for ln in reversed(lines) if "error: " in ln), "install.sh failed"
        )
        raise err(
            f"upgrade refused: {msg}" if proc.returncode in (3, 4) else f"upgrade failed: {msg}",
            hint="appliance bundle verify " + str(bundle),
            details=lines[-10:],
        )
    after = (prefix / "installed-version").read_text().strip()
    audit(home, "bundle.upgrade", {"bundle": str(bundle), "from": before, "to": after})
    return {"prefix": str(prefix), "from": before, "to": after, "changed": before != after, "log": lines}
