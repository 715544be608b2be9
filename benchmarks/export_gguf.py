"""Benchmark: wall time of `appliance export gguf` vs llama.cpp's `convert_hf_to_gguf.py` on one checkpoint.

The peer is the converter shipped in the llama-cpp-python 0.3.36 source distribution (vendor/llama.cpp),
run unmodified with its own vendored gguf-py.  It rejects locally trained byte-level BPE tokenizers (its
pre-tokenizer hash table), so the checkpoint carries two tokenizers trained on the same text: a SentencePiece
``tokenizer.model`` — which the converter's llama path reads first and accepts without a hash check — and the
byte-level BPE ``tokenizer.json`` the appliance uses.  Weights, config and output type are identical.

The appliance figure is the whole CLI command: GGUF write + llama.cpp/PyTorch parity + manifest + signature,
twice: on the checkpoint as saved by transformers (a foreign base: the PyTorch reference is computed during the
export, in a child process), and on the same checkpoint as ``appliance train`` leaves it (the trainer stores the
reference beside the model, bound to the files' SHA-256, and the export reuses it: ``ratio_trained``).
The writer alone (in-process) is reported too, and the export's own phase marks (``phases`` in its --json:
seconds since the export began when the GGUF was written, llama.cpp's half of parity was done, the hashes
were ready, the PyTorch reference arrived, the artifact was signed), to show where the time goes.  The
reference runs in a child process that starts before the writer.  One run each, appliance first.

    .venv/bin/python benchmarks/export_gguf.py [--llama-cpp-dir DIR | --sdist FILE.tar.gz] [--type f16]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SDIST_VERSION = "0.3.36"


def find_converter(args) -> Path:
    """vendor/llama.cpp of the llama-cpp-python sdist: given, extracted from a tarball, or pip-downloaded."""
    if args.llama_cpp_dir:
        d = Path(args.llama_cpp_dir)
        if not (d / "convert_hf_to_gguf.py").is_file():
            sys.exit(f"{d} has no convert_hf_to_gguf.py")
        return d
    cache = Path.home() / ".cache" / "appliance" / "bench"
    cache.mkdir(parents=True, exist_ok=True)
    sdist = Path(args.sdist) if args.sdist else None
    if sdist is None:
        found = sorted(cache.glob(f"llama_cpp_python-{SDIST_VERSION}.tar.gz"))
        if not found:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps",
                            f"llama-cpp-python=={SDIST_VERSION}", "-d", str(cache)], check=True)
            found = sorted(cache.glob("llama_cpp_python-*.tar.gz"))
        sdist = found[0]
    out = cache / f"llama.cpp-{SDIST_VERSION}"
    if not (out / "convert_hf_to_gguf.py").is_file():
        with tarfile.open(sdist) as tf:
            prefix = tf.getnames()[0].split("/")[0] + "/vendor/llama.cpp/"
            keep = ("convert_hf_to_gguf.py", "conversion/", "gguf-py/")
            members = [m for m in tf.getmembers() if m.name.startswith(prefix)
                       and m.name[len(prefix):].startswith(keep)]
            for m in members:
                m.name = m.name[len(prefix):]
            tf.extractall(out, members=members, filter="data")
    return out


def build_checkpoint(d: Path, hidden: int, layers: int, vocab: int) -> Path:
    """A llama checkpoint with a SentencePiece tokenizer.model and a byte-level BPE tokenizer.json."""
    import sentencepiece as spm
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    sys.path.insert(0, str(ROOT / "tests" / "export"))
    from conftest import build_tokenizer, synthetic_lines  # the test fixtures' byte-level BPE

    d.mkdir(parents=True, exist_ok=True)
    tok = build_tokenizer(d, vocab_size=min(vocab, 2000))
    corpus = d.parent / "corpus.txt"
    corpus.write_text("\n".join(synthetic_lines(2000)))
    spm.SentencePieceTrainer.train(input=str(corpus), model_prefix=str(d / "tokenizer"), vocab_size=1000,
                                   model_type="bpe", hard_vocab_limit=False, bos_id=1, eos_id=2, unk_id=0,
                                   minloglevel=2)
    (d / "tokenizer.vocab").unlink(missing_ok=True)
    cfg = LlamaConfig(vocab_size=vocab, hidden_size=hidden, intermediate_size=int(hidden * 8 / 3) // 64 * 64,
                      num_hidden_layers=layers, num_attention_heads=hidden // 64, num_key_value_heads=hidden // 128,
                      max_position_embeddings=2048, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    torch.manual_seed(0)
    model = LlamaForCausalLM(cfg)
    model.save_pretrained(d)
    n = sum(p.numel() for p in model.parameters())
    return d, n


def run(cmd: list[str], env: dict) -> tuple[float, str]:
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"command failed ({p.returncode}): {' '.join(cmd)}\n{p.stdout[-2000:]}\n{p.stderr[-4000:]}")
    return dt, p.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--llama-cpp-dir", help="vendor/llama.cpp of an unpacked llama-cpp-python sdist")
    ap.add_argument("--sdist", help="llama_cpp_python-0.3.36.tar.gz")
    ap.add_argument("--type", default="f16", choices=["f32", "f16", "bf16", "q8_0"])
    ap.add_argument("--hidden", type=int, default=768)
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--kdf-ms", type=int, default=500,
                    help="passphrase key-derivation target of the benchmark's home (500: the product default; "
                         "every export unlocks the signing key with it)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    conv_dir = find_converter(args)
    work = Path(tempfile.mkdtemp(prefix="bench-gguf-"))
    try:
        with contextlib.redirect_stdout(sys.stderr):  # library import chatter must not pollute --json output
            ckpt, n_params = build_checkpoint(work / "model", args.hidden, args.layers, args.vocab)
        from appliance.home import Home
        from appliance.keys import init_home

        home = Home(work / "home")
        init_home(home, b"benchmark passphrase", kdf_target_ms=args.kdf_ms)
        (work / "pw").write_text("benchmark passphrase\n")
        env = {**os.environ, "APPLIANCE_HOME": str(home.root)}

        t_app, out = run([sys.executable, "-m", "appliance", "export", "gguf", "--model", str(ckpt),
                          "--type", args.type, "-o", str(work / "art"), "--passphrase-file", str(work / "pw"),
                          "--json"], env)
        t_peer, _ = run([sys.executable, str(conv_dir / "convert_hf_to_gguf.py"), str(ckpt),
                         "--outtype", args.type, "--outfile", str(work / "peer.gguf")], env)

        # The same checkpoint as `appliance train` leaves it: the trainer stores the PyTorch reference beside
        # the model it writes (bound to the files' SHA-256; see appliance/_internal/parity_reference.py), so the
        # export of a trained model reuses it.  Computed here by the trainer's own function, outside the timing,
        # as training computes it; the peer's figure above is for the same weights.
        from appliance._internal.parity_reference import write_stored_reference

        with contextlib.redirect_stdout(sys.stderr):
            write_stored_reference(ckpt)
        t_trained, out_trained = run([sys.executable, "-m", "appliance", "export", "gguf", "--model", str(ckpt),
                                      "--type", args.type, "-o", str(work / "art-trained"), "--passphrase-file",
                                      str(work / "pw"), "--json"], env)
        trained_parity = json.loads((work / "art-trained" / "parity.json").read_text())

        from appliance.export.gguf_writer import write_gguf

        cfg = json.loads((ckpt / "config.json").read_text())
        t0 = time.perf_counter()
        write_gguf(ckpt, work / "writer-only.gguf", args.type, cfg)
        t_writer = time.perf_counter() - t0
        manifest = json.loads((work / "art" / "manifest.json").read_text())
        try:
            reported = json.loads(out)
        except ValueError:  # the phases are a breakdown only; the wall times above are the result
            reported = {}
        result = {
            "type": args.type, "params": n_params, "kdf_target_ms": args.kdf_ms,
            "checkpoint_bytes": sum(p.stat().st_size for p in ckpt.glob("*.safetensors")),
            "appliance_export_s": round(t_app, 2), "llama_cpp_convert_s": round(t_peer, 2),
            "ratio": round(t_app / t_peer, 3), "appliance_writer_only_s": round(t_writer, 2),
            "writer_only_ratio": round(t_writer / t_peer, 3),
            "gguf_bytes": {"appliance": (work / "art" / "model.gguf").stat().st_size,
                           "llama_cpp": (work / "peer.gguf").stat().st_size},
            # seconds since the export began (after CLI start-up, unlock and source resolution), per phase
            "appliance_phases_s": reported.get("phases"), "appliance_in_command_s": reported.get("seconds"),
            "parity": manifest["parity"], "peer": str(conv_dir / "convert_hf_to_gguf.py"),
            # the checkpoint as the trainer writes it (reference stored with it), same peer figure
            "appliance_export_trained_s": round(t_trained, 2), "ratio_trained": round(t_trained / t_peer, 3),
            "trained_reference": trained_parity.get("reference"), "trained_parity_passed": trained_parity["passed"],
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for k, v in result.items():
            print(f"{k:>24}: {v}")


if __name__ == "__main__":
    main()
