"""Training throughput of `appliance train` vs a plain transformers `Trainer` script, same run, same machine.

Both sides: the same model (the appliance run's `model_init/config.json`, same seed), the same packed data
(same synthetic corpus, same tokenizer, same split and packing), the same DeepSpeed config
(`appliance.train.engine.ds_config`), the same number of CPU ranks through DeepSpeed's launcher.
Reports steady-state tokens/s (median over steps after the first) and the ratio (target ≥ 1.0), and the
time to the first step of `--resume` vs a fresh start (target ≤ 1.1; medians over the repeats), each measured
from the call to `train()`; `*_startup` break the last pair down by phase (seconds since the call).

    .venv/bin/python benchmarks/train_throughput.py [--steps 20] [--preset small] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

_WORDS = ["patient", "presents", "with", "mild", "fever", "and", "cough", ".", "denies", "chest", "pain", ".", "history", "of", "asthma", ",", "uses", "inhaler", "twice", "daily", ".", "vitals", "stable", ".", "lungs", "clear", "on", "auscultation", ".", "plan", ":", "rest", ",", "fluids", ",", "follow", "up", "in", "two", "weeks", ".", "blood", "pressure", "normal", ".", "prescribed", "amoxicillin", "for", "seven", "days", ".", "no", "known", "allergies", "."]


def corpus(n: int, seed: int = 11) -> dict[str, str]:
    rng = random.Random(seed)
    out = {}
    for i in range(n):
        start = rng.randrange(len(_WORDS))
        words = [_WORDS[(start + j) % len(_WORDS)] if rng.random() < 0.8 else rng.choice(_WORDS)
                 for j in range(rng.randint(60, 160))]
        out[f"rec-{i:05d}"] = " ".join(words)
    return out


PEER = textwrap.dedent('''
    """The peer: transformers' Trainer with the appliance run's DeepSpeed config, model and data."""
    import json, sys, time
    from pathlib import Path
    argv = [a for a in sys.argv[1:] if not a.startswith("--local_rank")]  # the launcher adds --local_rank=N
    sys.path.insert(0, argv[3])
    import numpy as np, torch
    import deepspeed.ops
    deepspeed.ops.__compatible_ops__["deepspeed_shm_comm"] = False  # same comm path as the appliance (gloo)
    from transformers import AutoConfig, AutoModelForCausalLM, Trainer, TrainingArguments, TrainerCallback
    from appliance.train import tokenizer as tokmod
    from appliance.train.data import InMemorySource, build_manifest, tokenize_split
    from appliance.train.engine import ds_config
    sys.path.insert(0, argv[3] + "/benchmarks")
    from train_throughput import corpus

    run_dir, n_records, out_path = Path(argv[0]), int(argv[1]), Path(argv[2])
    recipe = json.loads((run_dir / "recipe.json").read_text())
    t = recipe["train"]
    world = int(__import__("os").environ["WORLD_SIZE"])
    src = InMemorySource(corpus(n_records))
    manifest = build_manifest(src.list_records(), recipe["data"]["heldout_fraction"])
    tok = tokmod.load(run_dir / "tokenizer")
    _, eos, _ = tokmod.special_ids(tok)
    arrays = tokenize_split(src, manifest, tokmod.encoder(tok), eos, recipe["data"]["seq_len"])

    class DS(torch.utils.data.Dataset):
        def __len__(self): return len(arrays["train"])
        def __getitem__(self, i):
            x = torch.from_numpy(arrays["train"][i].astype(np.int64))
            return {"input_ids": x, "labels": x}

    torch.manual_seed(t["seed"])
    model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(run_dir / "model_init"), dtype=torch.float32)
    times = []
    class Clock(TrainerCallback):
        def on_step_end(self, args, state, control, **kw): times.append(time.perf_counter())
    args = TrainingArguments(
        output_dir=str(out_path.parent / "hf-out"), max_steps=t["max_steps"], per_device_train_batch_size=t["micro_batch_size"],
        gradient_accumulation_steps=t["grad_accum"], learning_rate=t["lr"], weight_decay=t["weight_decay"],
        adam_beta1=t["betas"][0], adam_beta2=t["betas"][1], adam_epsilon=1e-8, max_grad_norm=t["grad_clip"],
        warmup_steps=t["warmup_steps"], lr_scheduler_type="cosine", logging_steps=10**6, save_strategy="no",
        report_to=[], dataloader_num_workers=0, seed=t["seed"], deepspeed=ds_config(recipe, world, False),
        use_cpu=not torch.cuda.is_available(), disable_tqdm=True)
    Trainer(model=model, args=args, train_dataset=DS(), callbacks=[Clock()]).train()
    if int(__import__("os").environ.get("RANK", 0)) == 0:
        tokens = t["micro_batch_size"] * t["grad_accum"] * world * recipe["data"]["seq_len"]
        rates = [tokens / (b - a) for a, b in zip(times, times[1:])]
        out_path.write_text(json.dumps({"tokens_per_s": float(np.median(rates)), "steps": len(times)}))
''')


def run_peer(run_dir: Path, n_records: int, nproc: int, workdir: Path) -> dict:
    from appliance.train.launcher import free_port

    workdir.mkdir(parents=True, exist_ok=True)
    script = workdir / "hf_trainer_peer.py"
    script.write_text(PEER)
    out = workdir / "peer.json"
    env = {**os.environ, "DS_ACCELERATOR": "cpu", "OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 1) // nproc)),
           "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1", "TORCH_EXTENSIONS_DIR": str(workdir / "ext")}
    repo = str(Path(__file__).resolve().parents[1])
    cmd = [sys.executable, "-m", "deepspeed.launcher.runner", "--num_gpus", str(nproc), "--master_port", str(free_port()),
           "--log_level", "warning", str(script), str(run_dir), str(n_records), str(out), repo]
    subprocess.run(cmd, env=env, check=True, stdout=sys.stderr, cwd=str(workdir))
    return json.loads(out.read_text())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--preset", default="small")
    ap.add_argument("--arch", default="llama")
    ap.add_argument("--nproc", type=int, default=2)
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--micro-batch", type=int, default=4)
    ap.add_argument("--records", type=int, default=400)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    from appliance.home import Home
    from appliance.train import InMemorySource, train
    from appliance.train.recipe import recipe_from_dict

    work = Path(tempfile.mkdtemp(prefix="bench-train-"))
    home = Home(work / "home")
    recipe = {
        "run": {"name": "bench", "nproc": args.nproc},
        "model": {"init": {"arch": args.arch, "preset": args.preset}},
        "data": {"seq_len": args.seq_len, "heldout_fraction": 0.05, "max_eval_samples": 8},
        "train": {"max_steps": args.steps, "micro_batch_size": args.micro_batch, "warmup_steps": 2, "lr": 1e-3,
                  "zero_stage": 2, "precision": "fp32"},
        "checkpoint": {"every": args.steps, "keep_last": 1},
        "eval": {"every": None},
    }
    src = InMemorySource(corpus(args.records))
    # Alternate the two sides (appliance, Trainer, appliance, Trainer) and keep each side's best run, so a
    # burst of load from other processes on a shared host does not decide the ratio.
    fresh_runs, peer_runs = [], []
    for i in range(args.repeats):
        recipe["run"]["name"] = f"bench{i}"
        recipe["train"]["max_steps"] = args.steps
        fresh_runs.append(train(home, recipe_from_dict(recipe), source=src, audit=False, progress=False))
        peer_runs.append(run_peer(Path(fresh_runs[-1]["run_dir"]), args.records, args.nproc, work / f"peer{i}"))
    # time to first step: resume every run (5 more steps) and compare with the fresh starts (medians)
    resumed_runs = []
    for i in range(args.repeats):
        recipe["run"]["name"] = f"bench{i}"
        recipe["train"]["max_steps"] = args.steps + 5
        resumed_runs.append(train(home, recipe_from_dict(recipe), source=src, resume=True,
                                  allow_change=["train.max_steps"], audit=False, progress=False))
    fresh, resumed = fresh_runs[-1], resumed_runs[-1]
    fresh_ttfs = statistics.median(r["seconds_to_first_step"] for r in fresh_runs)
    resume_ttfs = statistics.median(r["seconds_to_first_step"] for r in resumed_runs)
    best_app = max(r["tokens_per_s"] for r in fresh_runs)
    best_peer = max(p["tokens_per_s"] for p in peer_runs)
    result = {
        "model": f"{args.arch}/{args.preset}", "ranks": args.nproc, "seq_len": args.seq_len,
        "global_batch": args.micro_batch * args.nproc, "steps": args.steps, "repeats": args.repeats,
        "appliance_tokens_per_s": [round(r["tokens_per_s"], 1) for r in fresh_runs],
        "trainer_tokens_per_s": [round(p["tokens_per_s"], 1) for p in peer_runs],
        "throughput_ratio": round(best_app / best_peer, 3),
        "fresh_seconds_to_first_step": [r["seconds_to_first_step"] for r in fresh_runs],
        "resume_seconds_to_first_step": [r["seconds_to_first_step"] for r in resumed_runs],
        "resume_ttfs_ratio": round(resume_ttfs / fresh_ttfs, 3),
        "targets": {"throughput_ratio": ">= 1.0", "resume_ttfs_ratio": "<= 1.1"},
        "fresh_startup": fresh.get("startup"),
        "resume_startup": resumed.get("startup"),
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for k, v in result.items():
            print(f"{k:32s} {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
