"""`appliance serve` against the real `openai` client on loopback: chat, completion, streaming, keys,
bad input, concurrency with the audit trail, and start-up refusals (tampered artifact, open address)."""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.serve.conftest import LiveServer, run_appliance

pytestmark = [pytest.mark.llamacpp, pytest.mark.enable_socket, pytest.mark.allow_hosts(["127.0.0.1"])]
openai = pytest.importorskip("openai")
pytest.importorskip("llama_cpp")

CANARY = "Zyxqvorth"


def client(srv, key: str):
    return openai.OpenAI(base_url=srv.url + "/v1", api_key=key, max_retries=0, timeout=60)


def requests_since(home, seq: int, expect: int = 0) -> list[dict]:
    """Request entries after ``seq``; waits (briefly) for ``expect`` of them: an entry is appended just after
    its response has reached the client."""
    import time

    from appliance.audit import read_entries

    end = time.monotonic() + 10
    while True:
        out = [e for e in read_entries(home, action="serve.request") if e["seq"] > seq]
        if len(out) >= expect or time.monotonic() > end:
            return out
        time.sleep(0.05)


def last_seq(home) -> int:
    from appliance.audit import read_entries

    return max((e["seq"] for e in read_entries(home)), default=-1)


def test_models_chat_completion_and_streaming(live_server, api_key, serve_site):
    home = serve_site[0]
    c = client(live_server, api_key["key"])
    start = last_seq(home)
    (model,) = c.models.list().data
    chat = c.chat.completions.create(model=model.id, messages=[{"role": "user", "content": "Patient reports"}],
                                     max_tokens=8, temperature=0)
    assert chat.choices[0].message.role == "assistant" and chat.usage.completion_tokens >= 1
    # the artifact's own chat template formatted the prompt: its special tokens add to the prompt count
    assert chat.usage.prompt_tokens > 6
    comp = c.completions.create(model=model.id, prompt="Patient reports", max_tokens=8, temperature=0)
    assert comp.choices[0].text and comp.usage.completion_tokens == 8
    pieces = [ch.choices[0].text for ch in c.completions.create(model=model.id, prompt="Patient reports",
                                                                 max_tokens=8, temperature=0, stream=True)]
    assert "".join(pieces) == comp.choices[0].text  # greedy: streaming yields the same text
    deltas = [ch.choices[0].delta.content or "" for ch in c.chat.completions.create(
        model=model.id, messages=[{"role": "user", "content": "Patient reports"}], max_tokens=8, temperature=0,
        stream=True)]
    assert "".join(deltas) == chat.choices[0].message.content
    capped = c.completions.create(model=model.id, prompt="Patient", max_tokens=10_000)
    assert capped.usage.completion_tokens <= 16  # the server's --max-tokens cap
    from collections import Counter

    entries = requests_since(home, start, 6)
    assert Counter(e["object"]["endpoint"] for e in entries) == {"/v1/models": 1, "/v1/chat/completions": 2,
                                                                  "/v1/completions": 3}
    for e in entries:
        o = e["object"]
        assert o["key_name"] == api_key["name"] and o["status"] == 200 and o["latency_ms"] >= 0
        assert set(o) <= {"endpoint", "method", "status", "latency_ms", "key_name", "model", "tokens_in",
                          "tokens_out", "finish", "phi"}
    # streamed and non-streamed runs of the same prompt are counted alike
    comps = [e["object"] for e in entries if e["object"]["endpoint"] == "/v1/completions"]
    eight = [(o["tokens_in"], o["tokens_out"]) for o in comps if o["tokens_out"] == 8]
    assert len(eight) == 2 and eight[0] == eight[1]
    chats = [(o["tokens_in"], o["tokens_out"]) for o in (e["object"] for e in entries)
             if o["endpoint"] == "/v1/chat/completions"]
    assert chats[0] == chats[1] == (chat.usage.prompt_tokens, chat.usage.completion_tokens)


def test_bad_key_bad_json_and_oversize_body(live_server, api_key, serve_site):
    import httpx

    home = serve_site[0]
    start = last_seq(home)
    with pytest.raises(openai.AuthenticationError):
        client(live_server, "apk_" + "x" * 43).models.list()
    r = httpx.post(live_server.url + "/v1/completions", content=b'{"prompt": "x", ', timeout=30,
                   headers={"Authorization": f"Bearer {api_key['key']}", "Content-Type": "application/json"})
    assert r.status_code == 400 and "invalid JSON" in r.json()["error"]["message"]
    with pytest.raises(openai.BadRequestError):
        client(live_server, api_key["key"]).completions.create(model="m", prompt="x", temperature="hot")
    with pytest.raises(openai.APIStatusError) as ei:
        client(live_server, api_key["key"]).completions.create(model="m", prompt="x" * 70_000, max_tokens=1)
    assert ei.value.status_code == 413
    r = httpx.post(live_server.url + "/v1/completions", json={"prompt": "x"}, timeout=30)  # no header at all
    assert r.status_code == 401
    codes = [e["object"]["status"] for e in requests_since(home, start, 5)]
    assert codes == [401, 400, 400, 413, 401]


def test_revoked_key_fails_at_once_on_the_running_server(live_server, serve_site):
    home, _keys, _art, pf = serve_site
    r = run_appliance(home, "serve", "keys", "add", "short-lived", "--passphrase-file", str(pf), "--json")
    assert r.returncode == 0, r.stderr
    key = json.loads(r.stdout)["key"]
    c = client(live_server, key)
    assert c.models.list().data  # works while active
    r = run_appliance(home, "serve", "keys", "revoke", "short-lived", "--passphrase-file", str(pf))
    assert r.returncode == 0, r.stderr
    with pytest.raises(openai.AuthenticationError):
        c.models.list()
    ls = json.loads(run_appliance(home, "serve", "keys", "ls", "--json").stdout)
    row = next(x for x in ls if x["name"] == "short-lived")
    assert row["revoked"] and not row["active"] and "key" not in row


def test_forty_requests_four_at_a_time_all_audited_and_no_prompt_text_stored(live_server, api_key, serve_site):
    home = serve_site[0]
    start = last_seq(home)
    c = client(live_server, api_key["key"])

    def one(i: int) -> int:
        if i % 2:
            r = c.chat.completions.create(model="m", max_tokens=4, messages=[
                {"role": "user", "content": f"{CANARY} note {i}: patient reports chest pain"}])
            return r.usage.completion_tokens
        r = c.completions.create(model="m", prompt=f"{CANARY} note {i}: patient reports", max_tokens=4)
        return r.usage.completion_tokens

    with ThreadPoolExecutor(4) as pool:
        outs = list(pool.map(one, range(40)))
    assert len(outs) == 40 and all(n >= 1 for n in outs)
    entries = requests_since(home, start, 40)
    assert len(entries) == 40 and all(e["object"]["status"] == 200 for e in entries)
    assert sum(e["object"]["tokens_out"] for e in entries) == sum(outs)
    hits = [p for p in Path(home.root).rglob("*") if p.is_file() and CANARY.encode() in p.read_bytes()]
    assert hits == []


def test_queue_full_answers_429(serve_site, api_key):
    """One slot, no waiting room: of several simultaneous requests some are refused with 429, none fail."""
    import httpx

    home, _k, art, _pf = serve_site
    srv = LiveServer(home, art, "--parallel", "1", "--queue", "0", "--max-tokens", "64")
    try:
        def one(_i):
            return httpx.post(srv.url + "/v1/completions", timeout=60, json={"prompt": "Patient", "max_tokens": 64},
                              headers={"Authorization": f"Bearer {api_key['key']}"}).status_code
        with ThreadPoolExecutor(6) as pool:
            codes = list(pool.map(one, range(6)))
        assert set(codes) <= {200, 429} and 200 in codes and 429 in codes, codes
    finally:
        rc, _out, err = srv.stop()
    assert rc == 0, err  # SIGTERM: a clean exit
    assert not home.listener_path.exists()


def test_tampered_artifact_refuses_to_start(serve_site, tmp_path):
    home, _k, art, _pf = serve_site
    bad = tmp_path / "artifact"
    shutil.copytree(art, bad)
    with open(bad / "model.gguf", "r+b") as f:  # flip one byte inside the weights, the way an attacker would
        f.seek(-64, 2)
        b = f.read(1)
        f.seek(-64, 2)
        f.write(bytes([b[0] ^ 0x01]))
    r = run_appliance(home, "serve", "--artifact", str(bad), "--port", "0")
    assert r.returncode == 3, r.stderr
    assert "model.gguf" in r.stderr


def test_open_address_needs_tls_or_insecure_http(serve_site):
    home, _k, art, _pf = serve_site
    r = run_appliance(home, "serve", "--artifact", str(art), "--host", "0.0.0.0", "--port", "0")
    assert r.returncode == 4, r.stderr
    assert "--insecure-http" in r.stderr


def test_insecure_http_listener_is_audited_and_shown_by_doctor(serve_site, api_key):
    from appliance.audit import read_entries

    home, _k, art, _pf = serve_site
    srv = LiveServer(home, art, "--host", "0.0.0.0", "--insecure-http")
    try:
        r = run_appliance(home, "doctor", "--json")
        check = json.loads(r.stdout)["checks"]["serve"]
        assert check["status"] == "warn" and "--insecure-http" in check["detail"], check
        assert check["listening"]["pid"] == srv.proc.pid
    finally:
        rc, _o, err = srv.stop()
    assert rc == 0, err
    start = [e for e in read_entries(home, action="serve.start")][-1]
    assert start["outcome"] == "insecure_http" and start["object"]["insecure_http"] is True
    after = json.loads(run_appliance(home, "doctor", "--json").stdout)["checks"]["serve"]
    assert after["listening"] is None


def test_request_timeout_ends_generation_early(serve_site, api_key):
    """Past ``--request-timeout`` generation stops (a stopping criterion / forced EOS) and the entry says so."""
    home, _k, art, _pf = serve_site
    srv = LiveServer(home, art, "--request-timeout", "0.001", "--max-tokens", "200")
    try:
        c = client(srv, api_key["key"])
        start = last_seq(home)
        comp = c.completions.create(model="m", prompt="Patient reports", max_tokens=200, temperature=0)
        chat = c.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}], max_tokens=200)
        entries = requests_since(home, start, 2)
    finally:
        srv.stop()
    assert comp.usage.completion_tokens < 200 and chat.usage.completion_tokens < 200
    assert [e["object"]["finish"] for e in entries] == ["timeout", "timeout"]


def test_tls_listener_serves_https_to_a_client_that_trusts_the_cert(serve_site, api_key, tmp_path):
    import subprocess

    import httpx

    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    home, _k, art, _pf = serve_site
    srv = LiveServer(home, art, "--tls-cert", str(cert), "--tls-key", str(key))
    try:
        assert srv.url.startswith("https://")
        with httpx.Client(verify=str(cert), timeout=60) as hc:
            c = openai.OpenAI(base_url=srv.url + "/v1", api_key=api_key["key"], max_retries=0, http_client=hc)
            assert c.completions.create(model="m", prompt="Patient", max_tokens=4).usage.completion_tokens >= 1
        with pytest.raises(httpx.HTTPError):
            httpx.get(srv.url.replace("https://", "http://") + "/health", timeout=5)  # no plain HTTP on it
    finally:
        rc, _o, err = srv.stop()
    assert rc == 0, err
