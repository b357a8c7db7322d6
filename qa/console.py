"""What the console shows: the project's own progress and warnings, nothing else.

Every command line entry point (``app.py``, ``qa-index``, ``qa eval`` …) calls
:func:`setup` once. By default the project's loggers speak at INFO (they only do when
something long runs: converting the model, exporting the query encoder, building the
index) and every other library at WARNING; ``verbose`` shows everything at DEBUG.
"""

from __future__ import annotations

import logging

__all__ = ["setup"]

#: Libraries that talk at INFO (or set their own logger to DEBUG, as bm25s does on import).
_CHATTY = ("faiss", "faiss.loader", "bm25s", "httpx", "httpcore", "jieba", "sentence_transformers", "gradio", "uvicorn")


def setup(verbose: bool = False) -> None:
    """Configure logging for a command: ``HH:MM:SS message`` lines on stderr."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s" if verbose else "%(asctime)s %(message)s",
        datefmt="%H:%M:%S",
        force=True,
    )
    logging.getLogger("qa").setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.getLogger("app").setLevel(logging.DEBUG if verbose else logging.INFO)
    import bm25s  # noqa: F401 - imported now so that its own DEBUG level is overridden below

    for name in _CHATTY:
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.WARNING)
    if not verbose:
        from transformers.utils import logging as transformers_logging

        transformers_logging.set_verbosity_error()
        transformers_logging.disable_progress_bar()  # "Loading weights" bars on every start
