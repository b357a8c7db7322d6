"""Recover a report's structure, pages and facts from its lines (see :mod:`qa.ingest.readers`).

:func:`parse_source` turns a document's lines per page into a :class:`Document`: one
cleaned text and a list of :class:`Block` s (cover lines, headings ``一、`` ``（一）``
``1.`` ``（1）`` or an unnumbered heading line of a typed text, ``——`` items,
paragraphs, closing lines, a notes list — 名词解释, 词语解释, 注释 — of numbered entries
``1、`` ``[1]`` ``〔1〕`` ``①`` ``term（正文第N页）：definition``), each with its heading
path, page and character offsets into the cleaned text, so that later stages can cite
exactly where a passage stands. A document without any of this still works:
paragraphs, no headings.

Nothing of the text is lost (:func:`qa.ingest.chunking.coverage` checks it): a line holding a
numbered heading and its paragraph (``（一）三大攻坚战强力突破。坚决贯彻落实…``) is
split into the heading and the paragraph; note markers in the text (``[12]`` ``〔12〕``)
are taken out of it and kept with their block, linked to their note.

The document's facts (:class:`DocumentFacts`: place, level, year, date, meeting,
speaker, office, title) are read from its cover — the title, the session line and the
speaker line, in whatever order they come.

Printed lines (a PDF's) are joined into paragraphs: a sentence runs on across lines
(Latin and digit runs keep no stray spaces: ``139.66 亿元`` → ``139.66亿元``), and a
paragraph ends on terminal punctuation at a short line or before an indented one —
"short" measured against the document's own full line width.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, replace
from pathlib import Path

from ..text.vocabulary import spoken_years
from .facts import DocumentFacts, date_in, read_facts, squash
from .readers import Source, read_source, text_source

__all__ = [
    "Block",
    "Document",
    "GlossaryEntry",
    "clean_text",
    "load_document",
    "match_form",
    "parse_document",
    "parse_source",
    "term_keys",
    "text_lines",
]

PART_RE = re.compile(r"^[一二三四五六七八九十]+、")
SECTION_RE = re.compile(r"^[（(][一二三四五六七八九十]+[）)]")
#: Lower numbered headings (``1.`` ``（1）``): a heading when the line is short, else
#: the start of a numbered paragraph.
SUBSECTION_RE = re.compile(r"^(\d{1,2}[.．](?!\d)|[（(]\d{1,2}[）)])")
SUBSECTION_CHARS = 30
ITEM_PREFIX = "——"
#: The title of a notes list (``《政府工作报告》部分词语解释``, ``※名词解释※``,
#: ``名 词 解 释``, ``注释``), read without spaces and decorations.
GLOSSARY_TITLE_RE = re.compile(r"(?:^.{0,20}(?:词语|名词|术语)(?:解释|注释|说明)|^(?:注释|注解|附注))$")
_TITLE_DECORATION = re.compile(r"[\s※*＊★☆【】■◆●]")
#: A numbered note: ``1、`` ``1.`` ``[1]`` ``〔1〕`` ``【1】`` ``①``.
_NOTE_NUMBER = r"(?:(\d{1,3})[、.．]|[\[〔【](\d{1,3})[\]〕】]|([\u2460-\u2473]))"
GLOSSARY_ENTRY_RE = re.compile(rf"^{_NOTE_NUMBER}")
#: An entry: number, term, an optional page reference before the colon, the definition.
GLOSSARY_PARSE_RE = re.compile(
    rf"^{_NOTE_NUMBER}\s*([^：:]{{1,40}}?)\s*(?:[（(](?:正文|见)?第?\s*\d+\s*页?[）)])?\s*[：:](.*)$", re.DOTALL
)
#: A page reference in a note: ``(正文第12页)``, ``(见第2页)``.
PAGE_REFERENCE_RE = re.compile(r"[（(](?:正文|见)第?\s*(\d+)\s*页?[）)]")
#: A note marker in the text (``[12]``, ``〔12〕``): not text, a link to note 12.
NOTE_MARKER = re.compile(r"[\[〔](\d{1,3})[\]〕]")
#: A numbered heading may carry its paragraph on the same line: a first sentence at
#: most this long is the heading, the rest the paragraph; a longer one makes the whole
#: line a numbered paragraph.
HEADING_CHARS = 40
#: A line of a typed text this short, with no punctuation, between paragraphs, is an
#: unnumbered heading (``二〇二四年工作回顾``).
BARE_HEADING_CHARS = 24
_SENTENCE_END_CHARS = "。！？!?"
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
    #: The notes its text points to (the markers taken out of it: ``〔12〕`` → 12).
    notes: tuple[int, ...] = ()


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
    #: Number of pages of the source; None when it has none (a plain text).
    page_count: int | None = 1
    facts: DocumentFacts = DocumentFacts()

    def page_at(self, offset: int) -> int | None:
        """Main-text page of the character at ``offset`` (None inside the glossary, or
        in a document without pages)."""
        if offset >= self.glossary_start or self.page_count is None:
            return None
        i = bisect.bisect_right([o for o, _ in self.page_starts], offset) - 1
        return self.page_starts[max(i, 0)][1]

    @property
    def year(self) -> int | None:
        """The report's own year (its delivery date; else a year in its file name). 今年
        in a question about it means this year, 去年 the one before."""
        return self.facts.year

    @property
    def place(self) -> str:
        return self.facts.place

    @property
    def years(self) -> tuple[int, ...]:
        """The years the report speaks of (see :func:`qa.text.vocabulary.spoken_years`)."""
        headings = [b.text for b in self.blocks if b.kind in ("part", "section", "subsection")]
        return tuple(sorted(spoken_years(self.text[: self.glossary_start], headings, self.year)))

    @property
    def title(self) -> str:
        return self.facts.title

    @property
    def glossary(self) -> list[GlossaryEntry]:
        return [
            GlossaryEntry(b.entry, b.term, b.ref_page, b.text.split("：", 1)[1] if "：" in b.text else b.text)
            for b in self.blocks
            if b.kind == "glossary"
        ]


@dataclass
class _Line:
    text: str  # stripped raw line
    page: int
    new_page: bool  # the line begins a page


def _is_text(line: str) -> bool:
    """Whether a source line is the document's text (not a stray link left by a PDF)."""
    return not URL_RE.match(line)


def text_lines(source: Source) -> list[str]:
    """The source's lines that are the document's text: what ingestion must not lose."""
    return [line for page in source.pages for line in page if _is_text(line)]


def _lines(source: Source) -> list[_Line]:
    """Non-blank lines with their page; stray URLs are dropped."""
    out: list[_Line] = []
    for number, page in enumerate(source.pages, start=1):
        first = True
        for text in page:
            if not _is_text(text):
                continue
            out.append(_Line(text, number, first and number > 1))
            first = False
    return out


def _is_glossary_title(text: str) -> bool:
    return len(text) <= 40 and bool(GLOSSARY_TITLE_RE.search(_TITLE_DECORATION.sub("", text)))


def _starts_block(text: str) -> bool:
    return bool(
        PART_RE.match(text)
        or SECTION_RE.match(text)
        or SUBSECTION_RE.match(text)
        or text.startswith(ITEM_PREFIX)
        or _is_glossary_title(text)
        or CLOSING_RE.search(text)
    )


def _first_sentence_end(text: str) -> int | None:
    """Index just after the first sentence's end mark (and a closing quote), if any."""
    for i, ch in enumerate(text):
        if ch in _SENTENCE_END_CHARS:
            end = i + 1
            while end < len(text) and text[end] in "”’」』）)":
                end += 1
            return end
    return None


def _is_heading(text: str) -> str | None:
    """``part``, ``section`` or ``subsection`` for a heading line, else None. A numbered
    line whose first sentence is longer than :data:`HEADING_CHARS` is a paragraph."""
    end = _first_sentence_end(text)
    if end is not None and len(squash(text[:end])) > HEADING_CHARS:
        return None
    if PART_RE.match(text):
        return "part"
    if SECTION_RE.match(text):
        return "section"
    if SUBSECTION_RE.match(text) and len(text) <= SUBSECTION_CHARS and (end is None or end >= len(text)):
        return "subsection"
    return None


def _split_inline_headings(lines: list[_Line]) -> list[_Line]:
    """A numbered heading with its paragraph on one line (``（一）三大攻坚战强力突破。
    坚决贯彻落实…``) becomes two lines: the heading, and the paragraph."""
    out: list[_Line] = []
    for line in lines:
        end = _first_sentence_end(line.text)
        if end is not None and end < len(line.text.rstrip()) and _is_heading(line.text[:end]):
            out.append(_Line(line.text[:end], line.page, line.new_page))
            out.append(_Line(line.text[end:].strip(), line.page, False))
        else:
            out.append(line)
    return out


def _is_bare_heading(lines: list[_Line], i: int) -> bool:
    """A short line of a typed text with no punctuation, followed by a longer line, is
    a heading without a number (``二〇二四年工作回顾``)."""
    text = squash(lines[i].text)
    return (
        0 < len(text) <= BARE_HEADING_CHARS
        and not re.search(r"[，。；：！？,.;:!?]", text)
        and i + 1 < len(lines)
        and len(squash(lines[i + 1].text)) > len(text)
    )


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
    # Unnumbered headings are parts unless the text numbers its parts (一、).
    bare = "subsection" if any(PART_RE.match(line.text) for line in lines) else "part"
    mode = "body"
    i = cover
    while i < len(lines):
        line = lines[i]
        text = line.text
        if _is_glossary_title(text):
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
        heading = _is_heading(text) or (short is None and mode == "body" and _is_bare_heading(lines, i) and bare)
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


def _join(lines: list[_Line], markers: bool = True) -> tuple[str, list[tuple[int, int]], tuple[int, ...]]:
    """Join lines into one cleaned string; also return (offset, page) of page starts and
    the notes whose markers were taken out (``markers=False``: a note entry, whose own
    number is no marker)."""
    parts: list[str] = []
    breaks: list[tuple[int, int]] = []
    notes: list[int] = []
    length = 0
    for line in lines:
        text = line.text
        if markers:
            notes += [int(n) for n in NOTE_MARKER.findall(text)]
            text = NOTE_MARKER.sub("", text)
        piece = clean_text(text)
        if parts and _LATIN.fullmatch(parts[-1][-1:] or "_") and _LATIN.fullmatch(piece[:1] or "_"):
            piece = " " + piece
        if line.new_page:
            breaks.append((length, line.page))
        parts.append(piece)
        length += len(piece)
    return "".join(parts), breaks, tuple(dict.fromkeys(notes))


def parse_source(source: Source) -> Document:
    """Recover the structure, pages and facts of a document read by :mod:`qa.ingest.readers`."""
    lines = _split_inline_headings(_lines(source))
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
        text, breaks, notes = _join(group, markers=kind != "glossary")
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
                number, bracketed, circled, term = m.group(1, 2, 3, 4)
                entry = int(number or bracketed) if (number or bracketed) else ord(circled) - 0x2460 + 1
                reference = PAGE_REFERENCE_RE.search(text)
                ref_page = int(reference.group(1)) if reference else None
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
        blocks.append(Block(kind, text, start, end, heading, page, entry, term, ref_page, notes))
        texts.append(text)
        offset = end + 1  # the joining newline
    if glossary_start is None:
        glossary_start = offset
    text = "\n".join(texts)
    facts = read_facts([b.text for b in blocks if b.kind == "cover"], text, source.name)
    if facts.year is None:  # no date on the cover: the imprint's
        dated = next((d for b in blocks if b.kind == "closing" and (d := date_in(b.text))), None)
        facts = replace(facts, year=dated[0]) if dated else facts
    pages = max(len(source.pages), 1) if source.paged else None
    return Document(text, tuple(blocks), tuple(page_starts), glossary_start, source.name, pages, facts)


def parse_document(raw: str, name: str = "text") -> Document:
    """Parse a plain text (see :func:`qa.ingest.readers.text_source` for its page rules)."""
    return parse_source(text_source(raw, name))


def load_document(path: str | Path) -> Document:
    """Read and parse a document file (PDF, DOCX, TXT, MD); raises
    :class:`qa.ingest.readers.DocumentError` for a file that cannot be read."""
    return parse_source(read_source(path))
