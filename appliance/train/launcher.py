"""Start the ranks through DeepSpeed's own launcher (``python -m deepspeed.launcher.runner``).

One host: ``--num_gpus N`` (on a CPU host DeepSpeed's CPU accelerator treats each rank as one "device",
gloo backend).  Several hosts, two ways: ``--hostfile`` with DeepSpeed's pdsh/ssh runner (one command starts
every node), or node by node (``appliance train --nnodes N --node-rank K --master-addr A``): DeepSpeed's
``--no_ssh --node_rank K --master_addr A --num_nodes N`` with a generated hostfile that only sizes the world.
The launcher stays in our process group, so Ctrl-C or a kill of the group reaches every rank; ranks also
exit when this process dies.  A rank that stops on purpose (rendezvous timeout, nodes that disagree)
reports why through a file the launcher turns back into the same error.
"""

from __future__ import annotations

import glob
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

from appliance.errors import ApplianceError, Interrupted
from appliance.train import multinode
from appliance.train.data import ENV_DATA_CHANNEL
from appliance.train.multinode import NodeSpec
from appliance.train.worker import ENV_PARENT_PID

log = logging.getLogger(__name__)


def check_loopback() -> None:
    """Fail in a second, with the fix, where loopback cannot carry a connection (it would hang the ranks)."""
    free_port()


def free_port() -> int:
    """A free loopback port, after checking that loopback carries a connection at all (fails fast if not)."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        port = srv.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        return port
    except OSError as e:
        raise ApplianceError(f"the loopback interface cannot carry the ranks' rendezvous (127.0.0.1: {e.strerror or e})",
                             hint="bring loopback up (ip link set lo up) or run outside the network namespace "
                                  "that lacks it, then run the same command again") from None
    finally:
        srv.close()


def sweep_extension_locks(ext_dir: Path) -> list[str]:
    """Remove stale ``torch_extensions/*/lock`` files a killed run left (they hang the next start-up)."""
    removed = []
    for lock in glob.glob(str(ext_dir / "**" / "lock"), recursive=True):
        try:
            os.unlink(lock)
            removed.append(lock)
        except FileNotFoundError:
            pass
    for lock in removed:
        log.warning("removed a stale torch extension build lock %s (a killed build left it; it would hang "
                    "DeepSpeed's start-up)", lock)
    return removed


def command(plan_path: Path, *, nproc: int, hostfile: str | None, master_port: int,
            node: NodeSpec | None = None) -> list[str]:
    """DeepSpeed's runner command line; with a multi-node ``node``, ``hostfile`` is the generated one."""
    from appliance._internal.quiet import deepspeed_log_level

    cmd = [sys.executable, "-u", "-m", "deepspeed.launcher.runner", "--master_port", str(master_port),
           "--log_level", deepspeed_log_level()]
    if node is not None and node.multi:
        cmd += ["--hostfile", str(hostfile), "--no_ssh", "--node_rank", str(node.node_rank),
                "--master_addr", str(node.master_addr), "--num_nodes", str(node.nnodes), "--num_gpus", str(nproc)]
    elif hostfile:
        cmd += ["--hostfile", hostfile, "--num_gpus", str(nproc)]
    else:
        cmd += ["--num_gpus", str(nproc)]
    cmd += ["--module", "appliance.train.worker", "--plan", str(plan_path)]
    return cmd


def launch(plan_path: Path, run_dir: Path, *, nproc: int, hostfile: str | None, master_port: int | None,
           channel_path: str, on_gpu: bool, extra_env: dict[str, str] | None = None,
           node: NodeSpec | None = None) -> None:
    """Run this node's ranks to completion; raises on a failed rank or an interrupt."""
    own = multinode.node_dir(run_dir, node)
    ext_dir = own / "torch_extensions"  # per node: a JIT build on one node never sees another's lock
    ext_dir.mkdir(exist_ok=True)
    sweep_extension_locks(ext_dir)
    err_dir = own / "rank-errors"
    multinode.clear_reports(err_dir)
    env = dict(os.environ)
    env.update({
        ENV_DATA_CHANNEL: channel_path,
        ENV_PARENT_PID: str(os.getpid()),
        "TORCH_EXTENSIONS_DIR": str(ext_dir),
        "PYTHONUNBUFFERED": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "CUBLAS_WORKSPACE_CONFIG": ":4096:8",
        multinode.ENV_ERROR_DIR: str(err_dir),
    })
    if not on_gpu:
        env["DS_ACCELERATOR"] = "cpu"
        env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    env.pop("CUDA_VISIBLE_DEVICES", None) if not on_gpu else None
    env.update(extra_env or {})
    if node is not None and node.multi:
        hostfile = str(multinode.write_hostfile(own.resolve() / "hostfile", node.nnodes, nproc))
        port = node.port(master_port)
    else:
        if hostfile:
            _write_deepspeed_env(run_dir, env, on_gpu)
        port = (node.master_port if node is not None else None) or master_port or free_port()
    cmd = command(plan_path, nproc=nproc, hostfile=hostfile, master_port=port, node=node)
    proc = subprocess.Popen(cmd, env=env, cwd=str(own), stdout=sys.stderr.fileno(), pass_fds=(),
                            preexec_fn=lambda: os.umask(0o077))  # noqa: PLW1509 -- the launcher is single-threaded when it forks
    try:
        rc = proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        raise Interrupted("training interrupted", hint="continue with: appliance train --config R.yaml --resume")
    if rc != 0:
        multinode.raise_reported(err_dir)
        raise ApplianceError(
            f"training failed: a rank exited with code {rc}",
            hint="see the rank output above; fix the cause, then: appliance train --config R.yaml --resume",
        )


def _write_deepspeed_env(run_dir: Path, env: dict[str, str], on_gpu: bool) -> None:
    """Variables DeepSpeed's multi-node runner exports to the other hosts (it reads ``./.deepspeed_env``).

    Ranks there cannot read this host's memory channel; they decrypt the vault themselves, so they get the
    *path* of the passphrase file (never the passphrase or a key) and the home.  The run dir, the vault and
    the passphrase file must be on storage every host mounts at the same path.
    """
    from appliance._internal.atomic import atomic_write

    names = ["APPLIANCE_HOME", "APPLIANCE_PASSPHRASE_FILE", "TORCH_EXTENSIONS_DIR", "HF_HUB_OFFLINE",
             "TRANSFORMERS_OFFLINE", "TOKENIZERS_PARALLELISM"]
    lines = [f"{k}={env[k]}" for k in names if env.get(k)]
    if not on_gpu:
        lines.append("DS_ACCELERATOR=cpu")
    atomic_write(run_dir / ".deepspeed_env", "".join(x + "\n" for x in lines))
