"""`appliance doctor`: versions without heavy imports, GPU detection, air gap, disk and permissions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from appliance.doctor import gpu, run_doctor, versions


def test_versions_come_from_metadata_without_importing_heavy_modules():
    code = (
        "import sys, json; from appliance.doctor import run_doctor; from appliance.home import Home; "
        "r = run_doctor(Home.resolve('/nonexistent-home')); "
        "heavy = [m for m in ('torch', 'deepspeed', 'transformers', 'presidio_analyzer', 'spacy', "
        "'llama_cpp', "
        "'onnx') if m in sys.modules]; print(json.dumps({'heavy': heavy, 'r': r}))"
    )
    out = json.loads(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    )
    assert out["heavy"] == []
    rows = {v["name"]: v for v in out["r"]["versions"]}
    assert "torch" in rows and "deepspeed" in rows and "cryptography" in rows
    from importlib.metadata import version

    assert rows["cryptography"]["version"] == version("cryptography")
    assert out["r"]["checks"]["permissions"]["status"] == "warn"  # no home yet


def test_version_mismatch_is_a_warning():
    rows = versions()
    for r in rows:
        if r["version"] and r["pinned"]:
            assert r["status"] == ("ok" if r["version"].split("+")[0] == r["pinned"] else "warn")


def test_gpu_detection_reads_nvidia_smi(tmp_path, monkeypatch):
    if Path("/proc/driver/nvidia/version").exists():
        pytest.skip("a real NVIDIA driver is present; the fixture binary would shadow it")
    fake = tmp_path / "nvidia-smi"  # a stand-in binary with nvidia-smi's CSV output format
    fake.write_text("#!/bin/sh\necho 'NVIDIA H100 80GB HBM3, 575.57.08, 81559 MiB'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    g = gpu()
    assert g["cuda"] is True and g["gpus"] == [
        {"name": "NVIDIA H100 80GB HBM3", "driver": "575.57.08", "memory": "81559 MiB"}
    ]
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    if not Path("/usr/bin/nvidia-smi").exists():
        assert gpu()["cuda"] is False


def test_permissions_of_an_initialised_home(home):
    r = run_doctor(home)
    assert r["checks"]["permissions"]["status"] == "ok", r["checks"]["permissions"]
    key = next(p for p in home.keys_dir.iterdir() if p.is_file() and not p.name.endswith(".pub.pem"))
    key.chmod(0o644)
    r = run_doctor(home)
    assert (
        r["checks"]["permissions"]["status"] == "error" and key.name in r["checks"]["permissions"]["detail"]
    )
    assert r["status"] == "error"
    assert r["checks"]["disk"]["free_gb"] > 0


@pytest.mark.skipif(
    subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False).returncode != 0,
    reason="`unshare -n` is not permitted here (needs root)",
)
def test_cli_json_reports_air_gap_inside_empty_namespace(tmp_path):
    p = subprocess.run(
        [
            "unshare",
            "-n",
            sys.executable,
            "-m",
            "appliance",
            "--home",
            str(tmp_path / "h"),
            "doctor",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60, check=False
    )
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert r["checks"]["airgap"]["air_gapped"] is True and r["checks"]["airgap"]["interfaces_up"] == []
    t = subprocess.run(
        [sys.executable, "-m", "appliance", "--home", str(tmp_path / "h"), "doctor"],
        capture_output=True,
        text=True,
        timeout=60, check=False
    )
    assert t.returncode == 0 and "dependencies" in t.stdout and "airgap" in t.stdout
