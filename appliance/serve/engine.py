"""The inference engine behind `appliance serve`: N llama.cpp contexts on one verified GGUF, handed out as slots.

Models are loaded by llama-cpp-python's own server loader (``LlamaProxy.load_llama_from_model_settings``
with its ``ModelSettings``), so the engine is configured exactly as ``python -m llama_cpp.server`` would
configure it.  llama.cpp's Python server serialises every request on one context behind a global lock; here
each slot is its own ``Llama`` (the weights are mmap'd, so N slots share one copy of them in memory) and
requests wait for a free slot in a bounded queue: when ``queue`` requests are already waiting, the next
one is refused at once (HTTP 429) instead of piling up.

The chat template is the artifact's own: the ``tokenizer.chat_template`` that export copied from the
trained tokenizer into the GGUF.  An artifact whose tokenizer has none serves completions only; chat is
refused with a clear error rather than silently formatted with some other model's template.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class QueueFull(Exception):
    """Every slot is busy and the waiting queue is full."""


@dataclass(frozen=True)
class EngineSettings:
    slots: int = 1
    queue: int = 16
    n_ctx: int = 0  # 0: the model's trained context, capped at 4096
    threads: int = 0  # 0: llama.cpp's default for this host, split across the slots
    seed: int = -1


class Engine:
    """``slots`` llama.cpp contexts on ``gguf``; :meth:`acquire` / :meth:`release` around each request."""

    def __init__(self, gguf: Path, model_id: str, settings: EngineSettings):
        from llama_cpp.server.model import LlamaProxy
        from llama_cpp.server.settings import ModelSettings

        from appliance.export.gguf_header import context_length
        from appliance.export.llama_runtime import llama_threads

        if settings.slots < 1 or settings.queue < 0:
            raise ValueError("slots must be >= 1 and queue >= 0")
        self.model_id = model_id
        self.settings = settings
        threads = settings.threads or max(1, llama_threads() // settings.slots)
        n_ctx = settings.n_ctx or context_length(gguf, 4096)
        self.n_ctx = n_ctx
        self.chat_template = _gguf_chat_template(gguf)
        ms = ModelSettings(model=str(gguf), model_alias=model_id, n_ctx=n_ctx, n_threads=threads,
                           n_threads_batch=threads, logits_all=False, verbose=False,
                           seed=settings.seed if settings.seed >= 0 else 0xFFFFFFFF,
                           chat_format="chat_template.default" if self.chat_template else None)
        self._llamas = []
        try:
            for _ in range(settings.slots):
                self._llamas.append(LlamaProxy.load_llama_from_model_settings(ms))
        except BaseException:
            self.close()
            raise
        self.threads = threads
        self._free: asyncio.Queue | None = None
        self._waiting = 0

    @property
    def has_chat_template(self) -> bool:
        return self.chat_template is not None

    def _queue(self) -> asyncio.Queue:
        if self._free is None:  # created inside the serving event loop
            self._free = asyncio.Queue()
            for llm in self._llamas:
                self._free.put_nowait(llm)
        return self._free

    async def acquire(self) -> Any:
        """A free ``Llama``; waits in the bounded queue, or raises :class:`QueueFull` at once."""
        q = self._queue()
        try:
            return q.get_nowait()
        except asyncio.QueueEmpty:
            pass
        if self._waiting >= self.settings.queue:
            raise QueueFull
        self._waiting += 1
        try:
            return await q.get()
        finally:
            self._waiting -= 1

    def release(self, llm: Any) -> None:
        self._queue().put_nowait(llm)

    @property
    def busy(self) -> int:
        return len(self._llamas) - (self._free.qsize() if self._free is not None else len(self._llamas))

    @property
    def waiting(self) -> int:
        return self._waiting

    def close(self) -> None:
        for llm in self._llamas:
            try:
                llm.close()
            except Exception:
                log.debug("closing a llama context failed", exc_info=True)
        self._llamas = []


def _gguf_chat_template(path: Path) -> str | None:
    """``tokenizer.chat_template`` from the GGUF header (what export wrote from the tokenizer), or None."""
    import gguf

    r = gguf.GGUFReader(str(path))
    f = r.fields.get("tokenizer.chat_template")
    if f is None:
        return None
    return bytes(f.parts[f.data[0]]).decode("utf-8")
