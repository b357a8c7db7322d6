"""Every fitted number, as data: one JSON file written by ``qa train``.

- :class:`Fusion`: the weights that fuse the dense, BM25 and sentence rankings and the
  priors (glossary term named, period asked, question about the document), chosen by
  a grid search on the development questions;
- :class:`AnswerModel`: how sure we are that a candidate sentence answers — a
  conditional logit over :data:`qa.answering.features.FEATURES` (:class:`Choice`) ranks a
  question's candidates against each other and against "none of them"; a small
  logistic regression turns how the best candidate stands against the others (:func:`standing`)
  into the chance that it answers the question; two thresholds on that chance grade a
  reply (confident / closest sentence offered tentatively / nothing close), chosen on
  out-of-fold chances. The confident one is chosen twice: for reports the model has
  never seen (``confident``), and for the reports it was trained on with questions in
  several folds (``confident_known``, on ``known_documents``), where the same chance is
  more often right.

Saved and loaded symmetrically (:class:`Fitted`), applied with numpy alone
(scikit-learn is needed only to fit).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..config import DATA_DIR
from ..retrieval.fusion import Fusion

__all__ = [
    "DEFAULT_MODEL_PATH",
    "STANDING",
    "AnswerModel",
    "Choice",
    "Fitted",
    "Fusion",
    "Logistic",
    "load_fitted",
    "standing",
]

DEFAULT_MODEL_PATH = DATA_DIR / "fitted.json"
MODEL_FORMAT = 5

#: How the best candidate stands: its log-odds, its lead over the second best in
#: log-odds, its share of all the candidates' probability, and whether it lacks something
#: the question asks for (any of the model's ``flags`` set). A sentence that no other
#: comes near answers more often than its own score says (each sentence is scored alone,
#: and most are not the answer); one that lacks what is asked, less often, however far
#: ahead it stands.
STANDING = ("best_logit", "lead", "share", "flagged")
_EPS = 1e-6


def standing(probs: np.ndarray, flagged: bool) -> np.ndarray:
    """The :data:`STANDING` features of candidates scored ``probs`` (at least one), the
    best of which is ``flagged`` or not."""
    p = np.clip(np.sort(np.asarray(probs, dtype=np.float64))[::-1], _EPS, 1 - _EPS)
    logits = np.log(p / (1 - p))
    second = logits[1] if len(logits) > 1 else np.log(_EPS / (1 - _EPS))
    return np.array([logits[0], logits[0] - second, p[0] / p.sum(), float(flagged)])


def _weighed(matrix: np.ndarray, mean, scale, coef) -> np.ndarray:
    """Each row standardised (``(x − mean) / scale``) and weighed by ``coef``."""
    return ((matrix - np.asarray(mean)) / np.asarray(scale)) @ np.asarray(coef)


@dataclass(frozen=True)
class Logistic:
    """Standardise, weigh, squash: ``p = σ(((x − mean) / scale) · coef + intercept)``."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float

    def __call__(self, matrix: np.ndarray) -> np.ndarray:
        z = _weighed(matrix, self.mean, self.scale, self.coef) + self.intercept
        return 1.0 / (1.0 + np.exp(-z))


@dataclass(frozen=True)
class Choice:
    """One answer chosen among a question's candidates, or none of them:
    ``p_i = e^{s_i} / (e^{null} + Σ_j e^{s_j})`` with ``s = ((x − mean) / scale) · coef``.

    Fitted the way an answer is picked — the candidates of one question compete, and
    the question may have no answer — rather than each sentence judged alone against
    every other question's sentences: a sentence's chance falls when a rival fits as
    well, and stays low when none stands clearly above "nothing"."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    null: float

    def __call__(self, matrix: np.ndarray) -> np.ndarray:
        s = _weighed(matrix, self.mean, self.scale, self.coef)
        top = float(s.max(initial=self.null))
        e = np.exp(s - top)
        return e / (e.sum() + np.exp(self.null - top))


@dataclass(frozen=True)
class AnswerModel:
    """Scores candidate sentences (``ranker``) and says how likely the best one answers
    (``judge``, over :func:`standing`)."""

    features: tuple[str, ...]
    ranker: Choice
    judge: Logistic
    #: Features that, set on a sentence, say it lacks something the question asks for.
    flags: tuple[str, ...]
    #: At or above (on the judge's chance): a confident answer from a report never seen in
    #: training. Below ``tentative``: nothing close.
    confident: float
    tentative: float
    #: How it was fitted (data, sizes, regularisation, cross-validated figures).
    info: dict = field(default_factory=dict)
    #: The confident threshold when every report searched is one of ``known_documents``
    #: (ids of the reports with training questions in several folds); None: ``confident``.
    confident_known: float | None = None
    known_documents: tuple[str, ...] = ()

    def confident_in(self, documents: Iterable[str]) -> float:
        """The confident threshold for a reply from the reports ``documents`` (ids)."""
        documents = set(documents)
        if self.confident_known is not None and documents and documents <= set(self.known_documents):
            return self.confident_known
        return self.confident

    def probabilities(self, matrix: np.ndarray) -> np.ndarray:
        """Probability that each row's sentence is the answer to the question, the rows
        being all its candidates (ranks them)."""
        if matrix.shape[1] != len(self.features):
            raise ValueError(f"expected {len(self.features)} features, got {matrix.shape[1]}")
        return self.ranker(matrix)

    def confidence(self, matrix: np.ndarray, probs: np.ndarray | None = None) -> float:
        """Chance that the best of the candidates (rows of ``matrix``, scored ``probs``
        when already known) answers the question."""
        if not len(matrix):
            return 0.0
        probs = self.probabilities(matrix) if probs is None else probs
        best = matrix[int(np.argmax(probs))]
        flagged = any(best[self.features.index(f)] > 0 for f in self.flags)
        return float(self.judge(standing(probs, flagged)[None])[0])


@dataclass(frozen=True)
class Fitted:
    """The fusion weights and the answer model, fitted together and saved as one file."""

    fusion: Fusion
    answer: AnswerModel

    def save(self, path: str | Path) -> None:
        data = {"format": MODEL_FORMAT, "fusion": asdict(self.fusion), "answer": asdict(self.answer)}
        Path(path).write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Fitted:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("format") != MODEL_FORMAT:
            raise ValueError(f"{path}: unknown format of fitted weights; refit with: qa train")
        answer = dict(data["answer"])
        answer["features"] = tuple(answer["features"])
        answer["flags"] = tuple(answer["flags"])
        answer["known_documents"] = tuple(answer["known_documents"])
        for part, kind in (("ranker", Choice), ("judge", Logistic)):
            fields = dict(answer[part])
            for key in ("mean", "scale", "coef"):
                fields[key] = tuple(fields[key])
            answer[part] = kind(**fields)
        return cls(Fusion(**data["fusion"]), AnswerModel(**answer))


def load_fitted(path: str | Path | None = None, features: tuple[str, ...] | None = None) -> Fitted:
    """Load the fitted weights and check the answer model was fitted on ``features``."""
    path = Path(path or DEFAULT_MODEL_PATH)
    try:
        fitted = Fitted.load(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"fitted weights {path} are missing; fit them with: qa train") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"fitted weights {path} are unreadable ({exc}); refit with: qa train") from None
    if features is not None and tuple(features) != fitted.answer.features:
        raise ValueError(f"fitted weights {path} use other features; refit with: qa train")
    return fitted
