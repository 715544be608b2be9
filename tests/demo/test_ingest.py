"""The ingest demo stage puts a slice of the embedded corpus into the vault, scrubbed, and it verifies."""

from __future__ import annotations

import pytest

from appliance.demo import corpus, new_context
from appliance.demo.stages import ingest


def _slice(tmp_path, n: int):
    out = tmp_path / "notes.jsonl"
    with open(corpus.MONTH1, encoding="utf-8") as f:  # the shipped corpus, cut to keep the suite fast
        out.write_text("".join(line for _, line in zip(range(n), f)), encoding="utf-8")
    return out


def test_demo_stage(tmp_path):
    from appliance.keys import init_home

    ctx = new_context(tmp_path / "demo")
    init_home(ctx.home, ctx.passphrase, kdf_target_ms=1)
    out = ingest.demo_stage(ctx, corpus=_slice(tmp_path, 12))
    assert out["source"] == corpus.MONTH1_SOURCE and out["kept"] > 0 and out["verified_bad"] == 0
    assert out["records_active"] == out["kept"] == out["verified_ok"]


def test_missing_corpus_is_a_clear_error(tmp_path):
    from appliance.errors import MissingComponent

    ctx = new_context(tmp_path / "demo")
    with pytest.raises(MissingComponent, match="synthetic corpus .*nowhere.jsonl is missing") as e:
        ingest.demo_stage(ctx, corpus=tmp_path / "nowhere.jsonl")
    assert "reinstall" in e.value.hint
