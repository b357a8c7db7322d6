"""Chinese lexical matching: jieba tokens with the report's own vocabulary, BM25 by bm25s.

jieba's general dictionary splits the report's proper names and figures (``东苏度``,
``139.66亿元``, ``两不愁三保障``) into pieces that match too much or too little. The
report's own terms are therefore added to a private jieba tokenizer: glossary terms,
quoted terms, names listed with ``、`` and figures with their units.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable

from .vocabulary import QUANTITY, STOPWORDS, expansions

log = logging.getLogger(__name__)

__all__ = ["Analyzer", "normalize_query_text", "report_terms", "to_simplified"]

_PUNCT = re.compile(r"^[\W_]+$")
_QUOTED = re.compile(r"“([^”]{2,12})”")
_LISTED = re.compile(r"(?<=[、，：；。“])([\u4e00-\u9fff]{3,7})(?=、)|(?<=、)([\u4e00-\u9fff]{3,7})(?=[、等，。；])")
_converter = None
_converter_lock = threading.Lock()


def to_simplified(text: str) -> str:
    """Traditional → simplified Chinese (opencc, t2s)."""
    global _converter
    with _converter_lock:
        if _converter is None:
            from opencc import OpenCC

            _converter = OpenCC("t2s")
    return _converter.convert(text)


def normalize_query_text(text: str) -> str:
    """Full-width forms to half-width, traditional to simplified, spaces collapsed."""
    import unicodedata

    text = unicodedata.normalize("NFKC", text)
    text = to_simplified(text)
    return re.sub(r"\s+", " ", text).strip()


def report_terms(texts: Iterable[str], glossary_keys: Iterable[str] = ()) -> set[str]:
    """Domain terms found in the report, for jieba's dictionary."""
    terms = {k for k in glossary_keys if 2 <= len(k) <= 20}
    for text in texts:
        terms.update(m.group(0) for m in QUANTITY.finditer(text))
        terms.update(_QUOTED.findall(text))
        for a, b in _LISTED.findall(text):
            terms.add(a or b)
    return terms


class Analyzer:
    """Turns text into BM25 tokens; one private jieba dictionary per instance."""

    def __init__(self, terms: Iterable[str] = ()):
        import jieba

        jieba.setLogLevel(logging.WARNING)
        self._jieba = jieba.Tokenizer()
        self._jieba.initialize()  # quiet, up front: lazy init is not thread-safe
        for term in sorted(set(terms)):
            self._jieba.add_word(term, freq=50000)
        self._lock = threading.Lock()

    def query_tokens(self, query: str) -> list[str]:
        """Tokens of a question, plus the report's wording for everyday words in it."""
        return self.tokens(" ".join([query, *expansions(query)]))

    def tokens(self, text: str) -> list[str]:
        """BM25 tokens: jieba's search mode (long words and their parts), no stopwords."""
        return self._cut(text, search=True)

    def words(self, text: str) -> list[str]:
        """Words as written (jieba's precise mode), no stopwords: what a question is about."""
        return self._cut(text, search=False)

    def _cut(self, text: str, search: bool) -> list[str]:
        text = text.lower()
        with self._lock:  # jieba's tokenizer caches are not safe for concurrent writers
            words = self._jieba.lcut_for_search(text) if search else self._jieba.lcut(text)
        return [w for w in (w.strip() for w in words) if w and not _PUNCT.match(w) and w not in STOPWORDS]
