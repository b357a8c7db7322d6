"""The weights of the retriever's rank fusion: fitted by ``qa train`` and saved with the
answer model (:mod:`qa.answering.model`), read by :class:`qa.retrieval.retriever.Retriever`."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Fusion"]


@dataclass(frozen=True)
class Fusion:
    """Weights of reciprocal rank fusion, in units of one top-1 vote (1 / (rrf_k + 1)).

    The defaults are the untuned starting point of the grid search, not the shipped
    values (those are in the fitted file)."""

    dense: float = 1.0
    bm25: float = 1.5
    sentence: float = 1.0
    glossary: float = 1.0
    period: float = 0.75
    meta: float = 3.0
    rrf_k: int = 60
