"""Per-document statistics: what retrieval knows about documents without reading them."""

from qa.records import Chunk
from qa.stores.stats import CorpusStats, DocumentStats, document_stats, merge


def _chunk(text: str, kind: str = "paragraph", heading: tuple[str, ...] = ("一、",)) -> Chunk:
    return Chunk("c", text, heading, 1, None, 0, len(text), kind)


def _stats() -> DocumentStats:
    chunks = [
        _chunk("安阳市北关区人民政府", kind="cover", heading=()),
        _chunk("新招聘教师109人，改造老旧小区。"),
        _chunk("“六稳”：稳就业、稳金融。", kind="glossary", heading=("词语解释", "六稳")),
    ]
    tokens = [["安阳市", "北关区"], ["招聘", "教师", "109人"], ["六稳", "稳就业"]]
    return document_stats(chunks, tokens)


def test_a_documents_counts():
    st = _stats()
    assert st.passages == 3 and st.tokens == 7
    assert st.doc_freq["教师"] == 1 and st.meta == (0,)
    assert ("六稳", 2) in st.glossary
    assert DocumentStats.from_json(st.to_json()) == st


def test_merged_stats_use_the_stores_positions_and_tell_the_words_used():
    merged = merge([("a", _stats(), lambda n: 100 + n), ("b", _stats(), lambda n: 200 + n)])
    assert merged.passages == 6 and merged.doc_freq["教师"] == 2
    assert merged.meta == [100, 200] and {pos for _, pos in merged.glossary} == {102, 202}
    assert merged.uses("教师") and merged.uses("老旧小区") and merged.uses("安") and merged.uses("PM") is False
    assert not merged.uses("大学") and not merged.uses("朝阳区")
    assert CorpusStats.from_json(merged.to_json()) == merged
