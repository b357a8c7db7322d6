"""The Gradio chat: cited answers, a source panel, examples, feedback.

Built with ``gr.Blocks`` rather than ``gr.ChatInterface`` so that every piece of text
shown (the user's own message included) is escaped by us: a question such as
``<img src=x onerror=alert(1)>`` is displayed as text. The answer streams into the
chat; the source panel lists each passage with its section path, page or glossary
entry, the answering sentence highlighted and the glossary terms it uses explained.
"""

from __future__ import annotations

import html
import logging
import re
import time
from collections.abc import Iterator

import gradio as gr

from .answer import CONFIDENT, TENTATIVE, Answer
from .config import MAX_QUESTION_CHARS
from .engine import Engine
from .feedback import FeedbackStore
from .index import IndexError
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
        where = html.escape(" · ".join(x for x in (p.section, page) if x))
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


def index_problem(exc: IndexError) -> str:
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


def answer_once(engine: Engine, question: str, history: list[dict], k: int) -> tuple[str, str, Answer | None]:
    """(chat text, sources html, answer) for one question — never raises."""
    try:
        result = engine.answer(question, history)
        related = engine.retrieve(result.question, int(k))
        return chat_text(result), render_sources(result, related, engine), result
    except ValueError as exc:
        return escape_markdown(f"抱歉，这个问题无法处理：{exc}。"), render_sources(None, [], engine), None
    except IndexError as exc:
        log.error("index unavailable: %s", exc)
        return index_problem(exc), render_sources(None, [], engine), None
    except Exception:
        log.exception("answering %r failed", question[:80])
        return "抱歉，处理这个问题时出错了，请稍后再试。", render_sources(None, [], engine), None


def respond(engine: Engine, message, chat: list, raw: list, k, pause: float = 0.01) -> Iterator[tuple]:
    """Ask ``message``: yields (chat, raw, sources, box) as the answer streams in."""
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
    text, sources, result = answer_once(engine, message, [m for m in raw if m["role"] in ("user", "assistant")], k)
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


def retry(engine: Engine, chat: list, raw: list, k, pause: float = 0.01) -> Iterator[tuple]:
    """Ask the last question again, in place of its answer."""
    last = _last_user(raw)
    if last is None:
        yield chat, raw, gr.skip(), ""
        return
    shown = _last_user(chat)
    yield from respond(
        engine, raw[last]["content"], chat[: len(chat) if shown is None else shown], raw[:last], k, pause
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


def answer_api(engine: Engine, question: str, history: list[dict] | None = None, k: int = 3) -> dict:
    """The HTTP API's /answer: ``text``, ``found``, ``kind`` (confident / tentative /
    not_found), ``confidence``, ``reason``, ``quote``, ``key``, ``page``, ``cited``,
    ``question`` (a follow-up completed), ``citations`` and ``related`` passages; an
    ``error`` instead when the question could not be answered. Never raises."""
    try:
        result = engine.answer(question, history or None)
        related = engine.retrieve(result.question, _api_k(k, 10))
    except (ValueError, TypeError) as exc:
        return _api_error(str(exc))
    except IndexError as exc:
        log.error("index unavailable: %s", exc)
        return _api_error(type(exc).__name__, index_problem(exc))
    except Exception as exc:
        log.exception("API answer failed")
        return _api_error(type(exc).__name__)
    return answer_json(result, related)


def retrieve_api(engine: Engine, question: str, k: int = 5) -> list[dict]:
    """The HTTP API's /retrieve: the passages as JSON objects; bad input is a gr.Error."""
    try:
        return [passage_json(p) for p in engine.retrieve(question, _api_k(k, 50))]
    except (ValueError, TypeError) as exc:
        raise gr.Error(str(exc)) from None
    except IndexError as exc:
        raise gr.Error(index_problem(exc)) from None


def build_app(engine: Engine, feedback: FeedbackStore | None = None) -> gr.Blocks:
    """The chat app around ``engine`` (which should already be loaded): wiring only."""

    def on_respond(message, chat, raw, k):
        yield from respond(engine, message, chat, raw, k)

    def on_retry(chat, raw, k):
        yield from retry(engine, chat, raw, k)

    def on_example(event: gr.SelectData, chat: list, state: list, k) -> Iterator[tuple]:
        value = event.value
        yield from respond(engine, value.get("text", "") if isinstance(value, dict) else str(value), chat, state, k)

    def on_like(data: gr.LikeData, raw: list):
        try:
            if record_feedback(feedback, data.index, data.liked, raw):
                gr.Info("谢谢反馈！")
        except Exception:
            log.exception("could not store feedback")

    def api_answer(question: str, history: list[dict] | None = None, k: int = 3) -> dict:
        """Answer one question (``history``: the conversation so far, Gradio messages)."""
        return answer_api(engine, question, history, k)

    def api_retrieve(question: str, k: int = 5) -> list[dict]:
        """The ``k`` passages (1–50) that best match ``question``, best first."""
        return retrieve_api(engine, question, k)

    with gr.Blocks(title="报告问答 · 北关区2020年政府工作报告") as demo:
        gr.Markdown(
            "## 报告问答\n安阳市北关区 2020 年《政府工作报告》及其词语解释。答案摘自报告原文，并注明出处与页码。"
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
                gr.Markdown("### 出处")
                sources = gr.HTML(render_sources(None, [], engine), elem_id="sources")

        outputs = [chatbot, raw, sources, box]
        box.submit(on_respond, [box, chatbot, raw, k], outputs, api_visibility="private")  # the UI's; use /answer
        send.click(on_respond, [box, chatbot, raw, k], outputs, api_visibility="private")
        chatbot.example_select(
            on_example,
            [chatbot, raw, k],
            outputs,
            api_visibility="private",
        )
        chatbot.retry(on_retry, [chatbot, raw, k], outputs, api_visibility="private")
        chatbot.undo(undo, [chatbot, raw], [chatbot, raw, box], api_visibility="private")
        chatbot.clear(lambda: clear(engine), None, outputs, api_visibility="private")
        clear_btn.click(lambda: clear(engine), None, outputs, api_visibility="private")
        chatbot.like(on_like, [raw], None, api_visibility="private")
        gr.api(api_answer, api_name="answer", queue=False)
        gr.api(api_retrieve, api_name="retrieve", queue=False)
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
        "question": result.question,
        "citations": [passage_json(p) for p in result.citations],
        "related": [passage_json(p) for p in related],
    }
