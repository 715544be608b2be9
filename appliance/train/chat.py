"""Instruction tuning (``data.format: chat``): conversations → template-rendered tokens, loss on the answers only.

* **Template.** The recipe's ``data.chat_template``, else the base tokenizer's own (``tokenizer_config.json``),
  else :data:`DEFAULT_TEMPLATE` (the appliance's own tokenizers have none).  The run's saved tokenizer carries
  the template used, so ``final/``, the exported GGUF (``tokenizer.chat_template``) and ``appliance serve``
  format chats exactly as training did.  Rendering goes through transformers' sandboxed Jinja environment.
* **Mask, exactly.** The conversation is rendered once with every assistant content replaced by a unique
  marker; the text is cut at the markers into segments and each segment is tokenized on its own, so no token
  straddles a boundary.  A token gets a label iff it is in an assistant content or in that turn's end-of-turn
  marker: what the template writes right after the content when the conversation ends there (e.g. ``<|eos|>``,
  ``<|im_end|>``), trailing whitespace excluded.  Headers, system and user turns are ``-100``.  A template that
  rewrites assistant contents, or whose rendering of a conversation does not begin with the rendering of its
  own beginning, is refused (the mask could not be exact).
* **No attention across examples: no packing.**  One conversation per row, right-padded to ``data.seq_len``
  (longer ones truncated; dropped if no answer token is left), with its length kept so the batch carries an
  ``attention_mask``.  Each micro-batch is trimmed to its longest row, so padding costs little.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from appliance.errors import InputError

IGNORE = -100
#: Role markers added as special tokens to the tokenizers the appliance trains for chat recipes.
ROLE_TOKENS = ("<|system|>", "<|user|>", "<|assistant|>")
#: The built-in template: ``<|role|>\ncontent<eos>\n`` per message; a generation prompt opens an assistant turn.
DEFAULT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\\n' + message['content'] + eos_token + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"
)
_MARK = "\ue000appliance-answer-{}\ue001"  # private-use characters: no tokenizer merges them with text
_CHAT_HINT = ("ingest conversations with `appliance vault ingest FILE.jsonl --format chat --source NAME` and list "
              "only those sources in data.sources")


OWN_TEMPLATE = "the base tokenizer's chat template"


def resolve_template(tok, recipe_template: str | None) -> tuple[str, str]:
    """``(template, origin)``: the recipe's, the tokenizer's own, or the built-in default."""
    if recipe_template:
        return recipe_template, "recipe data.chat_template"
    own = getattr(tok, "chat_template", None)
    if isinstance(own, dict):  # several named templates: the default one
        own = own.get("default")
    if isinstance(own, str) and own.strip():
        return own, OWN_TEMPLATE
    return DEFAULT_TEMPLATE, "the appliance's default chat template"


def _render(tok, template: str, messages: list[dict]) -> str:
    return tok.apply_chat_template(messages, chat_template=template, tokenize=False, add_generation_prompt=False)


def segments(tok, template: str, messages: list[dict]) -> list[tuple[str, bool]]:
    """The rendered conversation as ``[(text, supervised)]``: assistant content + end-of-turn are supervised.

    Raises ValueError (with the reason) when the template does not allow an exact mask."""
    marked = []
    answers = []
    for m in messages:
        if m["role"] == "assistant":
            marked.append({"role": "assistant", "content": _MARK.format(len(answers))})
            answers.append(m["content"])
        else:
            marked.append(m)
    text = _render(tok, template, marked)
    if _render(tok, template, messages) != _fill(text, answers):
        raise ValueError("the chat template changes assistant contents when it renders them")
    out: list[tuple[str, bool]] = []
    pos = 0
    seen = 0
    for i, m in enumerate(marked):
        if m["role"] != "assistant":
            continue
        mark = _MARK.format(seen)
        at = text.find(mark, pos)
        if at < 0 or text.count(mark) != 1:
            raise ValueError(f"the chat template does not write assistant message {i} exactly once")
        # the end-of-turn marker: what follows the content when the conversation ends with this turn
        head = _render(tok, template, marked[: i + 1])
        if mark not in head:
            raise ValueError("the chat template renders a conversation's beginning differently on its own")
        eot = head[head.index(mark) + len(mark):].rstrip()
        if not eot:
            raise ValueError("the chat template ends assistant turns with no end-of-turn marker "
                             "(the model would never learn to stop)")
        end = at + len(mark)
        if text[end: end + len(eot)] != eot:
            raise ValueError("the chat template's end-of-turn marker differs inside a longer conversation")
        if at > pos:
            out.append((_fill(text[pos:at], answers), False))
        out.append((answers[seen] + eot, True))
        pos = end + len(eot)
        seen += 1
    if pos < len(text):
        out.append((_fill(text[pos:], answers), False))
    return out


def _fill(text: str, answers: list[str]) -> str:
    for k, a in enumerate(answers):
        text = text.replace(_MARK.format(k), a)
    return text


def encode(tok, template: str, messages: list[dict]) -> tuple[list[int], list[int]]:
    """``(input_ids, labels)`` of one conversation; labels are ``-100`` outside the supervised segments."""
    backend = tok.backend_tokenizer
    ids: list[int] = []
    labels: list[int] = []
    for text, supervised in segments(tok, template, messages):
        part = backend.encode(text, add_special_tokens=False).ids
        ids.extend(part)
        labels.extend(part if supervised else [IGNORE] * len(part))
    return ids, labels


def conversation(text: str, record_id: str) -> list[dict]:
    """A vault record's messages; a clear InputError when the record is not a conversation."""
    from appliance.vault.chat import ChatFormatError, loads

    try:
        return loads(text)
    except ChatFormatError as e:
        raise InputError(f"record {record_id} is not a chat record for data.format: chat ({e})",
                         hint=_CHAT_HINT) from None


def tokenizer_texts(source, ids: Iterable[str]) -> list[str]:
    """What a tokenizer trained for a chat run learns from: the message contents, never the JSON framing."""
    return ["\n".join(m["content"] for m in conversation(source.read_text(i), i)) for i in ids]


def tokenize_split(source, manifest: dict, tok, template: str, seq_len: int, pad_id: int,
                   origin: str = "chat template") -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Both splits as ``{split: [n, seq_len] ids, split_labels: [n, seq_len], split_lengths: [n]}`` + counts."""
    arrays: dict[str, np.ndarray] = {}
    stats = {"chat_examples": 0, "chat_truncated": 0, "chat_dropped": 0}
    for split in ("train", "heldout"):
        rows, rows_labels, lengths = [], [], []
        for r in (r for r in manifest["records"] if r["split"] == split):
            messages = conversation(source.read_text(r["id"]), r["id"])
            try:
                ids, labels = encode(tok, template, messages)
            except Exception as e:  # noqa: BLE001 -- a template error (Jinja, raise_exception) names the record
                raise InputError(f"record {r['id']}: {origin} cannot render it: {e}",
                                 hint="fix data.chat_template in the recipe (or drop it to use the default)") from None
            if len(ids) > seq_len:
                stats["chat_truncated"] += 1
                ids, labels = ids[:seq_len], labels[:seq_len]
            if all(x == IGNORE for x in labels[1:]):  # HF shifts labels: position 0 is never predicted
                stats["chat_dropped"] += 1
                continue
            n = len(ids)
            rows.append(ids + [pad_id] * (seq_len - n))
            rows_labels.append(labels + [IGNORE] * (seq_len - n))
            lengths.append(n)
        arrays[split] = np.asarray(rows, dtype=np.int32).reshape(len(rows), seq_len)
        arrays[f"{split}_labels"] = np.asarray(rows_labels, dtype=np.int32).reshape(len(rows), seq_len)
        arrays[f"{split}_lengths"] = np.asarray(lengths, dtype=np.int32)
        stats["chat_examples"] += len(rows)
    if len(arrays["train"]) == 0:
        raise InputError(f"no training conversation with an answer token within data.seq_len {seq_len} "
                         f"({manifest['counts']['train']} training records, {stats['chat_dropped']} dropped)",
                         hint="raise data.seq_len, or ingest conversations (vault ingest --format chat)")
    return arrays, stats


def prepare(tok, data: dict, source, manifest: dict, save_to=None) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """A chat run's arrays (:func:`tokenize_split`) under its template; ``save_to``: the run's tokenizer dir,
    rewritten to carry the template (fresh starts; on resume it already does)."""
    from appliance.train.tokenizer import special_ids

    template, origin = resolve_template(tok, data.get("chat_template"))
    if save_to is not None and origin != OWN_TEMPLATE:
        # Recorded beside the tokenizer files as ``chat_template.jinja`` (which transformers and the GGUF
        # export read first); tokenizer.json and tokenizer_config.json stay the bytes they were.
        from appliance._internal.atomic import atomic_write

        tok.chat_template = template
        atomic_write(Path(save_to) / "chat_template.jinja", template)
    _, _, pad = special_ids(tok)
    return tokenize_split(source, manifest, tok, template, data["seq_len"], pad, origin)


class Examples:
    """The chat arrays one rank trains and evaluates on; batches carry labels and an attention mask."""

    def __init__(self, data: dict[str, np.ndarray], max_eval: int):
        self.data = {k: (v[:max_eval] if k.startswith("heldout") else v) for k, v in data.items()}

    @staticmethod
    def present(data: dict) -> bool:
        return "train_labels" in data

    def batch(self, split: str, idx: list[int], device) -> dict:
        """``input_ids``, ``labels``, ``attention_mask`` for rows ``idx``, trimmed to the longest row."""
        import torch

        lengths = self.data[f"{split}_lengths"][idx]
        width = int(lengths.max())
        ids = torch.from_numpy(self.data[split][idx, :width].astype(np.int64))
        labels = torch.from_numpy(self.data[f"{split}_labels"][idx, :width].astype(np.int64))
        mask = torch.from_numpy((np.arange(width)[None, :] < lengths[:, None]).astype(np.int64))
        return {"input_ids": ids.to(device), "labels": labels.to(device), "attention_mask": mask.to(device)}

    def supervised(self, split: str, idx: list[int]) -> int:
        """Tokens the loss is taken over for rows ``idx`` (labels after the causal shift)."""
        return int((self.data[f"{split}_labels"][idx, 1:] != IGNORE).sum()) if idx else 0
