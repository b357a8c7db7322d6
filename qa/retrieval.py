"""Hybrid retrieval: dense (FAISS) and BM25 rankings fused by reciprocal rank fusion.

On top of plain RRF, two priors that the report's structure makes reliable:

- a question that names a glossary term (``六稳``, ``“放管服”``) lifts that term's
  glossary entry, so definitions are found whatever the wording;
- time: the review part holds 2019's figures, part 二 this year's targets for the same
  topics. A question about 去年/2019 lifts the review, one about 今年/2020/目标/计划 lifts
  this year's plans and the review's passages on 2020 so far (the epidemic months).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

import numpy as np

from .chunking import Chunk
from .config import MAX_K, MAX_QUESTION_CHARS, Settings
from .documents import term_keys
from .index import ReportIndex, period_of
from .lexical import Analyzer, normalize_query_text

__all__ = ["Passage", "Retriever", "validate_question", "validate_k", "question_period"]

RRF_K = 60
#: Weights of the two rankings and of the priors, in units of a top-1 RRF vote.
DENSE_WEIGHT = 1.0
BM25_WEIGHT = 1.5
GLOSSARY_BONUS = 1.0
PERIOD_BONUS = 0.75

_REVIEW_CUES = re.compile(r"去年|2019|上一年|过去一年|上年")
_THIS_YEAR_CUES = re.compile(r"今年|2020")
_PLAN_CUES = re.compile(r"目标|计划|打算|准备|力争|将要|定的|定了|要求.*达到")
#: Questions about the document itself: who delivered it, at which meeting, when printed.
_ABOUT_REPORT = re.compile(
    r"(报告|文件|讲话).{0,8}(谁|哪个会|什么会|哪次会|会上|哪天|何时|什么时候|哪一天|印发|日期)"
    r"|(哪个会|什么会|哪次会|会上).{0,6}(报告|讲话)|谁.{0,4}(做|作|印|发|讲)的|(做|作)报告"
)
META_BONUS = 3.0
_QUOTES = re.compile(r"[“”\"'‘’「」『』《》\s]")


@dataclass(frozen=True)
class Passage:
    """A retrieved passage and where it stands in the report."""

    text: str
    score: float
    section: str
    page: int | None
    source: str
    chunk_id: str
    start: int
    end: int
    entry: int | None = None
    kind: str = "paragraph"

    @property
    def citation(self) -> str:
        """Human-readable location, e.g. ``正文第12页`` or ``词语解释 第15条``."""
        return f"正文第{self.page}页" if self.page is not None else self.source


_SURROGATES = re.compile("[\ud800-\udfff]")


def clean_text_input(text: str) -> str:
    """Lone surrogates (not encodable as UTF-8) become U+FFFD."""
    return _SURROGATES.sub("\ufffd", text)


def validate_question(question) -> str:
    """The documented input rules: TypeError for non-strings, ValueError for the rest.

    Returns the question made safe to process (lone surrogates replaced)."""
    if not isinstance(question, str):
        raise TypeError(f"question must be a str, not {type(question).__name__}")
    if not question.strip():
        raise ValueError("question is empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise ValueError(f"question is too long ({len(question)} characters; the limit is {MAX_QUESTION_CHARS})")
    return clean_text_input(question)


def validate_k(k) -> int:
    if isinstance(k, bool) or not isinstance(k, int):
        raise TypeError(f"k must be an int, not {type(k).__name__}")
    if not 1 <= k <= MAX_K:
        raise ValueError(f"k must be between 1 and {MAX_K}, got {k}")
    return k


def question_period(question: str) -> str | None:
    """Which part of the report a question's time words point to.

    ``review`` (去年/2019), ``plan`` (this year's targets: 目标/计划/…), ``this_year``
    (今年/2020 without a target word: the plans or the review of 2020 so far), or None
    when the question names no period or contradicting ones.
    """
    review = bool(_REVIEW_CUES.search(question))
    plan = bool(_PLAN_CUES.search(question))
    this_year = bool(_THIS_YEAR_CUES.search(question))
    if review and not (plan or this_year):
        return "review"
    if plan and not review:
        return "plan"
    if this_year and not review:
        return "this_year"
    return None


#: Passage periods (see ``index.period_of``) that each question period prefers.
_PREFERRED = {"review": {"review"}, "plan": {"plan"}, "this_year": {"plan", "current"}}


def _clean_for_match(text: str) -> str:
    return _QUOTES.sub("", text)


class Retriever:
    """Searches one loaded :class:`ReportIndex` with one embedder; thread-safe."""

    def __init__(self, index: ReportIndex, embedder, settings: Settings | None = None):
        self.index = index
        self.embedder = embedder
        self.settings = settings or Settings()
        self.analyzer = Analyzer(index.terms)
        self._periods = [period_of(c) for c in index.chunks]
        self.positions = {c.id: i for i, c in enumerate(index.chunks)}
        self._glossary = self._glossary_keys(index.chunks)
        self._faiss_lock = threading.Lock()
        self._vectors = self._flat_vectors(index.dense)
        # One query vector at a time: FAISS's OpenMP threads only fight the query encoder's.
        import faiss

        faiss.omp_set_num_threads(1)

    @staticmethod
    def _glossary_keys(chunks: list[Chunk]) -> list[tuple[str, int]]:
        """(key, chunk position) for every glossary term, longest keys first."""
        keys = []
        for i, c in enumerate(chunks):
            if c.kind == "glossary" and c.heading:
                keys += [(key, i) for key in term_keys(c.heading[-1]) if len(key) >= 2]
        return sorted(keys, key=lambda kv: -len(kv[0]))

    @staticmethod
    def _flat_vectors(dense) -> np.ndarray | None:
        """The stored vectors of an exact (flat) index, viewed without copying."""
        import faiss

        if not isinstance(dense, faiss.IndexFlat):
            return None
        return faiss.rev_swig_ptr(dense.get_xb(), dense.ntotal * dense.d).reshape(dense.ntotal, dense.d)

    def dense_zscore(self, question: str, chunk_id: str) -> float:
        """How far a passage's similarity to the question stands above the report's
        average, in standard deviations (inf when the index cannot tell)."""
        if self._vectors is None or len(self._vectors) < 3:
            return float("inf")
        sims = self._vectors @ self.embedder.encode_query(normalize_query_text(question))
        return float((sims[self.positions[chunk_id]] - sims.mean()) / (sims.std() + 1e-9))

    def period(self, chunk_id: str) -> str | None:
        """The period (see ``index.period_of``) of a passage."""
        return self._periods[self.positions[chunk_id]]

    @staticmethod
    def about_report(question: str) -> bool:
        """Whether the question asks about the document itself (who, which meeting, when)."""
        return bool(_ABOUT_REPORT.search(question))

    @property
    def glossary_terms(self) -> list[str]:
        """Every way a question can name a glossary term, longest first."""
        return list(dict.fromkeys(key for key, _ in self._glossary))

    def glossary_in(self, text: str, exclude: str | None = None) -> list[tuple[str, str]]:
        """(term, definition) of the glossary terms that ``text`` uses."""
        clean = _clean_for_match(text)
        out: dict[int, tuple[str, str]] = {}
        for key, pos in self._glossary:
            chunk = self.index.chunks[pos]
            if pos not in out and chunk.id != exclude and key in clean:
                out[pos] = (chunk.heading[-1], chunk.text.split("：", 1)[-1])
        return [out[p] for p in sorted(out)]

    def glossary_hits(self, question: str) -> list[int]:
        """Positions of glossary entries whose term the question names."""
        q = _clean_for_match(question)
        hits: list[int] = []
        for key, pos in self._glossary:
            if key in q and pos not in hits:
                hits.append(pos)
        return hits

    def _dense_ranking(self, query: str, n: int) -> np.ndarray:
        vec = self.embedder.encode_query(query)[None, :]
        with self._faiss_lock:
            _, ids = self.index.dense.search(np.ascontiguousarray(vec, dtype=np.float32), n)
        return ids[0][ids[0] >= 0]

    def _bm25_ranking(self, query: str, n: int) -> np.ndarray:
        tokens = self.analyzer.query_tokens(query)
        if not tokens:
            return np.empty(0, dtype=np.int64)
        scores = self.index.bm25.get_scores(tokens)
        n = min(n, len(scores))
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top], kind="stable")]
        return top[scores[top] > 0]

    def scores(self, question: str, k: int = 0) -> dict[int, float]:
        """Fused score of every candidate passage (by position in the index); each ranking
        contributes at least ``k`` candidates so that ``k`` passages can be returned."""
        query = normalize_query_text(question)
        n = min(max(self.settings.candidates, k), len(self.index.chunks))
        fused: dict[int, float] = {}
        for weight, ranking in (
            (DENSE_WEIGHT, self._dense_ranking(query, n)),
            (BM25_WEIGHT, self._bm25_ranking(query, n)),
        ):
            for rank, pos in enumerate(ranking.tolist()):
                fused[pos] = fused.get(pos, 0.0) + weight / (RRF_K + rank + 1)
        unit = 1.0 / (RRF_K + 1)
        for pos in self.glossary_hits(query):
            fused[pos] = fused.get(pos, 0.0) + GLOSSARY_BONUS * unit
        if self.about_report(query):
            for pos, chunk in enumerate(self.index.chunks):
                if chunk.kind in ("cover", "closing"):
                    fused[pos] = fused.get(pos, 0.0) + META_BONUS * unit
        period = question_period(query)
        if period:
            for pos in fused:
                if self._periods[pos] in _PREFERRED[period]:
                    fused[pos] += PERIOD_BONUS * unit
        return fused

    def search(self, question: str, k: int = 5) -> list[Passage]:
        question = validate_question(question)
        validate_k(k)
        fused = self.scores(question, k)
        best = sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        return [self.passage(pos, score) for pos, score in best]

    def passage(self, pos: int, score: float) -> Passage:
        c = self.index.chunks[pos]
        return Passage(
            text=c.text,
            score=float(score),
            section=c.section,
            page=c.page,
            source=c.source,
            chunk_id=c.id,
            start=c.start,
            end=c.end,
            entry=c.entry,
            kind=c.kind,
        )
