"""Reading PDF, Word, text and Markdown files into pages, and recovering their structure."""

from __future__ import annotations

import re
import zipfile

import pytest

from qa.config import DEFAULT_CORPUS
from qa.errors import DocumentError
from qa.ingest.documents import load_document, parse_document
from qa.ingest.readers import read_source

from .fixtures import SECOND_REPORT


def test_the_pdf_gives_the_reports_text_and_pages(report_pdf, document):
    source = read_source(report_pdf)
    assert source.printed and len(source.pages) == 28
    assert not any(line.startswith("- ") and line.endswith(" -") for page in source.pages for line in page)
    parsed = load_document(report_pdf)
    assert parsed.text == document.text
    assert parsed.page_starts == document.page_starts
    assert (parsed.year, parsed.title, len(parsed.glossary)) == (2020, "北关区2020年政府工作报告", 35)


def test_the_docx_gives_the_reports_text_and_pages(report_docx, document):
    source = read_source(report_docx)
    assert not source.printed
    parsed = load_document(report_docx)
    assert parsed.text == document.text
    assert parsed.page_starts == document.page_starts
    assert len(parsed.glossary) == 35


def test_a_pdf_wrapped_at_another_width_gives_the_same_paragraphs(report_pdf, tmp_path):
    """Printed lines are joined by the document's own line width, whatever it is."""
    from .fixtures import wrapped_pdf

    typed = parse_document(SECOND_REPORT, "文峰区2021年政府工作报告.txt")
    printed = load_document(wrapped_pdf(SECOND_REPORT, tmp_path / "文峰区2021年政府工作报告.pdf"))
    body = [(b.kind, b.text) for b in printed.blocks if b.kind != "cover"]
    assert body == [(b.kind, b.text) for b in typed.blocks if b.kind != "cover"]
    assert (printed.year, printed.title) == (2021, "文峰区2021年政府工作报告")


def test_a_typed_report_has_paragraphs_headings_items_and_a_glossary():
    doc = parse_document(SECOND_REPORT, "文峰区2021年政府工作报告.txt")
    kinds = [b.kind for b in doc.blocks]
    assert kinds.count("cover") == 2 and kinds.count("part") == 2 and kinds.count("glossary") == 1
    assert (doc.year, doc.title) == (2021, "文峰区2021年政府工作报告")
    item = next(b for b in doc.blocks if b.kind == "item")
    assert item.heading == ("一、2020年工作回顾", "城市建设扎实推进")
    (entry,) = doc.glossary
    assert (entry.term, entry.ref_page) == ("“两个转变”", 1)


def test_numbered_headings_and_a_document_without_structure():
    doc = parse_document("工作安排\n\n1.招商引资\n\n全年引进项目10个。\n\n（1）重点项目\n\n新开工项目5个。\n")
    assert [b.kind for b in doc.blocks] == ["cover", "subsection", "paragraph", "subsection", "paragraph"]
    assert doc.blocks[-1].heading[0] == "（1）重点项目"  # no part or section above it
    plain = parse_document("这是第一段，说明了一些情况。\n这是第二段，又说了一些。\n")
    assert [b.kind for b in plain.blocks] == ["paragraph", "paragraph"]
    assert plain.year is None and plain.title == "text"


def test_the_year_comes_from_the_file_name_when_the_text_has_no_date(tmp_path):
    path = tmp_path / "2019年某区工作报告.md"
    path.write_text("# 某区工作报告\n\n全区生产总值增长5%，一般公共预算收入增长6%。\n", encoding="utf-8")
    doc = load_document(path)
    assert doc.year == 2019 and doc.title == "某区工作报告"


def test_page_breaks_in_text_files(tmp_path):
    path = tmp_path / "paged.txt"
    path.write_text(
        "第一页的内容到此结束。\n\f第二页的内容到此结束。\n- 2 -\n第三页的内容到此结束。\n", encoding="utf-8"
    )
    doc = load_document(path)
    assert [p for _, p in doc.page_starts] == [1, 2, 3]
    assert "- 2 -" not in doc.text


def test_the_bundled_text_keeps_todays_rules(document):
    source = read_source(DEFAULT_CORPUS)
    assert source.printed and len(source.pages) == 28


# -- bad files: one clear line each ----------------------------------------------------------


def _encrypted_pdf(report_pdf, target):
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(report_pdf).pages[:2]:
        writer.add_page(page)
    writer.encrypt("secret")
    with open(target, "wb") as fh:
        writer.write(fh)
    return target


def _blank_pdf(target):
    """A PDF with a blank page: no text layer and no picture to read."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    with open(target, "wb") as fh:
        writer.write(fh)
    return target


def _bomb_docx(target):
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", b"\0" * (300 * 1024 * 1024))
    return target


def _bytes(data: bytes):
    def make(target):
        target.write_bytes(data)
        return target

    return make


def _zip_named_pdf(target):
    """A Word document (a zip archive) saved with a .pdf extension."""
    with zipfile.ZipFile(target, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    return target


BAD_FILES = {
    "word.pdf": (_zip_named_pdf, "not a readable PDF"),
    "empty.pdf": (_bytes(b""), "empty"),
    "garbage.pdf": (_bytes(b"%PDF-1.4\n\x00\xff garbage"), "not a readable PDF"),
    "blank.pdf": (_blank_pdf, "the PDF has no text"),
    "garbage.docx": (_bytes(b"PK\x03\x04 not a zip"), "not a readable Word document"),
    "bomb.docx": (_bomb_docx, "decompression bomb"),
    "report.exe": (_bytes(b"MZ"), "unsupported file type"),
    "binary.txt": (_bytes(b"\xff\xfe\x00\x00\x81\x82" * 50), "not a text file"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_files_get_one_clear_line(tmp_path, name):
    make, message = BAD_FILES[name]
    path = make(tmp_path / name)
    with pytest.raises(DocumentError, match=message) as caught:
        read_source(path)
    assert "\n" not in str(caught.value) and name in str(caught.value)


def test_an_encrypted_pdf_is_refused(report_pdf, tmp_path):
    path = _encrypted_pdf(report_pdf, tmp_path / "locked.pdf")
    with pytest.raises(DocumentError, match="encrypted"):
        read_source(path)


@pytest.mark.browser
def test_a_browser_prints_header_and_footer_are_not_text(tmp_path):
    """Chromium's print header (date and time, title) and footer (the page's address,
    ``1/3``) return on every page: they are dropped, and every line of the text stays."""
    from .fixtures import chromium_path, wrapped_pdf

    if chromium_path() is None:
        pytest.skip("chromium is not installed")
    text = SECOND_REPORT * 3  # long enough for several pages
    pdf = wrapped_pdf(text, tmp_path / "printed.pdf", header_footer=True)
    source = read_source(pdf)
    assert len(source.pages) >= 2
    lines = [line for page in source.pages for line in page]
    assert not [line for line in lines if "file://" in line or "about:blank" in line or re.search(r"\d+/\d+$", line)]
    assert not [line for line in lines if re.search(r"\d{1,2}:\d{2}\s*[AP]M", line)]
    plain = read_source(wrapped_pdf(text, tmp_path / "plain.pdf"))
    assert "".join("".join(p) for p in source.pages) == "".join("".join(p) for p in plain.pages)


@pytest.mark.slow
def test_a_scanned_pdf_is_read_by_ocr_with_its_pages(report_pdf, tmp_path):
    from qa.devtools.ocrcheck import agreement, scan_of

    source = read_source(scan_of(report_pdf, tmp_path / "scan.pdf", [1, 12]))
    original = read_source(report_pdf)
    assert len(source.pages) == 2
    for got, want in zip(source.pages, (original.pages[0], original.pages[11])):
        assert agreement("".join(want), "".join(got)) > 0.97
        assert not any(re.fullmatch(r"-\s*\d+\s*-", line) for line in got)  # the printed footer


@pytest.mark.slow
def test_a_scanned_page_inside_a_text_pdf_is_read_by_ocr(report_pdf, tmp_path):
    from pypdf import PdfReader, PdfWriter

    from qa.devtools.ocrcheck import agreement, scan_of

    scan = PdfReader(scan_of(report_pdf, tmp_path / "scan.pdf", [12]))
    writer = PdfWriter()
    writer.append(str(report_pdf), pages=(0, 2))  # pages 1 and 2 keep their text layer
    writer.add_page(scan.pages[0])  # page 3 is a picture of page 12
    mixed = tmp_path / "mixed.pdf"
    with open(mixed, "wb") as fh:
        writer.write(fh)
    original = read_source(report_pdf)
    source = read_source(mixed)
    assert source.pages[:2] == original.pages[:2]
    assert agreement("".join(original.pages[11]), "".join(source.pages[2])) > 0.97
