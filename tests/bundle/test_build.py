"""Bundle spec, build, manifest, SBOM and verify (no install here; see test_install.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile

import pytest

from appliance.bundle.build import parse_wheel_name, wheel_glibc
from appliance.bundle.manifest import verify_bundle
from appliance.bundle.spec import expand_platforms, load_spec, read_lock
from appliance.errors import ConfigError, IntegrityError, UsageError

from .conftest import REPO, TEST_SPEC


def test_shipped_specs_parse():
    for name in ("test.toml", "cpu.toml", "cuda.toml"):
        spec = load_spec(REPO / "bundles" / name)
        assert spec.target.python_version == "3.11"
        assert spec.lock is not None
    cpu = load_spec(REPO / "bundles" / "cpu.toml")
    assert any(
        s.requirement
        and s.requirement.startswith("llama-cpp-python==")
        and s.env.get("CMAKE_ARGS") == "-DGGML_NATIVE=OFF"
        for s in cpu.sdists
    )
    assert cpu.spacy_model and cpu.spacy_model in cpu.requirements and cpu.complete


def test_spec_reports_every_problem_at_once(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[bundle]\nname = "Bad Name"\nversion = "x"\n[target]\nplatforms = []\n'
        '[[build.sdist]]\nrequirement = "llama-cpp-python"\n'
    )
    with pytest.raises(ConfigError) as e:
        load_spec(bad)
    text = "\n".join(e.value.problems)
    for part in ("bundle.name", "bundle.version", "target.python_version", "target.platforms", "pinned"):
        assert part in text
    assert len(e.value.problems) >= 5


def test_platform_expansion_and_wheel_tags():
    plats = expand_platforms(("manylinux_2_28_x86_64", "linux_x86_64"))
    assert plats[0] == "manylinux_2_28_x86_64" and "manylinux_2_17_x86_64" in plats
    assert (
        "manylinux2014_x86_64" in plats and "linux_x86_64" in plats and "manylinux_2_29_x86_64" not in plats
    )
    spec = load_spec(TEST_SPEC)
    assert wheel_glibc("rich-15.0.0-py3-none-any.whl", spec) is None
    assert wheel_glibc("x-1-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl", spec) == (2, 17)
    with pytest.raises(IntegrityError):
        wheel_glibc("x-1-cp312-cp312-manylinux_2_17_x86_64.whl", spec)  # wrong interpreter
    with pytest.raises(IntegrityError):
        wheel_glibc("x-1-cp311-cp311-macosx_11_0_arm64.whl", spec)  # wrong platform
    assert parse_wheel_name("typing_extensions-4.16.0-py3-none-any.whl")[:2] == (
        "typing-extensions",
        "4.16.0",
    )


def test_lock_is_hash_pinned():
    entries = read_lock(load_spec(TEST_SPEC).lock)
    names = {n for n, _v, _h in entries}
    assert {"typer", "click", "rich", "pydantic", "pydantic-core", "cryptography"} <= names
    assert all(len(h[0]) == 64 for _n, _v, h in entries)


def test_build_contents_signature_and_sbom(build_test_bundle, vendor):
    b = build_test_bundle("0.1.0")
    manifest = json.loads((b / "MANIFEST.json").read_text())
    assert manifest["version"] == "0.1.0" and manifest["target"]["python_version"] == "3.11"
    listed = {f["path"] for f in manifest["files"]}
    on_disk = {p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file()} - {
        "MANIFEST.json",
        "MANIFEST.json.sig",
    }
    assert listed == on_disk
    wheels = sorted(p.name for p in (b / "wheels").iterdir())
    assert all(w.endswith(".whl") for w in wheels)  # no sdist remains
    assert any(w.startswith("tinyalpha-1.0.0-") for w in wheels) and any(
        w.startswith("appliance-") for w in wheels
    )
    assert (b / "installer" / "install.sh").is_file() and (
        b / "hardening" / "etc" / "nftables.conf"
    ).is_file()
    assert (b / "models" / "tiny-model" / "config.json").is_file()
    # openssl alone verifies the vendor signature
    p = subprocess.run(
        [
            "openssl",
            "dgst",
            "-sha256",
            "-verify",
            str(vendor["pub"]),
            "-signature",
            str(b / "MANIFEST.json.sig"),
            str(b / "MANIFEST.json"),
        ],
        capture_output=True,
        text=True, check=False
    )
    assert p.returncode == 0 and "Verified OK" in p.stdout
    report = verify_bundle(b, vendor["pub"].read_bytes())
    assert report["ok"] and report["files"] == len(listed)
    sbom = json.loads((b / "sbom.cdx.json").read_text())
    assert sbom["bomFormat"] == "CycloneDX" and sbom["specVersion"] == "1.5"
    comps = {c["name"].lower(): c for c in sbom["components"]}
    assert {"typer", "tinyalpha", "tinybeta", "appliance", "tiny-model"} <= set(comps)
    assert {"name": "appliance:built-from-sdist", "value": "true"} in comps["tinybeta"]["properties"]
    beta_deps = next(d for d in sbom["dependencies"] if d["ref"] == comps["tinybeta"]["bom-ref"])
    assert beta_deps["dependsOn"] == [comps["tinyalpha"]["bom-ref"]]
    whl = next((b / "wheels").glob("typer-*.whl"))
    assert (
        comps["typer"]["hashes"][0]["content"] == __import__("hashlib").sha256(whl.read_bytes()).hexdigest()
    )


@pytest.mark.parametrize("how", ["wheel", "manifest", "signature", "extra-file", "missing-file"])
def test_verify_refuses_tampering(build_test_bundle, vendor, tmp_path, how):
    b = tmp_path / "b"
    shutil.copytree(build_test_bundle("0.1.0"), b)
    if how == "wheel":
        w = next((b / "wheels").glob("tinyalpha-*.whl"))
        with zipfile.ZipFile(w, "a") as z:
            z.writestr("tinyalpha/evil.py", "import os\n")
    elif how == "manifest":
        m = json.loads((b / "MANIFEST.json").read_text())
        m["version"] = "9.9.9"
        (b / "MANIFEST.json").write_text(json.dumps(m))
    elif how == "signature":
        sig = bytearray((b / "MANIFEST.json.sig").read_bytes())
        sig[-3] ^= 0x01
        (b / "MANIFEST.json.sig").write_bytes(bytes(sig))
    elif how == "extra-file":
        (b / "wheels" / "zz_evil-1.0-py3-none-any.whl").write_bytes(b"PK")
    else:
        next((b / "models" / "tiny-model").glob("README.md")).unlink()
    with pytest.raises(IntegrityError) as e:
        verify_bundle(b, vendor["pub"].read_bytes())
    assert e.value.exit_code == 3
    # and through the CLI: exit 3
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "appliance",
            "bundle",
            "verify",
            str(b),
            "--pubkey",
            str(vendor["pub"]),
            "--json",
        ],
        capture_output=True,
        text=True, check=False
    )
    assert p.returncode == 3, p.stderr


def test_verify_cli_ok_and_wrong_key(build_test_bundle, vendor):
    b = build_test_bundle("0.1.0")
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "appliance",
            "bundle",
            "verify",
            str(b),
            "--pubkey",
            str(vendor["pub"]),
            "--json",
        ],
        capture_output=True,
        text=True, check=False
    )
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["version"] == "0.1.0"
    # the production key pinned in the repository did not sign a test bundle
    p = subprocess.run(
        [sys.executable, "-m", "appliance", "bundle", "verify", str(b)], capture_output=True, text=True, check=False
    )
    assert p.returncode == 3


def test_build_refuses_key_not_pinned_by_installer(vendor, tmp_path):
    other = tmp_path / "other.key.pem"
    subprocess.run(
        ["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(other)], check=True
    )
    from appliance.bundle import build

    with pytest.raises(UsageError, match="does not match"):
        build(TEST_SPEC, tmp_path / "out", other, installer_dir=vendor["installer"])
    assert not (tmp_path / "out").exists()


def test_verify_and_build_are_audited(build_test_bundle, vendor, home):
    from appliance.audit import read_entries
    from appliance.bundle import verify

    b = build_test_bundle("0.1.0")
    verify(b, pubkey=vendor["pub"], home=home)
    bad = b.parent / "audit-copy"
    shutil.copytree(b, bad)
    (bad / "appliance.lock").write_text("tampered\n")
    with pytest.raises(IntegrityError):
        verify(bad, pubkey=vendor["pub"], home=home)
    entries = [(e["action"], e["outcome"]) for e in read_entries(home)]
    assert ("bundle.verify", "ok") in entries and ("bundle.verify", "failed") in entries
    assert all("tampered" not in json.dumps(e) for e in read_entries(home))  # ids and counts only


def test_stable_abi_and_older_pure_wheels_are_accepted():
    spec = load_spec(TEST_SPEC)
    assert wheel_glibc("hf_xet-1.8.0-cp38-abi3-manylinux2014_x86_64.manylinux_2_17_x86_64.whl", spec) == (
        2,
        17,
    )
    assert wheel_glibc("six-1.17.0-py2.py3-none-any.whl", spec) is None
    with pytest.raises(IntegrityError):
        wheel_glibc("x-1-cp312-abi3-manylinux_2_17_x86_64.whl", spec)  # stable ABI of a newer Python
    with pytest.raises(IntegrityError):
        wheel_glibc("x-1-cp310-cp310-manylinux_2_17_x86_64.whl", spec)  # another interpreter's ABI
