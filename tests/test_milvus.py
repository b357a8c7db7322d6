"""The Milvus store: embedded (a file URI) and as a real server on a loopback port."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
import urllib.request

import pytest

pytest.importorskip("pymilvus", reason="pip install -e '.[test]' installs pymilvus[milvus-lite]")

from qa.corpus.builder import add_documents, build_index, list_documents, remove_document
from qa.devtools.eval import evaluate, load_questions
from qa.devtools.load import free_port
from qa.engine import Engine
from qa.errors import StoreUnavailableError
from qa.stores.milvus_io import read_meta, row_counts

from .conftest import DEV, running_app

pytestmark = [pytest.mark.milvus, pytest.mark.integration]


def _engine(settings, engine) -> Engine:
    other = Engine(settings)
    other.embedder = engine.embedder  # one model in memory
    return other.load()


@pytest.fixture(scope="module")
def embedded(built_index, settings, engine, tmp_path_factory):
    """Milvus Lite in a file, built from the same documents as the local index."""
    root = tmp_path_factory.mktemp("milvus")
    shutil.copytree(built_index, root / "index")
    local = settings.with_(store="milvus", milvus_uri=str(root / "milvus.db"), index_dir=root / "index")
    build_index(local, engine.embedder, progress=False)
    return local


def test_the_same_answers_as_the_local_store(embedded, engine, settings, tmp_path):
    sample = [q for q in load_questions(DEV) if q["fold"] == 0]
    # Milvus keeps no local copy of what it serves: the local store is built on its own.
    alone = settings.with_(index_dir=tmp_path / "local", store="local")
    build_index(alone, engine.embedder, progress=False, sources=[settings.corpus])
    local = evaluate(sample, Engine(alone).load()).rows["overall"]
    milvus = evaluate(sample, _engine(embedded, engine)).rows["overall"]
    assert abs(local["R@1"] - milvus["R@1"]) <= 0.01 and abs(local["acc"] - milvus["acc"]) <= 0.01
    mine = _engine(embedded, engine)
    for question in ("今年建筑业税收目标是多少", "什么是“六稳”？", "去年城镇新增就业多少人"):
        assert [p.chunk_id for p in mine.retrieve(question, 5)] == [p.chunk_id for p in engine.retrieve(question, 5)]
        assert mine.answer(question).text == engine.answer(question).text


def test_add_filter_list_and_remove(embedded, engine, second_report, tmp_path):
    store = embedded.with_(milvus_collection="report_qa_changes")
    build_index(store, engine.embedder, progress=False)
    first = read_meta(store)["slots"]
    held = row_counts(store)
    added, errors = add_documents(store, [second_report], engine.embedder, progress=False)
    assert not errors
    listed = list_documents(store)  # read from Milvus, as a serving process does
    assert [d.year for d in listed] == [2020, 2021]
    # Only the new report was uploaded: the first keeps its slot and its rows, once.
    slots = read_meta(store)["slots"]
    assert {d: slots[d] for d in first} == first
    assert row_counts(store) == {**held, slots[added[0].id]: added[0].passages}
    served = _engine(store, engine)
    passages = served.retrieve("生产总值", 5, [added[0].id])
    assert passages and {p.document for p in passages} == {added[0].id}
    assert "突破5亿元" in served.answer("今年建筑业税收目标是多少", documents=[added[0].id]).text
    remove_document(store, added[0].id, engine.embedder)
    assert [d.year for d in list_documents(store)] == [2020]
    assert row_counts(store) == held  # its rows are gone, the others untouched
    build_index(store, engine.embedder, progress=False)  # an unchanged corpus uploads nothing
    assert read_meta(store)["slots"] == first and row_counts(store) == held


def test_a_question_asked_while_another_process_removes_a_report_is_answered(embedded, engine, monkeypatch):
    """Rows deleted between this process's look at the store and its fetch: it loads the
    new index and asks again."""
    import qa.stores.milvus as store

    served = _engine(embedded, engine)
    served.answer("什么是六稳")
    real = store.MilvusIndex.passages
    calls = []

    def gone_once(index, positions):
        calls.append(1)
        if len(calls) == 1:
            raise store.IndexStaleError("the index in Milvus changed meanwhile; ask again")
        return real(index, positions)

    monkeypatch.setattr(store.MilvusIndex, "passages", gone_once)
    monkeypatch.setattr(served, "_manifest_stamp", ("an older build",))  # as if switched meanwhile
    assert served.answer("今年建筑业税收目标是多少").key == "突破4亿元"
    assert len(calls) > 1


def test_the_command_line_checks_and_lists_what_milvus_serves(embedded, monkeypatch, capsys):
    from qa.cli import index_main as main

    monkeypatch.setenv("QA_STORE", "milvus")
    monkeypatch.setenv("QA_MILVUS_URI", embedded.milvus_uri)
    args = ["--index-dir", str(embedded.index_dir)]
    assert main(["check", *args]) == 0 and main(["list", *args]) == 0
    out = capsys.readouterr().out
    assert "index OK: 1 documents, 99 passages" in out and "Milvus at" in out and "北关区2020年政府工作报告" in out


def test_a_serving_process_holds_no_passage_until_asked(embedded, engine):
    served = _engine(embedded, engine)
    index = served.retriever.index
    assert index.passages_held == 0 and not hasattr(index, "chunks")
    served.answer("今年建筑业税收目标是多少")
    assert 0 < index.passages_held < index.passage_count / 2  # the passages found, not the corpus


def test_the_corpus_is_changed_only_where_it_is_kept(embedded, engine, second_report, tmp_path):
    elsewhere = embedded.with_(index_dir=tmp_path / "other-state")
    with pytest.raises(ValueError, match="change it where it was built"):
        add_documents(elsewhere, [second_report], engine.embedder, progress=False)
    assert [d.year for d in list_documents(embedded)] == [2020]


def test_an_unreachable_milvus_is_one_clear_error(settings, tmp_path):
    uri = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError, match=f"Milvus at {uri}"):
        Engine(settings.with_(store="milvus", milvus_uri=uri, index_dir=tmp_path)).load()
    assert time.monotonic() - started < 30


@contextlib.contextmanager
def milvus_server(data_dir):
    """``milvus-lite server`` on a free loopback port, stopped afterwards."""
    port = free_port()
    proc = subprocess.Popen(
        ["milvus-lite", "server", "--data-dir", str(data_dir), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert "listening" in line, line
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _documents(url: str) -> list[dict]:
    from gradio_client import Client

    return Client(url, verbose=False).predict(api_name="/list_documents")


def test_two_apps_share_one_milvus_server(built_index, settings, engine, second_report, tmp_path):
    """Two app processes serve from one server; a report added through one (its upload,
    in a browser) is listed and answered by the other, which has no local index."""
    from gradio_client import Client

    from .fixtures import chromium_path

    if chromium_path() is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    with milvus_server(tmp_path / "milvus-data") as uri:
        batch = settings.with_(store="milvus", milvus_uri=uri, index_dir=tmp_path / "batch-index")
        shutil.copytree(built_index, batch.index_dir)
        build_index(batch, engine.embedder, progress=False)
        env = {"QA_STORE": "milvus", "QA_MILVUS_URI": uri}
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        with (
            # the first app keeps the corpus (the batch job's state); the second has no local index
            running_app(tmp_path / "a", env={**env, "QA_INDEX_DIR": str(batch.index_dir)}) as (url_a, _),
            running_app(tmp_path / "b", env={**env, "QA_INDEX_DIR": str(tmp_path / "b" / "index")}) as (url_b, _),
        ):
            for url in (url_a, url_b):
                result = Client(url, verbose=False).predict(question="今年建筑业税收目标是多少", api_name="/answer")
                assert result["key"] == "突破4亿元" and result["cited"] == "正文第12页"
            assert not (tmp_path / "b" / "index" / "manifest.json").exists()  # nothing local was built
            _upload(url_a, second_report)
            deadline = time.monotonic() + 60  # a serving engine looks for changes once a second
            while len(documents := _documents(url_b)) < 2 and time.monotonic() < deadline:
                time.sleep(0.2)
            assert [d["year"] for d in documents] == [2020, 2021]
            result = Client(url_b, verbose=False).predict(
                question="今年建筑业税收目标是多少", documents=[documents[1]["id"]], api_name="/answer"
            )
            assert "突破5亿元" in result["text"]


def _upload(url: str, path) -> None:
    """Add a report through the app's upload control, as a user would."""
    from playwright.sync_api import sync_playwright

    from .fixtures import chromium_path

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        page.goto(url)
        page.wait_for_selector("#question textarea")
        page.get_by_text("文档：已收录的报告与添加新报告").click()
        page.wait_for_selector("#upload input[type=file]", state="attached")
        page.set_input_files("#upload input[type=file]", str(path))
        page.wait_for_function(
            "(document.querySelector('#upload-status')?.innerText || '').includes('已添加')", timeout=180_000
        )
        browser.close()


def test_the_app_keeps_serving_when_milvus_is_down(tmp_path):
    uri = f"http://127.0.0.1:{free_port()}"
    env = {"QA_STORE": "milvus", "QA_MILVUS_URI": uri, "QA_INDEX_DIR": str(tmp_path / "index")}
    with running_app(tmp_path, "--no-rebuild", env=env) as (url, _):
        from gradio_client import Client

        result = Client(url, verbose=False).predict(question="今年建筑业税收目标是多少", api_name="/answer")
        assert result["found"] is False and result["error"] and "索引" in result["text"]
        assert urllib.request.urlopen(url, timeout=10).status == 200
    assert uri in (tmp_path / "app.log").read_text()


def test_an_approximate_dense_index_is_offered(embedded, engine):
    store = embedded.with_(milvus_collection="report_qa_hnsw", milvus_index="HNSW")
    build_index(store, engine.embedder, progress=False)
    served = _engine(store, engine)
    assert served.retriever.index.dense_index == "HNSW"
    assert served.answer("今年建筑业税收目标是多少").key == "突破4亿元"
    with pytest.raises(ValueError, match="QA_MILVUS_INDEX"):
        build_index(embedded.with_(milvus_collection="report_qa_bad", milvus_index="NOPE"), engine.embedder)
