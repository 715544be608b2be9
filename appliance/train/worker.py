"""Entry point of one training rank: ``python -m appliance.train.worker --plan PLAN`` (via DeepSpeed's launcher).

Reads the plan the parent wrote, gets the packed token arrays from the parent's memory-only channel (or,
on a rank of another host, decrypts the vault itself with the passphrase file named by
``APPLIANCE_PASSPHRASE_FILE``), sets up a deterministic process and runs :class:`engine.Trainer`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import time
from pathlib import Path

ENV_PARENT_PID = "APPLIANCE_TRAIN_PARENT_PID"


def _watch_parent(pid: int) -> None:
    """Exit if the `appliance train` process that owns this run disappears (no orphaned ranks)."""

    def loop():
        while True:
            time.sleep(1.0)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                os._exit(137)
            except PermissionError:
                pass

    threading.Thread(target=loop, daemon=True, name="parent-watch").start()


def _load_data(plan: dict):
    from appliance.train.data import ENV_DATA_CHANNEL, read_channel

    path = os.environ.get(ENV_DATA_CHANNEL)
    if path and os.path.exists(path):
        return read_channel(path)
    # A rank on another host: rebuild the same arrays from the vault, in memory.
    from appliance.train import tokenizer as tokmod
    from appliance.train.data import VaultSource, manifest_for, tokenize_split

    if plan.get("data_source") != "vault":
        raise RuntimeError("no data channel for this rank and the run does not read from the vault")
    from appliance.cli._common import read_passphrase
    from appliance.home import Home
    from appliance.keys import unlock_home
    from appliance.vault import Vault

    home = Home(Path(plan["home"]))
    keys = unlock_home(home, read_passphrase(None))
    source = VaultSource(Vault.open(home, keys), plan["recipe"]["data"]["sources"])
    manifest = manifest_for(source, plan["recipe"]["data"]["heldout_fraction"])
    if manifest["sha256"] != plan["data_manifest_sha256"]:
        raise RuntimeError("this host's vault differs from the data manifest of the run")
    tok = tokmod.load(Path(plan["tokenizer_dir"]))
    if plan["recipe"]["data"].get("format") == "chat":
        from appliance.train.chat import prepare

        return prepare(tok, plan["recipe"]["data"], source, manifest)[0]
    _, eos, _ = tokmod.special_ids(tok)
    return tokenize_split(source, manifest, tokmod.encoder(tok), eos, plan["recipe"]["data"]["seq_len"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="appliance.train.worker")
    parser.add_argument("--plan", required=True)
    parser.add_argument("--local_rank", type=int, default=int(os.environ.get("LOCAL_RANK", "0")))
    args = parser.parse_args(argv)
    t_start = time.time()
    os.umask(0o077)  # checkpoints and the final model are readable by the appliance user only

    from appliance._internal import netguard, quiet

    netguard.install()
    quiet.inherit()  # third-party logs and warnings only when the CLI was given -v
    if os.environ.get(ENV_PARENT_PID):
        _watch_parent(int(os.environ[ENV_PARENT_PID]))
    plan = json.loads(Path(args.plan).read_text(encoding="utf-8"))
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="[rank %(process)d] %(message)s")
    # Progress lines (rank 0 only writes them): plain, so systemd/journald and nohup logs read cleanly.
    progress = logging.getLogger("appliance.train.progress")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("train: %(message)s"))
    progress.addHandler(handler)
    progress.setLevel(logging.INFO)
    progress.propagate = False

    import torch

    threads = int(os.environ.get("OMP_NUM_THREADS") or 0)
    if threads > 0:
        torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    # ...but without NaN-filling every torch.empty: ZeRO allocates its buckets that way each step, and the
    # fill makes a tiny-model step take seconds.  Every buffer it allocates is written before it is read.
    import torch.utils.deterministic

    torch.utils.deterministic.fill_uninitialized_memory = False
    import deepspeed
    from deepspeed.utils import logger as ds_logger

    ds_logger.setLevel(logging.WARNING)
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if not torch.cuda.is_available():
        # DeepSpeed's CPU accelerator would JIT-compile a shared-memory all-reduce kernel at start-up
        # (minutes on a small host, a lock file that hangs the next start if killed mid-build, and a
        # second reduction path next to gloo).  Plain gloo is deterministic and needs no compiler.
        import deepspeed.ops

        deepspeed.ops.__compatible_ops__["deepspeed_shm_comm"] = False
    if torch.cuda.is_available():
        torch.cuda.set_device(args.local_rank)
    from appliance.errors import ApplianceError
    from appliance.train import multinode

    try:
        # Bounded: torch's own store timeout is 30 minutes and silent (a down loopback, a node never started).
        watchdog = multinode.RendezvousWatchdog(plan["recipe"]["run"].get("rendezvous_timeout_s") or 300).arm()
        deepspeed.init_distributed(dist_backend=backend)
        multinode.agree(plan)  # every rank resumes from the same checkpoint, with the same data and recipe
        watchdog.disarm()
    except ApplianceError as e:
        multinode.report(e)
        return e.exit_code

    from appliance.train.engine import Trainer

    t_dist = time.time()
    data = _load_data(plan)
    plan["_phases"] = {"worker_started": t_start, "dist_ready": t_dist, "data_ready": time.time()}
    trainer = Trainer(plan, data)
    trainer.fit()
    import torch.distributed as dist

    dist.barrier()
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
