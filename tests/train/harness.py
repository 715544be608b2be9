"""Run `appliance.train.train` on a synthetic in-memory corpus (a subprocess the tests can kill -9).

Usage: python tests/train/harness.py HOME RECIPE.json [--resume] [--allow-change KEY ...]
       [--nnodes N --node-rank K --master-addr A --master-port P]  (one node of a run started node by node)
Prints the result JSON on stdout, or {"error": ..., "exit_code": N} and exits with that code.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

_WORDS = ["patient", "presents", "with", "mild", "fever", "and", "cough", ".", "denies", "chest", "pain", ".", "history", "of", "asthma", ",", "uses", "inhaler", "twice", "daily", ".", "vitals", "stable", ".", "lungs", "clear", "on", "auscultation", ".", "plan", ":", "rest", ",", "fluids", ",", "follow", "up", "in", "two", "weeks", ".", "blood", "pressure", "normal", ".", "prescribed", "amoxicillin", "for", "seven", "days", ".", "no", "known", "allergies", ".", "reports", "headache", "and", "fatigue", "since", "monday", "."]


def corpus(n: int = 160, seed: int = 7) -> dict[str, str]:
    """Deterministic pseudo clinical notes (no PHI), keyed by a stable record id."""
    rng = random.Random(seed)
    out = {}
    for i in range(n):
        start = rng.randrange(len(_WORDS))
        words = [_WORDS[(start + j) % len(_WORDS)] if rng.random() < 0.85 else rng.choice(_WORDS)
                 for j in range(rng.randint(30, 70))]
        out[f"rec-{i:05d}"] = " ".join(words)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("home")
    ap.add_argument("recipe")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--allow-change", action="append", default=[])
    ap.add_argument("--records", type=int, default=160)
    ap.add_argument("--progress", action="store_true", help="progress as off a terminal: log lines")
    ap.add_argument("--nnodes", type=int, default=1)
    ap.add_argument("--node-rank", type=int, default=0)
    ap.add_argument("--master-addr")
    ap.add_argument("--master-port", type=int)
    args = ap.parse_args()

    from appliance.errors import ApplianceError
    from appliance.home import Home
    from appliance.train import InMemorySource, train
    from appliance.train.multinode import NodeSpec
    from appliance.train.recipe import recipe_from_dict

    recipe = recipe_from_dict(json.loads(Path(args.recipe).read_text()))
    home = Home(Path(args.home))
    try:
        result = train(home, recipe, source=InMemorySource(corpus(args.records)), resume=args.resume,
                       allow_change=args.allow_change, audit=True, progress=args.progress,
                       node=NodeSpec(args.nnodes, args.node_rank, args.master_addr, args.master_port))
    except ApplianceError as e:
        print(json.dumps(e.to_dict()))
        return e.exit_code
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
