"""The Gradio chat: cited answers, a source panel, examples, feedback, documents.

Built with ``gr.Blocks`` rather than ``gr.ChatInterface`` so that every piece of text
shown (the user's own message included) is escaped by us: a question such as
``<img src=x onerror=alert(1)>`` is displayed as text. The answer streams into the
chat; the source panel lists each passage with its section path, page or glossary
entry, the answering sentence highlighted and the glossary terms it uses explained.
A documents panel lists the indexed reports, limits the questions to some of them, and
adds a report uploaded as PDF, Word, text or Markdown (in the background, with progress).
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Iterator
from urllib.parse import quote as quote_url

import gradio as gr

from ..answering.answer import CONFIDENT, TENTATIVE, Answer
from ..config import MAX_QUESTION_CHARS
from ..engine import Engine
from ..errors import (
    IndexUnavailableError,
)
from ..ingest.readers import SUPPORTED_SUFFIXES
from ..records import DocumentInfo
from ..retrieval.retriever import Passage
from .access import ChangePolicy
from .api import (
    add_document_api,
    answer_api,
    documents_api,
    index_problem,
    remove_document_api,
    retrieve_api,
)
from .changes import add_uploaded, remove_chosen, upload_progress
from .feedback import FeedbackStore
from .markdown import as_plain_text, chat_text, escape_markdown

log = logging.getLogger(__name__)

__all__ = [
    "CSS",
    "JS",
    "THEME",
    "add_uploaded",
    "answer_once",
    "build_app",
    "chat_text",
    "clear",
    "document_choices",
    "escape_markdown",
    "record_feedback",
    "remove_chosen",
    "render_documents",
    "render_sources",
    "respond",
    "retry",
    "undo",
]

EXAMPLES = [
    "今年建筑业税收目标是多少",
    "去年全区生产总值是多少？",
    "什么是“六稳”？",
    "疫情期间启动了几级响应？",
]
STREAM_STEPS = 6
#: Colours with enough contrast for older readers (WCAG AA, 4.5:1 for text): a dark
#: blue send button instead of Gradio's orange (2.8:1), darker secondary text.
THEME = gr.themes.Default(primary_hue="blue").set(
    button_primary_background_fill="*primary_700",
    button_primary_background_fill_hover="*primary_800",
    button_primary_text_color="white",
    body_text_color_subdued="*neutral_600",
    body_text_color_subdued_dark="*neutral_300",
    block_label_text_color="*neutral_700",
    block_info_text_color="*neutral_600",
)
#: Runs in the page: Gradio 6 marks the chat's example buttons up as a ``role="list"``
#: without list items, which screen readers announce wrongly (axe: aria-required-children);
#: the examples are a group of buttons, so the role is dropped wherever they appear.
JS = """
() => {
  const fix = () => document.querySelectorAll('#chat .examples[role="list"]').forEach(e => e.setAttribute('role', 'group'));
  fix();
  new MutationObserver(fix).observe(document.body, {childList: true, subtree: true});
}
"""
CSS = """
#sources .source { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 10px 12px; margin: 8px 0; }
#sources .where { font-size: 0.9em; color: var(--body-text-color); margin-bottom: 4px; overflow-wrap: anywhere; }
#sources .text { line-height: 1.7; overflow-wrap: anywhere; }
#sources mark { background: #ffe58f; color: inherit; padding: 0 2px; }
#sources mark.tentative { background: transparent; border-bottom: 2px dashed #8a6d00; }
#sources details { margin-top: 6px; font-size: 0.92em; }
#sources .num { font-weight: 700; margin-right: 4px; }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
#documents table { width: 100%; border-collapse: collapse; font-size: 0.92em; }
#documents th, #documents td { text-align: left; padding: 4px 6px; border-bottom: 1px solid var(--border-color-primary); }
@media (max-width: 480px) { #sources .source { padding: 8px; } }
"""


def _highlight(text: str, sentence: str, css: str = "") -> str:
    if sentence and sentence in text:
        i = text.index(sentence)
        attr = f" class='{css}'" if css else ""
        return (
            html.escape(text[:i])
            + f"<mark{attr}>"
            + html.escape(sentence)
            + "</mark>"
            + html.escape(text[i + len(sentence) :])
        )
    return html.escape(text)


def render_sources(answer: Answer | None, related: list[Passage], engine: Engine) -> str:
    """HTML of the source panel: cited passages first, then other related ones."""
    if answer is None:
        return "<div class='empty'>提问后，这里会列出答案引用的原文段落。</div>"
    shown = list(answer.citations)
    seen = {p.chunk_id for p in shown}
    shown += [p for p in related if p.chunk_id not in seen]
    parts = []
    for n, p in enumerate(shown, 1):
        quoted = n == 1 and bool(answer.quote)
        label = {CONFIDENT: "引用", TENTATIVE: "最接近的原文"}.get(answer.kind, "相关") if quoted else "相关"
        page = answer.cited if quoted and answer.cited else p.citation
        document = ""
        if len(engine.retriever.documents) > 1 and not (quoted and answer.cited and "《" in answer.cited):
            document = p.document_label
        where = html.escape(" · ".join(x for x in (document, p.section, page) if x))
        terms = engine.retriever.glossary_in(p.text, exclude=p.chunk_id)
        notes = "".join(
            f"<details><summary>词语解释：{html.escape(term)}</summary>{html.escape(definition)}</details>"
            for term, definition in terms
        )
        parts.append(
            f"<div class='source' data-chunk='{html.escape(p.chunk_id)}'>"
            f"<div class='where'><span class='num'>[{n}]</span>{label} · {where}"
            f"{_page_link(p, answer.page if quoted else p.page, answer.quote if quoted else '')}</div>"
            f"<div class='text'>{_highlight(p.text, answer.quote if quoted else '', '' if answer.found else 'tentative')}</div>"
            f"{notes}</div>"
        )
    return "".join(parts)


def _page_link(p: Passage, page: int | None, quote: str) -> str:
    """A link that opens the cited page (see :mod:`qa.ui.pages`; page 0: wherever the
    quote stands, for a passage cited without a page), the quote marked on it."""
    if not p.document:
        return ""
    quote = quote or p.text
    href = f"page/{quote_url(p.document)}/{page or 0}?quote={quote_url(quote[:300])}"
    return f" <a class='page-link' href='{html.escape(href)}' target='_blank' rel='noopener'>查看原页</a>"


# -- handlers: plain functions over the chat state, wired to the page by build_app -----------
#
# ``chat`` is what the Chatbot shows (user text escaped for display); ``raw`` is the same
# conversation as asked and answered (Gradio messages, the assistant's with the chunk ids
# it cites), which follow-ups and feedback use.


def answer_once(
    engine: Engine, question: str, history: list[dict], k: int, documents: list[str] | None = None
) -> tuple[str, str, Answer | None]:
    """(chat text, sources html, answer) for one question from ``documents`` (ids;
    None or empty: all) — never raises."""
    try:
        documents = list(documents) or None if documents else None
        result = engine.answer(question, history, documents)
        related = engine.retrieve(result.question, int(k), documents)
        return chat_text(result), render_sources(result, related, engine), result
    except ValueError as exc:
        return escape_markdown(f"抱歉，这个问题无法处理：{exc}。"), render_sources(None, [], engine), None
    except IndexUnavailableError as exc:
        log.error("index unavailable: %s", exc)
        return index_problem(exc), render_sources(None, [], engine), None
    except Exception:
        log.exception("answering %r failed", question[:80])
        return "抱歉，处理这个问题时出错了，请稍后再试。", render_sources(None, [], engine), None


def respond(
    engine: Engine, message, chat: list, raw: list, k, pause: float = 0.01, documents: list[str] | None = None
) -> Iterator[tuple]:
    """Ask ``message`` of ``documents`` (None: all): yields (chat, raw, sources, box) as
    the answer streams in."""
    chat, raw = list(chat or []), list(raw or [])
    if not isinstance(message, str) or not message.strip():
        yield chat, raw, gr.skip(), message
        return
    chat.append({"role": "user", "content": as_plain_text(message)})
    if len(message) > MAX_QUESTION_CHARS:
        text = f"问题太长了（{len(message)} 字）。请把问题控制在 {MAX_QUESTION_CHARS} 字以内。"
        chat.append({"role": "assistant", "content": text})
        raw += [{"role": "user", "content": message[:MAX_QUESTION_CHARS]}, {"role": "assistant", "content": text}]
        yield chat, raw, gr.skip(), ""
        return
    turns = [m for m in raw if m["role"] in ("user", "assistant")]
    text, sources, result = answer_once(engine, message, turns, k, documents)
    chat.append({"role": "assistant", "content": ""})
    step = max(1, len(text) // STREAM_STEPS)
    for end in range(step, len(text), step):
        chat[-1] = {"role": "assistant", "content": text[:end]}
        yield chat, raw, gr.skip(), ""
        time.sleep(pause)
    chat[-1] = {"role": "assistant", "content": text}
    raw += [
        {"role": "user", "content": message},
        {
            "role": "assistant",
            "content": result.text if result else text,
            "citations": [p.chunk_id for p in result.citations] if result else [],
        },
    ]
    yield chat, raw, sources, ""


def _last_user(messages: list) -> int | None:
    return next((i for i in range(len(messages) - 1, -1, -1) if messages[i]["role"] == "user"), None)


def retry(
    engine: Engine, chat: list, raw: list, k, pause: float = 0.01, documents: list[str] | None = None
) -> Iterator[tuple]:
    """Ask the last question again, in place of its answer."""
    last = _last_user(raw)
    if last is None:
        yield chat, raw, gr.skip(), ""
        return
    shown = _last_user(chat)
    yield from respond(
        engine, raw[last]["content"], chat[: len(chat) if shown is None else shown], raw[:last], k, pause, documents
    )


def undo(chat: list, raw: list) -> tuple[list, list, str]:
    """Take back the last question and its answer; the question returns to the box."""
    last, shown = _last_user(raw), _last_user(chat)
    if last is None or shown is None:
        return chat, raw, ""
    return chat[:shown], raw[:last], raw[last]["content"]


def clear(engine: Engine) -> tuple[list, list, str, str]:
    return [], [], render_sources(None, [], engine), ""


def record_feedback(feedback: FeedbackStore | None, index, liked, raw: list) -> bool:
    """Store a thumbs up/down on the assistant message at chat position ``index``."""
    if feedback is None:
        return False
    assistants = [i for i, m in enumerate(raw) if m["role"] == "assistant"]
    if not assistants:
        return False
    index = index if isinstance(index, int) else index[0]
    # The chat shows user/assistant pairs in the same order as ``raw``.
    pos = index if 0 <= index < len(raw) and raw[index]["role"] == "assistant" else assistants[-1]
    question = next(m["content"] for m in reversed(raw[:pos]) if m["role"] == "user")
    liked = liked if isinstance(liked, bool) else str(liked).lower() in ("like", "true")
    feedback.add(question, raw[pos]["content"], liked, raw[pos].get("citations", []))
    return True


def document_choices(documents: list[DocumentInfo]) -> list[tuple[str, str]]:
    """(label, id) pairs for the document selector, newest first."""
    ordered = sorted(documents, key=lambda d: (-(d.year or 0), d.title))
    labels = [d.name for d in ordered]
    return [(f"{label} · {d.id[:6]}" if labels.count(label) > 1 else label, d.id) for label, d in zip(labels, ordered)]


def render_documents(documents: list[DocumentInfo]) -> str:
    """HTML table of the indexed documents."""
    rows = "".join(
        f"<tr><td>{html.escape(d.title)}</td><td>{d.year or '—'}</td><td>{d.pages or '—'}</td>"
        f"<td>{d.passages}</td><td>{html.escape(d.source)}</td></tr>"
        for d in sorted(documents, key=lambda d: (-(d.year or 0), d.title))
    )
    return (
        "<table><caption class='sr-only'>已索引的文档</caption><thead><tr><th>标题</th><th>年份</th><th>页数</th>"
        f"<th>段落</th><th>文件</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def build_app(engine: Engine, feedback: FeedbackStore | None = None, policy: ChangePolicy | None = None) -> gr.Blocks:
    """The chat app around ``engine`` (which should already be loaded): wiring only.
    ``policy`` says who may change the corpus (default: anyone, as on loopback)."""
    policy = policy or ChangePolicy()

    def on_respond(message, chat, raw, k, documents):
        yield from respond(engine, message, chat, raw, k, documents=documents)

    def on_retry(chat, raw, k, documents):
        yield from retry(engine, chat, raw, k, documents=documents)

    def on_example(event: gr.SelectData, chat: list, state: list, k, documents) -> Iterator[tuple]:
        value = event.value
        question = value.get("text", "") if isinstance(value, dict) else str(value)
        yield from respond(engine, question, chat, state, k, documents=documents)

    def on_documents(selected=None):
        try:
            documents = engine.documents()
        except Exception as exc:  # no index yet, or a broken one: the chat says so
            log.error("cannot list documents: %s", exc)
            return gr.update(), "<p>文档列表暂不可用。</p>"
        ids = {d.id for d in documents}
        keep = [d for d in (selected or []) if d in ids]
        choices = document_choices(documents)
        return (
            gr.update(choices=choices, value=keep),
            render_documents(documents),
            gr.update(choices=choices, value=None),
        )

    def on_upload(files, selected, token, progress=gr.Progress()):  # noqa: B008 - Gradio's way
        report = upload_progress(progress)
        report("read", 0.0, "")
        status = add_uploaded(engine, files, engine.settings.max_document_mb, policy, token, report)
        return status, *on_documents(selected), None

    def on_remove(document, selected, token):
        status = remove_chosen(engine, document, policy, token)
        return status, *on_documents(selected), gr.update(visible=False)

    def on_like(data: gr.LikeData, raw: list):
        try:
            if record_feedback(feedback, data.index, data.liked, raw):
                gr.Info("谢谢反馈！")
        except Exception:
            log.exception("could not store feedback")

    # These three are also the MCP tools: their names, docstrings and type hints are what
    # an assistant sees.
    def answer(
        question: str, history: list[dict] | None = None, k: int = 3, documents: list[str] | None = None
    ) -> dict:
        """Answer a question about Chinese government work reports with the report's own
        sentence, cited to its document, section and page, graded confident / tentative /
        not_found (never a figure the report does not state).

        Args:
            question: the question, in Chinese or English (e.g. 今年的主要预期目标是什么).
            history: the conversation so far, as messages [{"role": "user"|"assistant", "content": "..."}], for follow-ups such as 那去年呢.
            k: how many related passages to return besides the citations (1-10).
            documents: ids of the reports to ask (see list_documents); empty or null asks all.
        """
        return answer_api(engine, question, history, k, documents)

    def retrieve(question: str, k: int = 5, documents: list[str] | None = None) -> list[dict]:
        """Search the reports: the passages that best match a question, best first, each
        with its text, section, page and document.

        Args:
            question: what to search for.
            k: how many passages to return (1-50).
            documents: ids of the reports to search (see list_documents); empty or null searches all.
        """
        return retrieve_api(engine, question, k, documents)

    def list_documents() -> list[dict]:
        """List the reports that can be asked: each with its id (to pass as documents),
        title, place, year, delivery date, speaker, pages, passages and file name."""
        return documents_api(engine)

    def api_add_document(file: gr.FileData, title: str | None = None, token: str | None = None) -> dict:
        """Add a report (PDF, Word, text or Markdown) to the corpus; an operator's change
        (needs ``token`` when QA_ADMIN_TOKEN is set). Returns the document added."""
        return add_document_api(engine, policy, file, title, token)

    def api_remove_document(document: str, token: str | None = None) -> dict:
        """Remove a report from the corpus by its id; an operator's change (needs ``token``
        when QA_ADMIN_TOKEN is set). Returns the document removed."""
        return remove_document_api(engine, policy, document, token)

    with gr.Blocks(title="报告问答 · 政府工作报告") as demo:
        gr.Markdown(
            "## 报告问答\n政府工作报告问答：默认收录安阳市北关区 2020 年《政府工作报告》及其词语解释，"
            "也可以添加其他年份、其他地区的报告。答案摘自报告原文，并注明文档、出处与页码。"
        )
        raw = gr.State([])
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=300):
                chatbot = gr.Chatbot(
                    label="对话",
                    height=480,
                    sanitize_html=True,
                    render_markdown=True,
                    feedback_options=("Like", "Dislike"),
                    # no "share" (to Hugging Face: online, and an unlabelled icon for screen readers)
                    buttons=["copy", "copy_all"],
                    examples=[{"text": q} for q in EXAMPLES],
                    placeholder="问一个关于报告的问题，例如：今年建筑业税收目标是多少？",
                    elem_id="chat",
                )
                with gr.Row():
                    box = gr.Textbox(
                        show_label=False,
                        placeholder="输入问题，回车发送",
                        max_lines=4,
                        scale=5,
                        elem_id="question",
                    )
                    send = gr.Button("发送", variant="primary", scale=1, min_width=80, elem_id="send")
                with gr.Row():
                    k = gr.Slider(1, 10, value=3, step=1, label="显示的相关段落数", elem_id="k")
                    clear_btn = gr.Button("清空对话", scale=0, min_width=100)
            with gr.Column(scale=2, min_width=300):
                selector = gr.Dropdown(
                    choices=[],
                    value=[],
                    multiselect=True,
                    label="检索范围",
                    info="选择一份或几份报告；不选即检索全部文档",
                    elem_id="document-filter",
                )
                gr.Markdown("### 出处")
                sources = gr.HTML(render_sources(None, [], engine), elem_id="sources")
                with gr.Accordion("文档：已收录的报告与添加新报告", open=False, elem_id="documents-panel"):
                    documents_table = gr.HTML("", elem_id="documents")
                    upload = gr.File(
                        label=f"添加报告（PDF、Word、TXT、Markdown，不超过 {engine.settings.max_document_mb} MB）",
                        file_types=list(SUPPORTED_SUFFIXES),
                        file_count="multiple",
                        elem_id="upload",
                        visible=policy.enabled,
                    )
                    token = gr.Textbox(
                        label="管理口令（添加或删除报告需要）",
                        type="password",
                        visible=policy.needs_token,
                        elem_id="admin-token",
                    )
                    with gr.Row(visible=policy.enabled):
                        to_remove = gr.Dropdown(
                            choices=[], value=None, label="删除一份报告", scale=3, elem_id="remove-choice"
                        )
                        remove_btn = gr.Button("删除…", variant="secondary", scale=1, min_width=80, elem_id="remove")
                    with gr.Row(visible=False) as confirm_row:
                        gr.Markdown("确定要从检索库中删除这份报告吗？")
                        confirm_btn = gr.Button("确定删除", variant="stop", min_width=80, elem_id="confirm-remove")
                        cancel_btn = gr.Button("取消", min_width=80)
                    upload_status = gr.Markdown(
                        "" if policy.enabled else "本服务不接受添加或删除报告（管理员可设置 QA_ADMIN_TOKEN 开启）。",
                        elem_id="upload-status",
                    )

        outputs = [chatbot, raw, sources, box]
        inputs = [box, chatbot, raw, k, selector]
        box.submit(on_respond, inputs, outputs, api_visibility="private")  # the UI's; use /answer
        send.click(on_respond, inputs, outputs, api_visibility="private")
        chatbot.example_select(
            on_example,
            [chatbot, raw, k, selector],
            outputs,
            api_visibility="private",
        )
        chatbot.retry(on_retry, [chatbot, raw, k, selector], outputs, api_visibility="private")
        listing = [selector, documents_table, to_remove]
        upload.upload(
            on_upload,
            [upload, selector, token],
            [upload_status, *listing, upload],
            api_visibility="private",
            concurrency_limit=1,
            concurrency_id="documents",
            show_progress_on=[upload_status],  # one progress display, not one per output
        )
        remove_btn.click(lambda: gr.update(visible=True), None, confirm_row, api_visibility="private")
        cancel_btn.click(lambda: gr.update(visible=False), None, confirm_row, api_visibility="private")
        confirm_btn.click(
            on_remove,
            [to_remove, selector, token],
            [upload_status, *listing, confirm_row],
            api_visibility="private",
            show_progress_on=[upload_status],
            concurrency_limit=1,
            concurrency_id="documents",
        )
        demo.load(on_documents, [selector], listing, api_visibility="private")
        chatbot.undo(undo, [chatbot, raw], [chatbot, raw, box], api_visibility="private")
        chatbot.clear(lambda: clear(engine), None, outputs, api_visibility="private")
        clear_btn.click(lambda: clear(engine), None, outputs, api_visibility="private")
        chatbot.like(on_like, [raw], None, api_visibility="private")
        gr.api(answer, api_name="answer", queue=False)
        gr.api(retrieve, api_name="retrieve", queue=False)
        gr.api(list_documents, api_name="list_documents", queue=False)
        # Operators' changes: callable over HTTP, never offered to assistants as MCP tools.
        for change, name in ((api_add_document, "add_document"), (api_remove_document, "remove_document")):
            gr.api(
                change, api_name=name, api_visibility="undocumented", concurrency_limit=1, concurrency_id="documents"
            )
    return demo
