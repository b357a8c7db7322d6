"""Evaluate retrieval and answers on a question set: ``python -m qa.eval QUESTIONS.jsonl``.

Schema (one JSON object a line): ``id``, ``question``, ``answers`` (gold strings, any one
counts; ``[]`` = the report does not answer), ``type``. Strings are compared with all
whitespace removed. Prints, overall and per type: recall@1, recall@5 and MRR@10 of
retrieval (a passage holds the answer when it contains a gold string), the mean and
maximum passage length, answer accuracy, and the share of unanswerable questions
declined and of answerable ones wrongly declined.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["load_questions", "evaluate", "Report"]

_WS = re.compile(r"\s+")


def squash(text: str) -> str:
    return _WS.sub("", text)


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
        out.append(item)
    return out


def holds(text: str, answers: list[str]) -> bool:
    t = squash(text)
    return any(squash(a) in t for a in answers)


@dataclass
class _Acc:
    n: int = 0
    answerable: int = 0
    r1: int = 0
    r5: int = 0
    rr: float = 0.0
    lengths: list[int] = field(default_factory=list)
    correct: int = 0
    wrongly_declined: int = 0
    unanswerable: int = 0
    declined: int = 0

    def row(self) -> dict:
        a = max(self.answerable, 1)
        return {
            "n": self.n,
            "recall@1": self.r1 / a if self.answerable else None,
            "recall@5": self.r5 / a if self.answerable else None,
            "mrr@10": self.rr / a if self.answerable else None,
            "mean_len": sum(self.lengths) / max(len(self.lengths), 1),
            "max_len": max(self.lengths, default=0),
            "answer_acc": self.correct / a if self.answerable else None,
            "wrongly_declined": self.wrongly_declined / a if self.answerable else None,
            "declined": self.declined / self.unanswerable if self.unanswerable else None,
        }


@dataclass
class Report:
    rows: dict[str, dict]
    failures: list[str]

    def table(self) -> str:
        cols = [
            "n",
            "recall@1",
            "recall@5",
            "mrr@10",
            "mean_len",
            "max_len",
            "answer_acc",
            "wrongly_declined",
            "declined",
        ]
        lines = [f"{'type':<14}" + "".join(f"{c:>17}" for c in cols)]
        for name, row in self.rows.items():
            cells = []
            for c in cols:
                v = row.get(c)
                cells.append("-" if v is None else f"{v:.0f}" if c in ("n", "max_len", "mean_len") else f"{v:.3f}")
            lines.append(f"{name:<14}" + "".join(f"{c:>17}" for c in cells))
        return "\n".join(lines)


def evaluate(questions: list[dict], engine=None, with_answers: bool = True) -> Report:
    """Run every question through retrieval (and ``answer`` unless disabled)."""
    from .engine import default_engine

    engine = engine or default_engine()
    accs: dict[str, _Acc] = defaultdict(_Acc)
    failures = []
    for q in questions:
        passages = engine.retrieve(q["question"], k=10)
        result = engine.answer(q["question"]) if with_answers else None
        for acc in (accs["overall"], accs[q["type"]]):
            acc.n += 1
            acc.lengths.extend(len(p.text) for p in passages[:5])
            if q["answers"]:
                acc.answerable += 1
                ranks = [i for i, p in enumerate(passages) if holds(p.text, q["answers"])]
                acc.r1 += bool(ranks and ranks[0] == 0)
                acc.r5 += bool(ranks and ranks[0] < 5)
                acc.rr += 1 / (ranks[0] + 1) if ranks else 0.0
                if result is not None:
                    acc.correct += result.found and holds(result.text, q["answers"])
                    acc.wrongly_declined += not result.found
            else:
                acc.unanswerable += 1
                if result is not None:
                    acc.declined += not result.found
        if q["answers"]:
            top = passages[0].text if passages else ""
            if not holds(top, q["answers"]):
                failures.append(f"{q['id']} retrieval@1 miss: {q['question']} → {top[:40]}")
            if result is not None and not (result.found and holds(result.text, q["answers"])):
                failures.append(f"{q['id']} answer miss: {q['question']} → {result.text[:60]!r}")
        elif result is not None and result.found:
            failures.append(f"{q['id']} not declined: {q['question']} → {result.text[:60]!r}")
    order = ["overall"] + sorted(k for k in accs if k != "overall")
    return Report({k: accs[k].row() for k in order}, failures)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qa.eval", description=__doc__.splitlines()[0])
    parser.add_argument("questions", help="JSON lines file of questions")
    parser.add_argument("--no-answers", action="store_true", help="evaluate retrieval only")
    parser.add_argument("-v", "--verbose", action="store_true", help="list the misses")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:
        questions = load_questions(args.questions)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    report = evaluate(questions, with_answers=not args.no_answers)
    if args.verbose:
        print("\n".join(report.failures) or "no misses")
        print()
    print(report.table())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
