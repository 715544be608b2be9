"""The demo stage ingests the embedded corpus (a slice of it; a generated one while it is not shipped)."""

from __future__ import annotations

import random

from appliance.demo import new_context
from appliance.vault import demo_stage as ds


def test_demo_stage(tmp_path, vt, monkeypatch, _session_scrubber):
    import contextlib

    from appliance.keys import init_home
    from appliance.vault import ingest as ingest_mod

    @contextlib.contextmanager
    def shared():  # reuse the session's scrubber instead of loading another NLP pipeline
        yield _session_scrubber

    monkeypatch.setattr(ingest_mod, "_default_scrubber", lambda vault: shared())
    ctx = new_context(tmp_path / "demo")
    init_home(ctx.home, ctx.passphrase, kdf_target_ms=1)
    corpus = tmp_path / "notes.jsonl"
    if ds.CORPUS.is_file():  # the shipped corpus, cut to 40 notes to keep the suite fast
        with open(ds.CORPUS) as f:
            corpus.write_text("".join(line for _, line in zip(range(40), f)))
    else:
        rng = random.Random(0)
        vt.write_jsonl(corpus, [vt.note(rng) for _ in range(20)])
    out = ds.demo_stage(ctx, corpus=corpus)
    assert out["source"] == "demo-month1" and out["kept"] > 0 and out["verified_bad"] == 0
    assert out["records_active"] == out["kept"] == out["verified_ok"]
