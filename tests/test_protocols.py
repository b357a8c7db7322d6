"""The protocols people's tools speak, on the running app: OpenAI's chat API (with the
official ``openai`` client), MCP (with the official ``mcp`` client), and corpus changes
that only an operator may make."""

from __future__ import annotations

import asyncio
import shutil

import httpx

import pytest

from .conftest import running_app

pytestmark = pytest.mark.integration

KEY, TOKEN = "test-api-key", "test-admin-token"
QUESTION = "今年建筑业税收目标是多少"


@pytest.fixture(scope="module")
def app(tmp_path_factory, built_index):
    """The app with an API key and an admin token, on its own copy of the index."""
    data = tmp_path_factory.mktemp("protocols")
    index = data / "index"
    shutil.copytree(built_index, index)
    env = {"QA_INDEX_DIR": str(index), "QA_API_KEY": KEY, "QA_ADMIN_TOKEN": TOKEN}
    with running_app(data, env=env) as (url, _):
        yield url


@pytest.fixture(scope="module")
def openai_client(app):
    from openai import OpenAI

    return OpenAI(base_url=f"{app}v1", api_key=KEY, max_retries=0)


def test_the_openai_client_gets_the_cited_answer(openai_client):
    assert [m.id for m in openai_client.models.list()] == ["report-qa"]
    reply = openai_client.chat.completions.create(model="report-qa", messages=[{"role": "user", "content": QUESTION}])
    text = reply.choices[0].message.content
    assert "突破4亿元" in text and "第12页" in text and "[1]" in text
    citations = reply.model_extra["citations"]
    assert citations[0]["page"] == 12 and "突破4亿元" in citations[0]["text"]
    assert reply.model_extra["answer"]["kind"] == "confident"


def test_a_streamed_answer_arrives_in_several_chunks(openai_client):
    stream = openai_client.chat.completions.create(
        model="report-qa", messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    pieces = [c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content]
    assert len(pieces) >= 3 and "突破4亿元" in "".join(pieces)


def test_a_follow_up_is_carried_by_the_messages(openai_client):
    first = openai_client.chat.completions.create(model="report-qa", messages=[{"role": "user", "content": QUESTION}])
    messages = [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": first.choices[0].message.content},
        {"role": "user", "content": "那去年呢"},
    ]
    reply = openai_client.chat.completions.create(model="report-qa", messages=messages)
    assert "3.1亿元" in reply.choices[0].message.content


def test_the_api_key_is_required(app):
    import openai

    stranger = openai.OpenAI(base_url=f"{app}v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        stranger.chat.completions.create(model="report-qa", messages=[{"role": "user", "content": QUESTION}])
    with pytest.raises(openai.BadRequestError):
        openai.OpenAI(base_url=f"{app}v1", api_key=KEY, max_retries=0).chat.completions.create(
            model="report-qa", messages=[{"role": "assistant", "content": "no question"}]
        )


async def _mcp(url: str):
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async with (
        streamable_http_client(f"{url}gradio_api/mcp/") as (read, write, _),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        tools = (await session.list_tools()).tools
        result = await session.call_tool("answer", {"question": QUESTION})
        return tools, result


def test_the_mcp_client_lists_the_tools_and_gets_an_answer(app):
    tools, result = asyncio.run(_mcp(app))
    by_name = {t.name: t for t in tools}
    assert set(by_name) == {"answer", "retrieve", "list_documents"}  # changes are operators' only
    for tool in tools:
        assert tool.description and tool.inputSchema["type"] == "object"
    properties = by_name["answer"].inputSchema["properties"]
    assert {"question", "history", "documents"} <= set(properties) and properties["question"].get("description")
    assert not result.isError and "突破4亿元" in "".join(getattr(c, "text", "") for c in result.content)


def _documents(client) -> list[str]:
    return [d["id"] for d in client.predict(api_name="/list_documents")]


def test_only_the_admin_token_changes_the_corpus(app, second_report):
    from gradio_client import Client, handle_file

    client = Client(app, verbose=False)
    before = _documents(client)
    for token in (None, "", "wrong"):
        with pytest.raises(Exception, match="token"):
            client.predict(handle_file(str(second_report)), None, token, api_name="/add_document")
    assert _documents(client) == before
    added = client.predict(handle_file(str(second_report)), None, TOKEN, api_name="/add_document")
    assert added["year"] == 2021 and "origin" not in added and _documents(client) == [*before, added["id"]]
    with pytest.raises(Exception, match="token"):
        client.predict(added["id"], "wrong", api_name="/remove_document")
    assert added["id"] in _documents(client)
    gone = client.predict(added["id"], TOKEN, api_name="/remove_document")
    assert gone["id"] == added["id"] and _documents(client) == before


def test_beyond_loopback_without_a_token_changes_are_refused(tmp_path, built_index, second_report):
    from gradio_client import Client, handle_file

    index = tmp_path / "index"
    shutil.copytree(built_index, index)
    with running_app(tmp_path, "--host", "0.0.0.0", env={"QA_INDEX_DIR": str(index)}, drop_env=("QA_ADMIN_TOKEN",)) as (
        url,
        _,
    ):
        client = Client(url, verbose=False)
        before = _documents(client)
        with pytest.raises(Exception, match="QA_ADMIN_TOKEN"):
            client.predict(handle_file(str(second_report)), None, None, api_name="/add_document")
        with pytest.raises(Exception, match="QA_ADMIN_TOKEN"):
            client.predict(before[0], None, api_name="/remove_document")
        assert _documents(client) == before
    assert "Set QA_ADMIN_TOKEN" in (tmp_path / "app.log").read_text()


def test_a_login_guards_the_whole_app(tmp_path, built_index):
    from gradio_client import Client

    index = tmp_path / "index"
    shutil.copytree(built_index, index)
    with running_app(tmp_path, env={"QA_INDEX_DIR": str(index), "QA_AUTH": "reader:s3cret"}) as (url, _):
        with pytest.raises(Exception):  # noqa: B017 - gradio_client raises several kinds here
            Client(url, verbose=False).predict(question=QUESTION, api_name="/answer")
        client = Client(url, auth=("reader", "s3cret"), verbose=False)
        assert client.predict(question=QUESTION, api_name="/answer")["key"] == "突破4亿元"
        document = client.predict(api_name="/list_documents")[0]["id"]
        assert httpx.get(f"{url}page/{document}/12").status_code == 401  # the cited pages too
        with httpx.Client() as browser:
            assert browser.post(f"{url}login", data={"username": "reader", "password": "s3cret"}).status_code == 200
            assert browser.get(f"{url}page/{document}/12").status_code == 200
