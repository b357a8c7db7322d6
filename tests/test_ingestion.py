"""Nothing of a report is lost between its file and its passages, whatever its layout, and
a report's facts come from its own cover: checked on every development report."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from qa.config import DEFAULT_CORPUS
from qa.ingest.chunking import chunk_document, coverage
from qa.ingest.documents import load_document, parse_document, parse_source
from qa.ingest.readers import read_source

REPORTS = Path(__file__).parent / "data" / "reports"
FILES = [*sorted(REPORTS.glob("*.txt")), DEFAULT_CORPUS]


def held(path: Path):
    source = read_source(path)
    return coverage(source, chunk_document(parse_source(source)))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_sentence_of_every_report_stands_in_a_passage(path):
    result = held(path)
    assert result.sentences > 250
    assert result.missing == ()


def test_the_check_finds_a_lost_sentence():
    """The invariant's check is no formality: a parser that drops a paragraph fails it."""
    from qa.records import Chunk

    source = read_source(REPORTS / "hechi_city_2024.txt")
    chunks = chunk_document(parse_source(source))
    lost = coverage(source, [c for c in chunks if "688.5亿元" not in c.text])
    assert any("688.5亿元" in s for s in lost.missing) and isinstance(chunks[0], Chunk)


def _rendered_docx(text: str, target: Path) -> Path:
    import docx

    out = docx.Document()
    for line in text.splitlines():
        if line.strip():
            out.add_paragraph(line.strip())
    out.save(str(target))
    return target


@pytest.mark.parametrize("name", ["hechi_city_2024", "fuping_county_2021"])
def test_word_renderings_lose_nothing(name, tmp_path):
    text = (REPORTS / f"{name}.txt").read_text(encoding="utf-8")
    result = held(_rendered_docx(text, tmp_path / f"{name}.docx"))
    assert result.sentences > 250 and result.missing == ()


@pytest.mark.browser
@pytest.mark.parametrize("name", ["yi_county_2025", "bozhou_city_2024"])
def test_pdf_renderings_lose_nothing(name, tmp_path):
    from tests.fixtures import chromium_path, wrapped_pdf

    if chromium_path() is None:
        pytest.skip("chromium is not installed")
    text = (REPORTS / f"{name}.txt").read_text(encoding="utf-8")
    pdf = wrapped_pdf(text, tmp_path / f"{name}.pdf")
    result = held(pdf)
    assert result.sentences > 250 and result.missing == ()
    doc = load_document(pdf)
    assert doc.page_count and doc.page_count > 5  # a PDF has pages: citations name them
    assert doc.title == load_document(REPORTS / f"{name}.txt").title


FACTS = {
    "hailar_district_2016": (
        "海拉尔区2016年政府工作报告",
        "海拉尔区",
        "呼伦贝尔市海拉尔区",
        "区",
        "2016-02-19",
        "杜联合",
        "区长",
    ),
    "hailar_district_2018": (
        "海拉尔区2018年政府工作报告",
        "海拉尔区",
        "呼伦贝尔市海拉尔区",
        "区",
        "2018-03-07",
        "杨国宏",
        "区长",
    ),
    "quyang_county_2020": ("曲阳县2020年政府工作报告", "曲阳县", "保定市曲阳县", "县", "2020-01-11", "石志新", "县长"),
    "fuping_county_2021": ("阜平县2021年政府工作报告", "阜平县", "保定市阜平县", "县", "2021-02-05", "贾瑞生", "县长"),
    "yi_county_2025": ("易县2025年政府工作报告", "易县", "保定市易县", "县", "2025-01-14", "丁磊", "代县长"),
    "hechi_city_2024": (
        "河池市2024年政府工作报告",
        "河池市",
        "广西壮族自治区河池市",
        "市",
        "2024-02-02",
        "王军",
        "市长",
    ),
    "bozhou_city_2024": ("亳州市2024年政府工作报告", "亳州市", "安徽省亳州市", "市", "2024-01-16", "秦凤玉", "市长"),
    DEFAULT_CORPUS.stem: ("北关区2020年政府工作报告", "北关区", "安阳市北关区", "区", "2020-06-06", "路录平", "区长"),
}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_a_reports_facts_come_from_its_cover(path):
    facts = load_document(path).facts
    got = (facts.title, facts.place, facts.place_full, facts.level, facts.date, facts.speaker, facts.office)
    assert got == FACTS[path.stem]
    assert facts.year == int(facts.date[:4]) and "人民代表大会" in facts.meeting


COVER = [
    "阜平县十七届人大",
    "五次会议文件(1)",
    "政 府 工 作 报 告",
    "——2021年2月5日在阜平县第十七届人民代表大会第五次会议上",
    "阜平县人民政府县长 贾瑞生",
]
BODY = "各位代表：\n现在，我代表县人民政府向大会作工作报告。\n一、2020年工作回顾\n全县生产总值增长5%。\n"


@pytest.mark.parametrize("order", list(itertools.permutations(range(5)))[::17])
def test_cover_lines_in_any_order_give_the_same_facts(order):
    doc = parse_document("\n".join(COVER[i] for i in order) + "\n" + BODY, "x.txt")
    f = doc.facts
    assert (f.title, f.place, f.year, f.date, f.speaker, f.office) == (
        "阜平县2021年政府工作报告",
        "阜平县",
        2021,
        "2021-02-05",
        "贾瑞生",
        "县长",
    )


def test_a_heading_and_its_paragraph_on_one_line_become_both():
    doc = parse_document(
        "政府工作报告\n——2024年1月16日在某市第五届人民代表大会第三次会议上\n各位代表：\n一、2023年工作回顾\n"
        "（一）三大攻坚战强力突破。坚决贯彻落实决策部署，全年累计化解政府债务12亿元。\n"
        "（二）这一个编号段落的第一句话很长很长很长很长很长很长很长很长很长很长，已经超过了标题可能有的长度。第二句话。\n",
        "x.txt",
    )
    kinds = [(b.kind, b.text) for b in doc.blocks if b.kind not in ("cover",)]
    assert ("section", "（一）三大攻坚战强力突破。") in kinds
    paragraph = next(b for b in doc.blocks if b.text.startswith("坚决贯彻落实"))
    assert paragraph.kind == "paragraph" and paragraph.heading[:2] == (
        "一、2023年工作回顾",
        "（一）三大攻坚战强力突破。",
    )
    long = next(b for b in doc.blocks if b.text.startswith("（二）"))
    assert long.kind == "paragraph" and long.text.endswith("第二句话。")
    chunks = chunk_document(doc)
    assert any("12亿元" in c.text for c in chunks)


def test_an_unnumbered_heading_of_a_typed_text_is_a_part_and_sets_the_period():
    doc = load_document(REPORTS / "yi_county_2025.txt")
    parts = [b.text for b in doc.blocks if b.kind == "part"]
    assert parts == ["二〇二四年工作回顾", "二〇二五年主要目标任务"]
    periods = {c.period for c in chunk_document(doc) if c.heading and c.heading[0] == parts[0]}
    assert periods <= {"review", "current"} and "review" in periods


@pytest.mark.parametrize(
    ("name", "entries", "marker"),
    [("quyang_county_2020", 27, "[1]"), ("fuping_county_2021", 75, "〔1〕"), ("yi_county_2025", 31, "[1]")],
)
def test_a_notes_list_becomes_glossary_entries_linked_from_the_text(name, entries, marker):
    doc = load_document(REPORTS / f"{name}.txt")
    assert [e.number for e in doc.glossary] == list(range(1, entries + 1))
    first = doc.glossary[0]
    assert first.term and first.definition and "：" not in first.term
    body = [b for b in doc.blocks if b.kind not in ("glossary", "glossary_title")]
    assert not any(re.search(r"[\[〔]\d{1,3}[\]〕]", b.text) for b in body)  # markers are no text
    linked = next(b for b in body if 1 in b.notes)
    assert first.keys[0] in re.sub(r"[“”]", "", linked.text)  # the marker stood after the term
    assert marker in (REPORTS / f"{name}.txt").read_text(encoding="utf-8")


def test_entries_numbered_otherwise_and_page_references():
    doc = parse_document(
        "正文一段，有“三个一”〔1〕的说法。\n注 释\n①“三个一”（见第3页）：一个目标、一个方法、一个结果。\n"
    )
    (entry,) = doc.glossary
    assert (entry.number, entry.term, entry.ref_page) == (1, "“三个一”", 3)
    assert doc.blocks[0].notes == (1,)


def test_pages_only_where_the_source_has_them():
    assert load_document(DEFAULT_CORPUS).page_count == 28  # a PDF extraction: indented page starts
    typed = load_document(REPORTS / "hailar_district_2016.txt")  # indented paragraphs, no pages
    assert typed.page_count is None
    assert all(c.page is None and c.pages == () for c in chunk_document(typed))
    assert load_document(REPORTS / "hailar_district_2018.txt").page_count is None


def test_the_years_a_report_speaks_of_come_from_its_headings_and_targets():
    assert load_document(REPORTS / "hailar_district_2018.txt").years == (2017, 2018)
    fuping = set(load_document(REPORTS / "fuping_county_2021.txt").years)
    assert set(range(2016, 2026)) <= fuping  # 十三五 reviewed, 十四五 planned
    assert 2015 not in fuping
