"""Milvus as the store: the same hybrid retrieval on a database that can grow past one machine.

``QA_STORE=milvus`` serves the index from Milvus instead of the local FAISS and bm25s
files. ``QA_MILVUS_URI`` is a file path (Milvus Lite, embedded) or ``http://host:19530``
(a Milvus server or cluster, or ``milvus-lite server``); ``QA_MILVUS_TOKEN`` and
``QA_MILVUS_COLLECTION`` (default ``report_qa``) complete it.

What lives where:

- ``<collection>_<build>_passages``: one row per passage — its position, document id,
  record (the passage's fields as JSON), dense vector, and a sparse vector of its BM25
  weights made with the project's own analyzer (jieba with the reports' terms). The
  query's sparse vector counts its tokens, so the inner product is exactly the local
  bm25s score: measured identical rankings, where Milvus's built-in BM25 with its own
  jieba analyzer would tokenise differently.
- ``<collection>_<build>_sentences``: one row per sentence — row, passage position,
  document id, record, dense vector (for the answer layer's features).
- ``<collection>_meta``: the manifest of the current build (documents, counts, model)
  and the BM25 vocabulary, in parts; switching ``current`` to a new build is one upsert.

A change (build, add, remove) runs where the documents are (``qa-index``, the batch
job): it embeds as the local store does, uploads a new build's collections, switches
``current``, then drops the old build's collections. Serving processes read only
Milvus: several apps on several machines share one store and see a change at their next
question. Records (texts and citations) are loaded at start; vectors and the search
structures stay in Milvus, fetched per question for the few sentences scored.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import asdict
from pathlib import Path

import numpy as np

from .chunking import Chunk, Sentence
from .config import Settings
from .index import FIX_COMMAND, DocumentInfo, IndexCorruptError, IndexError, IndexMissingError, check_current

log = logging.getLogger(__name__)

__all__ = ["MilvusIndex", "StoreUnavailableError", "upload", "load_milvus_index", "current_build", "read_meta"]

#: Seconds before a Milvus call gives up (an unreachable store must not hang the app).
TIMEOUT = 10.0
#: Characters of meta JSON per row (VARCHAR holds 65,535 bytes; a CJK character is 3).
META_PART = 20_000
#: Rows inserted per request.
BATCH = 500
#: Dense index types offered (``QA_MILVUS_INDEX``) with their build and search parameters:
#: FLAT is exact (the local store's results, up to ~10^5 passages); HNSW and IVF_FLAT
#: are approximate, for 10^6–10^7 passages on a server (see docs/scaling.md).
DENSE_INDEXES = {
    "FLAT": ({}, {}),
    "HNSW": ({"M": 16, "efConstruction": 200}, {"ef": 128}),
    "IVF_FLAT": ({"nlist": 4096}, {"nprobe": 32}),
}
#: Rows read per request (Milvus returns at most 16,384).
PAGE = 10_000
RECORD_BYTES = 65_535


class StoreUnavailableError(IndexError):
    """Milvus cannot be reached or answered with an error; the message names the URI."""


_clients: dict[tuple[str, str], object] = {}
_clients_lock = threading.Lock()


def _uri(settings: Settings) -> str:
    return settings.milvus_uri or str(settings.index_dir / "milvus.db")


def client(settings: Settings):
    """A (cached) MilvusClient for the configured URI; StoreUnavailableError if unreachable."""
    from pymilvus import MilvusClient

    uri, token = _uri(settings), settings.milvus_token or ""
    logging.getLogger("pymilvus").setLevel(logging.ERROR)  # it warns about its own fallbacks
    # Milvus Lite's embedded gRPC server logs every call it does not implement (the client
    # asks for a timestamp when it connects, and falls back by itself).
    logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
    with _clients_lock:
        if (uri, token) not in _clients:
            if "://" not in uri:
                Path(uri).parent.mkdir(parents=True, exist_ok=True)
            try:
                _clients[(uri, token)] = MilvusClient(uri=uri, token=token, timeout=TIMEOUT)
            except Exception as exc:  # pymilvus raises several kinds for a dead server
                raise StoreUnavailableError(f"cannot reach Milvus at {uri} ({_first_line(exc)})") from None
        return _clients[(uri, token)]


def _call(settings: Settings, fn, *args, **kwargs):
    """Run a client call; any failure becomes one StoreUnavailableError line naming the URI."""
    try:
        return fn(*args, timeout=TIMEOUT, **kwargs)
    except StoreUnavailableError:
        raise
    except Exception as exc:
        raise StoreUnavailableError(f"Milvus at {_uri(settings)} failed: {_first_line(exc)}") from None


_loaded: set[tuple[str, str]] = set()


def _load(settings: Settings, name: str) -> None:
    """Make a collection searchable in this process (a reopened store starts released)."""
    key = (_uri(settings), name)
    if key not in _loaded:
        _call(settings, client(settings).load_collection, name)
        _loaded.add(key)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


def _names(settings: Settings, build: str) -> tuple[str, str]:
    base = f"{settings.milvus_collection}_{build.replace('-', '_')}"
    return f"{base}_passages", f"{base}_sentences"


def _meta_name(settings: Settings) -> str:
    return f"{settings.milvus_collection}_meta"


# -- writing -------------------------------------------------------------------------------


def _create(settings: Settings, name: str, dim: int, sparse: bool) -> None:
    from pymilvus import DataType

    c = client(settings)
    if _call(settings, c.has_collection, name):
        _call(settings, c.drop_collection, name)
        _loaded.discard((_uri(settings), name))
    schema = c.create_schema(auto_id=False)
    schema.add_field("pos", DataType.INT64, is_primary=True)
    schema.add_field("doc", DataType.VARCHAR, max_length=64)
    schema.add_field("chunk", DataType.INT64)
    schema.add_field("record", DataType.VARCHAR, max_length=RECORD_BYTES)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
    index = c.prepare_index_params()
    kind = settings.milvus_index.upper()
    if kind not in DENSE_INDEXES:
        raise ValueError(f"QA_MILVUS_INDEX must be one of {', '.join(DENSE_INDEXES)}, not {settings.milvus_index!r}")
    index.add_index("dense", index_type=kind, metric_type="IP", params=DENSE_INDEXES[kind][0])
    if sparse:
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
    _call(settings, c.create_collection, name, schema=schema, index_params=index)


def _insert(settings: Settings, name: str, rows: list[dict]) -> None:
    """Insert in batches, then flush: sealed segments are durable and searched by index
    (a search over freshly inserted, unflushed rows is a slow scan in Milvus Lite)."""
    c = client(settings)
    for start in range(0, len(rows), BATCH):
        _call(settings, c.insert, name, rows[start : start + BATCH])
    _call(settings, c.flush, name)


def _sparse_rows(bm25) -> list[dict[int, float]]:
    """Each passage's BM25 weight per token id (bm25s's precomputed scores)."""
    from scipy.sparse import csc_matrix

    s = bm25.scores
    matrix = csc_matrix((s["data"], s["indices"], s["indptr"]), shape=(s["num_docs"], len(s["indptr"]) - 1)).tocsr()
    out = []
    for d in range(matrix.shape[0]):
        row = matrix.getrow(d)
        out.append({int(t): float(w) for t, w in zip(row.indices, row.data, strict=True) if w > 0} or {0: 0.0})
    return out


def upload(
    settings: Settings,
    manifest: dict,
    chunks: list[Chunk],
    sentences: list[Sentence],
    vectors: np.ndarray,
    sentence_vectors: np.ndarray,
    bm25,
    terms: list[str],
) -> None:
    """Write a build's collections, switch ``current`` to it, drop the previous build's."""
    passages_name, sentences_name = _names(settings, manifest["build"])
    dim = int(vectors.shape[1])
    _create(settings, passages_name, dim, sparse=True)
    _create(settings, sentences_name, dim, sparse=False)
    sparse = _sparse_rows(bm25)
    _insert(
        settings,
        passages_name,
        [
            {
                "pos": i,
                "doc": c.document,
                "chunk": i,
                "record": json.dumps(asdict(c), ensure_ascii=False),
                "dense": vectors[i].tolist(),
                "sparse": sparse[i],
            }
            for i, c in enumerate(chunks)
        ],
    )
    _insert(
        settings,
        sentences_name,
        [
            {
                "pos": i,
                "doc": chunks[s.chunk].document,
                "chunk": s.chunk,
                "record": json.dumps(asdict(s), ensure_ascii=False),
                "dense": sentence_vectors[i].tolist(),
            }
            for i, s in enumerate(sentences)
        ],
    )
    previous = current_build(settings)
    manifest = {**manifest, "milvus_index": settings.milvus_index.upper()}
    _write_meta(settings, {"manifest": manifest, "terms": terms, "vocab": bm25.vocab_dict})
    if previous and previous != manifest["build"]:
        c = client(settings)
        for name in _names(settings, previous):
            if _call(settings, c.has_collection, name):
                _call(settings, c.drop_collection, name)
                _loaded.discard((_uri(settings), name))


def _write_meta(settings: Settings, meta: dict) -> None:
    """Store the meta JSON in parts, then point ``current`` at them (one upsert switches)."""
    from pymilvus import DataType

    c = client(settings)
    name = _meta_name(settings)
    if not _call(settings, c.has_collection, name):
        schema = c.create_schema(auto_id=False)
        schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=128)
        schema.add_field("value", DataType.VARCHAR, max_length=RECORD_BYTES)
        schema.add_field("dummy", DataType.FLOAT_VECTOR, dim=2)  # Milvus needs a vector field
        index = c.prepare_index_params()
        index.add_index("dummy", index_type="FLAT", metric_type="L2")
        _call(settings, c.create_collection, name, schema=schema, index_params=index)
    build = meta["manifest"]["build"]
    text = json.dumps(meta, ensure_ascii=False)
    parts = [text[i : i + META_PART] for i in range(0, len(text), META_PART)]
    rows = [{"key": f"{build}/{n}", "value": part, "dummy": [0.0, 0.0]} for n, part in enumerate(parts)]
    _insert(settings, name, rows)
    pointer = json.dumps({"build": build, "parts": len(parts)})
    _call(settings, c.upsert, name, [{"key": "current", "value": pointer, "dummy": [0.0, 0.0]}])
    _call(settings, c.delete, name, filter=f'key like "build-%" and not (key like "{build}/%")')


def _pointer(settings: Settings) -> dict | None:
    """The ``current`` row: which build serves and in how many meta parts (None: none)."""
    c = client(settings)
    name = _meta_name(settings)
    if not _call(settings, c.has_collection, name):
        return None
    _load(settings, name)
    rows = _call(settings, c.query, name, filter='key == "current"', output_fields=["value"])
    return json.loads(rows[0]["value"]) if rows else None


def current_build(settings: Settings) -> str | None:
    """The build that serves now (None: nothing uploaded yet)."""
    pointer = _pointer(settings)
    return pointer["build"] if pointer else None


def read_meta(settings: Settings) -> dict:
    """The current build's manifest, terms and vocabulary; IndexMissingError without one."""
    pointer = _pointer(settings)
    if pointer is None:
        raise IndexMissingError(f"no index in Milvus at {_uri(settings)}; build it with: QA_STORE=milvus {FIX_COMMAND}")
    c = client(settings)
    name = _meta_name(settings)
    keys = [f"{pointer['build']}/{n}" for n in range(pointer["parts"])]
    parts = _call(settings, c.query, name, filter=f"key in {json.dumps(keys)}", output_fields=["key", "value"])
    by_key = {r["key"]: r["value"] for r in parts}
    try:
        return json.loads("".join(by_key[k] for k in keys))
    except (KeyError, ValueError) as exc:
        raise IndexCorruptError(
            f"the index in Milvus at {_uri(settings)} is unreadable ({exc}); rebuild with: {FIX_COMMAND}"
        ) from None


# -- reading -------------------------------------------------------------------------------


def _all_rows(settings: Settings, name: str, fields: list[str], count: int) -> list[dict]:
    """Every row of a collection, by ranges of its positions (0 … count − 1)."""
    c = client(settings)
    _load(settings, name)
    rows: list[dict] = []
    for start in range(0, count, PAGE):
        end = min(start + PAGE, count)
        rows += _call(
            settings, c.query, name, filter=f"pos >= {start} and pos < {end}", output_fields=fields, limit=PAGE
        )
    if len(rows) != count:
        raise IndexCorruptError(
            f"{name} in Milvus at {_uri(settings)} has {len(rows)} of {count} rows; rebuild with: {FIX_COMMAND}"
        )
    return sorted(rows, key=lambda r: r["pos"])


class _RemoteVectors:
    """Sentence vectors fetched from Milvus when indexed (``v[rows]``), cached."""

    def __init__(self, settings: Settings, name: str, count: int, dim: int):
        self.settings, self.name, self.count, self.dim = settings, name, count, dim
        self._cache: dict[int, np.ndarray] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, rows):
        single = np.isscalar(rows)
        wanted = np.atleast_1d(np.asarray(rows, dtype=np.int64))
        missing = [int(r) for r in dict.fromkeys(wanted.tolist()) if int(r) not in self._cache]
        if missing:
            c = client(self.settings)
            found = _call(self.settings, c.query, self.name, filter=f"pos in {missing}", output_fields=["pos", "dense"])
            with self._lock:
                for r in found:
                    self._cache[int(r["pos"])] = np.asarray(r["dense"], dtype=np.float32)
        out = np.stack([self._cache[int(r)] for r in wanted]) if len(wanted) else np.empty((0, self.dim), np.float32)
        return out[0] if single else out


class MilvusIndex:
    """The index served from Milvus, with the same records and search methods as the
    local :class:`qa.index.ReportIndex` (see it for their meaning)."""

    def __init__(self, settings: Settings, meta: dict):
        self.settings = settings
        self.manifest = meta["manifest"]
        self.terms = meta["terms"]
        self.vocab: dict[str, int] = meta["vocab"]
        self.documents = [DocumentInfo(**d) for d in self.manifest.get("documents", [])]
        self.passages_name, self.sentences_name = _names(settings, self.manifest["build"])
        self.dense_index = self.manifest.get("milvus_index", "FLAT")
        counts = self.manifest["counts"]
        self.chunks = [
            _chunk(json.loads(r["record"]))
            for r in _all_rows(settings, self.passages_name, ["pos", "record"], counts["chunks"])
        ]
        self.sentences = [
            Sentence(**json.loads(r["record"]))
            for r in _all_rows(settings, self.sentences_name, ["pos", "record"], counts.get("sentences", 0))
        ]
        dim = int(self.manifest["counts"]["dimension"])
        self.sentence_vectors = _RemoteVectors(settings, self.sentences_name, len(self.sentences), dim)

    @property
    def year(self) -> int | None:
        years = [d.year for d in self.documents if d.year is not None]
        return max(years) if years else None

    def _search(self, name: str, data, field: str, n: int, documents) -> np.ndarray:
        if n <= 0:
            return np.empty(0, dtype=np.int64)
        c = client(self.settings)
        kwargs = {"filter": f"doc in {json.dumps(list(documents), ensure_ascii=False)}"} if documents else {}
        hits = _call(
            self.settings,
            c.search,
            name,
            data=[data],
            anns_field=field,
            limit=min(n, 16_384),
            output_fields=["pos"],
            search_params={
                "metric_type": "IP",
                "params": DENSE_INDEXES[self.dense_index][1] if field == "dense" else {},
            },
            **kwargs,
        )
        return np.array([h["pos"] for h in hits[0] if h["distance"] > 0 or field == "dense"], dtype=np.int64)

    def dense_search(self, vector: np.ndarray, n: int, documents=None) -> np.ndarray:
        return self._search(self.passages_name, np.asarray(vector, np.float32).tolist(), "dense", n, documents)

    def sentence_search(self, vector: np.ndarray, n: int, documents=None) -> np.ndarray:
        n = min(n, len(self.sentences))
        return self._search(self.sentences_name, np.asarray(vector, np.float32).tolist(), "dense", n, documents)

    def lexical_search(self, tokens: list[str], n: int, documents=None) -> np.ndarray:
        query: dict[int, float] = {}
        for token in tokens:
            if token in self.vocab:
                query[self.vocab[token]] = query.get(self.vocab[token], 0.0) + 1.0
        if not query:
            return np.empty(0, dtype=np.int64)
        return self._search(self.passages_name, query, "sparse", min(n, len(self.chunks)), documents)


def _chunk(d: dict) -> Chunk:
    return Chunk(**{**d, "heading": tuple(d["heading"]), "pages": tuple(d.get("pages", ()))})


def load_milvus_index(settings: Settings, model_fingerprint: str | None = None) -> MilvusIndex:
    """The current build in Milvus, checked against the chunker and model like a local one."""
    meta = read_meta(settings)
    check_current(settings, meta["manifest"], model_fingerprint)
    return MilvusIndex(settings, meta)
