"""Follow-up questions: complete a question that leans on the conversation so far.

A question that stands on its own is used as it is, whatever came before. One that
leans on the previous turn is completed from the previous user question (itself
completed first, so a follow-up of a follow-up works):

- a pronoun or demonstrative (它, 这个项目, 该政策, 这里) is replaced by the previous
  question's topic: the glossary term or quoted term it named, else its content words;
- an elliptical question (那前年呢, 那税收呢, 明年呢，要建几个) keeps the
  previous question's intent and changes what it names: a new period replaces the old
  one, a new glossary term the old one, a sibling its counterpart (那农村的呢 after
  城镇居民收入), and anything else is added to the old topic.
"""

from __future__ import annotations

import re

from ..text.vocabulary import (
    STOPWORDS,
    TIME_WORDS,
    asked_types,
    asks_plan,
    siblings,
    strip_ask,
    strip_plan,
    strip_time,
    years_named,
)

__all__ = ["leans_on_history", "resolve_followup"]

_LEAD = re.compile(r"^(?:那么?|那个|还有|另外|再问一下|那请问|请问那|and\b|what about\b|how about\b)\s*", re.IGNORECASE)
_TAIL = re.compile(r"(?:呢|的呢)\s*[？?。!！,，]?\s*", re.IGNORECASE)
_END = re.compile(r"[？?。!！\s]+$")
#: Words that point back at the previous topic.
_POINTERS = re.compile(
    r"(?:这个|那个|该|此|这些|那些|这项|这一|这种|其)(?:项目|政策|说法|活动|工程|工作|措施|行动|机制|制度|概念|提法|词|地方|区域|片区)?"
    r"|它们?|这里|那里|这儿|那儿|\b(?:it|this|that|they|there)\b",
    re.IGNORECASE,
)
_TIME = re.compile("|".join(sorted((re.escape(w) for w in TIME_WORDS), key=len, reverse=True)) + r"|(?:19|20)\d\d年?")
_QUOTED = re.compile(r"[“\"「『]([^”\"」』]{2,20})[”\"」』]")


def leans_on_history(question: str) -> bool:
    """Whether a question cannot stand alone: it opens with 那/还有…, asks …呢, or
    points back with a pronoun or demonstrative."""
    q = question.strip()
    return bool(_LEAD.match(q) or _TAIL.search(q) or _POINTERS.search(q))


def _topic(question: str, glossary_terms: list[str]) -> str:
    """What a (completed) question is about: a glossary term or quoted term it names,
    else the question without its time words and question words."""
    for term in glossary_terms:
        if term in question:
            return term
    quoted = _QUOTED.search(question)
    if quoted:
        return quoted.group(1)
    return _content(question)


def _content(question: str, keep_ask: bool = False) -> str:
    """The question with its lead, tail, pointers and time words (and unless
    ``keep_ask``, its closing ask) removed."""
    text = _POINTERS.sub("", _TAIL.sub("", _LEAD.sub("", question.strip())))
    text = _END.sub("", strip_time(text))
    return (text if keep_ask else strip_ask(text)).strip(" ，,、")


def resolve_followup(
    question: str, history: list[dict], glossary_terms: list[str] = (), report_year: int | None = None
) -> str:
    """``question`` completed from the previous user question in ``history`` (Gradio
    messages), or unchanged when it stands on its own or there is no previous question."""
    last = next(
        (i for i in range(len(history) - 1, -1, -1) if history[i]["role"] == "user" and history[i]["content"].strip()),
        None,
    )
    if last is None or not leans_on_history(question):
        return question
    previous = resolve_followup(history[last]["content"], history[:last], glossary_terms, report_year)
    if _POINTERS.search(question):
        # 它指什么 / 这个政策哪年开始的 / 那里今年要建什么
        return _POINTERS.sub(lambda _: _topic(previous, glossary_terms), question, count=1)
    core = _content(question, keep_ask=True)
    new_years = years_named(question, report_year)
    if new_years:
        base = strip_time(previous)
        if report_year is not None and max(new_years) < report_year and not asks_plan(question):
            base = strip_plan(base)  # 去年呢 after a target: the result, not the target
        if not _has_topic(strip_ask(core)):
            return _time_words(question) + base  # 那前年呢
        if asked_types(core):
            return f"{_time_words(question)}{_topic(base, glossary_terms)} {core}"  # 明年呢，要建几个
        return f"{_time_words(question)}{core} {base}"
    for term in glossary_terms:
        if term in previous and term not in core:
            return previous.replace(term, core, 1)  # 那六保呢 after 六稳指什么
    quoted = _QUOTED.search(previous)
    if quoted and quoted.group(1) not in core:
        return previous.replace(quoted.group(1), core.strip('“”"「」『』'), 1)
    swapped = _swap_sibling(previous, core)
    if swapped:
        return swapped  # 那农村的呢 after 城镇居民收入是多少
    if asked_types(core):
        return f"{_topic(previous, glossary_terms)} {core}"
    return f"{core} {previous}"  # 那税收呢 after 去年收入增长多少


def _swap_sibling(previous: str, core: str) -> str | None:
    """``previous`` with the sibling of a word of ``core`` put in its place (see
    :func:`qa.text.vocabulary.siblings`), when ``core`` is no more than that word (的 and
    the like aside) and ``previous`` names a sibling; else None."""
    known = siblings()
    word = max((w for w in known if w in core), key=len, default=None)
    if word is None or len(re.sub(r"[的之\W_]", "", core.replace(word, ""))) > 0 or word in previous:
        return None
    there = max((w for w in known[word] if w in previous), key=len, default=None)
    return previous.replace(there, word, 1) if there else None


def _has_topic(text: str) -> bool:
    return bool(re.sub(r"[\W_]", "", text)) and re.sub(r"[\W_]", "", text) not in STOPWORDS | TIME_WORDS


def _time_words(question: str) -> str:
    """The time words of a question, in order (今年, 2019年, 去年…)."""
    return "".join(m.group(0) for m in _TIME.finditer(question))
