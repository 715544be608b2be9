"""Parity: the exported artifact computes what the PyTorch model computes, checked on fixed prompts.

GGUF: llama-cpp-python loads the file (``logits_all=True`` so every position's logits are kept) and we
compare, per prompt, the token ids (HF tokenizer vs llama.cpp's tokenizer built from the GGUF metadata) and
the next-token logits at every position: max |Δ|, mean |Δ| and top-1 agreement.  Thresholds depend on the
type (f32: max |Δ| ≤ 1e-3 and 100 % top-1; q8_0: ≥ 99 % top-1).  A failed parity raises
:class:`IntegrityError` (exit 3) — an export that does not match is not an export.

The PyTorch reference (top-k logits per position and the prompt ids) is saved in the artifact as
``parity_reference.npz`` so ``appliance verify --parity`` can re-run the check offline without the model.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from appliance._internal.parity_reference import (
    PROMPTS,
    TOKENIZATION_ONLY,
    load_full_reference,
    save_full_reference,
)
from appliance._internal.parity_reference import torch_reference as compute_reference
from appliance.errors import IntegrityError
from appliance.export.llama_runtime import llama_threads, load_llama, prepare_text, require_llama_cpp

log = logging.getLogger(__name__)

#: type → (max |Δ| limit or None, minimum top-1 agreement)
THRESHOLDS = {
    "f32": (1e-3, 1.0),
    "f16": (None, 0.99),
    "bf16": (None, 0.99),
    "q8_0": (None, 0.99),
    "q4_0": (None, 0.80),
    "q4_k_m": (None, 0.80),
    # ONNX runs the same float32 graph in onnxruntime: tight bound
    "onnx-f32": (1e-4, 1.0),
}
TOP_K_REFERENCE = 32
#: llama.cpp context for parity (at least): small keeps the KV cache and the all-positions logits buffer
#: (n_ctx × n_vocab floats) small; longer prompts get a context as long as their bytes
PARITY_CTX = 128

#: Quantized types are judged on the next-token distribution, the way llama.cpp's ``perplexity --kl-divergence``
#: judges its own quants: KL(reference || GGUF) per position, mean and 99th percentile, plus top-1 agreement
#: counted only where the reference's top-1/top-2 logit margin exceeds the type's expected noise (a flip inside
#: that margin measures the model's indecision, not the quantizer).  llama.cpp reports mean KLD on Llama-class
#: models of about 1e-3 for q8_0, 3e-2..5e-2 for q4_k_m and ~1e-1 for q4_0 (its perplexity tool / quantize
#: README tables): those set the mean limits.  The p99 limits come from the fixtures (tests/export): clean q8_0
#: on the 30-step tiny llama measures mean 1.4e-5 / p99 5.6e-5; one zeroed attn_v row 2.0e-4 / 1.8e-3; one
#: tensor's block scales swapped 1.1e-3 / 5.6e-3 (random DeepseekV3 + real tokenizer: f16 2.6e-9, q8_0 1.6e-6).
#: The p99 limit for q8_0 (1e-3) is not yet measured on a multi-billion-parameter base.
#: type → (mean KLD, p99 KLD, noise margin in logits).
KLD_THRESHOLDS = {
    "f16": (1e-3, 1e-2, 0.01),
    "bf16": (1e-3, 1e-2, 0.05),
    "q8_0": (1e-3, 1e-3, 0.1),
    "q4_0": (0.15, 1.0, 0.5),
    "q4_k_m": (0.1, 0.8, 0.5),
}


def _log_softmax(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)  # a copy: the in-place steps below never touch the caller's logits
    x -= x.max(-1, keepdims=True)
    x -= np.log(np.exp(x).sum(-1, keepdims=True))
    return x


def _llama_logits(llm, ids: list[int]) -> np.ndarray:
    llm.reset()
    llm.eval(ids)
    return np.array(llm.scores[: len(ids)], dtype=np.float32)


def torch_reference(model_dir: Path, prompts=PROMPTS) -> dict:
    """HF tokenizer ids and float32 PyTorch logits for ``prompts`` (the ground truth), on llama's thread count
    (an oversubscribed pool stalls while the writer runs beside it)."""
    return compute_reference(model_dir, prompts, threads=llama_threads())


def compare_logits(ref_logits: list[np.ndarray], got_logits: list[np.ndarray], kind: str) -> dict:
    max_abs, sum_abs, n_vals, agree, n_pos = 0.0, 0.0, 0, 0, 0
    for r, g in zip(ref_logits, got_logits):
        d = np.abs(r - g)
        max_abs = max(max_abs, float(d.max()))
        sum_abs += float(d.sum())
        n_vals += d.size
        agree += int((r.argmax(-1) == g.argmax(-1)).sum())
        n_pos += r.shape[0]
    limit, min_top1 = THRESHOLDS[kind]
    top1 = agree / max(n_pos, 1)
    failures = []
    if limit is not None and max_abs > limit:
        failures.append(f"max |Δ logits| {max_abs:.3g} > {limit:g}")
    out = {"positions": n_pos, "max_abs_diff": max_abs, "mean_abs_diff": sum_abs / max(n_vals, 1),
           "top1_agreement": top1, "thresholds": {"max_abs_diff": limit, "top1_agreement": min_top1}}
    if kind in KLD_THRESHOLDS and ref_logits:
        max_mean, max_p99, noise = KLD_THRESHOLDS[kind]
        r = np.concatenate(ref_logits)
        g = np.concatenate(got_logits)
        lr, lg = _log_softmax(r), _log_softmax(g)
        kld = (np.exp(lr) * (lr - lg)).sum(-1)
        top2 = np.sort(r, -1)[:, -2:]
        confident = (top2[:, 1] - top2[:, 0]) > noise
        n_conf = int(confident.sum())
        conf_top1 = float((r.argmax(-1) == g.argmax(-1))[confident].mean()) if n_conf else 1.0
        out.update(kld_mean=float(kld.mean()), kld_p99=float(np.percentile(kld, 99)), kld_max=float(kld.max()),
                   confident_positions=n_conf, top1_agreement_confident=conf_top1)
        out["thresholds"].update(kld_mean=max_mean, kld_p99=max_p99, noise_margin=noise)
        if out["kld_mean"] > max_mean:
            failures.append(f"mean KL divergence {out['kld_mean']:.3g} > {max_mean:g}")
        if out["kld_p99"] > max_p99:
            failures.append(f"p99 KL divergence {out['kld_p99']:.3g} > {max_p99:g}")
        if conf_top1 < min_top1:
            failures.append(f"top-1 agreement where the reference margin > {noise:g}: {conf_top1:.2%} "
                            f"< {min_top1:.0%} ({n_conf} positions)")
    elif top1 < min_top1:
        failures.append(f"top-1 agreement {top1:.2%} < {min_top1:.0%}")
    out["failures"] = failures
    return out


class BackgroundReference:
    """The PyTorch reference computed in a child process while the exporter writes the artifact.

    Importing transformers and running the model is most of the cost of a parity check; in a child process
    it overlaps with the (single-threaded) GGUF writer instead of following it.  A plain subprocess (not
    multiprocessing) so no caller's ``__main__`` is ever re-imported.
    """

    def __init__(self, model_dir: Path):
        import subprocess
        import sys
        import tempfile

        self._tmp = Path(tempfile.mkdtemp(prefix="appliance-parity-"))
        self._out = self._tmp / "reference.npz"
        self._err = open(self._tmp / "stderr.log", "wb")  # noqa: SIM115 - lives as long as the child
        self._proc = subprocess.Popen([sys.executable, "-m", "appliance.export.parity", str(model_dir), str(self._out)],
                                      stdout=subprocess.DEVNULL, stderr=self._err)

    def result(self) -> dict:
        import shutil

        try:
            rc = self._proc.wait()
            self._err.close()
            if rc != 0 or not self._out.is_file():
                tail = (self._tmp / "stderr.log").read_text(errors="replace")[-1500:]
                raise IntegrityError(f"the PyTorch reference process failed (exit {rc})",
                                     hint="free memory and export again; re-run with -vv",
                                     details=[line for line in tail.splitlines() if line.strip()][-8:])
            return load_full_reference(self._out)[0]
        finally:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def cancel(self) -> None:
        import shutil

        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._err.close()
        shutil.rmtree(self._tmp, ignore_errors=True)


def llama_side(gguf_path: Path, prompts=PROMPTS) -> dict:
    """llama.cpp's own tokenization of every prompt and its logits on those ids (no PyTorch needed)."""
    # a token is at least one byte: the longest prompt in bytes (+ BOS/EOS) bounds the context parity needs
    llm = load_llama(gguf_path, n_ctx=max([PARITY_CTX] + [len(p.encode("utf-8")) + 4 for p in prompts]))
    try:
        # the runtime's own path: the tokenizer's Unicode form (if any) first, then llama.cpp's tokenizer
        ids = [list(llm.tokenize(prepare_text(llm, p).encode("utf-8"), add_bos=True, special=False))
               for p in prompts]
        extra = [list(llm.tokenize(prepare_text(llm, p).encode("utf-8"), add_bos=True, special=False))
                 for p in TOKENIZATION_ONLY]
        logits = [_llama_logits(llm, x) for x in ids]
    finally:
        llm.close()
    return {"ids": ids, "extra_ids": extra, "logits": logits}


def gguf_parity(model_dir: Path, gguf_path: Path, qtype: str, reference_out: Path | None = None,
                reference: dict | None = None, llama: dict | None = None) -> dict:
    """Compare ``gguf_path`` (llama.cpp) with ``model_dir`` (PyTorch); ``passed`` says whether it holds.

    Logits are only compared where both sides tokenized a prompt identically; any tokenization difference
    fails the check on its own.
    """
    llama_cpp = require_llama_cpp()
    got = llama if llama is not None else llama_side(gguf_path)
    ref = reference if reference is not None else torch_reference(model_dir)
    tok_mismatch = [{"prompt": i, "hf": a[:16], "llama_cpp": b[:16]}
                    for i, (a, b) in enumerate(zip(ref["ids"] + ref["extra_ids"], got["ids"] + got["extra_ids"]))
                    if a != b]
    same = [i for i in range(len(ref["ids"])) if ref["ids"][i] == got["ids"][i]]
    result = {"backend": "llama.cpp", "llama_cpp_python": llama_cpp.__version__, "type": qtype,
              "prompts": len(ref["prompts"]), "tokenization_identical": not tok_mismatch,
              "tokenization_mismatches": tok_mismatch,
              **compare_logits([ref["logits"][i] for i in same], [got["logits"][i] for i in same], qtype)}
    if tok_mismatch:
        result["failures"].insert(0, f"tokenization differs on {len(tok_mismatch)} prompt(s)")
    result["passed"] = not result["failures"]
    if reference_out is not None:
        save_reference(reference_out, ref)
    return result


def save_reference(path: Path, ref: dict) -> None:
    """Top-k logits per position + ids: enough to re-check parity later without the PyTorch model."""
    arrays = {}
    for i, (ids, lg) in enumerate(zip(ref["ids"], ref["logits"])):
        k = min(TOP_K_REFERENCE, lg.shape[-1])
        idx = np.argsort(-lg, axis=-1)[:, :k]
        arrays[f"ids_{i}"] = np.array(ids, dtype=np.int32)
        arrays[f"topk_idx_{i}"] = idx.astype(np.int32)
        arrays[f"topk_val_{i}"] = np.take_along_axis(lg, idx, -1).astype(np.float32)
    with open(path, "wb") as f:
        np.savez_compressed(f, **arrays)


def load_reference(path: Path) -> list[dict]:
    with np.load(path) as z:
        n = sum(1 for k in z.files if k.startswith("ids_"))
        return [{"ids": z[f"ids_{i}"].tolist(), "idx": z[f"topk_idx_{i}"], "val": z[f"topk_val_{i}"]}
                for i in range(n)]


def recheck_gguf(gguf_path: Path, reference: Path, qtype: str) -> dict:
    """Re-run llama.cpp on the stored prompt ids; compare with the stored PyTorch top-k logits."""
    refs = load_reference(reference)
    llm = load_llama(gguf_path, n_ctx=max([PARITY_CTX] + [len(r["ids"]) for r in refs]))
    try:
        got = [_llama_logits(llm, r["ids"]) for r in refs]
    finally:
        llm.close() if hasattr(llm, "close") else None
    return recheck_topk(refs, got, qtype)


def recheck_topk(refs: list[dict], got: list[np.ndarray], kind: str) -> dict:
    """Judge llama.cpp's logits against the stored top-k reference the way the export judged them: for the
    types with KLD limits, top-1 counted where the reference margin exceeds the type's noise and the KL
    divergence over the reference's top-k (both sides renormalised over those k tokens); else raw top-1."""
    max_abs, agree, n_pos = 0.0, 0, 0
    klds, conf_hits, n_conf = [], 0, 0
    noise = KLD_THRESHOLDS[kind][2] if kind in KLD_THRESHOLDS else None
    for r, g in zip(refs, got):
        idx = r["idx"].astype(np.int64)
        vals = np.take_along_axis(g, idx, -1)
        max_abs = max(max_abs, float(np.abs(vals - r["val"]).max()))
        hit = g.argmax(-1) == idx[:, 0]
        agree += int(hit.sum())
        n_pos += g.shape[0]
        if noise is not None:
            lr, lg = _log_softmax(r["val"].astype(np.float64)), _log_softmax(vals.astype(np.float64))
            klds.append((np.exp(lr) * (lr - lg)).sum(-1))
            confident = (r["val"][:, 0] - r["val"][:, 1]) > noise if r["val"].shape[1] > 1 else np.ones_like(hit)
            conf_hits += int(hit[confident].sum())
            n_conf += int(confident.sum())
    limit, min_top1 = THRESHOLDS[kind]
    top1 = agree / max(n_pos, 1)
    failures = []
    out = {"positions": n_pos, "max_abs_diff_topk": max_abs, "top1_agreement": top1}
    if limit is not None and max_abs > limit:
        failures.append(f"max |Δ logits| (top-{TOP_K_REFERENCE}) {max_abs:.3g} > {limit:g}")
    if noise is not None and klds:
        max_mean, max_p99, _ = KLD_THRESHOLDS[kind]
        kld = np.concatenate(klds)
        conf_top1 = conf_hits / n_conf if n_conf else 1.0
        out.update(kld_topk_mean=float(kld.mean()), kld_topk_p99=float(np.percentile(kld, 99)),
                   confident_positions=n_conf, top1_agreement_confident=conf_top1)
        if out["kld_topk_mean"] > max_mean:
            failures.append(f"mean KL divergence over the top-{TOP_K_REFERENCE} {out['kld_topk_mean']:.3g} > {max_mean:g}")
        if out["kld_topk_p99"] > max_p99:
            failures.append(f"p99 KL divergence over the top-{TOP_K_REFERENCE} {out['kld_topk_p99']:.3g} > {max_p99:g}")
        if conf_top1 < min_top1:
            failures.append(f"top-1 agreement where the reference margin > {noise:g}: {conf_top1:.2%} "
                            f"< {min_top1:.0%} ({n_conf} positions)")
    elif top1 < min_top1:
        failures.append(f"top-1 agreement {top1:.2%} < {min_top1:.0%}")
    return {**out, "failures": failures, "passed": not failures}


def raise_if_failed(result: dict, what: str, directory: Path | None) -> None:
    """IntegrityError when parity failed; ``directory`` is where the unsigned files were kept (None: removed)."""
    if not result.get("passed"):
        where = f"the artifact in {directory} is NOT signed" if directory is not None else "nothing was signed"
        hint = ("inspect parity.json there; do not ship this artifact" if directory is not None
                else "re-run with --keep-failed to keep the unsigned files and parity.json for inspection")
        raise IntegrityError(f"{what} parity failed; {where}", hint=hint,
                             details=result.get("failures", []))


if __name__ == "__main__":  # the BackgroundReference worker: python -m appliance.export.parity MODEL_DIR OUT.npz
    import sys

    save_full_reference(Path(sys.argv[2]), torch_reference(Path(sys.argv[1])))
