"""Instruction tuning end to end: the shipped tiny SFT recipe on real DeepSpeed (2 CPU ranks) learns a toy
question → answer mapping (greedy answers right far more often than before training), and the exported GGUF
carries the run's chat template, so llama.cpp formats a chat exactly as training did and answers alike."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
from pathlib import Path

from appliance.train import load_recipe
from appliance.train.data import is_heldout
from appliance.vault.chat import dumps

HARNESS = Path(__file__).with_name("chat_harness.py")
RECIPE = Path(__file__).resolve().parents[2] / "appliance" / "recipes" / "tiny_llama_sft.yaml"
TOPICS = ["asthma", "fever", "rash", "cough", "burns", "fracture"]
PHRASINGS = ["Which ward treats {t}?", "Where do we send {t} patients?", "{t}: which ward?", "Ward for {t}?"]


def _mapping() -> dict[str, str]:
    wards = ["north", "east", "south", "west", "garden", "river"]
    random.Random(5).shuffle(wards)  # arbitrary: nothing in the question predicts the answer but training
    return dict(zip(TOPICS, wards))


def _greedy(model, tok, question: str) -> str:
    import torch

    enc = tok.apply_chat_template([{"role": "user", "content": question}], add_generation_prompt=True,
                                  return_tensors="pt", return_dict=True)
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=8, do_sample=False, pad_token_id=tok.pad_token_id,
                             eos_token_id=tok.eos_token_id)
    return tok.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True).strip()


def test_tiny_sft_learns_a_question_answer_mapping_and_serves_it_through_gguf(tmp_path):
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    mapping = _mapping()
    records = {f"qa-{i}-{j}": dumps([{"role": "user", "content": p.format(t=t)},
                                     {"role": "assistant", "content": f"Ward {mapping[t]}."}])
               for i, t in enumerate(TOPICS) for j, p in enumerate(PHRASINGS)}
    # two conversations in a new phrasing, under ids the split puts on the held-out side (eval = answer loss)
    held = [f"held-{k}" for k in range(400) if is_heldout(f"held-{k}", 0.05)][:2]
    for rid, t in zip(held, TOPICS):
        records[rid] = dumps([{"role": "user", "content": f"Tell me the ward for {t}."},
                              {"role": "assistant", "content": f"Ward {mapping[t]}."}])
    overrides = ["data.seq_len=32", "checkpoint.every=1000", "train.max_steps=100", "eval.every=50"]
    recipe = load_recipe(RECIPE, overrides)
    (tmp_path / "records.json").write_text(json.dumps(records))
    proc = subprocess.run([sys.executable, str(HARNESS), str(tmp_path / "home"), str(RECIPE), str(tmp_path / "records.json"),
                           *(f"--set={o}" for o in overrides)], capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert res["chat_examples"] == len(records) and res["chat_dropped"] == 0 and res["heldout_samples"] == 2
    # held-out loss is taken over the answer tokens of the unseen phrasing (a tiny model does not generalise
    # to it; what it must learn is the mapping below)
    assert res["eval_loss"] is not None and math.isfinite(res["eval_loss"]), res

    final = Path(res["final_model"])
    tok = AutoTokenizer.from_pretrained(str(final))
    assert "<|assistant|>" in tok.chat_template  # the run's tokenizer carries the template it trained with
    questions = [(p.format(t=t), f"Ward {mapping[t]}.") for t in TOPICS for p in PHRASINGS]

    torch.manual_seed(recipe.train.seed)  # the run's own initial weights (engine.build_model seeds the same)
    before = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(str(final))).eval()
    after = AutoModelForCausalLM.from_pretrained(str(final)).eval()
    rate_before = sum(_greedy(before, tok, q) == a for q, a in questions) / len(questions)
    answers = {q: _greedy(after, tok, q) for q, _ in questions}
    rate_after = sum(answers[q] == a for q, a in questions) / len(questions)
    assert rate_before == 0.0 and rate_after >= 0.75, (rate_before, rate_after, answers)

    # the GGUF keeps tokenizer.chat_template; llama.cpp's own chat formatting gives the same greedy answers
    import llama_cpp

    from appliance.export.gguf_writer import write_gguf

    gguf = tmp_path / "model.gguf"
    write_gguf(final, gguf, "f32", AutoConfig.from_pretrained(str(final)).to_dict())
    llm = llama_cpp.Llama(str(gguf), n_ctx=64, verbose=False, seed=0)
    try:
        agree = 0
        for q, _ in questions[:8]:
            out = llm.create_chat_completion([{"role": "user", "content": q}], temperature=0.0, max_tokens=8)
            agree += out["choices"][0]["message"]["content"].strip() == answers[q]
    finally:
        llm.close()
    assert agree >= 7, agree
