"""Start the 报告问答 chat app: ``python app.py [--host H] [--port P] [--share]``.

Loads the index at start (building it first, with progress in the console, when it is
missing, corrupt or stale) and serves the Gradio app on 127.0.0.1:7860 by default.
Gradio's own variables (GRADIO_SERVER_NAME, GRADIO_SERVER_PORT) are honoured.
"""

from __future__ import annotations

import argparse
import logging
import os
import threading
import time

from qa.config import Settings
from qa.engine import Engine
from qa.index import IndexError
from qa.feedback import FeedbackStore

log = logging.getLogger("app")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="报告问答: chat with the 2020 北关区 government work report")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    parser.add_argument("--share", action="store_true", help="create a public Gradio share link (off by default)")
    parser.add_argument("--no-rebuild", action="store_true", help="fail instead of rebuilding a missing/stale index")
    parser.add_argument("--concurrency", type=int, default=8, help="requests answered at the same time")
    parser.add_argument(
        "--sessions", type=int, default=500, help="conversations kept in server memory (oldest dropped first)"
    )
    return parser.parse_args(argv)


def _load(engine: Engine) -> None:
    try:
        engine.load()
    except IndexError as exc:
        # Serve anyway: every question gets a clear message until the index is fixed
        # (the next question after `qa-index build` loads it).
        log.error("%s", exc)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    started = time.perf_counter()
    settings = Settings()
    engine = Engine(settings, rebuild=not args.no_rebuild)
    # Load (or build) the index while Gradio is imported: the two overlap on 2 cores.
    loader = threading.Thread(target=_load, args=(engine,), name="engine-load")
    loader.start()
    from qa.webapp import CSS, build_app

    feedback = FeedbackStore(settings.data_dir / "feedback.sqlite3")
    demo = build_app(engine, feedback)
    demo.queue(default_concurrency_limit=args.concurrency, max_size=512)
    loader.join()
    log.info("ready in %.1f s; feedback goes to %s", time.perf_counter() - started, feedback.path)
    demo.launch(
        server_name=args.host,
        server_port=args.port,
        share=args.share,
        show_error=False,
        css=CSS,
        state_session_capacity=args.sessions,
    )


if __name__ == "__main__":
    main()
