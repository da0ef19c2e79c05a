"""An input file over 1 MB travels to a Celery worker by reference, not in the message.

A real `gitline serve --listen`, redis-server and `gitline worker`: the 5 MB file of a
gitRepo input stays out of Redis, the worker fetches it from the controller with its
worker token (GET /api/objects/<oid>) and the job sees it byte for byte; other tokens and
objects that no run in flight refers to are refused.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.execution import bigfiles, sealing
from tests.harness.home import Home
from tests.harness.http import request, serve, token
from tests.harness.wait import wait_for
from tests.harness.workers import Worker, redis_server

LINE = """\
resources:
  - name: data_repo
    type: gitRepo
    versionTemplate: {sourceName: ., path: data}
jobs:
  - name: digest
    type: runSh
    runtime: {nodePool: big}
    steps:
      - IN: data_repo
      - TASK:
          script:
            - sha256sum "$DATA_REPO_PATH/gitRepo/blob.bin"
            - cat "$DATA_REPO_PATH/gitRepo/small.txt"
"""


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


def queued(broker: str, queue: str) -> list[bytes]:
    import redis

    return redis.Redis.from_url(broker).lrange(queue, 0, -1)


def fetch(port: int, oid: str, tok: str) -> tuple[int, bytes]:
    status, _headers, body = request(port, "GET", f"/api/objects/{oid}",
                                     headers={"Authorization": f"Bearer {tok}"})
    return status, body


def test_a_5_mb_input_is_fetched_by_the_worker_and_never_sits_in_redis(
        home: Home, broker: str, tmp_path: Path) -> None:
    sealing.home_key(home.path)
    blob = os.urandom(5 * 1024 * 1024)
    oid = bigfiles.blob_oid(blob)
    (home.work / "data").mkdir()
    (home.work / "data" / "blob.bin").write_bytes(blob)
    home.write("data/small.txt", "small and inlined\n")
    home.write("shippable.yml", LINE)
    port = serve(home, executor="celery", broker_url=broker)
    worker_token, reader = token(home, "w1", "--scope", "worker"), token(home, "reader")
    (tmp_path / "token").write_text(worker_token + "\n")
    home.push("a 5 MB input")
    [message] = wait_for(lambda: queued(broker, "big"), 60, "the run's message")
    assert len(message) < 64 * 1024  # the 5 MB file is not in it (it was 9 MB before)
    # the attack surface: only a worker token, only objects of runs in flight
    assert fetch(port, oid, reader)[0] == 403
    assert fetch(port, "0" * 40, worker_token)[0] == 404
    small = bigfiles.blob_oid(b"small and inlined\n")  # in config.git, not offered
    assert fetch(port, small, worker_token)[0] == 404
    assert request(port, "GET", f"/api/objects/{oid}")[0] == 401
    assert fetch(port, "a" * 39, worker_token)[0] == 404  # not a blob id: no route
    status, body = fetch(port, "../../config.git/HEAD", worker_token)
    assert status != 200 and b"refs/" not in body  # (the git server's 500: not ours)
    worker = Worker(broker, tmp_path, queues="big", name="e2e-big", key_file=home.path /
                    sealing.KEY_FILE, extra=["--controller", f"http://127.0.0.1:{port}",
                                             "--token-file", str(tmp_path / "token")])
    try:
        assert home.wait_runs("digest", 1, timeout=90) == ["run 1 succeeded"]
    finally:
        worker.stop()
    log = home.show("jobs/digest/log.txt")
    assert hashlib.sha256(blob).hexdigest() in log and "small and inlined" in log
    assert fetch(port, oid, worker_token)[0] == 404  # withdrawn once the run ended
    assert subprocess.run(["git", "fsck", "--strict"], cwd=home.repo, capture_output=True,
                          text=True).returncode == 0


def test_a_worker_without_a_controller_url_fails_the_run_and_says_why(
        home: Home, broker: str, tmp_path: Path) -> None:
    sealing.home_key(home.path)
    (home.work / "data").mkdir()
    (home.work / "data" / "blob.bin").write_bytes(os.urandom(2 * 1024 * 1024))
    home.write("data/small.txt", "small\n")
    home.write("shippable.yml", LINE)
    serve(home, executor="celery", broker_url=broker)
    worker = Worker(broker, tmp_path, queues="big", name="e2e-nourl",
                    key_file=home.path / sealing.KEY_FILE)
    try:
        home.push("a 2 MB input, a worker that cannot fetch it")
        assert home.wait_runs("digest", 1, timeout=90) == ["run 1 failed"]
    finally:
        worker.stop()
    assert "give this worker --controller URL and --token-file" in \
        home.show("jobs/digest/run.yml")
