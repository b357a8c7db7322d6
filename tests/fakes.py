"""Stand-ins for the embedding model, so that tests of everything but the model need none."""

from __future__ import annotations

import hashlib
import re

import numpy as np

DIMENSION = 64


class HashEmbedder:
    """Embeds a text as the normalised counts of its hashed characters and character
    pairs: texts that share words are near, others far. Deterministic, instant, no files."""

    fingerprint = "hash-embedder-v1"

    def encode_passages(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        return np.stack([self._vector(t) for t in texts]) if texts else np.empty((0, DIMENSION), np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        return self._vector(text)

    def prepare_query_encoder(self) -> None:
        pass

    @staticmethod
    def _vector(text: str) -> np.ndarray:
        vector = np.zeros(DIMENSION, np.float32)
        clean = re.sub(r"\s+", "", text.lower())
        for gram in [*clean, *(clean[i : i + 2] for i in range(len(clean) - 1))]:
            vector[int(hashlib.md5(gram.encode()).hexdigest()[:8], 16) % DIMENSION] += 1.0
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm else vector


def forced_answerer(engine, confident: float, tentative: float):
    """An answerer of ``engine``'s retriever whose thresholds (the same for every report)
    force one kind of reply."""
    import dataclasses

    from qa.answering.answer import Answerer

    model = dataclasses.replace(engine.fitted.answer, confident=confident, tentative=tentative, confident_known=None)
    return Answerer(engine.retriever, model)
