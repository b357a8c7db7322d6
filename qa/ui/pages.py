"""See the page a citation points to: ``GET /page/<document>/<page>?quote=…``.

For a PDF, the page is rendered as a picture (pypdfium2) with the quoted sentence marked
over its characters: their boxes come from the text layer, or, on a scanned page, from
the OCR lines that hold the sentence. For a Word or text source, the page's text is shown
with the sentence marked. Rendered on demand, kept in a small cache, sized for any screen.
"""

from __future__ import annotations

import functools
import html
import io
import logging
import unicodedata
from pathlib import Path

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from ..engine import Engine
from ..errors import QAError
from ..records import DocumentInfo

log = logging.getLogger(__name__)

__all__ = ["page_routes", "quote_boxes", "render_pdf_page"]

#: Pixels per PDF point of a rendered page (144 dpi: sharp on a phone, ~300 KB a page).
SCALE = 2.0
#: Longest quote marked (a sentence is far shorter).
MAX_QUOTE = 600
#: The shortest start or end of a quote looked for when the sentence runs onto another page.
MIN_PART = 6
#: Marker colour, RGBA.
MARK = (255, 214, 0, 110)


def _normal(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


def _find(haystack: str, quote: str) -> tuple[int, int] | None:
    """Where ``quote`` (or, for a sentence split by a page break, its longest start or
    end) stands in ``haystack``; both already normalised."""
    if not quote:
        return None
    at = haystack.find(quote)
    if at >= 0:
        return at, at + len(quote)
    for size in range(len(quote) - 1, MIN_PART - 1, -1):
        if haystack.endswith(quote[:size]):
            return len(haystack) - size, len(haystack)
        if haystack.startswith(quote[-size:]):
            return 0, size
    return None


def quote_boxes(textpage, quote: str) -> list[tuple[float, float, float, float]]:
    """Boxes (left, bottom, right, top, in PDF points) of the characters of ``quote`` on a
    page's text layer, one per character."""
    chars, where = [], []
    for i in range(textpage.count_chars()):
        ch = _normal(textpage.get_text_range(i, 1))
        for c in ch:
            chars.append(c)
            where.append(i)
    span = _find("".join(chars), _normal(quote))
    if span is None:
        return []
    return [textpage.get_charbox(where[j]) for j in range(*span)]


def _line_rects(boxes: list[tuple[float, float, float, float]]) -> list[tuple[float, float, float, float]]:
    """Character boxes merged into one rectangle per line (left, bottom, right, top)."""
    lines: list[list[float]] = []
    for left, bottom, right, top in sorted(boxes, key=lambda b: (-b[3], b[0])):
        for line in lines:
            if min(top, line[3]) - max(bottom, line[1]) > 0.5 * min(top - bottom, line[3] - line[1]):
                line[0], line[1], line[2], line[3] = (
                    min(line[0], left),
                    min(line[1], bottom),
                    max(line[2], right),
                    max(line[3], top),
                )
                break
        else:
            lines.append([left, bottom, right, top])
    return [tuple(line) for line in lines]


def render_pdf_page(path: Path, number: int, quote: str) -> bytes:
    """Page ``number`` of the PDF at ``path`` as a PNG, ``quote`` marked (page 0: the
    first page whose text layer holds the quote's start)."""
    import pypdfium2
    from PIL import Image, ImageDraw

    pdf = pypdfium2.PdfDocument(str(path))
    try:
        page = pdf[(number or _page_holding(pdf, quote)) - 1]
        height = page.get_height()
        textpage = page.get_textpage()
        rects = _line_rects(quote_boxes(textpage, quote)) if quote else []
        textpage.close()
        image = page.render(scale=SCALE).to_pil().convert("RGBA")
        if quote and not rects:
            rects = _ocr_rects(page, quote, height)
        page.close()
    finally:
        pdf.close()
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    for left, bottom, right, top in rects:
        draw.rectangle(
            [left * SCALE - 2, (height - top) * SCALE - 2, right * SCALE + 2, (height - bottom) * SCALE + 2], fill=MARK
        )
    out = io.BytesIO()
    Image.alpha_composite(image, overlay).convert("RGB").save(out, "PNG", optimize=True)
    return out.getvalue()


def _page_holding(pdf, quote: str) -> int:
    """The first page whose text layer holds the start of ``quote`` (1 when none does)."""
    start = _normal(quote)[: MIN_PART * 2]
    for i in range(len(pdf)):
        textpage = pdf[i].get_textpage()
        found = start and start in _normal(textpage.get_text_range())
        textpage.close()
        if found:
            return i + 1
    return 1


def _ocr_rects(page, quote: str, height: float) -> list[tuple[float, float, float, float]]:
    """A scanned page: the parts of the OCR lines that hold ``quote`` (a line holding only
    its start or end is marked from where the quote begins or up to where it ends, by the
    share of the line's characters)."""
    from ..ingest.readers import ocr_lines

    wanted = _normal(quote)
    lines = [(line, _normal(line.text)) for line in ocr_lines(page)]
    whole = [i for i, (_, text) in enumerate(lines) if len(text) >= MIN_PART and (text in wanted or wanted in text)]
    rects = []
    for i, (line, text) in enumerate(lines):
        if not text:
            continue
        if i in whole:
            span = _find(text, wanted) or (0, len(text))
        elif i + 1 in whole or i - 1 in whole:  # the quote's first or last line, shared with other text
            span = _find_part(text, wanted)
        else:
            span = None
        if span is None:
            continue
        x0, y0, x1, y1 = line.box
        width = (x1 - x0) / len(text)
        rects.append((x0 + span[0] * width, height - y1, x0 + span[1] * width, height - y0))
    return rects


def _find_part(text: str, quote: str) -> tuple[int, int] | None:
    """Where a line ends with the quote's start or begins with its end (two characters at least)."""
    for size in range(min(len(text), len(quote)), 1, -1):
        if text.endswith(quote[:size]):
            return len(text) - size, len(text)
        if text.startswith(quote[-size:]):
            return 0, size
    return None


def _text_page(info: DocumentInfo, path: Path, number: int, quote: str) -> str:
    """A page of a text or Word source as HTML, the quote marked."""
    from ..ingest.readers import read_source

    pages = read_source(path, info.source).pages
    lines = pages[number - 1] if 0 < number <= len(pages) else [line for page in pages for line in page]
    text = "\n".join(lines)
    body = html.escape(text)
    span = _find(_normal(text), _normal(quote)) if quote else None
    if span is not None:  # map the normalised span back onto the text
        positions = [i for i, ch in enumerate(text) if _normal(ch)]
        start, end = positions[span[0]], positions[span[1] - 1] + 1
        body = (
            html.escape(text[:start])
            + f"<mark id='quote'>{html.escape(text[start:end])}</mark>"
            + html.escape(text[end:])
        )
    title = html.escape(info.name) + (f" · 第{number}页" if info.pages and number else "")
    return (
        "<!doctype html><html lang='zh'><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{title}</title><style>body{{font:16px/1.7 sans-serif;margin:1em auto;max-width:46em;padding:0 1em}}"
        "pre{white-space:pre-wrap;overflow-wrap:anywhere;font:inherit}mark{background:#ffd600}</style>"
        f"<h1 style='font-size:1.1em'>{title}</h1><pre>{body}</pre>"
        "<script>document.getElementById('quote')?.scrollIntoView({block:'center'})</script></html>"
    )


def _signed_in(request: Request) -> bool:
    """Whether the request may see pages: always, unless the app has a login
    (``QA_AUTH``); then only with the session cookie Gradio's login sets."""
    app = request.app
    if getattr(app, "auth", None) is None:
        return True
    cookie = getattr(app, "cookie_id", "")
    token = request.cookies.get(f"access-token-{cookie}") or request.cookies.get(f"access-token-unsecure-{cookie}")
    return token is not None and token in getattr(app, "tokens", {})


def page_routes(engine: Engine) -> list[APIRoute]:
    """The route that shows a cited page of a document in the index."""

    @functools.lru_cache(maxsize=64)
    def rendered(doc_id: str, sha: str, number: int, quote: str) -> tuple[bytes, str]:
        info = next(d for d in engine.documents() if d.id == doc_id)
        path = engine.settings.index_dir / info.file
        if path.suffix.lower() == ".pdf":
            return render_pdf_page(path, number, quote), "image/png"
        return _text_page(info, path, number, quote).encode("utf-8"), "text/html; charset=utf-8"

    async def page(request: Request, document: str, number: int):
        if not _signed_in(request):
            return HTMLResponse("<p>请先登录。</p>", status_code=401)
        quote = request.query_params.get("quote", "")[:MAX_QUOTE]
        try:
            documents = await run_in_threadpool(engine.documents)
        except QAError:
            return HTMLResponse("<p>检索索引暂不可用。</p>", status_code=503)
        info = next((d for d in documents if d.id == document), None)
        if info is None or not (engine.settings.index_dir / info.file).is_file():
            return HTMLResponse("<p>没有这份文档的原文件。</p>", status_code=404)
        if number < 0 or (info.pages and number > info.pages):
            return HTMLResponse(f"<p>这份文档只有 {info.pages} 页。</p>", status_code=404)
        try:
            content, media = await run_in_threadpool(rendered, info.id, info.sha256, number, quote)
        except Exception:
            log.exception("rendering page %d of %s failed", number, document)
            return HTMLResponse("<p>这一页暂时无法显示。</p>", status_code=500)
        return Response(content, media_type=media, headers={"Cache-Control": "private, max-age=3600"})

    return [APIRoute("/page/{document}/{number}", page, methods=["GET"], include_in_schema=False)]
