"""The Celery side of a run: the app and the one task, `gitline.run`.

`make_app(url)` builds a Celery app whose broker and result backend are one Redis URL,
with JSON the only content type accepted (a broker is not a trusted channel for code, so
no pickle). The task takes a RunSpec as codec JSON, runs it with `run.execute` in a
fresh workdir under the worker's work root (the same code as the local executor, so a
job sees the same folders, variables and `shipctl`), and returns the Outcome as codec
JSON. `gitline worker` (cli.py) runs `run_worker`; the controller's CeleryExecutor uses
`make_app` to reach the same broker.

While the run goes on, the task keeps its state `STARTED` with a meta of
{startedAt, hostname, pid, beat}; `beat` counts up every `heartbeat` seconds so the
controller can tell a worker that died from one that is busy. Signals, while the task
runs: SIGTERM (what `revoke(terminate=True)` sends) cancels the run, so on_cancel and
always still run and the outcome says `cancelled`; SIGUSR2 abandons it (kill, no hooks:
the controller is shutting down and will run it again). A pool process that took such a
signal ends once its result is stored, and Celery starts a fresh one.

Each run executes once, or exactly once more when its worker died under it. Before it
runs anything a delivery claims the task in Redis (`claim`): a live claim lasts three
heartbeats and every heartbeat renews it; a finished run's claim says `done`. Messages
are acknowledged late and requeued when a pool process dies (OOM, kill -9), so the run
is delivered again (or, when the whole worker died, sent again by the controller): that
delivery waits for the dead holder's claim to lapse and runs the job as the run's next
attempt (GITLINE_ATTEMPT, Outcome.attempt: the record says attempt 2 and which worker
was lost); a third is refused. A second message for a live or finished task (sent again
after a broker lost the first) runs nothing. A claim that a Redis restarted without
persistence forgot is taken back by the next heartbeat.
While Redis is unreachable the worker keeps retrying to store heartbeats and the outcome
(`result_backend_always_retry`) rather than dropping them: the controller records the run
as it ended once Redis is back.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from celery import Celery
from celery.exceptions import Ignore
from celery.signals import task_postrun

from controller.core.clock import now_iso
from controller.core.runspec import ran_as, ran_by
from controller.execution import bigfiles, codec, sealing, step
from controller.execution.run import execute

log = logging.getLogger(__name__)

TASK_NAME = "gitline.run"
DEFAULT_QUEUE = "gitline"
CANCEL_SIGNAL = "SIGTERM"
ABANDON_SIGNAL = "SIGUSR2"
DEFAULT_HEARTBEAT = 5.0
CLAIM_SECONDS = 7 * 24 * 3600  # as long as results are kept
MAX_ATTEMPTS = 2  # a run whose worker died is delivered once more, never a third time
DONE = "done:"  # the claim of a finished (or given up) run starts so

# renew a claim only if it is still ours (or was forgotten by a restarted Redis)
_RENEW = """
local held = redis.call('get', KEYS[1])
if held == ARGV[1] or not held then
  return redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]) and 1
end
return 0
"""


def claim_key(task_id: str) -> str:
    """The Redis key a worker sets (NX) to run task `task_id`, holding its hostname."""
    return f"gitline:claim:{task_id}"


LIVE_LOG_ENTRIES = 2000  # a run's live log stream in Redis keeps about this many chunks


def live_log_key(task_id: str) -> str:
    """The Redis stream of task `task_id`'s live log (chunks as the run prints them)."""
    return f"gitline:log:{task_id}"


def attempts_key(task_id: str) -> str:
    """The Redis counter of the deliveries that claimed task `task_id`."""
    return f"gitline:attempts:{task_id}"


def holder_key(task_id: str) -> str:
    """The Redis key naming the worker of the latest delivery that claimed `task_id`."""
    return f"gitline:holder:{task_id}"


def sent_key(task_id: str) -> str:
    """The Redis key the controller sets when it sends task `task_id`."""
    return f"gitline:sent:{task_id}"


def default_work_root() -> Path:
    return Path(os.environ.get("GITLINE_WORK_ROOT") or Path.home() / ".gitline-worker" / "work")


def make_app(broker_url: str, *, results: bool = True, work_root: Path | None = None,
             default_queue: str = DEFAULT_QUEUE, worker: bool = False) -> Celery:
    """A Celery app on `broker_url` (also the result backend unless `results` is False).

    A sender without results matters: Celery's Redis backend subscribes to every task it
    sends (for `.get()`), a buffer the controller would never drain. A `worker` app waits
    out a Redis outage to store heartbeats and outcomes; the controller's must not (its
    one thread would hang in a read instead of saying the broker is away).
    """
    app = Celery("gitline", broker=broker_url, backend=broker_url if results else None,
                 set_as_current=False)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        task_default_queue=default_queue,
        worker_prefetch_multiplier=1,  # a run waits in the queue, not behind a busy worker
        # a run whose pool process died is requeued and runs once more, as attempt 2; the
        # claim (below) keeps every other redelivery from running anything
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=5,
        redis_socket_connect_timeout=5,
        redis_socket_timeout=30,
        result_expires=CLAIM_SECONDS,
        # an outcome waits for Redis instead of being dropped: retried without end, at most
        # 2 s apart, so a run that ended during an outage is recorded soon after it
        result_backend_always_retry=worker,
        result_backend_max_sleep_between_retries_ms=2000,
        worker_hijack_root_logger=False,
        gitline_work_root=str(work_root or default_work_root()),
    )
    app.task(name=TASK_NAME, bind=True)(run)
    return app


def run(task: Any, spec_json: str, heartbeat: float = DEFAULT_HEARTBEAT,
        fetch: str = "") -> str:
    """The task `gitline.run`: a sealed RunSpec (codec JSON) in, codec JSON of its Outcome
    out. A message that this worker's key did not seal fails the task and runs nothing.
    `fetch` (sealed): input files too big for the message, fetched from the controller."""
    task_id = task.request.id
    if task.backend.get_task_meta(task_id, cache=False).get("status") == "REVOKED":
        raise Ignore()  # cancelled while no worker was up to hear the revoke
    if _key is None:
        raise sealing.SealError("this worker has no key; nothing was run")
    spec = codec.spec_from_json(sealing.unseal(spec_json, _key))
    node = task.request.hostname or socket.gethostname()
    live_ms = claim_live_ms(heartbeat)
    taken = claim(task.backend, task_id, node, live_ms)
    if taken.attempt == 0:
        log.warning("%s run %d (task %s): %s; not run", spec.job.name, spec.run.number,
                    task_id, taken.why)
        raise Ignore()
    if fetch:
        spec = _fetched(spec, fetch)
    control = step.RunControl()
    # a redelivery after a lost worker is the run's next attempt (GITLINE_ATTEMPT, the record)
    spec = ran_as(ran_by(spec, node), spec.run.attempt + taken.attempt - 1)
    n = spec.run.attempt
    note = (f"attempt {n}: the worker of attempt {n - 1} ({taken.lost}) was lost under "
            "it; this run started again from the beginning") if taken.attempt > 1 else ""
    beat = Heartbeat(task.backend, task_id, node, heartbeat, live_ms)
    beat.meta.update({"attempt": n, "note": note})  # the record says so while it runs
    try:
        with _signals(control):
            outcome = execute(spec, Path(task.app.conf.gitline_work_root),
                              control=control, on_started=beat.start, box=_box,
                              live_tee=_live_log(task.backend.client, task_id))
    finally:
        beat.stop()
    outcome = replace(outcome, worker=node)
    if taken.attempt > 1:
        outcome = replace(outcome, log=f"gitline: {note}\n{outcome.log}", attempt=n,
                          message="; ".join(m for m in (note, outcome.message) if m))
    with contextlib.suppress(Exception):  # the outcome itself is what must land
        task.backend.client.set(claim_key(task_id), DONE + node, ex=CLAIM_SECONDS)
    log.info("%s run %d: %s", spec.job.name, spec.run.number, outcome.status)
    return codec.outcome_to_json(outcome)


def _fetched(spec: Any, fetch: str) -> Any:
    """`spec` with the files its message only referred to, fetched from the controller
    with this worker's token (bigfiles.fetch checks each against its blob id)."""
    assert _key is not None
    refs = [bigfiles.Ref.from_json(r) for r in json.loads(sealing.unseal(fetch, _key))]
    if not (_controller and _token):
        raise bigfiles.FetchError(
            f"the run's input {refs[0].path} ({refs[0].size} bytes) is fetched from the "
            "controller: give this worker --controller URL and --token-file (a token with "
            "the worker scope); nothing was run")
    blobs = {r.oid: bigfiles.fetch(_controller, _token, r) for r in refs}
    return bigfiles.fill(spec, refs, blobs)


def _live_log(client: Any, task_id: str) -> Callable[[bytes], None]:
    """Where the run's live log also goes: a bounded Redis stream the controller mirrors
    into its own live log file, so `gitline logs -f` and the web view follow it."""
    key = live_log_key(task_id)

    def send(data: bytes) -> None:
        client.xadd(key, {"d": data}, maxlen=LIVE_LOG_ENTRIES, approximate=True)
        client.expire(key, CLAIM_SECONDS)
    return send


def claim_live_ms(heartbeat: float) -> int:
    """How long a claim lasts without a heartbeat renewing it: three heartbeats."""
    return max(int(3 * heartbeat * 1000), 300)


@dataclass(frozen=True)
class Claim:
    attempt: int  # 1, 2: this delivery runs the job as that attempt; 0: it runs nothing
    why: str = ""  # why not, when attempt is 0
    lost: str = ""  # the holder of the previous attempt, when attempt > 1


def claim(backend: Any, task_id: str, node: str, live_ms: int) -> Claim:
    """Take task `task_id` for `node`, or say why this delivery must run nothing.

    A claim held by a live delivery is renewed by its heartbeats; one whose holder died
    lapses within `live_ms`, so a redelivery waits that long (and a little) for it.
    """
    client = backend.client
    key, held = claim_key(task_id), ""
    deadline = time.monotonic() + live_ms / 1000 + 1.0
    while True:
        if client.set(key, node, nx=True, px=live_ms):
            break
        value = client.get(key)
        held = value.decode() if isinstance(value, bytes) else str(value or "")
        if held.startswith(DONE):
            return Claim(0, f"already run by {held[len(DONE):]}")
        if time.monotonic() > deadline:
            return Claim(0, f"claimed by {held}, which is alive")
        time.sleep(0.2)
    if backend.get_task_meta(task_id, cache=False).get("status") in ("SUCCESS", "FAILURE"):
        client.set(key, DONE + "an earlier delivery", ex=CLAIM_SECONDS)
        return Claim(0, "its outcome is already stored")
    attempt = int(client.incr(attempts_key(task_id)))
    client.expire(attempts_key(task_id), CLAIM_SECONDS)
    if attempt > MAX_ATTEMPTS:
        client.set(key, DONE + "nobody (given up)", ex=CLAIM_SECONDS)
        return Claim(0, f"its workers were lost {attempt - 1} times; given up")
    before = client.set(holder_key(task_id), node, ex=CLAIM_SECONDS, get=True)
    before = before.decode() if isinstance(before, bytes) else str(before or "")
    return Claim(attempt, lost=before or held or "a worker")


class Heartbeat:
    """Stores STARTED with a counting `beat` in the result backend, from its own thread."""

    def __init__(self, backend: Any, task_id: str, hostname: str, every: float,
                 live_ms: int) -> None:
        self.backend, self.task_id, self.every = backend, task_id, max(float(every), 0.1)
        self.live_ms = live_ms
        self.meta: dict[str, Any] = {"hostname": hostname, "pid": os.getpid(), "beat": 0}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, _spec: object, started_at: str) -> None:
        self.meta["startedAt"] = started_at
        self._store()  # at once: the controller records the run as running
        self._thread = threading.Thread(target=self._beat, name="gitline-heartbeat",
                                        daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.every):
            self.meta["beat"] += 1
            self._store()

    def _store(self) -> None:
        self.meta["beatAt"] = now_iso()  # Celery dates only a finished task's meta
        try:
            self.backend.client.eval(_RENEW, 1, claim_key(self.task_id),
                                     self.meta["hostname"], self.live_ms)
            self.backend.store_result(self.task_id, dict(self.meta), "STARTED")
        except Exception:  # the run goes on; the controller judges a silence
            log.warning("heartbeat of %s not stored", self.task_id, exc_info=True)

    def stop(self) -> None:
        """Stop beating; after this no STARTED can overwrite the final result."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


_worker_pid: int | None = None  # the worker's main process (set by run_worker)
_signalled = False  # this pool process took a revoke's signal
_key: bytes | None = None  # the controller's worker key (set by run_worker)
_box: Any = None  # the sandbox of job steps (set by run_worker; None: sandbox.default())
_controller = ""  # the controller's base URL, to fetch big input files from (run_worker)
_token = ""  # this worker's token there (scope `worker`)


@contextlib.contextmanager
def _signals(control: step.RunControl) -> Iterator[None]:
    """SIGTERM cancels the run, SIGUSR2 abandons it, while the task runs."""

    def on_signal(signum: int, _frame: object) -> None:
        global _signalled
        _signalled = True
        if signum == signal.SIGTERM:
            control.cancel()
        else:
            control.abandon()

    handlers = {signal.SIGTERM: on_signal, signal.SIGUSR2: on_signal}
    old: dict[int, Any] = {}
    try:
        for signum, handler in handlers.items():
            old[signum] = signal.signal(signum, handler)
    except ValueError:  # not the main thread (a threads pool): revoke cannot stop a run
        log.warning("gitline.run not on the main thread: revoke cannot cancel its runs")
    try:
        yield
    finally:
        for number, previous in old.items():
            signal.signal(number, previous)


def _end_signalled_process(**_: Any) -> None:
    """After its result is stored, a pool process that took a revoke's signal ends.

    Billiard marks a process it signalled as terminated for good: if the process lived on
    and died under a later run, Celery would report that run revoked, not lost. A fresh
    process takes its place.
    """
    if _signalled and _worker_pid is not None and os.getpid() != _worker_pid:
        os._exit(0)


def run_worker(broker_url: str, *, queues: list[str], concurrency: int, work_root: Path,
               key: bytes, hostname: str = "", loglevel: str = "INFO",
               box: Any = None, controller: str = "", token: str = "") -> None:
    """Run a Celery worker in this process until it is stopped (SIGTERM: warm shutdown).

    `box` (a checked sandbox.Sandbox) is what every job step runs in, `key` opens the
    sealed RunSpecs, `controller` and `token` fetch input files too big for a message;
    the forked pool processes inherit them."""
    global _worker_pid, _box, _key, _controller, _token
    _box = box
    _key = key
    _controller, _token = controller, token
    _worker_pid = os.getpid()
    task_postrun.connect(_end_signalled_process, weak=False)
    work_root.mkdir(parents=True, exist_ok=True)
    app = make_app(broker_url, work_root=work_root.resolve(), default_queue=queues[0],
                   worker=True)
    app.worker_main([
        "worker", "--queues", ",".join(queues), "--concurrency", str(concurrency),
        "--hostname", hostname or f"gitline-{os.getpid()}@{socket.gethostname()}",
        "--loglevel", loglevel, "--pool", "prefork", "--without-gossip",
    ])
