"""Progress of long work (adding a report: reading, OCR, cutting, embedding, installing),
reported as ``report(stage, done, item)``: the stage (one of :data:`STAGES`), the share of
it done for the current file (0–1) and that file's name. The command line shows bars; the
app turns the reports into one progress display in Chinese."""

from __future__ import annotations

from typing import Protocol

__all__ = ["STAGES", "Progress", "reporter"]

#: The stages of adding a document, in order.
STAGES = ("read", "ocr", "chunk", "embed", "write")


class Progress(Protocol):
    def __call__(self, stage: str, done: float, item: str) -> None: ...


def _silent(stage: str, done: float, item: str) -> None:
    return None


def reporter(progress) -> Progress:
    """The report function of ``progress``: itself when callable, else one that says nothing
    (``True`` and ``False`` only switch the console's bars)."""
    return progress if callable(progress) else _silent
