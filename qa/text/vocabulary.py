"""Knowledge of the language and of government work reports, in one place.

Everything the pipeline knows about how Chinese (and English) questions ask and how
such reports state things lives here or in the data files beside it
(``data/stopwords.txt``, ``data/thesaurus.tsv``): period cues, figure and unit
patterns, the kinds of answer a question can ask for, stopwords and the everyday →
official thesaurus. Nothing here is specific to one report: a report's own facts
(its year, its parts, its glossary) come from the document itself.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable

from ..config import DATA_DIR

__all__ = [
    "ABOUT_DOCUMENT",
    "ANSWER_TYPES",
    "ASKED_FIGURE_KINDS",
    "ASK_WORD",
    "CLAUSE",
    "COMPARISON",
    "DATE",
    "FIGURE",
    "MULTI_YEAR",
    "OFFICE",
    "PER_UNIT",
    "PREFERRED_PERIODS",
    "QUANTITY",
    "REVIEW_PART",
    "STOPWORDS",
    "TIME_WORDS",
    "absolute_years",
    "answering_kinds",
    "asked_object",
    "asked_types",
    "asked_unit",
    "asks_comparison",
    "asks_plan",
    "asks_span",
    "chinese_number",
    "data_lines",
    "expansions",
    "figure_kind",
    "figures",
    "five_year_plans",
    "is_place",
    "is_reason",
    "latin_words",
    "period_cues",
    "siblings",
    "spoken_years",
    "strip_ask",
    "strip_plan",
    "strip_time",
    "thesaurus",
    "unit_fits",
    "years_named",
]


def data_lines(name: str) -> list[str]:
    """The lines of the data file ``name`` (in ``qa/data``), blank lines and ``#`` comments left out."""
    text = (DATA_DIR / name).read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


def _words(name: str) -> frozenset[str]:
    return frozenset(w for line in data_lines(name) for w in line.split())


#: Words that carry no topic in a question (particles, pronouns, question words).
STOPWORDS: frozenset[str] = _words("stopwords.txt")


@functools.lru_cache(maxsize=1)
def thesaurus() -> dict[str, tuple[str, ...]]:
    """Everyday word → the report wordings that mean the same (``data/thesaurus.tsv``)."""
    out: dict[str, tuple[str, ...]] = {}
    for line in data_lines("thesaurus.tsv"):
        word, _, targets = line.partition("\t")
        out[word.strip().lower()] = tuple(t for t in targets.split("|") if t)
    return out


@functools.lru_cache(maxsize=1)
def siblings() -> dict[str, tuple[str, ...]]:
    """Word → the other words of its group (``data/siblings.tsv``): figures a report
    gives side by side, so that one stands in for another in a follow-up."""
    out: dict[str, tuple[str, ...]] = {}
    for line in data_lines("siblings.tsv"):
        group = [w.strip() for w in line.split("|") if w.strip()]
        for word in group:
            out[word] = tuple(w for w in group if w != word)
    return out


def latin_words() -> list[str]:
    """The thesaurus's English and Latin keys that are one word (``gdp``, ``tax``)."""
    return [w for w in thesaurus() if re.fullmatch(r"[a-z]+", w)]


@functools.lru_cache(maxsize=1)
def _latin_keys() -> re.Pattern | None:
    keys = sorted((w for w in thesaurus() if re.fullmatch(r"[a-z][a-z .\-]*", w)), key=len, reverse=True)
    return re.compile(r"(?<![a-z])(?:" + "|".join(map(re.escape, keys)) + r")(?![a-z])") if keys else None


def expansions(text: str, latin_only: bool = False) -> list[str]:
    """Report wordings for the everyday (and English) words that ``text`` uses; an
    English key counts only as whole words (``tax`` is not in ``taxi``)."""
    low = text.lower()
    known = thesaurus()
    found = [] if latin_only else [w for w in known if not w.isascii() and w in low]
    latin = _latin_keys()
    if latin is not None:
        found += [m.group(0) for m in latin.finditer(low)]
    return [t for word in dict.fromkeys(found) for t in known[word]]


# -- figures, units, dates ---------------------------------------------------------------

_COUNT_UNITS = "个|家|人|户|项|件|名|所|座|条|套|处|份|例|次|批|台|辆|间|张|棵|只|场|届|起|枚|头|栋|部"
_AREA_UNITS = "平方米|平方公里|平米|亩|公顷|米|公里"
#: Per cent, as ASCII or full width (reports write both: 7.5%, 7.5％).
_PERCENT = "%|％"
_MONEY_UNITS = "元|美元"
#: A number with its unit (``139.66亿元``, ``4.5%``, ``8所``): also a word for the tokenizer.
QUANTITY = re.compile(
    r"\d+(?:\.\d+)?(?:余|多)?(?:万|亿)?"
    rf"(?:{_AREA_UNITS}|万?{_MONEY_UNITS}|{_PERCENT}|个百分点|{_COUNT_UNITS}|吨|天|A级|级|倍|类|年|月|日|小时|分钟)"
)
#: A figure as reports write it: an optional qualifier, a quantity (or a few Chinese
#: numerals before a classifier, a fraction) and an optional bound.
FIGURE = re.compile(
    r"(?:突破|超过|超|达到|达|约|近|累计|完成|增长|下降|提高|减少)?"
    rf"(?:{QUANTITY.pattern}"
    r"|[一二三四五六七八九十两]+(?:分之[一二三四五六七八九十]+|成)"
    r"|[一二三四五六七八九十两百千]+(?:万|亿)元"
    r"|第?[一二三四五六七八九十两]+(?:类|级|次|项|家|座|所|条|种|批)"
    r"|A{2,5}级)"  # a grade as letters (AAAA级 = 4A级)
    r"(?:以上|左右|以内|以下|余|多)?"
)
#: A point in the calendar that :data:`FIGURE` also matches (2023年, 4月, 16日): no amount.
_CALENDAR_POINT = re.compile(r"(?:19|20)\d\d年|\d{1,2}[月日]")


def figures(text: str) -> list[re.Match]:
    """The :data:`FIGURE` matches of ``text`` that are amounts, not a year, month or day
    (2023年 and 4月 answer no 多少)."""
    return [m for m in FIGURE.finditer(text) if not _CALENDAR_POINT.fullmatch(m.group(0))]


DATE = re.compile(
    r"\d{4}年\d{1,2}月(?:\d{1,2}日)?|\d{1,2}月\d{1,2}日|\d{1,2}月(?:底|份|中旬|上旬|下旬)?前?"
    r"|年内|年底前?|年初|上半年|下半年|一季度|二季度|三季度|四季度"
)

_FIGURE_KINDS = (
    ("other", re.compile(r"A级$")),  # a grade (4A级 景区) counts nothing
    ("percent", re.compile(rf"{_PERCENT}|个百分点|分之|成$")),
    ("money", re.compile(rf"(?:{_MONEY_UNITS})(?:以上|左右|以内|以下|余|多)?$")),
    ("area", re.compile(rf"(?:{_AREA_UNITS})(?:以上|左右|以内|以下|余|多)?$")),
    ("count", re.compile(rf"(?:{_COUNT_UNITS}|类|种|批|级)(?:以上|左右|以内|以下|余|多)?$")),
)


def figure_kind(figure: str) -> str:
    """``percent``, ``money``, ``area``, ``count`` or ``other`` (tons, days, times…)."""
    for kind, pattern in _FIGURE_KINDS:
        if pattern.search(figure):
            return kind
    return "other"


# -- what a question asks for -------------------------------------------------------------

#: Units of measure a question may ask in (多少微克每立方米, 多少千瓦, 多少年).
_MEASURE_UNITS = (
    "微克|毫克|克|公斤|千克|吨|立方米|平方米|平方公里|公顷|亩|公里|千米|米|千瓦时|千瓦|兆瓦|度|小时|分钟|天|岁|年"
)
#: 几 asking how many: not 哪几 (which), 这几/近几/前几 (these, the last few), 十几 (a dozen or so).
_HOW_MANY_JI = r"(?<![哪这那前后好十几近])几"
#: Things counted in money: 多少税 asks an amount, not a number of things.
_MONEY_NOUNS = "税收|税|费|资金|经费|收入|营收|收益|投资|利润|产值|贷款|存款|债务|融资|支出|补贴|补助|奖励|利|销售额|营业额|成本|工资"
#: Words between a noun and the 多少 that asks how much of it (收入完成了多少, 总额是多少).
_COPULAS = "是|有|为|达到|达|完成了?|实现了?|一共|总共|共|大概|大约|约"
#: The kinds of answer a question can ask for, each recognised by Chinese and English cues.
_ASKS: dict[str, re.Pattern] = {
    "percent": re.compile(
        r"增速|增幅|增长率|增长的?目标|百分之?|比例|比重|占比|占多少|占了?几成|几成|多大(?:份|比例)|率[是为多有]"
        # 增加了多少 asks a rate; 增加多少绿地, an amount of something
        r"|(?:增长|下降|提高|降低|增加)(?:了)?多少(?=个百分点|[了呢吗啊呀吧的啦嘞咧哇？?。，,！!\s]|$)"
        r"|\b(?:percent|percentage|rate|share|growth)\b",
        re.IGNORECASE,
    ),
    "money": re.compile(
        # 多少万 is money, 多少万人 a count and 多少万亩 an area
        rf"多少钱|几多钱|多少元|多少(?:万|亿)(?!{_COUNT_UNITS}|{_MEASURE_UNITS})|多少(?:{_MONEY_NOUNS})"
        # 多少民间投资: a phrase ending in a money noun
        rf"|多少[\u4e00-\u9fff]{{1,4}}?(?:{_MONEY_NOUNS})(?![\u4e00-\u9fff])|金额|资金|投资额|总投资|投了多少|花了?多少"
        # 进出口总额是多少, 旅游收入有多少: a money noun, then how much of it
        rf"|(?:{_MONEY_NOUNS}|总值|(?<!份)额)(?:{_COPULAS})*(?:多少|几多)(?!万|亿|个百分点|{_COUNT_UNITS}|{_MEASURE_UNITS})"
        r"|\bhow much\b|\byuan\b|\bmoney\b|\bcost",
        re.IGNORECASE,
    ),
    "count": re.compile(
        rf"多少(?:万|亿)?(?:{_COUNT_UNITS})|{_HOW_MANY_JI}(?:{_COUNT_UNITS}|类|种|级)|\bhow many\b|\bnumber of\b",
        re.IGNORECASE,
    ),
    # 多少 before a noun that is no money or measure asks how much of it there is: a count
    # (多少企业) or a measure (多少违章建筑 → 9.6万平方米, 多少绿地 → 18万平米), not money
    # or a share.
    "amount": re.compile(
        rf"多少(?=[\u4e00-\u9fff])(?!钱|元|万|亿|个百分点|了|呢|吗|啊|呀|吧|的|啦|嘞|咧|哇"
        rf"|{_MONEY_NOUNS}|{_MEASURE_UNITS}|{_COUNT_UNITS})"
    ),
    # 多大 asks how big a thing is (规模有多大), an area only with 面积 or an area unit.
    "area": re.compile(r"面积|多少(?:万|亿)?(?:平方米|平米|亩|公顷|公里)|\barea\b", re.IGNORECASE),
    "figure": re.compile(
        rf"多少|几多|多高|多快|多长|多大|总额|总量|规模|数量|{_HOW_MANY_JI}(?![乎])"
        r"|\bhow (?:much|many|high|fast|big|large)\b|\bvalue\b|\btotal\b",
        re.IGNORECASE,
    ),
    "date": re.compile(
        r"什么时候|何时|哪天|哪一天|几月|哪年|哪一年|日期|几号|多久|啥时候|\bwhen\b|\bwhat date\b|\bwhich day\b|\bwhat year\b",
        re.IGNORECASE,
    ),
    "definition": re.compile(
        r"什么是|是什么|指的是|指什么|是指|意思|含义|是啥|啥是|啥意思|怎么回事|干嘛的|干什么的|做什么的|是干啥|\bmean|\bwhat (?:is|are|does)\b|\bdefin",
        re.IGNORECASE,
    ),
    "list": re.compile(r"哪些|哪几|包括|有什么|有哪|都有|分别|\bwhich\b|\bwhat kinds?\b|\blist\b", re.IGNORECASE),
    "name": re.compile(r"谁|叫什么|名字|哪个(?:单位|部门|会|人)|什么会|\bwho\b|\bname\b", re.IGNORECASE),
    "place": re.compile(r"哪里|哪儿|在哪|什么地方|地址|\bwhere\b", re.IGNORECASE),
    "reason": re.compile(r"为什么|为啥|原因|怎么会|\bwhy\b", re.IGNORECASE),
    "yesno": re.compile(
        r"吗[？?]?$|是不是|有没有|会不会|能不能|让不让|可不可以|^(?:is|are|does|do|did|can|will)\b", re.IGNORECASE
    ),
}
ANSWER_TYPES = tuple(_ASKS)


#: The kinds of figure (:func:`figure_kind`) that answer each kind of figure asked for.
_ANSWERED_BY = {
    "percent": {"percent"},
    "money": {"money"},
    "count": {"count"},
    "area": {"area"},
    "amount": {"count", "area", "other"},
}
ASKED_FIGURE_KINDS = frozenset(_ANSWERED_BY)


def asked_types(question: str) -> frozenset[str]:
    """Which kinds of answer ``question`` asks for (possibly several, possibly none)."""
    found = {kind for kind, pattern in _ASKS.items() if pattern.search(question)}
    if (found - {"amount"}) & ASKED_FIGURE_KINDS:
        found.discard("amount")  # 多少面积的房子, 多少民间投资: the kind is named
    if found & ASKED_FIGURE_KINDS:
        found.add("figure")
    return frozenset(found)


def answering_kinds(types: frozenset[str] | set[str]) -> set[str]:
    """The kinds of figure that answer a question asking for ``types`` (empty: any)."""
    return {kind for asked in types if asked in _ANSWERED_BY for kind in _ANSWERED_BY[asked]}


#: 哪几项 asks which ones (a list), not how many: no unit is asked.
_ASKED_UNIT = re.compile(rf"(?:多少|{_HOW_MANY_JI})((?:万|亿)?(?:{_MEASURE_UNITS}|元|{_COUNT_UNITS}))")
_UNIT_ALIASES = {"钱": "元"}
#: Classifiers that fit any count (几个垃圾站 is answered in 座): no unit is asked, and a
#: figure counted in them fits a count of things (多少项 → 100多个事项).
_GENERIC_CLASSIFIERS = {"个", "次"}
#: Counters that count the same things: 多少家 is answered in 户, 多少名 in 人.
_SAME_COUNT = ({"家", "户"}, {"人", "名", "位"}, {"件", "起"}, {"座", "处"})
#: Counters of people and households: a figure in 个 does not answer them.
_PEOPLE_COUNTERS = {"人", "名", "位", "户", "家"}


def asked_unit(question: str) -> str | None:
    """The unit a question names after 多少/几 (``多少人`` → 人), if any."""
    m = _ASKED_UNIT.search(question)
    if not m:
        return None
    unit = m.group(1).lstrip("万亿")  # 多少万人 is answered in 人 (3200人 or 3.2万人)
    return None if unit in _GENERIC_CLASSIFIERS else _UNIT_ALIASES.get(unit, unit)


def unit_fits(unit: str, figure: str) -> bool:
    """Whether ``figure`` (``3140户``) is given in the asked ``unit`` (家), an equivalent
    counter, or a classifier that fits any count."""
    tail = figure.rstrip("余多以上左右")
    units = next((group for group in _SAME_COUNT if unit in group), {unit})
    return any(u in tail for u in units) or (
        unit in _COUNT_UNITS.split("|")
        and unit not in _PEOPLE_COUNTERS
        and any(tail.endswith(g) for g in _GENERIC_CLASSIFIERS)
    )


#: What follows 多少/几 and a unit, a demonstrative (这类, 那种) left out; not 几成 (a share).
_ASKED_OBJECT = re.compile(
    rf"(?:多少|{_HOW_MANY_JI}(?!成))(?:(?:万|亿)?(?:{_COUNT_UNITS}|{_MEASURE_UNITS}|元))?+(?:[这那](?:类|种|些|样的?)?)?"
    r"([\u4e00-\u9fff]{2,12})"
)


#: A token that only asks how many (几条, 多少个): no topic.
ASK_WORD = re.compile(rf"^(?:哪|几|多少)+(?:{_COUNT_UNITS}|类|种|级)?$")


#: Particles that end a question (停车楼不？, 考上了吗): no part of what is asked about.
_TRAILING_PARTICLES = re.compile(r"[不吗呢啊呀吧了啦嘞咧哇么]+$")


def asked_object(question: str, words: Callable[[str], Iterable[str]]) -> str | None:
    """What a question counts or measures: the word right after 多少/几 and a unit
    (几所大学 → 大学), ``words`` splitting the text after them; after a modifier ending in
    的, the whole phrase that follows it (几处没人负责的废弃露天矿山 → 废弃露天矿山), which
    a report may word differently (露天矿山)."""
    m = _ASKED_OBJECT.search(question)
    if not m:
        return None
    first = next(iter(words(m.group(1))), None)
    if first and asked_types(first):  # 多少比例, 多少面积的房子: a kind of figure, not a thing
        return None
    _, modified, head = m.group(1).rpartition("的")
    head = _TRAILING_PARTICLES.sub("", head)
    return head if modified and len(head) >= 2 else first


#: A question about a rate per person, household, month… wants that rate, not a total.
PER_UNIT = re.compile(r"人均|每人|每户|每月|每年|每天|每平|一平米|每平方米|每个|\bper\b|\beach\b", re.IGNORECASE)
_REASON_MARKERS = re.compile(r"因为|由于|为了|原因|导致|造成|所以|因此|以便")


def is_reason(sentence: str) -> bool:
    """Whether a sentence gives a reason (因为, 由于, 为了…)."""
    return bool(_REASON_MARKERS.search(sentence))


#: Offices and bodies that answer "who": the speaker's title, the body that printed it.
OFFICE = re.compile(r"区长|市长|县长|省长|镇长|乡长|书记|主任|局长|主席|总理|秘书处|委员会|人民政府|办公室")

#: A word that names a place: a name ending in an administrative suffix (安阳市, 柏庄镇)…
_PLACE_WORD = re.compile(r"^[\u4e00-\u9fff]{1,4}(?:省|市|县|区|镇|乡)$")
#: …unless it ends in a common noun that only looks like one (小区, 全市, 超市).
_NOT_A_PLACE = re.compile(
    r"(?:小|社|园|景|片|辖|城|新|山|街|专|校|厂|老|全|本|各|城|都|超|夜|股|楼|集|门)[区市县镇乡]$"
)


def is_place(word: str) -> bool:
    """Whether a word names a place (安阳市, 北关区, 柏庄镇), not 小区 or 全市."""
    return bool(_PLACE_WORD.match(word)) and not _NOT_A_PLACE.search(word) and len(word) >= 3


# -- time --------------------------------------------------------------------------------

#: Relative year words and their offset from the report's own year.
RELATIVE_YEARS = {
    "今年": 0,
    "本年": 0,
    "当年": 0,
    "去年": -1,
    "上年": -1,
    "上一年": -1,
    "前年": -2,
    "明年": 1,
    "后年": 2,
    "this year": 0,
    "last year": -1,
    "next year": 1,
}
#: Words that pick a period without naming a topic.
TIME_WORDS = frozenset([*RELATIVE_YEARS, "年内", "今后", "过去一年", "年底", "年初"])
_FULL_YEAR = re.compile(r"(?<!\d)(19\d\d|20\d\d)(?!\d)")
#: A year in Chinese numerals (二〇二四年), as headings write it.
_CHINESE_YEAR = re.compile(r"([一二][〇零○九][〇零○一二三四五六七八九]{2})年")
_CHINESE_DIGITS = {c: i for i, c in enumerate("〇一二三四五六七八九")} | {"零": 0, "○": 0}


def chinese_number(text: str) -> int:
    """``2025``, ``二〇二五`` → 2025; ``十四`` → 14, ``二十一`` → 21 (ValueError otherwise)."""
    if text.isdigit():
        return int(text)
    try:
        if "十" in text:
            tens, _, ones = text.partition("十")
            return (_CHINESE_DIGITS[tens] if tens else 1) * 10 + (_CHINESE_DIGITS[ones] if ones else 0)
        return int("".join(str(_CHINESE_DIGITS[c]) for c in text))
    except KeyError:
        raise ValueError(f"not a number: {text!r}") from None


_SHORT_YEAR = re.compile(r"(?<![\d.])([0-3]\d)年")
_RELATIVE = re.compile("|".join(sorted(map(re.escape, RELATIVE_YEARS), key=len, reverse=True)), re.IGNORECASE)
_PLAN = re.compile(
    # 争取达到 aims; 争取到了 (obtained) tells what was done
    r"目标|计划|打算|准备|力争|争取(?![到了])|冲到|冲刺|想(?:要|达到|做到|实现|突破|冲)|将要|定的|定了|预计|预期"
    r"|要求|安排|部署|(?<!year )\bplan|\btarget|\bgoal|\baim",
    re.IGNORECASE,
)


def years_named(question: str, report_year: int | None) -> set[int]:
    """Calendar years a question points at: ``2019``, ``19年``, and 今年/去年… resolved
    against the report's own year (unresolved without one)."""
    years = {int(y) for y in _FULL_YEAR.findall(question)}
    years |= {chinese_number(y) for y in _CHINESE_YEAR.findall(question)}
    years |= {2000 + int(y) for y in _SHORT_YEAR.findall(question)}
    if report_year is not None:
        years |= {report_year + RELATIVE_YEARS[m.group(0).lower()] for m in _RELATIVE.finditer(question)}
    return years


#: A five-year plan by its number (“十四五”): the 6th (1981–1985) and every one after
#: it follow on, five years each.
_FIVE_YEAR_PLAN = re.compile(r"十([一二三四五六七八九]?)五[”\"]?(?:规划|计划|时期|期间|末|以来|初|经济社会|发展|的)")
#: A target year: 到2025年, 2025年前, 2025年底.
_TARGET_YEAR = re.compile(r"(?:到|至)((?:19|20)\d\d)年|((?:19|20)\d\d)年(?:前|底前|以前)")


def five_year_plans(text: str) -> set[int]:
    """The years of the five-year plans ``text`` names (十三五时期 → 2016 … 2020)."""
    years: set[int] = set()
    for m in _FIVE_YEAR_PLAN.finditer(text):
        number = 10 + chinese_number(m.group(1)) if m.group(1) else 10
        start = 1981 + 5 * (number - 6)
        years |= set(range(start, start + 5))
    return years


def spoken_years(text: str, headings: list[str], report_year: int | None) -> set[int]:
    """The years a report speaks of: its own and the one it reviews, the years and
    five-year plans its headings name (“十三五”时期和2020年工作回顾; 过去五年: the five
    years before its own), and the years its targets run to (到2025年). A plan merely
    mentioned in the text (“十三五”收官之年) is no period the report gives figures for."""
    years = {report_year, report_year - 1} if report_year else set()
    for heading in headings:
        years |= years_named(heading, None) | five_year_plans(heading)
        if report_year and re.search(r"过去五年|五年来|五年工作", heading):
            years |= set(range(report_year - 5, report_year))
    years |= {int(a or b) for a, b in _TARGET_YEAR.findall(text)}
    return years


def absolute_years(question: str, report_year: int | None) -> str:
    """The question with 今年/去年… written as the years they are for a report of
    ``report_year`` (今年 → 2020年), so that it reads the same against any other report."""
    if report_year is None:
        return question
    return _RELATIVE.sub(lambda m: f"{report_year + RELATIVE_YEARS[m.group(0).lower()]}年", question)


def strip_time(question: str) -> str:
    """The question without its year words (for swapping the period of a follow-up)."""
    text = _RELATIVE.sub("", question)
    text = _FULL_YEAR.sub("", text)
    text = _SHORT_YEAR.sub("", text)
    return re.sub(r"^年|(?<=[^\d])年(?=[的底内])", "", text)


def period_cues(question: str, report_year: int | None) -> str | None:
    """Which part of a report a question points to.

    ``review`` (the year before the report's: its results), ``plan`` (targets and
    work for the report's year), ``this_year`` (the report's year without a target
    word: its plans or what happened so far), or None (no period, or contradicting ones).
    """
    years = years_named(question, report_year)
    plan = bool(_PLAN.search(question))
    if report_year is None:
        return "plan" if plan else None
    review = report_year - 1 in years
    this_year = report_year in years
    if review and not (plan or this_year):
        return "review"
    if plan and not review:
        return "plan"
    if this_year and not review:
        return "this_year"
    return None


def strip_plan(question: str) -> str:
    """The question without its target words (目标, 计划…): asks for the result instead."""
    return _PLAN.sub("", question)


_ASK_TAIL = re.compile(
    r"(?:是|有|为|达到|达|完成了?|增长了?|要|能)?(?:多少\w{0,2}|几多|几\w?|什么|啥|哪些|哪几\w?|哪个|哪里|哪儿|怎么样|如何|吗)[？?。\s]*$"
)


def strip_ask(question: str) -> str:
    """The question without its closing ask (是多少, 有哪些, 是什么…): its topic."""
    return _ASK_TAIL.sub("", question)


#: The parts of a report (see ``Chunk.period``) that each question period points to.
PREFERRED_PERIODS = {"review": {"review"}, "plan": {"plan"}, "this_year": {"plan", "current"}}


#: A question that asks for the same figure in several years or reports (两年…各是多少).
COMPARISON = re.compile(
    r"各是|分别是|分别为|各为|各多少|各自|两年|三年|几年来?的|历年|逐年|每年分别|对比|比较|相比|哪年更|"
    r"\bcompare|\beach year|\bboth years|\bin each\b|\bversus\b|\bvs\.?\b",
    re.IGNORECASE,
)


def asks_comparison(question: str) -> bool:
    """Whether a question asks for the same thing in several years or reports."""
    return bool(COMPARISON.search(question))


#: A sentence speaking of several years together (五年共…, 累计, "十三五"期间, 年均): its
#: figure is no one year's.
_SPAN_WORDS = r"五年|十[一二三四五]五|年均|历年|以来"
MULTI_YEAR = re.compile(rf"{_SPAN_WORDS}|(?<!全年)累计")
#: A question asking for a total over several years (这几年一共…), not one year's figure.
_ASKS_SPAN = re.compile(rf"{_SPAN_WORDS}|累计|这几年|这些年|多年|一共|总共")


def asks_span(question: str) -> bool:
    """Whether a question asks for a figure over several years (这五年一共…)."""
    return bool(_ASKS_SPAN.search(question))


#: Where a sentence breaks into clauses (each a figure and what it is of, as reports
#: list them: 新增就业5650人，登记失业率3.9%；…).
CLAUSE = re.compile(r"[^，；。：,;:！？!?]+")


def asks_plan(question: str) -> bool:
    """Whether a question asks for a target or plan rather than a result."""
    return bool(_PLAN.search(question))


#: Headings of the part of a report that reviews the past year (回顾, 总结).
REVIEW_PART = re.compile(r"回顾|总结|过去一年")
#: Within the review, a passage about the report's own year so far (the months before
#: the report was given: 今年以来, 一季度, 1-5月份).
CURRENT_YEAR_CUES = re.compile(r"今年|新的一年|一季度|[1-6]月份|今年以来")

#: A question about the document itself: who delivered it, at which meeting, when printed.
ABOUT_DOCUMENT = re.compile(
    r"(报告|文件|讲话).{0,8}(谁|哪个会|什么会|哪次会|会上|哪天|何时|什么时候|哪一天|印发|日期)"
    r"|(哪个会|什么会|哪次会|会上).{0,6}(报告|讲话)|谁.{0,4}(做|作|印|发|讲)的|(做|作)报告"
    r"|\b(?:who|when)\b.{0,40}\b(?:report|speech)\b|\b(?:report|speech)\b.{0,30}\b(?:delivered|given|presented)\b",
    re.IGNORECASE,
)
