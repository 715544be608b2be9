"""The tokenizer, embedded in GGUF as ``tokenizer.ggml.*`` metadata read from ``tokenizer.json``.

Only byte-level BPE tokenizers are supported (what the appliance trains).  llama.cpp does not run the
tokenizer.json pre-tokenizer; it picks a built-in regex by the name in ``tokenizer.ggml.pre``.  We choose
that name by matching the pre-tokenizer found in tokenizer.json against the regexes llama.cpp implements
(GPT-2's for a plain ``ByteLevel(use_regex=True)``; Llama-3's / Qwen2's for a ``Split`` + ``ByteLevel``),
and refuse anything else rather than ship a GGUF that tokenizes differently.  The parity check then proves
tokenization is identical on fixed prompts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from appliance.errors import UsageError

# Regexes as they appear in HF tokenizer.json files, and the llama.cpp pre-tokenizer name implementing each.
_LLAMA3_RE = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
              r"|\s*[\r\n]+|\s+(?!\S)|\s+")
_QWEN2_RE = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
             r"|\s*[\r\n]+|\s+(?!\S)|\s+")
_SPLIT_PRE = {_LLAMA3_RE: "llama-bpe", _QWEN2_RE: "qwen2"}
# DeepSeek-V3's tokenizer.json splits three times before ByteLevel; llama.cpp's "deepseek-v3" runs the same three
# regexes in the same order (LLAMA_VOCAB_PRE_TYPE_DEEPSEEK3_LLM in llama-vocab.cpp).
_DEEPSEEK3_RES = (r"\p{N}{1,3}", "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+",
                  ("[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+"
                  "| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"))
_MULTI_SPLIT_PRE = {_DEEPSEEK3_RES: "deepseek-v3"}

# Normalizers that change nothing llama.cpp's BPE path would see: an empty Sequence (DeepSeek's tokenizer.json
# carries one) or a Sequence of such.  A Unicode normalization form (Qwen2/Qwen2.5's tokenizer.json carries NFC)
# is a pure function of the text that llama.cpp does not apply: it is accepted, recorded in the GGUF under
# NORMALIZER_KEY, and the appliance's runtimes (parity, generate, serve) apply it to the text before llama.cpp
# tokenizes it (:func:`normalize_text`).  Anything else (Lowercase, Replace, Strip, Prepend, ...) is refused.
UNICODE_FORMS = ("NFC", "NFD", "NFKC", "NFKD")
NORMALIZER_KEY = "appliance.tokenizer.normalizer"


def _normalizer_steps(norm: dict | None) -> list[str]:
    """The normalizer names in ``norm``, flattened (empty Sequences contribute nothing)."""
    if not norm:
        return []
    kind = norm.get("type")
    if kind == "Sequence":
        return [name for sub in norm.get("normalizers") or [] for name in _normalizer_steps(sub)]
    return [kind or "unknown"]


def unicode_form(norm: dict | None) -> str | None:
    """The one Unicode normalization form ``norm`` applies (None: none), or :class:`UsageError` naming the
    normalizer that would change tokenization in a way llama.cpp cannot reproduce."""
    steps = _normalizer_steps(norm)
    changing = [s for s in steps if s not in UNICODE_FORMS]
    if changing:
        raise UsageError(f"tokenizer.json has a {changing[0]} normalizer; llama.cpp's BPE path does not apply it, "
                         "so the GGUF would tokenize differently",
                         hint="use the tokenizer without that normalizer (byte-level BPE; a Unicode form such as "
                              "NFC alone is accepted)")
    if len(set(steps)) > 1:
        raise UsageError(f"tokenizer.json chains the normalizers {' + '.join(steps)}; only one Unicode form is "
                         "reproduced at run time", hint="keep a single NFC/NFKC normalizer")
    return steps[0] if steps else None


def normalize_text(text: str, form: str | None) -> str:
    """``text`` as the HF tokenizer's normalizer sees it (``form`` read from the GGUF's NORMALIZER_KEY)."""
    import unicodedata

    return unicodedata.normalize(form, text) if form in UNICODE_FORMS else text


# gguf TokenType values (kept literal so this module does not import gguf at import time)
NORMAL, CONTROL, USER_DEFINED, UNUSED = 1, 3, 4, 5


@dataclass
class Vocab:
    tokens: list[str]
    token_types: list[int]
    merges: list[str]
    pre: str
    special_ids: dict[str, int] = field(default_factory=dict)  # bos/eos/pad/unk → id
    add_bos: bool = False
    add_eos: bool = False
    chat_template: str | None = None
    normalizer: str | None = None  # a Unicode form the runtime applies before llama.cpp tokenizes (NFC, ...)


def choose_pre_tokenizer(tj: dict) -> str:
    """llama.cpp ``tokenizer.ggml.pre`` name for a tokenizer.json, or :class:`UsageError` if none matches."""
    unicode_form(tj.get("normalizer"))  # refuses a normalizer llama.cpp cannot reproduce, by name
    pre = tj.get("pre_tokenizer") or {}
    parts = pre.get("pretokenizers", []) if pre.get("type") == "Sequence" else [pre]
    kinds = [p.get("type") for p in parts]
    if kinds == ["ByteLevel"] and parts[0].get("use_regex", True) and not parts[0].get("add_prefix_space", False):
        return "gpt-2"  # llama.cpp: LLAMA_VOCAB_PRE_TYPE_GPT2, the GPT-2 regex ByteLevel uses
    if kinds == ["Split", "ByteLevel"] and not parts[1].get("use_regex", True) \
            and not parts[1].get("add_prefix_space", False):
        pattern = (parts[0].get("pattern") or {}).get("Regex")
        if pattern in _SPLIT_PRE and parts[0].get("behavior") == "Isolated":
            return _SPLIT_PRE[pattern]
    if len(kinds) > 2 and kinds[-1] == "ByteLevel" and set(kinds[:-1]) == {"Split"} \
            and not parts[-1].get("use_regex", True) and not parts[-1].get("add_prefix_space", False) \
            and all(p.get("behavior") == "Isolated" and not p.get("invert") for p in parts[:-1]):
        patterns = tuple((p.get("pattern") or {}).get("Regex") for p in parts[:-1])
        if patterns in _MULTI_SPLIT_PRE:
            return _MULTI_SPLIT_PRE[patterns]
    raise UsageError(
        f"tokenizer pre-tokenizer {json.dumps(pre)[:200]} has no llama.cpp equivalent",
        hint="use a byte-level BPE tokenizer (ByteLevel pre-tokenizer, add_prefix_space=false)",
    )


def read_vocab(model_dir: Path, vocab_size: int) -> Vocab:
    """Tokens (padded to the model's ``vocab_size``), types, merges and special ids from ``model_dir``."""
    tj = json.loads((model_dir / "tokenizer.json").read_text(encoding="utf-8"))
    model = tj.get("model") or {}
    if model.get("type") != "BPE":
        raise UsageError(f"tokenizer model {model.get('type')!r} is not BPE", hint="use a byte-level BPE tokenizer")
    pre = choose_pre_tokenizer(tj)
    by_id: dict[int, str] = {i: t for t, i in model["vocab"].items()}
    types = {i: NORMAL for i in by_id}
    for added in tj.get("added_tokens", []):
        by_id[added["id"]] = added["content"]
        types[added["id"]] = CONTROL if added.get("special") else USER_DEFINED
    n = max(vocab_size, max(by_id) + 1)
    tokens, token_types = [], []
    for i in range(n):
        if i in by_id:
            tokens.append(by_id[i])
            token_types.append(types[i])
        else:  # the embedding matrix is larger than the tokenizer: fill the gap with unused tokens
            tokens.append(f"[PAD{i}]")
            token_types.append(UNUSED)
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]

    # Special tokens and BOS/EOS behaviour from the tokenizer files themselves (no transformers import: the
    # writer stays light); the parity check compares against transformers' own tokenization anyway.
    tcfg_path = model_dir / "tokenizer_config.json"
    tcfg = json.loads(tcfg_path.read_text(encoding="utf-8")) if tcfg_path.is_file() else {}
    stm_path = model_dir / "special_tokens_map.json"  # older transformers keep the roles here
    if stm_path.is_file():
        tcfg = {**json.loads(stm_path.read_text(encoding="utf-8")), **tcfg}
    ids_by_content = {t: i for i, t in by_id.items()}
    special = {}
    for role in ("bos", "eos", "pad", "unk"):
        tok = tcfg.get(f"{role}_token")
        if isinstance(tok, dict):
            tok = tok.get("content")
        if isinstance(tok, str) and tok in ids_by_content:
            special[role] = ids_by_content[tok]
    add_bos, add_eos = _probe_added_specials(model_dir, special)
    if tcfg.get("add_bos_token") is True and "bos" in special:
        add_bos = True
    if tcfg.get("add_eos_token") is True and "eos" in special:
        add_eos = True
    jinja = model_dir / "chat_template.jinja"  # read first, as transformers does: a run's own template is here
    template = jinja.read_text(encoding="utf-8") if jinja.is_file() else tcfg.get("chat_template")
    return Vocab(tokens=tokens, token_types=token_types, merges=merges, pre=pre, special_ids=special,
                 add_bos=add_bos, add_eos=add_eos, chat_template=template if isinstance(template, str) else None,
                 normalizer=unicode_form(tj.get("normalizer")))


def _probe_added_specials(model_dir: Path, special: dict[str, int]) -> tuple[bool, bool]:
    """Whether the tokenizer's post-processor adds BOS / EOS (probe it rather than guess)."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    plain = tok.encode("a", add_special_tokens=False).ids
    full = tok.encode("a", add_special_tokens=True).ids
    grew = len(full) > len(plain)
    return (grew and "bos" in special and full[0] == special["bos"],
            grew and "eos" in special and full[-1] == special["eos"])


def add_vocab(writer, vocab: Vocab) -> None:
    """Write ``vocab`` into a ``gguf.GGUFWriter`` as ``tokenizer.ggml.*`` keys."""
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(vocab.pre)
    writer.add_token_list(vocab.tokens)
    writer.add_token_types(vocab.token_types)
    writer.add_token_merges(vocab.merges)
    ids = vocab.special_ids
    if "bos" in ids:
        writer.add_bos_token_id(ids["bos"])
    if "eos" in ids:
        writer.add_eos_token_id(ids["eos"])
    if "pad" in ids:
        writer.add_pad_token_id(ids["pad"])
    if "unk" in ids:
        writer.add_unk_token_id(ids["unk"])
    # written explicitly: some pre-tokenizer names (llama-bpe) imply add_bos=true in llama.cpp otherwise
    writer.add_add_bos_token(vocab.add_bos)
    writer.add_add_eos_token(vocab.add_eos)
    if vocab.chat_template:
        writer.add_chat_template(vocab.chat_template)
    if vocab.normalizer:
        writer.add_string(NORMALIZER_KEY, vocab.normalizer)
