"""Start the ranks through DeepSpeed's own launcher (``python -m deepspeed.launcher.runner``).

One host: ``--num_gpus N`` (on a CPU host DeepSpeed's CPU accelerator treats each rank as one "device",
gloo backend).  Several hosts: ``--hostfile`` with DeepSpeed's pdsh/ssh runner.  The launcher stays in our
process group, so Ctrl-C or a kill of the group reaches every rank; ranks also exit when this process dies.
"""

from __future__ import annotations

import glob
import os
import socket
import subprocess
import sys
from pathlib import Path

from appliance.errors import ApplianceError, Interrupted
from appliance.train.data import ENV_DATA_CHANNEL
from appliance.train.worker import ENV_PARENT_PID


def free_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def sweep_extension_locks(ext_dir: Path) -> list[str]:
    """Remove stale ``torch_extensions/*/lock`` files a killed run left (they hang the next start-up)."""
    removed = []
    for lock in glob.glob(str(ext_dir / "**" / "lock"), recursive=True):
        try:
            os.unlink(lock)
            removed.append(lock)
        except FileNotFoundError:
            pass
    return removed


def command(plan_path: Path, *, nproc: int, hostfile: str | None, master_port: int) -> list[str]:
    from appliance._internal.quiet import deepspeed_log_level

    cmd = [sys.executable, "-u", "-m", "deepspeed.launcher.runner", "--master_port", str(master_port),
           "--log_level", deepspeed_log_level()]
    if hostfile:
        cmd += ["--hostfile", hostfile, "--num_gpus", str(nproc)]
    else:
        cmd += ["--num_gpus", str(nproc)]
    cmd += ["--module", "appliance.train.worker", "--plan", str(plan_path)]
    return cmd


def launch(plan_path: Path, run_dir: Path, *, nproc: int, hostfile: str | None, master_port: int | None,
           channel_path: str, on_gpu: bool, extra_env: dict[str, str] | None = None) -> None:
    """Run every rank to completion; raises on a failed rank or an interrupt."""
    ext_dir = run_dir / "torch_extensions"
    ext_dir.mkdir(exist_ok=True)
    sweep_extension_locks(ext_dir)
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
    })
    if not on_gpu:
        env["DS_ACCELERATOR"] = "cpu"
        env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    env.pop("CUDA_VISIBLE_DEVICES", None) if not on_gpu else None
    env.update(extra_env or {})
    if hostfile:
        _write_deepspeed_env(run_dir, env, on_gpu)
    cmd = command(plan_path, nproc=nproc, hostfile=hostfile, master_port=master_port or free_port())
    proc = subprocess.Popen(cmd, env=env, cwd=str(run_dir), stdout=sys.stderr.fileno(), pass_fds=(),
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
