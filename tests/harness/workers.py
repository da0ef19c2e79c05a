"""A real redis-server and real `gitline worker` processes for the Celery tests.

`redis_server(dir)` starts `redis-server` on a free loopback port with no persistence and
stops it; when redis-server is not installed the test is skipped with the reason (CI
installs it in .ci/run). `Worker` runs `gitline worker` as a subprocess in its own
process group and waits until Celery says it is ready.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.absent import missing
from tests.harness.wait import free_port, wait_for

READY_SECONDS = 60.0


wait_until = wait_for


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """A redis-server of its own on 127.0.0.1 that a test can stop and start again on the
    same port (`aof`: with an append-only file, so it keeps its data across a restart)."""

    def __init__(self, workdir: Path, *, aof: bool = False) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            missing("redis-server is not installed (apt-get install redis-server)")
        pytest.importorskip("celery", reason="the celery extra is not installed")
        workdir.mkdir(parents=True, exist_ok=True)
        self.exe, self.workdir, self.aof = exe, workdir, aof
        self.proc: subprocess.Popen[bytes] | None = None
        for _ in range(3):  # another test may take the free port between bind and listen
            self.port = free_port()
            if self.start():
                return
        raise AssertionError(f"redis-server did not start: {self.log_path.read_text()}")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"redis-{self.port}.log"

    def start(self) -> bool:
        """Start it (again); False if it exited at once (its port was taken)."""
        with self.log_path.open("a") as log:
            self.proc = subprocess.Popen(
                [self.exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "yes" if self.aof else "no", "--appendfsync", "always",
                 "--dir", str(self.workdir), "--protected-mode", "no"],
                stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir)
        proc, port = self.proc, self.port
        try:
            wait_until(lambda: _answers(port) or proc.poll() is not None, 20, "redis-server")
        except AssertionError:
            proc.kill()
            raise
        return proc.poll() is None

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


@contextlib.contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    """A redis-server of its own on 127.0.0.1, no persistence; yields its URL (database 0)."""
    server = RedisServer(workdir)
    try:
        yield server.url
    finally:
        server.stop()


class Worker:
    """`gitline worker` as a subprocess; `stop()` is a warm shutdown, `kill()` is -9."""

    def __init__(self, broker: str, workdir: Path, queues: str = "gitline",
                 concurrency: int = 2, name: str = "", sandbox: str = "bwrap", *,
                 key_file: Path, extra: list[str] | None = None) -> None:
        self.name = name or f"w{os.getpid()}-{queues.replace(',', '-')}-{time.monotonic_ns()}"
        self.work_root = workdir / f"{self.name}-runs"
        self.log_path = workdir / f"{self.name}.log"
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "controller.cli", "worker", "--broker", broker,
             "--queues", queues, "--concurrency", str(concurrency),
             "--work-root", str(self.work_root), "--hostname", f"{self.name}@localhost",
             "--sandbox", sandbox, "--key-file", str(key_file), *(extra or [])],
            stdout=self.log_path.open("w"), stderr=subprocess.STDOUT, env=env,
            start_new_session=True)
        try:
            wait_until(lambda: " ready." in self.log() or self.proc.poll() is not None,
                       READY_SECONDS, f"worker {self.name}")
        except AssertionError as err:
            self.kill()
            raise AssertionError(f"{err}\n{self.log()[-3000:]}") from None
        if self.proc.poll() is not None:
            raise AssertionError(f"worker exited {self.proc.returncode}:\n{self.log()[-3000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        self.kill()  # whatever is left of its group

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)
