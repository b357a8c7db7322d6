"""Which of the indexed reports a question is about, by the places it names.

Each report knows its own place (:class:`qa.ingest.documents.DocumentFacts`); a question may
name it in many ways: in full or short (安阳市北关区, 北关区, 北关), with a typo
(毫州 for 亳州, from ``data/confusables.tsv``), in pinyin or its initials (Bozhou, bz),
or an English spelling one letter off the pinyin (Hailar). A question that names the
places of some reports is asked of those; one that names a place no searched report
is about (殷都区 when only 北关区 is indexed, or 安阳市 as a whole) is told so, so that
no other place's figure is stated as its answer. Places come from the gazetteer
(:mod:`qa.ingest.places`); a report's own subdivisions (a city's counties) are not "other".
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..text.vocabulary import data_lines

__all__ = ["PlaceMention", "PlaceRouter"]

_LATIN = re.compile(r"[a-z]+")
_CJK = re.compile(r"[\u4e00-\u9fff]")
#: A Latin word this long may be one letter off a place's pinyin (hailar → hailaer).
FUZZY_LATIN_CHARS = 5
#: A place name followed by one of these names a landmark (安阳河, 北京路), not the place.
_LANDMARK = re.compile(r"[河江湖山路街桥港站湾岛渠]")


@functools.lru_cache(maxsize=1)
def _confusables() -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for line in data_lines("confusables.tsv"):
        right, _, typed = line.partition("\t")
        out[right.strip()] = out.get(right.strip(), ()) + tuple(t for t in typed.strip().split("|") if t)
    return out


def _pinyin(text: str) -> list[str]:
    from pypinyin import lazy_pinyin

    return lazy_pinyin(text)


def _one_edit(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` differ by at most one inserted, deleted or changed letter."""
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i:] == b[i + 1 :] or (len(a) == len(b) and a[i + 1 :] == b[i + 1 :])


@dataclass(frozen=True)
class PlaceMention:
    """What a question says about places: ``documents``, the ids of the searched reports
    whose place it names; ``others``, the places it names that none of them is about."""

    documents: tuple[str, ...] = ()
    others: tuple[str, ...] = ()


class PlaceRouter:
    """The names of the indexed reports' places, and the places around them."""

    def __init__(self, documents: Iterable):
        from ..ingest.places import gazetteer, short_name

        places = gazetteer()
        self._names: dict[str, set[str]] = {}  # a Chinese name → ids of the documents of that place
        self._latin: dict[str, set[str]] = {}  # a pinyin spelling → ids
        self._initials: dict[str, set[str]] = {}  # two-letter initials → ids
        self._codes: dict[str, str] = {}  # id → the place's code (for subdivisions and parents)
        self._parents: dict[str, set[str]] = {}  # a parent's name → ids of the documents below it
        for doc in documents:
            if not doc.place:
                continue
            resolved = places.resolve(doc.place, doc.place_full)
            short = short_name(doc.place)
            names = {doc.place, short, doc.place_full} - {""}
            names |= {short.replace(c, t) for c, typed in _confusables().items() if c in short for t in typed}
            for name in names:
                self._names.setdefault(name, set()).add(doc.id)
            for spelling in ("".join(_pinyin(short)), "".join(_pinyin(doc.place))):
                self._latin.setdefault(spelling, set()).add(doc.id)
            if len(short) == 2:
                self._initials.setdefault("".join(p[0] for p in _pinyin(short)), set()).add(doc.id)
            if resolved is not None:
                self._codes[doc.id] = resolved.code
                for parent in places.parents(resolved):
                    for name in {parent.name, parent.short}:
                        self._parents.setdefault(name, set()).add(doc.id)
        self._pattern = self._alternation(list(self._names) + list(self._parents))

    @staticmethod
    def _alternation(names: list[str]) -> re.Pattern | None:
        names = sorted(set(names), key=len, reverse=True)
        return re.compile("|".join(map(re.escape, names))) if names else None

    def mention(self, question: str, scope: Iterable[str] | None = None) -> PlaceMention:
        """The places ``question`` (normalised: simplified characters) names, against the
        documents ``scope`` (ids; None: all indexed)."""
        from ..ingest.places import gazetteer

        allowed = None if scope is None else set(scope)

        def keep(ids: set[str]) -> set[str]:
            return ids if allowed is None else ids & allowed

        low = question.lower()
        own: set[str] = set()
        parents: list[str] = []
        unsearched: list[str] = []
        if self._pattern is not None:
            for m in self._pattern.finditer(question):
                name = m.group(0)
                if name in self._names:
                    ids = keep(self._names[name])
                    own |= ids
                    if not ids:  # an indexed report's place, but not one searched
                        unsearched.append(name)
                elif keep(self._parents[name]) and not _LANDMARK.match(question, m.end()):
                    parents.append(name)
        chinese = bool(_CJK.search(question))
        for word in _LATIN.findall(low):
            if word in self._latin:
                own |= keep(self._latin[word])
            elif len(word) >= FUZZY_LATIN_CHARS:
                own |= {d for spelling, ids in self._latin.items() if _one_edit(word, spelling) for d in keep(ids)}
            elif chinese and word in self._initials:
                own |= keep(self._initials[word])
        searched = set(self._codes) if allowed is None else {d for d in self._codes if d in allowed}
        others = []
        for m in gazetteer().names.finditer(question):
            name = m.group(0)
            if name in self._names or name in self._parents or _LANDMARK.match(question, m.end()):
                continue
            place = gazetteer().resolve(name)
            codes = [self._codes[d] for d in searched]
            if place is not None and any(_within(place.code, code) for code in codes):
                continue  # a subdivision of a searched report's place
            others.append(name)
        if not own:
            others = unsearched + parents + others  # a parent named alone: the question is about it as a whole
        return PlaceMention(tuple(sorted(own)), tuple(dict.fromkeys(others)))


def _within(code: str, ancestor: str) -> bool:
    """Whether place ``code`` lies inside the place ``ancestor`` (by the code's digits)."""
    if ancestor[2:] == "0000":
        return code[:2] == ancestor[:2]
    if ancestor[4:] == "00":
        return code[:4] == ancestor[:4]
    return code == ancestor
