"""HF checkpoint → GGUF, written by the appliance itself on gguf-py (llama, qwen2, deepseek_v3 → deepseek2).

Two passes over the checkpoint's *metadata* and one over its data: first every output tensor is planned
(llama.cpp name, shape, GGML type) from safetensors headers alone; the header, key/values and tensor
infos are written; then tensors are loaded, transformed and written one at a time, so peak memory is one
tensor (one layer's expert stack for MoE), never a state-dict copy.

Transformations follow what llama.cpp's loaders expect (facts read from the vendored llama.cpp source):
- llama: q/k rows permuted from HF's rotate-half layout to llama.cpp's adjacent-pair rope; qwen2: none.
- deepseek2: per-expert matrices stacked into ``ffn_{gate,up,down}_exps`` ``[n_expert, out, in]``;
  ``kv_b_proj`` split into ``attn_k_b`` (transposed, ``[n_head, kv_lora_rank, qk_nope]``) and ``attn_v_b``
  (``[n_head, v_head, kv_lora_rank]``) for MLA with absorption; the router bias becomes ``exp_probs_b.bias``;
  MLA is MQA to llama.cpp, so ``head_count_kv = 1``.
- casts and Q8_0/Q4_0 blocks come from ggml's own C routines (:mod:`appliance.export.llama_runtime`), so no
  torch import is needed for an f32/f16 checkpoint; gguf.quants / torch are the fallback, byte for byte equal.
- norms, biases, the router and every 1-D tensor stay F32; quantized types fall back to F16 for a tensor
  whose rows are not a multiple of the block size.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from appliance.errors import UsageError
from appliance.export.gguf_vocab import add_vocab, read_vocab
from appliance.export.source import TensorReader

log = logging.getLogger(__name__)

#: ``--type`` values written directly (ggml's row casts/quantizers, else torch / gguf.quants); K-quants go
#: through llama.cpp's quantizer (:func:`appliance.export.llama_runtime.quantize`)
NUMPY_TYPES = ("f32", "f16", "bf16", "q8_0", "q4_0")


@dataclass
class _Planned:
    name: str
    shape: tuple[int, ...]  # numpy order (outermost first)
    load: Callable[[], np.ndarray]
    keep_f32: bool = False


def _ggml_types():
    import gguf

    T = gguf.GGMLQuantizationType
    F = gguf.LlamaFileType
    return {
        "f32": (T.F32, F.ALL_F32), "f16": (T.F16, F.MOSTLY_F16), "bf16": (T.BF16, F.MOSTLY_BF16),
        "q8_0": (T.Q8_0, F.MOSTLY_Q8_0), "q4_0": (T.Q4_0, F.MOSTLY_Q4_0),
    }


def _permute_rope(w: np.ndarray, n_head: int) -> np.ndarray:
    """HF rotate-half row order → llama.cpp adjacent-pair order, per head (rows = n_head × head_dim)."""
    shape = w.shape
    hd = shape[0] // n_head
    return w.reshape(n_head, 2, hd // 2, *shape[1:]).swapaxes(1, 2).reshape(shape)


def _permute_rope_tail(w: np.ndarray, n_head: int, head_dim: int, rope_dim: int) -> np.ndarray:
    """Like :func:`_permute_rope` but only on the last ``rope_dim`` rows of each head (DeepSeek q/k_pe)."""
    rest = w.shape[1:]
    v = w.reshape(n_head, head_dim, *rest).copy()
    tail = v[:, head_dim - rope_dim:]
    v[:, head_dim - rope_dim:] = tail.reshape(n_head, 2, rope_dim // 2, *rest).swapaxes(1, 2).reshape(tail.shape)
    return v.reshape(w.shape)


class _Plan:
    def __init__(self, reader: TensorReader, cfg: dict):
        self.r = reader
        self.cfg = cfg
        self.items: list[_Planned] = []
        self.used: set[str] = set()

    def direct(self, hf: str, out: str, fn: Callable[[np.ndarray], np.ndarray] | None = None,
               keep_f32: bool = False, shape: tuple[int, ...] | None = None) -> None:
        r = self.r
        self.used.add(hf)
        load = (lambda: fn(r.get(hf))) if fn else (lambda: r.get(hf))
        self.items.append(_Planned(out, shape or r.shape(hf), load, keep_f32 or len(r.shape(hf)) == 1))


def _rope_theta(cfg: dict) -> float:
    rp = cfg.get("rope_parameters") or cfg.get("rope_scaling") or {}
    rtype = rp.get("rope_type") or rp.get("type") or "default"
    if rtype != "default":
        raise UsageError(f"rope type {rtype!r} is not supported by the GGUF exporter",
                         hint="export models trained with the default rope")
    return float(rp.get("rope_theta", cfg.get("rope_theta", 10000.0)))


def _common_metadata(w, cfg: dict, arch: str) -> None:
    w.add_context_length(int(cfg.get("max_position_embeddings", 2048)))
    w.add_embedding_length(int(cfg["hidden_size"]))
    w.add_block_count(int(cfg["num_hidden_layers"]))
    w.add_feed_forward_length(int(cfg["intermediate_size"]))
    w.add_head_count(int(cfg["num_attention_heads"]))
    w.add_layer_norm_rms_eps(float(cfg.get("rms_norm_eps", 1e-6)))
    w.add_rope_freq_base(_rope_theta(cfg))
    w.add_vocab_size(int(cfg["vocab_size"]))


def _plan_dense(plan: _Plan, w, cfg: dict, arch: str) -> None:
    """llama and qwen2: one attention + one MLP per block, tensor names via gguf's TensorNameMap."""
    import gguf

    n_head = int(cfg["num_attention_heads"])
    n_kv = int(cfg.get("num_key_value_heads") or n_head)
    head_dim = int(cfg.get("head_dim") or cfg["hidden_size"] // n_head)
    _common_metadata(w, cfg, arch)
    w.add_head_count_kv(n_kv)
    w.add_rope_dimension_count(head_dim)
    if head_dim != cfg["hidden_size"] // n_head:
        w.add_key_length(head_dim)
        w.add_value_length(head_dim)
    tmap = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA if arch == "llama" else gguf.MODEL_ARCH.QWEN2,
                                    int(cfg["num_hidden_layers"]))
    for hf in plan.r.names():
        if hf == "lm_head.weight" and cfg.get("tie_word_embeddings"):
            plan.used.add(hf)  # llama.cpp reuses token_embd when output.weight is absent
            continue
        if "rotary_emb.inv_freq" in hf:
            plan.used.add(hf)
            continue
        out = tmap.get_name(hf, try_suffixes=(".weight", ".bias"))
        if out is None:
            continue
        fn = None
        if arch == "llama" and re.search(r"self_attn\.q_proj\.(weight|bias)$", hf):
            fn = lambda a: _permute_rope(a, n_head)
        elif arch == "llama" and re.search(r"self_attn\.k_proj\.(weight|bias)$", hf):
            fn = lambda a: _permute_rope(a, n_kv)
        plan.direct(hf, out, fn)


def _plan_deepseek(plan: _Plan, w, cfg: dict) -> None:
    """deepseek_v3 → llama.cpp ``deepseek2``: MLA tensors, MoE expert stacks, router bias."""
    import gguf

    r = plan.r
    n_layer = int(cfg["num_hidden_layers"])
    n_head = int(cfg["num_attention_heads"])
    nope, rope, v_dim = int(cfg["qk_nope_head_dim"]), int(cfg["qk_rope_head_dim"]), int(cfg["v_head_dim"])
    kv_rank = int(cfg["kv_lora_rank"])
    q_rank = cfg.get("q_lora_rank")
    n_exp = int(cfg.get("n_routed_experts") or 0)
    first_dense = int(cfg.get("first_k_dense_replace", n_layer if not n_exp else 0))
    n_group = int(cfg.get("n_group") or 1)

    _common_metadata(w, cfg, "deepseek2")
    w.add_head_count_kv(1)  # MLA runs as MQA over the compressed latent in llama.cpp
    w.add_leading_dense_block_count(first_dense)
    w.add_q_lora_rank(int(q_rank or 0))  # required by llama.cpp's loader even when there is no q LoRA
    w.add_kv_lora_rank(kv_rank)
    w.add_key_length(kv_rank + rope)
    w.add_value_length(kv_rank)
    w.add_key_length_mla(nope + rope)
    w.add_value_length_mla(v_dim)
    w.add_rope_dimension_count(rope)
    w.add_expert_feed_forward_length(int(cfg.get("moe_intermediate_size") or cfg["intermediate_size"]))
    w.add_expert_shared_count(int(cfg.get("n_shared_experts") or 0))
    if n_exp:
        w.add_expert_count(n_exp)
        w.add_expert_used_count(int(cfg["num_experts_per_tok"]))
        w.add_expert_weights_scale(float(cfg.get("routed_scaling_factor", 1.0)))
        w.add_expert_weights_norm(bool(cfg.get("norm_topk_prob", False)))
        # DeepSeek-V3 scores experts with a sigmoid (V2 used softmax)
        w.add_expert_gating_func(gguf.ExpertGatingFuncType.SIGMOID)
        if n_group > 1:
            w.add_expert_group_count(n_group)
            w.add_expert_group_used_count(int(cfg["topk_group"]))
    # HF applies rope to an interleaved layout when rope_interleave is set, which is llama.cpp's own order
    needs_rope_perm = not cfg.get("rope_interleave", True)

    tmap = gguf.get_tensor_name_map(gguf.MODEL_ARCH.DEEPSEEK2, n_layer)
    for hf in r.names():
        m = re.match(r"model\.layers\.(\d+)\.", hf)
        bid = int(m.group(1)) if m else None
        if bid is not None and bid >= n_layer:  # multi-token-prediction layers: not used for inference
            plan.used.add(hf)
            continue
        if hf == "lm_head.weight" and cfg.get("tie_word_embeddings"):
            plan.used.add(hf)
            continue
        if ".mlp.experts." in hf:
            continue  # stacked below, once per layer
        if hf.endswith("self_attn.kv_b_proj.weight"):
            _plan_kv_b(plan, hf, bid, n_head, nope, v_dim, kv_rank)
            continue
        if hf.endswith("mlp.gate.e_score_correction_bias"):
            plan.direct(hf, f"blk.{bid}.exp_probs_b.bias", keep_f32=True)
            continue
        out = tmap.get_name(hf, try_suffixes=(".weight", ".bias"))
        if out is None:
            continue
        fn = None
        if needs_rope_perm and re.search(r"self_attn\.(q_proj|q_b_proj)\.weight$", hf):
            fn = lambda a: _permute_rope_tail(a, n_head, nope + rope, rope)
        elif needs_rope_perm and hf.endswith("kv_a_proj_with_mqa.weight"):
            fn = lambda a: np.concatenate([a[:kv_rank], _permute_rope(a[kv_rank:], 1)])
        plan.direct(hf, out, fn, keep_f32=out.endswith("ffn_gate_inp.weight"))
    for bid in range(first_dense, n_layer):
        _plan_experts(plan, bid, n_exp)


def _plan_kv_b(plan: _Plan, hf: str, bid: int, n_head: int, nope: int, v_dim: int, kv_rank: int) -> None:
    r = plan.r
    plan.used.add(hf)
    if r.shape(hf) != (n_head * (nope + v_dim), kv_rank):
        raise UsageError(f"{hf} has shape {r.shape(hf)}, expected {(n_head * (nope + v_dim), kv_rank)}")

    def split(i: int) -> np.ndarray:
        kv_b = r.get(hf).reshape(n_head, nope + v_dim, kv_rank)
        if i == 0:
            return np.ascontiguousarray(kv_b[:, :nope, :].transpose(0, 2, 1))  # [n_head, kv_rank, nope]
        return np.ascontiguousarray(kv_b[:, nope:, :])  # [n_head, v_dim, kv_rank]

    plan.items.append(_Planned(f"blk.{bid}.attn_k_b.weight", (n_head, kv_rank, nope), lambda: split(0)))
    plan.items.append(_Planned(f"blk.{bid}.attn_v_b.weight", (n_head, v_dim, kv_rank), lambda: split(1)))


def _plan_experts(plan: _Plan, bid: int, n_exp: int) -> None:
    """``experts.{x}.{gate,up,down}_proj`` (or fused ``gate_up_proj``/``down_proj``) → ``[n_exp, out, in]``."""
    r = plan.r
    pre = f"model.layers.{bid}.mlp.experts"
    fused_gu, fused_down = f"{pre}.gate_up_proj", f"{pre}.down_proj"
    if fused_gu in r:  # transformers' fused layout: gate_up [E, 2I, H], down [E, H, I]
        plan.used.update({fused_gu, fused_down})
        e, two_i, h = r.shape(fused_gu)
        i = two_i // 2
        plan.items.append(_Planned(f"blk.{bid}.ffn_gate_exps.weight", (e, i, h), lambda: r.get(fused_gu)[:, :i]))
        plan.items.append(_Planned(f"blk.{bid}.ffn_up_exps.weight", (e, i, h), lambda: r.get(fused_gu)[:, i:]))
        plan.items.append(_Planned(f"blk.{bid}.ffn_down_exps.weight", tuple(r.shape(fused_down)),
                                   lambda: r.get(fused_down)))
        return
    for proj, out in (("gate_proj", "ffn_gate_exps"), ("up_proj", "ffn_up_exps"), ("down_proj", "ffn_down_exps")):
        names = [f"{pre}.{x}.{proj}.weight" for x in range(n_exp)]
        missing = [n for n in names if n not in r]
        if missing:
            raise UsageError(f"checkpoint lacks expert tensors, e.g. {missing[0]}")
        plan.used.update(names)
        shape = (n_exp, *r.shape(names[0]))
        plan.items.append(_Planned(f"blk.{bid}.{out}.weight", shape,
                                   lambda names=names: np.stack([r.get(n) for n in names])))


def _out_type(item: _Planned, qtype: str):
    import gguf

    T = gguf.GGMLQuantizationType
    target = _ggml_types()[qtype][0]
    if item.keep_f32 or len(item.shape) == 1 or target == T.F32:
        return T.F32
    if target in (T.F16, T.BF16):
        return target
    block = gguf.GGML_QUANT_SIZES[target][0]
    return target if item.shape[-1] % block == 0 else T.F16


def _nbytes(shape: tuple[int, ...], t) -> int:
    import gguf

    block, size = gguf.GGML_QUANT_SIZES[t]
    return int(np.prod(shape[:-1], dtype=np.int64)) * (shape[-1] // block) * size


def _convert(a: np.ndarray, t) -> np.ndarray:
    import gguf

    T = gguf.GGMLQuantizationType
    a = np.ascontiguousarray(a, dtype=np.float32)
    if t == T.F32:
        return a
    if t in (T.F16, T.BF16):
        # ggml's SIMD row cast (llama_runtime), else torch's vectorised cast (2-5x numpy's); both
        # round to nearest even, so the bytes are the same whichever runs.
        from appliance.export.llama_runtime import half_cast

        out = half_cast(a, bf16=t == T.BF16)
        if out is not None:
            return out
        import torch

        if t == T.F16:
            return torch.from_numpy(a).to(torch.float16).numpy()
        return torch.from_numpy(a).to(torch.bfloat16).view(torch.int16).numpy()
    from appliance.export.llama_runtime import quantize_rows

    block, size = gguf.GGML_QUANT_SIZES[t]
    out = quantize_rows(a, t.name, a.shape[-1] // block * size)
    return out if out is not None else gguf.quants.quantize(a, t)


def write_gguf(model_dir: Path, out_path: Path, qtype: str, cfg: dict, *, name: str = "appliance-model") -> dict:
    """Write ``model_dir`` as a GGUF file of type ``qtype``; returns a summary (tensor count, bytes, types)."""
    import gguf

    if qtype not in NUMPY_TYPES:
        raise UsageError(f"unknown GGUF type {qtype!r}", hint=f"choose one of {', '.join(NUMPY_TYPES)}, q4_k_m")
    model_type = cfg["model_type"]
    arch = {"llama": "llama", "qwen2": "qwen2", "deepseek_v3": "deepseek2"}[model_type]
    vocab = read_vocab(model_dir, int(cfg["vocab_size"]))
    w = gguf.GGUFWriter(str(out_path), arch)
    counts: dict[str, int] = {}
    try:
        with TensorReader(model_dir) as reader:
            plan = _Plan(reader, cfg)
            w.add_name(name)
            if arch == "deepseek2":
                _plan_deepseek(plan, w, cfg)
            else:
                _plan_dense(plan, w, cfg, arch)
            unused = [n for n in reader.names() if n not in plan.used]
            if unused:
                raise UsageError(f"{len(unused)} checkpoint tensors have no GGUF mapping, e.g. {unused[0]}",
                                 hint="the checkpoint does not match its config.json architecture")
            w.add_file_type(int(_ggml_types()[qtype][1]))
            w.add_quantization_version(gguf.GGML_QUANT_VERSION)
            add_vocab(w, vocab)
            types = [_out_type(it, qtype) for it in plan.items]
            for it, t in zip(plan.items, types):
                w.add_tensor_info(it.name, it.shape, np.dtype(np.float32), _nbytes(it.shape, t), raw_dtype=t)
            w.write_header_to_file()
            w.write_kv_data_to_file()
            w.write_ti_data_to_file()
            for it, t in zip(plan.items, types):
                data = _convert(it.load(), t)
                if data.nbytes != _nbytes(it.shape, t):
                    raise UsageError(f"internal: {it.name} came out as {data.nbytes} bytes, planned "
                                     f"{_nbytes(it.shape, t)}")
                w.write_tensor_data(data)
                counts[t.name] = counts.get(t.name, 0) + 1
                del data
    finally:
        w.close()
    return {"arch": arch, "tensors": len(plan.items), "tensor_types": counts, "bytes": out_path.stat().st_size,
            "tokenizer_pre": vocab.pre, "add_bos": vocab.add_bos, "n_vocab": len(vocab.tokens)}
