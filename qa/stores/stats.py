"""What retrieval and the answer layer know about documents without reading them.

A process serving a store of many documents (Milvus, 10^5 reports) must not read every
passage at start. What it needs about the documents as a whole is counted once per
document when the document is indexed (:func:`document_stats`), saved with the index,
and merged for the documents searched (:func:`merge`):

- how many passages use each word (its rarity, for word coverage and BM25's IDF) and
  how many words the passages have (BM25's average length);
- which characters and character pairs occur, to tell the words a report never uses
  (a word is used when each of its character pairs occurs);
- the glossary terms with where their entries stand, and where the cover and the
  imprint stand.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from ..ingest.documents import term_keys
from ..records import Chunk

__all__ = ["CorpusStats", "DocumentStats", "document_stats", "merge"]


@dataclass(frozen=True)
class DocumentStats:
    """One document's counts; positions are its passages' numbers within it (0, 1, …)."""

    passages: int
    #: BM25 tokens in all its passages together.
    tokens: int
    doc_freq: dict[str, int]
    #: Distinct character pairs of its text, lowercased.
    pairs: tuple[str, ...]
    #: (a way a question names a glossary term, the entry's position).
    glossary: tuple[tuple[str, int], ...]
    #: Positions of the cover and the closing imprint.
    meta: tuple[int, ...]

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> DocumentStats:
        return cls(
            passages=int(data["passages"]),
            tokens=int(data["tokens"]),
            doc_freq={str(k): int(v) for k, v in data["doc_freq"].items()},
            pairs=tuple(data["pairs"]),
            glossary=tuple((str(k), int(p)) for k, p in data["glossary"]),
            meta=tuple(int(p) for p in data["meta"]),
        )


def _pairs(text: str) -> set[str]:
    low = text.lower()
    return {low[i : i + 2] for i in range(len(low) - 1)} | set(low)


def document_stats(chunks: list[Chunk], tokens: list[list[str]]) -> DocumentStats:
    """The stats of one document's ``chunks``, with each one's BM25 ``tokens``."""
    doc_freq: Counter[str] = Counter(t for toks in tokens for t in set(toks))
    pairs: set[str] = set()
    for c in chunks:
        pairs |= _pairs(c.text)
    glossary = [
        (key, n)
        for n, c in enumerate(chunks)
        if c.kind == "glossary" and c.heading
        for key in term_keys(c.heading[-1])
        if len(key) >= 2
    ]
    return DocumentStats(
        passages=len(chunks),
        tokens=sum(len(t) for t in tokens),
        doc_freq=dict(doc_freq),
        pairs=tuple(sorted(pairs)),
        glossary=tuple(glossary),
        meta=tuple(n for n, c in enumerate(chunks) if c.kind in ("cover", "closing")),
    )


@dataclass
class CorpusStats:
    """The stats of several documents together; positions are the store's."""

    passages: int = 0
    tokens: int = 0
    doc_freq: Counter = field(default_factory=Counter)
    pairs: set[str] = field(default_factory=set)
    #: (key, passage position), longest keys first.
    glossary: list[tuple[str, int]] = field(default_factory=list)
    meta: list[int] = field(default_factory=list)

    def uses(self, word: str) -> bool:
        """Whether the documents use ``word`` (case ignored): each of its characters and
        character pairs occurs in them."""
        low = word.lower()
        if len(low) < 2:
            return low in self.pairs
        return all(low[i : i + 2] in self.pairs for i in range(len(low) - 1))

    @property
    def average_length(self) -> float:
        return self.tokens / self.passages if self.passages else 0.0

    def to_json(self) -> dict:
        return {
            "passages": self.passages,
            "tokens": self.tokens,
            "doc_freq": dict(self.doc_freq),
            "pairs": sorted(self.pairs),
            "glossary": self.glossary,
            "meta": self.meta,
        }

    @classmethod
    def from_json(cls, data: dict) -> CorpusStats:
        return cls(
            passages=int(data["passages"]),
            tokens=int(data["tokens"]),
            doc_freq=Counter({str(k): int(v) for k, v in data["doc_freq"].items()}),
            pairs=set(data["pairs"]),
            glossary=[(str(k), int(p)) for k, p in data["glossary"]],
            meta=[int(p) for p in data["meta"]],
        )


def merge(parts: Iterable[tuple[str, DocumentStats, object]]) -> CorpusStats:
    """Merge (document id, its stats, ``position(n)`` mapping its numbers to the store's
    positions) into one :class:`CorpusStats`."""
    out = CorpusStats()
    for doc, stats, position in parts:
        out.passages += stats.passages
        out.tokens += stats.tokens
        out.doc_freq.update(stats.doc_freq)
        out.pairs.update(stats.pairs)
        out.glossary += [(key, position(n)) for key, n in stats.glossary]
        out.meta += [position(n) for n in stats.meta]
    out.glossary.sort(key=lambda kv: -len(kv[0]))
    return out
