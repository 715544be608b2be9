"""The HTTP app of `appliance serve`: llama-cpp-python's OpenAI routes' types and engine, behind a guard.

Routes (FastAPI, served by uvicorn — llama.cpp's server stack): ``/v1/models``, ``/v1/completions`` and
``/v1/chat/completions`` (both streaming over SSE with sse-starlette, chunk format as llama.cpp's server),
``/health``.  Requests are validated with llama.cpp server's own pydantic models
(``CreateCompletionRequest`` / ``CreateChatCompletionRequest``) and prepared with its
``prepare_request_resources`` (logit bias, grammar, min_tokens), then run on a slot of the :class:`Engine`.

:class:`Guard` is plain ASGI middleware around the whole app and is the one place that decides, for every
``/v1`` request, before anything else runs: bearer key (401), body size (413, read fully and bounded before
the app sees it), and that one audit entry is written when the response has ended: key name, endpoint,
model, tokens in/out, latency, status, the PHI filter's counts — never prompt or output text.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

AUDIT_ACTION = "serve.request"


@dataclass
class Limits:
    max_body_bytes: int = 1 << 20
    max_tokens: int = 512
    request_timeout_s: float = 120.0


@dataclass
class RequestInfo:
    """What the handlers tell the guard about a request (metadata only)."""

    key_name: str | None = None
    model: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish: str | None = None
    phi: dict[str, Any] = field(default_factory=dict)

    def to_audit(self) -> dict:
        out = {"key_name": self.key_name, "model": self.model, "tokens_in": self.prompt_tokens,
               "tokens_out": self.completion_tokens}
        if self.finish:
            out["finish"] = self.finish
        if self.phi:
            out["phi"] = self.phi
        return out


def _error_body(status: int, message: str, etype: str) -> bytes:
    return json.dumps({"error": {"message": message, "type": etype, "code": status}}).encode()


async def _send_error(send, status: int, message: str, etype: str, headers: list | None = None) -> None:
    body = _error_body(status, message, etype)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


class Guard:
    """ASGI middleware: authentication, body limit, one audit entry per ``/v1`` request."""

    def __init__(self, app, keystore, limits: Limits, audit):
        self.app, self.keystore, self.limits, self.audit = app, keystore, limits, audit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            return await self.app(scope, receive, send)
        import anyio

        started = time.perf_counter()
        info = RequestInfo()
        status = {"code": 0}

        async def tracked_send(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self._handle(scope, receive, tracked_send, info)
        finally:
            entry = {"endpoint": scope["path"], "method": scope["method"], "status": status["code"] or 499,
                     "latency_ms": round((time.perf_counter() - started) * 1000, 1), **info.to_audit()}
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self.audit, entry)

    async def _handle(self, scope, receive, send, info: RequestInfo) -> None:
        headers = dict(scope.get("headers") or [])
        scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        info.key_name = self.keystore.authenticate(token.strip()) if scheme.lower() == "bearer" else None
        if info.key_name is None:
            await _send_error(send, 401, "invalid or missing API key (Authorization: Bearer KEY)",
                              "invalid_request_error", [(b"www-authenticate", b"Bearer")])
            return
        limit = self.limits.max_body_bytes
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _send_error(send, 413, f"request body over {limit} bytes", "invalid_request_error")
            return
        chunks, size = [], 0
        if scope["method"] in ("POST", "PUT", "PATCH"):
            while True:
                msg = await receive()
                if msg["type"] == "http.disconnect":
                    return
                chunks.append(msg.get("body", b""))
                size += len(chunks[-1])
                if size > limit:
                    await _send_error(send, 413, f"request body over {limit} bytes", "invalid_request_error")
                    return
                if not msg.get("more_body"):
                    break
        body = b"".join(chunks)
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        scope.setdefault("state", {})["info"] = info
        await self.app(scope, replay, send)


def create_app(engine, keystore, limits: Limits, audit, phi_filter=None):
    """The FastAPI app serving ``engine``; ``audit(entry)`` is called once per ``/v1`` request."""
    from fastapi import FastAPI
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException

    from appliance.serve import routes

    app = FastAPI(title="appliance serve", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.engine, app.state.limits, app.state.phi = engine, limits, phi_filter

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request, exc: RequestValidationError):
        errs = exc.errors()
        kind = "invalid JSON" if any(e.get("type") == "json_invalid" for e in errs) else "invalid request"
        where = "; ".join(f"{'.'.join(str(x) for x in e.get('loc', ()))}: {e.get('msg')}" for e in errs[:5])
        return JSONResponse({"error": {"message": f"{kind}: {where}", "type": "invalid_request_error",
                                       "code": 400}}, status_code=400)

    @app.exception_handler(HTTPException)
    async def _http(_request, exc: HTTPException):
        return JSONResponse({"error": {"message": str(exc.detail), "type": "invalid_request_error",
                                       "code": exc.status_code}}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    app.include_router(routes.router)
    return Guard(app, keystore, limits, audit)
