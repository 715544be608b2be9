"""Perplexity bookkeeping, memorization probe and the gate on real tiny transformers models."""

from __future__ import annotations

import math

from appliance.config import GateSection
from appliance.evaluate import EvalRecord, evaluate_model, sample_ids
from appliance.evaluate.gate import decide
from appliance.evaluate.perplexity import load_model, ppl, record_nll


def test_every_token_scored_once(random_model, corpus):
    lm = load_model(random_model)
    texts = list(corpus.values())[:3]
    for seq_len in (8, 128):
        scores = record_nll(lm, texts, seq_len=seq_len)
        for (nll, n), t in zip(scores, texts):
            assert n == len(lm.encode(t)) + 1  # every token and the closing EOS, not the leading EOS
            assert nll > 0
    # an untrained model is near-uniform over the vocabulary
    p = ppl(record_nll(lm, texts))
    assert 0.3 * len(lm.tokenizer) < p < 3 * len(lm.tokenizer)


def test_overfit_model_gap_and_memorization(overfit_model, corpus):
    d, train, held = overfit_model
    months = {i: "2026-01" if i.startswith("r1") else "2026-02" for i in corpus}
    rec = lambda i: EvalRecord(i, "ward-a" if i.endswith(("0", "2", "4", "6", "8")) else "ward-b", months[i])
    settings = GateSection(memorization_records=8, memorization_prefix_tokens=8, memorization_k=8)
    res = evaluate_model(d, corpus.__getitem__, [rec(i) for i in held], [rec(i) for i in train], settings=settings)
    p = res["perplexity"]
    assert p["records"] == 8 and set(p["by_source"]) == {"ward-a", "ward-b"} and set(p["by_month"]) == {"2026-02"}
    assert res["train_perplexity"] < 3.0 < p["overall"]  # recited vs. unseen
    assert res["gap"]["heldout_over_train"] > 1.0
    mem = res["memorization"]
    assert mem["train"]["records"] == 4
    assert mem["train"]["exact_match_rate"] >= 0.75
    assert mem["heldout"]["exact_match_rate"] <= 0.25
    assert "phi" not in res


def test_sample_ids_stable():
    ids = [f"id{i}" for i in range(100)]
    a = sample_ids(ids, 10)
    assert a == sample_ids(list(reversed(ids)), 10) and len(a) == 10
    assert sample_ids(ids + ["new1", "new2"], 10) != [] and sample_ids(ids[:5], 10) == sorted(ids[:5])


def test_gate_rules():
    s = GateSection(max_old_ppl_regression=0.05, min_new_ppl_improvement=0.0, max_phi_rate_increase=0.0,
                    phi_noise_sigmas=2.0)
    phi = lambda n: {"detections": n, "tokens": 1000, "per_1k_tokens": float(n)}
    good = decide({"old_ppl": 10.0, "new_ppl": 20.0, "phi": phi(5)}, {"old_ppl": 10.4, "new_ppl": 12.0, "phi": phi(6)}, s)
    assert good["passed"] and good["decision"] == "promote" and good["reasons"] == []
    forgot = decide({"old_ppl": 10.0, "new_ppl": 20.0}, {"old_ppl": 11.0, "new_ppl": 12.0}, s)
    assert not forgot["passed"] and "old-data perplexity regressed +10.0%" in forgot["reasons"][0]
    lazy = decide({"old_ppl": 10.0, "new_ppl": 20.0}, {"old_ppl": 10.0, "new_ppl": 21.0}, s)
    assert not lazy["passed"] and "new-data" in lazy["reasons"][0]
    broken = decide({"old_ppl": 10.0, "new_ppl": 20.0}, {"old_ppl": math.inf, "new_ppl": math.nan}, s)
    assert len(broken["reasons"]) == 2
    leaky = decide({"old_ppl": 10.0, "new_ppl": 20.0, "phi": phi(2)}, {"old_ppl": 10.0, "new_ppl": 19.0, "phi": phi(30)}, s)
    assert not leaky["passed"] and "PHI" in leaky["reasons"][0]
    noise = decide({"old_ppl": 10.0, "new_ppl": 20.0, "phi": phi(4)}, {"old_ppl": 10.0, "new_ppl": 19.0, "phi": phi(6)}, s)
    assert noise["passed"]  # +2 detections is within 2 standard errors of the counts
    first = decide({"old_ppl": None, "new_ppl": 20.0}, {"old_ppl": None, "new_ppl": 19.0}, s)
    assert first["passed"]


def test_phi_probe_with_real_scrubber(random_model):
    from appliance.evaluate import load_detector
    from appliance.evaluate.probes import phi_rate

    scrubber = load_detector()
    detect = scrubber.detect_batch
    lm = load_model(random_model)
    a = phi_rate(lm, detect, samples=4, tokens=32, seed=7)
    b = phi_rate(lm, detect, samples=4, tokens=32, seed=7)
    assert a == b and a["tokens"] == 128
    # the detector itself is real: a note full of PHI is flagged
    assert detect(["John Smith was seen on 03/04/2021, phone 617-555-0199."])[0]
    scrubber.close()
