"""The OpenAI-compatible API's protocol, on a fake engine (no model): requests, replies,
streaming, errors and the API key. The real app is asked in tests/test_protocols.py."""

from __future__ import annotations

import json

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from qa.answering.answer import Answer
from qa.errors import IndexMissingError, InputError, UnknownDocumentError
from qa.ui.openai_api import MODEL_ID, openai_routes, parse_request


class FakeEngine:
    """Answers with the question it was asked and the history it was given."""

    def __init__(self):
        self.calls = []

    def answer(self, question, history=None, documents=None):
        self.calls.append((question, history, documents))
        if documents == ["nope"]:
            raise UnknownDocumentError("document 'nope' is not in the corpus")
        if question == "broken":
            raise IndexMissingError("no index")
        if len(question) > 50:
            raise InputError("the question is too long")
        text = f"**1亿元**\n\n> 关于{question}的原文。第二句。 [1]\n\n——一、回顾，正文第3页"
        return Answer(
            text=text,
            found=True,
            question=question,
            quote=f"关于{question}的原文。",
            key="1亿元",
            confidence=0.9,
            kind="confident",
            page=3,
            cited="正文第3页",
        )


def client(key: str = "", engine=None) -> tuple[TestClient, FakeEngine]:
    engine = engine or FakeEngine()
    return TestClient(FastAPI(routes=openai_routes(engine, key))), engine


def ask(c: TestClient, messages, **body):
    return c.post("/v1/chat/completions", json={"model": MODEL_ID, "messages": messages, **body})


def test_models_lists_the_one_model():
    c, _ = client()
    data = c.get("/v1/models").json()
    assert [m["id"] for m in data["data"]] == [MODEL_ID] and data["object"] == "list"


def test_a_completion_is_the_cited_answer_with_its_citations_as_data():
    c, engine = client()
    reply = ask(c, [{"role": "system", "content": "be brief"}, {"role": "user", "content": "税收"}]).json()
    assert reply["object"] == "chat.completion" and reply["model"] == MODEL_ID
    choice = reply["choices"][0]
    assert choice["finish_reason"] == "stop" and choice["message"]["role"] == "assistant"
    assert "**1亿元**" in choice["message"]["content"] and "正文第3页" in choice["message"]["content"]
    assert reply["answer"]["kind"] == "confident" and reply["answer"]["page"] == 3
    assert reply["citations"] == [] and reply["usage"]["total_tokens"] > 0
    assert engine.calls == [("税收", None, None)]  # the system message is not a turn


def test_the_conversation_is_carried_by_the_messages_and_documents_by_the_extra_body():
    c, engine = client()
    messages = [
        {"role": "user", "content": "今年税收"},
        {"role": "assistant", "content": "**4亿元**"},
        {"role": "user", "content": [{"type": "text", "text": "那去年呢"}]},
    ]
    assert ask(c, messages, documents=["abc"], temperature=0.2, max_tokens=9).status_code == 200
    question, history, documents = engine.calls[-1]
    assert question == "那去年呢" and documents == ["abc"]
    assert history == [{"role": "user", "content": "今年税收"}, {"role": "assistant", "content": "**4亿元**"}]


def test_a_streamed_reply_comes_in_several_chunks_then_done():
    c, _ = client()
    with c.stream(
        "POST", "/v1/chat/completions", json={"messages": [{"role": "user", "content": "税收"}], "stream": True}
    ) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = [line[6:] for line in r.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(ch["object"] == "chat.completion.chunk" for ch in chunks)
    text = "".join(ch["choices"][0]["delta"].get("content", "") for ch in chunks)
    assert len([ch for ch in chunks if ch["choices"][0]["delta"].get("content")]) >= 3
    assert text == ask(c, [{"role": "user", "content": "税收"}]).json()["choices"][0]["message"]["content"]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop" and "citations" in chunks[-1]


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"messages": []}, 400, "messages"),
        ({"messages": "hi"}, 400, "messages"),
        ({"messages": [{"role": "wizard", "content": "x"}]}, 400, "messages[0]"),
        ({"messages": [{"role": "user", "content": 5}]}, 400, "messages[0]"),
        ({"messages": [{"role": "assistant", "content": "x"}]}, 400, "messages"),
        ({"messages": [{"role": "user", "content": "x"}], "documents": "abc"}, 400, "documents"),
        ({"messages": [{"role": "user", "content": "x"}], "stream": "yes"}, 400, "stream"),
        ({"messages": [{"role": "user", "content": "x"}], "model": "gpt-4o"}, 404, "model"),
        ({"messages": [{"role": "user", "content": "x"}], "documents": ["nope"]}, 400, "documents"),
        ({"messages": [{"role": "user", "content": "长" * 60}]}, 400, "messages"),
        ({"messages": [{"role": "user", "content": "broken"}]}, 503, None),
    ],
)
def test_bad_requests_get_openai_errors(body, status, param):
    c, _ = client()
    r = c.post("/v1/chat/completions", json=body)
    assert r.status_code == status
    error = r.json()["error"]
    assert error["message"] and error["param"] == param and error["type"]


def test_a_body_that_is_not_json_is_a_bad_request():
    c, _ = client()
    r = c.post("/v1/chat/completions", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and "JSON" in r.json()["error"]["message"]


def test_the_api_key_is_required_when_set():
    c, engine = client(key="s3cret")
    messages = [{"role": "user", "content": "税收"}]
    assert c.get("/v1/models").status_code == 401
    missing = ask(c, messages)
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "invalid_api_key"
    wrong = c.post("/v1/chat/completions", json={"messages": messages}, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and not engine.calls
    right = c.post("/v1/chat/completions", json={"messages": messages}, headers={"Authorization": "Bearer s3cret"})
    assert (
        right.status_code == 200 and c.get("/v1/models", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    )


def test_parse_request_reads_the_last_user_message_as_the_question():
    question, history, documents, stream = parse_request(
        {
            "messages": [
                {"role": "user", "content": "a"},
                {"role": "assistant", "content": None},
                {"role": "user", "content": "b"},
            ]
        }
    )
    assert question == "b" and [m["content"] for m in history] == ["a", ""] and documents is None and stream is False
