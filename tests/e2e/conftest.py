"""A site trained on real-tokenizer bases, shared by the end-to-end tests of this folder (built once per module).

``real_site`` is an initialised home whose vault holds synthetic notes (ingested through the real scrubber);
``trained(base, method)`` runs ``appliance train`` (real DeepSpeed, 2 CPU ranks, gloo) on
``model.path`` = that base, full or LoRA, a few steps, and caches the result per (base, method).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

SITE_PASSPHRASE = b"real tokenizer site"


def notes(n: int) -> list[str]:
    """Synthetic notes (no PHI) with the hard parts of clinical text: vitals, doses, decimals, units."""
    import random

    rng = random.Random(11)
    words = ["fever", "cough", "asthma", "inhaler", "lungs", "clear", "pain", "denies", "reports", "stable",
             "metformin", "insulin", "glucose", "follow-up", "discharge", "wound", "dressing", "bilateral"]
    out = []
    for i in range(n):
        body = " ".join(rng.choice(words) for _ in range(rng.randint(25, 45)))
        out.append(f"Note {i}: BP {rng.randint(100, 160)}/{rng.randint(60, 95)} mmHg, HR {rng.randint(55, 110)}, "
                   f"T {rng.uniform(36, 39.5):.1f} °C. {body}. Dose {rng.choice([5, 12.5, 500])} mg BID.")
    return out


@pytest.fixture(scope="module")
def real_site(tmp_path_factory):
    """``(home, keys, passphrase_file)`` with 60 ingested notes."""
    from appliance.home import Home
    from appliance.keys import init_home, unlock_home
    from appliance.vault import Vault

    root = tmp_path_factory.mktemp("real-site")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("APPLIANCE_ANCHOR_DIR", str(root / "anchor"))
        home = Home(root / "home")
        init_home(home, SITE_PASSPHRASE, kdf_target_ms=1)
        keys = unlock_home(home, SITE_PASSPHRASE)
        src = root / "notes.jsonl"
        src.write_text("".join(json.dumps({"text": t}) + "\n" for t in notes(60)), encoding="utf-8")
        with Vault.open(home, keys) as v:
            v.ingest([src], "clinic-2026-12")
        src.unlink()
    pw = root / "passphrase"
    pw.write_bytes(SITE_PASSPHRASE + b"\n")
    pw.chmod(0o600)
    return home, keys, pw


def recipe(name: str, model_path: Path, lora: bool) -> dict:
    r = {"run": {"name": name, "nproc": 2},
         "model": {"path": str(model_path)},
         "data": {"sources": ["clinic-*"], "seq_len": 32, "heldout_fraction": 0.1, "max_eval_samples": 4},
         "train": {"seed": 7, "max_steps": 4, "micro_batch_size": 2, "grad_accum": 1, "lr": 3e-3,
                   "warmup_steps": 1, "schedule": "cosine", "zero_stage": 2, "precision": "fp32"},
         "checkpoint": {"every": 2, "keep_last": 2},
         "eval": {"every": 2}}
    if lora:
        r["train"]["lora"] = {"r": 4, "alpha": 8, "dropout": 0.0}
    return r


@pytest.fixture(scope="module")
def trained(real_site, request, tmp_path_factory):
    """``trained(base, method)`` → the ``appliance train --json`` result (run_dir, final_model, model_version, ...)
    of a run through the real CLI (its own process: the launcher binds a loopback rendezvous port)."""
    import os
    import subprocess
    import sys

    home, _keys, pw = real_site
    cache: dict[tuple[str, str], dict] = {}

    def get(base: str, method: str) -> dict:
        if (base, method) not in cache:
            model_path = request.getfixturevalue(base)
            cfg = tmp_path_factory.mktemp("recipes") / f"{base}-{method}.yaml"
            cfg.write_text(json.dumps(recipe(f"{base.replace('_', '-')}-{method}", model_path, method == "lora")))
            env = {**os.environ, "APPLIANCE_HOME": str(home.root),
                   "APPLIANCE_ANCHOR_DIR": str(home.root.parent / "anchor")}
            env.pop("APPLIANCE_PASSPHRASE_FILE", None)
            p = subprocess.run([sys.executable, "-m", "appliance", "train", "--config", str(cfg), "--passphrase-file",
                                str(pw), "--json"], capture_output=True, text=True, env=env, timeout=900, check=False)
            assert p.returncode == 0, p.stderr[-4000:]
            cache[(base, method)] = {**json.loads(p.stdout), "model_path": str(model_path)}
        return cache[(base, method)]

    return get
