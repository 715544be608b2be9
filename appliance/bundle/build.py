"""Build a signed bundle on a connected staging host (``appliance bundle lock`` / ``bundle build``).

``lock_spec`` resolves the spec's requirements for the *target* (pip's resolver with ``--platform``,
``--python-version`` and ``--only-binary=:all:``; ``--dry-run --report`` gives versions and hashes without
installing) and writes a hash-pinned lock.  ``build_bundle`` downloads exactly the locked wheels
(``pip download --require-hashes``), builds wheels for sdist-only packages (reusing a wheel cache), builds
the appliance wheel, refuses anything that is not a target-compatible wheel, copies models, ``installer/``
and ``hardening/``, writes the SBOM and MANIFEST.json and signs the manifest with the vendor key.  The
bundle is assembled in a sibling ``.partial`` directory and renamed into place only when complete.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from appliance import __version__
from appliance.bundle.manifest import (
    key_fingerprint,
    load_private_key,
    public_pem,
    sign_manifest,
    write_manifest,
)
from appliance.bundle.sbom import build_sbom, wheel_metadata
from appliance.bundle.spec import BundleSpec, normalize_name, read_lock
from appliance.errors import ApplianceError, InputError, IntegrityError, UsageError

log = logging.getLogger(__name__)
PROJECT_DIR = Path(__file__).resolve().parents[2]  # the source checkout the appliance wheel is built from
Progress = Callable[[str], None]
_LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}


class BuildFailed(ApplianceError):
    """A staging-host step (pip download, a wheel build) failed."""


def _run(cmd: list[str], *, env: dict | None = None, what: str) -> str:
    log.info("running %s", " ".join(cmd))
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})}, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-15:]
        raise BuildFailed(
            f"{what} failed (exit {proc.returncode})", hint="fix the staging host and rebuild", details=tail
        )
    return proc.stdout


def download_locked(spec: BundleSpec, dest: Path, python: str, total: int, progress: Progress) -> None:
    """``pip download`` of the spec's lock into ``dest``, one progress line per wheel as pip reaches it.

    pip's own retries are kept short (``--retries 2 --timeout 30``): the indexes were probed just before, so
    a wheel that still does not come is an error worth reporting, not worth ten silent minutes.
    """
    cmd = [python, "-m", "pip", "download", "--no-deps", "--require-hashes", "--progress-bar", "off",
           "--retries", "2", "--timeout", "30", "-d", str(dest), *spec.source_args(), *spec.target_args(),
           "-r", str(spec.lock)]
    log.info("running %s", " ".join(cmd))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    tail: list[str] = []
    n = 0
    assert proc.stdout is not None
    for line in proc.stdout:
        line = line.rstrip()
        tail = (tail + [line])[-15:]
        words = line.split()
        if len(words) >= 2 and words[0] in ("Collecting", "Processing"):
            n += 1
            what = words[1] if words[0] == "Collecting" else Path(words[1]).name
            progress(f"[{n}/{total}] {what}")
        elif line.lstrip().startswith("Downloading "):
            progress(f"[{n}/{total}]   {line.strip()}")
    if proc.wait() != 0:
        raise BuildFailed(f"pip download of the lock failed (exit {proc.returncode}) after {n} of {total} wheels",
                          hint="fix the staging host's sources (--index-url, --no-extra-index, --find-links) "
                               "and rebuild", details=tail)


# -- wheel tags ------------------------------------------------------------------------------------------
def parse_wheel_name(filename: str) -> tuple[str, str, set[str], set[str], set[str]]:
    """``(name, version, python tags, abi tags, platform tags)`` from a wheel file name."""
    parts = filename[:-4].split("-")
    if len(parts) not in (5, 6):
        raise InputError(f"{filename}: not a wheel file name")
    return (
        normalize_name(parts[0]),
        parts[1],
        set(parts[-3].split(".")),
        set(parts[-2].split(".")),
        set(parts[-1].split(".")),
    )


def _manylinux(tag: str) -> tuple[tuple[int, int], str] | None:
    m = re.fullmatch(r"manylinux_(\d+)_(\d+)_(\w+)", tag)
    if m:
        return (int(m.group(1)), int(m.group(2))), m.group(3)
    m = re.fullmatch(r"(manylinux1|manylinux2010|manylinux2014)_(\w+)", tag)
    if m:
        return _LEGACY_MANYLINUX[m.group(1)], m.group(2)
    return None


def wheel_glibc(filename: str, spec: BundleSpec) -> tuple[int, int] | None:
    """The lowest glibc this wheel needs on the target (None for pure wheels), or raise if incompatible."""
    _name, _ver, py, abi, plats = parse_wheel_name(filename)
    t = spec.target
    minor = int(t.python_version.split(".")[1])
    older = {f"{impl}3{m}" for impl in ("py", t.implementation) for m in range(minor + 1)}
    # exact interpreter ABI (cp311-cp311), or the stable ABI / pure code built for this or an older 3.x
    ok = (t.python_tag in py and t.abi in abi) or (
        bool(py & (older | {"py3"})) and bool(abi & {"abi3", "none"})
    )
    if not ok:
        raise IntegrityError(
            f"{filename}: not for {t.python_tag}/{t.abi}", hint="fix the lock or the spec target"
        )
    if "any" in plats:
        return None
    best = None
    for plat in plats:
        if plat in t.platforms and not plat.startswith("manylinux"):
            # A plain linux_<arch> wheel was built on this staging host: it needs this host's glibc.
            libc = platform.libc_ver()[1] or "2.17"
            return tuple(int(x) for x in libc.split(".")[:2])  # type: ignore[return-value]
        ml = _manylinux(plat)
        if ml is None:
            continue
        for tp in t.platforms:
            tml = _manylinux(tp)
            if tml and tml[1] == ml[1] and ml[0] <= tml[0]:
                best = ml[0] if best is None else min(best, ml[0])
    if best is None:
        raise IntegrityError(
            f"{filename}: no platform tag usable on {', '.join(t.platforms)}",
            hint="fix the lock or the spec target",
        )
    return best


# -- sdist builds ----------------------------------------------------------------------------------------
def _cached_wheel(spec: BundleSpec, name: str, version: str) -> Path | None:
    if spec.wheel_cache is None or not spec.wheel_cache.is_dir():
        return None
    stem = name.replace("-", "_")
    for w in sorted(spec.wheel_cache.glob(f"{stem}-{version}-*.whl")):
        try:
            wheel_glibc(w.name, spec)
        except IntegrityError:
            continue
        return w
    return None


def build_sdists(spec: BundleSpec, dest: Path, python: str, progress: Progress) -> set[str]:
    """Wheels for every ``[[build.sdist]]`` entry into ``dest``; returns the normalised package names."""
    names = set()
    dest.mkdir(parents=True, exist_ok=True)
    for sd in spec.sdists:
        pinned = sd.pinned
        cached = _cached_wheel(spec, *pinned) if pinned else None
        if cached is not None:
            progress(f"reusing cached wheel {cached.name}")
            shutil.copy2(cached, dest / cached.name)
            names.add(pinned[0])
            continue
        progress(f"building a wheel for {sd.label}")
        with tempfile.TemporaryDirectory(prefix="appliance-wheel-") as tmp:
            cmd = [python, "-m", "pip", "wheel", "--no-deps", "-w", tmp, *spec.source_args()]
            if sd.no_build_isolation:
                cmd.append("--no-build-isolation")
            cmd.append(sd.requirement or str(sd.path))
            _run(cmd, env=sd.env, what=f"building {sd.label}")
            built = list(Path(tmp).glob("*.whl"))
            if len(built) != 1:
                raise BuildFailed(f"building {sd.label} produced {len(built)} wheels, expected 1")
            w = built[0]
            names.add(parse_wheel_name(w.name)[0])
            if pinned and spec.wheel_cache is not None:
                spec.wheel_cache.mkdir(parents=True, exist_ok=True)
                shutil.copy2(w, spec.wheel_cache / w.name)  # the next build reuses it (llama-cpp: ~17 min)
            shutil.move(str(w), dest / w.name)
    return names


def build_appliance_wheel(dest: Path, python: str, project_dir: Path = PROJECT_DIR) -> Path:
    """``pip wheel --no-deps --no-build-isolation`` of the appliance, from a clean copy of the sources."""
    with tempfile.TemporaryDirectory(prefix="appliance-src-") as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        shutil.copy2(project_dir / "pyproject.toml", src / "pyproject.toml")
        for extra in ("README.md", "LICENSE"):
            if (project_dir / extra).is_file():
                shutil.copy2(project_dir / extra, src / extra)
        if not (src / "README.md").exists():
            (src / "README.md").write_text("appliance\n")
        shutil.copytree(
            project_dir / "appliance",
            src / "appliance",
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
        out = Path(tmp) / "out"
        _run(
            [
                python,
                "-m",
                "pip",
                "wheel",
                "--no-deps",
                "--no-build-isolation",
                "--no-index",
                "-w",
                str(out),
                str(src),
            ],
            what="building the appliance wheel",
        )
        (w,) = out.glob("appliance-*.whl")
        dest.mkdir(parents=True, exist_ok=True)
        return Path(shutil.move(str(w), dest / w.name))


# -- lock --------------------------------------------------------------------------------------------------
def lock_spec(spec: BundleSpec, *, python: str = sys.executable, progress: Progress = lambda m: None) -> dict:
    """Resolve the spec's requirements for its target and write the hash-pinned lock file."""
    if not spec.requirements or spec.lock is None:
        raise UsageError(f"{spec.path} lists no python.requirements to lock")
    with tempfile.TemporaryDirectory(prefix="appliance-lock-") as tmp:
        tmp = Path(tmp)
        built = build_sdists(spec, tmp / "built", python, progress)
        reqs = tmp / "requirements.in"
        reqs.write_text("\n".join(spec.requirements) + "\n")
        report = tmp / "report.json"
        progress(
            f"resolving {len(spec.requirements)} requirements for {spec.target.python_tag} "
            f"{spec.target.platforms[0]}"
        )
        _run(
            [
                python,
                "-m",
                "pip",
                "install",
                "--dry-run",
                "--ignore-installed",
                "--quiet",
                "--report",
                str(report),
                "--target",
                str(tmp / "t"),
                *spec.source_args(),
                "--find-links",
                str(tmp / "built"),
                *spec.target_args(),
                "-r",
                str(reqs),
            ],
            what="resolving the lock",
        )
        items = json.loads(report.read_text())["install"]
    lines, skipped = [], []
    for it in sorted(items, key=lambda i: normalize_name(i["metadata"]["name"])):
        name, ver = normalize_name(it["metadata"]["name"]), it["metadata"]["version"]
        if name in built or name == "appliance":
            skipped.append(f"{name}=={ver}")
            continue
        info = it["download_info"]
        sha = (info.get("archive_info", {}).get("hashes", {}) or {}).get("sha256")
        if not sha and info.get("archive_info", {}).get("hash", "").startswith("sha256="):
            sha = info["archive_info"]["hash"].split("=", 1)[1]
        if not sha:
            raise BuildFailed(f"no sha256 known for {name}=={ver} ({info.get('url')})")
        lines.append(f"{name}=={ver} \\\n    --hash=sha256:{sha}")
    header = [
        f"# Lock for bundle {spec.name} ({spec.target.python_tag}, {', '.join(spec.target.platforms)}).",
        (f"# Generated by `appliance bundle lock --spec {spec.path.name}` on "
         f"{datetime.now(UTC):%Y-%m-%d}; do not edit by hand."),
    ]
    if skipped:
        header.append(f"# Built from sdist at bundle time (not locked here): {', '.join(skipped)}")
    spec.lock.write_text("\n".join(header + lines) + "\n", encoding="utf-8")
    return {"lock": str(spec.lock), "packages": len(lines), "built_from_sdist": skipped}


# -- build -------------------------------------------------------------------------------------------------
def _copy_tree(src: Path, dest: Path) -> None:
    shutil.copytree(
        src, dest, symlinks=False, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".git", ".cache")
    )


def _write_lock(path: Path, wheels: list[Path]) -> None:
    from appliance._internal.hashing import sha256_file

    lines = []
    for w in sorted(wheels):
        name, ver, *_ = parse_wheel_name(w.name)
        lines.append(f"{name}=={ver} --hash=sha256:{sha256_file(w)}")
    path.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")


def build_bundle(
    spec: BundleSpec,
    out: Path,
    vendor_key: Path,
    *,
    installer_dir: Path | None = None,
    hardening_dir: Path | None = None,
    project_dir: Path = PROJECT_DIR,
    python: str = sys.executable,
    key_transition: Path | None = None,
    progress: Progress = lambda m: None,
) -> dict:
    """Build the signed bundle for ``spec`` into ``out`` (which must not exist yet).

    ``key_transition``: a statement from :func:`appliance.bundle.transition.make_transition` (signed by the
    previous vendor key) that lets this bundle, signed by the new key, install over an existing install.
    """
    out = Path(out).absolute()
    installer_dir = Path(installer_dir or project_dir / "installer")
    hardening_dir = Path(hardening_dir or project_dir / "hardening")
    if out.exists() and any(out.iterdir()):
        raise UsageError(f"{out} exists and is not empty", hint="choose a new output directory with -o")
    key = load_private_key(vendor_key)
    pinned_path = installer_dir / "vendor.pub.pem"
    if not pinned_path.is_file():
        raise UsageError(
            f"{pinned_path} is missing", hint="pin the vendor public key in installer/vendor.pub.pem"
        )
    if key_fingerprint(pinned_path.read_bytes()) != key_fingerprint(public_pem(key)):
        raise UsageError(
            "the vendor key does not match the public key pinned in " + str(pinned_path),
            hint="sign with the vendor key whose public half the installer pins",
        )
    lock_entries = read_lock(spec.lock) if spec.lock is not None and spec.lock.is_file() else []
    if spec.requirements and not lock_entries:
        raise UsageError(
            f"lock {spec.lock} is missing or empty", hint=f"appliance bundle lock --spec {spec.path}"
        )

    stage = out.parent / f".{out.name}.partial"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    try:
        wheels = stage / "wheels"
        wheels.mkdir()
        if lock_entries:
            progress(f"downloading {len(lock_entries)} locked wheels for {spec.target.python_tag}")
            download_locked(spec, wheels, python, len(lock_entries), progress)
        built = build_sdists(spec, wheels, python, progress)
        progress("building the appliance wheel")
        app_wheel = build_appliance_wheel(stage / "wheels", python, project_dir)

        leftovers = [p.name for p in wheels.iterdir() if not p.name.endswith(".whl")]
        if leftovers:
            raise BuildFailed(
                "source distributions would remain in the bundle",
                details=leftovers,
                hint="add them to [[build.sdist]] so they are built into wheels",
            )
        glibc = [wheel_glibc(w.name, spec) for w in wheels.glob("*.whl")]
        have = {parse_wheel_name(w.name)[:2] for w in wheels.glob("*.whl")}
        missing = [f"{n}=={v}" for n, v, _ in lock_entries if (n, v) not in have]
        if missing:
            raise BuildFailed("locked packages missing from the download", details=missing)
        third_party = [w for w in wheels.glob("*.whl") if w != app_wheel]
        _write_lock(stage / "requirements.lock", third_party)
        _write_lock(stage / "appliance.lock", [app_wheel])

        for m in spec.models:
            progress(f"copying model {m.name}")
            _copy_tree(m.path, stage / "models" / m.name)
        _copy_tree(installer_dir, stage / "installer")
        if key_transition is not None:
            from appliance.bundle.transition import attach_transition

            progress(f"attaching the key-transition statement {key_transition}")
            attach_transition(key_transition, stage / "installer", public_pem(key))
        if hardening_dir.is_dir():
            _copy_tree(hardening_dir, stage / "hardening")
        for sh in (stage / "installer").glob("*.sh"):
            sh.chmod(0o755)

        progress("writing the SBOM")
        sbom = build_sbom(stage, spec.name, spec.version, __version__, built)
        (stage / "sbom.cdx.json").write_text(json.dumps(sbom, indent=2) + "\n", encoding="utf-8")

        need = [g for g in glibc if g]
        meta = {
            "name": spec.name,
            "version": spec.version,
            "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "appliance_version": wheel_metadata(app_wheel)["version"],
            "target": {**spec.target.to_dict(), "glibc_min": ".".join(map(str, max(need))) if need else None},
            "install": {
                "requirements": "requirements.lock",
                "appliance": "appliance.lock",
                "appliance_wheel": f"wheels/{app_wheel.name}",
                "complete": spec.complete,
                "min_free_mb": spec.min_free_mb,
                "models": [m.name for m in spec.models],
            },
        }
        manifest = write_manifest(stage, meta)
        sign_manifest(stage, key)
        if out.exists():
            out.rmdir()
        os.replace(stage, out)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return {
        "bundle": str(out),
        "name": spec.name,
        "version": spec.version,
        "target": meta["target"],
        "wheels": len(third_party) + 1,
        "built_from_sdist": sorted(built),
        "models": [m.name for m in spec.models],
        "files": len(manifest["files"]),
        "total_bytes": manifest["total_bytes"],
        "key_fingerprint": key_fingerprint(public_pem(key)),
    }
