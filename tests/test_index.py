"""Saving, loading, staleness and corruption of the index; atomic rebuilds."""

import json

import pytest

from qa.chunking import chunk_document
from qa.index import (
    FIX_COMMAND,
    IndexCorruptError,
    IndexMissingError,
    IndexStaleError,
    build_index,
    load_index,
    main,
)


def test_round_trip(built_index, settings, engine, document):
    index = load_index(settings.with_(index_dir=built_index), engine.embedder.fingerprint)
    chunks = chunk_document(document)
    assert [c.text for c in index.chunks] == [c.text for c in chunks]
    assert index.dense.ntotal == len(chunks)
    manifest = index.manifest
    assert manifest["counts"]["chunks"] == len(chunks)
    assert manifest["model_fingerprint"] == engine.embedder.fingerprint
    assert {"corpus_sha256", "chunker_version", "built_at", "files"} <= manifest.keys()


def test_committed_index_is_current(settings, engine, document):
    """The index in the repository was built from this corpus, chunker and model."""
    index = load_index(settings, engine.embedder.fingerprint)
    assert [c.text for c in index.chunks] == [c.text for c in chunk_document(document)]


def test_missing_index(settings, tmp_path):
    with pytest.raises(IndexMissingError, match=FIX_COMMAND):
        load_index(settings.with_(index_dir=tmp_path / "nothing"))


def test_stale_when_the_corpus_changes(settings, index_copy, tmp_path):
    corpus = tmp_path / "report.txt"
    corpus.write_text(settings.corpus.read_text(encoding="utf-8") + "\n新增一句。\n", encoding="utf-8")
    with pytest.raises(IndexStaleError, match="corpus changed.*qa-index build"):
        load_index(settings.with_(index_dir=index_copy, corpus=corpus))


def test_stale_when_the_chunker_or_model_changes(settings, index_copy, engine):
    manifest_path = index_copy / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["chunker_version"] = "0"
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexStaleError, match="chunker changed"):
        load_index(settings.with_(index_dir=index_copy))
    from qa.chunking import CHUNKER_VERSION

    manifest["chunker_version"] = CHUNKER_VERSION
    manifest["model_fingerprint"] = "something-else"
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexStaleError, match="model's weights changed"):
        load_index(settings.with_(index_dir=index_copy), engine.embedder.fingerprint)
    with pytest.raises(IndexStaleError, match="model changed"):
        load_index(settings.with_(index_dir=index_copy, model="BAAI/bge-small-zh-v1.5"))


def _build_dir(index_dir):
    return index_dir / json.loads((index_dir / "manifest.json").read_text())["build"]


@pytest.mark.parametrize("damage", ["truncate", "garbage", "delete", "empty"])
@pytest.mark.parametrize("name", ["dense.faiss", "chunks.json", "bm25/params.index.json"])
def test_corrupt_files_are_detected(settings, index_copy, damage, name):
    path = _build_dir(index_copy) / name
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    elif damage == "garbage":
        path.write_bytes(b"\x00garbage\xff" * 100)
    elif damage == "delete":
        path.unlink()
    else:
        path.write_bytes(b"")
    with pytest.raises(IndexCorruptError, match=f"{FIX_COMMAND}$"):
        load_index(settings.with_(index_dir=index_copy))


@pytest.mark.parametrize("content", ["", "{not json", "[]", '{"format_version": 99}', "\x00\x01"])
def test_corrupt_manifest(settings, index_copy, content):
    (index_copy / "manifest.json").write_text(content)
    with pytest.raises(IndexCorruptError, match=FIX_COMMAND):
        load_index(settings.with_(index_dir=index_copy))


@pytest.mark.parametrize("fail_at", ["encode", "faiss", "bm25", "manifest"])
def test_an_interrupted_build_leaves_the_previous_index(settings, engine, index_copy, monkeypatch, fail_at):
    import faiss
    import bm25s

    import qa.index as index_module

    before = load_index(settings.with_(index_dir=index_copy)).manifest["build"]

    def boom(*args, **kwargs):
        raise KeyboardInterrupt("simulated kill")

    target = {
        "encode": (engine.embedder, "encode_passages"),
        "faiss": (faiss, "write_index"),
        "bm25": (bm25s.BM25, "save"),
        "manifest": (index_module, "_write_atomic"),
    }[fail_at]
    monkeypatch.setattr(*target, boom)
    with pytest.raises(KeyboardInterrupt):
        build_index(settings.with_(index_dir=index_copy), engine.embedder, progress=False)
    monkeypatch.undo()
    after = load_index(settings.with_(index_dir=index_copy))
    assert after.manifest["build"] == before
    assert not list(index_copy.glob(".tmp-*"))
    # and the next build succeeds and cleans up
    build_index(settings.with_(index_dir=index_copy), engine.embedder, progress=False)
    assert len(list(index_copy.glob("build-*"))) == 1
    load_index(settings.with_(index_dir=index_copy))


def test_cli_check_reports_problems(settings, index_copy, capsys):
    assert main(["check", "--index-dir", str(index_copy)]) == 0
    assert "index OK" in capsys.readouterr().out
    (index_copy / "manifest.json").unlink()
    assert main(["check", "--index-dir", str(index_copy)]) == 1
    assert "qa-index build" in capsys.readouterr().err
