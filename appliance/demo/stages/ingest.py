"""Demo stage "ingest": the embedded synthetic clinical corpus (month 1) into the vault."""

from __future__ import annotations

from pathlib import Path

from appliance.demo import corpus as demo_corpus


def demo_stage(ctx, corpus: Path | None = None) -> dict:
    """Scrub, filter, dedup, encrypt and catalogue the synthetic notes; returns the ingest summary plus a
    verify result (counts only)."""
    from appliance.vault import Vault

    corpus = demo_corpus.require(corpus or demo_corpus.MONTH1)
    with Vault.open(ctx.home, ctx.keys()) as v:
        report = v.ingest([corpus], demo_corpus.MONTH1_SOURCE)
        if report.failed:
            raise demo_corpus.ingest_failed(report)
        verified = v.verify()
        out = report.summary()
        out["verified_ok"] = verified.ok
        out["verified_bad"] = len(verified.bad)
        out["records_active"] = v.stats()["records_active"]
    return out
