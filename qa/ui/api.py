"""What the HTTP APIs answer, one function each, shared by Gradio's API (``/answer``,
``/retrieve``, ``/list_documents``, ``/add_document``, ``/remove_document``), the
OpenAI-compatible API (:mod:`qa.ui.openai_api`) and the MCP tools: the JSON of answers,
passages and documents, and one way of turning errors into messages."""

from __future__ import annotations

import logging
from pathlib import Path

import gradio as gr

from ..answering.answer import Answer
from ..engine import Engine
from ..errors import IndexUnavailableError, InputError, QAError
from ..ingest.readers import check_file
from ..records import DocumentInfo
from ..retrieval.retriever import Passage
from .access import ChangePolicy

log = logging.getLogger(__name__)

__all__ = [
    "PRIVATE_FIELDS",
    "add_document_api",
    "answer_api",
    "answer_json",
    "document_json",
    "documents_api",
    "index_problem",
    "passage_json",
    "remove_document_api",
    "retrieve_api",
]

#: Fields of a document record that name places on the server, not shown over HTTP.
PRIVATE_FIELDS = frozenset({"origin", "file"})


def index_problem(exc: IndexUnavailableError) -> str:
    """What the chat says when the index cannot be used (no paths, no stack trace)."""
    kind = {"IndexMissingError": "缺失", "IndexCorruptError": "已损坏", "IndexStaleError": "已过期"}.get(
        type(exc).__name__, "不可用"
    )
    return f"抱歉，检索索引{kind}，暂时无法回答。请管理员运行 `qa-index build` 重建索引后再试。"


def answer_api(
    engine: Engine, question: str, history: list[dict] | None = None, k: int = 3, documents: list[str] | None = None
) -> dict:
    """The HTTP API's /answer: ``text``, ``found``, ``kind`` (confident / tentative /
    not_found), ``confidence``, ``reason``, ``quote``, ``key``, ``page``, ``cited``,
    ``document`` and ``document_title``, ``question`` (a follow-up completed),
    ``citations`` and ``related`` passages; an ``error`` instead when the question could
    not be answered. ``documents``: ids to ask (None: all). Never raises."""
    try:
        result = engine.answer(question, history or None, documents or None)
        related = engine.retrieve(result.question, _api_k(k, 10), documents or None)
    except (ValueError, TypeError) as exc:
        return _api_error(str(exc))
    except IndexUnavailableError as exc:
        log.error("index unavailable: %s", exc)
        return _api_error(type(exc).__name__, index_problem(exc))
    except Exception as exc:
        log.exception("API answer failed")
        return _api_error(type(exc).__name__)
    return answer_json(result, related)


def retrieve_api(engine: Engine, question: str, k: int = 5, documents: list[str] | None = None) -> list[dict]:
    """The HTTP API's /retrieve: the passages as JSON objects; bad input is a gr.Error."""
    try:
        return [passage_json(p) for p in engine.retrieve(question, _api_k(k, 50), documents or None)]
    except (ValueError, TypeError) as exc:
        raise gr.Error(str(exc)) from None
    except IndexUnavailableError as exc:
        raise gr.Error(index_problem(exc)) from None


def documents_api(engine: Engine) -> list[dict]:
    """The HTTP API's /list_documents: every indexed document as a JSON object."""
    try:
        return [document_json(d) for d in engine.documents()]
    except IndexUnavailableError as exc:
        raise gr.Error(index_problem(exc)) from None


def document_json(document: DocumentInfo) -> dict:
    """A document as the HTTP APIs show it: named by id, title and file name. Where its
    file lies on the server (``origin``, ``file``) stays with the operator's command line."""
    return {k: v for k, v in document.to_json().items() if k not in PRIVATE_FIELDS}


def add_document_api(engine: Engine, policy: ChangePolicy, file, title: str | None, token: str | None) -> dict:
    """The HTTP API's /add_document: add one uploaded file (the same path as the app's
    upload and ``qa-index add``). Returns the document added; raises gr.Error otherwise."""
    path = Path(getattr(file, "name", None) or (file.get("path") if isinstance(file, dict) else file) or "")
    try:
        policy.check(token)
        check_file(path, engine.settings.max_document_mb)
        added, errors = engine.add_documents([path], title=title or None, progress=False)
    except QAError as exc:
        raise gr.Error(str(exc)) from None
    if errors:
        raise gr.Error(errors[0])
    return document_json(added[0])


def remove_document_api(engine: Engine, policy: ChangePolicy, document: str, token: str | None) -> dict:
    """The HTTP API's /remove_document: remove a document by id (or a unique start of
    it). Returns the document removed; raises gr.Error otherwise."""
    try:
        policy.check(token)
        if not isinstance(document, str) or not document.strip():
            raise InputError("give the id of the document to remove")
        return document_json(engine.remove_document(document.strip()))
    except QAError as exc:
        raise gr.Error(str(exc)) from None


def _api_k(k, limit: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, float)) or int(k) != k:
        raise ValueError(f"k must be a whole number, not {k!r}")
    return max(1, min(int(k), limit))


def _api_error(error: str, text: str = "") -> dict:
    return {"text": text, "found": False, "kind": "not_found", "citations": [], "related": [], "error": error}


def passage_json(p: Passage) -> dict:
    """A passage as the HTTP API returns it."""
    return {
        "chunk_id": p.chunk_id,
        "text": p.text,
        "section": p.section,
        "page": p.page,
        "pages": list(p.pages),
        "source": p.source,
        "citation": p.citation,
        "score": p.score,
        "document": p.document,
        "document_title": p.document_title,
        "document_year": p.document_year,
    }


def answer_json(result: Answer, related: list[Passage]) -> dict:
    """An answer as the HTTP API returns it."""
    return {
        "text": result.text,
        "found": result.found,
        "kind": result.kind,
        "confidence": round(result.confidence, 4),
        "reason": result.reason,
        "quote": result.quote,
        "key": result.key,
        "page": result.page,
        "cited": result.cited,
        "document": result.document,
        "document_title": result.document_title,
        "question": result.question,
        "citations": [passage_json(p) for p in result.citations],
        "related": [passage_json(p) for p in related],
    }
