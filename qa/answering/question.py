"""Question analysis, done once per question: what is asked, about what, for when.

:func:`analyze` turns a question (a follow-up already completed, see
:mod:`qa.answering.followup`) into a :class:`Question`: its normalised text, language, content
words and which of them the report never uses, the kind of answer asked for, the unit,
the years and the part of the report they point to, and the glossary terms and places
it names. Every later step reads these fields instead of re-deriving them from text.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ..text.lexical import normalize_query_text
from ..text.vocabulary import (
    ASK_WORD,
    PER_UNIT,
    TIME_WORDS,
    asked_object,
    asked_types,
    asked_unit,
    asks_plan,
    asks_span,
    expansions,
    is_place,
    years_named,
)

__all__ = ["NEAR_FIGURE_CHARS", "Question", "analyze", "before_figure", "language_of"]

_CJK = re.compile(r"[\u4e00-\u9fff]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
_YEARISH = re.compile(r"^\d+年?$")


#: How many characters before a figure say what it is of (``新增城镇就业`` in
#: ``新增城镇就业3710人``): the window searched for the asked words.
NEAR_FIGURE_CHARS = 12


def before_figure(text: str, figure: re.Match) -> str:
    """The words just before ``figure`` in ``text`` (see :data:`NEAR_FIGURE_CHARS`)."""
    return text[max(0, figure.start() - NEAR_FIGURE_CHARS) : figure.start()]


@dataclass(frozen=True)
class Question:
    """Everything the answer layer needs to know about a question."""

    text: str  # as asked (a follow-up completed)
    normalized: str  # NFKC, simplified characters, spaces collapsed
    language: str  # "zh" or "en" (any question without Chinese characters)
    tokens: tuple[str, ...]  # content words, time words and stopwords removed
    weights: tuple[float, ...]  # rarity of each content word in the report (idf)
    absent: tuple[str, ...]  # content words the report never uses (nor their thesaurus wordings)
    types: frozenset[str]  # kinds of answer asked for (see vocabulary.ANSWER_TYPES)
    unit: str | None  # unit named after 多少/几
    counted: str | None  # the thing counted or measured (几所大学 → 大学)
    years: frozenset[int]  # calendar years pointed at
    period: str | None  # review / plan / this_year / None
    plan: bool  # asks for a target or plan
    per_unit: bool  # asks for a rate per person, household, month…
    span: bool  # asks for a figure over several years (这五年一共…)
    glossary: tuple[str, ...]  # ids of the glossary entries whose term it names
    places: tuple[str, ...]  # places it names
    places_absent: tuple[str, ...]  # named places the report never mentions, or is not about
    about_report: bool  # asks about the document itself

    @property
    def asks_figure(self) -> bool:
        """Whether a figure (amount, count, share …) is asked for, not what a term means."""
        return "figure" in self.types and "definition" not in self.types

    @property
    def absent_share(self) -> float:
        """Rarity-weighted share of the content words that the report never uses."""
        total = sum(self.weights)
        return sum(w for t, w in zip(self.tokens, self.weights) if t in self.absent) / total if total else 0.0


def language_of(text: str) -> str:
    """``zh`` when the text has Chinese characters, else ``en`` (Latin or other)."""
    return "zh" if len(_CJK.findall(text)) >= 2 or not _LATIN_WORD.search(text) else "en"


def analyze(text: str, retriever) -> Question:
    """Analyse ``text`` against the report behind ``retriever``."""
    normalized = retriever.speller.correct(normalize_query_text(text))
    low = normalized.lower()
    language = language_of(normalized)
    # English words stand in the report's own Chinese wording (GDP, which it uses, stays);
    # the report's subject (its district, named on the cover) is no topic of a question.
    words = [
        w
        for w in retriever.analyzer.tokens(normalized)
        if not (w.isascii() and not retriever.uses(w)) and w not in retriever.subject_words
    ]
    words += retriever.analyzer.tokens(" ".join(expansions(normalized, latin_only=True)))
    tokens = tuple(
        t for t in dict.fromkeys(words) if t not in TIME_WORDS and not _YEARISH.match(t) and not ASK_WORD.match(t)
    )
    n = max(retriever.passage_count, 1)
    weights = tuple(math.log(1 + n / (1 + retriever.doc_freq.get(t, 0))) for t in tokens)
    absent = tuple(
        t
        for t in tokens
        if _CJK.search(t) and not retriever.uses(t) and not any(retriever.uses(w) for w in expansions(t))
    )
    counted = asked_object(normalized, retriever.analyzer.words)
    places = tuple(t for t in retriever.analyzer.tokens(normalized) if is_place(t))
    return Question(
        text=text,
        normalized=normalized,
        language=language,
        tokens=tokens,
        weights=weights,
        absent=absent,
        types=asked_types(low),
        unit=asked_unit(normalized),
        counted=counted,
        years=frozenset(years_named(low, retriever.year)),
        period=retriever.question_period(low),
        plan=asks_plan(low),
        per_unit=bool(PER_UNIT.search(low)),
        span=asks_span(low),
        glossary=tuple(retriever.passage_ids(retriever.glossary_hits(normalized))),
        places=places,
        places_absent=tuple(
            dict.fromkeys(
                [p for p in places if not retriever.uses(p) and not retriever.uses(p[:-1])]
                + list(retriever.place_mention(normalized).others)
            )
        ),
        about_report=retriever.about_report(normalized),
    )
