"""Text from pictures of pages: scanned PDFs, and scanned pages inside a text PDF.

The engine is RapidOCR (``rapidocr_onnxruntime``, Apache-2.0): PP-OCRv4 Chinese detection
and recognition models shipped inside the wheel, run by onnxruntime, so it works offline.
A page is rendered at :data:`DPI` with pypdfium2, its text boxes are found and read, and
the boxes are put back in reading order: into lines by their vertical overlap, each line
left to right, lines top to bottom. Each line keeps its box on the page (in PDF points, the
origin at the top left), so a citation can be marked on the page picture.
"""

from __future__ import annotations

import functools
import logging
import threading
from dataclasses import dataclass

import numpy as np

from ..errors import DocumentError

log = logging.getLogger(__name__)

__all__ = ["DPI", "OcrLine", "read_page_image"]

#: Resolution pages are rendered at for OCR: 200 dpi reads 5-point print reliably.
DPI = 200
#: Boxes read with less confidence than this are noise (specks, stamps, rules).
MIN_SCORE = 0.5
#: Two boxes are on one line when their vertical extents overlap by this share of the lower one.
SAME_LINE = 0.5


@dataclass(frozen=True)
class OcrLine:
    """One line of a page as read: its text and its box (x0, y0, x1, y1) in PDF points
    from the page's top left."""

    text: str
    box: tuple[float, float, float, float]


@functools.lru_cache(maxsize=1)
def _engine():
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError as exc:  # the normal install has it; a trimmed one may not
        raise DocumentError(f"OCR is unavailable ({exc}); reinstall with: pip install -e .") from None
    return RapidOCR()


#: The OCR engine is not documented as thread-safe: one page at a time per process.
_LOCK = threading.Lock()


def read_page_image(image: np.ndarray, scale: float) -> list[OcrLine]:
    """The lines of text on a page picture (``image``: RGB pixels; ``scale``: pixels per
    PDF point), in reading order."""
    with _LOCK:
        found, _ = _engine()(np.ascontiguousarray(image[:, :, ::-1]))  # the engine reads BGR
    boxes = []
    for points, text, score in found or []:
        if float(score) < MIN_SCORE or not str(text).strip():
            continue
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        boxes.append((min(xs) / scale, min(ys) / scale, max(xs) / scale, max(ys) / scale, str(text).strip()))
    return _reading_order(boxes)


def _reading_order(boxes: list[tuple[float, float, float, float, str]]) -> list[OcrLine]:
    """Boxes grouped into lines (vertical overlap), lines top to bottom, boxes left to right."""
    lines: list[list[tuple]] = []
    for box in sorted(boxes, key=lambda b: (b[1] + b[3]) / 2):
        x0, y0, x1, y1, _ = box
        for line in lines:
            ly0, ly1 = min(b[1] for b in line), max(b[3] for b in line)
            overlap = min(y1, ly1) - max(y0, ly0)
            if overlap >= SAME_LINE * min(y1 - y0, ly1 - ly0):
                line.append(box)
                break
        else:
            lines.append([box])
    out = []
    for line in sorted(lines, key=lambda ln: min(b[1] for b in ln)):
        line.sort(key=lambda b: b[0])
        text = ""
        for box in line:
            text += (" " if text and _latin(text[-1]) and _latin(box[4][0]) else "") + box[4]
        out.append(
            OcrLine(
                text,
                (min(b[0] for b in line), min(b[1] for b in line), max(b[2] for b in line), max(b[3] for b in line)),
            )
        )
    return out


def _latin(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()
