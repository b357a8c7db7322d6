"""Milvus as the store: the same hybrid retrieval on a database that can grow past one machine.

``QA_STORE=milvus`` serves the index from Milvus instead of the local FAISS and bm25s
files. ``QA_MILVUS_URI`` is a file path (Milvus Lite, embedded) or ``http://host:19530``
(a Milvus server or cluster, or ``milvus-lite server``); ``QA_MILVUS_TOKEN`` and
``QA_MILVUS_COLLECTION`` (default ``report_qa``) complete it.

What lives where (``<c>`` is the collection prefix):

- ``<c>_passages``: one row per passage — its position, the document's slot and id,
  its record (the passage's fields as JSON), dense vector, and a sparse vector of its
  BM25 term weights made with the project's own analyzer (jieba with the reports'
  terms; token ids are a hash of the token). The query's sparse vector holds each of
  its tokens' IDF, so the inner product is the local bm25s score: measured identical
  rankings, where Milvus's built-in BM25 with its own jieba analyzer tokenises differently.
- ``<c>_sentences``: one row per sentence — position, slot, document id, its passage's
  position, record, dense vector (for the answer layer's features).
- ``<c>_meta``: the manifest of the current build (documents and their slots), the
  merged stats of all documents (:mod:`qa.stores.stats`) and each document's own, in parts;
  switching ``current`` to a new build is one upsert.

Each document has a slot; its rows' positions are ``slot << 20 | number`` (passages)
and ``slot << 24 | number`` (sentences). A change (build, add, remove) runs where the
documents are (``qa-index``, the batch job) and uploads only the documents Milvus does
not hold yet, switches ``current``, then deletes the rows of the documents no longer
listed: adding a report to 10^5 others writes that report's rows, not the corpus's.
(A document keeps the BM25 length normalisation of the corpus it was uploaded into;
``qa-index build`` of an unchanged corpus uploads nothing.)

Serving processes read only Milvus, and hold no passage at start: the manifest and the
merged stats are read then; records, sentences and vectors are fetched per question for
the passages found (and cached). Several apps on several machines share one store and
see a change at their next question.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import zlib
from collections import Counter
from dataclasses import asdict
from pathlib import Path

from ..config import Settings
from ..errors import (
    ConfigError,
    DocumentError,
    IndexCorruptError,
    IndexMissingError,
    StoreUnavailableError,
)
from ..records import FIX_COMMAND, Build
from .stats import merge

log = logging.getLogger(__name__)

__all__ = [
    "current_build",
    "read_meta",
    "row_counts",
    "upload",
]

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


_clients: dict[tuple[str, str], object] = {}
_clients_lock = threading.Lock()


def uri_of(settings: Settings) -> str:
    return settings.milvus_uri or str(settings.index_dir / "milvus.db")


def client(settings: Settings):
    """A (cached) MilvusClient for the configured URI; StoreUnavailableError if unreachable."""
    from pymilvus import MilvusClient

    uri, token = uri_of(settings), settings.milvus_token or ""
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
                raise StoreUnavailableError(f"cannot reach Milvus at {uri} ({first_line(exc)})") from None
        return _clients[(uri, token)]


def call(settings: Settings, fn, *args, **kwargs):
    """Run a client call; any failure becomes one StoreUnavailableError line naming the URI."""
    try:
        return fn(*args, timeout=TIMEOUT, **kwargs)
    except StoreUnavailableError:
        raise
    except Exception as exc:
        raise StoreUnavailableError(f"Milvus at {uri_of(settings)} failed: {first_line(exc)}") from None


_loaded: set[tuple[str, str]] = set()


def load_collection(settings: Settings, name: str) -> None:
    """Make a collection searchable in this process (a reopened store starts released)."""
    key = (uri_of(settings), name)
    if key not in _loaded:
        call(settings, client(settings).load_collection, name)
        _loaded.add(key)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


def collection_names(settings: Settings) -> tuple[str, str]:
    return f"{settings.milvus_collection}_passages", f"{settings.milvus_collection}_sentences"


def _meta_name(settings: Settings) -> str:
    return f"{settings.milvus_collection}_meta"


#: A document's rows are numbered below these (positions are ``slot << bits | number``).
PASSAGE_BITS, SENTENCE_BITS = 20, 24


def passage_position(slot: int, number: int) -> int:
    return slot << PASSAGE_BITS | number


def token_id(token: str) -> int:
    """A token's sparse dimension: a stable hash (no corpus-wide vocabulary to keep)."""
    return zlib.crc32(token.encode("utf-8")) & 0x7FFFFFFF


def idf(df: int, n: int) -> float:
    """BM25's IDF as bm25s computes it (the Lucene variant)."""
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


def _term_weights(tokens: list[str], average: float, k1: float, b: float) -> dict[int, float]:
    """A passage's BM25 term weights without the IDF (the query carries it)."""
    counts = Counter(tokens)
    norm = k1 * (1 - b + b * len(tokens) / average) if average else k1
    return {token_id(t): tf / (tf + norm) for t, tf in counts.items()} or {0: 0.0}


# -- writing -------------------------------------------------------------------------------


def _create(settings: Settings, name: str, dim: int, sentences: bool) -> None:
    """Create a rows collection unless it exists."""
    from pymilvus import DataType

    c = client(settings)
    if call(settings, c.has_collection, name):
        return
    schema = c.create_schema(auto_id=False)
    schema.add_field("pos", DataType.INT64, is_primary=True)
    schema.add_field("slot", DataType.INT64)
    schema.add_field("doc", DataType.VARCHAR, max_length=64)
    if sentences:
        schema.add_field("chunk", DataType.INT64)
    schema.add_field("record", DataType.VARCHAR, max_length=RECORD_BYTES)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
    index = c.prepare_index_params()
    kind = settings.milvus_index.upper()
    if kind not in DENSE_INDEXES:
        raise ConfigError(f"QA_MILVUS_INDEX must be one of {', '.join(DENSE_INDEXES)}, not {settings.milvus_index!r}")
    index.add_index("dense", index_type=kind, metric_type="IP", params=DENSE_INDEXES[kind][0])
    if not sentences:
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
    if sentences:
        index.add_index("chunk", index_type="INVERTED")  # sentences are fetched by passage
    call(settings, c.create_collection, name, schema=schema, index_params=index)


def _insert(settings: Settings, name: str, rows: list[dict]) -> None:
    """Insert in batches, then flush: sealed segments are durable and searched by index
    (a search over freshly inserted, unflushed rows is a slow scan in Milvus Lite)."""
    c = client(settings)
    for start in range(0, len(rows), BATCH):
        call(settings, c.insert, name, rows[start : start + BATCH])
    call(settings, c.flush, name)


def _upload_document(settings: Settings, slot: int, pieces, tokens, average: float, k1: float, b: float) -> None:
    """Insert one document's passages and sentences under ``slot``."""
    passages_name, sentences_name = collection_names(settings)
    doc = pieces.info.id
    if len(pieces.chunks) >= 1 << PASSAGE_BITS or len(pieces.sentences) >= 1 << SENTENCE_BITS:
        raise DocumentError(f"{pieces.info.source}: too many passages for one document ({len(pieces.chunks)})")
    _insert(
        settings,
        passages_name,
        [
            {
                "pos": passage_position(slot, n),
                "slot": slot,
                "doc": doc,
                "record": json.dumps(asdict(c), ensure_ascii=False),
                "dense": pieces.vectors[n].tolist(),
                "sparse": _term_weights(tokens[n], average, k1, b),
            }
            for n, c in enumerate(pieces.chunks)
        ],
    )
    _insert(
        settings,
        sentences_name,
        [
            {
                "pos": slot << SENTENCE_BITS | n,
                "slot": slot,
                "doc": doc,
                "chunk": passage_position(slot, s.chunk),
                "record": json.dumps(asdict(s), ensure_ascii=False),
                "dense": pieces.sentence_vectors[n].tolist(),
            }
            for n, s in enumerate(pieces.sentences)
        ],
    )


def upload(settings: Settings, build: Build) -> None:
    """Make Milvus serve ``build``: upload the documents it does not hold under the same
    key (their pieces, BM25 term weights and statistics), switch ``current``, then delete
    the rows and stats of the documents no longer listed."""
    manifest, documents, tokens, stats = build.manifest, build.documents, build.tokens, build.stats
    k1, b, terms = build.k1, build.b, build.terms
    if not documents:
        raise ValueError("nothing to upload")
    previous = _previous(settings)
    slots: dict[str, int] = {}
    kept: dict[str, int] = previous.get("slots", {})
    keys = previous.get("keys", {})
    key_of = {p.info.id: p.key for p in documents}
    average = sum(st.tokens for st in stats.values()) / max(sum(st.passages for st in stats.values()), 1)
    dim = int(documents[0].vectors.shape[1])
    for name, sentences in zip(collection_names(settings), (False, True)):
        _create(settings, name, dim, sentences)
    # What an interrupted change left behind goes first: its slots are taken again.
    _delete_unlisted(settings, previous.get("manifest", {}).get("build", ""), kept)
    next_slot = max(kept.values(), default=-1) + 1
    start = 0
    for pieces in documents:
        doc = pieces.info.id
        end = start + len(pieces.chunks)
        if doc in kept and keys.get(doc) == key_of[doc]:
            slots[doc] = kept[doc]
        else:
            slots[doc], next_slot = next_slot, next_slot + 1
            log.info("uploading %s to Milvus (slot %d)", pieces.info.source, slots[doc])
            _write_parts(settings, f"stats/{doc}@{slots[doc]}", stats[doc].to_json())
            _upload_document(settings, slots[doc], pieces, tokens[start:end], average, k1, b)
        start = end
    corpus = merge((d, stats[d], lambda n, s=slots[d]: passage_position(s, n)) for d in slots)
    meta = {
        "manifest": {**manifest, "milvus_index": settings.milvus_index.upper()},
        "slots": slots,
        "keys": key_of,
        "terms": terms,
        "bm25": {"k1": float(k1), "b": float(b)},
        "corpus": corpus.to_json(),
    }
    parts = _write_parts(settings, manifest["build"], meta)
    c = client(settings)
    pointer = json.dumps({"build": manifest["build"], "parts": parts})
    call(settings, c.upsert, _meta_name(settings), [{"key": "current", "value": pointer, "dummy": [0.0, 0.0]}])
    _delete_unlisted(settings, manifest["build"], slots)


def _delete_unlisted(settings: Settings, build: str, slots: dict[str, int]) -> None:
    """Delete rows, stats and meta of everything the current build does not list (the
    documents removed, and whatever an interrupted change left behind)."""
    c = client(settings)
    listed = sorted(slots.values())
    for name in collection_names(settings):
        call(settings, c.delete, name, filter=f"slot not in {listed}")
    _meta_collection(settings)
    keep_stats = [f'key like "stats/{d}@{s}/%"' for d, s in slots.items()]
    stale = f'key like "stats/%" and not ({" or ".join(keep_stats)})' if keep_stats else 'key like "stats/%"'
    call(settings, c.delete, _meta_name(settings), filter=stale)
    call(settings, c.delete, _meta_name(settings), filter=f'key like "build-%" and not (key like "{build}/%")')


def _previous(settings: Settings) -> dict:
    """The meta of the build Milvus serves now (empty: none)."""
    try:
        return read_meta(settings)
    except IndexMissingError:
        return {}


def _meta_collection(settings: Settings) -> str:
    """The meta collection, created on first use."""
    from pymilvus import DataType

    c = client(settings)
    name = _meta_name(settings)
    if not call(settings, c.has_collection, name):
        schema = c.create_schema(auto_id=False)
        schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=256)
        schema.add_field("value", DataType.VARCHAR, max_length=RECORD_BYTES)
        schema.add_field("dummy", DataType.FLOAT_VECTOR, dim=2)  # Milvus needs a vector field
        index = c.prepare_index_params()
        index.add_index("dummy", index_type="FLAT", metric_type="L2")
        call(settings, c.create_collection, name, schema=schema, index_params=index)
    return name


def _write_parts(settings: Settings, prefix: str, value) -> int:
    """Store ``value`` as JSON in rows ``<prefix>/0``, ``/1``…; returns how many."""
    text = json.dumps(value, ensure_ascii=False)
    parts = [text[i : i + META_PART] for i in range(0, len(text), META_PART)] or [""]
    rows = [{"key": f"{prefix}/{n}", "value": part, "dummy": [0.0, 0.0]} for n, part in enumerate(parts)]
    _insert(settings, _meta_collection(settings), rows)
    return len(parts)


def read_parts(settings: Settings, prefix: str, count: int | None = None):
    """The JSON value stored by :func:`_write_parts` (``count`` parts; None: as many as there are)."""
    c = client(settings)
    name = _meta_name(settings)
    load_collection(settings, name)
    if count is None:
        rows = call(settings, c.query, name, filter=f'key like "{prefix}/%"', output_fields=["key", "value"])
    else:
        keys = [f"{prefix}/{n}" for n in range(count)]
        rows = call(settings, c.query, name, filter=f"key in {json.dumps(keys)}", output_fields=["key", "value"])
    by_number = {int(r["key"].rsplit("/", 1)[1]): r["value"] for r in rows}
    if not by_number or (count is not None and len(by_number) != count):
        raise KeyError(prefix)
    return json.loads("".join(by_number[n] for n in range(len(by_number))))


def _pointer(settings: Settings) -> dict | None:
    """The ``current`` row: which build serves and in how many meta parts (None: none)."""
    c = client(settings)
    name = _meta_name(settings)
    if not call(settings, c.has_collection, name):
        return None
    load_collection(settings, name)
    rows = call(settings, c.query, name, filter='key == "current"', output_fields=["value"])
    return json.loads(rows[0]["value"]) if rows else None


def current_build(settings: Settings) -> str | None:
    """The build that serves now (None: nothing uploaded yet)."""
    pointer = _pointer(settings)
    return pointer["build"] if pointer else None


def read_meta(settings: Settings) -> dict:
    """The current build's manifest, slots, terms and merged stats; IndexMissingError
    without one."""
    pointer = _pointer(settings)
    if pointer is None:
        raise IndexMissingError(
            f"no index in Milvus at {uri_of(settings)}; build it with: QA_STORE=milvus {FIX_COMMAND}"
        )
    try:
        return read_parts(settings, pointer["build"], pointer["parts"])
    except (KeyError, ValueError) as exc:
        raise IndexCorruptError(
            f"the index in Milvus at {uri_of(settings)} is unreadable ({exc}); rebuild with: {FIX_COMMAND}"
        ) from None


def row_counts(settings: Settings) -> dict[int, int]:
    """Passage rows per slot (what Milvus holds, for checks and tests)."""
    c = client(settings)
    name = collection_names(settings)[0]
    load_collection(settings, name)
    rows = call(settings, c.query, name, filter="slot >= 0", output_fields=["slot"], limit=PAGE)
    return dict(Counter(int(r["slot"]) for r in rows))
