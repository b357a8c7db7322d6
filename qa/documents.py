"""Recover a report's structure and pages from its lines (see :mod:`qa.readers`).

:func:`parse_source` turns a document's lines per page into a :class:`Document`: one
cleaned text and a list of :class:`Block` s (cover lines, headings ``一、`` ``（一）``
``1.`` ``（1）``, ``——`` items, paragraphs, closing lines, an appended glossary of
``N、term(正文第N页)：definition`` entries), each with its heading path, page and
character offsets into the cleaned text, so that later stages can cite exactly where
a passage stands. A document without any of this still works: paragraphs, no headings.

Printed lines (a PDF's) are joined into paragraphs: a sentence runs on across lines
(Latin and digit runs keep no stray spaces: ``139.66 亿元`` → ``139.66亿元``), and a
paragraph ends on terminal punctuation at a short line or before an indented one —
"short" measured against the document's own full line width.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from pathlib import Path

from .readers import Source, read_source, text_source

__all__ = [
    "Block",
    "Document",
    "GlossaryEntry",
    "clean_text",
    "parse_document",
    "parse_source",
    "load_document",
    "match_form",
    "term_keys",
]

PART_RE = re.compile(r"^[一二三四五六七八九十]+、")
SECTION_RE = re.compile(r"^[（(][一二三四五六七八九十]+[）)]")
#: Lower numbered headings (``1.`` ``（1）``): a heading when the line is short, else
#: the start of a numbered paragraph.
SUBSECTION_RE = re.compile(r"^(\d{1,2}[.．](?!\d)|[（(]\d{1,2}[）)])")
SUBSECTION_CHARS = 30
ITEM_PREFIX = "——"
GLOSSARY_TITLE_RE = re.compile(r"(词语|名词|术语)(解释|注释|说明)$")
GLOSSARY_ENTRY_RE = re.compile(r"^(\d+)[、.．]")
GLOSSARY_PARSE_RE = re.compile(r"^(\d+)[、.．]\s*(.+?)\s*(?:[（(]正文第\s*(\d+)\s*页?[）)])?\s*[：:](.*)$", re.S)
URL_RE = re.compile(r"^https?://\S+$")
CLOSING_RE = re.compile(r"^[（(]共印.*份[）)]$|秘书处.*印$")
#: The salutation that ends a speech's cover (``各位代表：``).
SALUTATION_RE = re.compile(r"^[^，。；]{0,10}(代表|委员|同志|来宾)[^，。；]{0,6}[：:]$")
#: How far into a document its cover may reach.
COVER_MAX_LINES = 25
TERMINAL = "。！？：；"
#: A short first sentence that names a paragraph's topic (part 二: ``创新招商引资。``).
TOPIC_RE = re.compile(r"^([^，。；：！？]{2,20})。")
#: Share of a document's full line width under which a printed line ends or starts a
#: paragraph (first lines of paragraphs are indented by two characters of ~28).
SHORT_LINE = 0.95

_LATIN = re.compile(r"[A-Za-z]")
_DATED_YEAR = re.compile(r"((?:19|20)\d\d)年\d{1,2}月")
_NAMED_YEAR = re.compile(r"(?<!\d)((?:19|20)\d\d)(?!\d)")


def _width(line: str) -> float:
    """Approximate printed width of a line, counting a CJK character as 1."""
    total = 0.0
    for ch in line:
        total += 0.25 if ch == " " else 0.5 if ord(ch) < 128 else 1.0
    return total


def clean_text(text: str) -> str:
    """Remove the PDF's stray whitespace but keep spaces between Latin words.

    ``139.66 亿元`` → ``139.66亿元``, ``2019 年`` → ``2019年``, ``A B C绩效`` keeps its
    spaces (they separate Latin letters), line breaks inside a sentence disappear.
    """

    def keep(match: re.Match) -> str:
        before = text[match.start() - 1] if match.start() > 0 else ""
        after = text[match.end()] if match.end() < len(text) else ""
        return " " if _LATIN.fullmatch(before or "_") and _LATIN.fullmatch(after or "_") else ""

    return re.sub(r"\s+", keep, text).strip()


@dataclass(frozen=True)
class Block:
    """A structural unit of the report, with where it stands.

    ``kind`` is one of ``cover``, ``part``, ``section``, ``item``, ``paragraph``,
    ``closing``, ``glossary_title``, ``glossary``. ``heading`` is the path of headings
    above it (plus the item's or paragraph's topic); ``page`` is the main-text page
    where it starts (None in the glossary); ``entry`` the glossary entry number.
    """

    kind: str
    text: str
    start: int
    end: int
    heading: tuple[str, ...]
    page: int | None
    entry: int | None = None
    term: str | None = None
    ref_page: int | None = None


#: Marks that people leave out when they write a term: quotes, list commas, spaces.
_TERM_NOISE = re.compile(r"[“”\"'‘’「」『』《》、·\s]")


def match_form(text: str) -> str:
    """``text`` without quotes, list commas and spaces, for finding terms in questions
    (``“千村示范、万村整治”工程`` and ``千村示范万村整治工程`` match)."""
    return _TERM_NOISE.sub("", text)


def term_keys(term: str) -> tuple[str, ...]:
    """Strings whose presence in a question names a glossary term (in :func:`match_form`):
    the whole term, and each quoted part (``残疾人“两项补贴”`` → 两项补贴)."""
    return tuple(dict.fromkeys([match_form(term), *(match_form(q) for q in re.findall(r"“([^”]+)”", term))]))


@dataclass(frozen=True)
class GlossaryEntry:
    number: int
    term: str
    ref_page: int | None
    definition: str

    @property
    def keys(self) -> tuple[str, ...]:
        return term_keys(self.term)


@dataclass(frozen=True)
class Document:
    """The cleaned report: ``text`` is every block's text joined by newlines."""

    text: str
    blocks: tuple[Block, ...]
    #: (offset, page) at every main-text page start, ascending.
    page_starts: tuple[tuple[int, int], ...]
    glossary_start: int
    #: The file it was read from (its name may tell the year or the title).
    name: str = ""
    #: Number of pages of the source (1 for a text without page breaks).
    page_count: int = 1

    def page_at(self, offset: int) -> int | None:
        """Main-text page of the character at ``offset`` (None inside the glossary)."""
        if offset >= self.glossary_start:
            return None
        i = bisect.bisect_right([o for o, _ in self.page_starts], offset) - 1
        return self.page_starts[max(i, 0)][1]

    @property
    def year(self) -> int | None:
        """The report's own year: the date on its cover, else in its imprint, else a
        year in its file name (None if none has one). 今年 in a question about it means
        this year, 去年 the one before."""
        for kinds in (("cover",), ("closing",)):
            for b in self.blocks:
                m = b.kind in kinds and _DATED_YEAR.search(b.text)
                if m:
                    return int(m.group(1))
        m = _NAMED_YEAR.search(self.name)
        return int(m.group(1)) if m else None

    @property
    def place(self) -> str:
        """The most local place the cover names (北关区 in 安阳市北关区), or ""."""
        from .vocabulary import place_level

        words = [w for b in self.blocks if b.kind == "cover" for w in _places(b.text)]
        return max(words, key=place_level) if words else ""

    @property
    def title(self) -> str:
        """The cover's title line (the one naming a report, with the place the cover
        names before it when the line has none: 北关区政府工作报告), else its first line,
        else the file name without its extension."""
        cover = [b.text for b in self.blocks if b.kind == "cover"]
        named = next((t for t in cover if "报告" in t), cover[0] if cover else "")
        if named and self.place and not _places(named):
            named = self.place + named
        return named or Path(self.name).stem

    @property
    def glossary(self) -> list[GlossaryEntry]:
        return [
            GlossaryEntry(b.entry, b.term, b.ref_page, b.text.split("：", 1)[1] if "：" in b.text else b.text)
            for b in self.blocks
            if b.kind == "glossary"
        ]


def _places(text: str) -> list[str]:
    """The place names in ``text`` (jieba words that read as places)."""
    import logging

    import jieba

    from .vocabulary import is_place

    jieba.setLogLevel(logging.WARNING)
    return [w for w in jieba.lcut(text) if is_place(w)]


@dataclass
class _Line:
    text: str  # stripped raw line
    page: int
    new_page: bool  # the line begins a page


def _lines(source: Source) -> list[_Line]:
    """Non-blank lines with their page; stray URLs are dropped."""
    out: list[_Line] = []
    for number, page in enumerate(source.pages, start=1):
        first = True
        for text in page:
            if URL_RE.match(text):
                continue
            out.append(_Line(text, number, first and number > 1))
            first = False
    return out


def _starts_block(text: str) -> bool:
    return bool(
        PART_RE.match(text)
        or SECTION_RE.match(text)
        or SUBSECTION_RE.match(text)
        or text.startswith(ITEM_PREFIX)
        or GLOSSARY_TITLE_RE.search(text)
        or CLOSING_RE.search(text)
    )


def _is_heading(text: str) -> str | None:
    """``part``, ``section`` or ``subsection`` for a heading line, else None."""
    if PART_RE.match(text):
        return "part"
    if SECTION_RE.match(text):
        return "section"
    if SUBSECTION_RE.match(text) and len(text) <= SUBSECTION_CHARS and "。" not in text[:-1]:
        return "subsection"
    return None


def _full_width(lines: list[_Line]) -> float:
    """The document's full printed line width: the 90th percentile of its lines."""
    widths = sorted(_width(line.text) for line in lines)
    return widths[int(0.9 * (len(widths) - 1))] if widths else 0.0


def _paragraph_ends(line: str, nxt: _Line, short: float | None) -> bool:
    """Whether a paragraph ends after ``line`` given the following line.

    Typed paragraphs (``short`` None) are one line each, unless a page break cuts one
    mid-sentence. A printed one ends on terminal punctuation when the line is short (a
    last line) or the next one is (an indented first line), or the next opens a heading,
    item or glossary entry.
    """
    tail = line.rstrip("”’》）")
    ended = bool(tail) and tail[-1] in TERMINAL
    if short is None:
        return ended or not nxt.new_page
    if not ended:
        return False
    return _width(line) < short or _width(nxt.text) <= short or _starts_block(nxt.text)


def _cover_length(lines: list[_Line]) -> int:
    """How many lines the cover has: up to the salutation (``各位代表：``), else up to
    the first part heading, else a first line that reads as a title, else none."""
    head = [line.text for line in lines[:COVER_MAX_LINES]]
    for i, text in enumerate(head):
        if SALUTATION_RE.match(text):
            return i
    for i, text in enumerate(head):
        if PART_RE.match(text):
            return i
    first = head[0] if head else ""
    return 1 if first and len(first) <= 40 and first[-1] not in TERMINAL + "，" else 0


def _group(lines: list[_Line], short: float | None) -> list[tuple[str, list[_Line]]]:
    """Group lines into (kind, lines) blocks."""
    cover = _cover_length(lines)
    groups: list[tuple[str, list[_Line]]] = [("cover", [line]) for line in lines[:cover]]
    mode = "body"
    i = cover
    while i < len(lines):
        line = lines[i]
        text = line.text
        if GLOSSARY_TITLE_RE.search(text) and len(text) <= 40:
            mode = "glossary"
            groups.append(("glossary_title", [line]))
            i += 1
            continue
        if mode == "glossary" and GLOSSARY_ENTRY_RE.match(text):
            block = [line]
            i += 1
            while (
                i < len(lines) and not GLOSSARY_ENTRY_RE.match(lines[i].text) and not CLOSING_RE.search(lines[i].text)
            ):
                block.append(lines[i])
                i += 1
            groups.append(("glossary", block))
            continue
        if CLOSING_RE.search(text):
            groups.append(("closing", [line]))
            i += 1
            continue
        heading = _is_heading(text)
        if heading:
            groups.append((heading, [line]))
            i += 1
            continue
        kind = "item" if text.startswith(ITEM_PREFIX) else "paragraph"
        block = [line]
        i += 1
        while i < len(lines) and not _starts_block(lines[i].text):
            if _paragraph_ends(block[-1].text, lines[i], short):
                break
            block.append(lines[i])
            i += 1
        groups.append((kind, block))
    return groups


def _join(lines: list[_Line]) -> tuple[str, list[tuple[int, int]]]:
    """Join lines into one cleaned string; also return (offset, page) of page starts."""
    parts: list[str] = []
    breaks: list[tuple[int, int]] = []
    length = 0
    for line in lines:
        piece = clean_text(line.text)
        if parts and _LATIN.fullmatch(parts[-1][-1:] or "_") and _LATIN.fullmatch(piece[:1] or "_"):
            piece = " " + piece
        if line.new_page:
            breaks.append((length, line.page))
        parts.append(piece)
        length += len(piece)
    return "".join(parts), breaks


def parse_source(source: Source) -> Document:
    """Recover the structure and pages of a document read by :mod:`qa.readers`."""
    lines = _lines(source)
    short = SHORT_LINE * _full_width(lines) if source.printed else None
    blocks: list[Block] = []
    texts: list[str] = []
    page_starts: list[tuple[int, int]] = [(0, 1)]
    offset = 0
    part = section = subsection = None
    section_has_items = False
    glossary_start = None
    glossary_title = None
    for kind, group in _group(lines, short):
        text, breaks = _join(group)
        if glossary_start is None and kind != "glossary_title":
            page_starts.extend((offset + o, p) for o, p in breaks)
        start, end = offset, offset + len(text)
        page = group[0].page
        heading: tuple[str, ...]
        entry = term = ref_page = None
        if kind == "part":
            part, section, subsection, section_has_items = text, None, None, False
            heading = ()
        elif kind == "section":
            section, subsection, section_has_items = text, None, False
            heading = (part,) if part else ()
        elif kind == "subsection":
            subsection = text
            heading = tuple(h for h in (part, section) if h)
        elif kind == "glossary_title":
            glossary_start, glossary_title = start, text
            heading = ()
        elif kind == "glossary":
            m = GLOSSARY_PARSE_RE.match(text)
            if m:
                entry, term = int(m.group(1)), m.group(2)
                ref_page = int(m.group(3)) if m.group(3) else None
                heading = (glossary_title, term)
            else:  # a numbered line in the glossary that is no "term：definition" entry
                kind, heading = "paragraph", (glossary_title,)
        elif kind in ("cover", "closing"):
            # Labels of ours, not the report's words: the title page and the imprint.
            heading = ("封面",) if kind == "cover" else ("落款",)
        else:
            if kind == "item":
                section_has_items = True
            elif section_has_items:
                # Part 一's subsections are lists of —— items; a plain paragraph after
                # them belongs to the part itself (the epidemic review, the thanks...).
                section, subsection, section_has_items = None, None, False
            body = text[len(ITEM_PREFIX) :] if kind == "item" else text
            topic = TOPIC_RE.match(body)
            heading = tuple(h for h in (part, section, subsection, topic.group(1) if topic else None) if h)
        if glossary_start is not None:
            page = None
        blocks.append(Block(kind, text, start, end, heading, page, entry, term, ref_page))
        texts.append(text)
        offset = end + 1  # the joining newline
    if glossary_start is None:
        glossary_start = offset
    return Document(
        "\n".join(texts), tuple(blocks), tuple(page_starts), glossary_start, source.name, max(len(source.pages), 1)
    )


def parse_document(raw: str, name: str = "text") -> Document:
    """Parse a plain text (see :func:`qa.readers.text_source` for its page rules)."""
    return parse_source(text_source(raw, name))


def load_document(path: str | Path) -> Document:
    """Read and parse a document file (PDF, DOCX, TXT, MD); raises
    :class:`qa.readers.DocumentError` for a file that cannot be read."""
    return parse_source(read_source(path))
