"""Demo stage "vault": ingest the embedded synthetic clinical corpus as source ``demo-month1``."""

from __future__ import annotations

from pathlib import Path

from appliance.errors import MissingComponent

CORPUS = Path(__file__).resolve().parent.parent / "data" / "synthetic_notes.jsonl"
SOURCE = "demo-month1"


def demo_stage(ctx, corpus: Path | None = None) -> dict:
    """Scrub, filter, dedup, encrypt and catalogue the synthetic notes; returns the ingest summary plus a
    verify result (counts only)."""
    from appliance.vault import Vault

    corpus = Path(corpus or CORPUS)
    if not corpus.is_file():
        raise MissingComponent(f"synthetic corpus {corpus} is missing", hint="reinstall the appliance package")
    with Vault.open(ctx.home, ctx.keys()) as v:
        report = v.ingest([corpus], SOURCE)
        if report.failed:
            raise MissingComponent(f"synthetic corpus could not be read: {report.errors[0]['error']}",
                                   hint="reinstall the appliance package")
        verified = v.verify()
        out = report.summary()
        out["verified_ok"] = verified.ok
        out["verified_bad"] = len(verified.bad)
        out["records_active"] = v.stats()["records_active"]
    return out
