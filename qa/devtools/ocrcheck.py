"""How well scans are read: ``qa ocr PDF [--pages 1,12] [--question-set FILE]``.

Renders the pages of a PDF that has a text layer as pictures (a scan, no text layer),
reads them back by OCR as a scanned upload is read, and compares, page by page, with the
text layer: character agreement (difflib's ratio over the text without whitespace) and
seconds per page. With ``--question-set``, the scanned document alone is indexed and the
set is asked of it (the development set is about the bundled report: give that report
printed to PDF).
"""

from __future__ import annotations

import argparse
import difflib
import statistics
import tempfile
import time
from pathlib import Path

from .. import console
from ..config import Settings

__all__ = ["agreement", "main", "scan_of"]

#: Resolution of the pictures a scan is made of.
SCAN_DPI = 150


def scan_of(pdf: Path, target: Path, pages: list[int] | None = None) -> Path:
    """``pages`` (1-based; all by default) of ``pdf`` as pictures in a PDF without a text layer."""
    import pypdfium2

    document = pypdfium2.PdfDocument(str(pdf))
    numbers = pages or list(range(1, len(document) + 1))
    images = [document[n - 1].render(scale=SCAN_DPI / 72).to_pil().convert("RGB") for n in numbers]
    document.close()
    images[0].save(target, save_all=True, append_images=images[1:], resolution=SCAN_DPI)
    return target


def agreement(expected: str, got: str) -> float:
    """Character agreement of two texts, whitespace aside (1.0: the same characters)."""
    a, b = "".join(expected.split()), "".join(got.split())
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio() if a or b else 1.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="qa ocr", description=__doc__.splitlines()[0])
    parser.add_argument("pdf", type=Path, help="a PDF with a text layer (the truth)")
    parser.add_argument("--pages", default="", help="pages to measure, e.g. 1,12,21 (default: all)")
    parser.add_argument("--question-set", metavar="FILE", help="ask this set of the scanned document")
    args = parser.parse_args(argv)
    console.setup()
    from ..ingest.readers import read_source

    pages = [int(p) for p in args.pages.split(",") if p.strip()] or None
    truth = read_source(args.pdf)
    with tempfile.TemporaryDirectory() as tmp:
        scan = scan_of(args.pdf, Path(tmp) / f"{args.pdf.stem}-scan.pdf", pages)
        started = time.perf_counter()
        read = read_source(scan, args.pdf.name)
        seconds = time.perf_counter() - started
        numbers = pages or list(range(1, len(truth.pages) + 1))
        scores = [agreement("".join(truth.pages[n - 1]), "".join(got)) for n, got in zip(numbers, read.pages)]
        print(f"pages              {len(numbers)}")
        print(
            f"agreement          mean {statistics.mean(scores):.4f}, lowest {min(scores):.4f} (page {numbers[scores.index(min(scores))]})"
        )
        print(f"whole text         {agreement(truth.text, read.text):.4f}")
        print(f"seconds per page   {seconds / len(numbers):.1f}")
        if args.question_set:
            _ask(scan, Path(args.question_set), Path(tmp))
    return 0


def _ask(scan: Path, question_set: Path, tmp: Path) -> None:
    """Index the scanned document alone and ask the question set of it."""
    from ..corpus.builder import build_index
    from ..embedding.embedder import Embedder
    from ..engine import Engine
    from .eval import evaluate
    from .questionsets import load_questions

    settings = Settings().with_(index_dir=tmp / "index")
    build_index(settings, Embedder(settings), progress=False, sources=[scan])
    row = evaluate(load_questions(question_set), Engine(settings).load()).rows["overall"]
    print("asked of the scan  " + "  ".join(f"{k} {row[k]:.3f}" for k in ("R@1", "R@5", "acc", "conf_ok", "unans_ok")))
