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
