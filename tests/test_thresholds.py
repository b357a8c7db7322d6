"""How the reply thresholds are chosen and applied (no model, no index)."""

from types import SimpleNamespace

import numpy as np

from qa.answering.model import AnswerModel, Choice, Logistic
from qa.devtools.train import TARGET_PRECISION, confident_threshold, tentative_threshold


def _model(**thresholds) -> AnswerModel:
    judge = Logistic((0.0,) * 4, (1.0,) * 4, (0.0,) * 4, 0.0)
    return AnswerModel(("x",), Choice((0.0,), (1.0,), (1.0,), 0.0), judge, (), **thresholds)


def test_a_report_the_model_was_trained_on_has_its_own_threshold():
    model = _model(confident=0.8, tentative=0.1, confident_known=0.6, known_documents=("aaa", "bbb"))
    assert model.confident_in(["aaa"]) == model.confident_in(("aaa", "bbb")) == 0.6
    assert model.confident_in(["aaa", "ccc"]) == 0.8  # one report never seen: the stricter one
    assert model.confident_in(["ccc"]) == model.confident_in([]) == 0.8
    assert _model(confident=0.8, tentative=0.1).confident_in(["aaa"]) == 0.8  # no known reports


def _scored(confidences, right, answerable=True):
    return [(SimpleNamespace(answers=["x"] if answerable else []), p, ok) for p, ok in zip(confidences, right)]


def test_the_confident_threshold_keeps_the_answers_above_it_right_often_enough():
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0, 1, 2000)
    right = rng.uniform(0, 1, 2000) < confidence  # right as often as it is sure
    scored = _scored(confidence, right)
    threshold = confident_threshold(scored)
    above = right[confidence >= threshold]
    assert 0.5 < threshold < 1 and abs(above.mean() - TARGET_PRECISION) < 0.03
    assert confident_threshold([]) == 1.0  # nothing to go by: never confident
    assert confident_threshold(_scored([0.9, 0.2], [False, False])) == 1.0


def test_the_tentative_threshold_hides_almost_no_right_answer():
    confidence = np.linspace(0.01, 1, 100)
    scored = _scored(confidence, [True] * 100) + _scored([0.001], [False], answerable=False)
    assert tentative_threshold(scored) <= 0.02 + 1e-9
    assert tentative_threshold([]) == 0.0
