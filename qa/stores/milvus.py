"""The Milvus store, read side: :class:`MilvusIndex` serves a build uploaded by
:mod:`qa.stores.milvus_io`, with the same reads and meaning as the local store. At start it
reads only the manifest and the merged statistics; passages and sentences are fetched
when found and kept in a bounded, thread-safe cache."""

from __future__ import annotations

import json
import threading
from collections import Counter, OrderedDict

import numpy as np

from ..config import Settings
from ..errors import IndexStaleError
from ..records import FIX_COMMAND, FORMAT_VERSION, Build, Chunk, DocumentInfo, Sentence
from .milvus_io import (
    DENSE_INDEXES,
    PAGE,
    SENTENCE_BITS,
    call,
    client,
    collection_names,
    current_build,
    idf,
    load_collection,
    passage_position,
    read_meta,
    read_parts,
    token_id,
    upload,
    uri_of,
)
from .stats import CorpusStats, DocumentStats, merge

__all__ = ["MilvusIndex"]


# -- reading -------------------------------------------------------------------------------

#: Passage records and sentence lists kept per process (fetched per question otherwise).
CACHE = 20_000


class _Cache:
    """A thread-safe least-recently-used dict of at most :data:`CACHE` entries."""

    def __init__(self):
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get_many(self, keys) -> dict:
        out = {}
        with self._lock:
            for k in keys:
                if k in self._items:
                    self._items.move_to_end(k)
                    out[k] = self._items[k]
        return out

    def put(self, key, value) -> None:
        with self._lock:
            self._items[key] = value
            while len(self._items) > CACHE:
                self._items.popitem(last=False)


class MilvusIndex:
    """The index served from Milvus, with the same methods as the local
    :class:`qa.corpus.builder.ReportIndex` (see it for their meaning). At start it reads only the
    manifest and the merged stats; passages and sentences are fetched when found."""

    def __init__(self, settings: Settings, meta: dict):
        self.settings = settings
        self.manifest = meta["manifest"]
        self.terms = meta["terms"]
        self.slots: dict[str, int] = meta["slots"]
        self._known = set(self.slots.values())
        self.k1, self.b = meta["bm25"]["k1"], meta["bm25"]["b"]
        self.corpus = CorpusStats.from_json(meta["corpus"])
        self.documents = [DocumentInfo(**d) for d in self.manifest.get("documents", [])]
        self.passages_name, self.sentences_name = collection_names(settings)
        self.dense_index = self.manifest.get("milvus_index", "FLAT")
        self._records, self._sentences, self._stats = _Cache(), _Cache(), _Cache()
        for name in (self.passages_name, self.sentences_name):
            load_collection(settings, name)

    @property
    def passage_count(self) -> int:
        return self.corpus.passages

    # -- the backend: writing and opening builds (see qa.stores.StoreBackend) --------

    @classmethod
    def describe(cls, settings: Settings) -> str:
        return f"Milvus at {uri_of(settings)}"

    @classmethod
    def write(cls, build: Build, folder) -> dict:
        """Nothing locally: Milvus serves the build itself (no FAISS, no corpus-wide BM25 here)."""
        return {
            "faiss_index": "none (served from Milvus)",
            "bm25_vocabulary": len({t for tokens in build.tokens for t in tokens}),
        }

    @classmethod
    def publish(cls, settings: Settings, build: Build) -> None:
        upload(settings, build)

    @classmethod
    def current_manifest(cls, settings: Settings) -> dict:
        return _current_meta(settings)["manifest"]

    @classmethod
    def current_build(cls, settings: Settings) -> str | None:
        return current_build(settings)

    @classmethod
    def stamp(cls, settings: Settings) -> tuple | None:
        build = current_build(settings)
        return (build,) if build else None

    @classmethod
    def open(cls, settings: Settings) -> MilvusIndex:
        return cls(settings, _current_meta(settings))

    @property
    def passages_held(self) -> int:
        """How many passage records this process holds (fetched for questions, cached)."""
        return len(self._records)

    # -- records and stats ------------------------------------------------------------

    def position(self, document: str, number: int) -> int:
        return passage_position(self.slots[document], number)

    def passages(self, positions) -> list[Chunk]:
        wanted = [int(p) for p in positions]
        found = self._records.get_many(wanted)
        missing = [p for p in dict.fromkeys(wanted) if p not in found]
        if missing:
            c = client(self.settings)
            rows = call(
                self.settings, c.query, self.passages_name, filter=f"pos in {missing}", output_fields=["pos", "record"]
            )
            for r in rows:
                found[int(r["pos"])] = _chunk(json.loads(r["record"]))
                self._records.put(int(r["pos"]), found[int(r["pos"])])
        gone = [p for p in wanted if p not in found]
        if gone:
            raise IndexStaleError(f"the index in Milvus at {uri_of(self.settings)} changed meanwhile; ask again")
        return [found[p] for p in wanted]

    def passage_sentences(self, position: int) -> list[tuple[Sentence, np.ndarray]]:
        cached = self._sentences.get_many([position])
        if cached:
            return cached[position]
        c = client(self.settings)
        rows = call(
            self.settings,
            c.query,
            self.sentences_name,
            filter=f"chunk == {int(position)}",
            output_fields=["pos", "record", "dense"],
        )
        out = [
            (Sentence(**json.loads(r["record"])), np.asarray(r["dense"], dtype=np.float32))
            for r in sorted(rows, key=lambda r: r["pos"])
        ]
        self._sentences.put(position, out)
        return out

    def sentence_sample(self, documents: tuple[str, ...] | None, size: int) -> np.ndarray:
        # The same rows as the local store's: every k-th sentence of the documents in
        # corpus order, fetched by their keys (slot, number within the document).
        dim = int(self.manifest["counts"]["dimension"])
        keys = [
            self.slots[d.id] << SENTENCE_BITS | n
            for d in self.documents
            if (documents is None or d.id in documents) and d.id in self.slots
            for n in range(d.sentences)
        ]
        if not size or not keys:
            return np.empty((0, dim), dtype=np.float32)
        stride = max(1, len(keys) // size)
        wanted = keys[::stride][:size]
        c = client(self.settings)
        found: dict[int, list[float]] = {}
        for start in range(0, len(wanted), PAGE):
            page = wanted[start : start + PAGE]
            rows = call(
                self.settings, c.query, self.sentences_name, filter=f"pos in {page}", output_fields=["pos", "dense"]
            )
            found.update((int(r["pos"]), r["dense"]) for r in rows)
        return np.ascontiguousarray([found[k] for k in wanted if k in found], dtype=np.float32).reshape(-1, dim)

    def stats(self, documents: tuple[str, ...] | None = None) -> CorpusStats:
        if documents is None:
            return self.corpus
        key = tuple(sorted(documents))
        cached = self._stats.get_many([key])
        if cached:
            return cached[key]
        parts = []
        for doc in key:
            slot = self.slots[doc]
            data = read_parts(self.settings, f"stats/{doc}@{slot}")
            parts.append((doc, DocumentStats.from_json(data), lambda n, s=slot: passage_position(s, n)))
        merged = merge(parts)
        self._stats.put(key, merged)
        return merged

    # -- searching ----------------------------------------------------------------------

    def _filter(self, documents) -> str:
        return "" if documents is None else f"doc in {json.dumps(list(documents), ensure_ascii=False)}"

    def _search(self, name: str, data, field: str, n: int, documents, output: str = "pos") -> np.ndarray:
        if n <= 0:
            return np.empty(0, dtype=np.int64)
        c = client(self.settings)
        condition = self._filter(documents)
        hits = call(
            self.settings,
            c.search,
            name,
            data=[data],
            anns_field=field,
            limit=min(n, 16_384),
            output_fields=["slot", output],
            search_params={
                "metric_type": "IP",
                "params": DENSE_INDEXES[self.dense_index][1] if field == "dense" else {},
            },
            **({"filter": condition} if condition else {}),
        )
        return np.array(
            [
                h["pos"] if output == "pos" else h["entity"][output]
                for h in hits[0]
                if (h["distance"] > 0 or field == "dense") and h["entity"]["slot"] in self._known
            ],
            dtype=np.int64,
        )

    def dense_search(self, vector: np.ndarray, n: int, documents=None) -> np.ndarray:
        return self._search(self.passages_name, np.asarray(vector, np.float32).tolist(), "dense", n, documents)

    def sentence_search(self, vector: np.ndarray, n: int, documents=None) -> np.ndarray:
        vector = np.asarray(vector, np.float32).tolist()
        return self._search(self.sentences_name, vector, "dense", n, documents, output="chunk")

    def lexical_search(self, tokens: list[str], n: int, documents=None) -> np.ndarray:
        counts = Counter(t for t in tokens if t in self.corpus.doc_freq)
        if not counts:
            return np.empty(0, dtype=np.int64)
        total = self.corpus.passages
        query: dict[int, float] = {}
        for token, count in counts.items():
            tid = token_id(token)
            query[tid] = query.get(tid, 0.0) + count * idf(self.corpus.doc_freq[token], total)
        return self._search(self.passages_name, query, "sparse", min(n, total), documents)


def _chunk(d: dict) -> Chunk:
    return Chunk(**{**d, "heading": tuple(d["heading"]), "pages": tuple(d.get("pages", ()))})


def _current_meta(settings: Settings) -> dict:
    """The meta of the build Milvus serves, in this version's format."""
    meta = read_meta(settings)
    if meta["manifest"].get("format_version") != FORMAT_VERSION or "slots" not in meta:
        raise IndexStaleError(
            f"the index in Milvus at {uri_of(settings)} has an older format; rebuild with: QA_STORE=milvus {FIX_COMMAND}"
        )
    return meta
