"""Documents the tests make themselves: the bundled report as a PDF with its original
pages and as a Word file, and a small second report of another year."""

from __future__ import annotations

import html
import json
import os
import shutil
from pathlib import Path

from qa.config import DEFAULT_CORPUS
from qa.ingest.readers import read_source

#: A second report, written for the tests: another district's 2021 report with its own
#: figures, a review of 2020 and targets for 2021, and a short glossary.
SECOND_REPORT = """\
文峰区2021年政府工作报告

——2021年1月20日在文峰区第九届人民代表大会第六次会议上

各位代表：

一、2020年工作回顾

2020年，全区生产总值完成210.5亿元，同比增长3.4%。一般公共预算收入完成12.3亿元，同比增长5.1%。

——城市建设扎实推进。完成老旧小区改造45个，新建城市游园12个。

二、2021年主要目标和重点工作

2021年全区经济社会发展的主要预期目标是：生产总值增长7%左右；一般公共预算收入增长6%；建筑业税收突破5亿元。

——推进“两个转变”。全年完成老旧小区改造60个，新建停车泊位3000个。

《政府工作报告》部分词语解释

1、“两个转变”(正文第1页)：指城市管理由粗放向精细转变、由被动向主动转变。
"""


def chromium_path() -> str | None:
    return os.environ.get("QA_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def ask_in_page(page, question: str, expect: str, where: str = "#chat") -> None:
    """Type ``question`` into the app's box in a browser page, send it, and wait until the
    element ``where`` shows ``expect``."""
    page.fill("#question textarea", question)
    page.keyboard.press("Enter")
    shown = f"(document.querySelector({json.dumps(where)})?.innerText || '').includes({json.dumps(expect)})"
    page.wait_for_function(shown, timeout=30_000)


def report_pdf(target: Path) -> Path:
    """Print the bundled report to PDF with headless Chromium, one PDF page per page of
    the original, every printed line as in the original, a ``- N -`` footer on each."""
    pages = read_source(DEFAULT_CORPUS).pages
    body = "".join(
        "<section>"
        + "".join(f"<div>{html.escape(line)}</div>" for line in lines)
        + f"<footer>- {n} -</footer></section>"
        for n, lines in enumerate(pages, start=1)
    )
    document = f"""<!doctype html><html lang="zh"><meta charset="utf-8"><style>
        @page {{ size: A4; margin: 18mm 16mm; }}
        body {{ font-family: "WenQuanYi Zen Hei", sans-serif; font-size: 14pt; line-height: 1.45; margin: 0; }}
        section {{ height: 255mm; position: relative; page-break-after: always; }}
        div {{ white-space: nowrap; }}
        footer {{ position: absolute; bottom: 0; width: 100%; text-align: center; }}
    </style><body>{body}</body></html>"""
    return _print_pdf(document, target, prefer_css_page_size=True)


def wrapped_pdf(text: str, target: Path, header_footer: bool = False) -> Path:
    """Print a typed text to PDF as a browser lays it out: one ``<p>`` per line of the
    text, wrapped at the page width (A5), first lines indented; ``header_footer``: with
    the browser's own print header and footer (date, title, address, page counter)."""
    body = "".join(f"<p>{html.escape(line)}</p>" for line in text.splitlines() if line.strip())
    document = f"""<!doctype html><html lang="zh"><meta charset="utf-8"><style>
        @page {{ size: A5; margin: 15mm; }}
        body {{ font-family: "WenQuanYi Zen Hei", sans-serif; font-size: 12pt; }}
        p {{ text-indent: 2em; margin: 0; }}
    </style><body>{body}</body></html>"""
    if header_footer:
        document = document.replace("<style>", "<title>政府工作报告</title><style>", 1)
    return _print_pdf(document, target, format="A5", display_header_footer=header_footer)


def _print_pdf(document: str, target: Path, **options) -> Path:
    """Print an HTML document to ``target`` with headless Chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path())
        try:
            page = browser.new_page()
            page.set_content(document)
            page.pdf(path=str(target), **{"format": "A4", **options})
        finally:
            browser.close()
    return target


def report_docx(target: Path) -> Path:
    """The bundled report as a Word document: a paragraph per paragraph of the report,
    a page break where its pages begin."""
    import docx
    from docx.enum.text import WD_BREAK

    from qa.ingest.documents import load_document

    doc = load_document(DEFAULT_CORPUS)
    out = docx.Document()
    starts = {offset for offset, _ in doc.page_starts[1:]}
    for block in doc.blocks:
        text = doc.text[block.start : block.end]
        # A block may span a page break: split it there, as Word would lay it out.
        cuts = sorted(o - block.start for o in starts if block.start < o < block.end)
        if block.start in starts and out.paragraphs:
            out.paragraphs[-1].add_run().add_break(WD_BREAK.PAGE)
        pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)])]
        paragraph = out.add_paragraph()
        for k, piece in enumerate(pieces):
            if k:
                paragraph.add_run().add_break(WD_BREAK.PAGE)
            paragraph.add_run(piece)
    out.save(str(target))
    return target


def second_report(target: Path) -> Path:
    target.write_text(SECOND_REPORT, encoding="utf-8")
    return target
