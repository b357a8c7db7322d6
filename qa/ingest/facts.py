"""What a report says about itself, read from its cover: :func:`read_facts`.

The cover holds a title (``政 府 工 作 报 告``, ``2020年曲阳县政府工作报告``), a session
line (``——2020年6月6日在安阳市北关区第十届人民代表大会第五次会议上``) and a speaker line
(``安阳市北关区人民政府区长 路录平``), in whatever order, sometimes with a cover label
(``阜平县十七届人大 / 五次会议文件(1)``); a printed session line may wrap. The place is
resolved in the gazetteer (:mod:`qa.ingest.places`), so that 易县 is known to lie in 保定市.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..text.vocabulary import chinese_number

__all__ = ["DocumentFacts", "date_in", "read_facts", "squash"]

_NAMED_YEAR = re.compile(r"(?<!\d)((?:19|20)\d\d)(?!\d)")
#: The session line: ``——2020年6月6日在安阳市北关区第十届人民代表大会第五次会议上``.
SESSION_RE = re.compile(
    r"在(?P<place>[\u4e00-\u9fff]{0,20}?)"
    r"(?P<meeting>第?[一二三四五六七八九十百〇零\d]+届人民代表大会(?:第[一二三四五六七八九十〇零\d]+次|常务委员会第[一二三四五六七八九十〇零\d]+次)?(?:全体)?会议)"
)
#: A date in digits or Chinese numerals: ``2020年6月6日``, ``二〇二五年一月十四日``.
DATE_RE = re.compile(
    r"(?P<y>(?:19|20)\d\d|[〇零○一二三四五六七八九]{4})\s*年\s*"
    r"(?P<m>\d{1,2}|[一二三四五六七八九十]{1,2})\s*月\s*(?P<d>\d{1,2}|[一二三四五六七八九十]{1,3})\s*日"
)
#: The speaker line (read without spaces): ``安阳市北关区人民政府区长路录平``, ``市长王军``.
SPEAKER_RE = re.compile(
    r"^(?P<body>[\u4e00-\u9fff]{0,20}?人民政府)?"
    r"(?P<office>(?:代理|代|副)?(?:省|市|州|盟|县|区|旗|镇|乡)长|(?:代理|代|副)?(?:主席|州长|盟长))"
    r"(?P<name>[\u4e00-\u9fff·]{2,6})$"
)


@dataclass(frozen=True)
class DocumentFacts:
    """What a report says about itself, read from its cover (empty where it does not say).

    ``place`` is the place as the report names itself, the most local one (易县,
    北关区); ``place_full`` adds the prefecture (and for a city its province) where the
    report names them too (保定市易县); ``level`` is how the place ends (市, 区, 县, 旗);
    ``date`` the delivery date (ISO); ``meeting`` the session it was delivered at;
    ``speaker`` and ``office`` who delivered it (丁磊, 代县长)."""

    title: str = ""
    place: str = ""
    place_full: str = ""
    level: str = ""
    year: int | None = None
    date: str = ""
    meeting: str = ""
    speaker: str = ""
    office: str = ""


def squash(text: str) -> str:
    """``text`` without any whitespace."""
    return re.sub(r"\s+", "", text)


def date_in(text: str) -> tuple[int, int, int] | None:
    """The first date in ``text`` as (year, month, day), digits or Chinese numerals."""
    m = DATE_RE.search(text)
    if not m:
        return None
    try:
        year, month, day = (chinese_number(m.group(k)) for k in ("y", "m", "d"))
    except ValueError:
        return None
    return (year, month, day) if 1 <= month <= 12 and 1 <= day <= 31 else None


def _place_of(raw: str, context: str) -> tuple[str, str, str]:
    """(place, place in full, level) from the place a session or speaker line names
    (``安阳市北关区``, ``易县``), using the document's text to settle which of several
    places of that name it is and which of its parents it names."""
    from .places import gazetteer

    places = gazetteer()
    named = places.named_in(raw) or ([raw] if raw.strip("市区县旗州盟省") else [])
    if not named:
        return "", "", ""
    local = named[-1]
    place = places.resolve(local, context)
    if place is None:
        return local, raw, local[-1] if local[-1] in "市区县旗" else ""
    parents = [p for p in places.parents(place) if p.name in raw or p.short in context]
    # A county is named in full with its prefecture; a prefecture with its province.
    parents = parents[-1:]
    return place.name, "".join(p.name for p in parents) + place.name, place.level_name


_REPORT_TITLE = re.compile(r"^(?P<year>(?:19|20)\d\d年)?(?P<core>[^\d]*报告)$")


def read_facts(cover: list[str], text: str, name: str = "") -> DocumentFacts:
    """The facts of a report from its ``cover`` lines (any order), its ``text`` (which
    places it names) and its file ``name`` (a year, when the cover has no date)."""
    lines = [squash(line).strip("—-－ ") for line in cover]
    joined = "".join(lines)  # a printed session line may wrap
    session = SESSION_RE.search(joined)
    speaker = next((m for line in lines if (m := SPEAKER_RE.match(line))), None)
    dated = next((d for line in lines if (d := date_in(line))), None) or date_in(joined)
    raw = session.group("place") if session else ""
    if not raw.strip("市区县旗州盟省") and speaker and speaker.group("body"):
        raw = speaker.group("body").removesuffix("人民政府")
    place, place_full, level = _place_of(raw, text)
    if not place:
        from .places import gazetteer

        named = [n for line in lines for n in gazetteer().named_in(line)]
        if named:
            place, place_full, level = _place_of(named[-1], text)
    year = dated[0] if dated else None
    if year is None:
        m = _NAMED_YEAR.search(name)
        year = int(m.group(1)) if m else None
    return DocumentFacts(
        title=_title(lines, place, year, name),
        place=place,
        place_full=place_full,
        level=level,
        year=year,
        date="{:04d}-{:02d}-{:02d}".format(*dated) if dated else "",
        meeting=(raw if session and raw.strip("市区县旗州盟省") else place) + session.group("meeting")
        if session
        else "",
        speaker=speaker.group("name") if speaker else "",
        office=speaker.group("office") if speaker else "",
    )


def _title(lines: list[str], place: str, year: int | None, name: str) -> str:
    """``易县2025年政府工作报告``: the cover's title line, with the place and the year
    when it names neither (a line naming other things is kept as it is); else the file
    name's stem."""
    line = next((t for t in lines if "报告" in t and not SESSION_RE.search(t) and len(t) <= 40), "")
    if not line:
        return f"{place}{year}年政府工作报告" if place and year else Path(name).stem
    core = line.removeprefix(place) if place else line
    m = _REPORT_TITLE.match(core.replace(place, "", 1) if place and place in core else core)
    if m is None or (not place and not m.group("year")):
        return line
    stated = m.group("year") or (f"{year}年" if year else "")
    return f"{place}{stated}{m.group('core')}"
