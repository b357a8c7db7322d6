"""Extractive, cited answers graded by confidence: quote the report's own sentence.

No language model writes anything. A question is completed from the conversation
(:mod:`qa.followup`), analysed once (:mod:`qa.question`), and the sentences of the top
retrieved passages become candidates with general features (:mod:`qa.features`). The
fitted answer model (:mod:`qa.model`) gives each the probability that it answers the
question; the best one is quoted verbatim with a ``[1]`` marker and the page it
stands on. The reply depends on that probability:

- confident: the key figure in bold and the quoted sentence (``found=True``);
- tentative: "the report does not answer this directly; the closest sentence is…",
  with that sentence quoted and cited (``found=False``, ``quote`` set);
- nothing close: "nothing found" with the related passages (``found=False``).

``reason`` says why a reply is not confident; it is logged at debug level.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import numpy as np

from .features import Candidate, candidates, reasons
from .followup import resolve_followup
from .model import AnswerModel
from .question import Question, analyze
from .retrieval import Passage, Retriever, clean_text_input, validate_question
from .vocabulary import DATE, FIGURE, figure_kind

log = logging.getLogger(__name__)

__all__ = ["Answer", "Answerer", "validate_history", "CONFIDENT", "TENTATIVE", "NOT_FOUND"]

RELATED_PASSAGES = 3
CONFIDENT, TENTATIVE, NOT_FOUND = "confident", "tentative", "not_found"
TENTATIVE_LEAD = "报告中没有直接回答这个问题；最接近的原文是："


@dataclass(frozen=True)
class Answer:
    """What the chat shows (Markdown), how sure it is, and the sources.

    ``citations[i]`` is the passage that ``[i+1]`` in ``text`` points to. ``question``
    is the question actually answered (a follow-up completed from the history).
    ``kind`` is ``confident``, ``tentative`` or ``not_found``; ``found`` is True only
    for a confident answer. ``quote`` is the report's sentence shown (confident or
    tentative), ``page`` the main-text page it stands on (None in the glossary) and
    ``cited`` that place in words. ``confidence`` (0–1) is the answer model's
    probability that the quote answers; ``reason`` says why a reply is not confident.
    """

    text: str
    found: bool
    citations: list[Passage] = field(default_factory=list)
    question: str = ""
    quote: str = ""
    key: str = ""
    confidence: float = 0.0
    reason: str = ""
    kind: str = NOT_FOUND
    page: int | None = None
    cited: str = ""


def validate_history(history) -> list[dict]:
    """Gradio messages format: a list of {"role": ..., "content": ...} dicts."""
    if history is None:
        return []
    if not isinstance(history, (list, tuple)):
        raise ValueError(f"history must be a list of messages, not {type(history).__name__}")
    out = []
    for i, message in enumerate(history):
        if not isinstance(message, dict) or "role" not in message or "content" not in message:
            raise ValueError(f"history[{i}] must be a dict with 'role' and 'content'")
        if message["role"] not in ("user", "assistant", "system"):
            raise ValueError(f"history[{i}] has unknown role {message['role']!r}")
        out.append({"role": message["role"], "content": clean_text_input(_content_text(message["content"], i))})
    return out


def _content_text(content, i: int) -> str:
    """Text of a message's content: a string, or Gradio's list of content parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        content = [content]
    if isinstance(content, (list, tuple)):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict):
                text = part.get("text", "")
                parts.append(text if isinstance(text, str) else "")
            else:
                raise ValueError(f"history[{i}] has content of unsupported type {type(part).__name__}")
        return "".join(parts)
    raise ValueError(f"history[{i}] has content of unsupported type {type(content).__name__}")


class Answerer:
    """Answers questions from a :class:`Retriever`'s passages with an :class:`AnswerModel`."""

    def __init__(self, retriever: Retriever, model: AnswerModel):
        self.retriever = retriever
        self.model = model

    def analyze(self, question: str, history: list[dict] | None = None) -> Question:
        """The analysed question, a follow-up completed from ``history``."""
        turns = validate_history(history)
        resolved = resolve_followup(question, turns, self.retriever.glossary_terms, self.retriever.year)
        return analyze(resolved, self.retriever)

    def candidates(self, question: Question) -> tuple[list[Passage], list[Candidate]]:
        """The retrieved passages and the candidate sentences of the best of them."""
        passages = self.retriever.search(question.text, k=max(RELATED_PASSAGES, 5))
        return passages, candidates(question, passages, self.retriever)

    def answer(self, question: str, history: list[dict] | None = None) -> Answer:
        question = validate_question(question)
        q = self.analyze(question, history)
        passages, found = self.candidates(q)
        if not found:
            return self._not_found(q, passages, 0.0, "no passage of the report is close to the question")
        probs = self.model.probabilities(np.stack([c.features for c in found]))
        best = int(np.argmax(probs))
        chosen, confidence = found[best], float(probs[best])
        if confidence >= self.model.confident:
            return self._confident(q, chosen, confidence)
        why = reasons(q, chosen, self.retriever) or [f"low confidence ({confidence:.2f})"]
        reason = "; ".join(why)
        log.debug("not confident (%.2f) for %r: %s", confidence, q.text, reason)
        if confidence < self.model.tentative:
            return self._not_found(q, passages, confidence, reason)
        return self._tentative(q, chosen, confidence, reason)

    # -- the three replies ------------------------------------------------------------

    def _cited(self, candidate: Candidate) -> tuple[int | None, str]:
        page = candidate.sentence.page
        return page, (f"正文第{page}页" if page is not None else candidate.passage.citation)

    def _quote_lines(self, candidate: Candidate) -> list[str]:
        _, cited = self._cited(candidate)
        p = candidate.passage
        return [f"> {candidate.sentence.text} [1]", "", f"——{p.section or p.source}，{cited}"]

    def _confident(self, q: Question, c: Candidate, confidence: float) -> Answer:
        key = key_figure(q, c.sentence.text)
        lines = ([f"**{key}**", ""] if key else []) + self._quote_lines(c)
        page, cited = self._cited(c)
        return Answer(
            "\n".join(lines), True, [c.passage], q.text, c.sentence.text, key, confidence, "", CONFIDENT, page, cited
        )

    def _tentative(self, q: Question, c: Candidate, confidence: float, reason: str) -> Answer:
        lines = [TENTATIVE_LEAD, "", *self._quote_lines(c)]
        page, cited = self._cited(c)
        return Answer(
            "\n".join(lines),
            False,
            [c.passage],
            q.text,
            c.sentence.text,
            "",
            confidence,
            reason,
            TENTATIVE,
            page,
            cited,
        )

    def _not_found(self, q: Question, passages: list[Passage], confidence: float, reason: str) -> Answer:
        related = passages[:RELATED_PASSAGES]
        shown = q.text.strip() if len(q.text.strip()) <= 40 else q.text.strip()[:40] + "…"
        shown = re.sub(r"[\\`*_{}\[\]()#+\-!|>~$]", r"\\\g<0>", shown)  # echo it as text, not Markdown
        lines = [f"报告中没有找到“{shown}”的答案。"]
        if related:
            lines += ["", "以下段落可能相关："]
            for n, p in enumerate(related, 1):
                snippet = p.text if len(p.text) <= 60 else p.text[:60] + "…"
                lines.append(f"- [{n}] {snippet}（{p.citation}）")
        return Answer("\n".join(lines), False, related, q.text, "", "", confidence, reason, NOT_FOUND)


def key_figure(q: Question, sentence: str) -> str:
    """The figure (or date) in ``sentence`` that the question asks for, if any: the one
    with the asked words just before it, in the asked unit and of the asked kind."""
    if "date" in q.types:
        pattern = DATE
    elif "figure" in q.types and "definition" not in q.types:
        pattern = FIGURE
    else:
        return ""
    matches = list(pattern.finditer(sentence))
    if not matches:
        return ""

    def fit(m: re.Match) -> float:
        before = sentence[max(0, m.start() - 12) : m.start()]
        score = sum(w for t, w in zip(q.tokens, q.weights) if len(t) > 1 and t in before)
        if q.unit and q.unit in m.group(0):
            score += 5
        if figure_kind(m.group(0)) in q.types:
            score += 3
        return score - 0.01 * m.start()

    return max(matches, key=fit).group(0)
