"""Serve the 报告问答 chat app: ``qa serve [--host H] [--port P] [--share] [--verbose]``
(``python app.py`` is the same).

Loads the index at start (building it first, with progress in the console, when it is
missing, corrupt or stale) and serves the Gradio app on 127.0.0.1:7860 by default.
Gradio's own variables (GRADIO_SERVER_NAME, GRADIO_SERVER_PORT) are honoured. Nothing
leaves the machine unless ``--share`` asks for a public link.
"""

from __future__ import annotations

import argparse
import logging
import os
import threading
import time

__all__ = ["main", "parse_args"]

log = logging.getLogger("app")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="报告问答: chat with government work reports (the 2020 北关区 report bundled)"
    )
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    parser.add_argument("--share", action="store_true", help="create a public Gradio share link (uses the network)")
    parser.add_argument("--no-rebuild", action="store_true", help="fail instead of rebuilding a missing/stale index")
    parser.add_argument("--concurrency", type=int, default=8, help="requests answered at the same time")
    parser.add_argument(
        "--sessions", type=int, default=500, help="conversations kept in server memory (oldest dropped first)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log everything, libraries included")
    return parser.parse_args(argv)


def _load(engine) -> None:
    from ..errors import IndexUnavailableError

    try:
        engine.load()
    except IndexUnavailableError as exc:
        # Serve anyway: every question gets a clear message until the index is fixed
        # (the next question after `qa-index build` loads it).
        log.error("%s", exc)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.share:
        os.environ["QA_ALLOW_NETWORK"] = "1"  # a share link is a connection out; nothing else is
    from .. import console
    from ..config import Settings
    from ..engine import Engine
    from .feedback import FeedbackStore

    console.setup(args.verbose)
    started = time.perf_counter()
    try:
        settings = Settings()
    except ValueError as exc:  # a bad QA_* variable: one line, not a traceback
        raise SystemExit(f"error: {exc}") from None
    engine = Engine(settings, rebuild=not args.no_rebuild)
    # Load (or build) the index while Gradio is imported: the two overlap on 2 cores.
    loader = threading.Thread(target=_load, args=(engine,), name="engine-load")
    loader.start()
    from .access import ChangePolicy, is_loopback
    from .openai_api import openai_routes
    from .pages import page_routes
    from .webapp import CSS, JS, THEME, build_app

    policy = ChangePolicy(settings.admin_token, is_loopback(args.host))
    feedback = FeedbackStore(settings.data_dir / "feedback.sqlite3")
    demo = build_app(engine, feedback, policy)
    demo.queue(default_concurrency_limit=args.concurrency, max_size=512)
    loader.join()
    shown_host = "127.0.0.1" if args.host in ("0.0.0.0", "") else args.host
    print(
        f"报告问答 is ready ({time.perf_counter() - started:.1f} s): open http://{shown_host}:{args.port}/  (Ctrl+C stops it)"
    )
    if not policy.enabled:
        print(
            "Adding and removing reports is off: the app listens beyond this machine. "
            "Set QA_ADMIN_TOKEN to allow an operator to change the corpus."
        )
    log.debug("feedback goes to %s", feedback.path)
    demo.launch(
        server_name=args.host,
        server_port=args.port,
        share=args.share,
        show_error=False,
        quiet=not args.share,
        css=CSS,
        js=JS,
        theme=THEME,
        state_session_capacity=args.sessions,
        max_file_size=f"{settings.max_document_mb}mb",
        auth=settings.login,
        mcp_server=True,
        # OpenAI-compatible chat and the cited pages on the same port, beside Gradio's own routes.
        app_kwargs={"routes": [*openai_routes(engine, settings.api_key), *page_routes(engine)]},
    )
