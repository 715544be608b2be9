"""install.sh and `appliance upgrade`, for real, inside `unshare -n` (an empty network namespace).

One install prefix is shared by the tests of this module, in order: a fresh install, refusals of tampered
bundles (nothing changes), an upgrade from inside the appliance, and a refused rollback.  The test bundle
installs the appliance wheel with --no-deps (no torch/DeepSpeed in it); see bundles/test.toml.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from .conftest import REPO, run_installer, tree_state, unshare_works

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not unshare_works(), reason="`unshare -n` is not permitted here (needs root)"),
]


@pytest.fixture(scope="module")
def installed(build_test_bundle, vendor, tmp_path_factory) -> dict:
    bundle = build_test_bundle("0.1.0")
    prefix = tmp_path_factory.mktemp("site") / "opt-appliance"
    p = run_installer(vendor["installer"], bundle, prefix)
    assert p.returncode == 0, p.stdout + p.stderr
    return {"prefix": prefix, "bundle": bundle, "log": p.stdout}


def test_sh_syntax_and_shellcheck():
    assert subprocess.run(["sh", "-n", str(REPO / "installer" / "install.sh")], check=False).returncode == 0
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck not installed (apt-get install shellcheck)")
    p = subprocess.run(
        ["shellcheck", "-s", "sh", str(REPO / "installer" / "install.sh")], capture_output=True, text=True, check=False
    )
    assert p.returncode == 0, p.stdout


def test_fresh_install_offline(installed):
    prefix = installed["prefix"]
    assert (prefix / "current").is_symlink() and (
        prefix / "current"
    ).resolve() == prefix / "versions" / "0.1.0"
    assert (prefix / "installed-version").read_text().strip() == "0.1.0"
    out = subprocess.run(
        [str(prefix / "current" / "bin" / "appliance"), "--version"], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0 and out.stdout.strip().startswith("appliance "), out.stderr
    # the locally built wheels really installed, with their dependency between them
    hello = subprocess.run(
        [str(prefix / "current" / "bin" / "python"), "-c", "import tinybeta; print(tinybeta.hello())"],
        capture_output=True,
        text=True, check=False
    )
    assert hello.stdout.strip() == "alpha:beta"
    share = prefix / "current" / "share" / "appliance"
    assert (share / "models" / "tiny-model" / "config.json").is_file()
    assert (share / "installer" / "vendor.pub.pem").is_file() and (share / "MANIFEST.json.sig").is_file()
    doctor = json.loads((share / "doctor-install.json").read_text())
    assert doctor["checks"]["airgap"]["air_gapped"] is True  # it ran inside the empty network namespace
    assert "not a system install" in installed["log"]
    assert not list(prefix.glob(".install.lock")) and not list(prefix.glob(".current.new"))


def _tamper(bundle: Path, how: str) -> None:
    if how == "wheel":
        w = next((bundle / "wheels").glob("typer-*.whl"))
        with zipfile.ZipFile(w, "a") as z:
            z.writestr("typer/_evil.py", "print('pwned')\n")
    elif how == "manifest":
        m = json.loads((bundle / "MANIFEST.json").read_text())
        m["version"] = "9.0.0"  # try to jump versions without the vendor key
        (bundle / "MANIFEST.json").write_text(json.dumps(m, indent=2, sort_keys=True) + "\n")
    elif how == "signature":
        sig = bytearray((bundle / "MANIFEST.json.sig").read_bytes())
        sig[-2] ^= 0x40
        (bundle / "MANIFEST.json.sig").write_bytes(bytes(sig))
    elif how == "added-wheel":
        shutil.copy2(
            next((bundle / "wheels").glob("tinyalpha-*.whl")),
            bundle / "wheels" / "tinyalpha-9.0.0-py3-none-any.whl",
        )


@pytest.mark.parametrize("how", ["wheel", "manifest", "signature", "added-wheel"])
def test_tampered_bundle_refused_nothing_changed(installed, build_test_bundle, vendor, tmp_path, how):
    bundle = tmp_path / "b"
    shutil.copytree(build_test_bundle("0.2.0"), bundle)  # a newer version, so only the tampering stops it
    _tamper(bundle, how)
    before = tree_state(installed["prefix"])
    p = run_installer(vendor["installer"], bundle, installed["prefix"])
    assert p.returncode == 3, p.stdout + p.stderr
    assert tree_state(installed["prefix"]) == before


def test_upgrade_then_rollback_refused(installed, build_test_bundle, vendor):
    from appliance.audit import read_entries
    from appliance.home import Home
    from appliance.keys import init_home

    prefix = installed["prefix"]
    home = Home(prefix.parent / "home")
    init_home(home, b"test passphrase", kdf_target_ms=1)  # an existing home: install and upgrade are audited
    new = build_test_bundle("0.2.0")
    app = str(prefix / "current" / "bin" / "appliance")
    cmd = ["unshare", "-n", app, "--home", str(home.root), "upgrade", "--bundle", str(new), "--json"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    result = json.loads(p.stdout)
    assert result["from"] == "0.1.0" and result["to"] == "0.2.0"
    assert (prefix / "current").resolve() == prefix / "versions" / "0.2.0"
    assert (prefix / "versions" / "0.1.0").is_dir()  # the previous version stays, untouched
    audited = {e["action"]: e["object"] for e in read_entries(home)}
    assert audited["bundle.install"]["version"] == "0.2.0"
    assert audited["bundle.install"]["previous"] == "0.1.0"
    assert audited["bundle.upgrade"]["to"] == "0.2.0"

    before = tree_state(prefix)
    old = installed["bundle"]
    p = run_installer(vendor["installer"], old, prefix)
    assert p.returncode == 4 and "anti-rollback" in p.stderr
    p = subprocess.run(
        ["unshare", "-n", app, "upgrade", "--bundle", str(old)], capture_output=True, text=True, check=False
    )
    assert p.returncode == 4, p.stdout + p.stderr
    assert tree_state(prefix) == before
    # offering the installed version again is a no-op
    p = run_installer(vendor["installer"], new, prefix)
    assert p.returncode == 0 and "already installed" in p.stdout
    assert tree_state(prefix) == before


def test_failed_install_leaves_previous_untouched(installed, build_test_bundle, vendor, tmp_path):
    """A bundle for another interpreter passes the signature but is refused before anything is written."""
    prefix = installed["prefix"]
    bundle = tmp_path / "b"
    shutil.copytree(build_test_bundle("0.3.0"), bundle)
    m = json.loads((bundle / "MANIFEST.json").read_text())
    m["target"]["python_version"] = "3.99"
    (bundle / "MANIFEST.json").write_text(json.dumps(m, indent=2, sort_keys=True) + "\n")
    subprocess.run(
        [
            "openssl",
            "dgst",
            "-sha256",
            "-sign",
            str(vendor["key"]),
            "-out",
            str(bundle / "MANIFEST.json.sig"),
            str(bundle / "MANIFEST.json"),
        ],
        check=True,
    )
    before = tree_state(prefix)
    p = run_installer(vendor["installer"], bundle, prefix)
    assert p.returncode == 4 and "targets 3.99" in p.stderr
    assert tree_state(prefix) == before


def test_failure_after_venv_creation_rolls_back(installed, build_test_bundle, vendor, tmp_path):
    """A correctly signed bundle whose pinned hash does not match its wheel: pip refuses mid-install, the
    half-built version directory is removed and `current` still points at the previous version."""
    from appliance.bundle.manifest import load_private_key, sign_manifest, write_manifest

    prefix = installed["prefix"]
    bundle = tmp_path / "b"
    shutil.copytree(build_test_bundle("0.4.0"), bundle)
    lock = bundle / "requirements.lock"
    lines = lock.read_text().splitlines()
    lines = [ln.split("--hash=sha256:")[0] + "--hash=sha256:" + "0" * 64 if ln.startswith("typer==") else ln
             for ln in lines]
    lock.write_text("\n".join(lines) + "\n")
    meta = json.loads((bundle / "MANIFEST.json").read_text())
    for k in ("format", "files", "total_bytes"):
        meta.pop(k)
    write_manifest(bundle, meta)
    sign_manifest(bundle, load_private_key(vendor["key"]))
    before = tree_state(prefix)
    p = run_installer(vendor["installer"], bundle, prefix)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "pip install of the bundle's wheels failed" in p.stderr and "removed the incomplete" in p.stdout
    assert tree_state(prefix) == before
