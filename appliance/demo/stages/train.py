"""Demo stage "train": a tiny Llama trained on the demo vault with 2 ranks, killed mid-run, resumed.

Runs the real CLI (`appliance train --json`) as a subprocess in its own process group, kills the whole
group with SIGKILL once a checkpoint is committed and training has moved past it, then resumes with
``--resume`` and reports where it picked up.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from appliance.demo import corpus as demo_corpus

RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "tiny_llama_full.yaml"
OVERRIDES = ["run.name=demo", "run.nproc=2", "train.max_steps=30", "checkpoint.every=10", "checkpoint.keep_last=2",
             "eval.every=15", "data.seq_len=64", f"data.sources=['{demo_corpus.SOURCES_GLOB}']"]


def _cli(ctx, *args: str) -> list[str]:
    return [sys.executable, "-m", "appliance", "--home", str(ctx.home.root), "train", "--config", str(RECIPE),
            *[a for o in OVERRIDES for a in ("--set", o)], "--passphrase-file", str(ctx.passphrase_file), "--json",
            *args]


def _ensure_records(ctx) -> None:
    """Standalone runs of this stage (without the vault stage before it) ingest the corpus themselves."""
    from appliance.vault import Vault

    with Vault.open(ctx.home, ctx.keys()) as v:
        has = bool(v.list_records(sources=[demo_corpus.SOURCES_GLOB]))
    if not has:
        from appliance.demo.stages import ingest

        ingest.demo_stage(ctx)


def demo_stage(ctx) -> dict:
    """Train, kill -9 after the first committed checkpoint, resume; returns the run summary.

    Keys: run_dir, final_model, steps, final_loss, eval_ppl, killed_at_step, resumed_from_step, model_version
    (registered by the registry hook), train_records, heldout_records.
    """
    from appliance.errors import ApplianceError
    from appliance.train import find_resumable

    _ensure_records(ctx)
    run_dir = ctx.home.run_dir("demo")
    env = {**os.environ, "APPLIANCE_HOME": str(ctx.home.root)}
    log_path = ctx.workdir / "train-demo.log"
    ctx.workdir.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as log:
        proc = subprocess.Popen(_cli(ctx), stdout=subprocess.DEVNULL, stderr=log, env=env, start_new_session=True)
        deadline = time.time() + 600
        killed_at = None
        while time.time() < deadline and proc.poll() is None:
            steps = _steps_logged(run_dir / "metrics.jsonl")
            if steps >= 12 and find_resumable(run_dir / "checkpoints"):
                os.killpg(proc.pid, signal.SIGKILL)
                killed_at = steps
                break
            time.sleep(0.2)
        proc.wait()
        time.sleep(1.5)  # the ranks notice their parent is gone
        res = subprocess.run(_cli(ctx, "--resume"), stdout=subprocess.PIPE, stderr=log, env=env, text=True, check=False)
    if res.returncode != 0:
        raise ApplianceError(f"demo training failed (exit {res.returncode})", hint=f"see {log_path}")
    out = json.loads(res.stdout)
    return {
        "run_dir": out["run_dir"],
        "final_model": out["final_model"],
        "steps": out["steps"],
        "final_loss": out["final_loss"],
        "eval_ppl": out["eval_ppl"],
        "killed_at_step": killed_at,
        "resumed_from_step": out["resumed_from_step"],
        "model_version": out.get("model_version"),
        "train_records": out["train_records"],
        "heldout_records": out["heldout_records"],
    }


def _steps_logged(path: Path) -> int:
    try:
        return sum(1 for line in path.read_text().splitlines() if '"kind": "step"' in line)
    except OSError:
        return 0
