"""Extractive, cited answers: quote the report's own sentence that answers the question.

No language model: the retrieved passages are split into sentences, each sentence is
scored against the question (shared words weighted by rarity, the kind of thing asked
for — a figure, a date, a list, a definition — and the passage's retrieval rank), and
the best one is quoted verbatim with a ``[n]`` marker pointing at its passage. The key
figure is repeated in bold above the quote, so the quote itself stays exactly the
report's words.

When the report does not hold the answer (the question's key words are missing, it
asks for a figure no candidate sentence has, or for a year the report does not cover)
the answer says so and lists the nearest passages as possibly related.

Follow-ups: an elliptical question ("那去年呢", "那六保呢") is completed from the
previous user turn; a question that stands on its own is used as it is.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from .chunking import split_sentences
from .lexical import QUERY_SYNONYMS, TIME_WORDS, normalize_query_text
from .retrieval import Passage, Retriever, clean_text_input, question_period, validate_question

__all__ = ["Answer", "Answerer", "resolve_followup", "validate_history"]

#: Passages considered for the quoted sentence.
CANDIDATE_PASSAGES = 4
#: A passage sharing less than this (rarity-weighted) share of the question's words...
MIN_COVERAGE = 0.35
#: ...answers only if its dense similarity stands out this many standard deviations
#: above the report's average passage (measured for the default e5 model).
MIN_DENSE_Z = 2.5
RELATED_PASSAGES = 3

_FIGURE = re.compile(
    r"(?:突破|超过|超|达到|达|约|近|累计|完成)?"
    r"(?:\d+(?:\.\d+)?(?:余|多)?(?:万|亿)?"
    r"(?:平方米|万元|亿元|元|%|个百分点|个|家|人|户|项|件|名|亩|天|座|条|套|处|份|所|吨|例|次|级|倍|米)"
    r"|第?[一二三四五六七八九十两]+(?:类|级|次|项|家|座|所|条|种))"
    r"(?:以上|左右|以内|余|多)?"
)
_DATE = re.compile(r"\d+月(?:底|份|中旬|上旬|下旬)?前?|年内|年底|年底前|\d{4}年\d+月\d+日|\d+日")
_ASKS_FIGURE = re.compile(
    r"多少|(?<!哪)几[个家人户项件名所座条套次级类]?|多大|比例|增速|增长|百分|多高|多快|多长|占比|总额|总量|规模"
)
_ASKS_TIME = re.compile(r"什么时候|何时|哪天|哪一天|几月|哪年|时间|日期|多久")
_ASKS_DEFINITION = re.compile(
    r"什么是|是什么|指的是|指什么|意思|含义|是啥|啥是|包括|哪几|哪些|是哪|干嘛|干什么|做什么|内容|具体"
)
#: Units a question asks for ("多少人" wants a figure in 人); generic classifiers
#: (个, 项, 次) are left out: the report counts 垃圾站 in 座 when asked 几个.
_ASKED_UNIT = re.compile(r"多少(人|户|家|元|钱|例|亩|天)|(?<!哪)几(家|人|户|名)")
_UNIT_OF_ASK = {"钱": "元"}
#: Any unit a question names after 多少/几, generic classifiers included (a soft preference).
_ASKED_ANY_UNIT = re.compile(r"(?:多少|(?<!哪)几)(个|家|人|户|项|件|名|所|座|条|次|类|级|亩|天|套|处|元|例)")
_YEAR_WORDS = {"明年": 2021, "后年": 2022, "前年": 2018, "去年": 2019, "今年": 2020}
_REPORT_YEARS = {2019, 2020}

_FOLLOWUP_PREFIX = re.compile(r"^(那么?|那个|还有|另外|再问一下|那请问)")
_FOLLOWUP_SUFFIX = re.compile(r"(呢|的呢|吗|呀|啊)?[？?。!！\s]*$")
_TIME_WORD = re.compile(r"今年|去年|明年|前年|后年|20\d\d年?")
_PLAN_WORDS = re.compile(r"目标|计划|打算|准备|定的|定了")


@dataclass(frozen=True)
class Answer:
    """What the chat shows (Markdown), whether the report answers, and the sources.

    ``citations[i]`` is the passage that ``[i+1]`` in ``text`` points to. ``question``
    is the question actually answered (a follow-up completed from the history).
    """

    text: str
    found: bool
    citations: list[Passage] = field(default_factory=list)
    question: str = ""
    quote: str = ""
    key: str = ""


def validate_history(history) -> list[dict]:
    """Gradio messages format: a list of {"role": ..., "content": ...} dicts."""
    if history is None:
        return []
    if not isinstance(history, (list, tuple)):
        raise ValueError(f"history must be a list of messages, not {type(history).__name__}")
    out = []
    for i, message in enumerate(history):
        if not isinstance(message, dict) or "role" not in message or "content" not in message:
            raise ValueError(f"history[{i}] must be a dict with 'role' and 'content'")
        if message["role"] not in ("user", "assistant", "system"):
            raise ValueError(f"history[{i}] has unknown role {message['role']!r}")
        out.append({"role": message["role"], "content": clean_text_input(_content_text(message["content"], i))})
    return out


def _content_text(content, i: int) -> str:
    """Text of a message's content: a string, or Gradio's list of content parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        content = [content]
    if isinstance(content, (list, tuple)):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict):
                text = part.get("text", "")
                parts.append(text if isinstance(text, str) else "")
            else:
                raise ValueError(f"history[{i}] has content of unsupported type {type(part).__name__}")
        return "".join(parts)
    raise ValueError(f"history[{i}] has content of unsupported type {type(content).__name__}")


def _topic_of_followup(question: str) -> str | None:
    """The new topic of an elliptical follow-up ("那去年呢" → "去年"), else None."""
    q = question.strip()
    core = _FOLLOWUP_SUFFIX.sub("", _FOLLOWUP_PREFIX.sub("", q)).strip("，,、 ")
    elliptical = bool(_FOLLOWUP_PREFIX.match(q)) or re.search(r"呢[？?]?$", q)
    if not elliptical or not core or len(core) > 10 or len(q) > 16:
        return None
    return core


def resolve_followup(question: str, history: list[dict], glossary_terms: list[str] = ()) -> str:
    """Complete an elliptical question from the previous user question."""
    topic = _topic_of_followup(question)
    last = next(
        (i for i in range(len(history) - 1, -1, -1) if history[i]["role"] == "user" and history[i]["content"].strip()),
        None,
    )
    if topic is None or last is None:
        return question
    # The previous question may itself have been a follow-up ("那去年呢" after "那前年呢").
    previous = resolve_followup(history[last]["content"], history[:last], glossary_terms)
    if _TIME_WORD.fullmatch(topic):
        base = _TIME_WORD.sub("", previous)
        if topic in ("去年", "前年") or topic.startswith("2019"):
            base = _PLAN_WORDS.sub("", base)
        return topic + base
    for term in glossary_terms:
        if term in previous:
            return previous.replace(term, topic, 1)
    return f"{topic} {previous}"


def _figures(sentence: str) -> list[re.Match]:
    return list(_FIGURE.finditer(sentence))


class Answerer:
    """Answers questions from a :class:`Retriever`'s passages."""

    def __init__(self, retriever: Retriever):
        self.retriever = retriever
        self.analyzer = retriever.analyzer
        bm25 = retriever.index.bm25
        n_docs = len(retriever.index.chunks)
        df = np.diff(np.asarray(bm25.scores["indptr"]))
        # bm25s keeps document frequencies as the column lengths of its sparse matrix
        # (its vocabulary may carry one extra, empty entry past the matrix).
        self._idf = {tok: math.log(1 + n_docs / (1 + df[i])) for tok, i in bm25.vocab_dict.items() if i < len(df)}
        self._max_idf = math.log(1 + n_docs)
        #: A word in at most ~3 passages names a specific thing (a project, a place).
        self._specific_idf = math.log(1 + n_docs / 4)
        self._glossary_terms = retriever.glossary_terms

    def content_tokens(self, query: str) -> list[str]:
        """The question's topic words (time words and question words removed)."""
        return [t for t in dict.fromkeys(self.analyzer.tokens(query)) if t not in TIME_WORDS]

    def _weight(self, token: str) -> float:
        return self._idf.get(token, self._max_idf)

    def _coverage(self, tokens: list[str], text: str) -> float:
        """Rarity-weighted share of ``tokens`` found in ``text``.

        A token counts if it, or the report's wording for it (``QUERY_SYNONYMS``), occurs;
        a word that does not occur earns the share of its characters that do, so that a
        colloquial verb (``新盖`` for ``新建``) is not all-or-nothing.
        """
        total = got = 0.0
        for t in tokens:
            w = self._weight(t)
            total += w
            if t in text or any(s in text for s in QUERY_SYNONYMS.get(t, ())):
                got += w
            elif len(t) > 1:
                got += w * 0.5 * sum(ch in text for ch in t) / len(t)
        return got / total if total else 0.0

    def answer(self, question: str, history: list[dict] | None = None) -> Answer:
        question = validate_question(question)
        turns = validate_history(history)
        resolved = resolve_followup(question, turns, self._glossary_terms)
        passages = self.retriever.search(resolved, k=max(CANDIDATE_PASSAGES, RELATED_PASSAGES))
        query = normalize_query_text(resolved)
        tokens = self.content_tokens(query)
        best = self._best_sentence(query, tokens, passages[:CANDIDATE_PASSAGES])
        if best is None or self.decline_reason(query, tokens, *best):
            return self._not_found(resolved, passages)
        sentence, passage, _, coverage = best
        key = self._key_figure(query, tokens, sentence)
        lines = [f"**{key}**", ""] if key else []
        lines.append(f"> {sentence} [1]")
        lines += ["", f"——{passage.section or passage.source}，{passage.citation}"]
        return Answer("\n".join(lines), True, [passage], resolved, sentence, key)

    # -- choosing the sentence -------------------------------------------------------

    def _best_sentence(self, query: str, tokens: list[str], passages: list[Passage]):
        """(sentence, passage, score, coverage) of the best-scoring sentence, or None."""
        if not passages or not tokens:
            return None
        asks_figure = bool(_ASKS_FIGURE.search(query))
        asks_time = bool(_ASKS_TIME.search(query))
        asks_definition = bool(_ASKS_DEFINITION.search(query))
        named_terms = {self.retriever.index.chunks[pos].id for pos in self.retriever.glossary_hits(query)}
        about_report = self.retriever.about_report(query)
        top_score = passages[0].score or 1.0
        best = None
        for passage in passages:
            glossary = passage.entry is not None
            body = passage.text.split("：", 1)[1] if glossary and "：" in passage.text else passage.text
            passage_cov = self._coverage(tokens, f"{passage.section} {passage.text}")
            whole = glossary or passage.kind in ("cover", "closing")
            sentences = [body] if whole else split_sentences(passage.text)
            for i, sentence in enumerate(sentences):
                sentence = sentence.strip()
                if len(sentence) < 4:
                    continue
                if len(sentence) < 14 and i + 1 < len(sentences):  # a topic line: quote what follows too
                    sentence = sentence + sentences[i + 1].strip()
                local = self._coverage(tokens, sentence)
                score = 0.55 * local + 0.45 * passage_cov + 0.35 * (passage.score / top_score)
                if asks_figure and _figures(sentence):
                    score += 0.25 if re.search(r"\d", sentence) else 0.1
                    score += 0.15 * self._figure_fit(query, tokens, sentence)
                if asks_time and _DATE.search(sentence):
                    score += 0.25
                if glossary and passage.chunk_id in named_terms:
                    # The question names this term: its definition is the answer unless a
                    # figure or date is asked for elsewhere.
                    score += 0.6 if asks_definition or not (asks_figure or asks_time) else 0.1
                if about_report and passage.kind in ("cover", "closing"):
                    score += 1.0
                    passage_cov = 1.0  # the title page and imprint answer who / where / when
                if best is None or score > best[2]:
                    best = (sentence, passage, score, passage_cov)
        return best

    def decline_reason(
        self, query: str, tokens: list[str], sentence: str, passage: Passage, score: float, coverage: float
    ) -> str | None:
        """Why the chosen sentence is no answer, or None if it answers.

        The rules are general (calibrated on the development questions, not written for
        any of them): the passage must be about the specific things the question names,
        share enough of its words or be a clearly better semantic match than the rest of
        the report, cover the year asked about, and hold a figure in the asked unit when
        the question asks 多少.
        """
        if passage.kind in ("cover", "closing") and self.retriever.about_report(query):
            return None  # who delivered it, where, when: the title page and imprint say
        specific = [t for t in tokens if self._idf.get(t, 0.0) >= self._specific_idf]
        synonyms = [w for key, words in QUERY_SYNONYMS.items() if key in query.lower() for w in words]
        context = f"{passage.section} {passage.text}"
        if specific and not any(t in context for t in specific + synonyms):
            return "names something else"
        if coverage < MIN_COVERAGE:
            # Few shared words: answer only if the passage shares a specific word with the
            # question and stands out semantically (paraphrases); not for gibberish.
            shares_specific = any(t in context for t in specific + synonyms)
            if not shares_specific or self.retriever.dense_zscore(query, passage.chunk_id) < MIN_DENSE_Z:
                return f"weak match (coverage {coverage:.2f})"
        years = {_YEAR_WORDS[w] for w in _YEAR_WORDS if w in query} | {int(y) for y in re.findall(r"(20\d\d)", query)}
        if any(y not in _REPORT_YEARS and str(y) not in context for y in years):
            return "year"
        if _ASKS_FIGURE.search(query) and not _ASKS_DEFINITION.search(query):
            figures = [m.group(0) for m in _figures(sentence)]
            if not figures and passage.entry is None and "多少" in query:
                return "no figure"
            if figures and passage.entry is None and not self._about_asked_thing(specific, synonyms, sentence, passage):
                return "figure about something else"
            unit = _ASKED_UNIT.search(query)
            if unit and figures:
                wanted = _UNIT_OF_ASK.get(unit.group(1) or unit.group(2), unit.group(1) or unit.group(2))
                if not any(wanted in f for f in figures):
                    return "unit"
        period = question_period(query)
        if period == "plan" and self.retriever.period(passage.chunk_id) == "review" and _PLAN_WORDS.search(query):
            return "period"  # a 2019 result is no answer to "this year's target"
        return None

    @staticmethod
    def _about_asked_thing(specific: list[str], synonyms: list[str], sentence: str, passage: Passage) -> bool:
        """A figure answers only if its sentence names what was asked about, when the
        passage names it at all (``城镇新增就业`` asked, ``可支配收入``'s growth found: no);
        the report's wording for the question's words counts as naming it."""
        named = [w for w in specific if w in passage.text]
        return not named or any(w in sentence for w in named + synonyms)

    def _figure_fit(self, query: str, tokens: list[str], sentence: str) -> float:
        """0..1: how well the sentence's best figure fits the question — a question word
        right before it (``销售收入34.4亿元``) and the unit asked for (``几个`` → 个)."""
        best = 0.0
        unit = _ASKED_ANY_UNIT.search(query)
        for m in _figures(sentence):
            before = sentence[max(0, m.start() - 8) : m.start()]
            fit = 0.6 * any(t in before for t in tokens if len(t) > 1)
            if unit and unit.group(1) in m.group(0):
                fit += 0.4
            best = max(best, fit)
        return best

    def _key_figure(self, query: str, tokens: list[str], sentence: str) -> str:
        """The figure (or date) in ``sentence`` that the question asks for, if any."""
        pattern = _DATE if _ASKS_TIME.search(query) else _FIGURE if _ASKS_FIGURE.search(query) else None
        if pattern is None:
            return ""
        matches = list(pattern.finditer(sentence))
        if not matches:
            return ""
        unit = _ASKED_UNIT.search(query)

        def closeness(m: re.Match) -> float:
            before = sentence[max(0, m.start() - 12) : m.start()]
            score = sum(self._weight(t) for t in tokens if t in before)
            if unit and (unit.group(1) or unit.group(2)) in m.group(0):
                score += 5
            if "%" in m.group(0) and re.search(r"增速|增长|比例|率|百分", query):
                score += 3
            return score - 0.01 * m.start()

        return max(matches, key=closeness).group(0)

    # -- not found -------------------------------------------------------------------

    def _not_found(self, question: str, passages: list[Passage]) -> Answer:
        related = passages[:RELATED_PASSAGES]
        shown = question.strip() if len(question.strip()) <= 40 else question.strip()[:40] + "…"
        shown = re.sub(r"[\\`*_{}\[\]()#+\-!|>~$]", r"\\\g<0>", shown)  # echo it as text, not Markdown
        lines = [f"报告中没有找到“{shown}”的明确答案。"]
        if related:
            lines += ["", "以下段落可能相关："]
            for n, p in enumerate(related, 1):
                snippet = p.text if len(p.text) <= 60 else p.text[:60] + "…"
                lines.append(f"- [{n}] {snippet}（{p.citation}）")
        return Answer("\n".join(lines), False, related, question)
