"""The OpenAI-compatible routes, run on a slot of the :class:`~appliance.serve.engine.Engine`.

Request bodies are llama.cpp server's own pydantic types and are prepared by its
``prepare_request_resources``; generation is ``Llama.create_completion`` / ``create_chat_completion`` as
in ``llama_cpp.server.app``.  What is added: the max-tokens cap (a larger or missing ``max_tokens`` is
lowered to it), a deadline (a stopping criterion ends generation when ``request_timeout_s`` has passed,
finish reason ``length``; waiting for a slot past it answers 503), 429 when the queue is full, and the
PHI filter.  Streaming with ``redact`` holds the generated text back and sends it once, filtered, before
the final chunk: a detector cannot redact a name it has only seen half of.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from llama_cpp.server.types import CreateChatCompletionRequest, CreateCompletionRequest

from appliance.serve.engine import QueueFull
from appliance.serve.phi import merge_counts

router = APIRouter()
_EXCLUDE = {"n", "best_of", "logit_bias_type", "user", "min_tokens"}


@router.get("/health")
async def health(request: Request) -> dict:
    e = request.app.state.engine
    return {"status": "ok", "model": e.model_id, "slots": e.settings.slots, "busy": e.busy, "waiting": e.waiting}


@router.get("/v1/models")
async def models(request: Request) -> dict:
    e = request.app.state.engine
    request.state.info.model = e.model_id
    return {"object": "list", "data": [{"id": e.model_id, "object": "model", "created": 0,
                                        "owned_by": "appliance"}]}


@router.post("/v1/completions")
async def completions(request: Request, body: CreateCompletionRequest):
    if isinstance(body.prompt, list):
        if len(body.prompt) > 1:
            raise HTTPException(400, "one prompt per request")
        body.prompt = body.prompt[0] if body.prompt else ""
    return await _generate(request, body, chat=False)


@router.post("/v1/chat/completions")
async def chat_completions(request: Request, body: CreateChatCompletionRequest):
    if not request.app.state.engine.has_chat_template:
        raise HTTPException(400, "this artifact's tokenizer has no chat template; use /v1/completions "
                                 "(or export a model whose tokenizer_config.json carries a chat_template)")
    return await _generate(request, body, chat=True)


def _piece(chunk: dict, chat: bool) -> str:
    c = chunk["choices"][0]
    return (c.get("delta") or {}).get("content") or "" if chat else c.get("text") or ""


def _set_piece(chunk: dict, chat: bool, text: str) -> dict:
    out = json.loads(json.dumps(chunk))
    if chat:
        out["choices"][0]["delta"] = {"content": text}
    else:
        out["choices"][0]["text"] = text
    out["choices"][0]["finish_reason"] = None
    return out


def _apply_text_form(llm, kwargs: dict[str, Any], chat: bool) -> None:
    """The tokenizer's Unicode form (NFC for Qwen2-family tokenizers), applied to the request's text the way
    the HF tokenizer applies it before BPE: llama.cpp itself does not normalize."""
    from appliance.export.llama_runtime import prepare_text, text_form

    if not text_form(llm):
        return
    if chat:
        for m in kwargs.get("messages") or []:
            if isinstance(m.get("content"), str):
                m["content"] = prepare_text(llm, m["content"])
            elif isinstance(m.get("content"), list):
                for part in m["content"]:
                    if isinstance(part, dict) and isinstance(part.get("text"), str):
                        part["text"] = prepare_text(llm, part["text"])
    elif isinstance(kwargs.get("prompt"), str):
        kwargs["prompt"] = prepare_text(llm, kwargs["prompt"])
    elif isinstance(kwargs.get("prompt"), list):
        kwargs["prompt"] = [prepare_text(llm, p) if isinstance(p, str) else p for p in kwargs["prompt"]]


async def _generate(request: Request, body, chat: bool):
    from llama_cpp import LogitsProcessorList, StoppingCriteriaList
    from llama_cpp.server.app import prepare_request_resources
    from sse_starlette.sse import EventSourceResponse
    from starlette.concurrency import run_in_threadpool

    state = request.app.state
    engine, limits, phi = state.engine, state.limits, state.phi
    info = request.state.info
    info.model = engine.model_id
    kwargs = body.model_dump(exclude=_EXCLUDE)
    kwargs["model"] = engine.model_id
    asked = kwargs.get("max_tokens")
    kwargs["max_tokens"] = limits.max_tokens if not asked or asked < 0 or asked > limits.max_tokens else asked
    deadline = time.monotonic() + limits.request_timeout_s
    timed_out = {"hit": False}

    def past_deadline(_ids=None, _logits=None) -> bool:
        timed_out["hit"] = timed_out["hit"] or time.monotonic() > deadline
        return timed_out["hit"]

    try:
        llm = await asyncio.wait_for(engine.acquire(), timeout=limits.request_timeout_s)
    except QueueFull:
        raise HTTPException(429, "all slots are busy and the queue is full; retry later",
                            headers={"Retry-After": "1"}) from None
    except TimeoutError:
        raise HTTPException(503, "no slot became free before the request timeout") from None
    if chat:  # create_chat_completion takes no stopping criteria: past the deadline only EOS may be sampled
        eos = llm.token_eos()

        def end_at_deadline(_ids, scores):
            if past_deadline():
                scores[:] = -float("inf")
                scores[eos] = 0.0
            return scores

        kwargs["logits_processor"] = LogitsProcessorList([end_at_deadline])
    else:
        kwargs["stopping_criteria"] = StoppingCriteriaList([past_deadline])
    _apply_text_form(llm, kwargs, chat)
    try:
        prepare_request_resources(body, lambda _m=None: llm, None, kwargs)
        fn = llm.create_chat_completion if chat else llm.create_completion
        if not kwargs.get("stream"):
            result = await run_in_threadpool(fn, **kwargs)
        else:
            iterator = await run_in_threadpool(fn, **kwargs)
    except ValueError as e:  # llama-cpp-python's way of saying the request cannot run (context, logprobs…)
        engine.release(llm)
        raise HTTPException(400, str(e)) from None
    except BaseException:
        engine.release(llm)
        raise
    if not kwargs.get("stream"):
        engine.release(llm)
        usage = result.get("usage") or {}
        info.prompt_tokens, info.completion_tokens = usage.get("prompt_tokens"), usage.get("completion_tokens")
        info.finish = "timeout" if timed_out["hit"] else result["choices"][0].get("finish_reason")
        if phi is not None:
            choice = result["choices"][0]
            text = (choice.get("message") or {}).get("content") if chat else choice.get("text")
            new, counts = await run_in_threadpool(phi.apply, text or "")
            merge_counts(info.phi, counts, phi.mode)
            if chat and choice.get("message") is not None:
                choice["message"]["content"] = new
            elif not chat:
                choice["text"] = new
        return result
    return EventSourceResponse(_events(iterator, llm, engine, info, phi, chat, timed_out), sep="\n")


async def _events(iterator, llm, engine, info, phi, chat: bool, timed_out: dict):
    from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

    pieces = 0
    held: list[str] = []
    template: dict | None = None
    finish = None
    try:
        async for chunk in iterate_in_threadpool(iterator):
            piece, fin = _piece(chunk, chat), chunk["choices"][0].get("finish_reason")
            finish = fin or finish
            pieces += bool(piece)
            if phi is None:
                yield {"data": json.dumps(chunk)}
                continue
            if piece:
                held.append(piece)
                template = template or chunk
            if phi.mode == "flag":  # sent as generated, counted at the end
                yield {"data": json.dumps(chunk)}
            elif fin:  # redact: the held text, filtered, then the final chunk without its text
                for out in await _flush(phi, held, template, chat, info):
                    yield {"data": json.dumps(out)}
                held = []
                last = _set_piece(chunk, chat, "")
                last["choices"][0]["finish_reason"] = fin
                yield {"data": json.dumps(last)}
            elif not piece:  # e.g. the role chunk of a chat stream
                yield {"data": json.dumps(chunk)}
        for out in await _flush(phi, held, template, chat, info) if held else []:
            yield {"data": json.dumps(out)}
        yield {"data": "[DONE]"}
    finally:
        if hasattr(iterator, "close"):
            await run_in_threadpool(iterator.close)
        info.completion_tokens = pieces
        # the context holds prompt + generated tokens, less the last one when generation stopped at the cap
        # (it was sampled, never evaluated); a streamed chunk is one token
        info.prompt_tokens = max(0, int(llm.n_tokens) - pieces + (finish == "length" and pieces > 0))
        info.finish = "timeout" if timed_out["hit"] else finish
        engine.release(llm)


async def _flush(phi, held: list[str], template: dict | None, chat: bool, info) -> list[dict[str, Any]]:
    """The held text through the filter: in ``redact`` one chunk with the filtered text, in ``flag`` none."""
    from starlette.concurrency import run_in_threadpool

    new, counts = await run_in_threadpool(phi.apply, "".join(held))
    merge_counts(info.phi, counts, phi.mode)
    if phi.mode == "redact" and template is not None:
        return [_set_piece(template, chat, new)]
    return []
