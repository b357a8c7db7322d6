"""Load test: ``qa load [--users 20] [--questions 100] [--api gradio|openai]``.

Starts the app on a free loopback port (or uses ``--url`` of a running one), then
``--users`` simulated users, each with its own HTTP connection, ask ``--questions``
questions from the development set through the app's ``/answer`` API over plain HTTP
(Gradio's ``/gradio_api/call/answer``: one POST, then the result), or with ``--api
openai`` through the OpenAI-compatible ``/v1/chat/completions`` (one POST).
``gradio_client`` works too but spends ~110 ms of client-side polling per request,
which would measure the client rather than the server.
The run is bounded by count and by ``--time-limit`` and stops by itself. Prints
requests, errors, throughput, latency p50/p95/p99 and the server's RSS before and
after (measured after a short warm-up, so that one-off allocations are not counted as
growth). Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from .. import console

__all__ = ["ask", "main", "run_load", "running_app"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_app(
    *args: str,
    env: dict | None = None,
    log_path: Path | None = None,
    timeout: float = 300,
    wrapper: tuple[str, ...] = (),
    drop_env: tuple[str, ...] = (),
):
    """Start the app (``qa serve``) on a free loopback port; yield (url, process).

    ``wrapper`` runs it under another command (``strace …``); ``drop_env`` removes
    variables inherited from this process. Used by the load test and by the test
    suite; the process is ended on exit.
    """
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if k not in drop_env} | (env or {})
    log = open(log_path, "w") if log_path else subprocess.DEVNULL
    proc = subprocess.Popen(
        [*wrapper, sys.executable, "-m", "qa", "serve", "--port", str(port), *args],
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: a wrapper's child is ended with it
    )
    url = f"http://127.0.0.1:{port}/"

    def tail() -> str:
        return Path(log_path).read_text()[-2000:] if log_path else ""

    try:
        deadline = time.time() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the app exited during start-up: {tail()}")
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                if time.time() > deadline:
                    raise RuntimeError(f"the app did not start in time: {tail()}") from None
                time.sleep(0.5)
        yield url, proc
    finally:
        _signal_group(proc, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.wait(timeout=20)
        if log_path:
            log.close()


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    """Signal the app's whole process group (the app, and a wrapper such as strace)."""
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def _rss_mb(pid: int | None) -> float | None:
    if pid is None:
        return None
    import psutil

    try:
        proc = psutil.Process(pid)
        return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 2**20
    except psutil.Error:
        return None


def _percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else float("nan")


def ask(http, url: str, question: str, k: int = 3) -> dict:
    """One question through the app's HTTP API; returns the answer dict."""
    import json

    posted = http.post(url.rstrip("/") + "/gradio_api/call/answer", json={"data": [question, None, k, None]})
    posted.raise_for_status()
    event = posted.json()["event_id"]
    result = http.get(url.rstrip("/") + f"/gradio_api/call/answer/{event}")
    result.raise_for_status()
    kind, data = None, None
    for line in result.text.splitlines():
        if line.startswith("event:"):
            kind = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            data = line.split(":", 1)[1].strip()
    if kind != "complete" or data is None:
        raise RuntimeError(f"API returned {kind!r}: {str(data)[:100]}")
    return json.loads(data)[0]


def ask_openai(http, url: str, question: str, api_key: str = "") -> dict:
    """One question through the OpenAI-compatible API; returns the completion, or
    ``{"error": …}`` for an error status."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    body = {"model": "report-qa", "messages": [{"role": "user", "content": question}]}
    response = http.post(url.rstrip("/") + "/v1/chat/completions", json=body, headers=headers)
    if response.status_code != 200:
        return {"error": f"HTTP {response.status_code}: {response.text[:120]}"}
    completion = response.json()
    if not completion.get("choices"):
        return {"error": "no choices in the completion"}
    return completion


#: How a simulated user asks, by ``--api``.
ASKERS = {"gradio": lambda http, url, question, key: ask(http, url, question), "openai": ask_openai}


def run_load(
    url: str,
    pid: int | None,
    users: int,
    questions: int,
    time_limit: float,
    question_set: Path,
    api: str = "gradio",
    api_key: str = "",
) -> dict:
    import httpx

    from .questionsets import load_questions

    pool = [q["question"] for q in load_questions(question_set)]
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.time() + time_limit

    def user(n: int, questions: int = questions) -> None:
        with httpx.Client(timeout=60) as http:
            for i in range(questions):
                if time.time() > deadline:
                    return
                question = pool[(n * 7 + i) % len(pool)]
                start = time.perf_counter()
                try:
                    result = ASKERS[api](http, url, question, api_key)
                    error = result.get("error") if isinstance(result, dict) else "bad response"
                except Exception as exc:  # a failed request is counted, not fatal
                    error = f"{type(exc).__name__}: {exc}"
                elapsed = time.perf_counter() - start
                with lock:
                    latencies.append(elapsed)
                    if error:
                        errors.append(str(error)[:200])

    def crowd(per_user: int) -> float:
        started = time.perf_counter()
        threads = [threading.Thread(target=user, args=(n, per_user), daemon=True) for n in range(users)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(max(1.0, deadline - time.time() + 30))
        return time.perf_counter() - started

    # Warm-up at full concurrency (thread pools, allocator arenas), not counted.
    crowd(5)
    warm_errors = len(errors)
    latencies.clear()
    errors.clear()
    rss_before = _rss_mb(pid)
    wall = crowd(questions)
    ordered = sorted(latencies)
    return {
        "users": users,
        "api": api,
        "warmup_errors": warm_errors,
        "requests": len(latencies),
        "errors": len(errors),
        "error_samples": errors[:5],
        "seconds": wall,
        "throughput": len(latencies) / wall if wall else 0.0,
        "p50": _percentile(ordered, 0.50),
        "p95": _percentile(ordered, 0.95),
        "p99": _percentile(ordered, 0.99),
        "mean": statistics.mean(ordered) if ordered else float("nan"),
        "rss_before": rss_before,
        "rss_after": _rss_mb(pid),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="qa load", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--question-set",
        metavar="FILE",
        required=True,
        help="questions to ask, JSON lines as qa eval reads them (the development set: tests/data/dev.jsonl)",
    )
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--questions", type=int, default=100, help="questions per user")
    parser.add_argument("--time-limit", type=float, default=600, help="stop after this many seconds")
    parser.add_argument("--url", help="use a running app instead of starting one (RSS is then not measured)")
    parser.add_argument(
        "--api",
        choices=sorted(ASKERS),
        default="gradio",
        help="ask through Gradio's /answer or OpenAI's /v1/chat/completions",
    )
    parser.add_argument(
        "--api-key", default=os.environ.get("QA_API_KEY", ""), help="the app's QA_API_KEY, if it has one"
    )
    args = parser.parse_args(argv)
    options = {"api": args.api, "api_key": args.api_key}
    console.setup()
    if args.url:
        if not args.url.startswith(("http://127.", "http://localhost", "http://[::1]")):
            parser.error("--url must be a loopback address")
        stats = run_load(
            args.url, None, args.users, args.questions, args.time_limit, Path(args.question_set), **options
        )
    else:
        with running_app() as (url, proc):
            stats = run_load(
                url, proc.pid, args.users, args.questions, args.time_limit, Path(args.question_set), **options
            )
    rss = (
        f"{stats['rss_before']:.0f} → {stats['rss_after']:.0f} MB ({stats['rss_after'] - stats['rss_before']:+.0f} MB)"
        if stats["rss_before"] and stats["rss_after"]
        else "not measured"
    )
    print(f"users              {stats['users']} (through {stats['api']})")
    print(f"requests           {stats['requests']}")
    print(f"errors             {stats['errors']}" + (f"  e.g. {stats['error_samples'][0]}" if stats["errors"] else ""))
    print(f"duration           {stats['seconds']:.1f} s")
    print(f"throughput         {stats['throughput']:.1f} requests/s")
    print(f"latency p50/p95/p99 {stats['p50'] * 1000:.0f} / {stats['p95'] * 1000:.0f} / {stats['p99'] * 1000:.0f} ms")
    print(f"server RSS         {rss}")
    return 1 if stats["errors"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
