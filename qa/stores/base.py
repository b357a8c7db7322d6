"""What retrieval and the answer layer may ask of a store, and the stores there are.

A store holds a build of the corpus: every document's passages (positions are the
store's own numbers for them), their sentences with unit embeddings, dense, sentence and
lexical indexes, and each document's statistics (:mod:`qa.stats`). :class:`Store` lists
every read the retriever makes; both backends (:data:`BACKENDS`) implement all of it
with the same meaning, which ``tests/test_store_contract.py`` checks on a small corpus.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["Store", "Embedder", "BACKENDS"]


@runtime_checkable
class Store(Protocol):
    """A loaded build of the corpus, read-only. ``documents`` filters are tuples of
    document ids (None: every document); results are positions, best first."""

    #: The documents in this build (:class:`qa.index.DocumentInfo`), in corpus order.
    documents: list
    #: Terms added to the tokenizer's dictionary (the documents' own words).
    terms: list[str]
    #: The build's manifest (documents, counts, model, when it was built).
    manifest: dict

    @property
    def passage_count(self) -> int: ...

    def position(self, document: str, number: int) -> int:
        """The position of a document's ``number``-th passage (0, 1, … in its order)."""

    def passages(self, positions) -> list:
        """The passages (:class:`qa.chunking.Chunk`) at ``positions``, in that order."""

    def passage_sentences(self, position: int) -> list:
        """A passage's sentences in order, each with its unit embedding."""

    def sentence_sample(self, documents: tuple[str, ...] | None, size: int) -> np.ndarray:
        """Unit embeddings of up to ``size`` sentences spread evenly over the documents'
        sentences in corpus order (every ``k``-th, from the first): all when fewer."""

    def stats(self, documents: tuple[str, ...] | None = None):
        """The documents' statistics merged (:class:`qa.stats.CorpusStats`)."""

    def dense_search(self, vector: np.ndarray, n: int, documents: tuple[str, ...] | None = None) -> np.ndarray:
        """Positions of the ``n`` passages most similar to ``vector``."""

    def sentence_search(self, vector: np.ndarray, n: int, documents: tuple[str, ...] | None = None) -> np.ndarray:
        """Positions of the passages of the ``n`` sentences most similar to ``vector``
        (a passage appears once per sentence found)."""

    def lexical_search(self, tokens: list[str], n: int, documents: tuple[str, ...] | None = None) -> np.ndarray:
        """Positions of the ``n`` passages that BM25 ranks highest for ``tokens``."""


class Embedder(Protocol):
    """What building and searching need of an embedding model."""

    @property
    def fingerprint(self) -> str: ...

    def encode_passages(self, texts: list[str], show_progress: bool = False) -> np.ndarray: ...

    def encode_query(self, text: str) -> np.ndarray: ...

    def prepare_query_encoder(self) -> None: ...


class _Backends(Mapping):
    """Backend name → the class of its loaded store, imported on first use (Milvus's
    client is imported only by a process that uses it)."""

    _WHERE = {"local": ("qa.stores.local", "ReportIndex"), "milvus": ("qa.stores.milvus", "MilvusIndex")}

    def __getitem__(self, name: str) -> type:
        module, attribute = self._WHERE[name]
        return getattr(importlib.import_module(module), attribute)

    def __iter__(self):
        return iter(self._WHERE)

    def __len__(self) -> int:
        return len(self._WHERE)


#: The store backends: ``local`` (FAISS and bm25s files) and ``milvus`` (Milvus Lite or a server).
BACKENDS: Mapping[str, type] = _Backends()
