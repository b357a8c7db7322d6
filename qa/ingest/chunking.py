"""Cut the structured report into passages that follow its own structure.

One ``——`` item, one paragraph or one glossary entry makes a chunk. Long ones are
split at sentence ends into balanced pieces, tiny ones are merged with a neighbour
of the same section. Every chunk keeps its heading path, page and offsets into the
cleaned text, so a citation can be shown and checked
(``document.text[chunk.start:chunk.end] == chunk.text``).
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass

from ..records import Chunk, Sentence
from ..text.vocabulary import CURRENT_YEAR_CUES, REVIEW_PART, years_named
from .documents import NOTE_MARKER, Block, Document, text_lines
from .readers import Source

__all__ = [
    "CHUNKER_VERSION",
    "Coverage",
    "chunk_document",
    "coverage",
    "sentences_of",
    "split_sentences",
]

#: Bump when chunk boundaries or fields change: a saved index built by another
#: version is then reported stale.
CHUNKER_VERSION = "11"
#: A sentence shorter than this is a topic line (``创新招商引资。``): it is quoted
#: together with the sentence after it.
TOPIC_LINE_CHARS = 14
#: A glossary definition up to this long is quoted whole: it is the answer to "what is X".
WHOLE_DEFINITION_CHARS = 160
TARGET_CHARS = 300
MIN_CHARS = 60
HARD_MAX_CHARS = 600
#: Headings are structure, not passages; everything else is chunked.
_HEADING_KINDS = {"part", "section", "glossary_title"}
_SENTENCE_END = re.compile(r"(?<=[。！？；])(?![”’」』）])|(?<=[。！？；][”’」』）])")
_CLAUSE_END = re.compile(r"(?<=[，、：])")


def period_of(block: Block, text: str, year: int | None = None) -> str | None:
    """The period a passage speaks of, from its part's heading (see ``Chunk.period``):
    a part that reviews (回顾, 总结…) or names only years before the report's own
    ``year`` (``一、2023年主要工作`` in a 2024 report) is the review; any other is the plan."""
    part = block.heading[0] if block.heading else ""
    if block.kind in ("glossary", "cover", "closing") or not part:
        return None
    named = years_named(part, None)
    if REVIEW_PART.search(part) or (year is not None and named and max(named) < year):
        return "current" if CURRENT_YEAR_CUES.search(text) else "review"
    return "plan"


def split_sentences(text: str) -> list[str]:
    """Split after 。！？； (keeping a closing quote with its sentence)."""
    return [s for s in _SENTENCE_END.split(text) if s]


def _pieces(text: str, pattern: re.Pattern = _SENTENCE_END) -> list[str]:
    """Split ``text`` into balanced pieces of at most ~TARGET_CHARS at ``pattern``."""
    if len(text) <= TARGET_CHARS:
        return [text]
    units = [u for u in pattern.split(text) if u]
    if pattern is _SENTENCE_END:
        # A single over-long sentence is split again at clause ends.
        units = [p for u in units for p in (_pieces(u, _CLAUSE_END) if len(u) > HARD_MAX_CHARS else [u])]
    goal = len(text) / math.ceil(len(text) / TARGET_CHARS)
    out: list[str] = []
    current = ""
    for unit in units:
        # A piece is closed when the next unit would make it too long, unless it is
        # still tiny (a short opening sentence belongs with what follows it).
        if len(current.strip()) >= MIN_CHARS and len(current) + len(unit) > goal * 1.15:
            out.append(current)
            current = ""
        current += unit
    if current:
        if out and len(current.strip()) < MIN_CHARS and len(out[-1]) + len(current) <= HARD_MAX_CHARS:
            out[-1] += current  # nor is a short closing sentence a passage of its own
        else:
            out.append(current)
    return out


def _same_section(a: Block, b: Block) -> bool:
    return (
        a.kind != "glossary"
        and b.kind != "glossary"
        and a.heading[:2] == b.heading[:2]
        and ((a.kind == "cover") == (b.kind == "cover"))
    )


def chunk_document(doc: Document, document_id: str = "") -> list[Chunk]:
    """Chunks of ``doc`` in reading order; their ids begin with ``document_id``, so
    that passages of different documents never share one."""
    # 1. Merge tiny blocks into a neighbour of the same section: (first, last) block spans.
    spans: list[list[Block]] = []
    for block in doc.blocks:
        if block.kind in _HEADING_KINDS:
            spans.append([])  # a heading closes the previous span for merging purposes
            continue
        prev = spans[-1] if spans and spans[-1] else None
        prev_len = (prev[-1].end - prev[0].start) if prev else 0
        tiny = len(block.text) < MIN_CHARS or prev_len < MIN_CHARS
        if prev and tiny and _same_section(prev[-1], block) and prev_len + len(block.text) <= TARGET_CHARS * 1.5:
            prev.append(block)
        else:
            spans.append([block])
    # 2. Split long spans at sentence ends, keeping offsets.
    chunks: list[Chunk] = []
    seen: set[str] = set()
    for span in filter(None, spans):
        first = span[0]
        text = doc.text[first.start : span[-1].end]
        offset = first.start
        for raw_piece in _pieces(text):
            piece = raw_piece.strip()
            start = offset + (len(raw_piece) - len(raw_piece.lstrip()))
            end = start + len(piece)
            offset += len(raw_piece)
            digest = hashlib.sha1(f"{first.heading}|{piece}".encode()).hexdigest()[:10]
            digest = f"{document_id}-{digest}" if document_id else digest
            chunk_id = digest if digest not in seen else f"{digest}-{len(chunks)}"
            seen.add(chunk_id)
            page = doc.page_at(start)
            last = doc.page_at(max(start, end - 1))
            chunks.append(
                Chunk(
                    id=chunk_id,
                    text=piece,
                    heading=first.heading,
                    page=page,
                    entry=first.entry,
                    start=start,
                    end=end,
                    kind=first.kind,
                    pages=tuple(range(page, last + 1)) if page is not None and last is not None else (),
                    period=period_of(first, piece, doc.year),
                    document=document_id,
                )
            )
    return chunks


def sentences_of(doc: Document, chunks: list[Chunk]) -> list[Sentence]:
    """The sentences of every chunk, each with its own page.

    A glossary entry's ``N、term(正文第N页)：`` prefix is left out (the quote starts at
    the definition) and a short definition is one unit; a topic line is joined to the
    sentence after it.
    """
    out: list[Sentence] = []
    for pos, chunk in enumerate(chunks):
        offset = chunk.start
        body = chunk.text
        if chunk.kind == "glossary" and "：" in body:
            cut = body.index("：") + 1
            offset, body = offset + cut, body[cut:]
        spans: list[list[int]] = []
        pieces = [body] if chunk.kind == "glossary" and len(body) <= WHOLE_DEFINITION_CHARS else split_sentences(body)
        for piece in pieces:
            lead = len(piece) - len(piece.lstrip())
            start, end = offset + lead, offset + len(piece.rstrip())
            offset += len(piece)
            if end <= start:
                continue
            if spans and spans[-1][1] - spans[-1][0] < TOPIC_LINE_CHARS:
                spans[-1][1] = end
            else:
                spans.append([start, end])
        for i, (start, end) in enumerate(spans):
            out.append(Sentence(f"{chunk.id}:{i}", pos, doc.text[start:end], doc.page_at(start), start, end))
    return out


_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Coverage:
    """How much of a document's text its passages hold: every sentence of the source's
    lines (whitespace and note markers aside) must stand in some passage's text or, for a
    heading, in its heading path. ``missing`` lists the sentences that do not."""

    sentences: int
    missing: tuple[str, ...]

    @property
    def share(self) -> float:
        return 1.0 - len(self.missing) / self.sentences if self.sentences else 1.0


def coverage(source: Source, chunks: list[Chunk]) -> Coverage:
    """Check the lossless-ingestion invariant for a document read as ``source`` and cut
    into ``chunks`` (see :class:`Coverage`)."""
    squash = lambda text: _WHITESPACE.sub("", NOTE_MARKER.sub("", text))
    held = "\n".join([squash(c.text) for c in chunks] + sorted({squash(h) for c in chunks for h in c.heading}))
    pieces = [p for line in text_lines(source) for p in split_sentences(squash(line)) if len(p) >= 2]
    return Coverage(len(pieces), tuple(p for p in pieces if p not in held))
