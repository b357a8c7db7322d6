"""Chunks follow the structure, have sensible sizes and carry their citation."""

from qa.ingest.chunking import HARD_MAX_CHARS, chunk_document, split_sentences


def test_every_chunk_points_back_into_the_cleaned_text(document):
    for chunk in chunk_document(document):
        assert document.text[chunk.start : chunk.end] == chunk.text


def test_sizes(document):
    chunks = chunk_document(document)
    lengths = [len(c.text) for c in chunks if c.kind != "glossary"]
    assert max(len(c.text) for c in chunks) <= HARD_MAX_CHARS
    assert sum(100 <= n <= 300 for n in lengths) / len(lengths) >= 0.8
    assert min(lengths) >= 30  # tiny blocks were merged


def test_one_chunk_per_glossary_entry(document):
    glossary = [c for c in chunk_document(document) if c.kind == "glossary"]
    assert [c.entry for c in glossary] == list(range(1, 36))
    assert all(c.page is None and c.source == f"词语解释 第{c.entry}条" for c in glossary)


def test_metadata_of_the_example_passage(document):
    chunk = next(c for c in chunk_document(document) if "税收贡献突破4亿元" in c.text)
    assert chunk.page == 12
    assert chunk.source == "正文"
    assert chunk.section.startswith("二、今年发展主要目标和下一阶段工作部署 › （一）聚焦转型升级，做大做强优势产业")
    assert chunk.search_text.startswith(chunk.section)


def test_ids_are_stable_and_unique(document):
    first, second = chunk_document(document), chunk_document(document)
    assert [c.id for c in first] == [c.id for c in second]
    assert len({c.id for c in first}) == len(first)


def test_long_paragraphs_split_at_sentence_ends(document):
    pieces = [c for c in chunk_document(document) if c.heading == ("一、2019年和今年以来工作回顾",)]
    for chunk in pieces:
        assert chunk.text[-1] in "。！？；：”"


def test_split_sentences_keeps_closing_quotes():
    assert split_sentences("要求“四个不摘”。这是第二句！第三句") == ["要求“四个不摘”。", "这是第二句！", "第三句"]
    assert split_sentences("他说：“好。”然后走了。") == ["他说：“好。”", "然后走了。"]
