"""One command for everything offline: ``qa index …``, ``qa eval``, ``qa train``,
``qa bench``, ``qa load``. Each subcommand is the module's own command line
(``qa index build`` is ``qa-index build``, kept as an alias); errors the product raises
on purpose (:class:`qa.QAError`) print one line, anything else is a bug and shows its
traceback."""

from __future__ import annotations

import importlib
import sys

__all__ = ["main", "COMMANDS"]

#: Subcommand → (module whose ``main(argv)`` runs it, what it does).
COMMANDS = {
    "index": ("qa.index", "build, add to, remove from, list and check the corpus and its index"),
    "eval": ("qa.eval", "evaluate retrieval and answers on question sets (cross-validated with --cv)"),
    "train": ("qa.train", "fit the fusion weights and the answer model"),
    "bench": ("qa.bench", "measure build, load, latency and memory"),
    "load": ("qa.load", "drive a running app with concurrent users"),
}


def _usage() -> str:
    lines = ["usage: qa COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<7} {about}" for name, (_, about) in COMMANDS.items()]
    lines += ["", "qa COMMAND --help shows a command's options; the app starts with: python app.py"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from .errors import QAError

    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"qa: unknown command {command!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[command][0])
    try:
        return int(module.main(rest) or 0)
    except QAError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
