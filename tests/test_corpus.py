"""A corpus of several documents: add, list, remove; ask across them or within some."""

from __future__ import annotations

import json
import shutil

import pytest

from qa.cli import index_main as main
from qa.corpus.builder import add_documents, list_documents, load_index, remove_document
from qa.devtools.eval import glossary_pages
from qa.engine import Engine
from qa.errors import UnknownDocumentError

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def two_reports(built_index, settings, engine, second_report, tmp_path_factory):
    """The built index plus the second report (2021, another district)."""
    target = tmp_path_factory.mktemp("corpus") / "index"
    shutil.copytree(built_index, target)
    local = settings.with_(index_dir=target)
    added, errors = add_documents(local, [second_report], engine.embedder, progress=False)
    assert not errors and len(added) == 1
    return local, added[0]


@pytest.fixture(scope="module")
def corpus_engine(two_reports, engine):
    local, _ = two_reports
    other = Engine(local)
    other.embedder = engine.embedder  # share the loaded model
    return other.load()


def test_adding_embeds_only_the_new_document_and_lists_it(two_reports):
    local, second = two_reports
    assert (second.year, second.title, second.pages) == (2021, "文峰区2021年政府工作报告", None)
    documents = list_documents(local)
    assert [d.year for d in documents] == [2020, 2021]
    index = load_index(local)
    assert len(index.chunks) == sum(d.passages for d in documents)
    assert {c.document for c in index.chunks} == {d.id for d in documents}


def test_cli_list_json_and_one_line_errors(two_reports, tmp_path, capsys, second_report):
    local, second = two_reports
    assert main(["list", "--json", "--index-dir", str(local.index_dir)]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {"id", "title", "year", "pages", "passages", "source"} <= listed[0].keys()
    assert [d["id"] for d in listed][-1] == second.id
    before = (local.index_dir / "manifest.json").read_text()
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 broken")
    assert main(["add", str(second_report), str(broken), "--index-dir", str(local.index_dir)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2
    assert "already in the corpus" in err[0] and "broken.pdf: not a readable PDF" in err[1]
    assert (local.index_dir / "manifest.json").read_text() == before  # nothing changed
    assert not (local.index_dir / "sources" / "broken.pdf").exists()


def test_an_oversized_file_is_refused(two_reports, tmp_path, engine):
    local, _ = two_reports
    big = tmp_path / "big.txt"
    big.write_text("全区生产总值增长。" * 200_000, encoding="utf-8")
    added, errors = add_documents(local.with_(max_document_mb=1), [big], engine.embedder, progress=False)
    assert not added and "too large" in str(errors[0]) and errors[0].reason == "too_large" and errors[0].limit_mb == 1


def test_a_search_can_be_limited_to_some_documents(corpus_engine, two_reports):
    _, second = two_reports
    passages = corpus_engine.retrieve("生产总值", 5, [second.id])
    assert passages and {p.document for p in passages} == {second.id}
    assert passages[0].document_title == "文峰区2021年政府工作报告" and passages[0].document_year == 2021
    everywhere = corpus_engine.retrieve("生产总值", 10)
    assert len({p.document for p in everywhere}) == 2
    with pytest.raises(ValueError, match="unknown document id 'nope'"):
        corpus_engine.retrieve("生产总值", 5, ["nope"])
    with pytest.raises(TypeError, match="list of document ids"):
        corpus_engine.retrieve("生产总值", 5, second.id)


def test_the_report_whose_year_fits_is_quoted_and_named(corpus_engine, two_reports):
    _, second = two_reports
    answer = corpus_engine.answer("2021年建筑业税收目标是多少")
    assert answer.document == second.id and "突破5亿元" in answer.quote
    assert answer.cited.startswith("《文峰区2021年政府工作报告》")
    review = corpus_engine.answer("2019年全区生产总值是多少")
    assert review.document != second.id and "139.66亿元" in review.quote
    assert "《北关区2020年政府工作报告》" in review.cited


def test_relative_years_read_against_each_document(corpus_engine, two_reports):
    local, second = two_reports
    bundled = next(d.id for d in list_documents(local) if d.id != second.id)
    assert "突破4亿元" in corpus_engine.answer("今年建筑业税收目标是多少", documents=[bundled]).text
    assert "突破5亿元" in corpus_engine.answer("今年建筑业税收目标是多少", documents=[second.id]).text
    # asked of both districts, a year names the report that covers it; 今年 alone is each one's own
    assert corpus_engine.answer("2021年建筑业税收目标是多少").document == second.id
    assert corpus_engine.answer("今年建筑业税收目标是多少").document_title in {d.title for d in list_documents(local)}


def test_a_comparison_quotes_each_report(corpus_engine):
    answer = corpus_engine.answer("两年的建筑业税收目标各是多少")
    assert answer.kind == "confident" and len({p.document for p in answer.citations}) == 2
    assert "突破5亿元" in answer.text and "突破4亿元" in answer.text and "[2]" in answer.text


def test_a_single_question_is_no_comparison(corpus_engine):
    assert len(corpus_engine.answer("2019年全区生产总值是多少").citations) == 1


def test_a_pdf_indexed_cites_every_glossary_term_on_its_page(report_pdf, settings, engine, tmp_path):
    from qa.corpus.builder import build_index

    local = settings.with_(index_dir=tmp_path / "pdf-index")
    build_index(local, engine.embedder, progress=False, sources=[report_pdf])
    pdf_engine = Engine(local)
    pdf_engine.embedder = engine.embedder
    assert glossary_pages(pdf_engine.load()) == (35, 35)
    answer = pdf_engine.answer("今年建筑业税收目标是多少")
    assert answer.key == "突破4亿元" and answer.cited == "正文第12页"


def test_a_change_by_another_process_is_served(two_reports, engine, tmp_path, monkeypatch):
    local, second = two_reports
    copy = tmp_path / "index"
    shutil.copytree(local.index_dir, copy)
    mine = local.with_(index_dir=copy)
    serving = Engine(mine)
    serving.embedder = engine.embedder
    serving.load()
    monkeypatch.setattr(Engine, "CHANGE_CHECK_SECONDS", 0.0)
    assert len(serving.retriever.documents) == 2
    remove_document(mine, second.id, engine.embedder)  # as `qa-index remove` would, elsewhere
    assert list(serving.retriever.documents) == [d.id for d in list_documents(mine)]
    assert len(serving.retriever.documents) == 1
    with pytest.raises(ValueError, match="cannot remove the only document"):
        remove_document(mine, next(iter(serving.retriever.documents)), engine.embedder)
    with pytest.raises(UnknownDocumentError, match="not in the corpus"):
        remove_document(mine, "ffffffff", engine.embedder)
