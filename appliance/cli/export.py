"""`appliance export`: signed GGUF, ONNX and TensorRT artifacts from a registry version or an HF directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from appliance.cli._common import JsonOpt, PassphraseFileOpt, console, emit, get_home, kv_table, unlock

app = typer.Typer(help="Export a model as a signed GGUF, ONNX or TensorRT artifact (with parity checks).",
                  no_args_is_help=True)

ModelOpt = Annotated[
    str, typer.Option("--model", "-m", help="Registry version (or 'champion'), an HF model directory, a run's "
                                            "checkpoint (RUN:step_N, RUN:best, RUN:final, RUN:latest) or a "
                                            "checkpoint directory.")
]
OutOpt = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Artifact directory (default: the home's artifacts/<id>).", file_okay=False),
]


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="export")


def _render(m: dict) -> None:
    p = m.get("parity") or {}
    rows = {"artifact": m["artifact_id"], "path": m["path"], "kind": m["kind"], "format": m["format"],
            "files": ", ".join(sorted(m["files"])), "signed by": m["signature"]["key_id"][:16] + "…",
            "seconds": m["seconds"]}
    if p:
        rows["parity"] = ("passed" if p.get("passed") else "FAILED") + \
            f" (max |Δ| {p.get('max_abs_diff', 0):.3g}, top-1 {p.get('top1_agreement', 0):.2%})"
    console.print(kv_table("export", rows))


@app.command("gguf")
def gguf_cmd(
    model: ModelOpt,
    qtype: Annotated[str, typer.Option("--type", "-t", help="f32 | f16 | bf16 | q8_0 | q4_0 | q4_k_m")] = "q8_0",
    output: OutOpt = None,
    keep_failed: Annotated[bool, typer.Option("--keep-failed", help="Keep the unsigned .partial directory "
                                                                    "(with parity.json) when parity fails.")] = False,
    passphrase_file: PassphraseFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """GGUF for llama.cpp, with tokenizer embedded; parity vs PyTorch is checked before signing."""
    from appliance.export import export_gguf

    home = get_home().require_initialized()
    # the passphrase is asked for (and its key derived) while the PyTorch reference process starts up
    emit(export_gguf(model, qtype, home=home, unlock=lambda: unlock(passphrase_file, home).signer, out_dir=output,
                     keep_failed=keep_failed), json_out, _render)


@app.command("onnx")
def onnx_cmd(
    model: ModelOpt,
    output: OutOpt = None,
    opset: Annotated[int, typer.Option("--opset", help="ONNX opset.")] = 18,
    passphrase_file: PassphraseFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """ONNX with explicit past/present K/V; parity vs PyTorch in onnxruntime (prefill + one decode step)."""
    from appliance.export import export_onnx

    home = get_home()
    keys = unlock(passphrase_file, home)
    emit(export_onnx(model, home=home, signer=keys.signer, out_dir=output, opset=opset), json_out, _render)


@app.command("tensorrt")
def tensorrt_cmd(
    onnx: Annotated[Path, typer.Option("--onnx", help="A signed ONNX artifact directory.", file_okay=False)],
    output: OutOpt = None,
    precision: Annotated[str, typer.Option("--precision", help="fp16 | bf16 | fp32")] = "fp16",
    max_batch: Annotated[int, typer.Option("--max-batch")] = 4,
    max_seq: Annotated[int, typer.Option("--max-seq", help="Longest sequence (prompt + cache).")] = 512,
    passphrase_file: PassphraseFileOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """A TensorRT engine from a verified ONNX artifact (needs an NVIDIA GPU and TensorRT)."""
    from appliance.export import export_tensorrt

    home = get_home()
    keys = unlock(passphrase_file, home)
    emit(export_tensorrt(onnx, home=home, signer=keys.signer, out_dir=output, precision=precision,
                         max_batch=max_batch, max_seq=max_seq), json_out, _render)
