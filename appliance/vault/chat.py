"""Chat records: conversations for instruction tuning, kept in the vault like notes.

A chat JSONL line is ``{"messages": [{"role", "content"}, ...]}`` or a ``{"prompt", "response"}`` pair (read as
one user and one assistant message); other top-level fields (the id/patient/date columns) are left to the
metadata readers.  Each line becomes one record whose stored text is the canonical JSON
``{"messages": [...]}``: roles kept, each content normalised like a note.

Scrubbing runs on each message's content, never on the JSON: :class:`ChatScrubber` hands the contents of a
whole batch of conversations to the real scrubber, every message of one conversation in one surrogate and
date-shift scope (the patient's when the export names one, else a fresh per-conversation key), so a name in
the question and in the answer becomes the same surrogate.  Quality filters judge :func:`plain_text` (the
contents joined), not the JSON syntax.  A malformed line raises :class:`ChatFormatError` naming the field.
"""

from __future__ import annotations

import json
import secrets
from collections import Counter
from dataclasses import dataclass, field

from appliance.vault.normalize import normalize

ROLES = ("system", "user", "assistant")


class ChatFormatError(ValueError):
    """A conversation that cannot be read; ``str(e)`` names the field (``messages[2].role: …``)."""


def parse(obj: object) -> list[dict[str, str]]:
    """The messages of one chat line (a decoded JSON object), validated; contents as given."""
    if not isinstance(obj, dict):
        raise ChatFormatError("expected a JSON object with 'messages' (or 'prompt' and 'response')")
    if "messages" in obj:
        msgs = obj["messages"]
        if not isinstance(msgs, list) or not msgs:
            raise ChatFormatError("messages: expected a non-empty list of {\"role\", \"content\"} objects")
    elif "prompt" in obj or "response" in obj:
        for key in ("prompt", "response"):
            if not isinstance(obj.get(key), str):
                raise ChatFormatError(f"{key}: expected a string (a prompt/response pair needs both)")
        msgs = [{"role": "user", "content": obj["prompt"]}, {"role": "assistant", "content": obj["response"]}]
    else:
        raise ChatFormatError("no 'messages' list and no 'prompt'/'response' pair")
    out = []
    for i, m in enumerate(msgs):
        if not isinstance(m, dict):
            raise ChatFormatError(f"messages[{i}]: expected an object with 'role' and 'content'")
        role, content = m.get("role"), m.get("content")
        if role not in ROLES:
            raise ChatFormatError(f"messages[{i}].role: {str(role)[:40]!r} is not one of {', '.join(ROLES)}")
        if not isinstance(content, str):
            raise ChatFormatError(f"messages[{i}].content: expected a string")
        out.append({"role": role, "content": content})
    if not any(m["role"] == "assistant" for m in out):
        raise ChatFormatError("messages: no 'assistant' message (nothing to learn from)")
    return out


def normalized(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """Each content normalised as a note is; an empty one is an error (it would train on nothing)."""
    out = []
    for i, m in enumerate(messages):
        content = normalize(m["content"])
        if not content:
            raise ChatFormatError(f"messages[{i}].content: empty")
        out.append({"role": m["role"], "content": content})
    return out


def dumps(messages: list[dict[str, str]]) -> str:
    """The stored text of a conversation (compact, stable: :func:`normalize` leaves it unchanged)."""
    return json.dumps({"messages": messages}, ensure_ascii=False, separators=(",", ":"))


def loads(text: str) -> list[dict[str, str]]:
    """A stored conversation (or a prompt/response pair) back to its messages; ChatFormatError if not one."""
    try:
        obj = json.loads(text)
    except ValueError:
        raise ChatFormatError("not a chat record (not JSON)") from None
    return parse(obj)


def record_text(obj: object) -> str:
    """One chat line (decoded JSON) → the text the vault stores for it."""
    return dumps(normalized(parse(obj)))


def plain_text(text: str) -> str:
    """The contents of a stored conversation joined by newlines (what quality filters and tokenizers see)."""
    return "\n".join(m["content"] for m in loads(text))


@dataclass
class _Scrubbed:
    text: str
    counts: dict = field(default_factory=dict)


class ChatScrubber:
    """``scrub_batch`` over stored conversations: their contents scrubbed in one call to ``inner``."""

    def __init__(self, inner):
        self.inner = inner

    def scrub_batch(self, texts, patient_keys=None) -> list[_Scrubbed]:
        convs = [loads(t) for t in texts]
        keys = list(patient_keys) if patient_keys is not None else [None] * len(convs)
        flat, scopes = [], []
        for conv, key in zip(convs, keys):
            scope = key if key is not None else "chat:" + secrets.token_hex(12)
            flat.extend(m["content"] for m in conv)
            scopes.extend([scope] * len(conv))
        results = self.inner.scrub_batch(flat, scopes) if flat else []
        out, pos = [], 0
        for conv in convs:
            counts: Counter = Counter()
            msgs = []
            for m in conv:
                res = results[pos]
                pos += 1
                counts.update({str(k): int(n) for k, n in dict(res.counts).items() if n})
                msgs.append({"role": m["role"], "content": normalize(res.text)})
            # a message scrubbed to nothing leaves no usable conversation: the pipeline drops empty texts
            out.append(_Scrubbed("" if any(not m["content"] for m in msgs) else dumps(msgs), dict(counts)))
        return out


def scrubbing(factory):
    """Wrap a scrubber factory (a context manager per ingest) so it scrubs conversations message by message."""
    from contextlib import contextmanager

    @contextmanager
    def wrapped():
        with factory() as inner:
            yield ChatScrubber(inner)

    return wrapped
