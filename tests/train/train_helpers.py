"""Helpers for the training tests (imported as ``train_helpers``; pytest puts this folder on sys.path): run the harness (a real `appliance.train.train` with 2 CPU ranks through
DeepSpeed's launcher) as its own process group, so a test can kill -9 the whole group."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

HARNESS = Path(__file__).with_name("harness.py")
PY = sys.executable


def base_recipe(name: str, **over) -> dict:
    r = {
        "run": {"name": name, "nproc": 2},
        "model": {"init": {"arch": "llama", "preset": "tiny"}},
        "data": {"seq_len": 32, "heldout_fraction": 0.1, "max_eval_samples": 8},
        "train": {"seed": 1234, "max_steps": 8, "micro_batch_size": 2, "grad_accum": 1, "lr": 3e-3,
                  "warmup_steps": 1, "schedule": "cosine", "zero_stage": 2},
        "checkpoint": {"every": 3, "keep_last": 1},
        "eval": {"every": 4},
    }
    for key, value in over.items():
        section, _, leaf = key.partition("__")
        if leaf:
            r.setdefault(section, {})[leaf] = value
        else:
            r[section] = value
    return r


def start(home: Path, recipe: dict, *args: str, env: dict | None = None) -> subprocess.Popen:
    home.mkdir(parents=True, exist_ok=True)
    rp = home / f"recipe-{recipe['run']['name']}-{time.monotonic_ns()}.json"
    rp.write_text(json.dumps(recipe))
    full_env = {**os.environ, **(env or {})}
    return subprocess.Popen([PY, str(HARNESS), str(home), str(rp), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=full_env, start_new_session=True)


def finish(proc: subprocess.Popen, timeout: float = 600) -> tuple[int, dict, str]:
    out, err = proc.communicate(timeout=timeout)
    try:
        data = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
    except ValueError:
        data = {}
    return proc.returncode, data, err


def run(home: Path, recipe: dict, *args: str, env: dict | None = None) -> tuple[int, dict, str]:
    return finish(start(home, recipe, *args, env=env))


def kill_group(proc: subprocess.Popen) -> None:
    """kill -9 to the whole process group: the harness, DeepSpeed's runner and launcher, every rank."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.communicate()
    # Ranks watch the parent and leave within a second or two; make sure none survive into the next run.
    deadline = time.time() + 20
    while time.time() < deadline:
        r = subprocess.run(["pgrep", "-g", str(proc.pid)], capture_output=True, text=True, check=False)
        if not r.stdout.strip():
            break
        time.sleep(0.5)


def wait_for(pred, timeout: float = 300, proc: subprocess.Popen | None = None) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process ended early: {proc.returncode}: {proc.stderr.read()[-3000:]}")
        time.sleep(0.1)
    raise AssertionError("timed out waiting")


def step_losses(run_dir: Path) -> list[tuple[int, float]]:
    from appliance.train.metrics import read

    return [(r["step"], r["loss"]) for r in read(run_dir / "metrics.jsonl", "step")]


def weights(final_dir: Path) -> dict:
    from safetensors.numpy import load_file

    return load_file(str(final_dir / "model.safetensors"))


_VOCAB = ["fever", "cough", "asthma", "inhaler", "vitals", "lungs", "fluids", "pressure", "amoxicillin", "allergies", "headache", "fatigue", "nausea", "rash", "sutures", "wound", "dressing", "glucose", "insulin", "dosage", "discharge", "follow", "review", "stable", "improved", "worsened", "mild", "severe", "chronic", "acute", "left", "right", "bilateral", "oral", "daily", "twice", "weekly", "pain", "denies", "reports", "presents", "history", "plan", "exam", "normal", "clear", "tender", "swelling"]


def notes(n: int) -> list[str]:
    """Varied synthetic notes (no PHI) that survive the vault's near-duplicate filter."""
    rng = random.Random(3)
    return [" ".join(rng.choice(_VOCAB) for _ in range(rng.randint(40, 80))) + f" note {i} ." for i in range(n)]
