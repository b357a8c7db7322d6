"""Read a document file into lines per page: PDF, Word (.docx), plain text and Markdown.

Each reader returns a :class:`Source`: the text lines of every page, and whether those
lines are printed lines (a PDF's, wrapped at the page width: a sentence runs on across
them) or whole paragraphs (Word, a typed text). :mod:`qa.ingest.documents` recovers the
structure from there. Everything that can go wrong with a user's file raises
:class:`DocumentError` with a one-line message naming the file.

- PDF: ``pypdfium2`` (Apache-2.0/BSD, PDFium). On the bundled report printed to PDF,
  pypdf, pdfplumber and pypdfium2 all gave every page's text exactly; pypdfium2 read the
  28 pages in 0.11 s, pypdf in 0.51 s, pdfplumber in 0.92 s (PyMuPDF is AGPL: not
  used). An encrypted file or one without a text layer (a scan: OCR is not supported)
  is refused.
- Word: ``python-docx``; an explicit page break, or the page break Word recorded when
  it last laid out the document, starts a new page. The archive is checked for
  decompression bombs before it is opened.
- Text and Markdown: UTF-8 (or GB18030, common for Chinese files); a form feed or a
  ``- 12 -`` page footer starts a new page, and so does an indented line in a PDF
  extraction that marks page starts so (told from paragraph indentation by the text
  itself: few lines indented, most of them mid-sentence). A text with none of these has
  no pages: nothing in it is cited by page.
"""

from __future__ import annotations

import logging
import math
import re
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..errors import DocumentError, FileTooLargeError, UnsupportedFileError
from ..progress import reporter

log = logging.getLogger(__name__)

__all__ = [
    "MAX_UNCOMPRESSED_BYTES",
    "SUPPORTED_SUFFIXES",
    "DocumentError",
    "Source",
    "check_file",
    "drop_running_lines",
    "ocr_lines",
    "read_source",
    "text_source",
]

SUPPORTED_SUFFIXES = (".pdf", ".docx", ".txt", ".md")
#: A .docx whose parts unpack to more than this is refused (a decompression bomb).
MAX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024
#: ...and so is one that unpacks to more than this many times its size.
MAX_COMPRESSION_RATIO = 100
#: A printed page footer: ``- 12 -``, ``— 12 —``, ``第 12 页``.
FOOTER = re.compile(r"^[-—–]\s*\d{1,4}\s*[-—–]$|^第\s*\d{1,4}\s*页(\s*共\s*\d+\s*页)?$")
#: Characters a text layer of real words has; a scan's is empty or a few stray marks.
MIN_TEXT_CHARS = 10
#: Lines looked at for a running header or footer at each end of a page.
MARGIN_LINES = 2
#: A margin line that recurs on at least this share of the pages is print debris.
RUNNING_SHARE = 0.5
#: ...and on at least this many pages.
MIN_RUNNING_PAGES = 2
_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True)
class Source:
    """A document's raw text: lines per page (page 1 first), footers removed."""

    name: str
    pages: tuple[tuple[str, ...], ...]
    #: Lines are printed lines (wrapped at the page width), not whole paragraphs.
    printed: bool
    #: The source has pages (a PDF, a Word file that records them, a text with page
    #: breaks); without them, ``pages`` is one page and nothing is cited by page.
    paged: bool = True

    @property
    def text(self) -> str:
        return "\n".join(line for page in self.pages for line in page)


def check_file(path: Path, max_mb: int | None = None, name: str | None = None) -> None:
    """What every way in (the command line, the app's upload, the Python API) checks
    before a file is taken: a supported type, present, not empty, at most ``max_mb``.
    Raises :class:`UnsupportedFileError`, :class:`FileTooLargeError` or :class:`DocumentError`."""
    name = name or path.name
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UnsupportedFileError(
            f"{name}: unsupported file type {suffix or '(none)'}; use one of {', '.join(SUPPORTED_SUFFIXES)}", name=name
        )
    if not path.is_file():
        raise DocumentError(f"{name}: no such file", name=name, reason="missing")
    size = path.stat().st_size
    if size == 0:
        raise DocumentError(f"{name}: the file is empty", name=name, reason="empty")
    if max_mb is not None and size > max_mb * 1024 * 1024:
        raise FileTooLargeError(
            f"{name}: too large ({size / 1e6:.1f} MB; the limit is {max_mb} MB, QA_MAX_DOCUMENT_MB)", max_mb, name=name
        )


def read_source(path: str | Path, name: str | None = None, progress=None) -> Source:
    """Read ``path`` by its extension; raises :class:`DocumentError`. ``name`` is the
    file's name to report (a stored copy keeps the name it was added as)."""
    path = Path(path)
    name = name or path.name
    check_file(path, name=name)
    report = reporter(progress)
    report("read", 0.0, name)
    if path.suffix.lower() == ".pdf":
        source = _read_pdf(path, name, report)
    else:
        source = {".docx": _read_docx}.get(path.suffix.lower(), _read_text)(path, name)
    report("read", 1.0, name)
    if sum(len(line) for page in source.pages for line in page) < MIN_TEXT_CHARS:
        raise DocumentError(f"{name}: the document has no text", name=name, reason="no_text")
    return source


def _strip_footers(lines: list[str]) -> tuple[str, ...]:
    return tuple(line for line in (raw.strip() for raw in lines) if line and not FOOTER.match(line))


def _read_pdf(path: Path, name: str, report) -> Source:
    """A PDF's text layer, page by page; a page without one (a scan) is read by OCR."""
    import pypdfium2

    try:
        pdf = pypdfium2.PdfDocument(str(path))
    except pypdfium2.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise DocumentError(
                f"{name}: the PDF is encrypted; remove the password and add it again", name=name, reason="encrypted"
            ) from None
        raise DocumentError(
            f"{name}: not a readable PDF ({_first_line(exc)})", name=name, reason="unreadable"
        ) from None
    try:
        pages, scanned = [], []
        for i in range(len(pdf)):
            page = pdf[i]
            textpage = page.get_textpage()
            lines = textpage.get_text_range().splitlines()
            textpage.close()
            if sum(len(line.strip()) for line in lines) < MIN_TEXT_CHARS and _has_picture(page):
                scanned.append(i + 1)
                log.info("%s: reading page %d of %d by OCR", name, i + 1, len(pdf))
                report("ocr", i / len(pdf), name)
                lines = [line.text for line in ocr_lines(page)]
            report("read", (i + 1) / len(pdf), name)
            pages.append([line.strip() for line in lines if line.strip()])
            page.close()
    except pypdfium2.PdfiumError as exc:
        raise DocumentError(
            f"{name}: not a readable PDF ({_first_line(exc)})", name=name, reason="unreadable"
        ) from None
    finally:
        pdf.close()
    pages = [_strip_footers(lines) for lines in drop_running_lines(pages)]
    if sum(len(line) for page in pages for line in page) < MIN_TEXT_CHARS:
        what = "no text, not even by OCR" if scanned else "no text"
        raise DocumentError(f"{name}: the PDF has {what}", name=name, reason="no_text")
    if scanned:
        log.info("%s: %d of %d pages read by OCR", name, len(scanned), len(pages))
    return Source(name, tuple(pages), printed=True)


def _has_picture(page) -> bool:
    """Whether a page holds an image (a scan), as opposed to being blank."""
    import pypdfium2.raw as pdfium_c

    return any(obj.type == pdfium_c.FPDF_PAGEOBJ_IMAGE for obj in page.get_objects())


def ocr_lines(page) -> list:
    """The lines of a page picture, read by OCR (see :mod:`qa.ingest.ocr`)."""
    from .ocr import DPI, read_page_image

    scale = DPI / 72
    bitmap = page.render(scale=scale, rev_byteorder=True)  # RGB(A) pixels
    return read_page_image(bitmap.to_numpy()[:, :, :3], scale)


def drop_running_lines(pages: list[list[str]]) -> list[list[str]]:
    """The pages (non-empty, stripped lines) without their running headers and footers: a line among the first or
    last :data:`MARGIN_LINES` of a page that recurs there, digits aside, on at least
    :data:`RUNNING_SHARE` of the pages (what a browser or office program prints: the date
    and time, the file's address, ``1/2``, a title on every page). Fewer than
    :data:`MIN_RUNNING_PAGES` pages are kept whole: nothing can recur."""
    if len(pages) < MIN_RUNNING_PAGES:
        return pages
    shape = [[_DIGITS.sub("#", line) for line in lines] for lines in pages]
    top, bottom = Counter(), Counter()
    for shapes in shape:
        top.update(set(shapes[:MARGIN_LINES]))
        bottom.update(set(shapes[-MARGIN_LINES:]))
    need = max(MIN_RUNNING_PAGES, math.ceil(RUNNING_SHARE * len(pages)))
    running_top = {s for s, n in top.items() if n >= need}
    running_bottom = {s for s, n in bottom.items() if n >= need}
    out = []
    for lines, shapes in zip(pages, shape):
        last = len(lines) - MARGIN_LINES
        out.append(
            [
                line
                for i, (line, s) in enumerate(zip(lines, shapes))
                if not ((i < MARGIN_LINES and s in running_top) or (i >= last and s in running_bottom))
            ]
        )
    return out


def _check_archive(path: Path, name: str) -> None:
    """Refuse a .docx that is not a zip archive or would unpack to a decompression bomb."""
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise DocumentError(
            f"{name}: not a readable Word document ({_first_line(exc)})", name=name, reason="unreadable"
        ) from None
    if unpacked > MAX_UNCOMPRESSED_BYTES or unpacked > MAX_COMPRESSION_RATIO * max(path.stat().st_size, 1):
        raise DocumentError(
            f"{name}: refused: it would unpack to {unpacked / 1e6:.0f} MB (a decompression bomb?)",
            name=name,
            reason="bomb",
        )


def _read_docx(path: Path, name: str) -> Source:
    import docx
    from docx.oxml.ns import qn

    _check_archive(path, name)
    try:
        document = docx.Document(str(path))
    except Exception as exc:  # python-docx raises many kinds for a broken package
        raise DocumentError(
            f"{name}: not a readable Word document ({_first_line(exc)})", name=name, reason="unreadable"
        ) from None
    text_tag, tab_tag, br_tag, rendered = qn("w:t"), qn("w:tab"), qn("w:br"), qn("w:lastRenderedPageBreak")
    before_tag = f"{qn('w:pPr')}/{qn('w:pageBreakBefore')}"
    pages: list[list[str]] = [[]]
    for paragraph in document.paragraphs:
        if paragraph._p.find(before_tag) is not None and pages[-1]:
            pages.append([])
        line: list[str] = []
        for element in paragraph._p.iter(text_tag, tab_tag, br_tag, rendered):
            if element.tag == text_tag:
                line.append(element.text or "")
            elif element.tag == tab_tag:
                line.append("\t")
            elif element.tag == rendered or element.get(qn("w:type")) == "page":
                # The page ends inside (or before) this paragraph: what came before
                # stays on the page, the rest begins the next one.
                if line:
                    pages[-1].append("".join(line))
                    line = []
                if pages[-1]:
                    pages.append([])
        pages[-1].append("".join(line))
    return Source(name, tuple(_strip_footers(p) for p in pages), printed=False, paged=len(pages) > 1)


def _decode(data: bytes, name: str) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise DocumentError(f"{name}: not a text file (neither UTF-8 nor GB18030)", name=name, reason="not_text")


def _read_text(path: Path, name: str) -> Source:
    text = _decode(path.read_bytes(), name)
    if "\x00" in text:
        raise DocumentError(f"{name}: not a text file (it holds binary data)", name=name, reason="not_text")
    return text_source(text, name, markdown=path.suffix.lower() == ".md")


def text_source(text: str, name: str = "text", markdown: bool = False) -> Source:
    """The pages and lines of a plain text (see the module's notes on page breaks)."""
    raws = text.replace("\r\n", "\n").split("\n")
    indent_breaks = _indent_marks_pages(raws)
    pages: list[list[str]] = [[]]
    breaks = 0
    for raw in raws:
        stripped = raw.strip()
        # A form feed, a page footer, or (in a PDF extraction whose page starts are
        # indented) an indented line after the first line: a new page begins.
        if raw.startswith("\f") or (indent_breaks and raw[:1].isspace() and stripped and any(pages[-1])):
            pages.append([])
            breaks += 1
        if FOOTER.match(stripped):
            pages.append([])
            breaks += 1
            continue
        if stripped:
            pages[-1].append(stripped.lstrip("#").strip() if markdown else stripped)
    while len(pages) > 1 and not pages[-1]:
        pages.pop()
    # Printed lines, as in a PDF extraction, have nearly the same width and end
    # mid-sentence; typed paragraphs are one line each.
    return Source(name, tuple(tuple(p) for p in pages), printed=_looks_printed(pages), paged=breaks > 0)


#: Indentation marks page starts only when few lines are indented…
MAX_INDENTED_SHARE = 0.2
#: …and most of those continue the sentence of the line before (a page break falls
#: mid-sentence; a paragraph's indent follows a finished sentence).
MIN_CONTINUING_SHARE = 0.5


def _indent_marks_pages(raws: list[str]) -> bool:
    """Whether indented lines are page starts (a PDF extraction that marks them so) rather
    than indented paragraphs: told by the text's own lines."""
    lines = [raw for raw in raws if raw.strip()]
    indented = continuing = 0
    for before, line in zip(lines, lines[1:]):
        if line[:1].isspace():
            indented += 1
            continuing += not before.strip().endswith(_TERMINAL)
    return (
        indented > 0 and indented <= MAX_INDENTED_SHARE * len(lines) and continuing >= MIN_CONTINUING_SHARE * indented
    )


_TERMINAL = tuple("。！？：；”’）)")


def _looks_printed(pages: list[list[str]]) -> bool:
    """Whether lines are wrapped at a page width: many of them end mid-sentence."""
    lines = [line for page in pages for line in page if len(line) >= 10]
    if not lines:
        return False
    open_ended = sum(not line.endswith(_TERMINAL) for line in lines)
    return open_ended / len(lines) >= 0.3


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:160]
