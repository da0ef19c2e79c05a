"""Fixtures of the execution tests: a real redis-server and a real `gitline worker`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.execution import sealing
from tests.harness.workers import Worker, redis_server


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A redis-server of this module's own (skips when redis-server is not installed)."""
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(scope="module")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The worker key of these tests (a controller's HOME/worker.key)."""
    home = tmp_path_factory.mktemp("home")
    sealing.home_key(home)
    return home / sealing.KEY_FILE


@pytest.fixture(scope="module")
def worker(redis_url: str, key_file: Path,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    """A `gitline worker` on the default queue `gitline`, two runs at once.

    Unsandboxed: these tests follow a job's host pids and pid files outside its folder
    to check the Celery plumbing (revoke, lost workers); tests/e2e/test_celery.py runs
    sandboxed workers (the default)."""
    w = Worker(redis_url, tmp_path_factory.mktemp("worker"), "gitline", concurrency=2,
               sandbox="none", key_file=key_file)
    yield w
    w.stop()
