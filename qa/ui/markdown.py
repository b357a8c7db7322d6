"""How text reaches a Markdown view (the chat, the OpenAI-compatible API): escaped so that
no HTML tag can form, and a reply marked by how sure it is."""

from __future__ import annotations

import html
import re

from ..answering.answer import CONFIDENT, TENTATIVE, Answer

__all__ = ["as_plain_text", "chat_text", "escape_markdown"]

_MARKDOWN_SPECIAL = re.compile(r"[\\`*_{}\[\]()#+\-.!|>~$]")


#: How the chat marks a reply that is not a confident answer.
_BADGES = {TENTATIVE: "⚠️ ", CONFIDENT: ""}


def escape_markdown(text: str) -> str:
    """Make Markdown safe to show in a chat bubble: no HTML tag can form."""
    return html.escape(text, quote=False).replace("&gt;", ">")


def as_plain_text(text: str) -> str:
    """Show ``text`` literally in a Markdown bubble: HTML escaped, Markdown syntax too."""
    return escape_markdown(_MARKDOWN_SPECIAL.sub(r"\\\g<0>", text))


def chat_text(answer: Answer) -> str:
    """The reply as the chat shows it: a tentative one is marked so it cannot pass for
    an answer, a not-found one says so first."""
    return _BADGES.get(answer.kind, "❔ ") + escape_markdown(answer.text)
