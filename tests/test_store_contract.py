"""What every store promises the retriever (:class:`qa.stores.Store`), checked on each
backend with the same small corpus and a fake embedder: same reads, same meaning."""

from __future__ import annotations

import numpy as np
import pytest

from qa.config import Settings
from qa.corpus.builder import build_index, load_index
from qa.stores import BACKENDS, Store

from .fakes import HashEmbedder

FIRST = """某区2021年政府工作报告
——2021年1月20日在某区第九届人民代表大会第六次会议上
各位代表：
一、2020年工作回顾
全区新建学校三所，教师队伍扩充到一千二百人，学前教育普惠率提高到百分之九十。
医疗卫生服务更加完善，新建社区卫生服务中心两个，家庭医生签约覆盖全部村庄。
二、2021年主要目标
交通建设全面提速，改造城市道路十五条，新增公交线路四条，打通断头路六处。
生态环境持续改善，新增绿地面积二十公顷，空气质量优良天数达到三百天。
"""
SECOND = """另一区2022年政府工作报告
——2022年1月18日在另一区第三届人民代表大会第二次会议上
各位代表：
一、2021年工作回顾
粮食生产稳中有增，高标准农田建设完成八千亩，农业产业化龙头企业达到十二家。
文化旅游蓬勃发展，接待游客四百万人次，旅游综合收入增长百分之十五。
二、2022年主要目标
招商引资再上台阶，引进亿元以上项目二十个，实际利用外资增长百分之八。
"""


@pytest.fixture(scope="module", params=["local", pytest.param("milvus", marks=pytest.mark.milvus)])
def store(request, tmp_path_factory) -> Store:
    if request.param == "milvus":
        pytest.importorskip("milvus_lite")
    folder = tmp_path_factory.mktemp(f"store-{request.param}")
    files = []
    for name, text in (("first.txt", FIRST), ("second.txt", SECOND)):
        (folder / name).write_text(text, encoding="utf-8")
        files.append(folder / name)
    settings = Settings().with_(
        index_dir=folder / "index",
        store=request.param,
        milvus_uri=str(folder / "milvus.db"),
        milvus_collection="contract",
    )
    embedder = HashEmbedder()
    build_index(settings, embedder, progress=False, sources=files)
    return load_index(settings, embedder.fingerprint)


def ids(store) -> tuple[str, str]:
    first, second = (d.id for d in store.documents)
    return first, second


def all_positions(store) -> list[int]:
    return [store.position(d.id, n) for d in store.documents for n in range(d.passages)]


def test_it_is_a_store_of_the_registered_backend(store):
    assert isinstance(store, Store)
    assert type(store) in {BACKENDS[name] for name in BACKENDS}
    assert set(BACKENDS) == {"local", "milvus"}


def test_milvus_keeps_no_local_copy_of_what_it_serves(store):
    if not hasattr(store, "settings"):
        pytest.skip("the local store is its local files")
    builds = list(store.settings.index_dir.glob("build-*"))
    assert builds and not any((b / "dense.faiss").exists() or (b / "bm25").exists() for b in builds)


def test_passages_are_numbered_per_document_and_read_back_in_order(store):
    assert store.passage_count == sum(d.passages for d in store.documents) >= 6
    first, second = ids(store)
    positions = all_positions(store)
    assert len(set(positions)) == len(positions)
    chunks = store.passages(positions)
    assert [c.document for c in chunks] == [first] * store.documents[0].passages + [second] * store.documents[
        1
    ].passages
    backwards = store.passages(positions[::-1])
    assert [c.id for c in backwards] == [c.id for c in chunks][::-1]
    assert store.passages([]) == []


def test_a_passages_sentences_come_in_order_with_unit_vectors(store):
    for chunk, position in zip(store.passages(all_positions(store)), all_positions(store)):
        sentences = store.passage_sentences(position)
        assert sentences, chunk.text
        assert [s.start for s, _ in sentences] == sorted(s.start for s, _ in sentences)
        for sentence, vector in sentences:
            assert sentence.text in chunk.text
            assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-4


def test_the_sentence_sample_takes_every_kth_sentence_in_corpus_order(store):
    every = [v for p in all_positions(store) for _, v in store.passage_sentences(p)]
    full = store.sentence_sample(None, 1000)
    assert np.allclose(full, np.stack(every), atol=1e-5)
    three = store.sentence_sample(None, 3)
    stride = max(1, len(every) // 3)
    assert np.allclose(three, np.stack(every[::stride][:3]), atol=1e-5)
    first, _ = ids(store)
    mine = [v for n in range(store.documents[0].passages) for _, v in store.passage_sentences(store.position(first, n))]
    assert np.allclose(store.sentence_sample((first,), 1000), np.stack(mine), atol=1e-5)
    assert len(store.sentence_sample(("no-such-document",), 10)) == 0


def test_stats_count_the_documents_asked(store):
    first, second = ids(store)
    assert store.stats().passages == store.passage_count
    assert store.stats((first,)).passages == store.documents[0].passages
    assert store.stats((first, second)).passages == store.passage_count


@pytest.mark.parametrize("search", ["dense_search", "sentence_search"])
def test_vector_search_finds_the_passage_it_was_made_from(store, search):
    embedder = HashEmbedder()
    positions = all_positions(store)
    for chunk, position in zip(store.passages(positions), positions):
        query = chunk.search_text if search == "dense_search" else store.passage_sentences(position)[0][0].text
        found = getattr(store, search)(embedder.encode_query(query), 3)
        assert len(found) <= 3
        # the passage itself, or one of the same text (both reports open with 各位代表：)
        assert store.passages([int(found[0])])[0].text == chunk.text, (query, found)


@pytest.mark.parametrize("search", ["dense_search", "sentence_search"])
def test_vector_search_keeps_to_the_documents_asked(store, search):
    first, second = ids(store)
    vector = HashEmbedder().encode_query(SECOND.splitlines()[4])
    mine = {store.position(first, n) for n in range(store.documents[0].passages)}
    found = getattr(store, search)(vector, 50, (first,))
    assert len(found) > 0 and set(int(p) for p in found) <= mine
    assert len(getattr(store, search)(vector, 50, ())) == 0
    assert len(getattr(store, search)(vector, 50, ("no-such-document",))) == 0


def test_lexical_search_ranks_the_passage_with_the_words_first_and_keeps_to_the_documents(store):
    first, second = ids(store)
    words = store.passages([store.position(second, n) for n in range(store.documents[1].passages)])
    target = next(c for c in words if "游客" in c.text)
    found = store.lexical_search(["游客", "旅游"], 5)
    assert int(found[0]) == store.position(second, [c.id for c in words].index(target.id))
    assert len(store.lexical_search(["游客", "旅游"], 5, (first,))) == 0  # the other report never says it
    assert len(store.lexical_search(["从未出现的词"], 5)) == 0
    assert len(store.lexical_search(["游客"], 0)) == 0
