"""The one way to make a HOME, and a user's view of it: a clone, real `git`, the controller
started as a subprocess (`Home.start`), the state branch read as a user reads it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from controller.store.repoinit import init_home
from tests.harness.commands import gitline, run
from tests.harness.wait import wait_for


def make_home(path: Path) -> Path:
    """An initialised Gitline HOME at `path` (config.git with its hooks, gitline.yml), as
    `gitline init` makes it."""
    init_home(path)
    return path


def serve_argv(home: Path, *extra: str) -> list[str]:
    """`gitline serve HOME`: no HTTP unless `extra` asks (`--listen 127.0.0.1:PORT`), as
    tests run in parallel; a later `--poll` or `--listen` in `extra` wins."""
    return [sys.executable, "-m", "controller.cli", "serve", str(home),
            *(() if "--listen" in extra else ("--listen", "none")), *extra]


@dataclass
class Home:
    """A HOME (`path`), a user's clone of its config.git (`work`) and, once started, the
    controller serving it (`proc`, logging to `logs`)."""

    path: Path
    work: Path
    proc: subprocess.Popen[str] | None = None
    logs: list[Path] = field(default_factory=list)

    @classmethod
    def create(cls, root: Path, work: Path | None = None) -> Home:
        """A HOME at root/home and a clone of its config.git as the user's work (root/work
        unless `work` is given)."""
        path, work = make_home(root / "home"), work or root / "work"
        run("git", "clone", "-q", path / "config.git", work)
        return cls(path, work)

    @property
    def repo(self) -> Path:
        return self.path / "config.git"

    # --- the controller -----------------------------------------------------------------

    def start(self, *extra: str, log_dir: Path | None = None) -> None:
        """`gitline serve` (safety-net poll 2 s) as a subprocess, logging to HOME or
        `log_dir` (when HOME may be the disk that is full)."""
        log = (log_dir or self.path) / f"serve-{len(self.logs)}.log"
        self.logs.append(log)
        # jobs run sandboxed: they see the sample's deploy folder only because it is bound
        deployed = self.path / "deployed"
        deployed.mkdir(parents=True, exist_ok=True)
        deployed.chmod(0o777)  # jobs write it, as uid 65534 when the tests run as root
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "GITLINE_PASS_ENV": "GITLINE_DEMO_ROOT",
               "GITLINE_DEMO_ROOT": str(deployed), "GITLINE_SANDBOX_BIND": str(deployed)}
        self.proc = subprocess.Popen(
            serve_argv(self.path, "--poll", "2", *extra), stdout=log.open("w"),
            stderr=subprocess.STDOUT, text=True, env=env)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=20)
        self.proc = None

    def server_log(self) -> str:
        return "".join(p.read_text() for p in self.logs if p.exists())

    # --- a user's clone -------------------------------------------------------------------

    def write(self, rel: str, text: str, mode: int | None = None) -> None:
        path = self.work / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        if mode is not None:
            path.chmod(mode)

    def push(self, message: str = "change") -> str:
        run("git", "add", "-A", cwd=self.work)
        run("git", "commit", "-q", "-m", message, cwd=self.work)
        run("git", "push", "-q", "origin", "HEAD:main", cwd=self.work)
        return run("git", "rev-parse", "HEAD", cwd=self.work).stdout.strip()

    # --- reading the state branch as a user does ---------------------------------------------

    def git(self, *args: str, check: bool = True) -> str:
        return run("git", "--git-dir", self.repo, *args, check=check).stdout

    def subjects(self) -> list[str]:
        """What each record of the state branch says, newest first: a commit's subject, or
        for a commit that recorded several runs at once, each run's own line."""
        out = self.git("log", "--format=%B%x00", "state", check=False)
        said: list[str] = []
        for body in out.split("\0"):
            said.extend(record_subjects(body.strip()))
        return said

    def show(self, path: str) -> str:
        return self.git("show", f"state:{path}")

    def status(self) -> dict:
        return json.loads(gitline("status", self.path, "--json").stdout)

    def runs(self, job: str) -> list[str]:
        """Final statuses of a job's runs, oldest first, from commit subjects."""
        finals = ("succeeded", "failed", "timed out", "cancelled", "interrupted")
        said = [s[len(job) + 2:] for s in reversed(self.subjects())
                if s.startswith(f"{job}: run ")]  # "run N <status>"
        return [s for s in said if s.split(" ", 2)[2].startswith(finals)]

    def wait_runs(self, job: str, count: int, timeout: float = 30.0) -> list[str]:
        try:
            wait_for(lambda: len(self.runs(job)) >= count, timeout, f"{count} runs of {job}")
        except AssertionError as err:
            raise AssertionError(f"{err}; controller log:\n{self.server_log()[-3000:]}") from None
        return self.runs(job)

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Until the push is processed, no run is active and the state branch stays put
        for half a second (a run's end and its downstream run's queueing are two commits:
        between them the line looks idle and is not)."""
        seen: list[tuple[str, float]] = []

        def idle() -> bool:
            st = self.status()
            head = self.git("rev-parse", "main").strip()
            tip = self.git("rev-parse", "state", check=False).strip()
            if st["config"]["processed"] != head or any(
                    j["active"] for j in st["jobs"].values()):
                seen.clear()
                return False
            if not seen or seen[0][0] != tip:
                seen[:] = [(tip, time.monotonic())]
                return False
            return time.monotonic() - seen[0][1] >= 0.5
        wait_for(idle, timeout, "the controller to be idle")


def record_subjects(body: str) -> list[str]:
    """A commit message's subject, or the runs' own lines of a batch (`3 runs started: ...`,
    a paragraph of `<job>: run <n> started` lines, then the trailers)."""
    paragraphs = body.split("\n\n")
    if not body:
        return []
    if len(paragraphs) >= 3 and re.match(r"\d+ runs ", paragraphs[0]):
        return list(reversed(paragraphs[1].splitlines()))  # newest first, as `git log`
    return [paragraphs[0].splitlines()[0]]
