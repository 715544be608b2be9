"""Demo stage "export": the trained model → signed GGUF (q8_0) → offline verify → a few generated tokens.

Uses the registry version of the demo run when the registry stage registered one (so the artifact carries
the version and its data-manifest hash), else the run's final directory.  If the briefly trained demo
model is too flat for q8_0 to keep 99 % top-1 agreement, the stage says so and ships f32 instead — a
failed parity is never signed.
"""

from __future__ import annotations


def _source(ctx) -> str:
    final = ctx.results["train"]["final_model"]
    from appliance.registry import find_by_run

    version = find_by_run(ctx.home, "demo")
    if version and (ctx.home.model_dir(version) / "config.json").is_file():
        return version
    return str(final)


def demo_stage(ctx) -> dict:
    from appliance.errors import IntegrityError
    from appliance.export import export_gguf, generate
    from appliance.export.verify import verify_artifact
    from appliance.sign import trusted_keys

    keys = ctx.keys()
    model = _source(ctx)
    fallback = None
    try:
        m = export_gguf(model, "q8_0", home=ctx.home, signer=keys.signer)
    except IntegrityError as e:
        fallback = {"q8_0": e.details}
        m = export_gguf(model, "f32", home=ctx.home, signer=keys.signer)
    pub = ctx.home.signing_pub_path
    report = verify_artifact(m["path"], trusted_keys(pub), home=ctx.home)
    _, pieces = generate(m["path"], "Patient reports", trusted_keys(pub), max_tokens=12, temperature=0.0,
                         home=ctx.home)
    text = "".join(pieces)
    return {
        "artifact": m["path"],
        "model": model,
        "type": m["format"],
        "q8_0_parity_failed": fallback,
        "parity": {k: m["parity"][k] for k in ("max_abs_diff", "top1_agreement", "tokenization_identical")},
        "verified": report["signature"] == "ok",
        "signed_by": report["key_id"],
        "generated": text,
    }
