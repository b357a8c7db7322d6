"""What retrieval and the answer layer may ask of a store, and the stores there are.

A store holds a build of the corpus: every document's passages (positions are the
store's own numbers for them), their sentences with unit embeddings, dense, sentence and
lexical indexes, and each document's statistics (:mod:`qa.stores.stats`). :class:`Store` lists
every read the retriever makes; both backends (:data:`BACKENDS`) implement all of it
with the same meaning, which ``tests/test_store_contract.py`` checks on a small corpus.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["BACKENDS", "Embedder", "Store"]


@runtime_checkable
class Store(Protocol):
    """A loaded build of the corpus, read-only. ``documents`` filters are tuples of
    document ids (None: every document); results are positions, best first."""

    #: The documents in this build (:class:`qa.corpus.builder.DocumentInfo`), in corpus order.
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
        """The passages (:class:`qa.ingest.chunking.Chunk`) at ``positions``, in that order."""

    def passage_sentences(self, position: int) -> list:
        """A passage's sentences in order, each with its unit embedding."""

    def sentence_sample(self, documents: tuple[str, ...] | None, size: int) -> np.ndarray:
        """Unit embeddings of up to ``size`` sentences spread evenly over the documents'
        sentences in corpus order (every ``k``-th, from the first): all when fewer."""

    def stats(self, documents: tuple[str, ...] | None = None):
        """The documents' statistics merged (:class:`qa.stores.stats.CorpusStats`)."""

    def dense_search(self, vector: np.ndarray, n: int, documents: tuple[str, ...] | None = None) -> np.ndarray:
        """Positions of the ``n`` passages most similar to ``vector``."""

    def sentence_search(self, vector: np.ndarray, n: int, documents: tuple[str, ...] | None = None) -> np.ndarray:
        """Positions of the passages of the ``n`` sentences most similar to ``vector``
        (a passage appears once per sentence found)."""

    def lexical_search(self, tokens: list[str], n: int, documents: tuple[str, ...] | None = None) -> np.ndarray:
        """Positions of the ``n`` passages that BM25 ranks highest for ``tokens``."""


class StoreBackend(Protocol):
    """How a store is written and opened: the methods the classes in :data:`BACKENDS`
    offer on themselves (class methods), for the corpus builder and the engine. A build
    is installed in two steps: :meth:`write` adds the store's own files to the build's
    folder before it is switched to; :meth:`publish` makes the store serve it (before
    the local manifest is replaced)."""

    def describe(self, settings) -> str:
        """Where this store keeps the index, for messages (a folder, a Milvus URI)."""

    def write(self, build, folder: Path) -> dict:
        """Write the store's files for ``build`` (:class:`qa.records.Build`) into its
        folder; returns what the manifest should say of them."""

    def publish(self, settings, build) -> None:
        """Make the store serve ``build`` (a no-op where the local manifest is what serves)."""

    def current_manifest(self, settings) -> dict:
        """The manifest of the build the store serves; raises
        :class:`qa.errors.IndexUnavailableError` when there is none or it cannot be read."""

    def current_build(self, settings) -> str | None:
        """The name of the build the store serves (None: none)."""

    def stamp(self, settings) -> tuple | None:
        """What changes when the served build does, read cheaply (a serving process asks
        about once a second); None when there is no build."""

    def open(self, settings) -> Store:
        """The build the store serves, loaded and verified."""


class Embedder(Protocol):
    """What building and searching need of an embedding model."""

    @property
    def fingerprint(self) -> str: ...

    def encode_passages(self, texts: list[str], show_progress: bool = False) -> np.ndarray: ...

    def encode_query(self, text: str) -> np.ndarray: ...

    def prepare_query_encoder(self) -> None: ...


class _Backends(Mapping):
    """Backend name → the class of its loaded store (a :class:`Store`, and a
    :class:`StoreBackend` through its class methods), imported on first use (Milvus's
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
