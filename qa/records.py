"""What a build says about its documents, shared by every store: the document record
(:class:`DocumentInfo`), the index format and when a build is current.

The local store (:mod:`qa.index`) and Milvus (:mod:`qa.milvus_store`) both read and
write these; neither imports the other for them.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path

from .chunking import CHUNKER_VERSION, Chunk
from .config import Settings
from .errors import IndexStaleError

__all__ = [
    "DocumentInfo",
    "chunk_from_json",
    "chunk_to_json",
    "FORMAT_VERSION",
    "FIX_COMMAND",
    "check_current",
    "document_name",
    "file_sha256",
    "pieces_key",
]

FORMAT_VERSION = 5
FIX_COMMAND = "qa-index build"


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


@dataclass(frozen=True)
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
    #: What the report says of itself (see :class:`qa.documents.DocumentFacts`): its
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
    #: :func:`qa.chunking.coverage`).
    coverage: float | None = None
    #: The years the report speaks of: its own, the one it reviews, the periods its
    #: headings name, the years its targets run to (see :attr:`qa.documents.Document.years`).
    years: tuple[int, ...] = ()
    #: The title given when it was added (``qa-index add --title``), if any: it wins
    #: over the one read from the document every time the document is indexed again.
    given_title: str = ""

    @property
    def name(self) -> str:
        return document_name(self.title, self.year)

    def to_json(self) -> dict:
        return asdict(self)


def pieces_key(sha: str, model_fingerprint: str) -> str:
    """What a document's pieces were made from: its file, the chunker and the model."""
    return f"{sha}|{CHUNKER_VERSION}|{model_fingerprint}"


def check_current(settings: Settings, manifest: dict, model_fingerprint: str | None = None) -> None:
    """Raise IndexStaleError when a document's file (where it was added from, e.g. the
    bundled report), the chunker or the model changed since the build."""
    problems = []
    for doc in manifest.get("documents", []):
        origin = Path(doc.get("origin") or "")
        if origin == settings.corpus.resolve() and origin.is_file() and file_sha256(origin) != doc.get("sha256"):
            problems.append(f"the corpus changed ({origin.name})")
    if manifest.get("chunker_version") != CHUNKER_VERSION:
        problems.append(f"the chunker changed ({manifest.get('chunker_version')} → {CHUNKER_VERSION})")
    if manifest.get("model") != settings.model:
        problems.append(f"the model changed ({manifest.get('model')} → {settings.model})")
    elif model_fingerprint and manifest.get("model_fingerprint") != model_fingerprint:
        problems.append("the model's weights changed")
    if problems:
        raise IndexStaleError(
            f"index at {settings.index_dir} is stale: {', '.join(problems)}; rebuild with: {FIX_COMMAND}"
        )


def chunk_to_json(chunk: Chunk) -> dict:
    """A passage as JSON (saved pieces, builds, Milvus records)."""
    return asdict(chunk)


def chunk_from_json(d: dict) -> Chunk:
    return Chunk(**{**d, "heading": tuple(d["heading"]), "pages": tuple(d.get("pages", ()))})
