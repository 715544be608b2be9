"""Demo stage "retrain": a second month of synthetic notes arrives (source ``demo-month2``), the monthly
retrain plans, trains a candidate warm-started from the champion, the gate decides, and the lineage of the
resulting champion is shown."""

from __future__ import annotations

from pathlib import Path

from appliance.demo import corpus as demo_corpus


def demo_stage(ctx, corpus: Path | None = None) -> dict:
    """Ingest month 2, retrain, let the gate decide; returns plan counts, gate checks and lineage."""
    from appliance import registry
    from appliance.retrain import RetrainRejected, retrain
    from appliance.vault import Vault

    keys = ctx.keys()
    if registry.champion(ctx.home) is None:
        from appliance.demo.stages import register

        register.demo_stage(ctx)
    corpus = demo_corpus.require(corpus or demo_corpus.MONTH2, "second-month corpus")
    with Vault.open(ctx.home, keys) as v:
        if not v.list_records(sources=[demo_corpus.MONTH2_SOURCE]):
            rep = v.ingest([corpus], demo_corpus.MONTH2_SOURCE)
            if rep.failed:
                raise demo_corpus.ingest_failed(rep, "second-month corpus")
    try:
        res = retrain(ctx.home, keys, progress=False)
    except RetrainRejected as e:  # a rejection is a legitimate outcome of the demo
        res = e.result
    out = {"status": res["status"], "champion": registry.champion(ctx.home), "candidate": res.get("candidate"),
           "plan": {k: res["plan"][k] for k in ("counts", "replay_share", "lr", "run_name")}}
    gate = res.get("gate")
    if gate:
        out["gate"] = {"decision": gate["decision"], "reasons": gate["reasons"],
                       "checks": {c["check"]: {k: v for k, v in c.items() if k not in ("check",)} for c in gate["checks"]}}
    shown = res.get("candidate") or out["champion"]
    lin = registry.lineage(ctx.home, shown)
    out["lineage"] = {"version": shown, "parent": lin["parent"], "train_records": len(lin["train_record_ids"]),
                      "sources": lin["sources"],
                      "batches": [{"batch_id": b["batch_id"], "source": b["source"], "records": b["records"],
                                   "audit_entries": len(b.get("audit", []))} for b in lin["batches"]]}
    return out
