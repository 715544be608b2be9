"""Retrain fixtures: two synthetic "months" of notes with disjoint clinical vocabularies, and a home whose
champion was trained (real DeepSpeed, 2 CPU ranks) on month A."""

from __future__ import annotations

import json
import random
from pathlib import Path

MONTH_A = ["cardiology", "chest", "pain", "troponin", "echocardiogram", "murmur", "atrial", "fibrillation", "warfarin", "statin", "angina", "stent", "catheterization", "ejection", "fraction", "palpitations", "syncope", "beta", "blocker"]
MONTH_B = ["orthopedics", "fracture", "femur", "cast", "splint", "physiotherapy", "arthroscopy", "ligament", "tendon", "knee", "shoulder", "dislocation", "crutches", "bone", "density", "osteoporosis"]
MONTH_C = ["neurology", "seizure", "migraine", "stroke", "aphasia", "hemiparesis", "levetiracetam", "electroencephalogram", "lumbar", "puncture", "neuropathy", "tremor", "gait", "ataxia", "thrombolysis"]
GLUE = ["the", "patient", "reports", "with", "and", "no", "of", "in", "was", "is", "on", "for", "after"]


def write_month(path: Path, vocab: list[str], n: int, seed: int, words: int = 48) -> Path:
    """``n`` JSONL notes drawn from ``vocab`` (plus glue words), deterministic in ``seed``."""
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            toks = [rng.choice(vocab) if rng.random() < 0.7 else rng.choice(GLUE) for _ in range(words)]
            f.write(json.dumps({"text": f"note {seed}-{i}: " + " ".join(toks) + "."}) + "\n")
    return path


def tiny_recipe(path: Path, name: str = "base", steps: int = 30, lr: float = 3e-3) -> Path:
    # a fixed rendezvous port: the suite disables sockets in-process, so the launcher cannot probe for one
    port = random.Random(str(path)).randint(29600, 39000)
    path.write_text(f"""
run: {{name: {name}, nproc: 2, master_port: {port}}}
model:
  init: {{arch: llama, preset: tiny, vocab_size: 400}}
data: {{sources: ["*"], seq_len: 64, heldout_fraction: 0.15, max_eval_samples: 8}}
train:
  seed: 1234
  max_steps: {steps}
  micro_batch_size: 4
  grad_accum: 1
  lr: {lr}
  warmup_steps: 3
  schedule: cosine
  min_lr_ratio: 0.1
  weight_decay: 0.01
  grad_clip: 1.0
  precision: fp32
  zero_stage: 0
checkpoint: {{every: 1000, keep_last: 1}}
eval: {{every: null}}
""")
    return path
