"""Cost of audit anchoring: `appliance audit note --passphrase-file F` with vs without the exit seal.

The peer is the same command in the same run with :func:`appliance.audit.seal` replaced by a no-op (the
behaviour before anchoring: an entry appended, a checkpoint only every ``checkpoint_every`` entries).  Both
run as real CLI subprocesses on one home (fast KDF, as the tests use), interleaved so host load hits both
alike; the figure is the ratio of median wall times (target ≤ 1.10).

    .venv/bin/python benchmarks/audit_anchor.py [--runs 15] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

_NO_SEAL = ("import appliance.audit as a; a.seal = lambda home: None; "
            "from appliance.cli.main import run; run(sys.argv[1:])")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    from appliance.home import Home
    from appliance.keys import init_home

    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        home = Home(t / "home")
        init_home(home, b"bench passphrase", kdf_target_ms=1)
        (t / "pw").write_bytes(b"bench passphrase\n")
        env = dict(os.environ, APPLIANCE_HOME=str(home.root), APPLIANCE_ANCHOR_DIR=str(t / "anchor"),
                   PYTHONPATH=str(ROOT))
        note = ["audit", "note", "--passphrase-file", str(t / "pw"), "benchmark"]
        anchored_cmd = [sys.executable, "-m", "appliance", *note]
        peer_cmd = [sys.executable, "-c", "import sys; " + _NO_SEAL, *note]
        times: dict[str, list[float]] = {"anchored": [], "peer": []}
        for i in range(args.runs + 1):
            for name, cmd in (("anchored", anchored_cmd), ("peer", peer_cmd)):
                t0 = time.perf_counter()
                subprocess.run(cmd, env=env, check=True, capture_output=True)
                if i:  # the first round warms the page cache
                    times[name].append(time.perf_counter() - t0)
        med = {k: statistics.median(v) for k, v in times.items()}
        res = {"runs": args.runs, "anchored_s": round(med["anchored"], 4), "peer_no_seal_s": round(med["peer"], 4),
               "ratio": round(med["anchored"] / med["peer"], 3), "target": 1.10,
               "anchor_written": (t / "anchor").is_dir() and any((t / "anchor").iterdir())}
    if args.json:
        print(json.dumps(res))
    else:
        print(f"audit note, median of {res['runs']}: anchored {res['anchored_s']}s, peer (no seal) "
              f"{res['peer_no_seal_s']}s, ratio {res['ratio']} (target <= {res['target']})")


if __name__ == "__main__":
    main()
