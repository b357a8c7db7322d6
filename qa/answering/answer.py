"""Extractive, cited answers graded by confidence: quote the report's own sentence.

No language model writes anything. A question is completed from the conversation
(:mod:`qa.answering.followup`), analysed once (:mod:`qa.answering.question`), and the sentences of the top
retrieved passages become candidates with general features (:mod:`qa.answering.features`). The
fitted answer model (:mod:`qa.answering.model`) scores each, and judges from how the best one
stands against the others the chance that it answers the question; the best one is
quoted verbatim with a ``[1]`` marker and the page it stands on. The reply depends on
that chance:

- confident: the key figure in bold and the quoted sentence (``found=True``);
- tentative: "the report does not answer this directly; the closest sentence is…",
  with that sentence quoted and cited (``found=False``, ``quote`` set);
- nothing close: "nothing found" with the related passages (``found=False``).

``reason`` says why a reply is not confident; it is logged at debug level.

With several documents indexed, a question may be asked of some of them
(``documents``), every citation names its document, a quote from a report of another
year than the question names says so, and a comparison (两年…各是多少) quotes the best
sentence of each report that answers confidently.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from ..retrieval.retriever import Passage, Retriever, clean_text_input, validate_question
from ..text.vocabulary import DATE, answering_kinds, asks_comparison, figure_kind, figures, unit_fits
from .features import Candidate, candidates, reasons
from .followup import resolve_followup
from .model import AnswerModel
from .question import Question, analyze, before_figure

log = logging.getLogger(__name__)

__all__ = ["CONFIDENT", "NOT_FOUND", "TENTATIVE", "Answer", "Answerer", "validate_history"]

RELATED_PASSAGES = 3
#: At most this many reports are quoted side by side for a comparison.
MAX_COMPARED = 4
#: ...chosen among the documents of this many top passages.
COMPARED_FROM = 10
CONFIDENT, TENTATIVE, NOT_FOUND = "confident", "tentative", "not_found"
TENTATIVE_LEAD = "报告中没有直接回答这个问题；最接近的原文是："


@dataclass(frozen=True, kw_only=True)
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
    #: The id and title of the document quoted (the first one for a comparison).
    document: str = ""
    document_title: str = ""


def validate_history(history) -> list[dict]:
    """Gradio messages format: a list of {"role": ..., "content": ...} dicts."""
    if history is None:
        return []
    if not isinstance(history, (list, tuple)):
        raise InputError(f"history must be a list of messages, not {type(history).__name__}")
    out = []
    for i, message in enumerate(history):
        if not isinstance(message, dict) or "role" not in message or "content" not in message:
            raise InputError(f"history[{i}] must be a dict with 'role' and 'content'")
        if message["role"] not in ("user", "assistant", "system"):
            raise InputError(f"history[{i}] has unknown role {message['role']!r}")
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
                raise InputError(f"history[{i}] has content of unsupported type {type(part).__name__}")
        return "".join(parts)
    raise InputError(f"history[{i}] has content of unsupported type {type(content).__name__}")


class Answerer:
    """Answers questions from a :class:`Retriever`'s passages with an :class:`AnswerModel`."""

    def __init__(self, retriever: Retriever, model: AnswerModel):
        self.retriever = retriever
        self.model = model

    def _scoped(self, documents) -> Retriever:
        """The retriever for ``documents`` (None: the documents this answerer searches)."""
        return self.retriever if documents is None else self.retriever.scoped(documents)

    def _answering(self, text: str, documents) -> Retriever:
        """Where a (completed) question is answered: the reports it is about, by the
        places and years it names (see :meth:`Retriever.preferred_documents`); a
        comparison asks every report of the places it names."""
        retriever = self._scoped(documents)
        if asks_comparison(text):
            preferred = retriever.place_documents(text)
        else:
            preferred = retriever.preferred_documents(text)
        return retriever.scoped(preferred) if preferred else retriever

    def _resolve(self, question: str, history: list[dict] | None, documents) -> str:
        retriever = self._scoped(documents)
        return resolve_followup(question, validate_history(history), retriever.glossary_terms, retriever.year)

    def analyze(self, question: str, history: list[dict] | None = None, documents=None) -> Question:
        """The analysed question, a follow-up completed from ``history``."""
        resolved = self._resolve(question, history, documents)
        return analyze(resolved, self._answering(resolved, documents))

    def candidates(self, question: Question, documents=None) -> tuple[list[Passage], list[Candidate]]:
        """The retrieved passages and the candidate sentences of the best of them."""
        passages, found, _, _ = self._scored(question, self._answering(question.text, documents))
        return passages, found

    def answer(self, question: str, history: list[dict] | None = None, documents=None) -> Answer:
        """Answer ``question`` from ``documents`` (ids; None: those of the retriever)."""
        question = validate_question(question)
        resolved = self._resolve(question, history, documents)
        everywhere = self._scoped(documents)
        # The reports of the places it names (all, when it names none): never another place's.
        named = everywhere.place_documents(resolved)
        wider = everywhere.scoped(named) if named else everywhere
        if asks_comparison(resolved) and len(wider.scope or wider.documents) > 1:
            q = analyze(resolved, wider)
            compared = self._comparison(q, wider, wider.search(q.text, k=COMPARED_FROM, prefer=False))
            if compared is not None:
                return compared
        retriever = self._answering(resolved, documents)
        q, passages, found, probs, confidence = self._rank(resolved, retriever)
        if retriever is not wider and confidence < self._needed(retriever):
            # Not in the reports of the year it is about: perhaps in another (said so when quoted).
            other = self._rank(resolved, wider)
            if other[4] >= self._needed(wider):
                retriever, (q, passages, found, probs, confidence) = wider, other
        if not found:
            return self._not_found(q, passages, 0.0, "no passage of the report is close to the question")
        chosen = found[int(np.argmax(probs))]
        if confidence >= self._needed(retriever):
            return self._confident(q, chosen, confidence)
        why = reasons(q, chosen, retriever) or [f"low confidence ({confidence:.2f})"]
        reason = "; ".join(why)
        log.debug("not confident (%.2f) for %r: %s", confidence, q.text, reason)
        if confidence < self.model.tentative:
            return self._not_found(q, passages, confidence, reason)
        return self._tentative(q, chosen, confidence, reason)

    def _needed(self, retriever: Retriever) -> float:
        """The confidence a reply from ``retriever``'s documents needs to be confident."""
        return self.model.confident_in(retriever.searched)

    def _rank(
        self, text: str, retriever: Retriever
    ) -> tuple[Question, list[Passage], list[Candidate], np.ndarray, float]:
        """The question analysed in ``retriever``'s documents, its passages, candidates,
        their probabilities and the confidence in the best."""
        q = analyze(text, retriever)
        return (q, *self._scored(q, retriever))

    def _scored(self, q: Question, retriever: Retriever) -> tuple[list[Passage], list[Candidate], np.ndarray, float]:
        """The passages found for ``q`` in ``retriever``'s documents, the candidate
        sentences of the best of them, each one's probability of answering, and the
        confidence that the best one answers."""
        passages = retriever.search(q.text, k=max(RELATED_PASSAGES, 5))
        found = candidates(q, passages, retriever)
        if not found:
            return passages, found, np.zeros(0), 0.0
        matrix = np.stack([c.features for c in found])
        probs = self.model.probabilities(matrix)
        return passages, found, probs, self.model.confidence(matrix, probs)

    # -- the replies ------------------------------------------------------------------

    @property
    def _several_documents(self) -> bool:
        return len(self.retriever.documents) > 1

    def _document_label(self, p: Passage) -> str:
        """``《title》（2021年）`` when several documents are indexed, else nothing."""
        if not self._several_documents or not p.document:
            return ""
        return p.document_label

    def _cited(self, candidate: Candidate) -> tuple[int | None, str]:
        page = candidate.sentence.page
        where = f"正文第{page}页" if page is not None else candidate.passage.citation
        label = self._document_label(candidate.passage)
        return page, f"{label} {where}" if label else where

    def _year_note(self, q: Question, p: Passage) -> list[str]:
        """A line saying which report is quoted when it is not the one of the year asked."""
        year = p.document_year
        if not self._several_documents or year is None or not q.years or q.years & {year, year - 1}:
            return []
        asked = "、".join(str(y) for y in sorted(q.years))
        return [f"（注意：引自{p.document_name}，它不涉及{asked}年。）", ""]

    def _quote_lines(self, candidate: Candidate, marker: int = 1) -> list[str]:
        _, cited = self._cited(candidate)
        p = candidate.passage
        return [f"> {candidate.sentence.text} [{marker}]", "", f"——{p.section or p.source}，{cited}"]

    def _quoting(
        self,
        q: Question,
        lines: list[str],
        quoted: list[Candidate],
        key: str,
        confidence: float,
        reason: str,
        kind: str,
    ) -> Answer:
        """A reply that quotes sentences (the first one is ``quote``, ``page`` and ``cited``)."""
        first = quoted[0]
        page, cited = self._cited(first)
        return Answer(
            text="\n".join(lines).strip(),
            found=kind == CONFIDENT,
            citations=[c.passage for c in quoted],
            question=q.text,
            quote=first.sentence.text,
            key=key,
            confidence=confidence,
            reason=reason,
            kind=kind,
            page=page,
            cited=cited,
            document=first.passage.document,
            document_title=first.passage.document_title,
        )

    def _confident(self, q: Question, c: Candidate, confidence: float) -> Answer:
        key = key_figure(q, c.sentence.text)
        lines = self._year_note(q, c.passage) + ([f"**{key}**", ""] if key else []) + self._quote_lines(c)
        return self._quoting(q, lines, [c], key, confidence, "", CONFIDENT)

    def _comparison(self, q: Question, scope: Retriever, passages: list[Passage]) -> Answer | None:
        """The best sentence of each report among ``passages`` (newest first), each
        searched on its own; None unless at least two reports answer confidently."""
        chosen: list[tuple[Candidate, float]] = []
        for doc in scope.documents_in(passages):
            if len(chosen) == MAX_COMPARED:
                break
            _, found, probs, confidence = self._scored(q, scope.scoped([doc]))
            if confidence >= self.model.confident_in([doc]):
                chosen.append((found[int(np.argmax(probs))], confidence))
        if len(chosen) < 2:
            return None
        lines: list[str] = []
        for n, (c, _) in enumerate(chosen, 1):
            key = key_figure(q, c.sentence.text)
            head = c.passage.document_name
            lines += [f"**{head}：{key}**" if key else f"**{head}**", "", *self._quote_lines(c, n), ""]
        quoted = [c for c, _ in chosen]
        key = key_figure(q, quoted[0].sentence.text)
        return self._quoting(q, lines, quoted, key, min(p for _, p in chosen), "", CONFIDENT)

    def _tentative(self, q: Question, c: Candidate, confidence: float, reason: str) -> Answer:
        lines = [TENTATIVE_LEAD, "", *self._year_note(q, c.passage), *self._quote_lines(c)]
        return self._quoting(q, lines, [c], "", confidence, reason, TENTATIVE)

    def _not_found(self, q: Question, passages: list[Passage], confidence: float, reason: str) -> Answer:
        related = passages[:RELATED_PASSAGES]
        shown = q.text.strip() if len(q.text.strip()) <= 40 else q.text.strip()[:40] + "…"
        shown = re.sub(r"[\\`*_{}\[\]()#+\-!|>~$]", r"\\\g<0>", shown)  # echo it as text, not Markdown
        lines = [f"报告中没有找到“{shown}”的答案。"]
        if related:
            lines += ["", "以下段落可能相关："]
            for n, p in enumerate(related, 1):
                snippet = p.text if len(p.text) <= 60 else p.text[:60] + "…"
                label = self._document_label(p)
                lines.append(f"- [{n}] {snippet}（{label + ' ' if label else ''}{p.citation}）")
        return Answer(
            text="\n".join(lines),
            found=False,
            citations=related,
            question=q.text,
            confidence=confidence,
            reason=reason,
            kind=NOT_FOUND,
        )


def key_figure(q: Question, sentence: str) -> str:
    """The figure (or date) in ``sentence`` that the question asks for, if any: the one
    with the asked words just before it, in the asked unit and of the asked kind."""
    if "date" in q.types:
        matches = list(DATE.finditer(sentence))
    elif q.asks_figure:
        matches = figures(sentence)
    else:
        return ""
    if not matches:
        return ""
    kinds = answering_kinds(q.types)

    def fit(m: re.Match) -> float:
        before = before_figure(sentence, m)
        score = sum(w for t, w in zip(q.tokens, q.weights) if len(t) > 1 and t in before)
        if q.unit and unit_fits(q.unit, m.group(0)):
            score += 5
        if figure_kind(m.group(0)) in kinds:
            score += 3
        return score - 0.01 * m.start()

    return max(matches, key=fit).group(0)
