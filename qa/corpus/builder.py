"""The corpus of documents and its search index; ``qa-index`` is its command line.

The corpus is a set of documents: the bundled report by default, plus whatever a user
adds (PDF, Word, text, Markdown). Layout under the index directory::

    manifest.json              the documents, what was built from them, each file's sha256
    sources/<id><ext>          each document's file as it was added
    documents/<id>/            its passages, sentences and their embeddings (reused as long
                               as the file, the chunker and the model are unchanged)
    build-<id>/chunks.json     every document's passages, in corpus order, with citations
    build-<id>/dense.faiss     FAISS inner-product index over passage embeddings (not with Milvus)
    build-<id>/bm25/           bm25s index over jieba tokens
    build-<id>/terms.txt       the report terms added to jieba's dictionary
    build-<id>/sentences.json  every passage's sentences with their pages
    build-<id>/sentences.npy   their unit embeddings (float32), for answer selection
    build-<id>/stats.json      each document's counts (see :mod:`qa.stores.stats`)

A document's id is the start of its file's sha256: the same file added twice is one
document. Adding embeds only the new document; every change (build, add, remove) writes
a fresh ``build-<id>`` directory, then replaces ``manifest.json`` atomically
(``os.replace``) and only then removes what the old manifest alone used: a change
interrupted at any point leaves the previous index serving. Changes hold a lock on the
directory, so two processes never interleave theirs. Loading checks every file's hash
and that the chunker and model match, and says in one line what is wrong and which
command fixes it.

The index is built, not committed: ``index/`` in the repository holds only its README;
the app and ``qa.answer`` build it on first use (about 20 s; 45 s when the model is
converted too).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..config import Settings
from ..errors import ConfigError, DocumentError, IndexUnavailableError, UnknownDocumentError
from ..ingest.chunking import CHUNKER_VERSION
from ..ingest.readers import check_file
from ..progress import reporter
from ..records import (
    FORMAT_VERSION,
    Build,
    Chunk,
    DocumentInfo,
    Pieces,
    Sentence,
    chunk_to_json,
    file_sha256,
    read_manifest,
)
from ..stores import BACKENDS
from ..stores.stats import document_stats
from .manifest import list_documents, load_index, locked, write_atomic
from .pieces import prepare

log = logging.getLogger(__name__)

__all__ = [
    "DocumentInfo",
    "add_documents",
    "build_index",
    "list_documents",
    "load_index",
    "remove_document",
]

#: Characters of a file's sha256 that make its document id.
ID_CHARS = 12
#: The local store: the working state every backend is built from.
LOCAL = BACKENDS["local"]


def _install(settings: Settings, documents: list[Pieces], embedder, started: float) -> dict:
    """Make a build of ``documents``, have the configured store install it, then switch
    the local manifest to it atomically."""
    from ..text.lexical import Analyzer, report_terms

    chunks: list[Chunk] = []
    sentences: list[Sentence] = []
    for pieces in documents:
        offset = len(chunks)
        chunks += pieces.chunks
        sentences += [Sentence(**{**asdict(s), "chunk": s.chunk + offset}) for s in pieces.sentences]
    if not chunks:
        raise DocumentError("the corpus would have no documents; add one first (qa-index add FILE)")
    dim = int(documents[0].vectors.shape[1])
    sentence_vectors = np.concatenate([p.sentence_vectors.reshape(-1, dim) for p in documents]).astype(np.float32)
    terms = sorted(report_terms((c.text for c in chunks), [k for p in documents for k in p.glossary_keys]))
    analyzer = Analyzer(terms)
    tokens = [analyzer.tokens(c.search_text) or ["∅"] for c in chunks]
    stats, start = {}, 0
    for pieces in documents:
        end = start + len(pieces.chunks)
        stats[pieces.info.id] = document_stats(pieces.chunks, tokens[start:end])
        start = end
    build = Build({}, documents, tokens, stats, terms)
    backend = BACKENDS[settings.store]

    content_key = hashlib.sha1(
        f"{[p.info.sha256 for p in documents]}|{CHUNKER_VERSION}|{embedder.fingerprint}|{time.time_ns()}".encode()
    ).hexdigest()[:12]
    build_name = f"build-{content_key}"
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=settings.index_dir))
    tmp.chmod(0o755)  # readable by the service account, like any other index file
    try:
        (tmp / "chunks.json").write_text(
            json.dumps([chunk_to_json(c) for c in chunks], ensure_ascii=False, indent=0), encoding="utf-8"
        )
        (tmp / "terms.txt").write_text("\n".join(terms), encoding="utf-8")
        (tmp / "sentences.json").write_text(
            json.dumps([asdict(s) for s in sentences], ensure_ascii=False, indent=0), encoding="utf-8"
        )
        np.save(tmp / "sentences.npy", np.ascontiguousarray(sentence_vectors, dtype=np.float32))
        (tmp / "stats.json").write_text(
            json.dumps({d: st.to_json() for d, st in stats.items()}, ensure_ascii=False), encoding="utf-8"
        )
        search = backend.write(build, tmp)
        files = {str(p.relative_to(tmp)): file_sha256(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
        build.manifest = {
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
                "bm25_vocabulary": search.pop("bm25_vocabulary"),
            },
            **search,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "build_seconds": round(time.perf_counter() - started, 2),
            "files": files,
        }
        os.replace(tmp, settings.index_dir / build_name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    backend.publish(settings, build)
    write_atomic(settings.index_dir / "manifest.json", json.dumps(build.manifest, indent=2, ensure_ascii=False))
    _remove_unused(settings, build.manifest)
    return build.manifest


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
    check_file(path, settings.max_document_mb)
    sha = file_sha256(path)
    doc_id = sha[:ID_CHARS]
    file = f"sources/{doc_id}{path.suffix.lower()}"
    target = settings.index_dir / file
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.is_file() or file_sha256(target) != sha:
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
    """Change the corpus only where it is kept: the working state (under ``QA_INDEX_DIR``)
    that built the index the store serves. With Milvus another process's state would
    upload a corpus without the documents added elsewhere."""
    serving = BACKENDS[settings.store].current_build(settings)
    local = LOCAL.current_build(settings)
    if serving is not None and serving != local:
        raise ConfigError(
            f"the index {BACKENDS[settings.store].describe(settings)} serves ({serving}) was built from another "
            f"corpus state than {settings.index_dir}; change it where it was built (that QA_INDEX_DIR), "
            "or replace it from here: qa-index build --corpus FILE..."
        )


def _index_exists(settings: Settings) -> bool:
    """Whether the configured store already serves an index (and the local state has one)."""
    return LOCAL.current_build(settings) is not None and BACKENDS[settings.store].current_build(settings) is not None


def _refreshed(settings: Settings, info: DocumentInfo) -> DocumentInfo:
    """The configured corpus file (the bundled report) as it is now, if it changed since
    it was added; any other document as it was added."""
    origin = Path(info.origin) if info.origin else None
    if origin is None or origin != settings.corpus.resolve() or not origin.is_file():
        return info
    return info if file_sha256(origin) == info.sha256 else _stage_source(settings, origin)


def _current_documents(settings: Settings) -> list[DocumentInfo]:
    """The corpus as the manifest lists it (empty when there is no readable index)."""
    try:
        manifest = read_manifest(settings.index_dir)
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
    from ..embedding.embedder import Embedder

    settings = settings or Settings()
    embedder = embedder or Embedder(settings)
    started = time.perf_counter()
    with locked(settings):
        if if_missing and _index_exists(settings):
            return read_manifest(settings.index_dir)
        if sources is None and chunks is None:
            _check_owner(settings)
        if chunks is not None:
            info = DocumentInfo(
                id="synthetic",
                title="synthetic",
                year=None,
                pages=1,
                passages=len(chunks),
                sentences=0,
                source="synthetic",
                sha256="",
                file="",
            )
            vectors = embedder.encode_passages([c.search_text for c in chunks], show_progress=progress)
            documents = [
                Pieces(info, chunks, [], vectors, np.empty((0, vectors.shape[1]), np.float32), [], "synthetic")
            ]
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
            documents = [prepare(settings, settings.index_dir / i.file, i, embedder, progress) for i in infos]
        manifest = _install(settings, documents, embedder, started)
    embedder.prepare_query_encoder()  # serving needs it; export it now rather than at first query
    return manifest


def add_documents(
    settings: Settings | None,
    paths: list[str | Path],
    embedder=None,
    title: str | None = None,
    progress=True,
) -> tuple[list[DocumentInfo], list[DocumentError]]:
    """Add files to the corpus; returns (the documents added, an error for each file that
    could not be). Only the new documents are embedded; a file already in the corpus is
    reported, not added twice. The index changes once, atomically, at the end: a failure
    leaves it and every other document as they were. ``progress``: True shows bars in the
    console, a :class:`qa.progress.Progress` gets reports (see :mod:`qa.progress`)."""
    from ..embedding.embedder import Embedder

    settings = settings or Settings()
    embedder = embedder or Embedder(settings)
    started = time.perf_counter()
    added: list[Pieces] = []
    errors: list[DocumentError] = []
    with locked(settings):
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
                    errors.append(
                        DocumentError(
                            f"{Path(path).name}: already in the corpus as document {info.id} ({name})",
                            name=Path(path).name,
                            reason="duplicate",
                        )
                    )
                    continue
                added.append(prepare(settings, settings.index_dir / info.file, info, embedder, progress))
            except (DocumentError, OSError) as exc:
                errors.append(
                    exc
                    if isinstance(exc, DocumentError)
                    else DocumentError(f"{Path(path).name}: {exc}", name=Path(path).name, reason="unreadable")
                )
        if added:
            report = reporter(progress)
            report("write", 0.0, "")
            existing = [prepare(settings, settings.index_dir / d.file, d, embedder, progress) for d in current]
            _install(settings, existing + added, embedder, started)
            report("write", 1.0, "")
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
    from ..embedding.embedder import Embedder

    settings = settings or Settings()
    embedder = embedder or Embedder(settings)
    started = time.perf_counter()
    with locked(settings):
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
        keep = [prepare(settings, settings.index_dir / d.file, d, embedder, False) for d in current if d.id != gone.id]
        _install(settings, keep, embedder, started)
    return gone
