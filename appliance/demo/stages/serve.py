"""Demo stage "serve": the exported GGUF behind `appliance serve` on loopback, one authenticated completion.

Starts the real CLI in a subprocess on a free loopback port (it verifies the artifact first), makes an API
key for the demo, sends one request with a bearer key and one without (401), stops the server with SIGTERM
and reads the two request entries back from the audit log (metadata only).  The demo model's tokenizer has
no chat template, so the request is a plain completion.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time


def _wait_ready(home, proc, timeout: float = 120.0) -> str:
    import httpx

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"appliance serve exited {proc.returncode}: {proc.stderr.read()[-2000:]}")
        try:
            st = json.loads(home.listener_path.read_text())
            if st.get("pid") == proc.pid:
                url = f"http://127.0.0.1:{st['port']}"
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    return url
        except (OSError, ValueError, httpx.HTTPError):
            pass
        time.sleep(0.2)
    raise RuntimeError("appliance serve did not become ready")


def demo_stage(ctx) -> dict:
    import httpx

    from appliance.audit import read_entries
    from appliance.serve import add_key

    home = ctx.home
    artifact = ctx.results["export"]["artifact"]
    key = add_key(home, f"demo-{int(time.time())}", ctx.keys().signer)
    env = {**os.environ, "APPLIANCE_HOME": str(home.root)}
    proc = subprocess.Popen([sys.executable, "-m", "appliance", "serve", "--artifact", str(artifact), "--port", "0",
                             "--max-tokens", "16"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    try:
        url = _wait_ready(home, proc)
        r = httpx.post(url + "/v1/completions", timeout=60, headers={"Authorization": f"Bearer {key['key']}"},
                       json={"prompt": "Patient reports", "max_tokens": 12, "temperature": 0})
        r.raise_for_status()
        body = r.json()
        unauthenticated = httpx.post(url + "/v1/completions", timeout=60, json={"prompt": "x"}).status_code
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    entries = [e["object"] for e in read_entries(home, action="serve.request")][-2:]
    return {
        "url": url,
        "model": body["model"],
        "generated": body["choices"][0]["text"],
        "usage": body["usage"],
        "unauthenticated_status": unauthenticated,
        "audited": entries,
        "exit_code": proc.returncode,
    }
