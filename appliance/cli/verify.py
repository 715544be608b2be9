"""`appliance verify DIR` and `appliance generate --artifact DIR PROMPT`: offline checks and local inference.

Both work on a machine without an appliance home when given ``--public-key``; with a home they trust its
current and retired site keys and write the verification to its audit log.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from appliance.cli._common import JsonOpt, console, emit, get_home, kv_table

PublicKeyOpt = Annotated[
    Path | None,
    typer.Option("--public-key", help="PEM public key to trust (default: the home's site keys).", dir_okay=False),
]


def register(root: typer.Typer) -> None:
    root.command("verify")(verify_cmd)
    root.command("generate")(generate_cmd)


def _home_or_none():
    home = get_home()
    return home if home.initialized else None


def verify_cmd(
    directory: Annotated[Path, typer.Argument(help="Artifact directory (model.gguf | model.onnx | model.engine).")],
    public_key: PublicKeyOpt = None,
    parity: Annotated[
        bool, typer.Option("--parity", help="Also re-run the parity check stored in the artifact.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Check an artifact's signature, every file hash and its structure; exit 0 (intact) or 3 (not)."""
    from appliance.export.verify import verify_artifact
    from appliance.sign import trusted_keys

    home = _home_or_none()
    report = verify_artifact(directory, trusted_keys(public_key, home), parity=parity, home=home)

    def render(r: dict) -> None:
        rows = {"artifact": r["artifact_id"], "kind": f"{r['kind']} ({r['format']})", "signature": "ok",
                "signed by": r["key_id"], "files": r["files"], "structure": r["structure"]}
        if "parity" in r:
            rows["parity"] = f"ok (top-1 {r['parity']['top1_agreement']:.2%})"
        console.print(kv_table("verified", rows))

    emit(report, json_out, render)


def generate_cmd(
    prompt: Annotated[str, typer.Argument(help="Prompt text.")],
    artifact: Annotated[Path, typer.Option("--artifact", help="A signed GGUF artifact directory.", file_okay=False)],
    max_tokens: Annotated[int, typer.Option("--max-tokens")] = 64,
    temperature: Annotated[float, typer.Option("--temperature")] = 0.8,
    top_p: Annotated[float, typer.Option("--top-p")] = 0.95,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    public_key: PublicKeyOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Verify the artifact, then stream a completion from llama.cpp."""
    from appliance.export import generate
    from appliance.sign import trusted_keys

    home = _home_or_none()
    report, pieces = generate(artifact, prompt, trusted_keys(public_key, home), max_tokens=max_tokens,
                              temperature=temperature, top_p=top_p, seed=seed, home=home)
    if json_out:
        text = "".join(pieces)
        emit({"artifact_id": report["artifact_id"], "verified": True, "prompt": prompt, "text": text}, True)
        return
    for piece in pieces:
        sys.stdout.write(piece)
        sys.stdout.flush()
    sys.stdout.write("\n")
