"""The public retrieval API: results, input rules, glossary terms, languages, threads."""

from concurrent.futures import ThreadPoolExecutor

import pytest

import qa
from qa.devtools.eval import evaluate, load_questions

from .conftest import DEV

pytestmark = pytest.mark.integration


def test_the_example_question_finds_its_passage_with_section_and_page():
    best = qa.retrieve("今年建筑业税收目标是多少")[0]
    assert isinstance(best, qa.Passage)
    assert "力争年内建筑企业税收贡献突破4亿元" in best.text
    assert best.page == 12
    assert best.source == "正文"
    assert best.section.startswith("二、今年发展主要目标和下一阶段工作部署 › （一）")
    assert best.chunk_id and isinstance(best.score, float)


def test_results_are_ranked_and_k_is_honoured():
    results = qa.retrieve("新增城镇就业多少人", k=7)
    assert len(results) == 7
    assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)
    assert len({r.chunk_id for r in results}) == 7


@pytest.mark.parametrize("question", ["今年建筑业税收目标是多少", "六稳"])
def test_the_largest_k_returns_k_passages(question):
    assert len({p.chunk_id for p in qa.retrieve(question, k=50)}) == 50


def test_passage_is_frozen():
    passage = qa.retrieve("六稳", k=1)[0]
    with pytest.raises(AttributeError):
        passage.text = "x"


@pytest.mark.parametrize("question", ["六稳", "什么是“放管服”", "“四个不摘”", "两不愁三保障是什么意思", "枫桥经验"])
def test_a_named_glossary_term_finds_its_definition(question):
    top = qa.retrieve(question, k=3)
    assert any(p.source.startswith("词语解释") and p.page is None for p in top)
    assert top[0].source.startswith("词语解释")


def test_time_words_choose_between_review_and_plans():
    this_year = qa.retrieve("今年建筑业税收目标是多少", k=1)[0]
    last_year = qa.retrieve("去年建筑业税收是多少", k=1)[0]
    assert "突破4亿元" in this_year.text and this_year.section.startswith("二、")
    assert "3.1亿元" in last_year.text and last_year.section.startswith("一、")


def test_traditional_characters_work_like_simplified():
    simplified = qa.retrieve("今年建筑业税收目标是多少", k=3)
    traditional = qa.retrieve("今年建築業稅收目標是多少", k=3)
    assert traditional[0].chunk_id == simplified[0].chunk_id


def test_english_questions_find_the_passage():
    results = qa.retrieve("What is the GDP growth target for this year?", k=5)
    assert any("生产总值增长6.5%左右" in p.text for p in results)


@pytest.mark.parametrize("bad", [None, 42, b"bytes", ["list"], {"q": 1}])
def test_non_strings_raise_type_error(bad):
    with pytest.raises(TypeError, match="str"):
        qa.retrieve(bad)


@pytest.mark.parametrize("bad", ["", "   ", "\n\t"])
def test_empty_questions_raise_value_error(bad):
    with pytest.raises(ValueError, match="empty"):
        qa.retrieve(bad)


def test_over_long_questions_name_the_limit():
    qa.retrieve("问" * 1000, k=1)  # at the limit: fine
    with pytest.raises(ValueError, match="1000"):
        qa.retrieve("问" * 1001)


@pytest.mark.parametrize("k", [0, -1, 51, 1000])
def test_k_outside_range(k):
    with pytest.raises(ValueError, match="between 1 and 50"):
        qa.retrieve("六稳", k=k)


@pytest.mark.parametrize("k", [1.5, "3", True])
def test_k_of_wrong_type(k):
    with pytest.raises(TypeError):
        qa.retrieve("六稳", k=k)


def test_concurrent_calls_match_sequential_ones():
    questions = [q["question"] for q in load_questions(DEV)][:40]
    expected = [[p.chunk_id for p in qa.retrieve(q)] for q in questions]
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda q: [p.chunk_id for p in qa.retrieve(q)], questions * 2))
    assert got == expected * 2


def test_retrieval_quality_floor_on_the_dev_set(engine):
    report = evaluate(load_questions(DEV), engine)
    overall = report.rows["overall"]
    assert overall["R@5"] >= 0.96, report.table()
    assert overall["R@1"] >= 0.88, report.table()
