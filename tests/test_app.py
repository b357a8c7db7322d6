"""The running app: its API through gradio_client, and the page in a real browser."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from .conftest import DEV, running_app
from .fixtures import ask_in_page

#: Screenshots of the browser tests, to look at: QA_TEST_ARTIFACTS, else a folder in the
#: system's temporary directory (never the checkout).
ARTIFACTS = Path(os.environ.get("QA_TEST_ARTIFACTS") or Path(tempfile.gettempdir()) / "qa-test-artifacts")
#: The page is at rest: no event of the app still running (Gradio marks the components it
#: is updating), and every image loaded or failed (so any onerror handler has run).
_IMAGES_SETTLED = """() => !document.querySelector('.generating, .pending, .eta-bar')
  && [...document.images].every(i => i.complete)"""
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def app_data(tmp_path_factory):
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
def app_url(app_data):
    with running_app(app_data) as (url, _):
        yield url


@pytest.fixture(scope="module")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


def test_api_answers_with_citations(client):
    result = client.predict(question="今年建筑业税收目标是多少", k=3, api_name="/answer")
    assert result["found"] is True and result["kind"] == "confident" and result["reason"] == ""
    assert "突破4亿元" in result["text"] and "[1]" in result["text"]
    assert result["quote"].endswith("突破4亿元。") and result["cited"] == "正文第12页"
    assert 0 < result["confidence"] <= 1
    cited = result["citations"][0]
    assert cited["page"] == 12 and cited["citation"] == "正文第12页" and cited["section"]
    assert len(result["related"]) == 3


def test_api_follow_up_takes_the_history(client):
    first = client.predict(question="今年建筑业税收目标是多少", api_name="/answer")
    history = [
        {"role": "user", "content": "今年建筑业税收目标是多少"},
        {"role": "assistant", "content": first["text"]},
    ]
    result = client.predict(question="那去年呢", history=history, api_name="/answer")
    assert "3.1亿元" in result["quote"] and result["question"].startswith("去年")


def test_api_retrieve_returns_passages(client):
    passages = client.predict(question="今年建筑业税收目标是多少", k=4, api_name="/retrieve")
    assert len(passages) == 4
    assert {"text", "section", "page", "pages", "source", "citation", "score", "chunk_id"} <= passages[0].keys()
    assert passages[0]["page"] == 12


def test_api_reports_bad_input_without_failing(client):
    assert client.predict(question="", api_name="/answer")["error"] == "question is empty"
    assert "1000" in client.predict(question="长" * 1500, api_name="/answer")["error"]
    assert client.predict(question="北关区常住人口有多少？", api_name="/answer")["found"] is False
    assert "history" in client.predict(question="那去年呢", history=[{"x": 1}], api_name="/answer")["error"]


def test_api_lists_only_the_documented_endpoints(client):
    endpoints = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert endpoints == {"/answer", "/retrieve", "/list_documents"}


def test_concurrent_answers_equal_sequential_ones(app_url, client):
    # Each request is its own HTTP call: one gradio_client shared by threads shares
    # one event stream, which the client library can close under a newer request.
    import httpx

    from qa.devtools.eval import load_questions
    from qa.devtools.load import ask

    questions = [q["question"] for q in load_questions(DEV)][::6]
    expected = [client.predict(question=q, k=3, api_name="/answer")["text"] for q in questions]
    with httpx.Client(timeout=120) as http, ThreadPoolExecutor(6) as pool:
        got = list(pool.map(lambda q: ask(http, app_url, q, k=3)["text"], questions * 2))
    assert got == expected * 2


PAYLOADS = [
    "<script>alert(1)</script>",
    '"><svg onload=alert(1)>',
    "[点我](javascript:alert(1))",
    "'; DROP TABLE feedback; --",
    "**粗体** _斜体_ `代码`",
]


WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def _accessibility_problems(page) -> list[str]:
    """Serious or critical WCAG 2.1 A/AA violations that axe-core finds on the page."""
    from axe_playwright_python.sync_playwright import Axe

    result = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_AA}})
    return [
        f"{v['id']} ({v['impact']}): {node['target']}"
        for v in result.response["violations"]
        if v["impact"] in ("serious", "critical")
        for node in v["nodes"]
    ]


@pytest.mark.browser
def test_in_a_real_browser(app_url, app_data):
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is required in CI (.ci/run installs it)")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    args = [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
    ]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=args)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(app_url)
        page.wait_for_selector("#question textarea")
        assert _accessibility_problems(page) == []
        page.locator("#chat .example-text", has_text="今年建筑业税收目标是多少").first.click()  # example on first load
        page.wait_for_function("document.querySelector('#chat').innerText.includes('[1]')", timeout=30_000)
        page.wait_for_function("document.querySelector('#sources').innerText.includes('正文第12页')", timeout=30_000)
        assert _accessibility_problems(page) == []
        chat = page.inner_text("#chat")
        assert "突破4亿元" in chat and "[1]" in chat
        assert page.locator("#sources mark").first.inner_text().endswith("突破4亿元。")
        page.screenshot(path=str(ARTIFACTS / "chat-desktop.png"), full_page=True)

        # the citation opens its page, the quoted sentence marked on it
        with page.context.expect_page() as opened:
            page.locator("#sources a.page-link").first.click()
        cited = opened.value
        cited.wait_for_selector("mark#quote")
        assert "".join(cited.inner_text("mark#quote").split()).endswith("突破4亿元。") and "第12页" in cited.title()
        cited.screenshot(path=str(ARTIFACTS / "cited-page.png"))
        cited.close()

        # thumbs up is stored locally; retry answers again; undo puts the question back
        page.locator("#chat button[aria-label='Like']").last.click()
        page.wait_for_function("document.body.innerText.includes('谢谢反馈')", timeout=10_000)
        from qa.ui.feedback import FeedbackStore

        records = FeedbackStore(app_data / "feedback.sqlite3").all()
        assert [(r.question, r.liked) for r in records] == [("今年建筑业税收目标是多少", True)]
        # Retry must answer again, not leave the old answer standing: watch the chat, and
        # wait until the old answer has gone and a new one with the same figure is shown.
        page.evaluate(
            """() => { const chat = document.querySelector('#chat'); window.__gone = false;
            new MutationObserver(() => { if (!chat.innerText.includes('正文第12页')) window.__gone = true; })
              .observe(chat, {subtree: true, childList: true, characterData: true}); }"""
        )
        page.locator("#chat button[aria-label='Retry']").last.click()
        page.wait_for_function(
            "window.__gone && document.querySelector('#chat').innerText.includes('正文第12页')", timeout=30_000
        )
        assert page.inner_text("#chat").count("正文第12页") == 1  # one answer, not two
        page.locator("#chat button[aria-label='Undo']").last.click()
        page.wait_for_function("document.querySelector('#question textarea').value.includes('建筑业')", timeout=10_000)
        assert "突破4亿元" not in page.inner_text("#chat")
        page.fill("#question textarea", "")

        page.fill("#question textarea", "<img src=x onerror=alert(1)>")
        page.keyboard.press("Enter")
        page.wait_for_function(
            "document.querySelector('#chat').innerText.includes('<img src=x onerror=alert(1)>')", timeout=30_000
        )
        page.wait_for_function(_IMAGES_SETTLED)  # an injected image would have fired its onerror by now
        assert dialogs == []
        assert page.locator("#chat img[src='x']").count() == 0
        page.screenshot(path=str(ARTIFACTS / "chat-html-question.png"), full_page=True)

        for payload in PAYLOADS:
            before = len(dialogs)
            page.fill("#question textarea", payload)
            page.keyboard.press("Enter")
            page.wait_for_function(
                "p => document.querySelector('#chat').innerText.includes(p)", arg=payload, timeout=30_000
            )
            page.wait_for_function(_IMAGES_SETTLED)
            assert len(dialogs) == before, payload
        ask_in_page(page, "去年城镇新增就业多少人", "11946人")
        page.screenshot(path=str(ARTIFACTS / "chat-payloads.png"), full_page=True)

        phone = browser.new_page(viewport={"width": 375, "height": 800})
        phone.goto(app_url)
        phone.wait_for_selector("#question textarea")
        ask_in_page(phone, "什么是“六稳”？", "稳就业")
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 380, f"page is {width}px wide at phone width"
        phone.screenshot(path=str(ARTIFACTS / "chat-phone.png"), full_page=True)
        with phone.context.expect_page() as opened:
            phone.locator("#sources a.page-link").first.click()
        cited = opened.value
        cited.wait_for_selector("pre")
        assert cited.evaluate("document.documentElement.scrollWidth") <= 380
        browser.close()


def test_the_console_shows_only_what_a_user_needs(app_url, app_data):
    """Where to open the app; no library chatter (faiss's AVX probes, progress bars, debug lines)."""
    console = (app_data / "app.log").read_text()
    lines = [line for line in console.splitlines() if line.strip()]
    assert any("is ready" in line and app_url.rstrip("/") in line for line in lines), console
    noise = ("faiss", "Loading weights", "DEBUG", "share=True", "it/s]")
    assert not [line for line in lines if any(n in line for n in noise)], console


@pytest.fixture
def corpus_app(built_index, tmp_path):
    """An app on a private copy of the index, free to add documents to."""
    index = tmp_path / "index"
    shutil.copytree(built_index, index)
    with running_app(tmp_path, env={"QA_INDEX_DIR": str(index), "QA_MAX_DOCUMENT_MB": "1"}) as (url, _):
        yield url, index


@pytest.mark.browser
def test_adding_a_report_and_asking_it_in_the_browser(corpus_app, second_report, tmp_path):
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is required in CI (.ci/run installs it)")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    url, index = corpus_app
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 not really")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        # a Chinese browser, as the app's users have: Gradio's own texts follow its language
        page = browser.new_page(viewport={"width": 1280, "height": 1000}, locale="zh-CN")
        page.goto(url)
        page.wait_for_selector("#question textarea")
        page.get_by_text("文档：已收录的报告与添加新报告").click()
        page.wait_for_function(
            "(document.querySelector('#documents')?.innerText || '').includes('北关区2020年政府工作报告')"
        )
        assert _accessibility_problems(page) == []
        # a broken file: one clear line, nothing added
        page.set_input_files("#upload input[type=file]", str(broken))
        page.wait_for_function(
            "(document.querySelector('#upload-status')?.innerText || '').includes('❌')", timeout=60_000
        )
        assert "broken.pdf：文件已损坏或格式不对" in page.inner_text("#upload-status")
        assert page.locator("#documents tbody tr").count() == 1
        upload_box = page.inner_text("#upload")
        assert "拖放" in upload_box and "Drop File Here" not in upload_box  # Gradio's own texts in Chinese
        # the second report: added in the background with one progress display in Chinese
        page.evaluate(
            """() => { window.__seen = new Set(); new MutationObserver(() => {
                 for (const s of ['读取', '切分', '向量化', '写入索引', 'Batches'])
                   if (document.body.innerText.includes(s + '：') || document.body.innerText.includes(s)) window.__seen.add(s);
               }).observe(document.body, {subtree: true, childList: true, characterData: true}); }"""
        )
        page.set_input_files("#upload input[type=file]", str(second_report))
        page.wait_for_function(
            "(document.querySelector('#upload-status')?.innerText || '').includes('已添加')", timeout=120_000
        )
        assert "文峰区2021年政府工作报告" in page.inner_text("#documents")
        seen = set(page.evaluate("[...window.__seen]"))
        assert seen & {"读取", "切分", "向量化", "写入索引"} and "Batches" not in seen, seen
        page.locator("#document-filter input").click()
        page.locator("[data-testid=dropdown-option]", has_text="文峰区2021年政府工作报告").click()
        page.keyboard.press("Escape")
        ask_in_page(page, "今年建筑业税收目标是多少", "文峰区2021年政府工作报告", where="#sources")
        assert "突破5亿元" in page.inner_text("#chat")
        assert "突破4亿元" not in page.inner_text("#chat")  # the bundled report was not asked
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "documents.png"), full_page=True)
        manifest = json.loads((index / "manifest.json").read_text())
        assert [d["year"] for d in manifest["documents"]] == [2020, 2021]
        # removing it takes a confirmation
        page.locator("#remove-choice input").click()
        page.locator("[data-testid=dropdown-option]", has_text="文峰区2021年政府工作报告").click()
        page.keyboard.press("Escape")
        page.locator("#remove").click()
        page.locator("#confirm-remove").click()
        page.wait_for_function(
            "(document.querySelector('#upload-status')?.innerText || '').includes('已删除')", timeout=60_000
        )
        assert page.locator("#documents tbody tr").count() == 1
        browser.close()
    manifest = json.loads((index / "manifest.json").read_text())
    assert [d["year"] for d in manifest["documents"]] == [2020]
