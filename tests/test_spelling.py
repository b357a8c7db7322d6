"""Typing noise: homophones and pinyin read as the documents' own words."""

import pytest

import qa
from qa.text.spelling import Speller

VOCABULARY = {"建筑业": 12, "建筑": 20, "低保": 3, "洹泉涌流": 2, "事业": 5, "失业": 4}


def _uses(span: str) -> bool:
    text = "建筑业税收低保金洹泉涌流事业失业今年目标是多少什么"
    return all(span[i : i + 2] in text for i in range(len(span) - 1)) if len(span) > 1 else span in text


def test_a_homophone_of_the_documents_word_is_read_as_it():
    speller = Speller(VOCABULARY, _uses)
    assert speller.correct("今年建筑叶税收目标") == "今年建筑业税收目标"
    assert speller.correct("洹泉勇流是什么") == "洹泉涌流是什么"
    assert speller.correct("dibao金发了多少") == "低保金发了多少"


def test_a_known_latin_word_with_two_letters_swapped_is_read_as_it():
    speller = Speller(VOCABULARY, _uses, known_latin=["gdp"])
    assert speller.correct("去年GPD增长多少") == "去年GDP增长多少"
    assert speller.correct("去年gpd增长多少") == "去年gdp增长多少"
    assert speller.correct("去年PPT增长多少") == "去年PPT增长多少"  # no known word is PPT with a swap


def test_what_is_not_corrected():
    speller = Speller(VOCABULARY, _uses)
    assert speller.correct("视野是多少") == "视野是多少"  # two characters: too many homophones to guess
    assert speller.correct("今年建筑业税收目标") == "今年建筑业税收目标"  # already the documents' words
    assert speller.correct("How is dibao paid?") == "How is dibao paid?"  # English: its words are no pinyin
    assert speller.correct("老破小翻新多少") == "老破小翻新多少"  # no word of the documents reads so


@pytest.mark.integration
def test_a_misspelt_question_is_answered():
    a = qa.answer("今年建筑叶税收目标是多少")
    assert a.found and a.key == "突破4亿元"
