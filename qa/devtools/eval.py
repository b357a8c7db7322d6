"""Evaluate retrieval and answers on question sets: ``qa eval QUESTIONS.jsonl…``.

Schema (one JSON object a line): ``id``, ``question``, ``answers`` (gold strings, any
one counts; ``[]`` = the report does not answer), ``type``, optional ``fold``, ``doc``
(the report it is about, by file name, with ``--corpus``) and ``history`` (the earlier
user questions of a conversation: they are asked first, in order, and the conversation
so far is passed along). Strings are compared with all whitespace removed.

With ``--corpus DIR`` the documents of DIR are indexed beside the bundled report and each
question is asked within its report and again across all, a row per report (``--by``),
with ``coverage`` and, across all, ``right_doc``. Printed, overall and per type or
report (columns explained in the README):

- ``R@1``, ``R@5``, ``MRR``: retrieval of a passage holding a gold answer;
- ``acc``: answerable questions answered confidently and right;
- ``conf_ok``: of all confident answers, the share that is right (the figure to watch);
- ``shown``: answerable questions whose quoted sentence (confident or tentative) holds it;
- ``unans_ok``: unanswerable questions not answered confidently;
- ``ans_unconf``: answerable questions not answered confidently.

``--cv`` also fits the answer model once per fold of the evaluated set, each time on the
set's other folds and the ``--train-with`` sets (for the reports' set a fold is a place:
leave-one-place-out), answers that fold with it, and prints those cross-validated
figures beside the in-sample ones.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from .. import console
from .questionsets import corpus_engine, holds, load_questions, question_sets

__all__ = ["Report", "evaluate", "glossary_pages", "holds", "load_questions"]

COLUMNS = ("n", "coverage", "R@1", "R@5", "MRR", "acc", "conf_ok", "shown", "unans_ok", "ans_unconf", "right_doc")


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
    from ..answering.answer import CONFIDENT, Answerer
    from ..engine import default_engine

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
    from ..engine import default_engine

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


def cross_validated_answerers(questions: list[dict], engine, train_with: list[dict] = ()) -> dict:
    """An answerer per fold of ``questions``, each with a model fitted without that fold:
    on the set's other folds and on ``train_with`` (other question sets, whole). Items
    carry their ``documents`` and set-qualified ``fold`` (see :func:`question_sets`)."""
    from ..answering.answer import Answerer
    from .train import cross_validated_models, training_examples, untrained_answerer

    retriever = engine.retriever
    examples = training_examples([*questions, *train_with], untrained_answerer(retriever))
    held = sorted({str(q["fold"]) for q in questions})
    models = cross_validated_models(examples, held)
    return {fold: Answerer(retriever, m) for fold, m in models.items()}


def compare_stores(questions: list[dict], documents=None) -> int:
    """Answer from the local store and from Milvus (built from the same documents when it
    has no index yet), and print their figures side by side."""
    from ..config import Settings
    from ..engine import Engine

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


def evaluate_corpus(questions: list[dict], engine, answerers=None, by: str = "doc") -> tuple[Report, Report]:
    """(asked within each question's report, asked across all documents), a row per
    value of the items' ``by`` field (their report, or their type)."""
    expected = lambda q: q["documents"][0]
    within = evaluate(questions, engine, answerers, scope=lambda q: q["documents"], by=by)
    across = evaluate(questions, engine, answerers, by=by, expected=expected)
    shares = {d.id: d.coverage for d in engine.documents()}
    for report in (within, across):
        for row in report.rows.values():
            row["coverage"] = None
        for q in questions:
            report.rows[str(q.get(by))]["coverage"] = shares.get(expected(q)) if by == "doc" else None
        known = [r["coverage"] for r in report.rows.values() if r["coverage"] is not None]
        report.rows["overall"]["coverage"] = min(known) if known else None
    return within, across


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="qa eval", description=__doc__.splitlines()[0])
    parser.add_argument("questions", nargs="+", help="JSON lines files of questions")
    parser.add_argument(
        "--corpus",
        metavar="DIR",
        help="index the documents of DIR beside the bundled report (items name theirs in 'doc'; without one, the "
        "bundled report) and ask each question within its report and across all",
    )
    parser.add_argument("--cv", action="store_true", help="also print cross-validated figures (each fold held out)")
    parser.add_argument(
        "--train-with", nargs="+", default=[], metavar="FILE", help="with --cv: more question sets to fit on, whole"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="list the misses")
    parser.add_argument(
        "--by", choices=("type", "doc"), help="a row per type or per report (default: per report with --corpus)"
    )
    parser.add_argument("--documents", nargs="+", metavar="ID", help="ask only these documents (default: all)")
    parser.add_argument(
        "--store", choices=("local", "milvus"), help="milvus: answer from both stores and print them side by side"
    )
    args = parser.parse_args(argv)
    console.setup()
    try:
        if args.store == "milvus":
            return compare_stores([q for path in args.questions for q in load_questions(path)], args.documents)
        engine, ids = corpus_engine(args.corpus)
        default = Path(engine.settings.corpus).stem if args.corpus else None
        questions = question_sets(args.questions, ids, default)
        train_with = question_sets(args.train_with, ids, default) if args.cv else []
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    titles = ["in-sample (the shipped answer model)"]
    if args.cv:
        titles.append("cross-validated (each fold answered by a model fitted without it)")
    for title in titles:
        answerers = cross_validated_answerers(questions, engine, train_with) if title != titles[0] else None
        if args.corpus:
            scopes = ("within each report", "across all documents")
            reports = zip(scopes, evaluate_corpus(questions, engine, answerers, args.by or "doc"))
        else:
            reports = [("", evaluate(questions, engine, answerers, documents=args.documents, by=args.by or "type"))]
        for scope, report in reports:
            if args.verbose:
                print("\n".join(report.failures) or "no misses")
            print(report.table(f"{title}, {scope}" if scope else title) + "\n")
    if not args.corpus:
        ok, total = glossary_pages(engine)
        print(f"glossary terms cited on their page: {ok}/{total}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
