"""Clean the PDF extraction of the report and recover its structure.

The source text was extracted from a PDF: every visual line is followed by a blank
line, sentences break across lines, Latin/digit runs carry spaces (``139.66 亿元``),
each new PDF page begins with a line that starts with a space (one page break is
marked only by a ``- 17 -`` footer), and two stray URLs sit inside the glossary.

:func:`parse_document` turns that into a :class:`Document`: one cleaned text and a
list of :class:`Block` s (cover lines, headings, ``——`` items, paragraphs, closing
lines, glossary entries), each with its heading path, page and character offsets
into the cleaned text, so that later stages can cite exactly where a passage stands.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "Block",
    "Document",
    "GlossaryEntry",
    "clean_text",
    "parse_document",
    "load_document",
    "match_form",
    "term_keys",
]

PART_RE = re.compile(r"^[一二三四五六七八九十]+、")
SECTION_RE = re.compile(r"^（[一二三四五六七八九十]+）")
ITEM_PREFIX = "——"
GLOSSARY_TITLE_RE = re.compile(r"部分词语解释$")
GLOSSARY_ENTRY_RE = re.compile(r"^(\d+)、")
GLOSSARY_PARSE_RE = re.compile(r"^(\d+)、(.+?)\(正文第(\d+)页?\)：(.*)$", re.S)
FOOTER_RE = re.compile(r"^-\s*\d+\s*-$")
URL_RE = re.compile(r"^https?://\S+$")
CLOSING_RE = re.compile(r"^（共印.*份）$|秘书处.*印$")
COVER_END = "各位代表："
TERMINAL = "。！？：；"
#: A short first sentence that names a paragraph's topic (part 二: ``创新招商引资。``).
TOPIC_RE = re.compile(r"^([^，。；：！？]{2,20})。")
#: Visual width (in CJK characters) under which a line ends or starts a paragraph:
#: full lines are ~28 wide, first lines of paragraphs are indented to ~26.
FULL_LINE_WIDTH = 26.5

_LATIN = re.compile(r"[A-Za-z]")
_DATED_YEAR = re.compile(r"((?:19|20)\d\d)年\d{1,2}月")


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
    ref_page: int
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

    def page_at(self, offset: int) -> int | None:
        """Main-text page of the character at ``offset`` (None inside the glossary)."""
        if offset >= self.glossary_start:
            return None
        i = bisect.bisect_right([o for o, _ in self.page_starts], offset) - 1
        return self.page_starts[max(i, 0)][1]

    @property
    def year(self) -> int | None:
        """The report's own year: the date on its cover, else in its imprint (None if neither
        has one). 今年 in a question means this year, 去年 the one before."""
        for kinds in (("cover",), ("closing",)):
            for b in self.blocks:
                m = b.kind in kinds and _DATED_YEAR.search(b.text)
                if m:
                    return int(m.group(1))
        return None

    @property
    def title(self) -> str:
        """The cover's title line (the one naming the report), else the first line."""
        cover = [b.text for b in self.blocks if b.kind == "cover"]
        return next((t for t in cover if "报告" in t), cover[0] if cover else "")

    @property
    def glossary(self) -> list[GlossaryEntry]:
        return [
            GlossaryEntry(b.entry, b.term, b.ref_page, b.text.split("：", 1)[1])
            for b in self.blocks
            if b.kind == "glossary"
        ]


@dataclass
class _Line:
    text: str  # stripped raw line
    page: int
    new_page: bool  # the line begins a PDF page


def _read_lines(raw: str) -> list[_Line]:
    """Non-blank lines with their page; footers and stray URLs are dropped."""
    lines: list[_Line] = []
    page, pending_break = 1, False
    for line in raw.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if FOOTER_RE.match(stripped):
            page, pending_break = page + 1, True
            continue
        if URL_RE.match(stripped):
            continue
        if line[:1].isspace() and lines:
            page, pending_break = page + 1, True
        lines.append(_Line(stripped, page, pending_break))
        pending_break = False
    return lines


def _starts_block(text: str) -> bool:
    return bool(
        PART_RE.match(text)
        or SECTION_RE.match(text)
        or text.startswith(ITEM_PREFIX)
        or GLOSSARY_TITLE_RE.search(text)
        or CLOSING_RE.search(text)
    )


def _paragraph_ends(line: str, nxt: str) -> bool:
    """Whether a paragraph ends after ``line`` given the following line.

    It ends on terminal punctuation when the line is short (a last line) or the next
    one is indented (a first line) or opens a heading, item or glossary entry.
    """
    tail = line.rstrip("”’》）")
    if not tail or tail[-1] not in TERMINAL:
        return False
    return _width(line) < FULL_LINE_WIDTH or _width(nxt) <= FULL_LINE_WIDTH or _starts_block(nxt)


def _group(lines: list[_Line]) -> list[tuple[str, list[_Line]]]:
    """Group lines into (kind, lines) blocks."""
    groups: list[tuple[str, list[_Line]]] = []
    mode = "cover"
    i = 0
    while i < len(lines):
        line = lines[i]
        text = line.text
        if mode == "cover":
            if text == COVER_END:
                mode = "body"
                continue
            groups.append(("cover", [line]))
            i += 1
            continue
        if GLOSSARY_TITLE_RE.search(text):
            mode = "glossary"
            groups.append(("glossary_title", [line]))
            i += 1
            continue
        if mode == "glossary":
            block = [line]
            i += 1
            while i < len(lines) and not GLOSSARY_ENTRY_RE.match(lines[i].text):
                block.append(lines[i])
                i += 1
            groups.append(("glossary", block))
            continue
        if CLOSING_RE.search(text):
            groups.append(("closing", [line]))
            i += 1
            continue
        if PART_RE.match(text) or SECTION_RE.match(text):
            groups.append(("part" if PART_RE.match(text) else "section", [line]))
            i += 1
            continue
        kind = "item" if text.startswith(ITEM_PREFIX) else "paragraph"
        block = [line]
        i += 1
        while i < len(lines) and not _starts_block(lines[i].text):
            if _paragraph_ends(block[-1].text, lines[i].text):
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


def parse_document(raw: str) -> Document:
    """Clean ``raw`` (the PDF extraction) and recover its structure and pages."""
    blocks: list[Block] = []
    texts: list[str] = []
    page_starts: list[tuple[int, int]] = [(0, 1)]
    offset = 0
    part = section = None
    section_has_items = False
    glossary_start = None
    glossary_title = None
    for kind, lines in _group(_read_lines(raw)):
        text, breaks = _join(lines)
        if glossary_start is None and kind != "glossary_title":
            page_starts.extend((offset + o, p) for o, p in breaks)
        start, end = offset, offset + len(text)
        page = lines[0].page
        heading: tuple[str, ...]
        entry = term = ref_page = None
        if kind == "part":
            part, section, section_has_items = text, None, False
            heading = ()
        elif kind == "section":
            section, section_has_items = text, False
            heading = (part,) if part else ()
        elif kind == "glossary_title":
            glossary_start, glossary_title = start, text
            heading = ()
        elif kind == "glossary":
            m = GLOSSARY_PARSE_RE.match(text)
            if not m:
                raise ValueError(f"unrecognised glossary entry: {text[:40]!r}")
            entry, term, ref_page = int(m.group(1)), m.group(2), int(m.group(3))
            heading = (glossary_title, term)
        elif kind in ("cover", "closing"):
            # Labels of ours, not the report's words: the title page and the imprint.
            heading = ("封面",) if kind == "cover" else ("落款",)
        else:
            if kind == "item":
                section_has_items = True
            elif section_has_items:
                # Part 一's subsections are lists of —— items; a plain paragraph after
                # them belongs to the part itself (the epidemic review, the thanks...).
                section, section_has_items = None, False
            body = text[len(ITEM_PREFIX) :] if kind == "item" else text
            topic = TOPIC_RE.match(body)
            heading = tuple(h for h in (part, section, topic.group(1) if topic else None) if h)
        if glossary_start is not None:
            page = None
        blocks.append(Block(kind, text, start, end, heading, page, entry, term, ref_page))
        texts.append(text)
        offset = end + 1  # the joining newline
    if glossary_start is None:
        glossary_start = offset
    return Document("\n".join(texts), tuple(blocks), tuple(page_starts), glossary_start)


def load_document(path: str | Path) -> Document:
    """Read and parse a report file (UTF-8)."""
    return parse_document(Path(path).read_text(encoding="utf-8"))
