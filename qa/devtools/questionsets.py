"""Question sets and the corpus they are asked of, shared by evaluation and fitting.

A question set is JSON lines (schema in :mod:`qa.devtools.eval`); :func:`question_sets` makes
its items ready to ask (each with the ``documents`` it is asked of and a ``fold`` named
by its set); :func:`corpus_engine` indexes a folder of reports beside the bundled one;
:func:`holds` is the one rule for "this text holds a gold answer".
"""

from __future__ import annotations

import json
import re
from pathlib import Path

__all__ = ["corpus_engine", "history_of", "holds", "load_questions", "question_sets", "squash"]

_WS = re.compile(r"\s+")


def squash(text: str) -> str:
    return _WS.sub("", text)


def holds(text: str, answers: list[str]) -> bool:
    """Whether ``text`` contains a gold answer (whitespace ignored on both sides)."""
    t = squash(text)
    return any(squash(a) and squash(a) in t for a in answers)


def load_questions(path: str | Path) -> list[dict]:
    out = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        item = json.loads(line)
        if not isinstance(item.get("question"), str) or not isinstance(item.get("answers"), list):
            raise ValueError(f"{path}:{n}: needs 'question' (str) and 'answers' (list)")
        item.setdefault("type", "all")
        item.setdefault("id", f"line{n}")
        item.setdefault("fold", 0)
        out.append(item)
    return out


def corpus_engine(folder: str | Path | None = None, settings=None):
    """An engine over the bundled report and every document in ``folder`` (None: the
    configured index), and a map from each file's name (without its extension) to its
    document id.

    A folder's index lives in the user cache (one per folder) and is rebuilt on every
    call, but a document is embedded again only when its file, the chunker or the model
    changed."""
    import hashlib

    from ..config import Settings
    from ..corpus.builder import build_index, list_documents
    from ..engine import Engine, default_engine
    from ..ingest.readers import SUPPORTED_SUFFIXES

    if folder is None:
        engine = default_engine() if settings is None else Engine(settings)
        return engine, {Path(d.source).stem: d.id for d in engine.documents()}
    settings = settings or Settings()
    folder = Path(folder).resolve()
    files = sorted(
        f for f in folder.iterdir() if f.suffix.lower() in SUPPORTED_SUFFIXES and f.stem.upper() != "SOURCES"
    )
    if not files:
        raise ValueError(f"{folder}: no documents ({', '.join(SUPPORTED_SUFFIXES)})")
    name = hashlib.sha1(str(folder).encode()).hexdigest()[:10]
    settings = settings.with_(index_dir=settings.cache_dir / "eval" / f"{folder.name}-{name}")
    engine = Engine(settings)
    build_index(settings, engine.embedder, progress=False, sources=[settings.corpus, *files])
    return engine, {Path(d.source).stem: d.id for d in list_documents(settings)}


def question_sets(paths: list[str | Path], ids: dict[str, str], default: str | None = None) -> list[dict]:
    """The items of the question sets at ``paths``, ready to ask: each with ``documents``
    (the id of the report named by its ``doc``, else of ``default``: the bundled report,
    when the corpus holds others) and its ``fold`` named by its set (``dev:3``), so that
    folds of different sets never mix."""
    out = []
    for path in paths:
        name = Path(path).stem
        for item in load_questions(path):
            doc = item.get("doc", default)
            if doc is not None and doc not in ids:
                raise ValueError(f"{path}: {item['id']} is about {doc!r}, which is not in the corpus")
            out.append({**item, "doc": doc, "fold": f"{name}:{item['fold']}", "documents": [ids[doc]] if doc else None})
    return out


def history_of(item: dict) -> list[dict]:
    """The earlier user questions of a conversation, as Gradio messages."""
    return [{"role": "user", "content": q} for q in item.get("history", [])]
