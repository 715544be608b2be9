"""GGUF export: each architecture × {f32, q8_0} loads in llama.cpp with parity inside the thresholds."""

from __future__ import annotations

import json

import pytest

from appliance.errors import IntegrityError
from appliance.export.parity import THRESHOLDS

pytestmark = pytest.mark.llamacpp
llama_cpp = pytest.importorskip("llama_cpp")


@pytest.mark.parametrize("qtype", ["f32", "q8_0"])
@pytest.mark.parametrize("arch", ["llama", "qwen2", "deepseek_v3"])
def test_gguf_parity(arch, qtype, tiny_models, site, tmp_path):
    from appliance.export import export_gguf

    home, keys = site
    m = export_gguf(str(tiny_models(arch)), qtype, home=home, signer=keys.signer, out_dir=tmp_path / "a")
    parity = json.loads((tmp_path / "a" / "parity.json").read_text())
    assert parity["passed"] and parity["tokenization_identical"], parity
    limit, min_top1 = THRESHOLDS[qtype]
    assert parity["top1_agreement"] >= min_top1
    if limit is not None:
        assert parity["max_abs_diff"] <= limit
    assert parity["positions"] > 100
    expected_arch = {"llama": "llama", "qwen2": "qwen2", "deepseek_v3": "deepseek2"}[arch]
    assert m["gguf"]["arch"] == expected_arch
    types = {t for _, t in m["gguf"]["tensors"].values()}
    if qtype == "f32":
        assert types == {"F32"}
    else:  # rows that are not a multiple of 32 (DeepSeek's small MLA ranks) fall back to F16
        assert "Q8_0" in types and types <= {"F32", "Q8_0", "F16"}
    # norms stay F32 whatever the type
    assert all(t == "F32" for n, (_, t) in m["gguf"]["tensors"].items() if n.endswith("norm.weight"))
    if arch == "deepseek_v3":
        names = set(m["gguf"]["tensors"])
        assert {"blk.1.ffn_gate_exps.weight", "blk.1.exp_probs_b.bias", "blk.0.attn_k_b.weight",
                "blk.0.attn_v_b.weight", "blk.0.attn_kv_a_mqa.weight", "blk.0.attn_q_a.weight",
                "blk.0.attn_q_a_norm.weight", "blk.0.attn_q_b.weight"} <= names
        t = m["gguf"]["tensors"]
        assert t["blk.1.ffn_down_exps.weight"][0] == [32, 64, 4]  # ggml order: in, out, expert
        assert t["blk.0.attn_k_b.weight"][0] == [8, 16, 4]  # qk_nope, kv_lora_rank, heads
        assert t["blk.0.attn_v_b.weight"][0] == [16, 16, 4]  # kv_lora_rank, v_head_dim, heads


def test_wrong_rope_layout_fails_parity(tiny_models, site, tmp_path, monkeypatch):
    """The check can fail: leave llama's q/k rows in HF order and parity must refuse to sign (exit 3)."""
    from appliance.export import export_gguf, gguf_writer

    home, keys = site
    monkeypatch.setattr(gguf_writer, "_permute_rope", lambda w, n_head: w)
    with pytest.raises(IntegrityError) as ei:
        export_gguf(str(tiny_models("llama")), "f32", home=home, signer=keys.signer, out_dir=tmp_path / "bad",
                    keep_failed=True)
    assert ei.value.exit_code == 3
    assert not (tmp_path / "bad" / "model.sig").exists()
    staged = tmp_path / ".bad.partial"
    assert json.loads((staged / "parity.json").read_text())["passed"] is False
    # without --keep-failed nothing of the failed export is left behind
    with pytest.raises(IntegrityError):
        export_gguf(str(tiny_models("llama")), "f32", home=home, signer=keys.signer, out_dir=tmp_path / "bad2")
    assert not (tmp_path / ".bad2.partial").exists() and not (tmp_path / "bad2" / "model.sig").exists()


def test_q4_k_m_through_llama_cpp_quantizer(tiny_models, site, tmp_path):
    from appliance.export import export_gguf

    home, keys = site
    m = export_gguf(str(tiny_models("llama")), "q4_k_m", home=home, signer=keys.signer, out_dir=tmp_path / "k")
    assert m["parity"]["passed"]
    assert not any(p.name.endswith(".tmp") for p in (tmp_path / "k").iterdir())
    assert m["gguf"]["tensors"]  # read back after llama.cpp rewrote the file


def test_registry_version_export_is_audited_and_lands_in_home(tiny_models, site):
    """``--model VERSION``: resolved (and verified) through the registry; the manifest carries the version."""
    from appliance.audit import read_entries
    from appliance.export import export_gguf
    from appliance.registry import import_model

    home, keys = site
    version = import_model(home, keys, tiny_models("qwen2"), name="tiny-qwen2")
    m = export_gguf(version, "f32", home=home, signer=keys.signer)
    assert m["path"].startswith(str(home.artifacts_dir))
    assert m["registry"]["version"] == version and m["registry"]["manifest_sha256"]
    assert "data_manifest_sha256" in m["registry"]
    entries = [e for e in read_entries(home) if e["action"] == "export.gguf"]
    assert any(e["object"].get("artifact") == m["artifact_id"] for e in entries)


def test_tokenizer_that_adds_bos(tiny_models, site, tmp_path):
    """BOS added by the tokenizer's post-processor must be added by llama.cpp too (add_bos_token=true)."""
    from appliance.export import export_gguf

    home, keys = site
    m = export_gguf(str(tiny_models("qwen2", "bos")), "f32", home=home, signer=keys.signer, out_dir=tmp_path / "b")
    assert m["gguf"]["add_bos"] is True
    parity = json.loads((tmp_path / "b" / "parity.json").read_text())
    assert parity["tokenization_identical"] and parity["passed"], parity


def test_lora_adapter_is_merged_first(tiny_models, site, tmp_path):
    """A LoRA version (adapter_config.json) is merged with peft before export; parity is against the merge."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from appliance.export import export_gguf

    base = tiny_models("llama")
    torch.manual_seed(3)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(str(base)),
                           LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    adapter = tmp_path / "adapter"
    model.save_pretrained(adapter)
    cfg = json.loads((adapter / "adapter_config.json").read_text())
    assert cfg["base_model_name_or_path"] == str(base)
    home, keys = site
    m = export_gguf(str(adapter), "f32", home=home, signer=keys.signer, out_dir=tmp_path / "lora")
    assert m["source"]["merged_from_lora"] is True
    assert m["parity"]["passed"] and m["parity"]["max_abs_diff"] <= 1e-3
    plain = export_gguf(str(base), "f32", home=home, signer=keys.signer, out_dir=tmp_path / "plain")
    assert plain["files"]["model.gguf"]["sha256"] != m["files"]["model.gguf"]["sha256"]


def test_cli_export_gguf_json(tiny_models, site, site_passphrase_file, tmp_path, cli):
    home, _ = site
    out = tmp_path / "cli-art"
    p = cli("export", "gguf", "--model", str(tiny_models("llama")), "--type", "q8_0", "-o", str(out),
            "--passphrase-file", str(site_passphrase_file), "--json", home=home)
    assert p.returncode == 0, p.stderr[-2000:]
    m = json.loads(p.stdout)
    assert m["parity"]["passed"] and m["kind"] == "gguf" and m["format"] == "q8_0"
    assert {"model.gguf", "manifest.json", "model.sig", "parity.json"} <= {f.name for f in out.iterdir()}
    v = cli("verify", str(out), "--json", home=home)
    assert v.returncode == 0, v.stderr


def test_cli_wrong_passphrase_leaves_nothing(tiny_models, site, tmp_path, cli):
    """The passphrase is read after the PyTorch reference process starts (its key derivation overlaps it): a
    wrong one still exits with the keyring's error, and leaves no artifact, no .partial and no reference child."""
    import subprocess

    home, _ = site
    out = tmp_path / "cli-wrong"
    wrong = tmp_path / "wrong-passphrase"
    wrong.write_text("not the passphrase\n")
    p = cli("export", "gguf", "--model", str(tiny_models("llama")), "--type", "f32", "-o", str(out),
            "--passphrase-file", str(wrong), home=home)
    assert p.returncode == 5 and "wrong passphrase" in p.stderr, p.stderr[-2000:]
    assert not out.exists()
    assert not list(tmp_path.glob("**/*.partial"))
    left = subprocess.run(["pgrep", "-f", "appliance.export.parity"], capture_output=True, text=True).stdout
    assert not left.strip(), left


def test_lora_merge_keeps_tokenizer_bytes(tiny_models, tmp_path):
    """The merged copy carries the user's tokenizer files byte for byte (never re-saved by transformers)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from appliance._internal.hashing import sha256_file
    from appliance.export.source import resolve_source

    base = tiny_models("qwen2")
    torch.manual_seed(4)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(str(base)),
                           LoraConfig(r=4, target_modules=["q_proj"], init_lora_weights=False))
    model.save_pretrained(tmp_path / "adapter")
    src = resolve_source(str(tmp_path / "adapter"))
    try:
        for name in ("tokenizer.json", "tokenizer_config.json"):
            assert sha256_file(src.path / name) == sha256_file(base / name), name
    finally:
        src.cleanup()
