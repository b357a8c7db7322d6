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
import re
import time
from collections.abc import Iterator
from pathlib import Path

import gradio as gr

from .answer import CONFIDENT, TENTATIVE, Answer
from .config import MAX_QUESTION_CHARS
from .engine import Engine
from .errors import IndexUnavailableError
from .feedback import FeedbackStore
from .readers import SUPPORTED_SUFFIXES
from .records import DocumentInfo
from .retrieval import Passage

log = logging.getLogger(__name__)

__all__ = [
    "build_app",
    "render_sources",
    "escape_markdown",
    "chat_text",
    "answer_once",
    "respond",
    "retry",
    "undo",
    "clear",
    "record_feedback",
    "answer_api",
    "retrieve_api",
    "answer_json",
    "passage_json",
    "document_choices",
    "render_documents",
    "add_uploaded",
    "documents_api",
    "CSS",
    "JS",
    "THEME",
]

EXAMPLES = [
    "今年建筑业税收目标是多少",
    "去年全区生产总值是多少？",
    "什么是“六稳”？",
    "疫情期间启动了几级响应？",
]
STREAM_STEPS = 6
_MARKDOWN_SPECIAL = re.compile(r"[\\`*_{}\[\]()#+\-.!|>~$]")
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


def escape_markdown(text: str) -> str:
    """Make Markdown safe to show in a chat bubble: no HTML tag can form."""
    return html.escape(text, quote=False).replace("&gt;", ">")


def as_plain_text(text: str) -> str:
    """Show ``text`` literally in a Markdown bubble: HTML escaped, Markdown syntax too."""
    return escape_markdown(_MARKDOWN_SPECIAL.sub(r"\\\g<0>", text))


#: How the chat marks a reply that is not a confident answer.
_BADGES = {TENTATIVE: "⚠️ ", CONFIDENT: ""}


def chat_text(answer: Answer) -> str:
    """The reply as the chat shows it: a tentative one is marked so it cannot pass for
    an answer, a not-found one says so first."""
    return _BADGES.get(answer.kind, "❔ ") + escape_markdown(answer.text)


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
            document = f"《{p.document_title}》" + p.document_name[len(p.document_title) :]
        where = html.escape(" · ".join(x for x in (document, p.section, page) if x))
        terms = engine.retriever.glossary_in(p.text, exclude=p.chunk_id)
        notes = "".join(
            f"<details><summary>词语解释：{html.escape(term)}</summary>{html.escape(definition)}</details>"
            for term, definition in terms
        )
        parts.append(
            f"<div class='source' data-chunk='{html.escape(p.chunk_id)}'>"
            f"<div class='where'><span class='num'>[{n}]</span>{label} · {where}</div>"
            f"<div class='text'>{_highlight(p.text, answer.quote if quoted else '', '' if answer.found else 'tentative')}</div>"
            f"{notes}</div>"
        )
    return "".join(parts)


def index_problem(exc: IndexUnavailableError) -> str:
    """What the chat says when the index cannot be used (no paths, no stack trace)."""
    kind = {"IndexMissingError": "缺失", "IndexCorruptError": "已损坏", "IndexStaleError": "已过期"}.get(
        type(exc).__name__, "不可用"
    )
    return f"抱歉，检索索引{kind}，暂时无法回答。请管理员运行 `qa-index build` 重建索引后再试。"


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


def answer_api(
    engine: Engine, question: str, history: list[dict] | None = None, k: int = 3, documents: list[str] | None = None
) -> dict:
    """The HTTP API's /answer: ``text``, ``found``, ``kind`` (confident / tentative /
    not_found), ``confidence``, ``reason``, ``quote``, ``key``, ``page``, ``cited``,
    ``document`` and ``document_title``, ``question`` (a follow-up completed),
    ``citations`` and ``related`` passages; an ``error`` instead when the question could
    not be answered. ``documents``: ids to ask (None: all). Never raises."""
    try:
        result = engine.answer(question, history or None, documents or None)
        related = engine.retrieve(result.question, _api_k(k, 10), documents or None)
    except (ValueError, TypeError) as exc:
        return _api_error(str(exc))
    except IndexUnavailableError as exc:
        log.error("index unavailable: %s", exc)
        return _api_error(type(exc).__name__, index_problem(exc))
    except Exception as exc:
        log.exception("API answer failed")
        return _api_error(type(exc).__name__)
    return answer_json(result, related)


def retrieve_api(engine: Engine, question: str, k: int = 5, documents: list[str] | None = None) -> list[dict]:
    """The HTTP API's /retrieve: the passages as JSON objects; bad input is a gr.Error."""
    try:
        return [passage_json(p) for p in engine.retrieve(question, _api_k(k, 50), documents or None)]
    except (ValueError, TypeError) as exc:
        raise gr.Error(str(exc)) from None
    except IndexUnavailableError as exc:
        raise gr.Error(index_problem(exc)) from None


def documents_api(engine: Engine) -> list[dict]:
    """The HTTP API's /documents: every indexed document as a JSON object."""
    try:
        return [d.to_json() for d in engine.documents()]
    except IndexUnavailableError as exc:
        raise gr.Error(index_problem(exc)) from None


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


def add_uploaded(engine: Engine, files, max_mb: int) -> str:
    """Add uploaded files to the corpus; returns the status line(s) to show (never raises)."""
    paths = [getattr(f, "name", f) for f in (files if isinstance(files, list) else [files]) if f]
    if not paths:
        return "请选择要添加的文件。"
    lines, accepted = [], []
    for path in map(Path, paths):
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            lines.append(f"❌ {path.name}：不支持的文件类型（请用 PDF、DOCX、TXT 或 MD）")
        elif path.stat().st_size > max_mb * 1024 * 1024:
            lines.append(f"❌ {path.name}：文件太大（上限 {max_mb} MB）")
        else:
            accepted.append(path)
    if accepted:
        try:
            added, errors = engine.add_documents(accepted, progress=True)
        except Exception as exc:  # the index is unchanged: say so, keep serving
            log.exception("adding documents failed")
            return "\n".join(lines + [f"❌ 添加失败，索引未改变：{escape_markdown(str(exc))}"])
        lines += [
            f"✅ 已添加：{escape_markdown(d.name)}（{f'{d.pages} 页，' if d.pages else ''}{d.passages} 段）"
            for d in added
        ]
        lines += [f"❌ {escape_markdown(e)}" for e in errors]
    return "\n\n".join(lines)


def build_app(engine: Engine, feedback: FeedbackStore | None = None) -> gr.Blocks:
    """The chat app around ``engine`` (which should already be loaded): wiring only."""

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
        return gr.update(choices=document_choices(documents), value=keep), render_documents(documents)

    def on_upload(files, selected, progress=gr.Progress(track_tqdm=True)):
        progress(0, desc="正在读取并建立索引…")
        status = add_uploaded(engine, files, engine.settings.max_document_mb)
        choices, table = on_documents(selected)
        return status, choices, table, None

    def on_like(data: gr.LikeData, raw: list):
        try:
            if record_feedback(feedback, data.index, data.liked, raw):
                gr.Info("谢谢反馈！")
        except Exception:
            log.exception("could not store feedback")

    def api_answer(
        question: str, history: list[dict] | None = None, k: int = 3, documents: list[str] | None = None
    ) -> dict:
        """Answer one question (``history``: the conversation so far, Gradio messages;
        ``documents``: ids of the documents to ask, None for all)."""
        return answer_api(engine, question, history, k, documents)

    def api_retrieve(question: str, k: int = 5, documents: list[str] | None = None) -> list[dict]:
        """The ``k`` passages (1–50) that best match ``question``, best first."""
        return retrieve_api(engine, question, k, documents)

    def api_documents() -> list[dict]:
        """The indexed documents: id, title, year, pages, passages, source…"""
        return documents_api(engine)

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
                    )
                    upload_status = gr.Markdown("", elem_id="upload-status")

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
        upload.upload(
            on_upload,
            [upload, selector],
            [upload_status, selector, documents_table, upload],
            api_visibility="private",
            concurrency_limit=1,
            concurrency_id="documents",
        )
        demo.load(on_documents, [selector], [selector, documents_table], api_visibility="private")
        chatbot.undo(undo, [chatbot, raw], [chatbot, raw, box], api_visibility="private")
        chatbot.clear(lambda: clear(engine), None, outputs, api_visibility="private")
        clear_btn.click(lambda: clear(engine), None, outputs, api_visibility="private")
        chatbot.like(on_like, [raw], None, api_visibility="private")
        gr.api(api_answer, api_name="answer", queue=False)
        gr.api(api_retrieve, api_name="retrieve", queue=False)
        gr.api(api_documents, api_name="documents", queue=False)
    return demo


def _api_k(k, limit: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, float)) or int(k) != k:
        raise ValueError(f"k must be a whole number, not {k!r}")
    return max(1, min(int(k), limit))


def _api_error(error: str, text: str = "") -> dict:
    return {"text": text, "found": False, "kind": "not_found", "citations": [], "related": [], "error": error}


def passage_json(p: Passage) -> dict:
    """A passage as the HTTP API returns it."""
    return {
        "chunk_id": p.chunk_id,
        "text": p.text,
        "section": p.section,
        "page": p.page,
        "pages": list(p.pages),
        "source": p.source,
        "citation": p.citation,
        "score": p.score,
        "document": p.document,
        "document_title": p.document_title,
        "document_year": p.document_year,
    }


def answer_json(result: Answer, related: list[Passage]) -> dict:
    """An answer as the HTTP API returns it."""
    return {
        "text": result.text,
        "found": result.found,
        "kind": result.kind,
        "confidence": round(result.confidence, 4),
        "reason": result.reason,
        "quote": result.quote,
        "key": result.key,
        "page": result.page,
        "cited": result.cited,
        "document": result.document,
        "document_title": result.document_title,
        "question": result.question,
        "citations": [passage_json(p) for p in result.citations],
        "related": [passage_json(p) for p in related],
    }
