"""Demo stage "registry": register the demo's trained model, verify its signature, make it the champion,
evaluate it (perplexity, memorization and PHI probes) and show its lineage counts."""

from __future__ import annotations


def demo_stage(ctx) -> dict:
    """Register run ``demo`` (idempotent: the trainer may have registered it already) and promote it."""
    from appliance import registry
    from appliance.evaluate import evaluate_version

    keys = ctx.keys()
    run = (ctx.results.get("train") or {}).get("run_dir")
    run_name = run.rstrip("/").rsplit("/", 1)[-1] if run else "demo"
    version = registry.register_existing_run(ctx.home, keys, run_name)
    verified = registry.verify_version(ctx.home, version)
    if registry.champion(ctx.home) != version:
        registry.promote(ctx.home, version, keys, reason="demo: first trained model")
    ev = evaluate_version(ctx.home, keys, version)
    lin = registry.lineage(ctx.home, version)
    return {
        "version": version,
        "champion": registry.champion(ctx.home),
        "signature_ok": verified["ok"],
        "files_signed": verified["files"],
        "train_records": len(lin["train_record_ids"]),
        "heldout_records": len(lin["heldout_record_ids"]),
        "sources": lin["sources"],
        "heldout_ppl": ev["perplexity"]["overall"],
        "train_ppl": ev.get("train_perplexity"),
        "memorization_exact_match": {k: v["exact_match_rate"] for k, v in (ev.get("memorization") or {}).items()},
        "phi_per_1k_tokens": (ev.get("phi") or {}).get("per_1k_tokens"),
    }
