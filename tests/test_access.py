"""Who may change the corpus (no model, no server)."""

from __future__ import annotations

import pytest

from qa.errors import AccessError
from qa.records import DocumentInfo
from qa.ui.access import ChangePolicy, is_loopback
from qa.ui.api import document_json


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("127.0.0.2", True),
        ("0.0.0.0", False),
        ("", False),
        ("::", False),
        ("192.168.1.5", False),
        ("example.org", False),
    ],
)
def test_loopback_is_this_machine_only(host, loopback):
    assert is_loopback(host) is loopback


def test_on_loopback_without_a_token_changes_are_allowed():
    policy = ChangePolicy("", loopback=True)
    assert policy.enabled and not policy.needs_token
    policy.check(None)
    policy.check("anything")


def test_beyond_loopback_without_a_token_every_change_is_refused():
    policy = ChangePolicy("", loopback=False)
    assert not policy.enabled
    for given in (None, "", "guess"):
        with pytest.raises(AccessError, match="QA_ADMIN_TOKEN"):
            policy.check(given)


@pytest.mark.parametrize("loopback", [True, False])
def test_with_a_token_only_that_token_changes_the_corpus(loopback):
    policy = ChangePolicy("t0ken", loopback=loopback)
    assert policy.enabled and policy.needs_token
    policy.check("t0ken")
    for given in (None, "", "t0ke", "t0ken ", "T0KEN", 5):
        with pytest.raises(AccessError):
            policy.check(given)


def test_documents_over_http_name_no_server_path():
    info = DocumentInfo(
        id="abc",
        title="t",
        year=2020,
        pages=None,
        passages=1,
        sentences=1,
        source="报告.pdf",
        sha256="0",
        file="sources/abc.pdf",
        origin="/home/someone/报告.pdf",
    )
    shown = document_json(info)
    assert "origin" not in shown and "file" not in shown
    assert shown["id"] == "abc" and shown["source"] == "报告.pdf" and "/home" not in str(shown)


def test_the_apps_upload_and_remove_change_nothing_without_the_token(tmp_path):
    from qa.ui.changes import add_uploaded, remove_chosen

    class Untouchable:
        def __getattr__(self, name):
            raise AssertionError(f"the engine was asked to {name}")

    report = tmp_path / "report.txt"
    report.write_text("二〇二一年政府工作报告\n各位代表：\n今年全区生产总值增长6%。\n", encoding="utf-8")
    guarded = ChangePolicy("t0ken", loopback=True)
    closed = ChangePolicy("", loopback=False)
    for policy, token in ((guarded, ""), (guarded, "wrong"), (closed, "")):
        assert "未做任何更改" in add_uploaded(Untouchable(), [str(report)], 20, policy, token)
        assert "未做任何更改" in remove_chosen(Untouchable(), "abc", policy, token)
