"""Extractive answers: the quoted sentence, not-found replies, time, follow-ups."""

import pytest

import qa
from qa.answer import resolve_followup, validate_history
from qa.eval import evaluate, load_questions

from .conftest import DEV


def _squash(text: str) -> str:
    return "".join(text.split())


def test_answer_quotes_the_sentence_with_the_figure_and_cites_it():
    a = qa.answer("今年建筑业税收目标是多少")
    assert a.found
    assert "力争年内建筑企业税收贡献突破4亿元" in a.text
    assert "[1]" in a.text
    assert a.key == "突破4亿元" and "**突破4亿元**" in a.text
    assert a.citations[0].page == 12
    assert a.quote in a.citations[0].text  # the report's own words, verbatim


def test_quotes_are_always_the_reports_words(engine):
    for q in load_questions(DEV):
        a = engine.answer(q["question"])
        if a.found:
            assert a.quote and a.quote in a.citations[0].text, q["question"]


@pytest.mark.parametrize(
    "question",
    ["北关区常住人口有多少？", "明年（2021年）GDP增长目标定的多少？", "区政府办公地址在哪，电话多少？"],
)
def test_not_found_says_so_and_lists_related_passages(question):
    a = qa.answer(question)
    assert not a.found
    assert a.text.startswith("报告中没有找到")
    assert "以下段落可能相关" in a.text
    assert 1 <= len(a.citations) <= 3
    assert "[1]" in a.text


def test_glossary_definition_is_the_answer():
    a = qa.answer("“六稳”指的是哪几个方面")
    assert a.found and "稳就业、稳金融" in a.text
    assert a.citations[0].source == "词语解释 第15条"


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
    assert a.found and expected in _squash(a.text)


def test_follow_up_swaps_the_year():
    history = [
        {"role": "user", "content": "今年建筑业税收目标是多少"},
        {"role": "assistant", "content": "……突破4亿元 [1]"},
    ]
    a = qa.answer("那去年呢", history)
    assert a.found and "3.1亿元" in a.text
    assert a.question.startswith("去年")


def test_follow_up_of_a_follow_up():
    history = [
        {"role": "user", "content": "今年建筑业税收目标是多少"},
        {"role": "assistant", "content": "……突破4亿元 [1]"},
        {"role": "user", "content": "那去年呢"},
        {"role": "assistant", "content": "……3.1亿元 [1]"},
    ]
    a = qa.answer("那今年呢", history)
    assert a.question.startswith("今年建筑业税收")
    assert a.found and "突破4亿元" in a.text


def test_follow_up_swaps_the_glossary_term():
    a = qa.answer("那六保呢", [{"role": "user", "content": "什么是六稳"}, {"role": "assistant", "content": "…"}])
    assert a.found and "保居民就业" in a.text


def test_questions_that_stand_alone_are_not_changed():
    history = [{"role": "user", "content": "今年建筑业税收目标是多少"}]
    assert resolve_followup("去年城镇新增就业多少人", history) == "去年城镇新增就业多少人"
    assert resolve_followup("那去年呢", []) == "那去年呢"


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


def test_answer_quality_floor_on_the_dev_set(engine):
    report = evaluate(load_questions(DEV), engine)
    overall = report.rows["overall"]
    assert overall["answer_acc"] >= 0.85, report.table()
    assert overall["declined"] >= 0.8, report.table()
    assert overall["wrongly_declined"] <= 0.05, report.table()
