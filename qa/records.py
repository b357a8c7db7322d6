"""The records a build is made of, shared by every layer: documents (:class:`DocumentInfo`),
passages (:class:`Chunk`) and sentences (:class:`Sentence`), with their JSON codecs, and
the index format.

The local store (:mod:`qa.corpus.builder`) and Milvus (:mod:`qa.stores.milvus_io`) both read and
write these; neither imports the other for them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .errors import IndexCorruptError, IndexMissingError, IndexStaleError

__all__ = [
    "FIX_COMMAND",
    "FORMAT_VERSION",
    "HEADING_SEPARATOR",
    "Build",
    "Chunk",
    "DocumentInfo",
    "Pieces",
    "Sentence",
    "chunk_from_json",
    "chunk_to_json",
    "document_label",
    "document_name",
    "file_sha256",
    "read_manifest",
]

FORMAT_VERSION = 5
FIX_COMMAND = "qa-index build"
#: Between the headings of a passage's section path.
HEADING_SEPARATOR = " › "


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def document_name(title: str, year: int | None) -> str:
    """How a document is named to users: its title, with its year when the title does
    not say it (``…报告（2021年）``)."""
    return title + (f"（{year}年）" if year and str(year) not in title else "")


def document_label(title: str, year: int | None) -> str:
    """How an answer names the report it quotes: ``《title》``, with its year when the
    title does not say it (``《政府工作报告》（2021年）``)."""
    return f"《{title}》" + document_name(title, year)[len(title) :]


@dataclass(frozen=True, kw_only=True)
class DocumentInfo:
    """One document of the corpus, as listed by ``qa-index list``."""

    id: str
    title: str
    year: int | None
    #: None when the source has no pages (a plain text): nothing is cited by page.
    pages: int | None
    passages: int
    sentences: int
    #: The file name it was added as.
    source: str
    sha256: str
    #: Where its file lies, relative to the index directory.
    file: str
    #: The path it was added from (to tell when the bundled report changes).
    origin: str = ""
    added_at: str = ""
    #: What the report says of itself (see :class:`qa.ingest.documents.DocumentFacts`): its
    #: place as it names itself and in full, that place's level (市, 区, 县, 旗), the
    #: delivery date (ISO), the meeting, the speaker and the speaker's office.
    place: str = ""
    place_full: str = ""
    level: str = ""
    date: str = ""
    meeting: str = ""
    speaker: str = ""
    office: str = ""
    #: Share of the source's sentences that its passages hold (1.0: nothing lost; see
    #: :func:`qa.ingest.chunking.coverage`).
    coverage: float | None = None
    #: The years the report speaks of: its own, the one it reviews, the periods its
    #: headings name, the years its targets run to (see :attr:`qa.ingest.documents.Document.years`).
    years: tuple[int, ...] = ()
    #: The title given when it was added (``qa-index add --title``), if any: it wins
    #: over the one read from the document every time the document is indexed again.
    given_title: str = ""

    @property
    def name(self) -> str:
        return document_name(self.title, self.year)

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Chunk:
    """A passage with everything needed to cite it."""

    id: str
    text: str
    heading: tuple[str, ...]
    page: int | None
    entry: int | None
    start: int
    end: int
    kind: str
    #: Every main-text page the passage covers (``page`` is the first); empty in the glossary.
    pages: tuple[int, ...] = ()
    #: Which year it speaks of: ``review`` (the year before the report's), ``current``
    #: (the report's year so far, told in the review), ``plan`` (the report's year's
    #: targets and work) or None (cover, imprint, glossary).
    period: str | None = None
    #: The id of the document it comes from (see :mod:`qa.corpus.builder`).
    document: str = ""

    @property
    def section(self) -> str:
        return HEADING_SEPARATOR.join(self.heading)

    @property
    def source(self) -> str:
        return f"词语解释 第{self.entry}条" if self.entry is not None else "正文"

    @property
    def search_text(self) -> str:
        """What is embedded and indexed: the heading path, then the passage."""
        return f"{self.section}\n{self.text}" if self.heading else self.text


@dataclass(frozen=True)
class Sentence:
    """One sentence of a passage: the unit an answer quotes and cites."""

    id: str
    chunk: int  # position of its passage in the index
    text: str
    page: int | None
    start: int
    end: int


def chunk_to_json(chunk: Chunk) -> dict:
    """A passage as JSON (saved pieces, builds, Milvus records)."""
    return asdict(chunk)


def chunk_from_json(d: dict) -> Chunk:
    return Chunk(**{**d, "heading": tuple(d["heading"]), "pages": tuple(d.get("pages", ()))})


@dataclass
class Pieces:
    """What one document contributes to a build, with its embeddings."""

    info: DocumentInfo
    chunks: list[Chunk]
    sentences: list[Sentence]  # ``chunk`` counts within this document
    vectors: np.ndarray
    sentence_vectors: np.ndarray
    glossary_keys: list[str]
    #: What they were made from (file, chunker, model): a store keeps a document it
    #: already holds under the same key instead of uploading it again.
    key: str = ""


@dataclass
class Build:
    """A build ready to install into a store: its manifest, every document's pieces in
    corpus order, the BM25 tokens of every passage (in the same order), each document's
    statistics (:mod:`qa.stores.stats`), the terms added to the tokenizer and BM25's
    parameters."""

    manifest: dict
    documents: list[Pieces]
    tokens: list[list[str]]
    stats: dict = field(default_factory=dict)
    terms: list[str] = field(default_factory=list)
    k1: float = 1.5
    b: float = 0.75

    @property
    def vectors(self) -> np.ndarray:
        """Every passage's embedding, in corpus order."""
        return np.concatenate([p.vectors for p in self.documents]).astype(np.float32)


def read_manifest(index_dir: Path) -> dict:
    """The manifest of the build under ``index_dir``; raises a subclass of
    :class:`qa.errors.IndexUnavailableError` saying which command fixes it."""
    path = Path(index_dir) / "manifest.json"
    if not path.is_file():
        raise IndexMissingError(f"no index at {index_dir}; build it with: {FIX_COMMAND}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(manifest, dict) or not isinstance(manifest.get("format_version"), int):
            raise ValueError("unknown format")
        if manifest["format_version"] > FORMAT_VERSION:
            raise ValueError(f"format {manifest['format_version']}, newer than this version's {FORMAT_VERSION}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise IndexCorruptError(f"index manifest {path} is unreadable ({exc}); rebuild with: {FIX_COMMAND}") from None
    if manifest["format_version"] < FORMAT_VERSION:
        raise IndexStaleError(
            f"index at {index_dir} has format {manifest['format_version']}, this version reads "
            f"{FORMAT_VERSION}; rebuild with: {FIX_COMMAND}"
        )
    return manifest
