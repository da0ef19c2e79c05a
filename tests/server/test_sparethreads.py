"""SpareThreads: a waiting thread takes the next task; results, errors, daemons."""

from __future__ import annotations

import threading
import time

import pytest

from controller.server.sparethreads import SpareThreads


def test_a_waiting_thread_takes_the_next_task():
    threads = SpareThreads("t")
    first = threads.submit(threading.current_thread).result(5)
    time.sleep(0.05)  # back to waiting
    second = threads.submit(threading.current_thread).result(5)
    assert first is second and first.daemon and first.name == "t-1"


def test_busy_threads_are_not_waited_for():
    threads = SpareThreads("t")
    gate = threading.Event()
    held = threads.submit(gate.wait, 5)
    assert threads.submit(lambda: 7).result(5) == 7  # another thread, at once
    gate.set()
    assert held.result(5) is True


def test_an_error_reaches_the_future():
    with pytest.raises(ValueError, match="boom"):
        SpareThreads("t").submit(_raise).result(5)


def test_at_most_keep_threads_wait():
    threads = SpareThreads("keep-one", keep=1)
    gate = threading.Event()
    futures = [threads.submit(gate.wait, 5) for _ in range(3)]
    gate.set()
    assert all(f.result(5) for f in futures)
    time.sleep(0.05)
    alive = [t for t in threading.enumerate() if t.name.startswith("keep-one-")]
    assert len(alive) == 1


def _raise() -> None:
    raise ValueError("boom")
