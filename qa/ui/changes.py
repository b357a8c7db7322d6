"""The app's changes of the corpus: adding uploaded reports with one progress display
in Chinese, and removing one, each said in Chinese and allowed only as
:class:`qa.ui.access.ChangePolicy` says."""

from __future__ import annotations

import logging
from pathlib import Path

from ..engine import Engine
from ..errors import AccessError, DocumentError, QAError
from ..ingest.readers import check_file
from ..progress import Progress
from .access import ChangePolicy
from .markdown import escape_markdown

log = logging.getLogger(__name__)

__all__ = ["FILE_PROBLEMS", "STAGE_LABELS", "add_uploaded", "document_problem", "remove_chosen", "upload_progress"]


#: What the app says of a file it cannot add, by :attr:`qa.errors.DocumentError.reason`.
FILE_PROBLEMS = {
    "unsupported": "不支持的文件类型（请用 PDF、DOCX、TXT 或 MD）",
    "too_large": "文件太大（上限 {limit} MB）",
    "empty": "文件是空的",
    "missing": "文件不存在",
    "encrypted": "PDF 已加密，请去掉密码后再添加",
    "unreadable": "文件已损坏或格式不对，无法读取",
    "no_text": "没有可读的文字（扫描件也未能识别出文字）",
    "not_text": "不是文本文件（请用 UTF-8 或 GB18030 编码）",
    "bomb": "文件解压后过大，已拒绝",
    "duplicate": "已在检索库中，无需重复添加",
}


#: The stages of adding a report as the progress display names them, and the share of the
#: whole bar each takes (OCR, when a scan needs it, takes the longest).
STAGE_LABELS = {"read": "读取", "ocr": "识别文字", "chunk": "切分", "embed": "向量化", "write": "写入索引"}


_STAGE_BANDS = {
    "read": (0.0, 0.1),
    "ocr": (0.1, 0.5),
    "chunk": (0.5, 0.55),
    "embed": (0.55, 0.95),
    "write": (0.95, 1.0),
}


def document_problem(exc: DocumentError) -> str:
    """One line, in Chinese, of why a file was not added."""
    text = FILE_PROBLEMS.get(exc.reason)
    if text is None:
        return f"❌ {escape_markdown(str(exc))}"
    text = text.format(limit=getattr(exc, "limit_mb", ""))
    return f"❌ {escape_markdown(exc.name)}：{text}" if exc.name else f"❌ {text}"


def upload_progress(show) -> Progress:
    """A :class:`qa.progress.Progress` that moves one bar (``show(share, desc=…)``, a
    ``gr.Progress``) through the stages, never backwards."""
    reached = [0.0]

    def report(stage: str, done: float, item: str) -> None:
        low, high = _STAGE_BANDS.get(stage, (0.0, 1.0))
        reached[0] = max(reached[0], low + (high - low) * max(0.0, min(done, 1.0)))
        label = STAGE_LABELS.get(stage, stage)
        show(reached[0], desc=f"{label}：{item}" if item else label)

    return report


def add_uploaded(
    engine: Engine, files, max_mb: int, policy: ChangePolicy | None = None, token: str = "", progress=None
) -> str:
    """Add uploaded files to the corpus; returns the status line(s) to show, in Chinese
    (never raises). ``progress``: a :class:`qa.progress.Progress` for the stages."""
    paths = [getattr(f, "name", f) for f in (files if isinstance(files, list) else [files]) if f]
    if not paths:
        return "请选择要添加的文件。"
    try:
        (policy or ChangePolicy()).check(token)
    except AccessError:
        return "❌ 管理口令缺失或错误：未做任何更改。"
    lines, accepted = [], []
    for path in map(Path, paths):
        try:
            check_file(path, max_mb)
            accepted.append(path)
        except DocumentError as exc:
            lines.append(document_problem(exc))
    if accepted:
        try:
            added, errors = engine.add_documents(accepted, progress=progress or False)
        except Exception as exc:  # the index is unchanged: say so, keep serving
            log.exception("adding documents failed")
            problem = f"：{escape_markdown(str(exc))}" if isinstance(exc, QAError) else ""
            return "\n\n".join([*lines, f"❌ 添加失败，检索库未改变{problem}"])
        lines += [
            f"✅ 已添加：{escape_markdown(d.name)}（{f'{d.pages} 页，' if d.pages else ''}{d.passages} 段）"
            for d in added
        ]
        lines += [document_problem(e) for e in errors]
    return "\n\n".join(lines)


def remove_chosen(engine: Engine, document: str | None, policy: ChangePolicy, token: str = "") -> str:
    """Remove a document chosen in the app; returns the status line (never raises)."""
    if not document:
        return "请先选择要删除的报告。"
    try:
        policy.check(token)
        gone = engine.remove_document(document)
    except AccessError:
        return "❌ 管理口令缺失或错误：未做任何更改。"
    except QAError as exc:
        return f"❌ 未删除：{escape_markdown(str(exc))}"
    except Exception:
        log.exception("removing %s failed", document)
        return "❌ 删除失败，索引未改变。"
    return f"✅ 已删除：{escape_markdown(gone.name)}"
