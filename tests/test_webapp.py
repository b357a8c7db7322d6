"""The chat's handlers as plain functions over the chat state: no server needed."""

import pytest

from qa.engine import Engine
from qa.ui.feedback import FeedbackStore
from qa.ui.webapp import (
    answer_api,
    chat_text,
    clear,
    record_feedback,
    render_sources,
    respond,
    retrieve_api,
    retry,
    undo,
)

from .fakes import forced_answerer

pytestmark = pytest.mark.integration


def _final(events):
    """The last (chat, raw, sources, box) a streaming handler yields."""
    return list(events)[-1]


def test_respond_streams_then_keeps_the_conversation(engine):
    events = list(respond(engine, "今年建筑业税收目标是多少", [], [], 3, pause=0))
    assert len(events) > 2  # streamed in steps
    chat, raw, sources, box = events[-1]
    assert [m["role"] for m in chat] == ["user", "assistant"] == [m["role"] for m in raw]
    assert "突破4亿元" in chat[-1]["content"] and box == ""
    assert raw[-1]["citations"] and "正文第12页" in sources and "<mark>" in sources


def test_follow_up_uses_the_conversation(engine):
    chat, raw, _, _ = _final(respond(engine, "今年建筑业税收目标是多少", [], [], 3, pause=0))
    chat, raw, _, _ = _final(respond(engine, "那去年呢", chat, raw, 3, pause=0))
    assert "3.1亿元" in chat[-1]["content"]


def test_user_text_is_shown_as_text(engine):
    chat, _, _, _ = _final(respond(engine, "<img src=x onerror=alert(1)>", [], [], 3, pause=0))
    assert "<img" not in chat[0]["content"] and "&lt;img" in chat[0]["content"]


def test_empty_and_over_long_questions(engine):
    chat, raw, _, box = _final(respond(engine, "   ", [], [], 3, pause=0))
    assert chat == [] and raw == []
    chat, raw, _, _ = _final(respond(engine, "长" * 1001, [], [], 3, pause=0))
    assert "问题太长了" in chat[-1]["content"] and len(raw[0]["content"]) == 1000


def test_retry_answers_the_last_question_again(engine):
    chat, raw, _, _ = _final(respond(engine, "今年建筑业税收目标是多少", [], [], 3, pause=0))
    chat[-1] = {"role": "assistant", "content": "stale"}  # what retry must replace
    new_chat, new_raw, _, _ = _final(retry(engine, chat, raw, 3, pause=0))
    assert len(new_chat) == 2 and len(new_raw) == 2
    assert "stale" not in new_chat[-1]["content"] and "突破4亿元" in new_chat[-1]["content"]


def test_undo_puts_the_question_back(engine):
    chat, raw, _, _ = _final(respond(engine, "今年建筑业税收目标是多少", [], [], 3, pause=0))
    assert undo(chat, raw) == ([], [], "今年建筑业税收目标是多少")
    assert undo([], []) == ([], [], "")


def test_clear_empties_everything(engine):
    chat, raw, sources, box = clear(engine)
    assert chat == [] and raw == [] and box == "" and "提问后" in sources


def test_feedback_is_stored_for_the_liked_answer(engine, tmp_path):
    store = FeedbackStore(tmp_path / "feedback.sqlite3")
    _, raw, _, _ = _final(respond(engine, "今年建筑业税收目标是多少", [], [], 3, pause=0))
    assert record_feedback(store, 1, "like", raw)
    [record] = store.all()
    assert record.question == "今年建筑业税收目标是多少" and record.liked is True
    assert not record_feedback(None, 1, True, raw)
    assert not record_feedback(store, 0, True, [])


def test_the_three_kinds_of_reply_look_different(engine):
    sure = engine.answer("今年建筑业税收目标是多少")
    tentative = forced_answerer(engine, 1.01, 0.0).answer("今年建筑业税收目标是多少")
    nothing = forced_answerer(engine, 1.01, 1.01).answer("今年建筑业税收目标是多少")
    texts = [chat_text(a) for a in (sure, tentative, nothing)]
    assert texts[0].startswith("**") and texts[1].startswith("⚠️") and texts[2].startswith("❔")
    panel = render_sources(tentative, [], engine)
    assert "最接近的原文" in panel and "class='tentative'" in panel and "引用" not in panel
    assert "引用" in render_sources(sure, [], engine)


def test_api_functions(engine):
    result = answer_api(engine, "今年建筑业税收目标是多少", None, 2)
    assert result["kind"] == "confident" and len(result["related"]) == 2
    assert answer_api(engine, "", None, 3)["error"] == "question is empty"
    assert "k must be" in answer_api(engine, "问", None, "3")["error"]
    assert len(retrieve_api(engine, "今年建筑业税收目标是多少", 7)) == 7


def test_a_broken_index_gets_a_message_in_the_chat(settings, index_copy, tmp_path):
    (next(index_copy.glob("build-*")) / "chunks.json").write_text("garbage")
    broken = Engine(settings.with_(index_dir=index_copy))
    chat, _, _, _ = _final(respond(broken, "今年建筑业税收目标是多少", [], [], 3, pause=0))
    assert "索引已损坏" in chat[-1]["content"] and "qa-index build" in chat[-1]["content"]
    with pytest.raises(Exception, match="qa-index build"):
        retrieve_api(broken, "今年建筑业税收目标是多少", 3)
