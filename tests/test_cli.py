"""The one command line: subcommands dispatch to each module's own, errors are one line."""

from __future__ import annotations

import pytest

from qa.cli import COMMANDS, main
from qa.errors import QAError


def test_help_lists_every_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in COMMANDS)
    assert main([]) == 2


def test_an_unknown_command_is_one_line_and_a_usage(capsys):
    assert main(["frobnicate"]) == 2
    assert "unknown command 'frobnicate'" in capsys.readouterr().err


def test_index_errors_are_one_line(tmp_path, capsys):
    assert main(["index", "list", "--index-dir", str(tmp_path / "none")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "qa-index build" in err and "\n" not in err


def test_a_bug_is_not_hidden(monkeypatch):
    """Only errors raised on purpose become one line; anything else shows its traceback."""
    import qa.devtools.eval

    def broken(argv):
        raise KeyError("a bug")

    monkeypatch.setattr(qa.devtools.eval, "main", broken)
    with pytest.raises(KeyError):
        main(["eval", "x.jsonl"])

    def refused(argv):
        raise QAError("refused on purpose")

    monkeypatch.setattr(qa.devtools.eval, "main", refused)
    assert main(["eval", "x.jsonl"]) == 1


def test_question_sets_name_the_report_each_item_is_about(tmp_path):
    from qa.devtools.questionsets import question_sets

    (tmp_path / "mixed.jsonl").write_text(
        '{"id": "a", "question": "去年GDP是多少", "answers": ["1亿元"], "doc": "other"}\n'
        '{"id": "b", "question": "今年GDP目标是多少", "answers": []}\n',
        encoding="utf-8",
    )
    items = question_sets([tmp_path / "mixed.jsonl"], {"other": "id-other", "bundled": "id-bundled"}, "bundled")
    # an item without 'doc' is about the default report, and says so (the per-report rows need it)
    assert [(i["doc"], i["documents"], i["fold"]) for i in items] == [
        ("other", ["id-other"], "mixed:0"),
        ("bundled", ["id-bundled"], "mixed:0"),
    ]
    with pytest.raises(ValueError, match="not in the corpus"):
        question_sets([tmp_path / "mixed.jsonl"], {"bundled": "id-bundled"}, "bundled")


def test_train_writes_weights_that_answer(engine, tmp_path, capsys):
    """``qa train`` on a few questions: the weights it writes load and answer."""
    import json

    from qa.answering.answer import Answerer
    from qa.answering.features import FEATURES
    from qa.answering.model import load_fitted

    from .conftest import DEV

    items = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines()[:60]]
    (tmp_path / "few.jsonl").write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), "utf-8")
    assert main(["train", str(tmp_path / "few.jsonl"), "--out", str(tmp_path / "fitted.json")]) == 0
    assert "answer model: 60 questions" in capsys.readouterr().out
    model = load_fitted(tmp_path / "fitted.json", FEATURES).answer
    assert 0 <= model.tentative <= model.confident_in(engine.retriever.searched) <= 1
    assert Answerer(engine.retriever, model).answer("今年建筑业税收目标是多少").quote
