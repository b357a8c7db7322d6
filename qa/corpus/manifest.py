"""The corpus's working state on disk: which build is current and whether it still fits
the chunker and model, the directory lock, atomic writes; opening the configured store.

The local ``manifest.json`` under the index directory is the corpus builder's state with
every store; with the local store it is also what serves. A store is opened through its
backend (:data:`qa.stores.BACKENDS`), then checked here against the code that reads it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from pathlib import Path

from ..config import Settings
from ..errors import IndexStaleError
from ..ingest.chunking import CHUNKER_VERSION
from ..records import FIX_COMMAND, DocumentInfo, file_sha256
from ..stores import BACKENDS, Store

__all__ = ["check_current", "list_documents", "load_index", "locked", "pieces_key", "write_atomic"]


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
            f"index at {BACKENDS[settings.store].describe(settings)} is stale: {', '.join(problems)}; "
            f"rebuild with: {FIX_COMMAND}"
        )


def load_index(settings: Settings | None = None, model_fingerprint: str | None = None) -> Store:
    """Open and verify the index of the configured store; raises a subclass of
    :class:`qa.errors.IndexUnavailableError`."""
    settings = settings or Settings()
    store = BACKENDS[settings.store].open(settings)
    check_current(settings, store.manifest, model_fingerprint)
    return store


def list_documents(settings: Settings | None = None) -> list[DocumentInfo]:
    """The documents the configured store serves (raises :class:`IndexMissingError` without an index)."""
    settings = settings or Settings()
    manifest = BACKENDS[settings.store].current_manifest(settings)
    return [DocumentInfo(**d) for d in manifest.get("documents", [])]


@contextlib.contextmanager
def locked(settings: Settings):
    """Hold the index directory's write lock (one change at a time, across processes)."""
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.index_dir / ".lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step (a reader sees the old file or the new one)."""
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
