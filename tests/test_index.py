"""Saving, loading, staleness and corruption of the index; atomic rebuilds."""

import json

import pytest

from qa.cli import index_main as main
from qa.corpus.builder import build_index, load_index
from qa.errors import IndexCorruptError, IndexMissingError, IndexStaleError
from qa.ingest.chunking import chunk_document
from qa.records import FIX_COMMAND

pytestmark = pytest.mark.integration


def test_round_trip(built_index, settings, engine, document):
    index = load_index(settings.with_(index_dir=built_index), engine.embedder.fingerprint)
    chunks = chunk_document(document)
    assert [c.text for c in index.chunks] == [c.text for c in chunks]
    assert index.dense.ntotal == len(chunks)
    manifest = index.manifest
    assert manifest["counts"]["chunks"] == len(chunks)
    assert manifest["model_fingerprint"] == engine.embedder.fingerprint
    assert {"documents", "chunker_version", "built_at", "files"} <= manifest.keys()
    (doc,) = index.documents
    assert (doc.year, doc.pages, doc.passages, doc.title) == (2020, 28, len(chunks), "北关区2020年政府工作报告")
    assert {c.document for c in index.chunks} == {doc.id}


def test_the_served_index_is_current(settings, engine, document):
    """The index the app serves (built on first use) holds this corpus, chunker and model."""
    index = load_index(settings, engine.embedder.fingerprint)
    assert [c.text for c in index.chunks] == [c.text for c in chunk_document(document)]


def test_the_index_is_not_committed():
    """Building, adding or removing never leaves the repository's git tree dirty."""
    import subprocess

    from qa.config import REPO_DIR

    tracked = subprocess.run(
        ["git", "ls-files", "index"], cwd=REPO_DIR, capture_output=True, text=True, check=False
    ).stdout.split()
    if not tracked:
        pytest.skip("not a git checkout")
    assert sorted(tracked) == ["index/.gitignore", "index/README.md"]
    ignored = subprocess.run(
        ["git", "check-ignore", "index/manifest.json", "index/sources/x.pdf", "index/build-1/dense.faiss"],
        cwd=REPO_DIR,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    assert len(ignored) == 3


def test_missing_index(settings, tmp_path):
    with pytest.raises(IndexMissingError, match=FIX_COMMAND):
        load_index(settings.with_(index_dir=tmp_path / "nothing"))


def test_stale_when_the_corpus_changes(settings, engine, tmp_path):
    corpus = tmp_path / "report.txt"
    corpus.write_text(settings.corpus.read_text(encoding="utf-8"), encoding="utf-8")
    local = settings.with_(index_dir=tmp_path / "index", corpus=corpus)
    build_index(local, engine.embedder, progress=False)
    load_index(local)
    with corpus.open("a", encoding="utf-8") as fh:
        fh.write("\n新增一句。\n")
    with pytest.raises(IndexStaleError, match="corpus changed.*qa-index build"):
        load_index(local)
    build_index(local, engine.embedder, progress=False)  # what the app does for a stale index
    assert "新增一句" in load_index(local).chunks[-1].text
    assert len(list((tmp_path / "index" / "sources").iterdir())) == 1  # the old copy is gone


def test_stale_when_the_chunker_or_model_changes(settings, index_copy, engine):
    manifest_path = index_copy / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["chunker_version"] = "0"
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexStaleError, match="chunker changed"):
        load_index(settings.with_(index_dir=index_copy))
    from qa.ingest.chunking import CHUNKER_VERSION

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
@pytest.mark.parametrize("change", ["build", "add", "remove"])
def test_an_interrupted_change_leaves_the_previous_index(
    settings, engine, index_copy, monkeypatch, tmp_path, change, fail_at
):
    import bm25s
    import faiss

    import qa.corpus.builder as index_module
    from qa.corpus.builder import add_documents, remove_document
    from tests.fixtures import second_report

    local = settings.with_(index_dir=index_copy)
    second = second_report(tmp_path / "second.txt")
    if change == "remove":
        add_documents(local, [second], engine.embedder, progress=False)
    before = load_index(local).manifest

    def boom(*args, **kwargs):
        raise KeyboardInterrupt("simulated kill")

    target = {
        "encode": (engine.embedder, "encode_passages"),
        "faiss": (faiss, "write_index"),
        "bm25": (bm25s.BM25, "save"),
        "manifest": (index_module, "write_atomic"),
    }[fail_at]
    if change == "build":  # a rebuild that must embed: another chunker version
        import qa.corpus.manifest

        monkeypatch.setattr(index_module, "CHUNKER_VERSION", "test")
        monkeypatch.setattr(qa.corpus.manifest, "CHUNKER_VERSION", "test")
    monkeypatch.setattr(*target, boom)
    run = {
        "build": lambda: build_index(local, engine.embedder, progress=False),
        "add": lambda: add_documents(local, [second], engine.embedder, progress=False),
        "remove": lambda: remove_document(local, before["documents"][-1]["id"], engine.embedder),
    }[change]
    if change == "remove" and fail_at == "encode":
        run()  # removing embeds nothing: it succeeds
        assert len(load_index(local).documents) == 1
        return
    if change == "add" and fail_at == "encode":
        second.write_text(second.read_text(encoding="utf-8") + "\n另一句新的内容。\n", encoding="utf-8")
    with pytest.raises(KeyboardInterrupt):
        run()
    monkeypatch.undo()
    after = load_index(local)
    assert after.manifest["build"] == before["build"]
    assert [d.id for d in after.documents] == [d["id"] for d in before["documents"]]
    assert not list(index_copy.glob("**/.tmp-*"))
    # and the next change succeeds and cleans up
    run()
    assert len(list(index_copy.glob("build-*"))) == 1
    load_index(local)


def test_cli_check_reports_problems(settings, index_copy, capsys):
    assert main(["check", "--index-dir", str(index_copy)]) == 0
    out = capsys.readouterr().out
    assert "index OK" in out and "北关区2020年政府工作报告: 99 passages, 256 sentences, text held 100.0%" in out
    (index_copy / "manifest.json").unlink()
    assert main(["check", "--index-dir", str(index_copy)]) == 1
    assert "qa-index build" in capsys.readouterr().err


def test_cli_reports_a_bad_setting_in_one_line(monkeypatch, capsys):
    monkeypatch.setenv("QA_STORE", "bogus")
    assert main(["list"]) == 1
    assert capsys.readouterr().err.strip() == "error: QA_STORE must be one of local, milvus, not 'bogus'"
