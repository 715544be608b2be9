"""Benchmark: `appliance serve` (bearer auth + one audit append per request) vs plain `python -m llama_cpp.server`.

Same GGUF, same engine settings (one llama.cpp context, the same threads and context size), the same
requests: N non-streamed completions of ``--max-tokens`` greedy tokens, at 1 and at 4 concurrent clients.
Reported: generated tokens/s (sum of ``usage.completion_tokens`` / wall time) and p50/p95 request latency.
Targets: ours ≥ 0.95× the peer's throughput and ≤ 1.1× its p95 latency, at each concurrency.

The model is the tiny llama of the test suite (built here, exported f32 and signed by a throw-away site), so
per-token compute is small and the server's own overhead weighs as much as it ever will: a worst case for
the ratio.  The servers run one after the other, never together.

    .venv/bin/python benchmarks/serve_throughput.py [--requests 32] [--max-tokens 32] [--threads 2]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_THROUGHPUT, TARGET_P95 = 0.95, 1.10


def _fixtures():
    spec = importlib.util.spec_from_file_location("export_fixtures", ROOT / "tests" / "export" / "conftest.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    import httpx

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise SystemExit(f"server exited {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}")
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit("server did not start")


def _load(base: str, key: str | None, n: int, conc: int, max_tokens: int) -> dict:
    import httpx

    headers = {"Authorization": f"Bearer {key}"} if key else {}
    prompts = [f"Patient reports mild chest pain, day {i}." for i in range(n)]
    with httpx.Client(timeout=120, headers=headers, limits=httpx.Limits(max_connections=conc)) as c:
        c.post(base + "/v1/completions", json={"prompt": "warm up", "max_tokens": 4})

        def one(p: str) -> tuple[float, int]:
            t = time.perf_counter()
            r = c.post(base + "/v1/completions", json={"prompt": p, "max_tokens": max_tokens, "temperature": 0})
            r.raise_for_status()
            return time.perf_counter() - t, r.json()["usage"]["completion_tokens"]

        t0 = time.perf_counter()
        with ThreadPoolExecutor(conc) as pool:
            res = list(pool.map(one, prompts))
        wall = time.perf_counter() - t0
    lat = sorted(x for x, _ in res)
    return {"tokens_per_s": round(sum(k for _, k in res) / wall, 1),
            "p50_ms": round(statistics.median(lat) * 1000, 1),
            "p95_ms": round(lat[min(len(lat) - 1, round(0.95 * (len(lat) - 1)))] * 1000, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=32)
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ctx", type=int, default=256)
    args = ap.parse_args()
    fx = _fixtures()
    from appliance.export import export_gguf
    from appliance.serve import add_key

    with tempfile.TemporaryDirectory(prefix="bench-serve-") as td:
        root = Path(td)
        home, keys = fx.make_site(root / "home")
        model = fx.build_tiny_model("llama", root / "model", seed=0, train_steps=10)
        export_gguf(str(model), "f32", home=home, signer=keys.signer, out_dir=root / "art", parity=False)
        key = add_key(home, "bench", keys.signer)["key"]
        env = {**os.environ, "APPLIANCE_HOME": str(home.root), "PYTHONPATH": str(ROOT)}
        gguf = root / "art" / "model.gguf"
        servers = {
            "llama_cpp.server": ([sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--n_ctx",
                                  str(args.ctx), "--n_threads", str(args.threads), "--n_threads_batch",
                                  str(args.threads), "--logits_all", "False", "--verbose", "False"], None),
            "appliance serve": ([sys.executable, "-m", "appliance", "serve", "--artifact", str(root / "art"),
                                 "--parallel", "1", "--threads", str(args.threads), "--ctx-size", str(args.ctx),
                                 "--max-tokens", str(args.max_tokens)], key),
        }
        results: dict = {}
        for name, (cmd, k) in servers.items():
            port = _free_port()
            proc = subprocess.Popen([*cmd, "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE, text=True)
            base = f"http://127.0.0.1:{port}"
            try:
                _wait(base + ("/health" if k else "/v1/models"), proc)
                results[name] = {f"c{c}": _load(base, k, args.requests, c, args.max_tokens) for c in (1, 4)}
            finally:
                proc.terminate()
                proc.wait(60)
    ours, peer = results["appliance serve"], results["llama_cpp.server"]
    ratios = {c: {"throughput": round(ours[c]["tokens_per_s"] / peer[c]["tokens_per_s"], 3),
                  "p95_latency": round(ours[c]["p95_ms"] / peer[c]["p95_ms"], 3)} for c in ("c1", "c4")}
    ok = all(r["throughput"] >= TARGET_THROUGHPUT and r["p95_latency"] <= TARGET_P95 for r in ratios.values())
    print(json.dumps({"benchmark": "serve_throughput", "requests": args.requests, "max_tokens": args.max_tokens,
                      "threads": args.threads, "results": results, "ratio_vs_llama_cpp_server": ratios,
                      "targets": {"throughput_min": TARGET_THROUGHPUT, "p95_latency_max": TARGET_P95},
                      "met": ok}, indent=2))


if __name__ == "__main__":
    main()
