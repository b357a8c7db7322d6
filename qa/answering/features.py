"""Candidate sentences for an answer, each described by general features.

Every sentence of the top retrieved passages is a candidate. Its features say how
well it matches the question (dense similarity to the question, stored sentence
embeddings making that a dot product; rarity-weighted word coverage; the passage's
rank) and whether it gives the kind of thing asked for (a figure of the asked kind
and unit next to the asked words and in their clause, a date, a definition, a reason,
a per-person rate, the period and year asked — one year's figure, not a total over
several — not its counterpart: 城镇 for 农村). A fitted model
(:mod:`qa.answering.model`) turns them into the probability that the sentence answers
the question.

Only search hits and the index's stored data are used: no ranking internals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..records import Sentence
from ..retrieval.retriever import Passage, Retriever
from ..text.vocabulary import (
    ASKED_FIGURE_KINDS,
    CLAUSE,
    DATE,
    MULTI_YEAR,
    OFFICE,
    PER_UNIT,
    PREFERRED_PERIODS,
    answering_kinds,
    figure_kind,
    figures,
    is_reason,
    siblings,
    thesaurus,
    unit_fits,
    years_named,
)
from .question import Question, before_figure

__all__ = [
    "CANDIDATE_PASSAGES",
    "DECLINE_FLAGS",
    "FEATURES",
    "FLAG_REASONS",
    "Candidate",
    "candidates",
    "coverage",
    "reasons",
]

#: Passages whose sentences are candidates.
CANDIDATE_PASSAGES = 5

#: Feature names, in the order of a candidate's vector.
FEATURES = (
    "dense",
    "dense_z",
    "dense_rank",
    "passage_rank",
    "passage_score",
    "coverage",
    "context_coverage",
    "bigram",
    "absent_share",
    "figure_fit",
    "figure_missing",
    "kind_mismatch",
    "unit_missing",
    "figure_echoed",
    "near_figure",
    "clause_coverage",
    "counted_missing",
    "sibling_instead",
    "date_fit",
    "date_missing",
    "definition_entry",
    "named_entry",
    "per_unit_missing",
    "reason_missing",
    "list_fit",
    "name_fit",
    "year_uncovered",
    "year_elsewhere",
    "span_mismatch",
    "period_match",
    "period_mismatch",
    "place_absent",
    "about_cover",
    "english",
    "english_dense",
    "length",
    "dense_margin",
    "coverage_margin",
)

#: Why a candidate is not a confident answer, for the flags that can say so.
FLAG_REASONS = {
    "absent_share": "the question's words do not occur in the report: {absent}",
    "figure_missing": "a figure is asked for and the sentence gives none",
    "kind_mismatch": "the sentence gives no figure of the kind asked ({kinds})",
    "unit_missing": "no figure in the asked unit ({unit})",
    "figure_echoed": "the sentence's figure is one the question already gives",
    "counted_missing": "the sentence does not name what is counted ({counted})",
    "sibling_instead": "the sentence speaks of the counterpart of what is asked ({siblings})",
    "date_missing": "a date is asked for and the sentence gives none",
    "per_unit_missing": "a per-person or per-unit rate is asked for and the sentence gives none",
    "reason_missing": "a reason is asked for and the sentence gives none",
    "year_uncovered": "the question asks about a year the report does not cover ({years})",
    "year_elsewhere": "the sentence speaks of another year than asked ({asked_years})",
    "period_mismatch": "the sentence speaks of another period than asked",
    "place_absent": "the question names a place the report is not about ({places})",
}

#: The flags that are set (1) when a sentence lacks something the question asks for
#: (``absent_share`` is the question's, a share, not the sentence's).
DECLINE_FLAGS = tuple(name for name in FLAG_REASONS if name != "absent_share")

#: How a reason names the kinds of figure a question asks for.
KIND_WORDS = {
    "percent": "a rate",
    "money": "a sum of money",
    "count": "a count",
    "area": "an area",
    "amount": "a quantity",
}

_CJK_BIGRAM = re.compile(r"(?=([\u4e00-\u9fff]{2}))")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


@dataclass(frozen=True)
class Candidate:
    """A sentence that may answer the question, the passage it stands in, its features."""

    sentence: Sentence
    passage: Passage
    rank: int  # the passage's retrieval rank, 0 = best
    features: np.ndarray


def coverage(question: Question, text: str) -> float:
    """Rarity-weighted share of the question's content words found in ``text``.

    A word counts if it or a thesaurus wording of it occurs; a word that does not
    earns half the share of its characters that do (``新盖`` for ``新建``)."""
    total = got = 0.0
    known = thesaurus()
    for token, weight in zip(question.tokens, question.weights):
        total += weight
        if token in text or any(w in text for w in known.get(token, ())):
            got += weight
        elif len(token) > 1:
            got += weight * 0.5 * sum(ch in text for ch in token) / len(token)
    return got / total if total else 0.0


def _names(word: str, text: str, most: float = 0.5) -> bool:
    """Whether ``text`` names ``word``: itself, a thesaurus wording, or more than
    ``most`` of its characters."""
    if word in text or any(w in text for w in thesaurus().get(word, ())):
        return True
    return sum(ch in text for ch in word) / len(word) > most


def _bigram_share(question: Question, text: str) -> float:
    grams = set(_CJK_BIGRAM.findall(question.normalized))
    return sum(g in text for g in grams) / len(grams) if grams else 0.0


def _near_figure(question: Question, text: str, found: list[re.Match]) -> float:
    """Weighted share of the question's words (or their thesaurus wordings) standing
    just before one of the figures: the figure is of the asked thing."""
    total = sum(question.weights)
    if not found or not total:
        return 0.0
    best = 0.0
    for m in found:
        before = before_figure(text, m)
        best = max(
            best, sum(w for t, w in zip(question.tokens, question.weights) if len(t) > 1 and _names(t, before, 1.0))
        )
    return best / total


def _clause_coverage(question: Question, text: str, found: list[re.Match], kinds: set[str]) -> float:
    """The best :func:`coverage` of the question by one clause of ``text`` that holds one
    of its figures ``found`` (of an asked kind, when one is asked): the figure and the
    asked words stand together (``完成规模以上工业总产值745亿元``), not in different
    clauses of a long list."""
    best = 0.0
    for clause in CLAUSE.finditer(text):
        if any(
            clause.start() <= m.start() < clause.end() and (not kinds or figure_kind(m.group(0)) in kinds)
            for m in found
        ):
            best = max(best, coverage(question, clause.group(0)))
    return best


def _echoed(given: set[str], asked: list[re.Match]) -> bool:
    """Whether every figure of the asked kind is one the question itself states (its numbers
    ``given``; 那16起案子涉及多少群众 is not answered by 16起): a question gives what it knows,
    asks what it does not."""
    return bool(asked) and all((found := _NUMBER.findall(m.group(0))) and set(found) <= given for m in asked)


def _asked_years(question: Question, retriever: Retriever) -> set[int]:
    """The years a question asks about: 今年 and 去年 name one year among the reports of
    one place; across places only a calendar year (2023年) says which."""
    return set(question.years) if retriever.place_count <= 1 else years_named(question.normalized.lower(), None)


def _counterparts(question: Question, text: str) -> list[str]:
    """The words of the question (农村) that ``text`` does not name (see :func:`_names`:
    nor a shorter sibling word within them) while naming a sibling of them that the
    question does not (城镇; see :func:`qa.text.vocabulary.siblings`): the sentence gives
    the other one's figure. 政协委员提案 names 政协提案, and 公立…民办 names 公办."""
    known = siblings()
    asked = [w for w in known if w in question.normalized]
    out = []
    for word in asked:
        parts = [w for w in asked if w in word]  # 城镇居民 is named by 城镇 too
        others = {o for w in parts for o in known[w]} - set(asked)
        if not any(_names(w, text) for w in parts) and any(o in text for o in others):
            out.append(word)
    return [w for w in out if not any(w != o and w in o for o in out)]


def candidates(question: Question, passages: list[Passage], retriever: Retriever) -> list[Candidate]:
    """The sentences of the top passages with their feature vectors."""
    passages = passages[:CANDIDATE_PASSAGES]
    if not passages:
        return []
    query = retriever.query_vector(question.normalized)
    all_sims = retriever.sentence_similarity_sample(question.normalized)
    mean, std = (float(all_sims.mean()), float(all_sims.std()) + 1e-6) if len(all_sims) else (0.0, 1.0)
    rank_scale = retriever.sentence_count / max(len(all_sims), 1)  # the sample stands for all
    top_score = passages[0].score or 1.0
    asked_kinds = answering_kinds(question.types)
    asks_figure = question.asks_figure
    given = set(_NUMBER.findall(question.normalized))
    asks_date = "date" in question.types
    english = question.language == "en"
    covered_years = retriever.covered_years
    asked_years = _asked_years(question, retriever)
    # A question about one year or part of the report, not a total over several years.
    one_period = bool(question.years or question.period)
    out: list[Candidate] = []
    for rank, passage in enumerate(passages):
        context = f"{passage.section} {passage.text}"
        context_cov = coverage(question, context)
        glossary_entry = passage.entry is not None
        # A year the report does not cover, named without one it does (前年 beside 去年 is
        # a comparison the report may well answer).
        uncovered = [y for y in question.years if y not in covered_years and str(y) not in context]
        uncovered = uncovered if not question.years & covered_years else []
        # The period is read against the passage's own document (今年 in a 2021 report is 2021).
        year = retriever.year_of(passage)
        period = (
            question.period if year == retriever.year else retriever.question_period(question.normalized.lower(), year)
        )
        preferred = PREFERRED_PERIODS.get(period or "", set())
        # The year a part of the report speaks of: its review the year before it, its plan its own.
        own_year = None if year is None or passage.period is None else year - (passage.period == "review")
        for sentence, vector in retriever.sentences(passage):
            text = sentence.text
            sim = float(vector @ query)
            found = figures(text)
            kinds = {figure_kind(m.group(0)) for m in found}
            asked_figures = [m for m in found if figure_kind(m.group(0)) in asked_kinds] if asked_kinds else found
            values = {
                "dense": sim,
                "dense_z": (sim - mean) / std,
                "dense_rank": 1.0 / (1 + int((all_sims > sim).sum()) * rank_scale),
                "passage_rank": 1.0 / (1 + rank),
                "passage_score": passage.score / top_score,
                "coverage": coverage(question, text),
                "context_coverage": context_cov,
                "bigram": _bigram_share(question, text),
                "absent_share": question.absent_share,
                "figure_fit": float(asks_figure and bool(found) and (not asked_kinds or bool(kinds & asked_kinds))),
                "figure_missing": float(asks_figure and not found),
                "kind_mismatch": float(asks_figure and bool(asked_kinds) and bool(found) and not kinds & asked_kinds),
                "unit_missing": float(
                    bool(question.unit) and not any(unit_fits(question.unit, m.group(0)) for m in found)
                ),
                "figure_echoed": float(asks_figure and _echoed(given, asked_figures)),
                "near_figure": _near_figure(question, text, asked_figures or found) if asks_figure else 0.0,
                "clause_coverage": _clause_coverage(question, text, found, asked_kinds) if asks_figure else 0.0,
                "counted_missing": float(bool(question.counted) and not _names(question.counted, text)),
                "sibling_instead": float(bool(_counterparts(question, text))),
                "date_fit": float(asks_date and bool(DATE.search(text))),
                "date_missing": float(asks_date and not DATE.search(text)),
                "definition_entry": float(
                    glossary_entry
                    and passage.chunk_id in question.glossary
                    # what the term is, which parts, where, who, when: what a note tells; not a figure alone
                    and (not question.asks_figure or "list" in question.types)
                ),
                "named_entry": float(glossary_entry and passage.chunk_id in question.glossary),
                "per_unit_missing": float(question.per_unit and not PER_UNIT.search(text)),
                "reason_missing": float("reason" in question.types and not is_reason(text)),
                "list_fit": float("list" in question.types and "、" in text),
                "name_fit": float("name" in question.types and bool(OFFICE.search(text))),
                "year_uncovered": float(bool(uncovered)),
                "year_elsewhere": float(
                    own_year is not None
                    and bool(asked_years)
                    and own_year not in asked_years
                    and not any(str(y) in f"{passage.section} {text}" for y in asked_years)
                ),
                "span_mismatch": float(one_period and not question.span and bool(MULTI_YEAR.search(text))),
                "period_match": float(bool(preferred) and passage.period in preferred),
                "period_mismatch": float(
                    bool(preferred) and passage.period is not None and passage.period not in preferred
                ),
                "place_absent": float(bool(question.places_absent)),
                "about_cover": float(question.about_report and passage.kind in ("cover", "closing")),
                "english": float(english),
                "english_dense": float(english) * (sim - mean) / std,
                "length": min(len(text), 200) / 200,
            }
            values["dense_margin"] = values["coverage_margin"] = 0.0  # set below, against the others
            out.append(Candidate(sentence, passage, rank, np.array([values[f] for f in FEATURES], dtype=np.float64)))
    _margins(out)
    return out


_MARGINS = (
    (FEATURES.index("dense"), FEATURES.index("dense_margin")),
    (FEATURES.index("coverage"), FEATURES.index("coverage_margin")),
)


def _margins(found: list[Candidate]) -> None:
    """How far each candidate stands above the best of the others (negative: below):
    an answer that clearly beats its rivals is likelier right than one of several alike."""
    if len(found) < 2:
        return
    matrix = np.stack([c.features for c in found])
    for source, target in _MARGINS:
        col = matrix[:, source]
        order = np.argsort(-col)
        best, second = col[order[0]], col[order[1]]
        for i, c in enumerate(found):
            c.features[target] = col[i] - (second if i == order[0] else best)


def reasons(question: Question, candidate: Candidate, retriever: Retriever) -> list[str]:
    """Plain words for the flags that fired on a candidate (empty when none did)."""
    values = dict(zip(FEATURES, candidate.features))
    fill = {
        "absent": "、".join(question.absent),
        "kinds": " or ".join(KIND_WORDS[k] for k in sorted(question.types & ASKED_FIGURE_KINDS)),
        "unit": question.unit or "",
        "counted": question.counted or "",
        "years": "、".join(str(y) for y in sorted(question.years - retriever.covered_years)),
        "asked_years": "、".join(str(y) for y in sorted(_asked_years(question, retriever))),
        "places": "、".join(question.places_absent),
        "siblings": "、".join(_counterparts(question, candidate.sentence.text)),
    }
    if values["year_uncovered"]:
        values["year_elsewhere"] = 0.0  # a year the report does not cover says it already
    out = []
    for name, template in FLAG_REASONS.items():
        if values[name] > (0.3 if name == "absent_share" else 0.0):
            out.append(template.format(**fill))
    return out
