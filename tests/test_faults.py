"""Faults: broken index files, model caches and interrupted builds never mean wrong answers."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from qa.corpus.builder import load_index
from qa.embedding.embedder import Embedder

from .conftest import ROOT, running_app

pytestmark = pytest.mark.integration


def _damage(index_dir):
    build = index_dir / json.loads((index_dir / "manifest.json").read_text())["build"]
    (build / "dense.faiss").write_bytes(b"\x00garbage" * 50)


def test_app_without_a_usable_index_says_so_and_keeps_serving(tmp_path, index_copy):
    from gradio_client import Client

    _damage(index_copy)
    with running_app(tmp_path, "--no-rebuild", env={"QA_INDEX_DIR": str(index_copy)}) as (url, proc):
        client = Client(url, verbose=False)
        result = client.predict(question="今年建筑业税收目标是多少", api_name="/answer")
        assert result["found"] is False and result["error"] == "IndexCorruptError"
        assert "qa-index build" in result["text"] and "索引已损坏" in result["text"]
        assert "Traceback" not in str(result)
        assert proc.poll() is None  # still serving


def test_app_rebuilds_a_corrupt_index_at_start(tmp_path, index_copy):
    from gradio_client import Client

    _damage(index_copy)
    with running_app(tmp_path, env={"QA_INDEX_DIR": str(index_copy)}) as (url, _):
        result = Client(url, verbose=False).predict(question="今年建筑业税收目标是多少", api_name="/answer")
        assert result["found"] and "突破4亿元" in result["text"]
    assert "rebuilding" in (tmp_path / "app.log").read_text()


def _wait_for(condition, proc, limit: float = 60.0) -> None:
    """Poll ``condition`` until it holds or ``proc`` ends (no fixed sleep)."""
    deadline = time.monotonic() + limit
    while not condition() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)


def test_killing_a_build_at_any_point_leaves_the_old_index(settings, index_copy, tmp_path):
    """SIGKILL the real `qa index build` at each stage of a rebuild (as it starts, as it
    begins writing the new build, once the build's first file is written, once the build
    is in place but not yet named in the manifest); the old index keeps loading, and the
    next build succeeds and cleans up."""
    before = json.loads((index_copy / "manifest.json").read_text())["build"]
    env = {**os.environ, "QA_INDEX_DIR": str(index_copy), "HF_HUB_OFFLINE": "1"}
    stages = [
        lambda: True,  # at once
        lambda: any(index_copy.glob(".tmp-*")),
        lambda: any(index_copy.glob(".tmp-*/chunks.json")),
        lambda: len(list(index_copy.glob("build-*"))) > 1,
    ]
    for stage in stages:
        proc = subprocess.Popen(
            [sys.executable, "-m", "qa.cli", "index", "build"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for(stage, proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        index = load_index(settings.with_(index_dir=index_copy))
        assert len(index.chunks) > 0
        current = json.loads((index_copy / "manifest.json").read_text())["build"]
        assert current == before or (index_copy / current).is_dir()
    done = subprocess.run(
        [sys.executable, "-m", "qa.cli", "index", "build"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "built index" in done.stdout
    load_index(settings.with_(index_dir=index_copy))
    assert len(list(index_copy.glob("build-*"))) == 1


def test_a_corrupt_query_encoder_is_exported_again(settings, tmp_path, caplog, engine):
    export = Embedder(settings).export_dir
    local = tmp_path / "query-encoders" / export.name
    shutil.copytree(export, local)
    (local / "model.onnx").write_bytes(b"not an onnx graph")
    embedder = Embedder(settings.with_(cache_dir=tmp_path))
    embedder._st = engine.embedder.sentence_transformer()  # reuse the loaded model
    embedder.prepare_query_encoder()
    assert embedder._query_encoder is not None
    assert "exporting it again" in caplog.text
    reference = engine.embedder.encode_query("六稳")
    assert float(embedder.encode_query("六稳") @ reference) > 0.9999
