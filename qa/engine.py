"""One object that owns the loaded model and index and answers questions.

The model and index are loaded once, lazily, under a lock; the same engine then
serves any number of threads. ``qa.retrieve`` and ``qa.answer`` use a process-wide
default engine; make your own :class:`Engine` for other settings.
"""

from __future__ import annotations

import logging
import threading

from .answer import Answer, Answerer
from .config import Settings
from .embedding import Embedder
from .features import FEATURES
from .index import IndexError, build_index, load_index
from .model import Fitted, load_fitted
from .retrieval import Passage, Retriever

log = logging.getLogger(__name__)

__all__ = ["Engine", "default_engine"]


class Engine:
    """Loads lazily; ``rebuild=True`` builds the index when it is missing, corrupt or stale."""

    def __init__(self, settings: Settings | None = None, rebuild: bool = False):
        self.settings = settings or Settings()
        self.rebuild = rebuild
        self.embedder = Embedder(self.settings)
        self._retriever: Retriever | None = None
        self._answerer: Answerer | None = None
        self._fitted: Fitted | None = None
        self._lock = threading.Lock()

    @property
    def fitted(self) -> Fitted:
        """The fitted fusion weights and answer model (loaded once)."""
        if self._fitted is None:
            self._fitted = load_fitted(self.settings.fitted, FEATURES)
        return self._fitted

    @property
    def retriever(self) -> Retriever:
        if self._retriever is None:
            with self._lock:
                if self._retriever is None:
                    self._retriever = self._load()
        return self._retriever

    def _load(self) -> Retriever:
        return self.untuned_retriever().with_fusion(self.fitted.fusion)

    def untuned_retriever(self) -> Retriever:
        """A retriever over the index with default fusion weights (for fitting them)."""
        try:
            index = load_index(self.settings, self.embedder.fingerprint)
        except IndexError as exc:
            if not self.rebuild:
                raise
            log.warning("%s — rebuilding now", exc)
            build_index(self.settings, self.embedder)
            index = load_index(self.settings, self.embedder.fingerprint)
        self.embedder.prepare_query_encoder()
        return Retriever(index, self.embedder, self.settings)

    def load(self) -> "Engine":
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

    def retrieve(self, question: str, k: int = 5) -> list[Passage]:
        return self.retriever.search(question, k)

    def answer(self, question: str, history: list[dict] | None = None) -> Answer:
        retriever = self.retriever
        answerer = self._answerer
        if answerer is None or answerer.retriever is not retriever:
            answerer = self._answerer = Answerer(retriever, self.fitted.answer)
        return answerer.answer(question, history)


_default: Engine | None = None
_default_lock = threading.Lock()


def default_engine() -> Engine:
    global _default
    with _default_lock:
        if _default is None:
            _default = Engine()
        return _default
