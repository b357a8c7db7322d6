"""One object that owns the loaded model and index and answers questions.

The model and index are loaded once, lazily, under a lock; the same engine then
serves any number of threads. When the index changes (a document added or removed,
here or by another process), the next question loads the new one. ``qa.retrieve`` and
``qa.answer`` use a process-wide default engine; make your own :class:`Engine` for
other settings.
"""

from __future__ import annotations

import logging
import threading
import time

from .answering.answer import Answer, Answerer
from .answering.features import FEATURES
from .answering.model import Fitted, load_fitted
from .config import Settings
from .corpus.builder import (
    DocumentInfo,
    add_documents,
    build_index,
    list_documents,
    load_index,
    remove_document,
)
from .embedding.embedder import Embedder
from .errors import IndexCorruptError, IndexMissingError, IndexStaleError, IndexUnavailableError
from .retrieval.retriever import Passage, Retriever
from .stores import BACKENDS

log = logging.getLogger(__name__)

__all__ = ["Engine", "default_engine"]


class Engine:
    """Loads lazily; builds the index when there is none yet, and with ``rebuild=True``
    also when it is corrupt or stale."""

    def __init__(self, settings: Settings | None = None, rebuild: bool = False):
        self.settings = settings or Settings()
        self.rebuild = rebuild
        self.embedder = Embedder(self.settings)
        self._retriever: Retriever | None = None
        self._answerer: Answerer | None = None
        self._fitted: Fitted | None = None
        self._lock = threading.Lock()
        self._manifest_stamp: tuple | None = None
        self._checked_at = 0.0

    @property
    def fitted(self) -> Fitted:
        """The fitted fusion weights and answer model (loaded once)."""
        if self._fitted is None:
            self._fitted = load_fitted(self.settings.fitted, FEATURES)
        return self._fitted

    #: How often (seconds) a serving engine looks whether the index changed.
    CHANGE_CHECK_SECONDS = 1.0

    def _stamp(self) -> tuple | None:
        """What changes when the served build does (see :meth:`StoreBackend.stamp`)."""
        try:
            return BACKENDS[self.settings.store].stamp(self.settings)
        except IndexUnavailableError:
            return self._manifest_stamp  # unreachable now: keep serving what is loaded

    @property
    def retriever(self) -> Retriever:
        now = time.monotonic()
        if self._retriever is not None and now - self._checked_at >= self.CHANGE_CHECK_SECONDS:
            self._checked_at = now
            if self._stamp() != self._manifest_stamp:
                log.info("the index changed: loading the new one")
                with self._lock:
                    self._retriever = self._answerer = None
        if self._retriever is None:
            with self._lock:
                if self._retriever is None:
                    self._retriever = self._load()
        return self._retriever

    def _load(self) -> Retriever:
        retriever = self.untuned_retriever().with_fusion(self.fitted.fusion)
        self._manifest_stamp = self._stamp()
        self._checked_at = time.monotonic()
        return retriever

    def untuned_retriever(self) -> Retriever:
        """A retriever over the index with default fusion weights (for fitting them)."""
        try:
            index = load_index(self.settings, self.embedder.fingerprint)
        except IndexMissingError:
            log.warning(
                "no index at %s yet: building it (once: about 20 s, 45 s when the model is converted too)",
                self.settings.index_dir,
            )
            build_index(self.settings, self.embedder, progress=False, if_missing=True)
            index = load_index(self.settings, self.embedder.fingerprint)
        except (IndexCorruptError, IndexStaleError) as exc:
            if not self.rebuild:
                raise
            log.warning("%s — rebuilding now", exc)
            build_index(self.settings, self.embedder)
            index = load_index(self.settings, self.embedder.fingerprint)
        self.embedder.prepare_query_encoder()
        return Retriever(index, self.embedder, self.settings)

    def load(self) -> Engine:
        """Load now rather than on the first question (e.g. at app start)."""
        _ = self.retriever
        return self

    def rebuild_index(self) -> dict:
        """Rebuild the index from the corpus and switch to it; returns the manifest."""
        with self._lock:
            manifest = build_index(self.settings, self.embedder)
            self._retriever = None
            self._answerer = None
        return manifest

    def documents(self) -> list[DocumentInfo]:
        """The documents in the index."""
        _ = self.retriever  # builds the index on first use
        return list_documents(self.settings)

    def add_documents(self, paths, title: str | None = None, progress=False) -> tuple[list[DocumentInfo], list]:
        """Add files to the corpus (see :func:`qa.corpus.builder.add_documents`) and serve the new index."""
        _ = self.retriever
        added, errors = add_documents(self.settings, paths, self.embedder, title=title, progress=progress)
        if added:
            with self._lock:
                self._retriever = self._answerer = None
        return added, errors

    def remove_document(self, doc_id: str) -> DocumentInfo:
        """Remove a document from the corpus and serve the new index."""
        _ = self.retriever
        gone = remove_document(self.settings, doc_id, self.embedder)
        with self._lock:
            self._retriever = self._answerer = None
        return gone

    def retrieve(self, question: str, k: int = 5, documents=None) -> list[Passage]:
        return self._on_current(lambda: self.retriever.scoped(documents).search(question, k))

    def answer(self, question: str, history: list[dict] | None = None, documents=None) -> Answer:
        def ask() -> Answer:
            retriever = self.retriever
            answerer = self._answerer
            if answerer is None or answerer.retriever is not retriever:
                answerer = self._answerer = Answerer(retriever, self.fitted.answer)
            return answerer.answer(question, history, documents)

        return self._on_current(ask)

    def _on_current(self, work):
        """Run ``work``; if another process changed the index under it (a shared store
        whose passages went away mid-question), load the new index and run it once more."""
        try:
            return work()
        except IndexStaleError:
            if self._stamp() == self._manifest_stamp:
                raise
            log.info("the index changed during a question: loading the new one")
            with self._lock:
                self._retriever = self._answerer = None
            return work()


_default: Engine | None = None
_default_lock = threading.Lock()


def default_engine() -> Engine:
    global _default
    with _default_lock:
        if _default is None:
            _default = Engine()
        return _default
