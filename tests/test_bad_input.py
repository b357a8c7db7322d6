"""Property-based tests: whatever a user types, retrieve() and answer() either answer
or raise the documented TypeError/ValueError, and return within a bounded time."""

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import qa

#: A hang detector, not a speed target: measured calls take ~10-40 ms (see README).
BOUND_SECONDS = 5.0

PAYLOADS = [
    "<script>alert(1)</script>",
    '"><svg onload=alert(1)>',
    "'; DROP TABLE feedback; --",
    "1 OR 1=1",
    "[点我](javascript:alert(1))",
    "\u202e今年目标\u202c",  # right-to-left override
    "今\u200b年\u200d建\ufeff筑业",  # zero-width characters
    "ＧＤＰ增速目标？",  # full-width forms
    "？？？！！！。。。",
    "😀" * 300,
    "\x00\x01\x02今年\x7f",
    "\ud800今年\udfff目标",  # lone surrogates
    "问" * 1000,
    "a" * 999 + "问",
]

questions = st.one_of(
    st.text(min_size=0, max_size=1100),
    st.text(alphabet=st.characters(codec=None), max_size=200),
    st.text(alphabet=st.sampled_from("今年去年目标“”《》<>&\"'\\/;：？！ \t\n\u200b\ufeff😀"), max_size=300),
    st.sampled_from(PAYLOADS),
    st.builds(lambda a, b: a + b, st.sampled_from(PAYLOADS), st.text(max_size=50)),
)

pytestmark = pytest.mark.integration


def _call(fn, question):
    """Call ``fn``: invalid input must raise the documented error, valid input must not raise."""
    invalid = not question.strip() or len(question) > 1000
    start = time.perf_counter()
    if invalid:
        with pytest.raises((TypeError, ValueError)):
            fn(question)
        result = None
    else:
        result = fn(question)
    elapsed = time.perf_counter() - start
    assert elapsed < BOUND_SECONDS, f"{elapsed:.2f} s for {question[:40]!r}"
    return result


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(questions)
def test_retrieve_never_fails_unexpectedly(engine, question):
    result = _call(lambda q: qa.retrieve(q, k=3), question)
    if question.strip() and len(question) <= 1000:
        assert result is not None and len(result) == 3


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(questions)
def test_answer_never_fails_unexpectedly(engine, question):
    result = _call(qa.answer, question)
    if question.strip() and len(question) <= 1000:
        assert result is not None and result.text
        result.text.encode("utf-8")  # displayable: no lone surrogates left


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant"]), "content": st.text(max_size=80)}),
        max_size=6,
    ),
    questions,
)
def test_answer_with_arbitrary_history(engine, history, question):
    _call(lambda q: qa.answer(q, history), question)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payloads(payload):
    if payload.strip():
        assert qa.answer(payload).text
