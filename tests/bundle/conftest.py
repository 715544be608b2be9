"""Fixtures for the bundle tests: a test vendor key, an installer copy pinning it, built test bundles.

The real vendor private key is never in the repository, so the tests generate their own key pair with
openssl and build a copy of ``installer/`` whose ``vendor.pub.pem`` is the test public key; bundles are
signed with the test key and installed with that copy, exactly as a site would with the real pair.
``bundles/test.toml`` takes its third-party wheels from the staging host's local wheel mirror; without it
the bundle tests skip with the reason.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TEST_SPEC = REPO / "bundles" / "test.toml"


def _mirror_available() -> bool:
    from appliance.bundle.spec import load_spec

    url = load_spec(TEST_SPEC).index_url or ""
    return not url.startswith("file://") or Path(url[len("file://") :]).is_dir()


def unshare_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False).returncode == 0


@pytest.fixture(scope="session")
def vendor(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("vendor")
    key, pub = d / "test-vendor.key.pem", d / "test-vendor.pub.pem"
    subprocess.run(
        ["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(key)], check=True
    )
    subprocess.run(
        ["openssl", "ec", "-in", str(key), "-pubout", "-out", str(pub)], check=True, capture_output=True
    )
    installer = d / "installer"
    shutil.copytree(REPO / "installer", installer)
    shutil.copy2(pub, installer / "vendor.pub.pem")
    return {"key": key, "pub": pub, "installer": installer}


@pytest.fixture(scope="session")
def build_test_bundle(vendor, tmp_path_factory):
    """``build(version) -> Path``: the test bundle at that version (cached for the session)."""
    if not _mirror_available():
        pytest.skip("bundles/test.toml's wheel mirror is not on this host")
    from appliance.bundle import build

    cache: dict[str, Path] = {}
    root = tmp_path_factory.mktemp("bundles")

    def _build(version: str = "0.1.0") -> Path:
        if version not in cache:
            out = root / f"b-{version}"
            build(TEST_SPEC, out, vendor["key"], version=version, installer_dir=vendor["installer"])
            cache[version] = out
        return cache[version]

    return _build


def tree_state(root: Path) -> dict[str, str]:
    """Every path under ``root`` with its content hash or link target (to prove nothing changed)."""
    state = {}
    if not root.exists():
        return state
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = Path(dirpath) / n
            rel = p.relative_to(root).as_posix()
            if p.is_symlink():
                state[rel] = "-> " + os.readlink(p)
            elif p.is_file():
                state[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
            else:
                state[rel] = "dir"
    return state


def run_installer(
    installer: Path, bundle: Path, prefix: Path, *extra: str, netns: bool = True, timeout: float = 300
) -> subprocess.CompletedProcess:
    """Run ``install.sh`` (the pinned test copy) on ``bundle``, inside ``unshare -n`` when asked."""
    cmd = [
        "sh",
        str(installer / "install.sh"),
        "--bundle",
        str(bundle),
        "--prefix",
        str(prefix),
        "--home",
        str(prefix.parent / "home"),
        "--yes",
        *extra,
    ]
    if netns:
        cmd = ["unshare", "-n", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
