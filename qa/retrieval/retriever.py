"""Hybrid retrieval: dense (FAISS) and BM25 rankings fused by reciprocal rank fusion.

On top of plain RRF, priors that a report's structure makes reliable:

- a question that names a glossary term (``六稳``, ``“放管服”``) lifts that term's
  glossary entry, so definitions are found whatever the wording;
- time: a report's review part holds the past year's figures, its plan part this
  year's targets for the same topics. A question about the year before the report's
  (去年, or that year named) lifts the review; one about the report's year or its
  targets lifts the plans and the review's passages on the year so far;
- a question about the document itself (who gave it, when, at which meeting) lifts
  the cover and the imprint.

An index holds any number of documents. A search may be limited to some of them
(:meth:`Retriever.scoped`); time words are read against each document's own year
(今年 in the 2021 report is 2021), and the words and places the documents know are
those of the documents searched.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass

import numpy as np

from ..config import MAX_K, MAX_QUESTION_CHARS, Settings
from ..errors import InputError, InputTypeError, UnknownDocumentError
from ..ingest.documents import match_form
from ..records import Chunk, Sentence, document_label, document_name
from ..stores import Embedder, Store
from ..text.lexical import Analyzer, normalize_query_text
from ..text.spelling import Speller
from ..text.vocabulary import (
    ABOUT_DOCUMENT,
    PREFERRED_PERIODS,
    absolute_years,
    asks_plan,
    latin_words,
    period_cues,
    years_named,
)
from .fusion import Fusion
from .routing import PlaceMention, PlaceRouter

__all__ = ["Passage", "Retriever", "validate_documents", "validate_k", "validate_question"]

#: Sentences whose similarity to a question calibrates how similar "unrelated" is.
CALIBRATION_SAMPLE = 5000
#: Scoped retrievers kept for reuse (one per set of documents searched).
MAX_SCOPES = 64


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
    #: Every main-text page the passage covers (``page`` is the first).
    pages: tuple[int, ...] = ()
    #: ``review``, ``current``, ``plan`` or None (see :class:`qa.ingest.chunking.Chunk`).
    period: str | None = None
    #: The id of the document it comes from, its title and its year.
    document: str = ""
    document_title: str = ""
    document_year: int | None = None
    #: Where the store keeps it (its own number, for fetching its sentences).
    position: int = -1

    @property
    def document_name(self) -> str:
        """The document's title with its year: ``文峰区2021年政府工作报告（2021年）``."""
        return document_name(self.document_title, self.document_year)

    @property
    def document_label(self) -> str:
        """The document as an answer names it: ``《文峰区2021年政府工作报告》``."""
        return document_label(self.document_title, self.document_year)

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
        raise InputTypeError(f"question must be a str, not {type(question).__name__}")
    if not question.strip():
        raise InputError("question is empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise InputError(f"question is too long ({len(question)} characters; the limit is {MAX_QUESTION_CHARS})")
    return clean_text_input(question)


def validate_k(k) -> int:
    if isinstance(k, bool) or not isinstance(k, int):
        raise InputTypeError(f"k must be an int, not {type(k).__name__}")
    if not 1 <= k <= MAX_K:
        raise InputError(f"k must be between 1 and {MAX_K}, got {k}")
    return k


def validate_documents(documents) -> tuple[str, ...] | None:
    """``documents`` as a tuple of ids (None: all); TypeError for anything else."""
    if documents is None:
        return None
    if isinstance(documents, str) or not all(isinstance(d, str) for d in documents):
        raise InputTypeError("documents must be a list of document ids (str), or None for all")
    return tuple(dict.fromkeys(documents))


def subject_words(documents) -> frozenset[str]:
    """The ways of naming the places ``documents`` are about (易县, 北关, 安阳市北关区)."""
    from ..ingest.places import short_name

    return frozenset(w for d in documents if d.place for w in (d.place, short_name(d.place), d.place_full) if w)


class Retriever:
    """Searches one loaded build (any :class:`qa.stores.Store`: local or Milvus) with one
    embedder; thread-safe. It reads the store only through its search methods, the
    records of the passages it returns and the documents' stats (:mod:`qa.stores.stats`):
    nothing at start grows with the number of passages."""

    def __init__(
        self, index: Store, embedder: Embedder, settings: Settings | None = None, fusion: Fusion | None = None
    ):
        self.index = index
        self.fusion = fusion or Fusion()
        self.embedder = embedder
        self.settings = settings or Settings()
        self.analyzer = Analyzer(index.terms)
        self.documents = {d.id: d for d in index.documents}
        #: Which documents a question is about, by the places it names.
        self.places = PlaceRouter(self.documents.values())
        self._scopes: dict[tuple, Retriever] = {}
        self._scope(None)

    def _scope(self, documents: tuple[str, ...] | None) -> None:
        """Set what depends on the documents searched (all of them when None)."""
        self.scope = documents
        #: The searched documents' counts: passages, word rarity, the words they use.
        self.stats = self.index.stats(documents)
        self.passage_count = self.stats.passages
        self.doc_freq = self.stats.doc_freq
        #: How many sentences the documents searched have.
        self.sentence_count = sum(
            d.sentences for d in self.documents.values() if documents is None or d.id in documents
        )
        self._calibration = self.index.sentence_sample(documents, CALIBRATION_SAMPLE)
        #: The places the documents are about (北关区, 安阳市北关区). Every sentence is
        #: about it, so a question naming it asks nothing by it (安阳市, the city, stays a
        #: topic: its figures are not the district's).
        self.subject_words = subject_words(d for d in self.documents.values() if documents is None or d.id in documents)
        names = sorted(self.subject_words, key=len, reverse=True)
        self._subject = re.compile("|".join(map(re.escape, names))) if names else None
        self._glossary = self.stats.glossary
        #: Reads a misspelt question word as the documents' own (建筑叶 → 建筑业).
        self.speller = Speller(self.stats.doc_freq, self.stats.uses, latin_words())
        searched = [d for d in self.documents.values() if documents is None or d.id in documents]
        years = [d.year for d in searched if d.year is not None]
        self._year = max(years) if years else None
        self._years = set(years)
        #: How many places the searched documents are about (今年 is one year only within one).
        self.place_count = len({d.place or d.id for d in searched})
        #: The years the searched documents speak of.
        self.covered_years = {y for d in searched for y in (d.years or (d.year, d.year - 1) if d.year else ())}

    @property
    def searched(self) -> tuple[str, ...]:
        """The ids of the documents searched."""
        return self.scope or tuple(self.documents)

    def uses(self, word: str) -> bool:
        """Whether the documents searched use ``word`` (a word they never use is the
        strongest sign that they do not answer a question about it)."""
        return self.stats.uses(word)

    def documents_in(self, passages: list[Passage]) -> list[str]:
        """The distinct documents of ``passages``, newest first."""
        ids = list(dict.fromkeys(p.document for p in passages if p.document))
        return sorted(ids, key=lambda d: -(self.documents[d].year or 0) if d in self.documents else 0)

    def scoped(self, documents) -> Retriever:
        """The same retriever searching only ``documents`` (ids; None: all). Raises
        ValueError naming an id that is not in the index."""
        key = validate_documents(documents)
        if key is None or set(key) == set(self.documents):
            key = None
        if key == self.scope:
            return self
        unknown = [d for d in key if d not in self.documents]
        if unknown or not key:
            known = ", ".join(self.documents) or "none"
            raise UnknownDocumentError(
                f"unknown document id {unknown[0] if unknown else '(none given)'!r}; documents: {known}"
            )
        cached = self._scopes.get(key)
        if cached is None:
            cached = copy.copy(self)  # shares the index, the model and this cache
            cached._scope(key)
            if len(self._scopes) < MAX_SCOPES:
                self._scopes[key] = cached
        # What a scope computes (its stats, speller, calibration) does not depend on the
        # fusion weights: one scope serves every set of weights.
        return cached if cached.fusion == self.fusion else cached.with_fusion(self.fusion)

    def with_fusion(self, fusion: Fusion) -> Retriever:
        """The same retriever (index, model, caches shared) with other fusion weights."""
        other = copy.copy(self)
        other.fusion = fusion
        return other

    @property
    def year(self) -> int | None:
        """The newest searched document's own year (今年), from its cover date."""
        return self._year

    def year_of(self, passage: Passage) -> int | None:
        """The year of the document a passage comes from."""
        return passage.document_year if passage.document else self.year

    def question_period(self, question: str, year: int | None = None) -> str | None:
        """Which part of a report of ``year`` (default: the newest searched) the question's
        time words point to (see :func:`qa.text.vocabulary.period_cues`). Searching one
        report, 今年 is its year; searching reports of several years, 今年 is the newest
        one's (the reader's "now"), and each report is read against that."""
        if year is None or year == self.year:
            return period_cues(question, self.year)
        if len(self._years) > 1:
            question = absolute_years(question, self.year)
        return period_cues(question, year)

    def query_vector(self, question: str) -> np.ndarray:
        """The question's unit embedding (cached by the embedder)."""
        return self.embedder.encode_query(normalize_query_text(question))

    def sentences(self, passage: Passage) -> list[tuple[Sentence, np.ndarray]]:
        """A passage's sentences in order, each with its stored unit embedding."""
        return self.index.passage_sentences(passage.position)

    def sentence_similarity_sample(self, question: str) -> np.ndarray:
        """Cosine of the question to a fixed sample of the report's sentences (all of
        them up to :data:`CALIBRATION_SAMPLE`): how similar an unrelated sentence is."""
        if not len(self._calibration):
            return np.empty(0, dtype=np.float32)
        return self._calibration @ self.query_vector(question)

    @staticmethod
    def about_report(question: str) -> bool:
        """Whether the question asks about the document itself (who, which meeting, when)."""
        return bool(ABOUT_DOCUMENT.search(question))

    @property
    def glossary_terms(self) -> list[str]:
        """Every way a question can name a glossary term, longest first."""
        return list(dict.fromkeys(key for key, _ in self._glossary))

    def glossary_in(self, text: str, exclude: str | None = None) -> list[tuple[str, str]]:
        """(term, definition) of the glossary terms that ``text`` uses."""
        clean = match_form(text)
        named = list(dict.fromkeys(pos for key, pos in self._glossary if key in clean))
        out = {
            pos: (chunk.heading[-1], chunk.text.split("：", 1)[-1])
            for pos, chunk in zip(named, self.index.passages(named))
            if chunk.id != exclude
        }
        return [out[p] for p in sorted(out)]

    def passage_ids(self, positions) -> list[str]:
        """The ids of the passages at ``positions``."""
        return [c.id for c in self.index.passages(positions)]

    def glossary_hits(self, question: str) -> list[int]:
        """Positions of glossary entries whose term the question names."""
        q = match_form(question)
        hits: list[int] = []
        for key, pos in self._glossary:
            if key in q and pos not in hits:
                hits.append(pos)
        return hits

    def _dense_ranking(self, query: str, n: int) -> np.ndarray:
        vec = self.embedder.encode_query(query)
        return self.index.dense_search(vec, n, self.scope)

    def _sentence_ranking(self, query: str, n: int) -> np.ndarray:
        """Passages ranked by their most similar sentence (finds a passage whose one
        sentence answers, however much else it says)."""
        chunks = self.index.sentence_search(self.embedder.encode_query(query), 4 * n, self.scope)
        return np.array(list(dict.fromkeys(np.asarray(chunks).tolist()))[:n], dtype=np.int64)

    def _bm25_ranking(self, query: str, n: int) -> np.ndarray:
        tokens = self.analyzer.query_tokens(query)
        return self.index.lexical_search(tokens, n, self.scope) if tokens else np.empty(0, dtype=np.int64)

    def search_text(self, question: str) -> str:
        """What is searched for: the question normalised and spelled right, without the
        names of the places the searched reports are about (every passage is about them:
        they would only draw the passages that name them, the least informative)."""
        query = self.speller.correct(normalize_query_text(question))
        if self._subject is None:
            return query
        stripped = self._subject.sub("", query)
        return stripped if stripped.strip(" ，,。？?的") else query

    def scores(self, question: str, k: int = 0) -> dict[int, float]:
        """Fused score of every candidate passage (by position in the index); each ranking
        contributes at least ``k`` candidates so that ``k`` passages can be returned."""
        query = self.search_text(question)
        n = min(max(self.settings.candidates, k), self.passage_count)
        fused: dict[int, float] = {}
        w = self.fusion
        for weight, ranking in (
            (w.dense, self._dense_ranking(query, n) if w.dense else ()),
            (w.bm25, self._bm25_ranking(query, n) if w.bm25 else ()),
            (w.sentence, self._sentence_ranking(query, n) if w.sentence else ()),
        ):
            for rank, pos in enumerate(np.asarray(ranking, dtype=np.int64).tolist()):
                fused[pos] = fused.get(pos, 0.0) + weight / (w.rrf_k + rank + 1)
        unit = 1.0 / (w.rrf_k + 1)
        for pos in self.glossary_hits(query):
            fused[pos] = fused.get(pos, 0.0) + w.glossary * unit
        if self.about_report(query):
            for pos in self.stats.meta:
                fused[pos] = fused.get(pos, 0.0) + w.meta * unit
        # Time words are read against each document's own year.
        periods = {}
        for pos, chunk in zip(list(fused), self.index.passages(list(fused))):
            doc = self.documents.get(chunk.document)
            year = doc.year if doc is not None else self.year
            if year not in periods:
                periods[year] = self.question_period(query, year) if year is not None else None
            period = periods[year]
            if period and chunk.period in PREFERRED_PERIODS[period]:
                fused[pos] += w.period * unit
        return fused

    def place_mention(self, question: str) -> PlaceMention:
        """The searched documents whose place ``question`` names, and the places it names
        that none of them is about (see :mod:`qa.retrieval.routing`)."""
        return self.places.mention(normalize_query_text(question), self.scope)

    def place_documents(self, question: str) -> tuple[str, ...] | None:
        """The searched documents whose place the question names (None: all of them, or
        it names none)."""
        named = self.place_mention(question).documents
        return named if named and len(named) < len(self.searched) else None

    def preferred_documents(self, question: str) -> tuple[str, ...] | None:
        """Among the searched reports, the ones a question is about (None: all).

        A question that names the places of some reports is about those. Among reports
        of one place in several years, a year asked for a result is reviewed by the next
        year's report (2019年GDP → the 2020 report), a year asked for a target is planned
        in its own; 今年/去年 are read against that place's newest report (the reader's
        "now"), and a question naming no year is about now: its newest report. A question
        naming no place but a year (2019年) is asked of the reports that cover that year;
        one that says only 今年 or 去年 is ambiguous across places, and asked of each
        place's newest report."""
        searched = [d for d in self.documents.values() if self.scope is None or d.id in self.scope]
        named = self.place_documents(question)
        docs = [d for d in searched if named is None or d.id in named]
        low = normalize_query_text(question).lower()
        plan = asks_plan(low)
        if named is None:
            asked = years_named(low, None)  # calendar years only: 今年 differs from place to place
            covering = [d for d in docs if d.year is not None and asked & {d.year, d.year - 1}]
            docs = covering or docs
        places: dict[str, list] = {}
        for d in docs:
            places.setdefault(d.place or d.id, []).append(d)
        chosen = []
        for group in places.values():
            dated = [d for d in group if d.year is not None]
            newest = max((d.year for d in dated), default=None)
            if len({d.year for d in dated}) < 2:
                chosen += group
                continue
            years = years_named(low, newest)
            if years:
                reviews = [d for d in dated if d.year - 1 in years]
                plans = [d for d in dated if d.year in years]
                pick = (plans or reviews) if plan else (reviews or plans)
            else:
                pick = [d for d in dated if d.year == newest]
            chosen += pick or group
        ids = tuple(d.id for d in chosen)
        return ids if ids and len(ids) < len(searched) else None

    def search(self, question: str, k: int = 5, prefer: bool = True) -> list[Passage]:
        """The ``k`` best passages, best first; among reports of several years, those of
        the :meth:`preferred_documents` first (``prefer=False``: all ranked together)."""
        question = validate_question(question)
        validate_k(k)
        preferred = self.preferred_documents(question) if prefer else None
        if preferred:
            first = self.scoped(preferred).search(question, k)
            seen = {p.chunk_id for p in first}
            rest = [p for p in self.search(question, k, prefer=False) if p.chunk_id not in seen]
            return (first + rest)[:k]
        fused = self.scores(question, k)
        best = sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        chunks = self.index.passages([pos for pos, _ in best])
        return [self._passage(c, pos, score) for c, (pos, score) in zip(chunks, best, strict=True)]

    def _passage(self, c: Chunk, pos: int, score: float) -> Passage:
        doc = self.documents.get(c.document)
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
            pages=c.pages,
            period=c.period,
            document=c.document,
            document_title=doc.title if doc else "",
            document_year=doc.year if doc else None,
            position=int(pos),
        )
