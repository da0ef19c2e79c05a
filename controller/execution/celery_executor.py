"""The Celery executor: runs RunSpecs on Celery workers through a Redis broker.

`submit` only files the run and returns. One background thread does all the talking to
the broker: it sends each run as task `gitline.run` (codec JSON) to the queue named by
the job's `runtime.nodePool` (else the default queue), then follows the task states in
the result backend and calls `on_started` / `on_done` from that thread. Which state
means what is decided by `judge`, a pure function of the task's state and what the
follower has seen; the thread only reads, sends and reports.

Nothing breaks into the caller: a run that cannot be sent, a worker that dies (its
heartbeat stops, or Celery reports the process lost) and a broker that stays unreachable
all become a failed Outcome whose message says which. `cancel` revokes the task with
SIGTERM (the worker runs on_cancel and always, and reports `cancelled`); a run no worker
had started is reported cancelled at once.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from controller.core.clock import now_iso
from controller.core.runspec import Outcome, RunSpec, ran_by
from controller.execution import celery_worker, codec, sealing

log = logging.getLogger(__name__)

POLL_SECONDS = 0.25
LOST_AFTER = 60.0  # seconds without a heartbeat (or without the broker) before a run fails
CANCEL_GRACE = 30.0  # seconds a cancelled, started run has to report its on_cancel outcome
SEND_RETRY = {"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5,
              "interval_max": 1.0}


def safe_url(url: str) -> str:
    """`url` without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def queue_for(spec: RunSpec, default: str) -> str:
    """The queue of a run: its job's nodePool, else `default`."""
    return spec.job.node_pool.strip() or default


@dataclass
class Tracked:
    """One run the executor has: what it was handed and what it has seen of the task."""

    spec: RunSpec
    on_started: Callable[[RunSpec, str], None]
    on_done: Callable[[RunSpec, Outcome], None]
    task_id: str
    queue: str
    sent: bool = False
    started: bool = False
    cancel: bool = False  # cancel asked for
    revoke_sent: bool = False
    beat: Any = None
    seen_at: float = 0.0  # when the heartbeat last changed (monotonic)
    revoked_at: float | None = None
    done: bool = False


@dataclass(frozen=True)
class Verdict:
    """What to do about one task now: nothing, report it started, or finish it."""

    started_at: str = ""  # report on_started with this
    outcome: Outcome | None = None  # report on_done with this
    forget: bool = True  # delete the result (False keeps REVOKED for a late worker to see)


WAIT = Verdict()


def judge(t: Tracked, meta: dict[str, Any], now: float, *, lost_after: float,
          cancel_grace: float) -> Verdict:
    """Decide from a task's backend meta (status, result) and what `t` has seen.

    Updates `t`'s bookkeeping (started, beat, revoked_at); `now` is monotonic seconds.
    """
    status = meta.get("status")
    result: Any = meta.get("result")  # the backend's value: the worker's JSON text on SUCCESS
    info = result if isinstance(result, dict) else {}
    if status == "PENDING":
        if t.cancel and not t.started:
            return Verdict(outcome=made("cancelled", "cancelled before a worker started it"),
                           forget=False)
        return WAIT
    if status == "STARTED":
        if info.get("beat") != t.beat or not t.started:
            t.beat, t.seen_at = info.get("beat"), now
        if not t.started:
            t.started = True
            t.spec = ran_by(t.spec, str(info.get("hostname") or ""))
            return Verdict(started_at=str(info.get("startedAt") or now_iso()))
        if now - t.seen_at > lost_after:
            return Verdict(outcome=made("failed", (
                f"worker lost: no heartbeat from {info.get('hostname') or 'its worker'} for "
                f"{lost_after:g} s; the run may still be going on there")))
        return WAIT
    if status == "SUCCESS":
        try:
            outcome = codec.outcome_from_json(result)
        except codec.CodecError as err:
            return Verdict(outcome=made("failed", f"the worker's outcome is unreadable: {err}"))
        t.spec = ran_by(t.spec, outcome.worker)
        # a run over before a poll saw it start is still recorded as started, as locally
        unseen = not t.started and not t.spec.cancel_reason
        return Verdict(started_at=outcome.started_at if unseen else "", outcome=outcome)
    if status == "FAILURE":
        what = type(result).__name__ if isinstance(result, BaseException) else "error"
        lost = "WorkerLost" in what
        return Verdict(outcome=made("failed", (
            f"worker lost: {result}" if lost else f"the worker failed: {what}: {result}")))
    if status == "REVOKED":
        if t.revoked_at is None:
            t.revoked_at = now
        if t.started and now - t.revoked_at < cancel_grace:
            return WAIT  # the worker is running on_cancel; its outcome follows
        why = "cancelled" if t.cancel else "revoked on the broker"
        if t.started:
            why += f"; the worker reported no outcome within {cancel_grace:g} s"
        return Verdict(outcome=made("cancelled", why))
    return WAIT  # RECEIVED, RETRY, a state of a newer worker: keep following


def made(status: str, message: str) -> Outcome:
    """An Outcome made by the executor (no log of the job's own)."""
    at = now_iso()
    return Outcome(status, None, f"gitline: {message}\n", at, at, message=message)  # type: ignore[arg-type]


class CeleryExecutor:
    """Sends RunSpecs to Celery workers and follows them from one background thread."""

    def __init__(self, broker_url: str, *, key: bytes,
                 default_queue: str = celery_worker.DEFAULT_QUEUE,
                 poll_seconds: float = POLL_SECONDS, heartbeat: float = 5.0,
                 lost_after: float = LOST_AFTER, cancel_grace: float = CANCEL_GRACE) -> None:
        self.url = broker_url
        self._key = key  # seals every RunSpec sent (sealing.py)
        self.default_queue = default_queue or celery_worker.DEFAULT_QUEUE
        self.poll_seconds, self.heartbeat = poll_seconds, heartbeat
        self.lost_after, self.cancel_grace = lost_after, cancel_grace
        self._sender = celery_worker.make_app(broker_url, results=False)
        self._results = celery_worker.make_app(broker_url)
        self._lock = threading.Lock()
        self._runs: dict[tuple[str, int], Tracked] = {}
        self._wake = threading.Event()
        self._closing = False
        self._abandon = False
        self._backend_down_since: float | None = None
        self._thread = threading.Thread(target=self._follow, name="gitline-celery", daemon=True)
        self._thread.start()

    # --- the Executor protocol ------------------------------------------------------------

    def submit(self, spec: RunSpec, on_started: Callable[[RunSpec, str], None],
               on_done: Callable[[RunSpec, Outcome], None]) -> None:
        """File `spec`; the follower thread sends it. Returns at once."""
        t = Tracked(spec, on_started, on_done, str(uuid.uuid4()),
                    queue_for(spec, self.default_queue))
        with self._lock:
            if self._closing:
                raise RuntimeError("the Celery executor is shut down")
            self._runs[(spec.job.name, spec.run.number)] = t
        self._wake.set()

    def cancel(self, job: str, number: int) -> bool:
        """Revoke a queued or running run; False if this executor does not have it."""
        with self._lock:
            t = self._runs.get((job, number))
            if t is None or t.done:
                return False
            t.cancel = True
        self._wake.set()
        return True

    def running(self) -> list[tuple[str, int]]:
        with self._lock:
            return sorted(k for k, t in self._runs.items() if not t.done)

    def shutdown(self, wait: bool = True) -> None:
        """Stop taking runs.

        wait=True: follow every run to its end (callbacks as usual), then stop.
        wait=False: revoke every run without hooks (SIGUSR2 on its worker) and without
        on_done, so the state branch still says `running` and the controller records
        them `interrupted` and runs them again on restart, as with the local executor.
        """
        with self._lock:
            self._closing = True
            self._abandon = not wait
        self._wake.set()
        self._thread.join(None if wait else 30)

    # --- the follower thread --------------------------------------------------------------

    def _follow(self) -> None:
        while True:
            with self._lock:
                runs = [t for t in self._runs.values() if not t.done]
                closing, abandon = self._closing, self._abandon
            if abandon:
                self._abandon_all(runs)
                return
            if closing and not runs:
                return
            try:
                self._step(runs)
            except Exception:  # never let the thread die: every run would hang
                log.exception("celery executor: following runs failed; retrying")
            self._wake.wait(self.poll_seconds)
            self._wake.clear()

    def _step(self, runs: list[Tracked]) -> None:
        for t in runs:
            if not t.sent:
                self._send(t)
        metas = self._read([t for t in runs if t.sent and not t.done])
        now = time.monotonic()
        for t, meta in metas:
            if t.cancel and not t.revoke_sent:
                self._revoke(t, celery_worker.CANCEL_SIGNAL)
            verdict = judge(t, meta, now, lost_after=self.lost_after,
                            cancel_grace=self.cancel_grace)
            if verdict.started_at:
                _quietly(t.on_started, t.spec, verdict.started_at)
            if verdict.outcome is not None:
                self._finish(t, verdict.outcome, forget=verdict.forget)

    def _send(self, t: Tracked) -> None:
        if t.cancel:
            self._finish(t, made("cancelled", "cancelled before it was sent to a worker"))
            return
        try:
            self._sender.send_task(
                celery_worker.TASK_NAME, args=[sealing.seal(codec.spec_to_json(t.spec), self._key)],
                kwargs={"heartbeat": self.heartbeat}, task_id=t.task_id, queue=t.queue,
                retry=True, retry_policy=SEND_RETRY)
        except Exception as err:
            self._finish(t, made("failed", (
                f"could not send the run to the broker {safe_url(self.url)}: "
                f"{type(err).__name__}: {err}")))
            return
        t.sent = True
        log.info("%s run %d sent to queue %s (task %s)", t.spec.job.name, t.spec.run.number,
                 t.queue, t.task_id)

    def _read(self, runs: list[Tracked]) -> list[tuple[Tracked, dict[str, Any]]]:
        """Each run's task meta; an unreachable backend fails them all after lost_after."""
        backend = self._results.backend
        try:
            metas = [(t, backend.get_task_meta(t.task_id, cache=False)) for t in runs]
        except Exception as err:
            now = time.monotonic()
            self._backend_down_since = self._backend_down_since or now
            down = now - self._backend_down_since
            log.warning("celery executor: result backend unreachable for %.0f s: %s", down, err)
            if down >= self.lost_after:
                for t in runs:
                    self._finish(t, made("failed", (
                        f"lost the broker {safe_url(self.url)} for {self.lost_after:g} s "
                        f"({type(err).__name__}: {err}); the run may still be going on its "
                        "worker")), forget=False)
            return []
        self._backend_down_since = None
        return metas

    def _revoke(self, t: Tracked, signame: str) -> None:
        t.revoke_sent = True
        try:
            self._sender.control.revoke(t.task_id, terminate=True, signal=signame)
            if not t.started:  # a worker that starts later finds it revoked in the backend
                self._results.backend.mark_as_revoked(t.task_id, "cancelled")
        except Exception:
            log.warning("could not revoke %s run %d (task %s)", t.spec.job.name,
                        t.spec.run.number, t.task_id, exc_info=True)

    def _finish(self, t: Tracked, outcome: Outcome, forget: bool = True) -> None:
        with self._lock:
            t.done = True
            self._runs.pop((t.spec.job.name, t.spec.run.number), None)
        if forget and t.sent:
            try:
                self._results.backend.forget(t.task_id)
            except Exception:
                log.debug("could not forget task %s", t.task_id, exc_info=True)
        _quietly(t.on_done, t.spec, outcome)

    def _abandon_all(self, runs: list[Tracked]) -> None:
        for t in runs:
            if t.sent:
                self._revoke(t, celery_worker.ABANDON_SIGNAL)
        log.info("celery executor: %d runs abandoned at shutdown: no on_done", len(runs))


def _quietly(callback: Callable[..., None], *args: object) -> None:
    try:
        callback(*args)
    except Exception:  # a callback must never take the follower thread down
        log.exception("executor callback %r failed", callback)
