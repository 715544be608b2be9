"""The tokenizer embedded in GGUF tokenizes exactly like the HF tokenizer, on real tokenizers and hard strings."""

from __future__ import annotations

import json

import pytest

from appliance.errors import UsageError
from appliance.export.gguf_vocab import choose_pre_tokenizer, unicode_form

# Clinical text that stresses a pre-tokenizer: digits/decimals, units, vitals, Unicode names, CJK, emoji,
# runs of spaces, tabs, newlines, special tokens (each tokenizer's own, appended below).
HARD = (
    "BP 128/84 mmHg, HR 72 bpm, SpO2 97%, T 38.25 °C, wt 70.5kg",
    "metformin 500mg BID; insulin 12.5 U q6h; Na+ 138 mmol/L; 1,234,567.89",
    "José Müller-Ñúñez, Zoë O'Brien, Łukasz Żółć, François Dupré",
    "患者主诉胸痛，血压120/80。カルテ確認済み。환자 상태 양호",
    "pain 8/10 😣👍🏽 — ok…  «quoted» x² µg ½",
    "    indented   runs    of     spaces\t\ttabs\t\n\n\nnewlines\r\n end  ",
    "",
    "'s 're 've 'll I'M DON'T 00001 1e-3 -0.5 +12",
)
SPECIAL_STRINGS = {
    "deepseek_real": ("<｜begin▁of▁sentence｜>note<｜end▁of▁sentence｜>",),
    "qwen_real": ("<|im_start|>user\nBP 120/80<|im_end|>\n<|im_start|>assistant\n", "end<|endoftext|>"),
}
EXPECTED_PRE = {"deepseek_real": "deepseek-v3", "qwen_real": "qwen2"}


@pytest.mark.llamacpp
@pytest.mark.parametrize("base", ["deepseek_real", "qwen_real"])
def test_real_tokenizer_identical_in_llama_cpp(base, request, tmp_path):
    """The real DeepSeek tokenizer (empty Sequence normalizer, three Split pre-tokenizers) and the real Qwen2
    vocabulary (one Split, Qwen2's regex) are accepted, and llama.cpp's tokenization of the exported GGUF
    equals the HF tokenizer's on every hard string, special tokens included."""
    pytest.importorskip("llama_cpp")
    import llama_cpp
    from tokenizers import Tokenizer

    from gguf import GGUFReader

    from appliance.export.gguf_writer import write_gguf

    model_dir = request.getfixturevalue(base)
    cfg = json.loads((model_dir / "config.json").read_text())
    out = tmp_path / "m.gguf"
    write_gguf(model_dir, out, "f16", cfg)
    pre = GGUFReader(str(out)).fields["tokenizer.ggml.pre"]
    assert bytes(pre.parts[pre.data[0]]).decode() == EXPECTED_PRE[base]
    hf = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    llm = llama_cpp.Llama(model_path=str(out), vocab_only=True, verbose=False)
    try:
        for text in HARD + SPECIAL_STRINGS[base]:
            want = hf.encode(text, add_special_tokens=False).ids
            got = list(llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))
            assert got == want, (text, got[:20], want[:20])
            assert len(want) >= min(1, len(text))
    finally:
        llm.close()


def _tj(normalizer):
    return {"normalizer": normalizer,
            "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "use_regex": True}}


def test_noop_normalizers_accepted():
    assert choose_pre_tokenizer(_tj(None)) == "gpt-2"
    assert choose_pre_tokenizer(_tj({"type": "Sequence", "normalizers": []})) == "gpt-2"
    assert choose_pre_tokenizer(_tj({"type": "Sequence", "normalizers": [{"type": "Sequence",
                                                                          "normalizers": []}]})) == "gpt-2"


@pytest.mark.parametrize("kind", ["Lowercase", "Replace", "Strip", "Prepend"])
def test_changing_normalizer_refused_by_name(kind):
    with pytest.raises(UsageError, match=kind):
        choose_pre_tokenizer(_tj({"type": "Sequence", "normalizers": [{"type": kind}]}))
    with pytest.raises(UsageError, match=kind):  # hidden behind an accepted Unicode form
        choose_pre_tokenizer(_tj({"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": kind}]}))


def test_unicode_form_accepted_and_recorded():
    """NFC (what Qwen2/Qwen2.5's tokenizer.json carries) is reproduced at run time, so it is accepted; two
    different forms chained are not."""
    assert choose_pre_tokenizer(_tj({"type": "NFC"})) == "gpt-2"
    assert unicode_form({"type": "Sequence", "normalizers": [{"type": "NFKC"}]}) == "NFKC"
    assert unicode_form({"type": "Sequence", "normalizers": []}) is None
    with pytest.raises(UsageError, match="NFC \\+ NFD"):
        unicode_form({"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "NFD"}]})


def _nfc_copy(model_dir, dst):
    """A copy of ``model_dir`` whose tokenizer.json carries Qwen2.5's NFC normalizer."""
    import shutil

    shutil.copytree(model_dir, dst)
    tj = json.loads((dst / "tokenizer.json").read_text())
    tj["normalizer"] = {"type": "NFC"}
    (dst / "tokenizer.json").write_text(json.dumps(tj))
    return dst


DECOMPOSED = ("Jose\u0301 Mu\u0308ller-N\u0303u\u0301n\u0303ez", "caf\u0065\u0301 re\u0301sume\u0301",
              "Zoe\u0308 \u212b \ufb01 x\u00b2")


@pytest.mark.llamacpp
def test_nfc_tokenizer_tokenizes_like_hf_through_the_runtime(qwen_real, tmp_path):
    """A Qwen2.5-style tokenizer.json (the real Qwen2 vocabulary with its NFC normalizer): llama.cpp does not
    normalize, so decomposed input tokenizes differently raw; through the appliance's runtime path (the form
    recorded in the GGUF, applied before llama.cpp tokenizes) it equals the HF tokenizer on every string."""
    pytest.importorskip("llama_cpp")
    import llama_cpp
    from tokenizers import Tokenizer

    from gguf import GGUFReader

    from appliance.export.gguf_vocab import NORMALIZER_KEY
    from appliance.export.gguf_writer import write_gguf
    from appliance.export.llama_runtime import prepare_text

    model_dir = _nfc_copy(qwen_real, tmp_path / "qwen25")
    out = tmp_path / "m.gguf"
    write_gguf(model_dir, out, "f16", json.loads((model_dir / "config.json").read_text()))
    field = GGUFReader(str(out)).fields[NORMALIZER_KEY]
    assert bytes(field.parts[field.data[0]]).decode() == "NFC"
    hf = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    llm = llama_cpp.Llama(model_path=str(out), vocab_only=True, verbose=False)
    try:
        raw_differs = 0
        for text in HARD + DECOMPOSED + SPECIAL_STRINGS["qwen_real"]:
            want = hf.encode(text, add_special_tokens=False).ids
            got = list(llm.tokenize(prepare_text(llm, text).encode("utf-8"), add_bos=False, special=True))
            assert got == want, (text, got[:20], want[:20])
            raw = list(llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))
            raw_differs += raw != want
        assert raw_differs >= len(DECOMPOSED)  # without the runtime's normalization these would not match
    finally:
        llm.close()


@pytest.mark.llamacpp
def test_nfc_tokenizer_exports_with_parity(qwen_real, site, tmp_path):
    """The whole export of a Qwen2 carrying an NFC normalizer: parity (tokenization of decomposed text
    included) passes and the user's tokenizer.json is not rewritten."""
    pytest.importorskip("llama_cpp")
    import hashlib

    from appliance.export import export_gguf

    model_dir = _nfc_copy(qwen_real, tmp_path / "qwen25")
    before = hashlib.sha256((model_dir / "tokenizer.json").read_bytes()).hexdigest()
    home, keys = site
    export_gguf(str(model_dir), "f16", home=home, signer=keys.signer, out_dir=tmp_path / "out")
    parity = json.loads((tmp_path / "out" / "parity.json").read_text())
    assert parity["passed"] and parity["tokenization_identical"], parity["failures"]
    assert hashlib.sha256((model_dir / "tokenizer.json").read_bytes()).hexdigest() == before



@pytest.mark.llamacpp
@pytest.mark.parametrize("qtype", ["f16", "q8_0", "q4_k_m"])
def test_deepseek_real_tokenizer_exports_with_parity(deepseek_real, site, tmp_path, qtype):
    """The whole export of a DeepseekV3 carrying the real tokenizer: signed, parity (tokenization included) passed.
    (Qwen2's real vocabulary goes through the same path after training, in tests/e2e/test_real_tokenizers.py.)"""
    pytest.importorskip("llama_cpp")
    from appliance.export import export_gguf

    home, keys = site
    m = export_gguf(str(deepseek_real), qtype, home=home, signer=keys.signer, out_dir=tmp_path / qtype)
    parity = json.loads((tmp_path / qtype / "parity.json").read_text())
    assert parity["passed"] and parity["tokenization_identical"], parity["failures"]
    assert m["gguf"]["arch"] == "deepseek2" and (tmp_path / qtype / "model.sig").is_file()
    if qtype != "f16":
        assert {"kld_mean", "kld_p99", "top1_agreement_confident"} <= set(parity)
