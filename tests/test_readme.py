"""Every fenced example in the README runs, and prints what its comments say.

A ``python`` block is run statement by statement; a statement whose line ends with a
comment must print exactly that (``...`` stands for any text). A ``bash`` block is run
against a running app (its URL put in place of the default one); its ``# `` lines after
the commands are the expected output lines, in order.
"""

from __future__ import annotations

import ast
import contextlib
import io
import re
import subprocess

import pytest

from .conftest import ROOT, running_app

README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```(python|bash)\n(.*?)```", README, re.DOTALL)
DEFAULT_URL = "http://127.0.0.1:7860/"

pytestmark = pytest.mark.integration


def _matches(expected: str, got: str) -> bool:
    pattern = ".*".join(re.escape(part.strip()) for part in expected.split("..."))
    return re.fullmatch(pattern, got.strip(), re.DOTALL) is not None


def _run_python(source: str, url: str | None) -> None:
    if url:
        source = source.replace(DEFAULT_URL, url)
    lines = source.splitlines()
    namespace: dict = {}
    for node in ast.parse(source).body:
        code = compile(ast.Module([node], []), "README.md", "exec")
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(code, namespace)  # noqa: S102 - the README's own examples
        last = lines[node.end_lineno - 1]
        comment = re.search(r"\)\s+# (.+)$", last)
        if comment:
            assert _matches(comment.group(1), out.getvalue()), (last, out.getvalue())


def _uses_app(source: str) -> bool:
    return DEFAULT_URL.rstrip("/") in source


def test_the_readme_has_examples():
    kinds = [kind for kind, _ in BLOCKS]
    assert kinds.count("python") >= 2 and "bash" in kinds


@pytest.mark.parametrize("block", [b for k, b in BLOCKS if k == "python" and not _uses_app(b)])
def test_python_examples(block, engine):
    _run_python(block, None)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with running_app(tmp_path_factory.mktemp("readme")) as (url, _):
        yield url


@pytest.mark.parametrize("block", [b for k, b in BLOCKS if k == "python" and _uses_app(b)])
def test_python_examples_against_the_app(block, app):
    _run_python(block, app)


@pytest.mark.parametrize("block", [b for k, b in BLOCKS if k == "bash"])
def test_shell_examples_against_the_app(block, app):
    commands = "\n".join(line for line in block.splitlines() if not line.startswith("# "))
    expected = [line[2:] for line in block.splitlines() if line.startswith("# ")]
    result = subprocess.run(
        ["bash", "-c", commands.replace(DEFAULT_URL.rstrip("/"), app.rstrip("/"))],
        capture_output=True,
        text=True,
        timeout=120,
    )
    got = [line for line in result.stdout.splitlines() if line.strip()]
    assert result.returncode == 0, result.stderr
    assert len(got) >= len(expected), got
    for want, line in zip(expected, got):
        assert _matches(want, line), (want, line)
