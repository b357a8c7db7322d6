"""Every fitted number, as data: one JSON file written by ``python -m qa.train``.

- :class:`Fusion`: the weights that fuse the dense, BM25 and sentence rankings and the
  priors (glossary term named, period asked, question about the document), chosen by
  a grid search on the development questions;
- :class:`AnswerModel`: how sure we are that a candidate sentence answers — a
  logistic regression over :data:`qa.features.FEATURES`, with the two thresholds that
  grade a reply (confident / closest sentence offered tentatively / nothing close)
  chosen on out-of-fold probabilities.

Saved and loaded symmetrically (:class:`Fitted`), applied with numpy alone
(scikit-learn is needed only to fit).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["AnswerModel", "Fusion", "Fitted", "DEFAULT_MODEL_PATH", "load_fitted"]

DEFAULT_MODEL_PATH = Path(__file__).resolve().parent / "data" / "fitted.json"
MODEL_FORMAT = 2


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


@dataclass(frozen=True)
class AnswerModel:
    """Standardise, weigh, squash: ``p = σ(((x − mean) / scale) · coef + intercept)``."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    #: At or above: a confident answer. Below ``tentative``: nothing close.
    confident: float
    tentative: float
    #: How it was fitted (data, sizes, regularisation, cross-validated figures).
    info: dict = field(default_factory=dict)

    def probabilities(self, matrix: np.ndarray) -> np.ndarray:
        """Probability that each row's sentence answers the question."""
        if matrix.shape[1] != len(self.features):
            raise ValueError(f"expected {len(self.features)} features, got {matrix.shape[1]}")
        z = ((matrix - np.asarray(self.mean)) / np.asarray(self.scale)) @ np.asarray(self.coef) + self.intercept
        return 1.0 / (1.0 + np.exp(-z))


@dataclass(frozen=True)
class Fitted:
    """The fusion weights and the answer model, fitted together and saved as one file."""

    fusion: Fusion
    answer: AnswerModel

    def save(self, path: str | Path) -> None:
        data = {"format": MODEL_FORMAT, "fusion": asdict(self.fusion), "answer": asdict(self.answer)}
        Path(path).write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> "Fitted":
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("format") != MODEL_FORMAT:
            raise ValueError(f"{path}: unknown format of fitted weights; refit with: python -m qa.train")
        answer = dict(data["answer"])
        for key in ("features", "mean", "scale", "coef"):
            answer[key] = tuple(answer[key])
        return cls(Fusion(**data["fusion"]), AnswerModel(**answer))


def load_fitted(path: str | Path | None = None, features: tuple[str, ...] | None = None) -> Fitted:
    """Load the fitted weights and check the answer model was fitted on ``features``."""
    path = Path(path or DEFAULT_MODEL_PATH)
    try:
        fitted = Fitted.load(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"fitted weights {path} are missing; fit them with: python -m qa.train") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"fitted weights {path} are unreadable ({exc}); refit with: python -m qa.train") from None
    if features is not None and tuple(features) != fitted.answer.features:
        raise ValueError(f"fitted weights {path} use other features; refit with: python -m qa.train")
    return fitted
