"""A cited page as a picture with the quoted sentence marked (PDF text layer and scan)."""

from __future__ import annotations

import io

import pytest

from qa.ui.pages import render_pdf_page

QUOTE = "用好用足建筑业三级资质及专项资质审批权限，加大建筑业发展力度，力争年内建筑企业税收贡献突破4亿元。"


def _marked_rows(png: bytes) -> list[int]:
    """Rows of the picture that hold marker-yellow pixels."""
    import numpy as np
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    yellow = (pixels[:, :, 0] > 200) & (pixels[:, :, 1] > 170) & (pixels[:, :, 2] < 150)
    return [int(y) for y in np.nonzero(yellow.sum(axis=1) > 20)[0]]


def test_the_quote_is_marked_on_its_pdf_page(report_pdf):
    rows = _marked_rows(render_pdf_page(report_pdf, 12, QUOTE))
    assert rows, "nothing marked"
    assert _marked_rows(render_pdf_page(report_pdf, 12, "")) == []
    assert _marked_rows(render_pdf_page(report_pdf, 0, QUOTE)) == rows  # page 0: found by the quote


@pytest.mark.slow
def test_the_quote_is_marked_on_a_scanned_page(report_pdf, tmp_path):
    from qa.devtools.ocrcheck import scan_of

    from_text = _marked_rows(render_pdf_page(report_pdf, 12, QUOTE))
    from_scan = _marked_rows(render_pdf_page(scan_of(report_pdf, tmp_path / "scan.pdf", [12]), 1, QUOTE))
    assert from_scan and abs(min(from_scan) - min(from_text)) < 20 and abs(max(from_scan) - max(from_text)) < 20


@pytest.mark.browser
def test_a_pdf_reports_cited_page_opens_as_a_marked_picture_in_the_browser(report_pdf, engine, settings, tmp_path):
    """The bundled report indexed from its PDF: the citation's link opens page 12 as a
    picture with the sentence marked, fitted to a phone's width."""
    from playwright.sync_api import sync_playwright

    from qa.corpus.builder import build_index

    from .conftest import running_app
    from .fixtures import ask_in_page, chromium_path

    index = tmp_path / "index"
    build_index(settings.with_(index_dir=index), engine.embedder, progress=False, sources=[report_pdf])
    with running_app(tmp_path, env={"QA_INDEX_DIR": str(index)}) as (url, _), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox", "--disable-gpu"])
        phone = browser.new_page(viewport={"width": 375, "height": 800})
        phone.goto(url)
        phone.wait_for_selector("#question textarea")
        ask_in_page(phone, "今年建筑业税收目标是多少", "第12页", where="#sources")
        with phone.context.expect_page() as opened:
            phone.locator("#sources a.page-link").first.click()
        cited = opened.value
        cited.wait_for_function("document.images.length && document.images[0].complete", timeout=30_000)
        assert "/12?" in cited.url
        assert cited.evaluate("document.images[0].naturalWidth") > 1000  # the page, sharp
        assert cited.evaluate("document.images[0].getBoundingClientRect().width") <= 375  # fitted to the phone
        picture = cited.request.get(cited.url).body()
        assert _marked_rows(picture) == _marked_rows(render_pdf_page(report_pdf, 12, QUOTE))
        browser.close()
