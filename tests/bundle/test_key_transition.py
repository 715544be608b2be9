"""Vendor key continuity, for real: install.sh (the copy on the stick) over an existing install, with openssl.

The site has installed a bundle signed by the vendor key A.  A stick then arrives whose bundle, and whose
own install.sh, pin another key B.  The stick's install.sh must judge it by the INSTALLED key A: refused
without a key-transition statement, or with one signed by a third key, or an expired one; accepted with a
valid statement signed by A, after which B is the pinned key (and an A-signed bundle is refused).
The B bundles are re-keyed copies of the session's A bundle (the last steps of a build: pin, manifest, sign),
so the suite builds no extra wheels; `bundle build --key-transition` itself is run on a minimal spec.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from appliance.bundle.manifest import load_private_key, sign_manifest, write_manifest
from appliance.bundle.transition import SIGNATURE, STATEMENT, attach_transition, make_transition

from .conftest import REPO, run_installer, tree_state, unshare_works

pytestmark = pytest.mark.skipif(not unshare_works(), reason="`unshare -n` is not permitted here (needs root)")


def _keypair(d: Path, name: str) -> tuple[Path, Path]:
    key, pub = d / f"{name}.key.pem", d / f"{name}.pub.pem"
    subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(key)], check=True)
    subprocess.run(["openssl", "ec", "-in", str(key), "-pubout", "-out", str(pub)], check=True, capture_output=True)
    return key, pub


def _rekey(src: Path, dest: Path, key: Path, pub: Path, version: str, statement: Path | None = None) -> Path:
    """``src`` re-pinned to ``pub`` and re-signed with ``key`` at ``version`` (what a build with that key makes)."""
    shutil.copytree(src, dest)
    inst = dest / "installer"
    shutil.copy2(pub, inst / "vendor.pub.pem")
    for n in (STATEMENT, SIGNATURE):
        (inst / n).unlink(missing_ok=True)
    if statement is not None:
        attach_transition(statement, inst, pub.read_bytes())
    meta = json.loads((dest / "MANIFEST.json").read_text())
    for k in ("format", "files", "total_bytes"):
        meta.pop(k)
    meta["version"] = version
    write_manifest(dest, meta)
    sign_manifest(dest, load_private_key(key))
    return dest


@pytest.fixture(scope="module")
def site(build_test_bundle, vendor, tmp_path_factory) -> dict:
    """An install of the A-signed 0.1.0 bundle, and the key pairs B (the vendor's new key) and C (an attacker's)."""
    d = tmp_path_factory.mktemp("keys")
    b_key, b_pub = _keypair(d, "vendor-b")
    c_key, c_pub = _keypair(d, "attacker-c")
    from appliance.home import Home
    from appliance.keys import init_home

    bundle = build_test_bundle("0.1.0")
    prefix = tmp_path_factory.mktemp("site") / "opt-appliance"
    init_home(Home(prefix.parent / "home"), b"test passphrase", kdf_target_ms=1)  # installs are audited there
    p = run_installer(vendor["installer"], bundle, prefix)
    assert p.returncode == 0, p.stdout + p.stderr
    return {"prefix": prefix, "bundle": bundle, "b": (b_key, b_pub), "c": (c_key, c_pub), "d": d}


def _stick_install(bundle: Path, prefix: Path) -> subprocess.CompletedProcess:
    return run_installer(bundle / "installer", bundle, prefix)  # the install.sh ON THE STICK, pinning B


def _pinned(prefix: Path) -> bytes:
    return (prefix / "current" / "share" / "appliance" / "installer" / "vendor.pub.pem").read_bytes()


def test_stick_installer_with_other_key_refused(site, vendor, tmp_path):
    prefix = site["prefix"]
    bundle = _rekey(site["bundle"], tmp_path / "b", *site["b"], "0.2.0")
    before = tree_state(prefix)
    p = _stick_install(bundle, prefix)
    assert p.returncode == 3, p.stdout + p.stderr
    assert "does not verify against the pinned vendor key" in p.stderr and str(prefix) in p.stderr
    assert "no key-transition statement" in p.stderr
    assert tree_state(prefix) == before and _pinned(prefix) == vendor["pub"].read_bytes()


def test_transition_signed_by_wrong_key_refused(site, vendor, tmp_path):
    prefix = site["prefix"]
    c_key, _ = site["c"]
    st = make_transition(c_key, site["b"][1], tmp_path / "st" / STATEMENT, reason="attacker's own statement")
    bundle = _rekey(site["bundle"], tmp_path / "b", *site["b"], "0.2.0", statement=Path(st["statement"]))
    before = tree_state(prefix)
    p = _stick_install(bundle, prefix)
    assert p.returncode == 3, p.stdout + p.stderr
    assert "key-transition statement is not signed by the pinned vendor key" in p.stderr
    assert tree_state(prefix) == before and _pinned(prefix) == vendor["pub"].read_bytes()


def test_expired_transition_refused(site, vendor, tmp_path):
    prefix = site["prefix"]
    old = datetime.now(UTC) - timedelta(days=40)
    st = make_transition(vendor["key"], site["b"][1], tmp_path / "st" / STATEMENT, reason="rotation",
                         valid_days=30, now=old)
    bundle = _rekey(site["bundle"], tmp_path / "b", *site["b"], "0.2.0", statement=Path(st["statement"]))
    before = tree_state(prefix)
    p = _stick_install(bundle, prefix)
    assert p.returncode == 3 and "outside its validity" in p.stderr, p.stdout + p.stderr
    assert tree_state(prefix) == before


def test_valid_transition_accepted_and_pinned_key_replaced(site, vendor, tmp_path):
    from appliance.bundle import verify
    from appliance.errors import IntegrityError

    prefix = site["prefix"]
    b_key, b_pub = site["b"]
    st = make_transition(vendor["key"], b_pub, tmp_path / "st" / STATEMENT, reason="yearly vendor key rotation")
    bundle = _rekey(site["bundle"], tmp_path / "b", b_key, b_pub, "0.2.0", statement=Path(st["statement"]))
    # `appliance bundle verify` with the old key follows the same statement (python side)
    rep = verify(bundle, pubkey=vendor["pub"])
    assert rep["key_transition"]["reason"] == "yearly vendor key rotation"
    with pytest.raises(IntegrityError):
        verify(bundle, pubkey=site["c"][1])

    p = _stick_install(bundle, prefix)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "vendor key transition accepted" in p.stdout and "yearly vendor key rotation" in p.stdout
    assert (prefix / "installed-version").read_text().strip() == "0.2.0"
    assert _pinned(prefix) == b_pub.read_bytes()  # the pinned key is now B
    assert "vendor key sha256:" in (prefix / "install-history.log").read_text()
    from appliance.audit import read_entries
    from appliance.home import Home

    (entry,) = [e for e in read_entries(Home(prefix.parent / "home"), action="bundle.install")
                if e["object"]["version"] == "0.2.0"]
    assert entry["object"]["vendor_key_transition"] == f"sha256:{st['old_key_sha256']} -> sha256:{st['new_key_sha256']}"

    # From now on the old key A no longer judges: an A-signed newer bundle is refused, by either copy.
    old_signed = _rekey(site["bundle"], tmp_path / "a3", vendor["key"], vendor["pub"], "0.3.0")
    before = tree_state(prefix)
    for installer in (vendor["installer"], prefix / "current" / "share" / "appliance" / "installer"):
        p = run_installer(installer, old_signed, prefix)
        assert p.returncode == 3 and "does not verify against the pinned vendor key" in p.stderr, p.stderr
    assert tree_state(prefix) == before


def test_bundle_transition_and_build_cli(vendor, tmp_path, cli):
    """`bundle transition` then `bundle build --key-transition` (a spec with no wheels: fast), then verify."""
    b_key, b_pub = _keypair(tmp_path, "vendor-b")
    installer_b = tmp_path / "installer-b"
    shutil.copytree(REPO / "installer", installer_b)
    shutil.copy2(b_pub, installer_b / "vendor.pub.pem")
    spec = tmp_path / "mini.toml"
    spec.write_text('[bundle]\nname = "mini"\nversion = "0.2.0"\n[target]\npython_version = "3.11"\n'
                    'platforms = ["manylinux_2_36_x86_64"]\n[python]\nindex_url = ""\n')
    st = tmp_path / "kt" / "key-transition.json"
    r = cli("bundle", "transition", "--old-key", str(vendor["key"]), "--new-pub", str(b_pub),
            "--reason", "new HSM", "-o", str(st), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["new_key_sha256"] and st.with_name(st.name + ".sig").is_file()
    ok = subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(vendor["pub"]), "-signature",
                         f"{st}.sig", str(st)], capture_output=True, check=False)
    assert ok.returncode == 0  # plain openssl checks the statement with the OLD key
    out = tmp_path / "bundle"
    r = cli("bundle", "build", "--spec", str(spec), "-o", str(out), "--vendor-key", str(b_key),
            "--installer-dir", str(installer_b), "--key-transition", str(st), "--json")
    assert r.returncode == 0, r.stderr
    assert (out / "installer" / STATEMENT).read_bytes() == st.read_bytes()
    r = cli("bundle", "verify", str(out), "--pubkey", str(vendor["pub"]), "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["key_transition"]["reason"] == "new HSM"
    # a statement naming some other new key is refused at build time
    from appliance.errors import UsageError

    _c_key, c_pub = _keypair(tmp_path, "c")
    with pytest.raises(UsageError, match="not the key this bundle is signed with"):
        attach_transition(st, tmp_path, c_pub.read_bytes())
