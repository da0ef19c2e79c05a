"""One benchmark section per process: `python bench/sections.py NAME [--quick]`.

Each section prints one JSON object on its last line of stdout: its figures, and
`peak_rss_mb` of the controller it measured (the `gitline serve` subprocess, or this
process when the controller's parts run in-process). bench/run.py runs them all and
writes docs/benchmarks.md. Timing is never asserted anywhere: these are measurements.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@localhost",
    "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@localhost",
    "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0",
    "PYTHONPATH": str(ROOT),
}
STAMP = 'echo "$BUILD_NUMBER $EPOCHREALTIME" >> "$BENCH_OUT"'


# ----------------------------------------------------------------------------- helpers


def sh(*args: str | Path, cwd: Path | None = None, env: dict | None = None,
       check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env or GIT_ENV, text=True,
                          capture_output=True, check=check, timeout=600)


def wait_for(cond: Callable[[], object], timeout: float, what: str, step: float = 0.002):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(step)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def peak_rss_mb(pid: int | None = None) -> float:
    """VmHWM (peak resident set) of a process, in MB."""
    status = Path(f"/proc/{pid or 'self'}/status").read_text()
    line = next(x for x in status.splitlines() if x.startswith("VmHWM:"))
    return round(int(line.split()[1]) / 1024, 1)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def summary(values: list[float], digits: int = 1) -> dict:
    return {"n": len(values), "p50": round(pct(values, 50), digits),
            "p90": round(pct(values, 90), digits), "p99": round(pct(values, 99), digits),
            "max": round(max(values), digits), "min": round(min(values), digits)}


def spread(values: list[float], digits: int = 1) -> dict:
    return {"median": round(statistics.median(values), digits),
            "min": round(min(values), digits), "max": round(max(values), digits),
            "n": len(values)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Home:
    """A Gitline home, a user's clone, and `gitline serve` as a subprocess."""

    def __init__(self, root: Path, extra_env: dict[str, str] | None = None,
                 existing: Path | None = None) -> None:
        from controller.store.repoinit import init_home

        self.root = root
        self.path = existing or root / "home"
        if existing is None:
            init_home(self.path)
        self.work = root / "work"
        sh("git", "clone", "-q", self.repo, self.work)
        self.env = {**GIT_ENV, "PYTHONUNBUFFERED": "1", **(extra_env or {})}
        self.proc: subprocess.Popen | None = None
        self.url = ""

    @property
    def repo(self) -> Path:
        return self.path / "config.git"

    def start(self, *args: str) -> None:
        log = (self.root / "serve.log").open("a")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "controller.cli", "serve", str(self.path), "--poll", "10",
             *args], stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=ROOT)

    def stop(self) -> float:
        """Stop the controller; its peak RSS in MB."""
        assert self.proc is not None
        rss = peak_rss_mb(self.proc.pid)
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return rss

    def commit(self, rel: str, text: str, message: str = "change") -> None:
        path = self.work / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        sh("git", "add", "-A", cwd=self.work)
        sh("git", "commit", "-q", "-m", message, cwd=self.work)

    def push(self, remote: str = "origin") -> None:
        sh("git", "-c", "credential.helper=", "push", "-q", remote, "HEAD:main", cwd=self.work)

    def processed(self) -> str:
        from controller.store.gitstate import GitStateStore

        return GitStateStore(self.repo).read_snapshot().processed_commit

    def wait_processed(self, timeout: float = 60) -> None:
        head = sh("git", "rev-parse", "HEAD", cwd=self.work).stdout.strip()
        wait_for(lambda: self.processed() == head, timeout, "the push to be processed", 0.05)


# ------------------------------------------------------------------ 1. push -> job start

PING = f"""\
jobs:
  - name: ping
    type: runSh
    steps:
      - TASK:
          script:
            - {STAMP}
"""


def _stamps(path: Path) -> list[float]:
    try:
        return [float(line.split()[1]) for line in path.read_text().splitlines() if line]
    except FileNotFoundError:
        return []


def _one_push(home: Home, out: Path, i: int, remote: str, done: Callable[[], bool]) -> float:
    """One push of triggers/ping to `remote`: ms until the job's first line; then waits
    for the run to end."""
    home.commit("triggers/ping", f"N={i}\n", f"ping {i}")
    before = len(_stamps(out))
    t0 = time.time()
    home.push(remote)
    wait_for(lambda b=before: len(_stamps(out)) > b, 30, "the job to start")
    latency = (_stamps(out)[before] - t0) * 1000
    wait_for(done, 30, "the run to finish", 0.01)
    time.sleep(0.05)
    return latency


# What a push by path must answer before its ref moves, as the pre-receive hook Gitline
# installs asks it (store/repoinit.py: HOOK and ASK), without the answer's own work.
FLOOR_PRE_RECEIVE = """\
#!/bin/sh
while read -r old new ref; do config_old=$old; config_new=$new; done
objects=${GIT_QUARANTINE_PATH:-$GIT_OBJECT_DIRECTORY}
reply=$(git credential-cache --socket "$GIT_DIR/answers.sock" get 2>/dev/null <<EOF
old=$config_old
new=$config_new
objects=$objects
EOF
)
case "$reply" in *"%s") exit 0 ;; esac
echo "floor: no answer ($reply)" >&2
exit 1
"""


def _accepting(path: Path) -> socket.socket:
    """A unix socket whose every connection is read to its end and answered `accept`."""
    from controller.answerclient import ACCEPTED

    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(8)

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:  # closed
                return
            with conn:
                while conn.recv(65536):
                    pass
                conn.sendall(f"{ACCEPTED}\n".encode())

    threading.Thread(target=serve, daemon=True).start()
    return server


def _hook_repo(root: Path, name: str, answered: bool = False
               ) -> tuple[Callable[[int], float], Path]:
    """A bare repo whose post-receive hook runs the job's script; `answered`: with the
    floor's pre-receive hook and its socket. Returns (push i -> ms to the script's first
    line, the repo)."""
    repo = root / f"{name}.git"
    sh("git", "init", "-q", "--bare", repo)
    script = root / "job.sh"
    script.write_text(STAMP + "\n")
    out = root / f"{name}-stamps"
    hook = repo / "hooks" / "post-receive"
    hook.write_text(f"#!/bin/sh\nBUILD_NUMBER=0 BENCH_OUT={out} exec bash {script}\n")
    hook.chmod(0o755)
    if answered:
        from controller.answerclient import ACCEPTED

        sh("git", "-C", repo, "config", "receive.fsckObjects", "true")
        sh("git", "-C", repo, "config", "gc.auto", "0")
        pre = repo / "hooks" / "pre-receive"
        pre.write_text(FLOOR_PRE_RECEIVE % ACCEPTED)
        pre.chmod(0o755)
        _accepting(repo / "answers.sock")
    work = root / f"{name}-work"
    sh("git", "clone", "-q", repo, work)
    (work / "f").write_text("0")
    sh("git", "add", "-A", cwd=work)
    sh("git", "commit", "-qm", "0", cwd=work)
    sh("git", "push", "-q", "origin", "HEAD:main", cwd=work)

    def push(i: int) -> float:
        (work / "f").write_text(str(i + 1))
        sh("git", "commit", "-qam", str(i + 1), cwd=work)
        before = len(_stamps(out))
        t0 = time.time()
        sh("git", "push", "-q", "origin", "HEAD:main", cwd=work)
        wait_for(lambda b=before: len(_stamps(out)) > b, 30, f"the {name} hook")
        time.sleep(0.05)
        return (_stamps(out)[before] - t0) * 1000

    return push, repo

def push_latency(quick: bool) -> dict:
    """Round by round: one push to the hook's repository, one by path, one over HTTP, so
    that the load of other users of the machine falls on all three alike."""
    count = 20 if quick else 60
    root = Path(tempfile.mkdtemp(prefix="gitline-bench-push-"))
    results: dict = {"pushes": count}
    try:
        # The limit: the same kind of bare repo, a post-receive hook runs the same script.
        hook_push, base = _hook_repo(root, "base")
        # The floor of a push answered before its ref moves: the same, plus Gitline's
        # pre-receive shape (fsckObjects, stdin read, `git credential-cache` asking a
        # socket) answered `accept` at once by a thread that decides nothing.
        floor_push, _floor = _hook_repo(root, "floor", answered=True)

        out = root / "stamps"
        port = free_port()
        # No sandbox: the hook runs bash bare, so the job does too (bwrap adds its start).
        home = Home(root, {"GITLINE_PASS_ENV": "BENCH_OUT", "BENCH_OUT": str(out),
                           "GITLINE_SANDBOX": "none"})
        token = sh(sys.executable, "-m", "controller.cli", "token", "add", home.path, "bench",
                   env=home.env, check=False).stdout.strip()
        http = bool(token) and (ROOT / "controller" / "server" / "gitserver.py").exists()
        home.start(*(["--listen", f"127.0.0.1:{port}"] if http else []))
        home.commit("shippable.yml", PING, "ping line")
        home.push()
        home.wait_processed()
        from controller.store.gitstate import GitStateStore

        store = GitStateStore(home.repo)
        runs = [0]  # runs of ping so far (defining it runs nothing)

        def done() -> bool:
            h = store.read_snapshot().jobs.get("ping")
            return bool(h and h.last and h.last.number >= runs[0] and not h.active)

        if http:
            base_url = f"http://127.0.0.1:{port}"

            def up() -> bool:
                try:
                    urllib.request.urlopen(base_url + "/api/status", timeout=5)
                except urllib.error.HTTPError as err:
                    return err.code == 401
                except OSError:
                    return False
                return True

            wait_for(up, 30, "the HTTP listener", 0.1)
            url = f"http://bench:{token}@127.0.0.1:{port}/config.git"
            sh("git", "remote", "add", "http", url, cwd=home.work)
            sh("git", "-c", "credential.helper=", "fetch", "-q", "http", cwd=home.work)
        series: dict[str, list[float]] = {"hook": [], "floor": [], "gitline_path": [],
                                          "gitline_http": [], "answer_client": [],
                                          "answer_client_python": []}
        clients = {  # the hook's client (git's socket client), and its Python fallback
            "answer_client": ["git", "credential-cache", "--socket", str(root / "none.sock"),
                              "get"],
            "answer_client_python": [sys.executable, "-S", "-E",
                                     str(ROOT / "controller" / "answerclient.py"),
                                     "0" * 40, "1" * 40]}
        for i in range(count):
            series["hook"].append(hook_push(i))
            series["floor"].append(floor_push(i))
            # what a push by path pays for its answer before the controller is asked: the
            # pre-receive hook's client starting (here it finds no controller)
            for key, client in clients.items():
                t0 = time.perf_counter()
                subprocess.run(client, env={**GIT_ENV, "GIT_DIR": str(base)}, check=False,
                               stdin=subprocess.DEVNULL)
                series[key].append((time.perf_counter() - t0) * 1000)
            for key, remote in (("gitline_path", "origin"), ("gitline_http", "http")):
                if remote == "http" and not http:
                    continue
                runs[0] += 1
                series[key].append(_one_push(home, out, runs[0], remote, done))
        results["hook"] = summary(series["hook"])
        results["floor"] = summary(series["floor"])
        results["gitline_path"] = summary(series["gitline_path"])
        results["gitline_http"] = summary(series["gitline_http"]) if http else None
        results["answer_client"] = summary(series["answer_client"])
        results["answer_client_python"] = summary(series["answer_client_python"])
        results["peak_rss_mb"] = home.stop()
        return results
    finally:
        shutil.rmtree(root, ignore_errors=True)


# ---------------------------------------------------------------- 2 and 5. writes, log

def _wide_repo(path: Path, width: int) -> tuple[Any, Any, Any]:
    """A bare repository whose branch `s` holds one tree of `width` entries."""
    import pygit2
    from pygit2.enums import FileMode

    repo = pygit2.init_repository(str(path), bare=True)
    sig = pygit2.Signature("b", "b@b")
    blob = repo.create_blob(b"x")
    builder = repo.TreeBuilder()
    for i in range(width):
        builder.insert(f"resource_{i:04d}", blob, FileMode.BLOB)
    return repo, sig, repo.create_commit("refs/heads/s", sig, sig, "m", builder.write(), [])


def _raw_rate(path: Path, width: int, count: int) -> float:
    """Raw pygit2: blob + one tree of `width` entries + commit + ref, per commit."""
    from pygit2.enums import FileMode

    repo, sig, tip = _wide_repo(path, width)
    t0 = time.perf_counter()
    for i in range(count):
        tree = repo.get(tip).tree
        b = repo.TreeBuilder(tree)
        b.insert(f"resource_{i % width:04d}", repo.create_blob(b"v%d" % i), FileMode.BLOB)
        tip = repo.create_commit("refs/heads/s", sig, sig, "m", b.write(), [tip])
    return count / (time.perf_counter() - t0)


def _raw_pack_rate(path: Path, width: int, count: int, burst: int) -> float:
    """The same objects as _raw_rate, each `burst` commits held in memory and written as
    one pack (store/packwrite.py), then one move of the ref: the floor of the burst path."""
    import pygit2
    from pygit2.enums import FileMode

    from controller.store import packwrite

    repo, sig, tip = _wide_repo(path, width)
    t0 = time.perf_counter()
    for start in range(0, count, burst):
        with packwrite.held(repo) as held:
            for i in range(start, min(start + burst, count)):
                b = repo.TreeBuilder(repo[tip].peel(pygit2.Commit).tree)
                b.insert(f"resource_{i % width:04d}", repo.create_blob(b"v%d" % i),
                         FileMode.BLOB)
                tip = repo.create_commit(None, sig, sig, "m", b.write(), [tip])
        packwrite.install(repo, held.objects)
        repo.references["refs/heads/s"].set_target(tip)
    return count / (time.perf_counter() - t0)


def _burst_rates(store: Any, names: list[str], burst: int, batches: int,
                 per_batch: int, cpu: list[float]) -> list[float]:
    """versions/s when a pass decides `burst` versions at once (a push or a poll that
    changes that many resources): `append_versions`, as intake.py calls it."""
    from controller.core import model

    rates = []
    n = 0
    for _ in range(batches):
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(per_batch // burst):
            latest = store.read_snapshot().versions
            chosen = [names[(n + k) * 7 % len(names)] for k in range(burst)]
            n += burst
            numbers = {name: latest[name].number for name in chosen}
            batch = []
            for name in chosen:
                numbers[name] += 1
                batch.append(model.Version(name, numbers[name], values={"n": n},
                                           created_by="bench"))
            store.append_versions(batch)
        rates.append(per_batch // burst * burst / (time.perf_counter() - t0))
        cpu.append((time.process_time() - c0) * 1000 / (per_batch // burst * burst))
    return rates


def _rates(add: Callable[[int], None], batches: int, per_batch: int,
           cpu: list[float] | None = None) -> list[float]:
    """versions/s of each batch; `cpu` gets the process's CPU ms a version (user + system:
    the file system's work is system time), which the machine's load distorts less."""
    rates = []
    n = 0
    for _ in range(batches):
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(per_batch):
            n += 1
            add(n)
        rates.append(per_batch / (time.perf_counter() - t0))
        if cpu is not None:
            cpu.append((time.process_time() - c0) * 1000 / per_batch)
    return rates


BURSTS = (10, 100)  # versions decided at once, for the burst rows of section 2


def history(quick: bool) -> dict:
    import pygit2

    from controller.core import model
    from controller.reactor.reconcile import Reconciler
    from controller.store.configrepo import ConfigRepo
    from controller.store.gitstate import GitStateStore
    from controller.store.repoinit import init_home

    checkpoints = [1_000, 10_000] if quick else [1_000, 10_000, 100_000]
    batches, per_batch = (3, 100) if quick else (5, 200)
    root = Path(tempfile.mkdtemp(prefix="gitline-bench-hist-"))
    # The history is grown on a RAM disk when there is one (setup, not measured: 100k
    # commits of loose files on a shared disk take too long), packed, and copied to the
    # disk under test at each length; every figure is measured on that copy.
    shm = Path("/dev/shm")
    build_root = Path(tempfile.mkdtemp(prefix="gitline-bench-build-",
                                       dir=shm if shm.is_dir() else None))
    build_home = build_root / "home"
    init_home(build_home)
    results: dict = {"checkpoints": {}, "raw": {}}
    try:
        for width in (10, 1000):
            results["raw"][width] = spread(
                [_raw_rate(root / f"raw{width}-{i}.git", width, 300) for i in range(3)], 0)
        results["raw_pack"] = {burst: spread(
            [_raw_pack_rate(root / f"rawpack{burst}-{i}.git", 1000, 300, burst)
             for i in range(3)], 0) for burst in BURSTS}
        store = GitStateStore(build_home / "config.git")
        narrow = [f"res_{i:02d}" for i in range(8)] + ["hot", "cold"]
        for name in narrow:
            store.append_version(model.Version(name, 1, created_by="bench"))
        numbers = dict.fromkeys(narrow, 1)
        run_number = 0
        cause = model.Cause("manual", "bench")
        length = len(narrow)
        build_time = 0.0
        for checkpoint in checkpoints:
            t0 = time.perf_counter()
            while length < checkpoint:
                length += 1
                if length % 1000 == 0:
                    name = "cold"
                elif length % 10 == 0:
                    name = "hot"
                else:
                    run_number += 1
                    store.record_run(model.Run("filler", run_number, "succeeded", cause))
                    if length % 2000 == 1:
                        store.maintain()
                    continue
                numbers[name] += 1
                store.append_version(model.Version(name, numbers[name], created_by="bench"))
            build_time += time.perf_counter() - t0
            store.maintain(limit=0, wait=True)
            for old in root.glob("home*"):
                shutil.rmtree(old, ignore_errors=True)
            home = root / f"home{checkpoint}"
            shutil.copytree(build_home, home, symlinks=True)
            os.sync()  # the copy's writeback must not land inside the measurement
            repo_path = home / "config.git"
            config = ConfigRepo(repo_path)
            measured = GitStateStore(repo_path)
            figures: dict = {}
            rec = Reconciler(config, measured, None)  # type: ignore[arg-type]

            def add_narrow(n: int, rec: Reconciler = rec) -> None:
                rec.add_version(narrow[n % 8], {"n": n}, created_by="bench")

            figures["versions_per_s_10"] = spread(_rates(add_narrow, batches, per_batch), 0)
            # 1,000 resources: a branch from here, 990 more resources on it.
            wide_branch = f"wide{checkpoint}"
            raw = pygit2.Repository(str(repo_path))
            raw.references.create(f"refs/heads/{wide_branch}", raw.references[
                "refs/heads/state"].target)
            t0 = time.perf_counter()
            wide = GitStateStore(repo_path, wide_branch)
            wide.read_snapshot()
            list(wide.history("hot", 1))
            figures["cold_index_build_s"] = round(time.perf_counter() - t0, 2)
            for i in range(990):
                wide.append_version(model.Version(f"wide_{i:04d}", 1, created_by="bench"))
            wrec = Reconciler(config, wide, None)  # type: ignore[arg-type]

            def add_wide(n: int, rec: Reconciler = wrec) -> None:
                rec.add_version(f"wide_{(n * 7) % 990:04d}", {"n": n}, created_by="bench")

            cpu: list[float] = []
            figures["versions_per_s_1000"] = spread(
                _rates(add_wide, batches, per_batch, cpu), 0)
            figures["cpu_ms_per_version_1000"] = spread(cpu, 2)
            wide_names = [f"wide_{i:04d}" for i in range(990)]
            for burst in BURSTS:
                cpu = []
                figures[f"versions_per_s_1000_burst{burst}"] = spread(
                    _burst_rates(wide, wide_names, burst, batches, per_batch, cpu), 0)
                figures[f"cpu_ms_per_version_1000_burst{burst}"] = spread(cpu, 2)
            if checkpoint == checkpoints[0]:
                def add_reread(n: int, rec: Reconciler = wrec, st: GitStateStore = wide) -> None:
                    st._snapshot = None  # what every version cost before the kept snapshot
                    rec.add_version(f"wide_{(n * 7) % 990:04d}", {"n": n}, created_by="bench")

                figures["versions_per_s_1000_reread"] = spread(_rates(add_reread, 3, 30), 0)
            raw.references.delete(f"refs/heads/{wide_branch}")
            results["checkpoints"][checkpoint] = figures
        results["history_build_commits_per_s"] = round(length / max(build_time, 1e-9))
        measured.maintain(limit=0, wait=True)
        results["log"] = _log_reads(home, repo_path, numbers)
        results["log_floor"] = _walk_floor(repo_path)
        results["history_length"] = int(sh("git", "--git-dir", repo_path, "rev-list", "--count",
                                           "state").stdout)
        results["peak_rss_mb"] = peak_rss_mb()  # this process: the builder's data too
        results["serve_rss_100k_mb"] = _serve_rss(home, root / "serve")
        return results
    finally:
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(build_root, ignore_errors=True)


def _push_gated(home: Home) -> list[tuple[str, bytes]]:
    """Push the gated 5,000-job workflow to `home` and wait until it is taken in."""
    big = _gated(_big_files(5000))
    for rel, data in big:
        (home.work / rel).parent.mkdir(parents=True, exist_ok=True)
        (home.work / rel).write_bytes(data)
    sh("git", "add", "-A", cwd=home.work)
    sh("git", "commit", "-q", "-m", "5,000 jobs", cwd=home.work)
    home.push()
    _settled(900)(home)
    return big


def _serve_rss(existing: Path, root: Path) -> float:
    """Peak RSS of `gitline serve` on the HOME `existing` (its 100,000-commit state branch)
    once the gated 5,000-job workflow is pushed and a one-file change after it."""
    root.mkdir(parents=True, exist_ok=True)
    home = Home(root, existing=existing)
    try:
        home.start()
        big = _push_gated(home)
        home.commit(big[1][0], big[1][1].replace(b"COLOR: blue", b"COLOR: red", 1).decode())
        home.push()
        _settled(300)(home)
        return home.stop()
    finally:
        if home.proc is not None and home.proc.poll() is None:
            home.proc.kill()


def _children_cpu() -> float:
    """User + system seconds of the finished child processes so far."""
    import resource

    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _walk_floor(repo_path: Path) -> dict:
    """What `git log -- resources/<rare>` cannot go under: git's own walk of the same
    commits with no path (the commit-graph read, no tree or Bloom filter), and whether the
    controller's commit-graph is sound and covers the tip (`commit-graph verify`)."""
    walk, cpu = [], []
    for _ in range(7):
        t0, cpu0 = time.perf_counter(), _children_cpu()
        sh("git", "--git-dir", repo_path, "rev-list", "--count", "state")
        walk.append((time.perf_counter() - t0) * 1000)
        cpu.append((_children_cpu() - cpu0) * 1000)
    verify = sh("git", "--git-dir", repo_path, "commit-graph", "verify", check=False)
    tip = sh("git", "--git-dir", repo_path, "rev-parse", "state").stdout.strip()
    graphed = sh("git", "--git-dir", repo_path, "log", "-1", "--format=%H", "state", "--",
                 "resources/cold", env={**GIT_ENV, "GIT_TRACE2_PERF": "1"}).stderr
    stats = re.search(r'statistics:(\{[^}]*\})', graphed)
    return {"walk_ms": spread(walk), "walk_cpu_ms": spread(cpu),
            "verify_ok": verify.returncode == 0 and not verify.stderr.strip(),
            "verify_says": (verify.stderr or verify.stdout).strip()[:300], "tip": tip,
            "tip_filter": json.loads(stats.group(1)) if stats else None}


def _log_reads(home: Path, repo_path: Path, numbers: dict[str, int]) -> dict:
    from controller.store.gitstate import GitStateStore

    out: dict = {}
    for name in ("hot", "cold"):
        cli, inproc, gitlog, nograph, gitcpu = [], [], [], [], []
        for _ in range(7):
            t0 = time.perf_counter()
            done = sh(sys.executable, "-m", "controller.cli", "log", home, name, "-n", "100")
            cli.append((time.perf_counter() - t0) * 1000)
            assert len(done.stdout.splitlines()) == min(100, numbers[name]), done.stdout[:300]
            t0 = time.perf_counter()
            entries = list(GitStateStore(repo_path).history(name, 100))
            inproc.append((time.perf_counter() - t0) * 1000)
            assert len(entries) == min(100, numbers[name])
            t0, cpu0 = time.perf_counter(), _children_cpu()
            sh("git", "--git-dir", repo_path, "log", "-n", "100", "--format=%H %s", "state",
               "--", f"resources/{name}")
            gitlog.append((time.perf_counter() - t0) * 1000)
            gitcpu.append((_children_cpu() - cpu0) * 1000)  # apart from the machine's load
            t0 = time.perf_counter()  # the same walk without the controller's commit-graph
            sh("git", "-c", "core.commitGraph=false", "--git-dir", repo_path, "log", "-n",
               "100", "--format=%H %s", "state", "--", f"resources/{name}")
            nograph.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        sh(sys.executable, "-c", "import controller.cli")
        startup = (time.perf_counter() - t0) * 1000
        traced = sh("git", "--git-dir", repo_path, "log", "-n", "100", "--format=%H", "state",
                    "--", f"resources/{name}", env={**GIT_ENV, "GIT_TRACE2_PERF": "1"}).stderr
        bloom = re.search(r'statistics:(\{[^}]*\})', traced)  # filters used, or not present
        out[name] = {"versions": numbers[name], "cli_ms": spread(cli), "store_ms": spread(inproc),
                     "git_log_ms": spread(gitlog), "git_log_nograph_ms": spread(nograph),
                     "git_log_cpu_ms": spread(gitcpu),
                     "bloom": json.loads(bloom.group(1)) if bloom else None,
                     "python_start_ms": round(startup, 1)}
    return out


# --------------------------------------------------------------------------- 3. fan-out


def fanout(quick: bool) -> dict:
    jobs = 200 if quick else 1000
    result = _fanout(jobs)
    result["floor"] = _spawn_floor(jobs, 4)
    result["floor_sandboxed"] = _spawn_floor(jobs, 4, sandboxed=True)
    return result


def _spawn_floor(count: int, workers: int, sandboxed: bool = False) -> dict:
    """The floor of a fan-out on this machine, now: `count` scripts of `true` run as a
    step runs them (`bash -e -o pipefail FILE` in a new session, output piped), `workers`
    at a time from threads of one Python process, nothing recorded. `sandboxed`: each in
    a folder of its own, handed over and run inside the sandbox as the local executor
    runs a step (`sandbox.default()`: bwrap, dropping to uid 65534 under root)."""
    from concurrent.futures import ThreadPoolExecutor

    from controller.execution import sandbox

    box = sandbox.default() if sandboxed else sandbox.Sandbox("none")
    root = Path(tempfile.mkdtemp(prefix="gitline-bench-spawn-"))
    try:
        folders = []
        for i in range(count):
            folder = root / "work" / f"j{i:04d}" / "1"
            folder.mkdir(parents=True)
            (folder / "step.sh").write_text("true\n")
            box.hand_over(folder)
            folders.append(folder)

        def one(folder: Path) -> None:
            argv = box.wrap(["bash", "-e", "-o", "pipefail", str(folder / "step.sh")], folder)
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True,
                                    cwd=folder)
            proc.communicate()
            assert proc.returncode == 0, argv

        t0 = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(one, folders))
        elapsed = time.perf_counter() - t0
        return {"seconds": round(elapsed, 2), "runs_per_s": round(count / elapsed, 1),
                "sandbox": box.kind}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def fanout_celery(quick: bool) -> dict:
    """The same fan-out on two `gitline worker`s (2 processes each) through a real
    redis-server, beside the local executor's figure at the same size, in the same run."""
    import secrets as random_source

    jobs = 100 if quick else 300
    root = Path(tempfile.mkdtemp(prefix="gitline-bench-celery-"))
    procs: list[subprocess.Popen] = []
    try:
        port = free_port()
        procs.append(subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(root)], stdout=subprocess.DEVNULL))
        broker = f"redis://127.0.0.1:{port}/0"
        home_root = root / "home-root"
        home_root.mkdir()

        def celery_home(home: Home) -> None:
            from controller.execution import sealing

            (home.path / "gitline.yml").write_text(
                f"executor: celery\nbroker_url: {broker}\n")
            sealing.home_key(home.path)  # made now: the workers are given its file
            for i in range(2):
                log = (root / f"worker{i}.log").open("w")
                procs.append(subprocess.Popen(
                    [sys.executable, "-m", "controller.cli", "worker", "--broker", broker,
                     "--concurrency", "2", "--hostname",
                     f"bench{i}-{random_source.token_hex(2)}@localhost",
                     "--work-root", str(root / f"w{i}"), "--key-file",
                     str(home.path / sealing.KEY_FILE)],
                    stdout=log, stderr=subprocess.STDOUT, cwd=ROOT))
            wait_for(lambda: all(" ready." in (root / f"worker{i}.log").read_text()
                                 for i in range(2)), 60, "the workers", 0.2)

        celery = _fanout(jobs, root=home_root, before_start=celery_home)
        local = _fanout(jobs)
        return {"jobs": jobs, "workers": 2, "celery": celery, "local": local}
    finally:
        for proc in reversed(procs):
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(root, ignore_errors=True)


def _fanout(jobs: int, root: Path | None = None,
            before_start: Callable[[Home], None] | None = None) -> dict:
    """One push -> `jobs` jobs: seconds until the last run is recorded."""
    lines = ["resources:", "  - name: seed", "    type: params", "    versionTemplate:",
             "      params: {N: \"1\"}", "jobs:"]
    for i in range(jobs):
        lines += [f"  - name: j{i:04d}", "    type: runSh", "    steps:", "      - IN: seed",
                  "      - TASK:", "          script:", "            - \"true\""]
    own = root is None
    root = root or Path(tempfile.mkdtemp(prefix="gitline-bench-fan-"))
    try:
        home = Home(root)
        if before_start is not None:
            before_start(home)
        home.start()
        home.commit("shippable.yml", "jobs: []\n", "empty")
        home.push()
        home.wait_processed()
        import pygit2

        from controller.store.commitmessages import trailer_groups

        repo = pygit2.Repository(str(home.repo))
        seen: dict[str, str] = {"tip": ""}
        finished = [0]

        def count() -> bool:
            tip = repo.references["refs/heads/state"].target
            commit = repo.get(tip)
            fresh = 0
            while commit is not None and str(commit.id) != seen["tip"]:
                # one trailer group per run recorded (several in a commit of a burst)
                fresh += sum(1 for g in trailer_groups(commit.message)
                             if g.get("Run") == "1" and g.get("Status") in ("succeeded",
                                                                            "failed"))
                commit = commit.parents[0] if commit.parent_ids else None
            seen["tip"] = str(tip)
            finished[0] += fresh
            return finished[0] >= jobs

        count()
        finished[0] = 0
        home.commit("shippable.yml", "\n".join(lines) + "\n", "fan out")
        t0 = time.perf_counter()
        home.push()
        wait_for(count, 600, f"{jobs} runs", 0.2)
        elapsed = time.perf_counter() - t0
        commits = int(sh("git", "--git-dir", home.repo, "rev-list", "--count", "state").stdout)
        assert home.proc is not None
        cpu = _cpu_seconds(home.proc.pid)  # the controller's own, all threads
        return {"jobs": jobs, "seconds": round(elapsed, 2),
                "runs_per_s": round(jobs / elapsed, 1), "state_commits": commits,
                "controller_cpu_s": round(cpu, 1), "peak_rss_mb": home.stop(),
                "load_at_end": os.getloadavg()[0]}
    finally:
        if own:
            shutil.rmtree(root, ignore_errors=True)


# -------------------------------------------------------------------- 4. a big workflow


def _big_files(count: int, color: str = "blue") -> list[tuple[str, bytes]]:
    files = []
    per = 100
    for f in range(count // per):
        lines = ["resources:"]
        for i in range(f * per, (f + 1) * per):
            c = color if i == 0 else "blue"
            lines += [f"  - name: r{i:04d}", "    type: params", "    versionTemplate:",
                      f"      params: {{N: \"{i}\", COLOR: {c}}}"]
        lines.append("jobs:")
        for i in range(f * per, (f + 1) * per):
            lines += [f"  - name: j{i:04d}", "    type: runSh", "    steps:",
                      f"      - IN: r{i:04d}"]
            if i % 10:
                lines.append(f"      - IN: j{i - 1:04d}")
            lines += ["      - TASK:", "          script:", f"            - echo {i}"]
        files.append((f"part{f:02d}/shippable.yml", ("\n".join(lines) + "\n").encode()))
    return files


def big_workflow(quick: bool) -> dict:
    from controller.core import fileload, loader, model, planner

    size = 5000
    repeats = 3
    files = _big_files(size)
    loads = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        wf = loader.load_workflow(files)
        loads.append((time.perf_counter() - t0) * 1000)
    assert len(wf.resources) == size and len(wf.jobs) == size, wf.problems[:3]
    assert not wf.inconsistent, list(wf.inconsistent.items())[:3]
    # Steady state: every resource at version 1, every job ran once with those inputs.
    versions = {r: model.Version(r, 1, created_by="bench") for r in wf.resources}
    jobs = {}
    for name, job in wf.jobs.items():
        inputs = tuple(
            model.InputVersion(i.name, "resource", 1) if i.name in wf.resources
            else model.InputVersion(i.name, "job", 1) for i in job.inputs)
        run = model.Run(name, 1, "succeeded", model.Cause("manual", "bench"), inputs)
        jobs[name] = model.JobHistory(last=run, last_succeeded=1)
    snap = model.Snapshot(versions, jobs, "a" * 40, "a" * 40, "b" * 40)
    idle = planner.plan_runs(wf, snap)
    assert not idle.runs, idle.runs[:3]
    # A push that changes one file: r0000 gets version 2; exactly j0000 is due.
    changed = model.Snapshot({**versions, "r0000": model.Version("r0000", 2)}, jobs,
                             "a" * 40, "a" * 40, "c" * 40)
    plans, full = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()  # the controller's next pass: it holds the previous plan
        plan = planner.plan_runs(wf, changed, previous=idle.memo)
        plans.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        whole = planner.plan_runs(wf, changed)
        full.append((time.perf_counter() - t0) * 1000)
    assert plan == whole
    assert [p.job for p in plan.runs] == ["j0000"], [p.job for p in plan.runs][:5]
    # the same push as a long-lived process loads it: the other 49 files from its cache
    cache: fileload.LoadCache = {}
    loader.load_workflow(files, cache=cache)
    reloads = []
    for i in range(repeats):
        pushed = [(files[0][0], files[0][1].replace(b"COLOR: blue", f"COLOR: c{i}".encode(),
                                                    1)), *files[1:]]
        t0 = time.perf_counter()
        again = loader.load_workflow(pushed, cache=cache)
        reloads.append((time.perf_counter() - t0) * 1000)
    assert len(again.jobs) == size and not again.problems
    text = sum(len(c) for _, c in files)
    return {"resources": size, "jobs": size, "files": len(files), "yaml_kb": text // 1024,
            "load_ms": spread(loads), "plan_ms": spread(plans, 2),
            "full_plan_ms": spread(full, 2), "reload_ms": spread(reloads, 1),
            "peak_rss_mb": peak_rss_mb()}


# ------------------------------------------------------------------ 7. CLI start-up


def cli_startup(quick: bool) -> dict:
    """Each command as a new process on the sample after its first runs, beside
    `python -c pass` and `git log -1`; bytecode compiled, as an installed package has it."""
    from controller.store.gitstate import GitStateStore

    n = 5 if quick else 15
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        home = Home(root)
        shutil.copytree(ROOT / "sample-repo", home.work, dirs_exist_ok=True)
        sh("git", "add", "-A", cwd=home.work)
        sh("git", "commit", "-q", "-m", "sample", cwd=home.work)
        home.push()
        home.start("--listen", "none")
        try:
            wait_for(lambda: "deploy_staging" in GitStateStore(home.repo).read_snapshot().jobs
                     and GitStateStore(home.repo).read_snapshot().jobs["deploy_staging"].last,
                     120, "the sample's first runs", 0.2)
        finally:
            home.stop()
        env = {k: v for k, v in home.env.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(PYTHONPATH=str(ROOT), PYTHONPYCACHEPREFIX=str(root / "pyc"),
                   PATH=os.environ.get("PATH", ""))
        h = str(home.path)
        cmds = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "git log -1 state": ["git", "--git-dir", str(home.repo), "log", "-1", "state"],
            "gitline --help": [sys.executable, "-m", "controller.cli", "--help"],
            "gitline status": [sys.executable, "-m", "controller.cli", "status", h],
            "gitline log app_build": [sys.executable, "-m", "controller.cli", "log", h,
                                      "app_build"],
            "gitline logs build_app": [sys.executable, "-m", "controller.cli", "logs", h,
                                       "build_app"],
            "gitline trigger deploy_prod": [sys.executable, "-m", "controller.cli", "trigger",
                                            h, "deploy_prod"],
        }
        for cmd in cmds.values():
            subprocess.run(cmd, env=env, cwd=root, capture_output=True)  # writes bytecode
        times: dict[str, list[float]] = {name: [] for name in cmds}
        for _ in range(n):  # round by round: a burst of load on this shared machine hits all
            for name, cmd in cmds.items():
                started = time.perf_counter()
                done = subprocess.run(cmd, env=env, cwd=root, capture_output=True, text=True)
                times[name].append((time.perf_counter() - started) * 1000)
                if done.returncode != 0:
                    raise RuntimeError(f"{name}: {done.stderr.strip()[-300:]}")
        return {"commands": {name: spread(t) for name, t in times.items()}}



# ------------------------------------------------------------ 7. idle CPU after a push

def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle_cpu(quick: bool) -> dict:
    """A real `gitline serve` on the sample, HTTP on: CPU over a minute once its runs ended."""
    seconds = 20 if quick else 60
    root = Path(tempfile.mkdtemp(prefix="gitline-bench-idle-"))
    try:
        home = Home(root, {"GITLINE_PASS_ENV": "GITLINE_DEMO_ROOT",
                           "GITLINE_DEMO_ROOT": str(root / "deployed")})
        home.start("-v", "--listen", f"127.0.0.1:{free_port()}")  # -v: a line per pass
        shutil.copytree(ROOT / "sample-repo", home.work, dirs_exist_ok=True)
        sh("git", "add", "-A", cwd=home.work)
        sh("git", "commit", "-qm", "the sample", cwd=home.work)
        home.push()
        home.wait_processed()
        from controller.store.gitstate import GitStateStore

        store = GitStateStore(home.repo)

        def settled() -> bool:  # every run ended (or waits for an approval nobody gives)
            snap = store.read_snapshot()
            return bool(snap.jobs) and all(r.status == "pending_approval"
                                           for h in snap.jobs.values() for r in h.active)

        wait_for(settled, 120, "the sample's runs to end", 0.2)
        time.sleep(2)
        assert home.proc is not None
        log = root / "serve.log"
        passes_before = log.read_text().count("reconcile pass ")
        cpu0, t0 = _cpu_seconds(home.proc.pid), time.monotonic()
        time.sleep(seconds)
        cpu1, t1 = _cpu_seconds(home.proc.pid), time.monotonic()
        passes = log.read_text().count("reconcile pass ") - passes_before
        threads = len(list(Path(f"/proc/{home.proc.pid}/task").iterdir()))
        return {"seconds": round(t1 - t0, 1), "cpu_seconds": round(cpu1 - cpu0, 3),
                "cpu_percent": round((cpu1 - cpu0) / (t1 - t0) * 100, 2),
                "passes": passes, "poll_seconds": 10, "threads": threads,
                "peak_rss_mb": home.stop()}
    finally:
        shutil.rmtree(root, ignore_errors=True)



# ------------------------------------------------------------- 9. the push's answer


def _timed_push(work: Path) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(["git", "push", "-q", "origin", "HEAD:main"], cwd=work,
                          env=GIT_ENV, capture_output=True, text=True)
    ms = (time.perf_counter() - t0) * 1000
    if done.returncode != 0:
        raise RuntimeError(f"push failed: {done.stderr}")
    return ms


def _answer_series(homes: dict[str, Home], bare: Path, files: list[tuple[str, bytes]],
                   change: Callable[[int], tuple[str, bytes]], count: int,
                   settle: Callable[[Home], None], repacked: bool = False) -> dict:
    """Push the same commits to a bare repository with no hook and to each home, one after
    the other: ms per push, p50 of each, and how much each home's hook adds."""
    plain = bare.parent / f"{bare.stem}-work"
    sh("git", "clone", "-q", bare, plain)
    works = {"plain": plain, **{k: h.work for k, h in homes.items()}}
    for work in works.values():
        for rel, data in files:
            (work / rel).parent.mkdir(parents=True, exist_ok=True)
            (work / rel).write_bytes(data)
        sh("git", "add", "-A", cwd=work)
        sh("git", "commit", "-qm", "the workflow", cwd=work)
        _timed_push(work)
    for home in homes.values():
        settle(home)
        # the first push's loose objects, if it left many, are packed in the background
        # (its versions are one pack now): a one-off that would compete for the cores
        if repacked and home.proc is not None and _loose_count(home.repo) > 1000:
            with contextlib.suppress(AssertionError, TimeoutError):
                wait_for(lambda h=home: "packed loose objects" in _serve_log(h), 120,
                         "the repack")
    times: dict[str, list[float]] = {k: [] for k in works}
    for i in range(count):
        rel, data = change(i)
        for key, work in works.items():
            (work / rel).write_bytes(data)
            sh("git", "commit", "-qam", f"change {i}", cwd=work)
            times[key].append(_timed_push(work))
            if key in homes:
                settle(homes[key])
    out = {k: summary(v) for k, v in times.items()}
    for key in homes:
        out[f"{key}_added_ms"] = round(out[key]["p50"] - out["plain"]["p50"], 1)
    return out


def _loose_count(repo: Path) -> int:
    out = sh("git", "--git-dir", repo, "count-objects").stdout  # "N objects, M kilobytes"
    return int(out.split()[0])


def _serve_log(home: Home) -> str:
    path = home.root / "serve.log"
    return path.read_text() if path.exists() else ""


def _settled(timeout: float) -> Callable[[Home], None]:
    def settle(home: Home) -> None:
        if home.proc is None:
            return
        from controller.store.gitstate import GitStateStore

        head = sh("git", "rev-parse", "HEAD", cwd=home.work).stdout.strip()

        def idle() -> bool:
            snap = GitStateStore(home.repo).read_snapshot()
            return snap.processed_commit == head and not any(
                h.active for h in snap.jobs.values())
        wait_for(idle, timeout, "the controller to be idle", 0.05)
    return settle


def _gated(files: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """The big workflow with every job waiting for a yearly tick: pushes make versions and
    plans, and no run (5,000 runs would measure the executor, not the answer)."""
    gate = (b"resources:\n  - name: gate\n    type: time\n    versionTemplate:\n"
            b"      interval: \"0 0 1 1 *\"\n")
    return [("gate/shippable.yml", gate)] + [
        (rel, data.replace(b"    steps:\n", b"    steps:\n      - IN: gate\n"))
        for rel, data in files]


def _pinged(n: int) -> bytes:
    """A resource and the job it starts, beside the 5,000 gated jobs: a push that changes
    the resource starts the job (its script stamps the time)."""
    return (f"resources:\n  - name: ping_in\n    type: params\n    versionTemplate:\n"
            f"      params: {{N: \"{n}\"}}\njobs:\n  - name: ping\n    type: runSh\n"
            f"    steps:\n      - IN: ping_in\n      - TASK:\n          script:\n"
            f"            - {STAMP}\n").encode()


def push_answer(quick: bool) -> dict:
    count = 8 if quick else 20
    root = Path(tempfile.mkdtemp(prefix="gitline-bench-answer-"))
    results: dict = {}
    homes: dict[str, Home] = {}
    try:
        sample = ROOT / "sample-repo"
        files = [(p.relative_to(sample).as_posix(), p.read_bytes())
                 for p in sorted(sample.rglob("*")) if p.is_file()]
        hello = (sample / "app" / "hello.sh").read_bytes()
        for key in ("controller", "hook_alone"):
            (root / key).mkdir()
            homes[key] = Home(root / key)
        homes["controller"].start("--listen", "none")
        sh("git", "init", "-q", "--bare", root / "plain.git")
        results["sample"] = _answer_series(
            homes, root / "plain.git", files,
            lambda i: ("app/hello.sh", hello + f"# change {i}\n".encode()), count,
            _settled(60))
        results["peak_rss_mb"] = homes["controller"].stop()

        big = _gated(_big_files(5000)) + [("ping/shippable.yml", _pinged(0))]
        first = big[1][1]
        (root / "big").mkdir()
        out = root / "big-out"  # the one folder the sandboxed job may write (uid 65534)
        out.mkdir()
        out.chmod(0o777)
        stamps = out / "stamps"
        bighome = Home(root / "big", {"GITLINE_PASS_ENV": "BENCH_OUT", "BENCH_OUT": str(stamps),
                                      "GITLINE_SANDBOX_BIND": str(out)})
        homes = {"controller": bighome}
        bighome.start("--listen", "none")
        sh("git", "init", "-q", "--bare", root / "big-plain.git")
        results["big"] = _answer_series(
            {"controller": bighome}, root / "big-plain.git", big,
            lambda i: (big[1][0], first.replace(b"COLOR: blue", f"COLOR: c{i}".encode(), 1)),
            max(5, count // 2), _settled(600), repacked=True)
        results["big"]["jobs"] = 5000
        # push -> job start: one resource of the 5,000-job workflow changed, its job runs
        starts = []
        for i in range(max(5, count // 2)):
            before = len(_stamps(stamps))
            bighome.commit("ping/shippable.yml", _pinged(i + 1).decode(), f"ping {i}")
            t0 = time.time()
            bighome.push()
            wait_for(lambda b=before: len(_stamps(stamps)) > b, 120, "the job to start")
            starts.append((_stamps(stamps)[before] - t0) * 1000)
            _settled(600)(bighome)
        results["big"]["job_start"] = summary(starts)
        results["big_peak_rss_mb"] = bighome.stop()
        return results
    finally:
        for home in homes.values():
            if home.proc is not None and home.proc.poll() is None:
                home.proc.kill()
        shutil.rmtree(root, ignore_errors=True)


# ------------------------------------------- 10. status of the 5,000-job workflow


def _get_ms(url: str, token: str) -> float:
    req = urllib.request.Request(url, headers={"Authorization": "Bearer " + token})
    began = time.perf_counter()
    with urllib.request.urlopen(req, timeout=120) as resp:
        resp.read()
    return (time.perf_counter() - began) * 1000


def _web_opener(base: str, token: str) -> urllib.request.OpenerDirector:
    """A browser's session on the web view: signed in through /login with `token`."""
    import http.cookiejar

    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    with opener.open(base + "/login", timeout=60) as resp:
        found = re.search(r'name="csrf" value="([^"]*)"', resp.read().decode())
    assert found, "no CSRF token on /login"
    body = urllib.parse.urlencode({"csrf": found.group(1), "token": token,
                                   "next": "/web/tip"}).encode()
    with opener.open(base + "/login", data=body, timeout=60) as resp:
        resp.read()  # 303 to /web/tip, followed with the session's cookie
    return opener


def _web_ms(opener: urllib.request.OpenerDirector, url: str) -> float:
    began = time.perf_counter()
    with opener.open(url, timeout=120) as resp:
        resp.read()
    return (time.perf_counter() - began) * 1000


def status_big(quick: bool) -> dict:
    """GET /api/status and `gitline status` with the gated 5,000-job workflow pushed."""
    count = 10 if quick else 30
    root = Path(tempfile.mkdtemp(prefix="gitline-bench-status-"))
    home: Home | None = None
    try:
        home = Home(root)
        token = sh(sys.executable, "-m", "controller.cli", "token", "add", home.path, "bench",
                   "--scope", "read").stdout.strip()
        port = free_port()
        home.start("--listen", f"127.0.0.1:{port}")
        big = _push_gated(home)
        url = f"http://127.0.0.1:{port}/api/status"
        wait_for(lambda: _get_ms(f"http://127.0.0.1:{port}/healthz", token) >= 0, 60,
                 "the listener")
        first = _get_ms(url, token)  # after the load, the first answer works it out
        warm = [_get_ms(url, token) for _ in range(count)]
        changed = []
        for i in range(3 if quick else 5):  # one file changed: the first answer after it
            home.commit(big[1][0], big[1][1].replace(b"COLOR: blue", f"COLOR: s{i}".encode(),
                                                     1).decode(), f"change {i}")
            home.push()
            _settled(300)(home)
            changed.append(_get_ms(url, token))
        cli = []
        for _ in range(3 if quick else 5):
            began = time.perf_counter()
            sh(sys.executable, "-m", "controller.cli", "status", home.path)
            cli.append((time.perf_counter() - began) * 1000)
        # an open page polls /web/tip every 1.5 s; the line page itself, between changes
        web = _web_opener(f"http://127.0.0.1:{port}", token)
        tip = [_web_ms(web, f"http://127.0.0.1:{port}/web/tip") for _ in range(count)]
        page = [_web_ms(web, f"http://127.0.0.1:{port}/") for _ in range(3 if quick else 5)]
        return {"jobs": 5000, "api_first_ms": round(first, 1), "api_warm": summary(warm),
                "api_after_change": spread(changed), "cli": spread(cli),
                "web_tip": summary(tip), "web_line": spread(page),
                "peak_rss_mb": home.stop()}
    finally:
        if home is not None and home.proc is not None and home.proc.poll() is None:
            home.proc.kill()
        shutil.rmtree(root, ignore_errors=True)


SECTIONS = {"push": push_latency, "history": history, "fanout": fanout, "big": big_workflow,
            "cli": cli_startup, "idle": idle_cpu, "answer": push_answer, "status": status_big,
            "celery": fanout_celery}
SECTIONS["disk"] = lambda quick: __import__("disk").disk(quick)  # bench/disk.py

if __name__ == "__main__":
    name = sys.argv[1]
    quick = "--quick" in sys.argv[2:]
    print(json.dumps(SECTIONS[name](quick)))
