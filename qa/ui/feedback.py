"""Thumbs up/down feedback, stored locally in SQLite under the data directory.

SQLite gives what a feedback log needs without a server: each record is written in
one transaction (a crash mid-write leaves no half record), concurrent writers from
the app's worker threads or several processes are serialised by its file lock, and
the file never lives inside ``index/``.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["FeedbackRecord", "FeedbackStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    liked INTEGER NOT NULL,
    citations TEXT NOT NULL
)
"""


@dataclass(frozen=True)
class FeedbackRecord:
    question: str
    answer: str
    liked: bool
    citations: tuple[str, ...] = ()
    created_at: str = ""


class FeedbackStore:
    """Append-only feedback log; safe to share between threads."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30)
            conn.execute("PRAGMA synchronous=FULL")
            self._local.conn = conn
        return conn

    def add(self, question: str, answer: str, liked: bool, citations: list[str] | tuple[str, ...] = ()) -> None:
        record = (
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            str(question)[:2000],
            str(answer)[:8000],
            int(bool(liked)),
            json.dumps(list(citations), ensure_ascii=False),
        )
        conn = self._connect()
        with conn:  # one transaction per record
            conn.execute(
                "INSERT INTO feedback (created_at, question, answer, liked, citations) VALUES (?, ?, ?, ?, ?)", record
            )

    def all(self) -> list[FeedbackRecord]:
        rows = (
            self._connect()
            .execute("SELECT question, answer, liked, citations, created_at FROM feedback ORDER BY id")
            .fetchall()
        )
        return [FeedbackRecord(q, a, bool(liked), tuple(json.loads(c)), t) for q, a, liked, c, t in rows]
