"""Chinese administrative places: names, levels, parents, and the ways people write them.

A report names its own place on its cover (``在安阳市北关区第十届人民代表大会…``,
``易县人民政府代县长``); questions name places too (亳州, 毫州, Bozhou, bz). To know that
易县 lies in 保定市, that 殷都区 is a place at all, or that 河池 is 河池市, we use the
table of administrative division codes shipped in the ``cpca`` package (MIT; the
National Bureau of Statistics' codes of ~3,500 provinces, prefectures and counties).
Only its data file is read (cpca's own code, which needs pandas, is never imported).

Levels: 0 province (省, 自治区, 直辖市), 1 prefecture (地级市, 自治州, 地区, 盟), 2 county
(县, 县级市, 区, 旗). A code's first two digits name its province, the first four its
prefecture.
"""

from __future__ import annotations

import csv
import functools
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LEVEL_NAMES", "Gazetteer", "Place", "gazetteer", "short_name"]

#: What a level is called, for ``DocumentInfo.level``.
LEVEL_NAMES = ("省", "市", "县")
#: A name: the shortest stem of two characters or more, then its administrative suffix
#: (河池市 → 河池, 广西壮族自治区 → 广西).
_NAME = re.compile(
    r"(?P<stem>.{2,}?)(?:(?:[\u4e00-\u9fff]{1,3}族)*自治(?:区|州|县|旗)|特别行政区|林区|特区|地区|省|市|州|盟|县|区|旗)"
)
#: County-level names whose short name is one character are found only in these forms
#: (易县 yes; 城区, 郊区, 矿区 are ordinary words).
_ONE_CHARACTER_OK = ("县", "旗")


def short_name(name: str) -> str:
    """``河池市`` → ``河池``, ``广西壮族自治区`` → ``广西``, ``易县`` → ``易县`` (a short
    name keeps at least two characters)."""
    m = _NAME.fullmatch(name)
    return m.group("stem") if m else name


@dataclass(frozen=True)
class Place:
    code: str  # six digits
    name: str  # as officially written: 易县, 保定市, 河北省

    @property
    def level(self) -> int:
        if self.code[2:] == "0000":
            return 0
        return 1 if self.code[4:] == "00" else 2

    @property
    def short(self) -> str:
        return short_name(self.name)

    @property
    def level_name(self) -> str:
        """市, 区, 县, 旗… as the name ends (the level a reader would say)."""
        m = re.search(r"(省|自治区|市|州|地区|盟|县|区|旗)$", self.name)
        return m.group(1) if m else LEVEL_NAMES[self.level]


class Gazetteer:
    """Every place of the code table, found by name."""

    def __init__(self, rows: list[tuple[str, str]]):
        self.by_code: dict[str, Place] = {}
        self.by_name: dict[str, list[Place]] = {}
        for code, name in rows:
            place = Place(code[:6], name)
            if place.code in self.by_code:
                continue
            self.by_code[place.code] = place
            self.by_name.setdefault(name, []).append(place)
        names = [n for n in self.by_name if _NAME.fullmatch(n) or n.endswith(_ONE_CHARACTER_OK) and len(n) >= 2]
        #: Every official name, longest first (a pattern to find them in a text).
        self.names = re.compile("|".join(map(re.escape, sorted(names, key=len, reverse=True))))

    def parents(self, place: Place) -> list[Place]:
        """The province and prefecture above ``place``, highest first."""
        codes = [place.code[:2] + "0000", place.code[:4] + "00"][: place.level]
        return [self.by_code[c] for c in codes if c in self.by_code and c != place.code]

    def named_in(self, text: str) -> list[str]:
        """The official place names that ``text`` contains, in order, longest match first."""
        return [m.group(0) for m in self.names.finditer(text)]

    def resolve(self, name: str, context: str = "") -> Place | None:
        """The place called ``name`` (full or short); of several with that name, the one
        whose province or prefecture ``context`` names most often."""
        found = self.by_name.get(name) or [p for n in (name + s for s in "市县区旗") for p in self.by_name.get(n, [])]
        if len(found) <= 1:
            return found[0] if found else None

        def named(place: Place) -> int:
            return sum(context.count(p.short) for p in self.parents(place))

        return max(found, key=named)


def _table() -> Path:
    spec = importlib.util.find_spec("cpca")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("the place table needs the cpca package: pip install cpca")
    return Path(next(iter(spec.submodule_search_locations))) / "resources" / "adcodes.csv"


@functools.lru_cache(maxsize=1)
def gazetteer() -> Gazetteer:
    """The gazetteer (read once, ~20 ms)."""
    with _table().open(encoding="utf-8") as f:
        rows = [(r["adcode"], r["name"]) for r in csv.DictReader(f)]
    return Gazetteer(rows)
