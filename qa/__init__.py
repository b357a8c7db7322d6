"""报告问答 (report QA): cited retrieval over the 2020 government work report of 安阳市北关区.

>>> import qa
>>> best = qa.retrieve("今年建筑业税收目标是多少")[0]
>>> best.text, best.section, best.page
"""

from __future__ import annotations

from .config import apply_offline_environment

apply_offline_environment()  # before any library that could phone home is imported

from .answer import Answer  # noqa: E402
from .config import Settings  # noqa: E402
from .engine import Engine, default_engine  # noqa: E402
from .index import IndexCorruptError, IndexError, IndexMissingError, IndexStaleError, build_index, load_index  # noqa: E402
from .retrieval import Passage  # noqa: E402

__all__ = [
    "Answer",
    "answer",
    "Engine",
    "IndexCorruptError",
    "IndexError",
    "IndexMissingError",
    "IndexStaleError",
    "Passage",
    "Settings",
    "build_index",
    "load_index",
    "retrieve",
]
__version__ = "0.1.0"


def retrieve(question: str, k: int = 5) -> list[Passage]:
    """The ``k`` passages of the report that best answer ``question``, best first.

    Raises TypeError if ``question`` is not a str, ValueError if it is empty, longer than
    1,000 characters, or ``k`` is outside 1..50, and :class:`qa.IndexError` if the index is
    missing, corrupt or stale (the message names the command that fixes it).
    """
    from .retrieval import validate_k, validate_question

    validate_question(question)
    validate_k(k)
    return default_engine().retrieve(question, k)


def answer(question: str, history: list[dict] | None = None) -> Answer:
    """An extractive, cited answer to ``question`` (see :class:`qa.Answer`).

    ``history`` is the conversation so far in Gradio's messages format; an elliptical
    follow-up ("那去年呢") is completed from the previous user question. Same input rules
    as :func:`retrieve`; a malformed ``history`` raises ValueError.
    """
    from .retrieval import validate_question

    validate_question(question)
    return default_engine().answer(question, history)
