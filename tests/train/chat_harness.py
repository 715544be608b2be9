"""Run `appliance.train.train` on conversations from a JSON file (``{record_id: stored chat text}``) in its own
process (the launcher opens a loopback rendezvous port, which the test process keeps closed).

Usage: python tests/train/chat_harness.py HOME RECIPE.yaml RECORDS.json [--set KEY=VALUE ...]
Prints the result JSON on stdout, or {"error": ..., "exit_code": N} and exits with that code.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("home")
    ap.add_argument("recipe")
    ap.add_argument("records")
    ap.add_argument("--set", action="append", default=[])
    args = ap.parse_args()

    from appliance.errors import ApplianceError
    from appliance.home import Home
    from appliance.train import InMemorySource, load_recipe, train

    records = json.loads(Path(args.records).read_text(encoding="utf-8"))
    try:
        result = train(Home(Path(args.home)), load_recipe(args.recipe, args.set), source=InMemorySource(records),
                       audit=False, progress=False)
    except ApplianceError as e:
        print(json.dumps(e.to_dict()))
        return e.exit_code
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
