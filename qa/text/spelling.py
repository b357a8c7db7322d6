"""Typing noise: question words a pinyin keyboard got wrong, read as the documents' own.

Most Chinese is typed in pinyin, so the commonest typo is a homophone (建筑叶 for 建筑业,
洹泉勇流 for 洹泉涌流) or the pinyin itself left in the question (dibao for 低保). A span of
a Chinese question that the documents never use, whose toneless pinyin is that of a word
they do use, of the same length, is read as that word. A Latin word they never use that is
a known one (theirs, or a thesaurus key such as ``gdp``) with two neighbouring letters
swapped is read as that one (GPD → GDP).

Only spans of at least :data:`MIN_CHARS` characters, and pinyin of at least
:data:`MIN_LETTERS` letters, are read so: two-character homophones are too many to guess
between (事业/失业), and a wrong guess turns a question the report does not answer into
one it seems to.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable, Iterable

__all__ = ["MIN_CHARS", "MIN_LETTERS", "Speller"]

MIN_CHARS = 3
MAX_CHARS = 8
MIN_LETTERS = 4

_HAN_RUN = re.compile(r"[\u4e00-\u9fff]+")
_LATIN_WORD = re.compile(r"(?<![A-Za-z])[A-Za-z]+(?![A-Za-z])")
#: Words indexed by their pinyin: two characters and more (dibao is 低保), Chinese only.
_HAN_WORD = re.compile(rf"^[\u4e00-\u9fff]{{2,{MAX_CHARS}}}$")


def _pinyin(text: str) -> list[str]:
    """Toneless pinyin, one syllable per Chinese character."""
    from pypinyin import lazy_pinyin

    return lazy_pinyin(text, errors=lambda chars: ["?"] * len(chars))


class Speller:
    """Corrects questions against a vocabulary (word → how many passages use it), the
    documents' own words; ``uses(span)`` says whether the documents use a span."""

    def __init__(self, vocabulary: dict[str, int], uses: Callable[[str], bool], known_latin: Iterable[str] = ()):
        self._vocabulary = vocabulary
        self._uses = uses
        self._known_latin = tuple(known_latin)
        self._index: tuple[dict[str, str], set[str]] | None = None
        self._lock = threading.Lock()
        #: A question is corrected once however many steps read it (search, analysis).
        self.correct = functools.lru_cache(maxsize=1024)(self._correct)

    def _known(self) -> tuple[dict[str, str], set[str]]:
        """(pinyin, syllables joined → the most used word that reads so; the known Latin
        words, lowercased: the documents' and ``known_latin``), made on first use."""
        with self._lock:
            if self._index is None:
                best: dict[str, tuple[int, str]] = {}
                latin = {w.lower() for w in self._known_latin}
                for word, count in self._vocabulary.items():
                    if _HAN_WORD.match(word):
                        key = "".join(_pinyin(word))
                        if key not in best or count > best[key][0]:
                            best[key] = (count, word)
                    elif word.isascii() and word.isalpha():
                        latin.add(word.lower())
                self._index = ({key: word for key, (_, word) in best.items()}, latin)
            return self._index

    def _correct(self, text: str) -> str:
        """``text`` with its misspelt spans replaced by the documents' words (unchanged
        when nothing is misspelt)."""
        if not _HAN_RUN.search(text):
            return text  # an English question: its words are no pinyin
        out = _LATIN_WORD.sub(self._latin, text)
        return _HAN_RUN.sub(self._han, out)

    def _latin(self, m: re.Match) -> str:
        word = m.group(0)
        words, latin = self._known()
        low = word.lower()
        if low in latin or self._uses(word):
            return word
        if len(word) >= 3:
            swapped = (low[:i] + low[i + 1] + low[i] + low[i + 2 :] for i in range(len(low) - 1))
            known = next((w for w in swapped if w in latin), None)
            if known is not None:
                return known.upper() if word.isupper() else known
        return words.get(low, word) if len(word) >= MIN_LETTERS else word

    def _han(self, m: re.Match) -> str:
        run = m.group(0)
        if len(run) < MIN_CHARS or self._uses(run):
            return run
        syllables = _pinyin(run)
        if len(syllables) != len(run):
            return run
        words, out, i = self._known()[0], [], 0
        while i < len(run):
            for n in range(min(MAX_CHARS, len(run) - i), MIN_CHARS - 1, -1):
                span = run[i : i + n]
                word = None if self._uses(span) else words.get("".join(syllables[i : i + n]))
                if word is not None and len(word) == n:
                    out.append(word)
                    i += n
                    break
            else:
                out.append(run[i])
                i += 1
        return "".join(out)
