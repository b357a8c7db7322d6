"""Fit every fitted number on a question set: ``qa train [QUESTIONS] [--out PATH]``.

First the fusion weights of retrieval (:class:`qa.answering.model.Fusion`): a grid search for
the weights under which a passage holding a gold answer ranks highest (MRR@10 over
the answerable questions), each fold's choice made without it to report the
cross-validated figure. Then the answer model, on retrieval with those weights.

Every candidate sentence of every question is a row (:mod:`qa.answering.features`); its label
says whether the sentence holds a gold answer (never, for a question the report does
not answer). The ranker (:class:`qa.answering.model.Choice`) is a conditional logit over
each question's candidates and a "none of them" option, fitted by maximum likelihood of
the right candidates (or of none, for a question the report does not answer) with an
L2 penalty chosen by inner cross-validation over the questions' folds. A second
one (the judge) is fitted on one row per question: how the best candidate stands
against the others (:func:`qa.answering.model.standing`, from out-of-fold ranker scores), labelled
by whether that best candidate holds a gold answer. The two reply thresholds are
chosen on the judge's out-of-fold chances:

- ``confident``: the lowest chance at which the confident answers are right at
  least :data:`TARGET_PRECISION` of the time, chosen twice: on the questions whose
  report the out-of-fold model had no questions about (``confident``, for any report a
  user brings), and on those whose report it had (``confident_known``, for those
  reports);
- ``tentative``: below it nothing is close enough to show; set so that at most
  :data:`MAX_HIDDEN` of the answerable questions whose best sentence holds the answer
  fall below it.

Contrast questions are made from the answerable training questions so that the model
sees more of what the report does not answer than 40 written questions: the same
question about a year the report does not cover, about a place it does not mention,
about an indicator it never gives, or counting a thing it never names (all labelled
"does not answer").
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .. import console
from ..answering.features import DECLINE_FLAGS, FEATURES, Candidate
from ..answering.model import DEFAULT_MODEL_PATH, STANDING, AnswerModel, Choice, Fitted, Fusion, Logistic, standing
from ..answering.question import Question, analyze
from ..text.vocabulary import strip_time
from .questionsets import history_of, holds

log = logging.getLogger(__name__)

__all__ = [
    "Example",
    "collect",
    "contrasts",
    "cross_validated_models",
    "fit",
    "training_examples",
    "untrained_answerer",
]

#: Confident answers must be right at least this often (out of fold). Chosen apart for
#: reports never seen in training and for those with training questions in several folds:
#: in one pool, the threshold chosen for the second was too lenient on the first (places
#: left out got 0.928 of confident answers right at 0.95, against 0.959 with the pools
#: apart; 7 reports, 238 questions, C = 1).
TARGET_PRECISION = 0.95
#: Share of answerable questions with a right best sentence that may get "nothing close".
MAX_HIDDEN = 0.01
C_GRID = (0.1, 0.3, 1.0, 3.0)
#: How much a contrast question weighs against a written one (chosen with C).
CONTRAST_WEIGHTS = (0.05, 0.15, 0.3)
#: Fusion weights tried (dense fixed at 1: the others are relative to it).
FUSION_GRID = {"bm25": (1.0, 1.5, 2.0), "sentence": (0.5, 1.0, 1.5), "period": (0.5, 1.0), "glossary": (1.0, 2.0)}

#: Places and indicators for contrast questions: only those the report never mentions
#: are used (checked against its text), so any report can be trained on.
CONTRAST_PLACES = ("朝阳区", "天河区", "武侯区", "鼓楼区", "西湖区", "南山区", "浦东新区", "江宁区")
CONTRAST_THINGS = ("大学", "地铁站", "机场", "电影院", "体育馆", "加油站", "博物馆", "养老院", "高铁站", "港口")
CONTRAST_INDICATORS = (
    "常住人口",
    "人均生产总值",
    "商品房均价",
    "PM2.5浓度",
    "森林覆盖率",
    "城镇化率",
    "进出口总额",
    "研发经费投入",
    "户籍人口",
    "出生率",
    "地方政府债务余额",
    "医院床位数",
    "公交线路",
    "年降水量",
)


@dataclass
class Example:
    """One question with its candidates and their labels."""

    id: str
    fold: str
    type: str
    question: Question
    answers: list[str]
    candidates: list[Candidate]
    labels: np.ndarray  # bool, one per candidate
    contrast: bool = False
    #: The documents it is asked of (None: all).
    documents: tuple[str, ...] | None = None

    @property
    def matrix(self) -> np.ndarray:
        return np.stack([c.features for c in self.candidates]) if self.candidates else np.empty((0, len(FEATURES)))


def collect(items: list[dict], answerer) -> list[Example]:
    """Examples for question-set items (follow-ups completed from their history), each
    asked of its ``documents`` (None: all)."""
    out = []
    for n, item in enumerate(items):
        documents = item.get("documents")
        q = answerer.analyze(item["question"], history_of(item), documents)
        out.append(
            _example(
                item["id"], str(item.get("fold", 0)), item.get("type", ""), q, item["answers"], answerer, documents
            )
        )
        if n % 50 == 49:
            log.info("features for %d of %d questions", n + 1, len(items))
    return out


def _example(id_, fold, type_, q: Question, answers, answerer, documents=None, contrast=False) -> Example:
    _, found = answerer.candidates(q, documents)
    labels = np.array([holds(_shown_text(c), answers) for c in found], dtype=bool)
    return Example(id_, fold, type_, q, list(answers), found, labels, contrast, documents)


def _shown_text(c: Candidate) -> str:
    """What an answer quoting this candidate shows: the sentence, and for a glossary
    definition the term it defines (named in the citation)."""
    return f"{c.passage.section} {c.sentence.text}" if c.passage.entry is not None else c.sentence.text


def contrasts(examples: list[Example], answerer) -> list[Example]:
    """Questions the report does not answer, made from answerable written ones."""
    out = []
    for n, ex in enumerate(e for e in examples if e.answers and not e.contrast and e.question.language == "zh"):
        retriever = answerer.retriever.scoped(ex.documents)
        earliest = min(retriever.covered_years, default=None)
        places = [p for p in CONTRAST_PLACES if not retriever.uses(p)]
        indicators = [i for i in CONTRAST_INDICATORS if not retriever.uses(i)]
        things = [t for t in CONTRAST_THINGS if not retriever.uses(t)]
        text = ex.question.text
        variants = []
        if earliest is not None and ex.question.types & {"figure", "date"}:
            variants.append(f"{earliest - 2 - n % 3}年{strip_time(text)}")
        if places:
            place = places[n % len(places)]
            named = [p for p in ex.question.places if retriever.uses(p)]
            variants.append(text.replace(named[0], place, 1) if named else f"{place}{text}")
        if indicators and "figure" in ex.question.types and ex.question.tokens:
            topic = max(zip(ex.question.weights, ex.question.tokens))[1]
            variants.append(text.replace(topic, indicators[n % len(indicators)], 1))
        if things and ex.question.counted and ex.question.counted in text:
            variants.append(text.replace(ex.question.counted, things[n % len(things)], 1))
        for k, variant in enumerate(variants):
            q = analyze(variant, retriever)
            out.append(_example(f"{ex.id}~{k}", ex.fold, "contrast", q, [], answerer, ex.documents, contrast=True))
    return out


# -- fitting --------------------------------------------------------------------------------


#: Regularisation and contrast weight: what the inner cross-validation chooses.
Params = tuple[float, float]


def _fit_ranker(examples: list[Example], params: Params) -> Choice:
    """The candidate ranker: a conditional logit over each question's candidates and
    "none of them" (:class:`Choice`), its likelihood maximised with L-BFGS; ``C`` is the
    inverse of the L2 penalty on the weights, as in scikit-learn."""
    from scipy.optimize import minimize

    c, contrast_weight = params
    used = [e for e in examples if e.candidates]
    x = np.vstack([e.matrix for e in used])
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    x = (x - mean) / scale
    y = np.concatenate([e.labels for e in used]).astype(float)
    sizes = np.array([len(e.candidates) for e in used])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    group = np.repeat(np.arange(len(used)), sizes)
    weight = np.array([contrast_weight if e.contrast else 1.0 for e in used])
    answered = np.add.reduceat(y, starts) > 0
    penalty = 1.0 / c

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, null = theta[:-1], theta[-1]
        s = x @ w
        top = np.maximum(np.maximum.reduceat(s, starts), null)
        es, en = np.exp(s - top[group]), np.exp(null - top)
        total = np.add.reduceat(es, starts) + en
        right = np.add.reduceat(es * y, starts)
        # log-likelihood of the right candidates, or of "none" for a question without any
        chosen = np.where(answered, np.log(np.where(answered, right, 1.0)), null - top)
        value = -(weight * (chosen - np.log(total))).sum() + 0.5 * penalty * w @ w
        p = es / total[group]
        q = np.where(answered[group], es * y / np.where(answered, right, 1.0)[group], 0.0)
        grad_w = (weight[group] * (p - q)) @ x + penalty * w
        grad_null = (weight * (en / total - ~answered)).sum()
        return value, np.append(grad_w, grad_null)

    fit = minimize(loss, np.zeros(x.shape[1] + 1), jac=True, method="L-BFGS-B", options={"maxiter": 1000})
    return Choice(tuple(mean.tolist()), tuple(scale.tolist()), tuple(fit.x[:-1].tolist()), float(fit.x[-1]))


def _fit_judge(examples: list[Example], params: Params) -> Logistic:
    """The judge: whether the ranker's best candidate answers, from how it stands against
    the others — fitted on out-of-fold ranker scores, so it learns how the ranker does on
    questions it has not seen."""
    from sklearn.linear_model import LogisticRegression

    rows, labels, weights = [], [], []
    for fold in _folds(examples):
        ranker = _fit_ranker([e for e in examples if e.fold != fold], params)
        for e in examples:
            if e.fold == fold and e.candidates:
                probs = ranker(e.matrix)
                best = int(np.argmax(probs))
                rows.append(standing(probs, bool(e.matrix[best, _FLAG_COLUMNS].any())))
                labels.append(bool(e.answers) and bool(e.labels[best]))
                weights.append(params[1] if e.contrast else 1.0)
    x = np.array(rows)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    lr = LogisticRegression(max_iter=1000).fit((x - mean) / scale, labels, sample_weight=weights)
    return Logistic(tuple(mean.tolist()), tuple(scale.tolist()), tuple(lr.coef_[0].tolist()), float(lr.intercept_[0]))


_FLAG_COLUMNS = [FEATURES.index(f) for f in DECLINE_FLAGS]


def _fit_model(examples: list[Example], params: Params) -> AnswerModel:
    """Ranker and judge (thresholds not yet chosen)."""
    return AnswerModel(FEATURES, _fit_ranker(examples, params), _fit_judge(examples, params), DECLINE_FLAGS, 0.5, 0.0)


def best_of(model: AnswerModel, example: Example) -> tuple[float, bool]:
    """(the model's confidence in the best candidate, whether it holds a gold answer)."""
    if not example.candidates:
        return 0.0, False
    probs = model.probabilities(example.matrix)
    return model.confidence(example.matrix, probs), bool(example.labels[int(np.argmax(probs))])


#: Inner cross-validation (regularisation, the judge's out-of-fold scores, thresholds)
#: groups the training folds into at most this many.
INNER_FOLDS = 5


def _folds(examples: list[Example]) -> list[str]:
    return sorted({e.fold for e in examples})


def _inner(examples: list[Example]) -> list[Example]:
    """``examples`` with their folds grouped into at most :data:`INNER_FOLDS` (round
    robin over the sorted fold names, so each group mixes question sets)."""
    folds = _folds(examples)
    if len(folds) <= INNER_FOLDS:
        return examples
    group = {f: str(i % INNER_FOLDS) for i, f in enumerate(folds)}
    return [replace(e, fold=group[e.fold]) for e in examples]


def _out_of_fold(examples: list[Example], params: Params) -> list[tuple[Example, float, bool, bool]]:
    """Confidence in the best candidate of every written question, from a model fitted
    without its fold; whether that best candidate is right; and whether the question's
    report was known to that model (it had questions about it in other folds)."""
    out = []
    for fold in _folds(examples):
        train = [e for e in examples if e.fold != fold]
        model = _fit_model(train, params)
        known = {d for x in train if not x.contrast for d in x.documents or ()}
        for e in examples:
            if e.fold == fold and not e.contrast:
                out.append((e, *best_of(model, e), bool(e.documents) and set(e.documents) <= known))
    return out


def _log_loss(examples: list[Example], params: Params) -> float:
    """Out-of-fold log-loss of the ranker's choice on the written questions (contrasts
    only train): minus the log-chance of their right candidates, or of none."""
    total = n = 0.0
    for fold in _folds(examples):
        ranker = _fit_ranker([e for e in examples if e.fold != fold], params)
        for e in examples:
            if e.fold == fold and e.candidates and not e.contrast:
                p = ranker(e.matrix)
                chance = p[e.labels].sum() if e.labels.any() else 1.0 - p.sum()
                total -= float(np.log(max(chance, 1e-6)))
                n += 1
    return total / max(n, 1)


def confident_threshold(scored: list[tuple[Example, float, bool]]) -> float:
    """The confident threshold from out-of-fold (example, confidence, right) triples:
    the lowest confidence at which the answers above it are right
    :data:`TARGET_PRECISION` of the time.

    The out-of-fold confidences are first calibrated to the chance of being right (a
    one-feature logistic fit on their log-odds), so that the threshold follows a
    smooth curve rather than the noise of a few questions."""
    from sklearn.linear_model import LogisticRegression

    if not scored:
        return 1.0
    probs = np.clip(np.array([p for _, p, _ in scored]), 1e-6, 1 - 1e-6)
    right = np.array([bool(e.answers) and ok for e, _, ok in scored])
    logits = np.log(probs / (1 - probs))[:, None]
    chance = (
        LogisticRegression().fit(logits, right).predict_proba(logits)[:, 1]
        if 0 < right.sum() < len(right)
        else right.astype(float)
    )
    order = np.argsort(-probs)
    precision = np.cumsum(chance[order]) / np.arange(1, len(order) + 1)
    passing = np.nonzero(precision >= TARGET_PRECISION)[0]
    return float(probs[order][passing[-1]]) if len(passing) else 1.0


def tentative_threshold(scored: list[tuple[Example, float, bool]]) -> float:
    """The confidence below which nothing is shown: at most :data:`MAX_HIDDEN` of the
    answerable questions whose best candidate is right fall below it."""
    holding = sorted(p for e, p, ok in scored if e.answers and ok)
    return float(holding[int(MAX_HIDDEN * len(holding))]) if holding else 0.0


def fit(examples: list[Example]) -> AnswerModel:
    """Fit the model (C and the contrast weight by inner cross-validation) and choose
    its thresholds out of fold."""
    import itertools

    if len(_folds(examples)) < 2:
        raise ValueError("training needs questions in at least two folds")
    examples = _inner(examples)
    params = min(itertools.product(C_GRID, CONTRAST_WEIGHTS), key=lambda p: _log_loss(examples, p))
    scored = _out_of_fold(examples, params)
    # A report the model has questions about answers more often at the same confidence
    # than one it has never seen, so each gets a threshold chosen on its own kind.
    unseen = [(e, p, ok) for e, p, ok, known in scored if not known]
    seen = [(e, p, ok) for e, p, ok, known in scored if known]
    confident = confident_threshold(unseen or seen)
    confident_known = confident_threshold(seen) if seen else None
    tentative = min(tentative_threshold([s[:3] for s in scored]), confident, *([confident_known] if seen else []))
    base = _fit_model(examples, params)
    written = [e for e in examples if not e.contrast]
    info = {
        "C": params[0],
        "contrast_weight": params[1],
        "questions": len(written),
        "unanswerable": sum(not e.answers for e in written),
        "contrast_questions": sum(e.contrast for e in examples),
        "rows": int(sum(len(e.candidates) for e in examples)),
        "target_precision": TARGET_PRECISION,
        "thresholds_from": {"unseen reports": len(unseen), "known reports": len(seen)},
    }
    # Known: a report whose questions were answered out of fold by a model that had others
    # about it (one whose questions all share a fold is never measured so: it stays strict).
    known = tuple(sorted({d for e, *_ in seen for d in e.documents}))
    return AnswerModel(
        base.features, base.ranker, base.judge, base.flags, confident, tentative, info, confident_known, known
    )


def cross_validated_models(examples: list[Example], held: list[str] | None = None) -> dict[str, AnswerModel]:
    """One model per fold of ``held`` (default: every fold), each fitted (thresholds
    included) without that fold."""
    models = {}
    for fold in held or _folds(examples):
        log.info("fitting without fold %s", fold)
        models[fold] = fit([e for e in examples if e.fold != fold])
    return models


def _reciprocal_ranks(items: list[dict], retriever, fusion: Fusion, questions: list[str]) -> np.ndarray:
    tuned = retriever.with_fusion(fusion)
    out = []
    for item, text in zip(items, questions):
        passages = tuned.scoped(item.get("documents")).search(text, k=10)
        ranks = [i for i, p in enumerate(passages) if holds(p.text, item["answers"])]
        out.append(1.0 / (ranks[0] + 1) if ranks else 0.0)
    return np.array(out)


def tune_fusion(items: list[dict], answerer) -> tuple[Fusion, dict]:
    """The grid's fusion weights with the best MRR@10 on the answerable items, and the
    cross-validated MRR of choosing them per fold (with how many folds agree)."""
    import itertools

    answerable = [i for i in items if i["answers"]]
    questions = [answerer.analyze(i["question"], history_of(i), i.get("documents")).text for i in answerable]
    folds = np.array([str(i.get("fold", 0)) for i in answerable])
    keys = list(FUSION_GRID)
    grid = [Fusion(**dict(zip(keys, values))) for values in itertools.product(*FUSION_GRID.values())]
    table = np.stack([_reciprocal_ranks(answerable, answerer.retriever, f, questions) for f in grid])
    best = grid[int(np.argmax(table.mean(axis=1)))]
    cv, agree = np.zeros(len(answerable)), 0
    for fold in sorted(set(folds)):
        choice = int(np.argmax(table[:, folds != fold].mean(axis=1)))
        cv[folds == fold] = table[choice, folds == fold]
        agree += grid[choice] == best
    info = {
        "mrr_in_sample": round(float(table[grid.index(best)].mean()), 4),
        "mrr_cross_validated": round(float(cv.mean()), 4),
        "folds_agreeing": agree,
    }
    return best, info


def training_examples(items: list[dict], answerer) -> list[Example]:
    """Written examples and the contrast examples made from them."""
    written = collect(items, answerer)
    return written + contrasts(written, answerer)


def main(argv: list[str] | None = None) -> int:
    from .questionsets import corpus_engine, question_sets

    parser = argparse.ArgumentParser(prog="qa train", description="Fit the fusion weights and the answer model.")
    parser.add_argument("questions", nargs="+", help="JSON lines files of questions (see qa.devtools.eval)")
    parser.add_argument(
        "--corpus", metavar="DIR", help="the reports the questions' 'doc' names, indexed beside the bundled report"
    )
    parser.add_argument("--out", default=str(DEFAULT_MODEL_PATH), help="where to write the fitted weights (JSON)")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    console.setup(args.verbose)
    try:
        engine, ids = corpus_engine(args.corpus)
        items = question_sets(args.questions, ids, Path(engine.settings.corpus).stem if args.corpus else None)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    started = time.perf_counter()
    answerer = untrained_answerer(engine.untuned_retriever())
    fusion, fusion_info = tune_fusion(items, answerer)
    print(
        f"fusion weights: {fusion} — MRR@10 {fusion_info['mrr_in_sample']} in sample, "
        f"{fusion_info['mrr_cross_validated']} cross-validated ({fusion_info['folds_agreeing']} folds choose the same)"
    )
    answerer.retriever = answerer.retriever.with_fusion(fusion)
    model = fit(training_examples(items, answerer))
    sources = [Path(q).name for q in args.questions]
    model = AnswerModel(**{**model.__dict__, "info": {**model.info, "source": sources, "fusion": fusion_info}})
    Fitted(fusion, model).save(args.out)
    print(
        f"answer model: {model.info['questions']} questions (+{model.info['contrast_questions']} contrast), "
        f"C={model.info['C']}, contrast weight {model.info['contrast_weight']}, confident ≥ {model.confident:.3f} "
        f"(known reports: ≥ {model.confident_in(model.known_documents):.3f}, {len(model.known_documents)} of them), "
        f"tentative ≥ {model.tentative:.3f}"
    )
    print(f"written to {args.out} in {time.perf_counter() - started:.0f} s")
    return 0


def untrained_answerer(retriever):
    """An answerer for collecting features: they need no fitted weights (and the
    shipped model may not exist yet, or be fitted on other features)."""
    from ..answering.answer import Answerer

    n, m = len(FEATURES), len(STANDING)
    blank = Choice((0.0,) * n, (1.0,) * n, (0.0,) * n, 0.0)
    judge = Logistic((0.0,) * m, (1.0,) * m, (0.0,) * m, 0.0)
    return Answerer(retriever, AnswerModel(FEATURES, blank, judge, DECLINE_FLAGS, 1.0, 0.0))


if __name__ == "__main__":
    raise SystemExit(main())
