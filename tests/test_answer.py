"""Extractive answers: the quoted sentence and its page, the three kinds of reply, time,
follow-ups, input rules, and a cross-validated quality floor."""

import numpy as np
import pytest

import qa
from qa.answering.answer import CONFIDENT, NOT_FOUND, TENTATIVE, TENTATIVE_LEAD, validate_history
from qa.devtools.eval import cross_validated_answerers, evaluate, load_questions, question_sets

from .conftest import DEV
from .fakes import forced_answerer

pytestmark = pytest.mark.integration


def _squash(text: str) -> str:
    return "".join(text.split())


def test_answer_quotes_the_sentence_with_the_figure_and_cites_it():
    a = qa.answer("今年建筑业税收目标是多少")
    assert a.found and a.kind == CONFIDENT and not a.reason
    assert "力争年内建筑企业税收贡献突破4亿元" in a.text
    assert "[1]" in a.text
    assert a.key == "突破4亿元" and "**突破4亿元**" in a.text
    assert a.page == 12 and a.cited == "正文第12页" and "正文第12页" in a.text
    assert a.quote in a.citations[0].text  # the report's own words, verbatim
    assert 0.0 <= a.confidence <= 1.0


def test_the_citation_is_the_quoted_sentences_page_not_the_passages(engine):
    """A passage that runs over a page break cites each sentence on its own page."""
    index = engine.retriever.index
    pos, spanning = next((i, c) for i, c in enumerate(index.chunks) if len(c.pages) > 1)
    assert spanning.page == spanning.pages[0]
    later = [s for s, _ in index.passage_sentences(pos) if s.page != spanning.page]
    assert later and all(s.page in spanning.pages for s in later)


def test_quotes_are_always_the_reports_words(engine):
    for q in load_questions(DEV)[:120]:
        a = engine.answer(q["question"])
        if a.quote:
            assert a.quote in a.citations[0].text, q["question"]


def test_tentative_reply_quotes_the_closest_sentence_but_does_not_claim_it(engine):
    a = forced_answerer(engine, confident=1.01, tentative=0.0).answer("今年建筑业税收目标是多少")
    assert a.kind == TENTATIVE and not a.found
    assert a.text.startswith(TENTATIVE_LEAD)
    assert a.quote and a.quote in a.text and a.quote in a.citations[0].text
    assert a.key == "" and "**" not in a.text  # no figure stated as the answer
    assert a.reason


def test_a_report_the_model_was_trained_on_is_judged_by_its_own_threshold(engine):
    import dataclasses

    from qa.answering.answer import Answerer

    question = "今年建筑业税收目标是多少"
    sure = engine.answer(question).confidence
    known = dataclasses.replace(
        engine.fitted.answer, confident=1.01, confident_known=sure - 0.01, known_documents=engine.retriever.searched
    )
    assert Answerer(engine.retriever, known).answer(question).kind == CONFIDENT
    stranger = dataclasses.replace(known, known_documents=("0123456789ab",))
    assert Answerer(engine.retriever, stranger).answer(question).kind == TENTATIVE


def test_not_found_reply_says_so_and_lists_related_passages(engine):
    a = forced_answerer(engine, confident=1.01, tentative=1.01).answer("北关区常住人口有多少？")
    assert a.kind == NOT_FOUND and not a.found and not a.quote
    assert a.text.startswith("报告中没有找到")
    assert "以下段落可能相关" in a.text and "[1]" in a.text
    assert 1 <= len(a.citations) <= 3


@pytest.mark.parametrize(
    "question",
    [
        "北关区常住人口有多少？",
        "2015年北关区生产总值是多少",
        "朝阳区去年生产总值是多少",
        "区政府办公地址在哪，电话多少？",
    ],
)
def test_questions_the_report_does_not_answer_get_no_confident_answer(question):
    a = qa.answer(question)
    assert not a.found and a.kind in (TENTATIVE, NOT_FOUND)
    assert a.reason


def test_decline_reason_names_what_is_missing():
    assert "2015" in qa.answer("2015年北关区生产总值是多少").reason
    assert "朝阳区" in qa.answer("朝阳区去年生产总值是多少").reason


def test_glossary_definition_is_the_answer():
    a = qa.answer("“六稳”指的是哪几个方面")
    assert a.found and "稳就业、稳金融" in a.text
    assert a.citations[0].source == "词语解释 第15条"


def test_english_questions_are_answered_from_the_chinese_report():
    a = qa.answer("How many new teachers were hired last year?")
    assert a.quote and "109人" in a.quote


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("今年社零总额增速定的多少", "8%左右"),
        ("去年社零总额增速多少", "8.3%"),
        ("去年争取到了多少债券资金？", "5.88亿元"),
    ],
)
def test_time_words_pick_the_right_year(question, expected):
    a = qa.answer(question)
    assert expected in _squash(a.quote)


def test_follow_up_swaps_the_year():
    history = [
        {"role": "user", "content": "今年建筑业税收目标是多少"},
        {"role": "assistant", "content": "……突破4亿元 [1]"},
    ]
    a = qa.answer("那去年呢", history)
    assert a.question.startswith("去年")
    assert "3.1亿元" in a.quote


def test_follow_up_of_a_follow_up():
    history = [
        {"role": "user", "content": "今年建筑业税收目标是多少"},
        {"role": "assistant", "content": "……突破4亿元 [1]"},
        {"role": "user", "content": "那去年呢"},
        {"role": "assistant", "content": "……3.1亿元 [1]"},
    ]
    a = qa.answer("那今年呢", history)
    assert a.question.startswith("今年建筑业税收")
    assert "突破4亿元" in a.quote


def test_follow_up_swaps_the_glossary_term():
    a = qa.answer("那六保呢", [{"role": "user", "content": "什么是六稳"}, {"role": "assistant", "content": "…"}])
    assert "保居民就业" in a.quote


def test_gradio_content_parts_are_accepted():
    history = validate_history([{"role": "user", "content": [{"type": "text", "text": "什么是六稳"}]}])
    assert history[0]["content"] == "什么是六稳"


@pytest.mark.parametrize(
    "history",
    [
        "not a list",
        [1, 2],
        [{"role": "user"}],
        [{"content": "x"}],
        [{"role": "robot", "content": "x"}],
        [{"role": "user", "content": 3}],
    ],
)
def test_malformed_history_raises_value_error(history):
    with pytest.raises(ValueError):
        qa.answer("那去年呢", history)


def test_input_rules_match_retrieve():
    with pytest.raises(TypeError):
        qa.answer(None)
    with pytest.raises(ValueError, match="empty"):
        qa.answer("  ")
    with pytest.raises(ValueError, match="1000"):
        qa.answer("长" * 1001)


def test_answer_quality_floor_cross_validated(engine):
    """Each fold answered by a model fitted without it: the figures that generalise."""
    questions = question_sets([DEV], {})
    report = evaluate(questions, engine, cross_validated_answerers(questions, engine))
    overall = report.rows["overall"]
    assert overall["conf_ok"] >= 0.93, report.table()  # confident answers are right
    assert overall["shown"] >= 0.90, report.table()  # the sentence shown holds the answer
    # no confident answer where there is none: 0.775 measured with the bundled questions alone
    # (0.925 when the development reports' questions are in the training too, as shipped)
    assert overall["unans_ok"] >= 0.75, report.table()
    assert overall["acc"] >= 0.83, report.table()  # answerable questions answered confidently
    assert overall["R@5"] >= 0.95, report.table()


def test_in_sample_figures_are_reported_beside(engine):
    report = evaluate(load_questions(DEV)[:40], engine)
    assert set(report.rows["overall"]) >= {"R@1", "R@5", "MRR", "acc", "conf_ok", "shown", "unans_ok", "ans_unconf"}


def test_the_reason_is_logged_at_debug_level(caplog):
    import logging

    with caplog.at_level(logging.DEBUG, logger="qa.answering.answer"):
        a = qa.answer("2015年北关区生产总值是多少")
    assert any(a.reason in r.getMessage() and r.levelno == logging.DEBUG for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="qa.answering.answer"):
        qa.answer("今年建筑业税收目标是多少")
    assert not [r for r in caplog.records if "not confident" in r.getMessage()]


def test_a_sentence_no_other_comes_near_is_judged_surer_than_one_among_rivals(engine):
    from qa.answering.model import standing

    judge = engine.fitted.answer.judge

    def chance(probs, flagged=False):
        return float(judge(standing(np.array(probs), flagged)[None])[0])

    assert chance([0.6, 0.02, 0.01]) > chance([0.6, 0.55, 0.5])
    assert chance([0.9, 0.01]) > chance([0.2, 0.01])
    assert chance([0.9, 0.01]) > chance([0.9, 0.01], flagged=True)  # it lacks what is asked
    assert engine.fitted.answer.confidence(np.zeros((0, len(engine.fitted.answer.features)))) == 0.0


def test_the_ranker_chooses_one_answer_among_the_candidates_or_none():
    from qa.answering.model import Choice

    choice = Choice(mean=(0.0,), scale=(1.0,), coef=(1.0,), null=2.0)
    alone, rivals = choice(np.array([[4.0], [0.0]])), choice(np.array([[4.0], [4.0]]))
    assert 0 < alone.sum() < 1 and 0 < rivals.sum() < 1  # what is left is "none of them"
    assert rivals[0] < alone[0] and rivals[0] == rivals[1]  # a rival as good shares the choice
    assert choice(np.array([[0.0], [-1.0]])).max() < 0.2  # nothing stands above "none"
    assert np.isfinite(choice(np.array([[900.0], [-900.0]]))).all()


def test_fitted_weights_save_and_load_alike(engine, tmp_path):
    from qa.answering.model import Fitted, load_fitted

    engine.fitted.save(tmp_path / "fitted.json")
    again = load_fitted(tmp_path / "fitted.json", engine.fitted.answer.features)
    assert again == engine.fitted
    (tmp_path / "old.json").write_text('{"format": 2, "fusion": {}, "answer": {}}', encoding="utf-8")
    with pytest.raises(ValueError, match="qa train"):
        load_fitted(tmp_path / "old.json")
    assert isinstance(again, Fitted)
