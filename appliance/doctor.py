"""`appliance doctor`: what this host and install look like, in one read-only pass.

Versions of every core dependency (``importlib.metadata`` only: nothing heavy is imported), GPU presence
(``nvidia-smi`` / ``/proc/driver/nvidia``, no torch), whether the host looks air-gapped (non-loopback
interfaces up, default route), free disk, and home / key permissions.  Each item is ``ok``, ``warn`` or
``error``; the report is data, the CLI renders it.  The installer runs it as a smoke test of a new install.
"""

from __future__ import annotations

import platform
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from appliance import __version__
from appliance.harden import probes
from appliance.harden.checks import run_checks
from appliance.home import Home

# Used when the appliance is not installed as a distribution (a bare source checkout).
CORE = (
    "torch",
    "deepspeed",
    "transformers",
    "safetensors",
    "tokenizers",
    "peft",
    "presidio-analyzer",
    "presidio-anonymizer",
    "spacy",
    "cryptography",
    "argon2-cffi",
    "typer",
    "rich",
    "pydantic",
    "gguf",
    "llama-cpp-python",
    "onnx",
    "onnxruntime",
    "model-signing",
    "datasketch",
    "numpy",
)
MIN_FREE_GB = 5.0


def _requirements() -> list[tuple[str, str | None]]:
    """``(name, pinned version or None)`` for each dependency the appliance declares."""
    try:
        reqs = metadata.requires("appliance") or []
    except metadata.PackageNotFoundError:
        return [(n, None) for n in CORE]
    out = []
    for r in reqs:
        if "extra ==" in r:
            continue
        m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(==\s*([^;,\s]+))?", r)
        if m:
            out.append((m.group(1), m.group(3)))
    return out


def versions() -> list[dict]:
    rows = []
    for name, pin in _requirements():
        try:
            have = metadata.version(name)
        except metadata.PackageNotFoundError:
            rows.append(
                {"name": name, "version": None, "pinned": pin, "status": "error", "detail": "not installed"}
            )
            continue
        local = have.split("+", 1)[0]  # 2.13.0+cpu satisfies ==2.13.0
        ok = pin is None or local == pin or have == pin
        rows.append(
            {
                "name": name,
                "version": have,
                "pinned": pin,
                "status": "ok" if ok else "warn",
                "detail": "" if ok else f"pinned {pin}",
            }
        )
    return rows


def gpu() -> dict:
    """NVIDIA GPUs from ``nvidia-smi`` (name, driver, memory), else the driver's /proc entry, else none."""
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            proc = subprocess.run(
                [smi, "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=20, check=False
            )
            if proc.returncode == 0 and proc.stdout.strip():
                gpus = [
                    dict(zip(("name", "driver", "memory"), (x.strip() for x in ln.split(","))))
                    for ln in proc.stdout.strip().splitlines()
                ]
                return {
                    "status": "ok",
                    "cuda": True,
                    "gpus": gpus,
                    "detail": f"{len(gpus)} GPU(s) via nvidia-smi",
                }
        except (OSError, subprocess.TimeoutExpired):
            pass
    drv = Path("/proc/driver/nvidia/version")
    if drv.is_file():
        first = drv.read_text(errors="replace").splitlines()[0] if drv.read_text(errors="replace") else ""
        return {
            "status": "warn",
            "cuda": True,
            "gpus": [],
            "detail": f"driver present, nvidia-smi failed: {first}",
        }
    return {"status": "ok", "cuda": False, "gpus": [], "detail": "no NVIDIA GPU (CPU training and inference)"}


def airgap(root: Path = Path("/")) -> dict:
    up = [i.name for i in probes.interfaces(root, live=root == Path("/")) if i.up and not i.loopback]
    routes = probes.default_routes(root)
    gapped = not up and not routes
    detail = (
        "no interface up beyond loopback, no default route"
        if gapped
        else "; ".join(
            ([f"interfaces up: {', '.join(up)}"] if up else [])
            + ([f"default route: {', '.join(routes)}"] if routes else [])
        )
    )
    return {
        "status": "ok" if gapped else "warn",
        "air_gapped": gapped,
        "interfaces_up": up,
        "default_routes": routes,
        "detail": detail,
    }


def disk(home: Home) -> dict:
    probe = home.root
    while not probe.exists():
        probe = probe.parent
    usage = shutil.disk_usage(probe)
    free_gb = usage.free / 2**30
    return {
        "status": "ok" if free_gb >= MIN_FREE_GB else "warn",
        "path": str(probe),
        "free_gb": round(free_gb, 1),
        "total_gb": round(usage.total / 2**30, 1),
        "detail": f"{free_gb:.1f} GiB free at {probe}"
        + ("" if free_gb >= MIN_FREE_GB else f" (< {MIN_FREE_GB})"),
    }


def permissions(home: Home) -> dict:
    (res,) = run_checks(Path("/"), home.root, live=True, only=["home.permissions"])
    status = {"pass": "ok", "skip": "warn", "fail": "error"}[res.status]
    return {"status": status, "initialized": home.initialized, "detail": res.detail}


def serving(home: Home) -> dict:
    """What a running `appliance serve` listens on; a plain-HTTP listener beyond loopback is a warning."""
    from appliance.serve import listener_state

    st = listener_state(home)
    if st is None:
        return {"status": "ok", "listening": None, "detail": "no appliance server running"}
    where = f"{st.get('scheme')}://{st.get('host')}:{st.get('port')} (pid {st.get('pid')}, {st.get('model')})"
    if st.get("insecure_http"):
        return {"status": "warn", "listening": st,
                "detail": f"{where}: plain HTTP beyond loopback (--insecure-http, audited as serve.start)"}
    return {"status": "ok", "listening": st, "detail": where}


def trust(home: Home) -> dict:
    """Key files under keys/ that the keyring does not record (ignored for trust, but worth a look)."""
    if not home.initialized:
        return {"status": "warn", "ignored_key_files": [], "detail": "home not initialised"}
    from appliance.keys import trust_store

    store = trust_store(home)
    detail = (f"{len(store.keys)} trusted site key(s) from the keyring"
              + (f"; IGNORED (not in the keyring): {', '.join(store.ignored)}" if store.ignored else ""))
    return {"status": "warn" if store.ignored else "ok", "trusted": sorted(store.keys),
            "ignored_key_files": store.ignored, "detail": detail}


def anchor(home: Home) -> dict:
    """Whether the audit anchor outside the home can be written (else tails and wipes go unnoticed)."""
    from appliance.audit import anchor_status

    d, ok = anchor_status(home)
    return {"status": "ok" if ok else "warn", "dir": str(d), "writable": ok,
            "detail": f"audit anchor dir {d} " + ("writable" if ok else "NOT writable: run as root or set APPLIANCE_ANCHOR_DIR")}


def run_doctor(home: Home) -> dict:
    """The whole report: ``{"appliance", "python", "platform", "home", "versions", "checks", "status"}``."""
    checks = {"gpu": gpu(), "airgap": airgap(), "disk": disk(home), "permissions": permissions(home),
              "serve": serving(home), "trust": trust(home), "anchor": anchor(home)}
    vers = versions()
    worst = [c["status"] for c in checks.values()] + [v["status"] for v in vers]
    return {
        "appliance": __version__,
        "python": platform.python_version(),
        "executable": sys.executable,
        "platform": f"{platform.system()} {platform.machine()} glibc {platform.libc_ver()[1] or '?'}",
        "home": str(home.root),
        "versions": vers,
        "checks": checks,
        "status": "error" if "error" in worst else "warn" if "warn" in worst else "ok",
    }
