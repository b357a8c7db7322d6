"""An OpenAI-compatible chat API on the app's own port: ``GET /v1/models`` and
``POST /v1/chat/completions`` (plain and streamed), so any chat front end, notebook or
agent that speaks OpenAI's protocol can ask the reports without new code.

The reply is the chat's Markdown (the key figure, the report's sentence with ``[1]``, the
cited section, document and page); the citations also come as data in the extra
``citations`` field, and the grading in ``answer``. A follow-up is carried by the
messages, as in any OpenAI conversation. Only the reports chosen in the extra body field
``documents`` (ids) are asked, else all. Options a language model would use
(``temperature``, ``max_tokens`` …) are accepted and ignored: no language model writes
the answer. Errors use OpenAI's error schema and status codes. With ``QA_API_KEY`` set,
``Authorization: Bearer <key>`` is required.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import time
import uuid
from collections.abc import Iterator

from fastapi import Request
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from ..answering.answer import Answer
from ..engine import Engine
from ..errors import IndexUnavailableError, QAError, UnknownDocumentError
from .api import answer_json, passage_json
from .markdown import chat_text

log = logging.getLogger(__name__)

__all__ = ["MODEL_ID", "openai_routes"]

#: The one model listed: the report QA pipeline itself.
MODEL_ID = "report-qa"
#: Roles a conversation may hold; system and developer messages are read and ignored.
_ROLES = {"system", "developer", "user", "assistant", "tool"}
#: Where a streamed reply is cut into chunks: after line ends and sentence ends.
_PIECES = re.compile(r"[^\n。；！？]*[\n。；！？]?")


class _BadRequest(Exception):
    def __init__(self, message: str, param: str | None = None, status: int = 400, code: str | None = None):
        super().__init__(message)
        self.param, self.status, self.code = param, status, code


def _error(status: int, message: str, kind: str, param: str | None = None, code: str | None = None) -> JSONResponse:
    """OpenAI's error object."""
    return JSONResponse(
        {"error": {"message": message, "type": kind, "param": param, "code": code}},
        status_code=status,
        headers={"WWW-Authenticate": "Bearer"} if status == 401 else None,
    )


def _text_of(content, where: str) -> str:
    """A message's text: a string, or the text parts of a list of content parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(p, dict) for p in content):
        return "".join(p.get("text", "") for p in content if p.get("type") == "text" and isinstance(p.get("text"), str))
    raise _BadRequest(f"{where}.content must be a string or a list of content parts", where)


def parse_request(body) -> tuple[str, list[dict], list[str] | None, bool]:
    """(question, history as Gradio messages, document ids or None, stream) from an
    OpenAI chat request; raises _BadRequest naming the parameter at fault."""
    if not isinstance(body, dict):
        raise _BadRequest("the request body must be a JSON object")
    model = body.get("model", MODEL_ID)
    if model not in (MODEL_ID, None, ""):
        raise _BadRequest(f"The model `{model}` does not exist; use `{MODEL_ID}`", "model", 404, "model_not_found")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _BadRequest("messages must be a non-empty list", "messages")
    turns = []
    for n, message in enumerate(messages):
        where = f"messages[{n}]"
        if not isinstance(message, dict) or message.get("role") not in _ROLES:
            raise _BadRequest(f"{where} must be an object with a role ({', '.join(sorted(_ROLES))})", where)
        if message["role"] in ("user", "assistant"):
            turns.append({"role": message["role"], "content": _text_of(message.get("content"), where)})
    if not turns or turns[-1]["role"] != "user":
        raise _BadRequest("the last message must be the user's question", "messages")
    documents = body.get("documents")
    if documents is not None and (
        not isinstance(documents, list) or not all(isinstance(d, str) and d for d in documents)
    ):
        raise _BadRequest("documents must be a list of document ids", "documents")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise _BadRequest("stream must be true or false", "stream")
    return turns[-1]["content"], turns[:-1], documents or None, stream


def _usage(question: str, history: list[dict], reply: str) -> dict:
    """Characters stand for tokens: nothing here is billed, but clients read the field."""
    prompt = len(question) + sum(len(m["content"]) for m in history)
    return {"prompt_tokens": prompt, "completion_tokens": len(reply), "total_tokens": prompt + len(reply)}


def _extras(result: Answer) -> dict:
    """The citations as data, and how the answer stands."""
    data = answer_json(result, [])
    return {
        "citations": [passage_json(p) for p in result.citations],
        "answer": {
            k: data[k]
            for k in (
                "kind",
                "found",
                "confidence",
                "key",
                "quote",
                "page",
                "cited",
                "document",
                "document_title",
                "question",
                "reason",
            )
        },
    }


def _pieces(text: str) -> list[str]:
    """``text`` cut after its line and sentence ends (what a streamed reply sends)."""
    return [p for p in _PIECES.findall(text) if p]


def _stream(completion_id: str, created: int, reply: str, extras: dict) -> Iterator[str]:
    def event(delta: dict, finish: str | None = None, **more) -> str:
        chunk = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": MODEL_ID,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **more,
        }
        return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"

    yield event({"role": "assistant", "content": ""})
    for piece in _pieces(reply):
        yield event({"content": piece})
    yield event({}, "stop", **extras)
    yield "data: [DONE]\n\n"


def openai_routes(engine: Engine, api_key: str = "") -> list[APIRoute]:
    """The routes of the OpenAI-compatible API over ``engine`` (``api_key``: required
    as a Bearer token when not empty)."""

    def authorized(request: Request) -> JSONResponse | None:
        if not api_key:
            return None
        header = request.headers.get("authorization", "")
        given = header[7:].strip() if header[:7].lower() == "bearer " else ""
        if given and hmac.compare_digest(given.encode(), api_key.encode()):
            return None
        message = "Incorrect API key provided" if given else "Missing API key: send Authorization: Bearer <key>"
        return _error(401, message, "invalid_request_error", code="invalid_api_key")

    def models(request: Request):
        if (refused := authorized(request)) is not None:
            return refused
        return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "report-qa"}]}

    async def chat_completions(request: Request):
        if (refused := authorized(request)) is not None:
            return refused
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            return _error(400, "the request body is not valid JSON", "invalid_request_error")
        try:
            question, history, documents, stream = parse_request(body)
        except _BadRequest as exc:
            kind = "invalid_request_error"
            return _error(exc.status, str(exc), kind, exc.param, exc.code)
        try:
            result = await run_in_threadpool(engine.answer, question, history or None, documents)
        except UnknownDocumentError as exc:
            return _error(400, str(exc), "invalid_request_error", "documents")
        except IndexUnavailableError as exc:
            log.error("index unavailable: %s", exc)
            return _error(503, "the index is unavailable; ask again later", "server_error")
        except QAError as exc:  # a question that breaks the input rules
            return _error(400, str(exc), "invalid_request_error", "messages")
        reply = chat_text(result)
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())
        extras = _extras(result)
        if stream:
            return StreamingResponse(
                _stream(completion_id, created, reply, extras),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache"},
            )
        return {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": MODEL_ID,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
            "usage": _usage(question, history, reply),
            **extras,
        }

    return [
        APIRoute("/v1/models", models, methods=["GET"], include_in_schema=False),
        APIRoute("/v1/chat/completions", chat_completions, methods=["POST"], include_in_schema=False),
    ]
