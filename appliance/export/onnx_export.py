"""``appliance export onnx``: the model as an ONNX graph with explicit KV-cache inputs and outputs.

``torch.onnx.export(dynamo=True)`` traces a small wrapper whose inputs are ``input_ids``, ``attention_mask``
and flat ``past_key_values.{i}.{key,value}`` tensors (rebuilt into a ``DynamicCache`` inside the wrapper),
and whose outputs are ``logits`` and ``present.{i}.{key,value}`` — the layout onnxruntime-genai and Triton
expect.  Batch, sequence, past and total lengths are dynamic; a prefill is a call with a past of length 0.
Cache tensor shapes are whatever the HF model caches (for DeepSeek-V3 that is MLA's compressed latent),
probed from one forward pass rather than assumed.

Parity is checked in onnxruntime (CPU) against PyTorch for a prefill and one decode step on fixed prompts
and written to ``parity.json``; the top-k reference is kept for ``appliance verify --parity``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from appliance.errors import IntegrityError, MissingComponent
from appliance.home import Home

log = logging.getLogger(__name__)

MODEL_FILE = "model.onnx"
_EXTERNAL_DATA_BYTES = 1 << 30  # protobuf cannot hold > 2 GB; keep big weights in model.onnx.data


def _load_torch_model(model_dir: Path, cfg: dict):
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    kwargs: dict[str, Any] = {}
    if cfg.get("n_routed_experts"):
        # the default grouped_mm experts kernel is a custom op with no ONNX translation; batched_mm is plain
        # gathers and matmuls, numerically the same routing
        kwargs["experts_implementation"] = "batched_mm"
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32, local_files_only=True,
                                                 **kwargs)
    return model.eval()


def _wrapper(model, n_layers: int):
    import torch
    from transformers import DynamicCache

    class KVWrapper(torch.nn.Module):
        """Flat past tensors in, logits + flat present tensors out."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, *past):
            cache = DynamicCache(config=self.model.config)
            for i in range(n_layers):
                cache.update(past[2 * i], past[2 * i + 1], i)
            out = self.model(input_ids=input_ids, attention_mask=attention_mask, past_key_values=cache,
                             use_cache=True)
            flat = []
            for layer in out.past_key_values.layers:
                flat += [layer.keys, layer.values]
            return (out.logits, *flat)

    return KVWrapper().eval()


def io_names(n_layers: int) -> tuple[list[str], list[str]]:
    kv = [f"{i}.{t}" for i in range(n_layers) for t in ("key", "value")]
    return ["input_ids", "attention_mask"] + [f"past_key_values.{n}" for n in kv], \
        ["logits"] + [f"present.{n}" for n in kv]


def _cache_shapes(model) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    import torch

    with torch.no_grad():
        out = model(torch.tensor([[1, 2]]), use_cache=True)
    return [(tuple(layer.keys.shape), tuple(layer.values.shape)) for layer in out.past_key_values.layers]


def write_onnx(model, path: Path, opset: int = 18) -> dict:
    """Export ``model`` (HF causal LM, eval) to ``path``; returns the I/O description."""
    import torch

    shapes = _cache_shapes(model)
    n_layers = len(shapes)
    b, s, p = 2, 4, 3
    past = []
    for kshape, vshape in shapes:
        past += [torch.randn(b, kshape[1], p, kshape[3]), torch.randn(b, vshape[1], p, vshape[3])]
    ids = torch.randint(0, int(model.config.vocab_size), (b, s))
    mask = torch.ones(b, p + s, dtype=torch.long)
    batch = torch.export.Dim("batch", min=1, max=256)
    seq = torch.export.Dim("seq", min=1, max=65536)
    past_len = torch.export.Dim("past", min=1, max=65536)  # 0 works at run time (prefill)
    total = torch.export.Dim("total", min=2, max=131072)
    dynamic = {"input_ids": {0: batch, 1: seq}, "attention_mask": {0: batch, 1: total},
               "past": tuple({0: batch, 2: past_len} for _ in past)}
    in_names, out_names = io_names(n_layers)
    n_bytes = sum(p.numel() * 4 for p in model.parameters())
    wrapper = _wrapper(model, n_layers)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tracing is single-threaded work; an oversubscribed pool only slows it down
    chatter = io.StringIO()  # the exporter prints progress to stdout, which belongs to --json output
    try:
        with contextlib.redirect_stdout(chatter), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(wrapper, (ids, mask, *past), str(path), dynamo=True, dynamic_shapes=dynamic,
                              input_names=in_names, output_names=out_names, opset_version=opset,
                              external_data=n_bytes > _EXTERNAL_DATA_BYTES, optimize=True, verify=False,
                              report=False)
    finally:
        torch.set_num_threads(threads)
        log.debug("torch.onnx: %s", chatter.getvalue())
    return {"opset": opset, "inputs": in_names, "outputs": out_names, "n_layers": n_layers,
            "cache_shapes": [{"key": ["batch", k[1], "past", k[3]], "value": ["batch", v[1], "past", v[3]]}
                             for k, v in shapes], "dtype": "float32", "torch": torch.__version__}


def _session(path: Path):
    try:
        import onnxruntime as ort
    except ImportError:
        raise MissingComponent("onnxruntime is not installed", hint="install the onnxruntime wheel") from None
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def _run(sess, facts: dict, ids: list[int], past: list[np.ndarray] | None, total: int) -> list[np.ndarray]:
    feeds = {"input_ids": np.array([ids], dtype=np.int64), "attention_mask": np.ones((1, total), dtype=np.int64)}
    names = facts["inputs"][2:]
    if past is None:
        past = []
        for cs in facts["cache_shapes"]:
            for t in ("key", "value"):
                _, h, _, d = cs[t]
                past.append(np.zeros((1, h, 0, d), dtype=np.float32))
    feeds.update(dict(zip(names, past)))
    return sess.run(None, feeds)


def _onnx_logits(sess, facts: dict, prompt_ids: list[int], next_id: int) -> np.ndarray:
    """Logits for every prompt position (prefill, past 0) plus one decode step fed ``next_id``."""
    out = _run(sess, facts, prompt_ids, None, len(prompt_ids))
    dec = _run(sess, facts, [next_id], out[1:], len(prompt_ids) + 1)
    return np.concatenate([out[0][0], dec[0][0]], axis=0)


def onnx_parity(model, model_dir: Path, path: Path, facts: dict, reference_out: Path | None) -> dict:
    """PyTorch vs onnxruntime on the fixed prompts: prefill logits and one decode step."""
    import onnxruntime as ort
    import torch
    from transformers import PreTrainedTokenizerFast

    from appliance.export.parity import PROMPTS, THRESHOLDS, compare_logits, save_reference

    tok = PreTrainedTokenizerFast.from_pretrained(str(model_dir), local_files_only=True)
    sess = _session(path)
    ref_logits, got_logits, all_ids = [], [], []
    prefill_max = decode_max = 0.0
    with torch.no_grad():
        for p in PROMPTS:
            ids = list(map(int, tok(p, add_special_tokens=True)["input_ids"]))
            full = model(torch.tensor([ids])).logits[0].numpy()
            nxt = int(full[-1].argmax())
            ref = np.concatenate([full, model(torch.tensor([ids + [nxt]])).logits[0, -1:].numpy()], axis=0)
            got = _onnx_logits(sess, facts, ids, nxt)
            prefill_max = max(prefill_max, float(np.abs(ref[:-1] - got[:-1]).max()))
            decode_max = max(decode_max, float(np.abs(ref[-1] - got[-1]).max()))
            ref_logits.append(ref)
            got_logits.append(got)
            all_ids.append(ids + [nxt])
    result = {"backend": "onnxruntime", "onnxruntime": ort.__version__, "provider": "CPUExecutionProvider",
              "type": "onnx-f32", "prompts": len(PROMPTS), "prefill_max_abs_diff": prefill_max,
              "decode_max_abs_diff": decode_max, **compare_logits(ref_logits, got_logits, "onnx-f32")}
    result["thresholds"] = {"max_abs_diff": THRESHOLDS["onnx-f32"][0], "top1_agreement": THRESHOLDS["onnx-f32"][1]}
    result["passed"] = not result["failures"]
    if reference_out is not None:
        save_reference(reference_out, {"ids": all_ids, "logits": ref_logits})
    return result


def recheck_onnx(directory: Path, reference: Path, manifest: dict) -> dict:
    """Re-run onnxruntime on the stored prompt ids (prefill + decode) against the stored top-k logits."""
    from appliance.export.parity import load_reference, recheck_topk

    facts = manifest.get("onnx") or {}
    sess = _session(directory / MODEL_FILE)
    refs = load_reference(reference)
    got = [_onnx_logits(sess, facts, r["ids"][:-1], r["ids"][-1]) for r in refs]
    return recheck_topk(refs, got, "onnx-f32")


def check_onnx_structure(directory: Path, facts: dict) -> dict:
    """``onnx.checker`` on the model and its I/O names against the manifest; raises IntegrityError."""
    import onnx

    path = directory / MODEL_FILE
    try:
        onnx.checker.check_model(str(path))
        m = onnx.load(str(path), load_external_data=False)
    except Exception as e:  # noqa: BLE001 - checker/protobuf raise assorted errors on a damaged file
        raise IntegrityError(f"{MODEL_FILE} is not a valid ONNX model ({type(e).__name__}: {str(e)[:200]})",
                             hint="do not use this artifact; re-export it") from None
    ins = [i.name for i in m.graph.input]
    outs = [o.name for o in m.graph.output]
    problems = []
    if ins != facts.get("inputs"):
        problems.append(f"inputs {ins[:4]}… differ from the manifest")
    if outs != facts.get("outputs"):
        problems.append(f"outputs {outs[:4]}… differ from the manifest")
    if problems:
        raise IntegrityError(f"{MODEL_FILE} does not have the structure recorded at export", details=problems)
    return {"inputs": len(ins), "outputs": len(outs), "opset": max((o.version for o in m.opset_import), default=0)}


def export_onnx(model: str, *, home: Home | None, signer: Any, out_dir: Path | None = None, opset: int = 18,
                parity: bool = True) -> dict:
    """Export ``model`` (registry version or HF dir) as a signed ONNX artifact; returns its manifest."""
    import onnx

    from appliance.export.artifact import (
        PARITY_FILE,
        REFERENCE_FILE,
        ArtifactBuilder,
        registry_facts,
        source_facts,
        write_json,
    )
    from appliance.export.gguf_export import parity_summary, audit_export
    from appliance.export.parity import raise_if_failed
    from appliance.export.source import resolve_source

    src = resolve_source(model, home)
    name = src.version or src.path.name
    b = None
    try:
        b = ArtifactBuilder("onnx", "f32", name, out_dir=out_dir, home=home)
        torch_model = _load_torch_model(src.path, src.config)
        facts = write_onnx(torch_model, b.path(MODEL_FILE), opset)
        facts["onnx"] = onnx.__version__
        facts["model_type"] = src.model_type
        result = None
        if parity:
            result = onnx_parity(torch_model, src.path, b.path(MODEL_FILE), facts, b.path(REFERENCE_FILE))
            write_json(b.path(PARITY_FILE), result)
            if not result["passed"]:
                audit_export(home, "export.onnx", {"source": name, "failures": result["failures"]}, signer,
                             outcome="failed")
            raise_if_failed(result, "ONNX", b.staging)
        for tok_file in ("tokenizer.json", "tokenizer_config.json", "config.json"):
            if (src.path / tok_file).is_file():  # servers need the tokenizer next to the graph
                b.path(tok_file).write_bytes((src.path / tok_file).read_bytes())
        manifest = b.finish(signer=signer, source=source_facts(src), registry=registry_facts(home, src.version),
                            format_facts=facts, parity=parity_summary(result))
    except BaseException as e:
        if b is not None and not isinstance(e, IntegrityError):
            b.abandon()  # a failed parity keeps its staging directory for inspection; nothing else does
        raise
    finally:
        src.cleanup()
    audit_export(home, "export.onnx", {"artifact": manifest["artifact_id"], "source": name,
                                       "model_sha256": manifest["files"][MODEL_FILE]["sha256"],
                                       "parity_passed": bool(result and result["passed"])}, signer)
    return manifest
