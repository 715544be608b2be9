"""Demo stage "audit": a few audit entries, a signed checkpoint, a verified export, and a full log verification."""

from __future__ import annotations


def demo_stage(ctx) -> dict:
    from appliance.audit import checkpoint, export, record, verify, verify_export
    from appliance.audit.checkpoint import parse

    home = ctx.home
    signer = ctx.keys().signer
    record(home, "audit.note", {"text": "demo: audit stage started"}, signer=signer)
    record(home, "audit.note", {"text": "demo: quarterly review done"}, signer=signer)
    cp_path = checkpoint(home, signer)
    cp = parse(cp_path.read_bytes(), str(cp_path))
    ctx.workdir.mkdir(parents=True, exist_ok=True)
    out = ctx.workdir / "audit-export.jsonl"
    exp = export(home, "jsonl", out, signer=signer)
    checked = verify_export(out, signer.public_pem)
    report = verify(home, checkpoint_file=out, public_keys={signer.key_id: signer.public_key})
    return {
        "entries": report.entries,
        "checkpoint": str(cp_path),
        "checkpoint_size": cp.size,
        "root": cp.root.hex(),
        "export": exp["file"],
        "export_entries": checked["entries"],
        "verified": True,
    }
