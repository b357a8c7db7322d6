"""The local store: a build's files under the index directory, searched with FAISS
(exact inner product, HNSW past :data:`FLAT_LIMIT` passages) and bm25s."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import IndexCorruptError, IndexUnavailableError
from ..records import FIX_COMMAND, Build, Chunk, DocumentInfo, Sentence, chunk_from_json, file_sha256, read_manifest
from .stats import CorpusStats, DocumentStats, merge

__all__ = ["FLAT_LIMIT", "ReportIndex", "load_local", "make_faiss_index"]

#: Exact search is fast enough up to this many passages (~5 ms at 100k on 2 cores).
FLAT_LIMIT = 200_000


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


@dataclass
class ReportIndex:
    """A loaded index — the local store: passages, their sentences, dense and BM25
    indexes, each document's stats, the manifest. The retriever uses only the methods
    below, never FAISS, bm25s or the lists themselves: a store on another engine
    (:class:`qa.stores.milvus.MilvusIndex`) offers the same ones. Positions are the
    store's own numbers for passages (here 0 … n − 1, in corpus order)."""

    chunks: list[Chunk]
    dense: object  # faiss.Index
    bm25: object  # bm25s.BM25
    terms: list[str]
    manifest: dict
    sentences: list[Sentence]
    sentence_vectors: np.ndarray  # (len(sentences), dim), unit length
    documents: list[DocumentInfo] = field(default_factory=list)
    #: Document id → its stats (see :mod:`qa.stores.stats`).
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

    # -- the backend: writing and opening builds (see qa.stores.StoreBackend) --------

    @classmethod
    def describe(cls, settings) -> str:
        return str(settings.index_dir)

    @classmethod
    def write(cls, build: Build, folder: Path) -> dict:
        """FAISS over the passages' embeddings and bm25s over their tokens, beside the build's records."""
        import bm25s
        import faiss

        dense = make_faiss_index(build.vectors)
        faiss.write_index(dense, str(folder / "dense.faiss"))
        bm25 = bm25s.BM25(k1=build.k1, b=build.b)
        bm25.index(build.tokens, show_progress=False)
        bm25.save(str(folder / "bm25"))
        return {"faiss_index": type(dense).__name__, "bm25_vocabulary": len(bm25.vocab_dict)}

    @classmethod
    def publish(cls, settings, build: Build) -> None:
        """Nothing: replacing the local manifest is what switches the local store."""

    @classmethod
    def current_manifest(cls, settings) -> dict:
        return read_manifest(settings.index_dir)

    @classmethod
    def current_build(cls, settings) -> str | None:
        try:
            return read_manifest(settings.index_dir).get("build")
        except IndexUnavailableError:
            return None

    @classmethod
    def stamp(cls, settings) -> tuple | None:
        """The manifest file's identity: replacing it is what switches the local store."""
        try:
            st = (Path(settings.index_dir) / "manifest.json").stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    @classmethod
    def open(cls, settings) -> ReportIndex:
        manifest = read_manifest(settings.index_dir)
        return load_local(settings.index_dir / str(manifest.get("build", "")), manifest)

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


def load_local(build: Path, manifest: dict) -> ReportIndex:
    """Load and verify the build at ``build`` that ``manifest`` describes (every file's
    checksum, then that its parts agree); raises :class:`IndexCorruptError`."""
    import bm25s
    import faiss

    for name, digest in (manifest.get("files") or {}).items():
        path = build / name
        if not path.is_file():
            raise IndexCorruptError(f"index file {path} is missing; rebuild with: {FIX_COMMAND}")
        if file_sha256(path) != digest:
            raise IndexCorruptError(f"index file {path} is corrupt (checksum mismatch); rebuild with: {FIX_COMMAND}")
    if not manifest.get("files"):
        raise IndexCorruptError(f"index manifest lists no files; rebuild with: {FIX_COMMAND}")
    try:
        chunks = [chunk_from_json(d) for d in json.loads((build / "chunks.json").read_text(encoding="utf-8"))]
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
