"""Fixtures for the serving tests: one tiny signed GGUF artifact (built once per session, with a chat
template in its tokenizer) and a live `appliance serve` subprocess on loopback.

The tiny-model builder of tests/export is loaded by path (the test folders are not packages).
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("export_fixtures", Path(__file__).parents[1] / "export" / "conftest.py")
export_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(export_fixtures)

CHAT_TEMPLATE = ("{% for m in messages %}<|bos|>{{ m['role'] }}\n{{ m['content'] }}<|eos|>\n{% endfor %}"
                 "{% if add_generation_prompt %}<|bos|>assistant\n{% endif %}")


def add_chat_template(model_dir: Path, template: str = CHAT_TEMPLATE) -> None:
    p = model_dir / "tokenizer_config.json"
    cfg = json.loads(p.read_text())
    cfg["chat_template"] = template
    p.write_text(json.dumps(cfg, indent=2))


@pytest.fixture(scope="session")
def serve_site(tmp_path_factory):
    """``(home, keys, artifact_dir, passphrase_file)``: a home and a signed tiny llama GGUF (f32) it exported."""
    from appliance.export import export_gguf

    root = tmp_path_factory.mktemp("serve")
    home, keys = export_fixtures.make_site(root / "home")
    model = export_fixtures.build_tiny_model("llama", root / "model", seed=0, train_steps=10)
    add_chat_template(model)
    export_gguf(str(model), "f32", home=home, signer=keys.signer, out_dir=root / "artifact", parity=False)
    pf = root / "passphrase"
    pf.write_bytes(export_fixtures.SITE_PASSPHRASE + b"\n")
    pf.chmod(0o600)
    return home, keys, root / "artifact", pf


def cli_env(home) -> dict:
    env = dict(os.environ)
    env.pop("APPLIANCE_PASSPHRASE_FILE", None)
    env["APPLIANCE_HOME"] = str(home.root)
    return env


def run_appliance(home, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "appliance", *args], capture_output=True, text=True,
                          env=cli_env(home), timeout=timeout, check=False)


class LiveServer:
    """`appliance serve` in a subprocess; ``url`` once it answers /health."""

    def __init__(self, home, artifact: Path, *extra: str):
        self.home = home
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "appliance", "serve", "--artifact", str(artifact), "--port", "0", *extra],
            env=cli_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.url = self._wait()

    def _wait(self, timeout: float = 120) -> str:
        import httpx

        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                out, err = self.proc.communicate()
                raise AssertionError(f"server exited {self.proc.returncode}\n{out}\n{err}")
            try:
                st = json.loads(self.home.listener_path.read_text())
                if st.get("pid") == self.proc.pid:
                    url = f"{st.get('scheme', 'http')}://127.0.0.1:{st['port']}"
                    if httpx.get(url + "/health", timeout=2, verify=False).status_code == 200:  # readiness only
                        return url
            except (OSError, ValueError, httpx.HTTPError):
                pass
            time.sleep(0.2)
        self.stop()
        raise AssertionError("server did not become ready")

    def stop(self, timeout: float = 60) -> tuple[int, str, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
        return self.proc.returncode, out, err


@pytest.fixture(scope="module")
def api_key(serve_site):
    """A fresh API key made through the CLI (``{"name", "key"}``)."""
    home, _keys, _art, pf = serve_site
    name = f"tests-{os.getpid()}-{time.monotonic_ns()}"
    r = run_appliance(home, "serve", "keys", "add", name, "--passphrase-file", str(pf), "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.fixture(scope="module")
def live_server(serve_site, api_key):
    home, _keys, art, _pf = serve_site
    srv = LiveServer(home, art, "--parallel", "2", "--queue", "8", "--max-tokens", "16", "--max-body-bytes", "65536")
    yield srv
    srv.stop()
