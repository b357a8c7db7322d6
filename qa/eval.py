"""Evaluate retrieval and answers on a question set: ``python -m qa.eval QUESTIONS.jsonl``.

Schema (one JSON object a line): ``id``, ``question``, ``answers`` (gold strings, any
one counts; ``[]`` = the report does not answer), ``type``, optional ``fold`` and
``history`` (the earlier user questions of a conversation: they are asked first, in
order, and the conversation so far is passed along). Strings are compared with all
whitespace removed.

Printed, overall and per type (columns explained in the README):

- ``R@1``, ``R@5``, ``MRR``: retrieval of a passage holding a gold answer;
- ``acc``: answerable questions answered confidently and right;
- ``conf_ok``: of all confident answers, the share that is right (the figure to watch);
- ``shown``: answerable questions whose quoted sentence (confident or tentative) holds it;
- ``unans_ok``: unanswerable questions not answered confidently;
- ``ans_unconf``: answerable questions not answered confidently.

``--cv`` also fits the answer model five times, each time without one fold, answers
that fold with it, and prints those cross-validated figures beside the in-sample ones.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from . import console

__all__ = ["load_questions", "evaluate", "Report", "holds", "glossary_pages"]

_WS = re.compile(r"\s+")
COLUMNS = ("n", "coverage", "R@1", "R@5", "MRR", "acc", "conf_ok", "shown", "unans_ok", "ans_unconf", "right_doc")


def squash(text: str) -> str:
    return _WS.sub("", text)


def holds(text: str, answers: list[str]) -> bool:
    """Whether ``text`` contains a gold answer (whitespace ignored on both sides)."""
    t = squash(text)
    return any(squash(a) and squash(a) in t for a in answers)


def load_questions(path: str | Path) -> list[dict]:
    out = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        item = json.loads(line)
        if not isinstance(item.get("question"), str) or not isinstance(item.get("answers"), list):
            raise ValueError(f"{path}:{n}: needs 'question' (str) and 'answers' (list)")
        item.setdefault("type", "all")
        item.setdefault("id", f"line{n}")
        item.setdefault("fold", 0)
        out.append(item)
    return out


@dataclass
class _Acc:
    n: int = 0
    answerable: int = 0
    r1: int = 0
    r5: int = 0
    rr: float = 0.0
    correct: int = 0
    confident: int = 0
    confident_right: int = 0
    shown: int = 0
    answerable_unconfident: int = 0
    unanswerable: int = 0
    unanswerable_unconfident: int = 0
    confident_right_doc: int = 0

    def row(self, with_doc: bool = False) -> dict:
        def share(a, b):
            return a / b if b else None

        extra = {"right_doc": share(self.confident_right_doc, self.confident)} if with_doc else {}
        return extra | {
            "n": self.n,
            "R@1": share(self.r1, self.answerable),
            "R@5": share(self.r5, self.answerable),
            "MRR": share(self.rr, self.answerable),
            "acc": share(self.correct, self.answerable),
            "conf_ok": share(self.confident_right, self.confident),
            "shown": share(self.shown, self.answerable),
            "unans_ok": share(self.unanswerable_unconfident, self.unanswerable),
            "ans_unconf": share(self.answerable_unconfident, self.answerable),
        }


@dataclass
class Report:
    rows: dict[str, dict]
    failures: list[str] = field(default_factory=list)

    def table(self, title: str = "") -> str:
        lines = [title] if title else []
        columns = [c for c in COLUMNS if any(c in row for row in self.rows.values())]
        width = max([14, *(len(name) + 2 for name in self.rows)])
        lines.append(f"{'':<{width}}" + "".join(f"{c:>11}" for c in columns))
        for name, row in self.rows.items():
            values = [row.get(c) for c in columns]
            cells = ["-" if v is None else f"{v:.0f}" if c == "n" else f"{v:.3f}" for c, v in zip(columns, values)]
            lines.append(f"{name:<{width}}" + "".join(f"{c:>11}" for c in cells))
        return "\n".join(lines)


def ask(answerer, item: dict, documents=None):
    """Ask a question-set item, its conversation first; returns the last Answer."""
    messages: list[dict] = []
    for earlier in item.get("history", []):
        reply = answerer.answer(earlier, messages, documents)
        messages += [{"role": "user", "content": earlier}, {"role": "assistant", "content": reply.text}]
    return answerer.answer(item["question"], messages, documents)


def evaluate(
    questions: list[dict],
    engine=None,
    answerers: dict | None = None,
    documents=None,
    scope=None,
    by: str = "type",
    expected=None,
) -> Report:
    """Run every question through retrieval and the answer layer.

    ``answerers`` maps a fold to the answerer for that fold's questions (cross-
    validation); by default the engine's own answers every question. ``documents``:
    the ids of the documents asked (None: all); ``scope(item)``, when given, says it per
    question instead. Rows are ``overall`` and one per value of the items' ``by`` field.
    ``expected(item)`` names the document a question is about: confident answers quoting
    it count towards ``right_doc``.
    """
    from .answer import CONFIDENT, Answerer
    from .engine import default_engine

    engine = engine or default_engine()
    default = Answerer(engine.retriever, engine.fitted.answer)
    accs: dict[str, _Acc] = defaultdict(_Acc)
    failures = []
    for q in questions:
        asked = scope(q) if scope else documents
        answerer = (answerers or {}).get(q.get("fold"), default)
        result = ask(answerer, q, asked)
        passages = engine.retrieve(result.question, 10, asked)
        confident = result.kind == CONFIDENT
        right = confident and holds(result.text, q["answers"])
        doc = expected(q) if expected else None
        for acc in (accs["overall"], accs[str(q.get(by, "all"))]):
            acc.n += 1
            acc.confident += confident
            acc.confident_right += right
            if doc is not None:
                acc.confident_right_doc += confident and result.document == doc
            if q["answers"]:
                acc.answerable += 1
                ranks = [i for i, p in enumerate(passages) if holds(p.text, q["answers"])]
                acc.r1 += bool(ranks and ranks[0] == 0)
                acc.r5 += bool(ranks and ranks[0] < 5)
                acc.rr += 1 / (ranks[0] + 1) if ranks else 0.0
                acc.correct += right
                acc.shown += bool(result.quote) and holds(result.quote, q["answers"])
                acc.answerable_unconfident += not confident
            else:
                acc.unanswerable += 1
                acc.unanswerable_unconfident += not confident
        shown = f"{result.kind} {result.confidence:.2f} {result.text[:70]!r}"
        if q["answers"] and not right:
            failures.append(f"{q['id']} {q['type']}: {q['question']} [{result.question}] → {shown} {result.reason}")
        elif not q["answers"] and confident:
            failures.append(f"{q['id']} answered: {q['question']} → {shown}")
    order = ["overall"] + sorted(k for k in accs if k != "overall")
    return Report({k: accs[k].row(expected is not None) for k in order}, failures)


def glossary_pages(engine=None) -> tuple[int, int]:
    """(glossary terms whose first quoted use in the main text is cited on the page the
    glossary gives, glossary terms): a check of sentence-level page citations. Reads the
    store through its interface, so it runs on Milvus too."""
    from .engine import default_engine

    retriever = (engine or default_engine()).retriever
    index = retriever.index
    ok = total = 0
    for doc in retriever.documents.values():
        sentences = [s for n in range(doc.passages) for s, _ in index.passage_sentences(index.position(doc.id, n))]
        entries = index.passages(sorted({pos for _, pos in index.stats((doc.id,)).glossary}))
        for chunk in entries:
            m = re.search(r"\(正文第(\d+)页?\)", chunk.text)
            if not m:
                continue
            total += 1
            term = chunk.heading[-1]
            quoted = re.findall(r"“[^”]+”", term)  # 残疾人“两项补贴” is written “两项补贴” in the text
            needle = quoted[0] if quoted else term
            first = next((s for s in sentences if s.page is not None and needle in s.text), None)
            ok += first is not None and first.page == int(m.group(1))
    return ok, total


def cross_validated(questions: list[dict], engine=None, documents=None) -> Report:
    """Figures with each fold answered by a model fitted on the other folds."""
    from .answer import Answerer
    from .engine import default_engine
    from .train import cross_validated_models, training_examples, untrained_answerer

    engine = engine or default_engine()
    retriever = engine.retriever.scoped(documents)
    examples = training_examples(questions, untrained_answerer(retriever))
    models = cross_validated_models(examples)
    return evaluate(questions, engine, {fold: Answerer(retriever, m) for fold, m in models.items()}, documents)


def compare_stores(questions: list[dict], documents=None) -> int:
    """Answer from the local store and from Milvus (built from the same documents when it
    has no index yet), and print their figures side by side."""
    from .config import Settings
    from .engine import Engine

    local = Engine(Settings().with_(store="local"))
    milvus = Engine(Settings().with_(store="milvus"))
    milvus.embedder = local.embedder  # one model in memory
    rows = {
        name: evaluate(questions, engine, documents=documents).rows
        for name, engine in (("local", local), ("milvus", milvus))
    }
    print(f"{'type':<14}" + "".join(f"{f'{c} {s}':>16}" for c in ("R@1", "acc") for s in ("local", "milvus")))
    for kind in rows["local"]:
        cells = [rows[s][kind][c] for c in ("R@1", "acc") for s in ("local", "milvus")]
        print(f"{kind:<14}" + "".join(f"{'-' if v is None else f'{v:.3f}':>16}" for v in cells))
    worst = max(abs((rows["local"]["overall"][c] or 0) - (rows["milvus"]["overall"][c] or 0)) for c in ("R@1", "acc"))
    print(f"\nlargest overall difference: {worst:.3f}")
    return 0


def corpus_engine(folder: str | Path, settings=None):
    """An engine over the bundled report and every document in ``folder``, and a map
    from each file's name (without its extension) to its document id.

    The index lives in the user cache (one per folder) and is rebuilt on every call, but
    a document is embedded again only when its file, the chunker or the model changed."""
    import hashlib

    from .config import Settings
    from .engine import Engine
    from .index import build_index, list_documents
    from .readers import SUPPORTED_SUFFIXES

    settings = settings or Settings()
    folder = Path(folder).resolve()
    files = sorted(f for f in folder.iterdir() if f.suffix.lower() in SUPPORTED_SUFFIXES and f.stem.upper() != "SOURCES")
    if not files:
        raise ValueError(f"{folder}: no documents ({', '.join(SUPPORTED_SUFFIXES)})")
    name = hashlib.sha1(str(folder).encode()).hexdigest()[:10]
    settings = settings.with_(index_dir=settings.cache_dir / "eval" / f"{folder.name}-{name}")
    engine = Engine(settings)
    build_index(settings, engine.embedder, progress=False, sources=[settings.corpus, *files])
    ids = {Path(d.source).stem: d.id for d in list_documents(settings)}
    return engine, ids


def corpus_coverage(engine) -> dict[str, float]:
    """Each document's share of source sentences found in its passages (see
    :func:`qa.chunking.coverage`), by document id."""
    from .chunking import coverage
    from .documents import parse_source
    from .readers import read_source

    out = {}
    for doc in engine.documents():
        source = read_source(engine.settings.index_dir / doc.file, doc.source)
        out[doc.id] = coverage(source, parse_source(source), doc.id).share
    return out


def evaluate_corpus(questions: list[dict], engine, ids: dict[str, str], answerers=None) -> tuple[Report, Report]:
    """(asked within each question's report, asked across all documents), per report."""
    unknown = sorted({q.get("doc") for q in questions} - set(ids))
    if unknown:
        raise ValueError(f"questions name documents not in the corpus folder: {', '.join(map(str, unknown))}")
    expected = lambda q: ids[q["doc"]]  # noqa: E731
    within = evaluate(questions, engine, answerers, scope=lambda q: [expected(q)], by="doc")
    across = evaluate(questions, engine, answerers, by="doc", expected=expected)
    shares = corpus_coverage(engine)
    for report in (within, across):
        for name, row in report.rows.items():
            row["coverage"] = shares[ids[name]] if name in ids else min(shares[ids[n]] for n in report.rows if n in ids)
    return within, across


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qa.eval", description=__doc__.splitlines()[0])
    parser.add_argument("questions", help="JSON lines file of questions")
    parser.add_argument("--cv", action="store_true", help="also print 5-fold cross-validated figures")
    parser.add_argument("-v", "--verbose", action="store_true", help="list the misses")
    parser.add_argument("--documents", nargs="+", metavar="ID", help="ask only these documents (default: all)")
    parser.add_argument(
        "--store", choices=("local", "milvus"), help="milvus: answer from both stores and print them side by side"
    )
    parser.add_argument(
        "--corpus",
        metavar="DIR",
        help="index the documents of DIR beside the bundled report (items name theirs in 'doc') and ask each "
        "question within its report and across all",
    )
    args = parser.parse_args(argv)
    console.setup()
    try:
        questions = load_questions(args.questions)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.store == "milvus":
        return compare_stores(questions, args.documents)
    if args.corpus:
        engine, ids = corpus_engine(args.corpus)
        within, across = evaluate_corpus(questions, engine, ids)
        for title, report in (("within each report", within), ("across all documents", across)):
            if args.verbose:
                print("\n".join(report.failures) or "no misses")
            print(report.table(f"in-sample (the shipped answer model), {title}") + "\n")
        return 0
    report = evaluate(questions, documents=args.documents)
    if args.verbose:
        print("\n".join(report.failures) or "no misses")
        print()
    print(report.table("in-sample (the shipped answer model)"))
    if args.cv:
        cv = cross_validated(questions, documents=args.documents)
        if args.verbose:
            print("\n" + ("\n".join(cv.failures) or "no misses"))
        print()
        print(cv.table("cross-validated (each fold answered by a model fitted without it)"))
    ok, total = glossary_pages()
    print(f"\nglossary terms cited on their page: {ok}/{total}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
