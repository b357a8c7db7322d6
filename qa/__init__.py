"""报告问答 (report QA): cited answers from Chinese government work reports.

The bundled corpus is the 2020 government work report of 安阳市北关区; add more with
``qa-index add FILE`` (PDF, Word, text, Markdown) and ask across them or within some.

>>> import qa
>>> best = qa.retrieve("今年建筑业税收目标是多少")[0]
>>> best.text, best.section, best.page, best.document_title
"""

from __future__ import annotations

from .config import apply_offline_environment

apply_offline_environment()  # before any library that could phone home is imported

from .answering.answer import Answer
from .config import Settings
from .corpus.builder import build_index
from .corpus.manifest import load_index
from .engine import Engine, default_engine
from .errors import (
    AccessError,
    ConfigError,
    DocumentError,
    FileTooLargeError,
    IndexCorruptError,
    IndexMissingError,
    IndexStaleError,
    IndexUnavailableError,
    InputError,
    InputTypeError,
    QAError,
    StoreUnavailableError,
    UnknownDocumentError,
    UnsupportedFileError,
)
from .records import DocumentInfo
from .retrieval.retriever import Passage

__all__ = [
    "AccessError",
    "Answer",
    "ConfigError",
    "DocumentError",
    "DocumentInfo",
    "Engine",
    "FileTooLargeError",
    "IndexCorruptError",
    "IndexMissingError",
    "IndexStaleError",
    "IndexUnavailableError",
    "InputError",
    "InputTypeError",
    "Passage",
    "QAError",
    "Settings",
    "StoreUnavailableError",
    "UnknownDocumentError",
    "UnsupportedFileError",
    "answer",
    "build_index",
    "list_documents",
    "load_index",
    "retrieve",
]
__version__ = "0.1.0"


def retrieve(question: str, k: int = 5, documents: list[str] | None = None) -> list[Passage]:
    """The ``k`` passages that best answer ``question``, best first, from ``documents``
    (a list of document ids as :func:`list_documents` gives them; None: all).

    Every error raised on purpose is a :class:`qa.QAError`: :class:`qa.InputTypeError`
    (a TypeError) if ``question`` is not a str or ``documents`` not a list of str,
    :class:`qa.InputError` (a ValueError) if the question is empty or longer than 1,000
    characters or ``k`` is outside 1..50, :class:`qa.UnknownDocumentError` (a ValueError)
    for an unknown document id, and :class:`qa.IndexUnavailableError` if the index is
    missing, corrupt or stale (the message names the command that fixes it).
    """
    from .retrieval.retriever import validate_documents, validate_k, validate_question

    validate_question(question)
    validate_k(k)
    validate_documents(documents)
    return default_engine().retrieve(question, k, documents)


def answer(question: str, history: list[dict] | None = None, documents: list[str] | None = None) -> Answer:
    """An extractive, cited answer to ``question`` (see :class:`qa.Answer`).

    ``history`` is the conversation so far in Gradio's messages format; an elliptical
    follow-up ("那去年呢") is completed from the previous user question. ``documents``
    limits the answer to some documents (ids; None: all). Same input rules as
    :func:`retrieve`; a malformed ``history`` raises ValueError.
    """
    from .retrieval.retriever import validate_documents, validate_question

    validate_question(question)
    validate_documents(documents)
    return default_engine().answer(question, history, documents)


def list_documents() -> list[DocumentInfo]:
    """The documents in the index: id, title, year, pages, passages, source (file name)."""
    return default_engine().documents()
