"""Off a terminal: progress log lines, eval results as they come, the resume point; with early stopping on,
final/ is the best-by-held-out model and says so.  Real DeepSpeed, 2 CPU ranks."""

from __future__ import annotations

import json
import re

from train_helpers import base_recipe, run


def test_progress_lines_best_final_and_resume_notice(train_tmp):
    home = train_tmp / "progress"
    recipe = base_recipe("prog", train={**base_recipe("x")["train"], "max_steps": 6, "lr": 2e-2,
                                        "schedule": "constant"},
                         eval={"every": 1, "early_stopping_patience": 50}, progress={"every": 2},
                         checkpoint={"every": 3, "keep_last": 1})
    rc, res, err = run(home, recipe, "--progress")
    assert rc == 0, err[-4000:]
    lines = [ln for ln in err.splitlines() if re.search(r"train: step \d+/6 loss [\d.]+ lr \S+ tokens/s \d+ eta", ln)]
    assert [int(re.search(r"step (\d+)/", ln).group(1)) for ln in lines] == [2, 4, 6], err[-3000:]
    evals = [json.loads(x) for x in (home / "runs" / "prog" / "metrics.jsonl").read_text().splitlines()
             if '"eval"' in x]
    assert len(evals) == 6 and sum("train: eval step" in ln for ln in err.splitlines()) == 6
    best = min(evals, key=lambda e: e["eval_loss"])
    sel = json.loads((home / "runs" / "prog" / "final" / "selection.json").read_text())
    assert sel["selected"] == "best_heldout" and sel["step"] == best["step"] == res["final_step"], (sel, evals)
    assert abs(sel["eval_loss"] - best["eval_loss"]) < 1e-9 and res["final_selected"] == "best_heldout"
    assert (home / "runs" / "prog" / "final" / "model.safetensors").is_file()

    longer = {**recipe, "train": {**recipe["train"], "max_steps": 8}}
    rc, res, err = run(home, longer, "--resume", "--allow-change", "train.max_steps", "--progress")
    assert rc == 0, err[-4000:]
    assert "resuming from step 6 (checkpoint step_00000006)" in err, err[-3000:]
    assert res["resumed_from_step"] == 6 and res["steps"] == 8
