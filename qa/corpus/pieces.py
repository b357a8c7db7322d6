"""One document's pieces: read, parse, chunk and embed it once, and keep the result
under ``documents/<id>/`` of the index directory, reused as long as the file, the chunker
and the model are unchanged (adding a report embeds only that report)."""

from __future__ import annotations

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
from ..errors import DocumentError
from ..ingest.chunking import chunk_document, coverage, sentences_of
from ..ingest.documents import parse_source
from ..ingest.readers import read_source
from ..progress import reporter
from ..records import DocumentInfo, Pieces, Sentence, chunk_from_json, chunk_to_json
from .manifest import pieces_key

log = logging.getLogger(__name__)

__all__ = ["load_pieces", "pieces_dir", "prepare", "save_pieces"]

#: Texts embedded between two progress reports.
EMBED_SLICE = 64


def prepare(settings: Settings, file: Path, info: DocumentInfo, embedder, progress=False) -> Pieces:
    """Read, parse, chunk and embed one document (or reuse its saved pieces).
    ``progress``: True shows a bar in the console, a :class:`qa.progress.Progress` gets reports."""
    cached = load_pieces(settings, info, embedder)
    if cached is not None:
        return cached
    started = time.perf_counter()
    report = reporter(progress)
    source = read_source(file, info.source, report)
    report("chunk", 0.0, info.source)
    doc = parse_source(source)
    chunks = chunk_document(doc, info.id)
    sentences = sentences_of(doc, chunks)
    if not chunks:
        raise DocumentError(f"{info.source}: the document has no text to index", name=info.source, reason="no_text")
    held = coverage(source, chunks)
    if held.missing:
        log.warning(
            "%s: %d of %d sentences are in no passage, e.g. %s",
            info.source,
            len(held.missing),
            held.sentences,
            held.missing[0][:40],
        )
    report("chunk", 1.0, info.source)
    texts = [c.search_text for c in chunks] + [s.text for s in sentences]
    vectors = _embed(embedder, texts, info.source, progress is True, report)
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
    pieces = Pieces(
        info,
        chunks,
        sentences,
        vectors[: len(chunks)],
        vectors[len(chunks) :],
        [k for e in doc.glossary for k in e.keys],
        pieces_key(info.sha256, embedder.fingerprint),
    )
    save_pieces(settings, pieces)
    log.info(
        "%s: %d passages, %d sentences in %.1f s",
        info.source,
        len(chunks),
        len(sentences),
        time.perf_counter() - started,
    )
    return pieces


def _embed(embedder, texts: list[str], name: str, bar: bool, report) -> np.ndarray:
    """Embed ``texts`` in slices of :data:`EMBED_SLICE`, reporting after each."""
    from tqdm.auto import tqdm

    parts = []
    with tqdm(total=len(texts), desc=f"embedding {name}", unit="text", disable=not bar) as shown:
        for start in range(0, len(texts), EMBED_SLICE):
            parts.append(embedder.encode_passages(texts[start : start + EMBED_SLICE]))
            shown.update(len(parts[-1]))
            report("embed", min(1.0, (start + EMBED_SLICE) / len(texts)), name)
    return np.concatenate(parts)


def pieces_dir(settings: Settings, doc_id: str) -> Path:
    """Where a document's pieces are kept."""
    return settings.index_dir / "documents" / doc_id


def save_pieces(settings: Settings, pieces: Pieces) -> None:
    """Keep a document's pieces under ``documents/<id>/`` (replaced in one step)."""
    target = pieces_dir(settings, pieces.info.id)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
    try:
        (tmp / "chunks.json").write_text(
            json.dumps([chunk_to_json(c) for c in pieces.chunks], ensure_ascii=False), "utf-8"
        )
        (tmp / "sentences.json").write_text(
            json.dumps([asdict(s) for s in pieces.sentences], ensure_ascii=False), "utf-8"
        )
        np.save(tmp / "passages.npy", np.ascontiguousarray(pieces.vectors, dtype=np.float32))
        np.save(tmp / "sentences.npy", np.ascontiguousarray(pieces.sentence_vectors, dtype=np.float32))
        meta = {
            "key": pieces.key,
            "info": pieces.info.to_json(),
            "glossary_keys": pieces.glossary_keys,
        }
        (tmp / "pieces.json").write_text(json.dumps(meta, ensure_ascii=False), "utf-8")
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load_pieces(settings: Settings, info: DocumentInfo, embedder) -> Pieces | None:
    """The saved pieces of a document, if they were made from the same file, chunker and model."""
    folder = pieces_dir(settings, info.id)
    try:
        meta = json.loads((folder / "pieces.json").read_text("utf-8"))
        key = pieces_key(info.sha256, embedder.fingerprint)
        if meta.get("key") != key:
            return None
        chunks = [chunk_from_json(d) for d in json.loads((folder / "chunks.json").read_text("utf-8"))]
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
    return Pieces(info, chunks, sentences, vectors, sentence_vectors, list(meta.get("glossary_keys", [])), key)
