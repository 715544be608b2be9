"""Evaluation fixtures: tiny llama models built in-process — one random, one overfit on a few records."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

WORDS = ["patient", "presents", "with", "chest", "pain", "dyspnea", "fever", "cough", "nausea", "headache", "fatigue", "hypertension", "diabetes", "asthma", "insulin", "metformin", "aspirin", "lisinopril", "follow", "up", "stable", "improved", "worse", "discharged", "admitted"]


def make_texts(n: int, seed: int) -> dict[str, str]:
    rng = random.Random(seed)
    return {f"r{seed}-{i:03d}": " ".join(rng.choice(WORDS) for _ in range(24)) for i in range(n)}


def build_model(out: Path, texts: list[str], train_on: list[str] = (), steps: int = 0, seed: int = 0) -> Path:
    """A tiny llama with a BPE tokenizer on ``texts``; optionally overfit on ``train_on`` with plain AdamW."""
    import torch
    from transformers import LlamaForCausalLM

    from appliance.train.presets import build_config
    from appliance.train.tokenizer import special_ids, train_bpe

    tok = train_bpe(texts, 320, out)
    bos, eos, pad = special_ids(tok)
    cfg = build_config("llama", "tiny", vocab_size=len(tok), max_positions=128, bos_id=bos, eos_id=eos, pad_id=pad)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(cfg)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model on a shared 2-core host: one thread is faster than two
    if steps:
        enc = tok.backend_tokenizer
        seqs = [torch.tensor([eos] + enc.encode(t, add_special_tokens=False).ids + [eos]) for t in train_on]
        opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
        model.train()
        for step in range(steps):
            batch = torch.nn.utils.rnn.pad_sequence(seqs, batch_first=True, padding_value=pad)
            labels = batch.clone()
            labels[batch == pad] = -100
            loss = model(input_ids=batch, labels=labels).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
    torch.set_num_threads(threads)
    model.save_pretrained(str(out))
    return out


@pytest.fixture(scope="session")
def corpus() -> dict[str, str]:
    return {**make_texts(8, 1), **make_texts(8, 2)}


@pytest.fixture(scope="session")
def overfit_model(tmp_path_factory, corpus) -> tuple[Path, list[str], list[str]]:
    """(model dir, train ids, held-out ids): overfit on 4 records of month 1, never saw month 2's."""
    ids = sorted(corpus)
    train, held = ids[:4], ids[8:]
    d = build_model(tmp_path_factory.mktemp("m") / "overfit", list(corpus.values()),
                    [corpus[i] for i in train], steps=90)
    return d, train, held


@pytest.fixture(scope="session")
def random_model(tmp_path_factory, corpus) -> Path:
    return build_model(tmp_path_factory.mktemp("m") / "random", list(corpus.values()))
