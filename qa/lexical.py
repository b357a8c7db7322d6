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

log = logging.getLogger(__name__)

__all__ = ["Analyzer", "STOPWORDS", "TIME_WORDS", "report_terms", "to_simplified", "normalize_query_text"]

_PUNCT = re.compile(r"^[\W_]+$")
_FIGURE = re.compile(
    r"\d+(?:\.\d+)?(?:亿元|万元|元|%|万平方米|平方米|万吨|个百分点|个|家|人|户|项|件|名|亩|天|座|条|套|处|份|所|户|年|月|日|次|级)"
)
_QUOTED = re.compile(r"“([^”]{2,12})”")
_LISTED = re.compile(r"(?<=[、，：；。“])([\u4e00-\u9fff]{3,7})(?=、)|(?<=、)([\u4e00-\u9fff]{3,7})(?=[、等，。；])")
#: Words that carry no topic in a question (asked-for quantities, particles).
STOPWORDS = frozenset(
    "的 了 是 在 和 与 及 有 多少 什么 哪些 哪个 哪 几 几个 怎么 怎样 如何 吗 呢 啊 吧 么 这 那 个 一 "
    "要 想 我们 我 你 他 它 些 都 就 也 还 被 把 给 对 为 以 于 从 到 上 下 中 里 该 这个 那个 "
    "指 指的是 意思 啥 具体 一共 共 请问 请 问 能 会 可以 是不是 不是 哪里 哪儿 怎么样 多 少 "
    "哪几 哪几个 哪两 哪三 哪五 哪四 方面 啥意思 干嘛 干什么 多少钱 多少人 现在 第几 几次 几类 几家 几级 几所 "
    "那些 这些 还有 这块 听说 挺 一下 知道 告诉 情况 怎么办 为什么 到底 大概 左右 呀 嘛".split()
)

#: Everyday words and abbreviations → the report's official wording. Questions are
#: asked in everyday language ("社零", "老师", "烂尾楼"); government reports use the
#: formal terms. General to such reports, not to particular questions.
QUERY_SYNONYMS: dict[str, tuple[str, ...]] = {
    "社零": ("社会消费品零售总额",),
    "gdp": ("生产总值",),
    "三产": ("第三产业",),
    "规上": ("规模以上",),
    "固投": ("固定资产投资",),
    "财政收入": ("一般公共预算收入",),
    "税收收入": ("税收",),
    "老师": ("教师",),
    "公司": ("企业",),
    "厂子": ("企业", "工厂"),
    "违章建筑": ("违建",),
    "烂尾楼": ("问题楼盘", "半拉子"),
    "最低生活保障": ("低保",),
    "医务室": ("卫生室",),
    "诊所": ("卫生室",),
    "失业率": ("城镇登记失业率",),
    "垃圾站": ("垃圾中转站",),
    "贫困户": ("贫困群众", "贫困人口"),
    "穷人": ("贫困群众", "贫困人口"),
    "黑恶": ("涉恶", "扫黑除恶"),
    "网上办": ("网上可办",),
    "批下来": ("授权", "批准"),
    "批准": ("授权",),
    "修路": ("道路",),
    "盖房": ("安置房", "房屋"),
    "老旧小区": ("老旧小区改造",),
    "空气": ("空气质量",),
    "污水": ("污水处理",),
    "外资": ("实际利用外资",),
    "招商": ("招商引资",),
    "疫情": ("疫情防控",),
    "新冠": ("新冠肺炎", "疫情"),
    "大学生": ("大学毕业生",),
    "当兵": ("退役军人", "复转军人"),
    "退伍": ("退役军人", "复转军人"),
}

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
        terms.update(m.group(0) for m in _FIGURE.finditer(text))
        terms.update(_QUOTED.findall(text))
        for a, b in _LISTED.findall(text):
            terms.add(a or b)
    return terms


#: Time words: they choose between the review and this year's plans (see
#: ``retrieval.question_period``) rather than name a topic.
TIME_WORDS = frozenset("今年 去年 明年 前年 后年 2019年 2020年 2021年 2019 2020 2021 当年 年内 今后".split())


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
        low = query.lower()
        extra = [w for key, words in QUERY_SYNONYMS.items() if key in low for w in words]
        return self.tokens(" ".join([query, *extra]))

    def tokens(self, text: str) -> list[str]:
        text = text.lower()
        with self._lock:  # jieba's tokenizer caches are not safe for concurrent writers
            words = self._jieba.lcut_for_search(text)
        return [w for w in (w.strip() for w in words) if w and not _PUNCT.match(w) and w not in STOPWORDS]
