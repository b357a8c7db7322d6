"""The feedback store keeps every record, whole, under concurrent writers."""

import multiprocessing
import sqlite3
from concurrent.futures import ThreadPoolExecutor

from qa.ui.feedback import FeedbackStore


def test_records_round_trip(tmp_path):
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    store.add("问题", "回答 [1]", True, ["c1"])
    store.add("问题2", "回答2", False)
    records = store.all()
    assert [(r.question, r.liked, r.citations) for r in records] == [("问题", True, ("c1",)), ("问题2", False, ())]


def test_concurrent_threads_lose_nothing(tmp_path):
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: store.add(f"q{i}", f"a{i}", i % 2 == 0), range(400)))
    assert sorted(r.question for r in store.all()) == sorted(f"q{i}" for i in range(400))


def _writer(path, start):
    store = FeedbackStore(path)
    for i in range(start, start + 100):
        store.add(f"q{i}", "a", True)


def test_concurrent_processes_lose_nothing(tmp_path):
    path = tmp_path / "fb.sqlite3"
    FeedbackStore(path)
    procs = [multiprocessing.Process(target=_writer, args=(path, n * 100)) for n in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    assert len(FeedbackStore(path).all()) == 400


def _crash_mid_write(path):
    store = FeedbackStore(path)
    store.add("kept", "a", True)
    conn = sqlite3.connect(path)
    conn.execute("BEGIN")
    conn.execute(
        "INSERT INTO feedback (created_at, question, answer, liked, citations) VALUES ('t', 'half', 'a', 1, '[]')"
    )
    import os

    os._exit(1)  # dies inside the transaction


def test_a_crash_mid_write_leaves_no_half_record(tmp_path):
    path = tmp_path / "fb.sqlite3"
    p = multiprocessing.Process(target=_crash_mid_write, args=(path,))
    p.start()
    p.join()
    assert [r.question for r in FeedbackStore(path).all()] == ["kept"]
