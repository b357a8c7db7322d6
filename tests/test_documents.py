"""Cleaning the PDF extraction and recovering the report's structure and pages."""

import re

from qa.config import DEFAULT_CORPUS
from qa.ingest.documents import clean_text


def test_spaces_inside_numbers_and_between_chinese_are_removed():
    assert clean_text("全区生产总值完成 139.66 亿元，同比增长 2.9%，") == "全区生产总值完成139.66亿元，同比增长2.9%，"
    assert clean_text("北 关 区 十 届 人 大") == "北关区十届人大"
    assert clean_text("2019 年 4 月 16 日") == "2019年4月16日"


def test_spaces_between_latin_words_are_kept():
    assert clean_text("实施重点行业企业A B C绩效分级管控机制") == "实施重点行业企业A B C绩效分级管控机制"
    assert clean_text("5G 泛低空无人机") == "5G泛低空无人机"


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_no_sentence_is_lost(document):
    """Every character of the source survives, except footers and the stray URLs."""
    raw = DEFAULT_CORPUS.read_text(encoding="utf-8")
    kept = [line for line in raw.splitlines() if not re.match(r"^\s*(-\s*\d+\s*-|https?://\S+)\s*$", line)]
    assert _squash("".join(kept)) == _squash(document.text)
    assert "http" not in document.text
    assert "- 17 -" not in document.text


def test_sentences_broken_across_lines_are_joined(document):
    assert "以习近平新时代中国特色社会主义思想为指导，全面贯彻党的十九大" in document.text
    assert "居民人均可支配收入实现32130.7元，同比增长7.8%。" in document.text


def test_three_parts_and_their_subsections(document):
    parts = [b.text for b in document.blocks if b.kind == "part"]
    assert parts == ["一、2019年和今年以来工作回顾", "二、今年发展主要目标和下一阶段工作部署", "三、加强政府自身建设"]
    sections = [b for b in document.blocks if b.kind == "section"]
    assert [s.heading[0][:2] for s in sections].count("一、") == 5
    assert [s.heading[0][:2] for s in sections].count("二、") == 8


def test_items_and_topic_paragraphs_carry_their_topic(document):
    items = [b for b in document.blocks if b.kind == "item"]
    assert len(items) == 15
    assert all(b.text.startswith("——") for b in items)
    assert items[0].heading[-1] == "经济运行稳中有升"
    building = next(b for b in document.blocks if b.text.startswith("推动建筑业加快发展。"))
    assert building.heading == (
        "二、今年发展主要目标和下一阶段工作部署",
        "（一）聚焦转型升级，做大做强优势产业",
        "推动建筑业加快发展",
    )


def test_paragraphs_after_the_review_items_belong_to_the_part(document):
    covid = next(b for b in document.blocks if b.text.startswith("进入新的一年"))
    assert covid.heading == ("一、2019年和今年以来工作回顾",)


def test_cover_closing_and_glossary(document):
    assert any("路录平" in b.text for b in document.blocks if b.kind == "cover")
    assert [b.text for b in document.blocks if b.kind == "closing"] == [
        "（共印700份）",
        "安阳市北关区十届人大五次会议秘书处2020年6月5日印",
    ]
    glossary = document.glossary
    assert [e.number for e in glossary] == list(range(1, 36))
    six = glossary[14]
    assert (six.term, six.ref_page) == ("“六稳”", 10)
    assert six.definition == "稳就业、稳金融、稳外贸、稳外资、稳投资、稳预期。"
    assert glossary[6].ref_page == 4  # "(正文第 4)" lacks 页


def test_glossary_page_references_match_computed_pages(document):
    """Ground truth: each glossary term's (正文第 N 页) is the page where it first appears."""
    main = document.text[: document.glossary_start]
    checked = 0
    for entry in document.glossary:
        quoted = re.findall(r"“[^”]+”", entry.term)
        needle = quoted[0] if quoted else entry.term
        offset = main.find(needle)
        if offset < 0:
            continue
        checked += 1
        assert document.page_at(offset) == entry.ref_page, entry.term
    assert checked == len(document.glossary)


def test_pages_cover_the_whole_main_text(document):
    assert document.page_at(0) == 1
    assert document.page_at(document.text.index("力争年内建筑企业税收贡献突破4亿元")) == 12
    assert document.page_at(document.text.index("拓宽农民增收渠道")) == 17  # after the "- 17 -" footer
    assert document.page_at(document.glossary_start + 5) is None
