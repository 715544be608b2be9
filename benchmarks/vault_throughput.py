"""Vault record encryption throughput vs `openssl speed -evp aes-256-gcm` (16 KiB blocks), side by side.

Both sides are timed in user CPU seconds (openssl speed's default), so other load on the host does not skew
the ratio.  Runs openssl and our chunked AEAD (appliance._internal.aead_stream, encrypt_into/decrypt_into on
preallocated buffers) alternately on this machine and prints MB/s and the ratio (target ≥ 0.8).
Workloads: a 1 MiB record sealed in 16 KiB chunks (the like-for-like figure: 16 KiB AES-GCM operations over a
buffer that stays in cache, as openssl speed's does), a 16 MiB record in 64 KiB chunks (the vault default), and
whole 16 KiB records (showing the fixed per-record cost of salt + HKDF + key schedule, ~10 µs).

    .venv/bin/python benchmarks/vault_throughput.py [--seconds 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from appliance._internal import aead_stream


def openssl_mbps(seconds: int) -> float:
    out = subprocess.run(
        ["openssl", "speed", "-evp", "aes-256-gcm", "-bytes", "16384", "-seconds", str(seconds)],
        capture_output=True, text=True, check=True,
    ).stdout
    line = [l for l in out.splitlines() if l.upper().startswith("AES-256-GCM")][-1]
    kbps = float(re.findall(r"([\d.]+)k", line)[-1])  # openssl prints 1000-byte "k"
    return kbps * 1000 / 1e6


def ours_mbps(seconds: float, record_bytes: int, chunk: int, decrypt: bool) -> float:
    key = os.urandom(32)
    data = os.urandom(record_bytes)
    sealed = bytearray(aead_stream.sealed_size(record_bytes, chunk))
    aead_stream.encrypt_into(key, data, sealed, b"bench", chunk)
    plain = bytearray(record_bytes)
    n = 0
    t0 = _user_cpu()
    while True:
        if decrypt:
            aead_stream.decrypt_into(key, sealed, plain, b"bench")
        else:
            aead_stream.encrypt_into(key, data, sealed, b"bench", chunk)
        n += 1
        dt = _user_cpu() - t0
        if dt >= seconds:
            return n * record_bytes / dt / 1e6


def _user_cpu() -> float:
    # `openssl speed` times user CPU (times(2)) unless given -elapsed, so we do the same: on a shared host
    # wall-clock figures would compare scheduler luck, not code.
    return resource.getrusage(resource.RUSAGE_SELF).ru_utime


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = []
    workloads = (
        ("1MiB/16KiB-chunks", 1 << 20, 16384),
        ("16MiB/64KiB-chunks", 16 << 20, 65536),
        # a whole 16 KiB record per operation: adds the fixed per-record cost (salt, HKDF, key schedule)
        ("16KiB-records", 16384, 65536),
    )
    for name, rec, chunk in workloads:
        o, e, d = [], [], []
        for _ in range(args.rounds):  # interleave so both see the same machine load; ratios per round
            o.append(openssl_mbps(args.seconds))
            e.append(ours_mbps(args.seconds, rec, chunk, False))
            d.append(ours_mbps(args.seconds, rec, chunk, True))
        rows.append({
            "workload": name,
            "openssl_MBps": round(max(o), 1),
            "encrypt_MBps": round(max(e), 1),
            "decrypt_MBps": round(max(d), 1),
            # best-of ratio (least disturbed by other load) and the median of per-round ratios
            "encrypt_ratio": round(max(e) / max(o), 3),
            "decrypt_ratio": round(max(d) / max(o), 3),
            "encrypt_ratio_median": round(statistics.median(x / y for x, y in zip(e, o)), 3),
            "decrypt_ratio_median": round(statistics.median(x / y for x, y in zip(d, o)), 3),
        })
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for r in rows:
            print(f"{r['workload']:>20}: openssl {r['openssl_MBps']:8.1f} MB/s | encrypt {r['encrypt_MBps']:8.1f} "
                  f"({r['encrypt_ratio']:.2f}x, median {r['encrypt_ratio_median']:.2f}x) | decrypt "
                  f"{r['decrypt_MBps']:8.1f} ({r['decrypt_ratio']:.2f}x, median {r['decrypt_ratio_median']:.2f}x)")


if __name__ == "__main__":
    main()
