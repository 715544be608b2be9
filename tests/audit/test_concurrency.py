"""4 processes × 500 concurrent appends: 2,000 entries, one unbroken chain, a valid tree and checkpoints."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest

from appliance.audit import verify
from appliance.audit.checkpoint import list_checkpoints, parse
from appliance.audit.log import entry_leaf
from appliance.audit.merkle import MerkleTree
from appliance.home import Home
from appliance.keys import public_keys

PASSPHRASE = b"concurrent appends"

WORKER = r"""
import sys, time
from pathlib import Path
from appliance.home import Home
from appliance.audit import record
home, worker, n, sign, go = Home(Path(sys.argv[1])), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1", Path(sys.argv[5])
signer = None
if sign:
    from appliance.keys import unlock_home
    signer = unlock_home(home, sys.argv[6].encode(), audit=False).signer
while not go.exists():  # start together, so the appends really interleave
    time.sleep(0.005)
for i in range(n):
    record(home, "test.concurrent", {"worker": worker, "i": i}, signer=signer)
"""


@pytest.fixture
def fast_home(tmp_path):
    """A home on tmpfs when there is one: this test is about locking, not about the disk's fsync latency
    (~8 ms per append on the CI disk, which would make 2,000 appends take 16 s)."""
    from appliance.keys import init_home

    shm = Path("/dev/shm")
    base = Path(tempfile.mkdtemp(dir=shm)) if shm.is_dir() and os.access(shm, os.W_OK) else tmp_path
    home = Home(base / "home")
    init_home(home, PASSPHRASE, kdf_target_ms=1)
    yield home
    if base != tmp_path:
        shutil.rmtree(base, ignore_errors=True)


def test_four_processes_append_2000_entries(fast_home, tmp_path):
    home = fast_home
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(home.root), str(w), "500", "1" if w < 2 else "0", str(go), PASSPHRASE.decode()],
            stderr=subprocess.PIPE,
        )
        for w in range(4)
    ]
    time.sleep(0.5)
    go.touch()
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()

    entries = [json.loads(x) for x in home.audit_log_path.read_text().splitlines()]
    assert len(entries) == 2000
    assert [e["seq"] for e in entries] == list(range(2000))
    per_worker = Counter(e["object"]["worker"] for e in entries)
    assert per_worker == {0: 500, 1: 500, 2: 500, 3: 500}
    for w in range(4):  # each worker's own entries stay in its order
        assert [e["object"]["i"] for e in entries if e["object"]["worker"] == w] == list(range(500))
    switches = sum(a["pid"] != b["pid"] for a, b in itertools.pairwise(entries))
    assert switches > 20, "appends did not interleave; the test did not exercise concurrency"

    report = verify(home, public_keys=public_keys(home))  # chain, seq, every checkpoint's signature and root
    assert report.entries == 2000
    assert report.root == MerkleTree([entry_leaf(e) for e in entries]).root.hex()
    cps = list_checkpoints(home.checkpoints_dir)
    assert len(cps) >= 10  # checkpoint_every = 100, written by whichever signing process crossed it
    tree = MerkleTree([entry_leaf(e) for e in entries])
    for size, path in cps:
        assert parse(path.read_text()).root == tree.root_at(size)
