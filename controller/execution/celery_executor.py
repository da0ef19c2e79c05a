"""The Celery executor: runs RunSpecs on Celery workers through a Redis broker.

`submit` only files the run and returns. One background thread does all the talking to
the broker: it sends each run as task `gitline.run` (codec JSON) to the queue named by
the job's `runtime.nodePool` (else the default queue), then follows the task states in
the result backend and calls `on_started` / `on_done` from that thread. Which state
means what is decided by `judge`, a pure function of the task's state and what the
follower has seen; the thread only reads, sends and reports.

An outcome is never thrown away because Redis is away: while the broker is unreachable
runs wait (unsent ones stay filed, sent ones keep their task) and the thread says so
once, and once more when it is back; workers keep retrying to store their outcomes
(celery_worker.py), so a job that ended during an outage is recorded as it ended. A
message that a restarted Redis lost (no AOF) is noticed: its task is still PENDING, its
`sent` mark is gone and no worker claimed it; it is sent again once, and the worker's
claim (celery_worker.claim) makes sure a run never executes twice.

A run whose worker dies (its heartbeat stops for `lost_after`) is sent once more under
the same task id, for the next worker of its queue to run as attempt 2 of the same run
(recorded so on the run); a second loss, or Celery reporting the process lost, becomes a
failed Outcome saying so. `cancel` revokes the task with SIGTERM (the worker runs
on_cancel and always, and reports `cancelled`); a run no worker had started is reported
cancelled at once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from controller.core.remotes import sanitize_url
from controller.core.runspec import Outcome, RunSpec
from controller.execution import bigfiles, celery_worker, codec, sealing
from controller.execution.celery_livelog import LogMirror
from controller.execution.celery_verdict import (
    Tracked,
    judge,
    judge_pending,
    made,
)

log = logging.getLogger(__name__)

POLL_SECONDS = 0.25
LOST_AFTER = 60.0  # seconds without a heartbeat before a started run fails
LOST_MESSAGE_AFTER = 20.0  # seconds a PENDING task may lack its sent mark and claim
CANCEL_GRACE = 30.0  # seconds a cancelled, started run has to report its on_cancel outcome
SEND_RETRY = {"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5,
              "interval_max": 1.0}


def queue_for(spec: RunSpec, default: str) -> str:
    """The queue of a run: its job's nodePool, else `default`."""
    return spec.job.node_pool.strip() or default


class CeleryExecutor:
    """Sends RunSpecs to Celery workers and follows them from one background thread."""

    def __init__(self, broker_url: str, *, key: bytes,
                 default_queue: str = celery_worker.DEFAULT_QUEUE,
                 poll_seconds: float = POLL_SECONDS, heartbeat: float = 5.0,
                 lost_after: float = LOST_AFTER, cancel_grace: float = CANCEL_GRACE,
                 lost_message_after: float = LOST_MESSAGE_AFTER,
                 live_logs: Path | None = None) -> None:
        self.url = broker_url
        self._key = key  # seals every RunSpec sent (sealing.py)
        # a run's task id follows from the run's record, within this controller's key: a
        # restarted controller finds the tasks its predecessor sent (see adopt)
        self._ids = uuid.UUID(bytes=hashlib.sha256(b"gitline-task-ids\n" + key).digest()[:16])
        self.default_queue = default_queue or celery_worker.DEFAULT_QUEUE
        self.poll_seconds, self.heartbeat = poll_seconds, heartbeat
        self.lost_after, self.cancel_grace = lost_after, cancel_grace
        # never sooner than three heartbeats: a beat re-claims a run a restarted Redis forgot
        self.lost_message_after = max(lost_message_after, 3 * heartbeat)
        self._sender = celery_worker.make_app(broker_url, results=False)
        self._results = celery_worker.make_app(broker_url)
        self._lock = threading.Lock()
        self._runs: dict[tuple[str, int], Tracked] = {}
        self._wake = threading.Event()
        self._closing = False
        self._abandon = False
        self._down_since: float | None = None  # the broker unreachable since (monotonic)
        # the controller's work root: each running run's live log is mirrored from its
        # worker's Redis stream to <root>/<job>/<run>.log, where `logs -f` and pages read
        self._logs = LogMirror(live_logs)
        # input files over bigfiles.BOUND, served to workers while their runs are in flight
        self.offers = bigfiles.Offers()
        self._thread = threading.Thread(target=self._follow, name="gitline-celery", daemon=True)
        self._thread.start()

    # --- the Executor protocol ------------------------------------------------------------

    def submit(self, spec: RunSpec, on_started: Callable[[RunSpec, str], None],
               on_done: Callable[[RunSpec, Outcome], None]) -> None:
        """File `spec`; the follower thread sends it. Returns at once."""
        t = Tracked(spec, on_started, on_done, self.task_id(spec),
                    queue_for(spec, self.default_queue))
        with self._lock:
            if self._closing:
                raise RuntimeError("the Celery executor is shut down")
            self._runs[(spec.job.name, spec.run.number)] = t
        self._wake.set()

    def task_id(self, spec: RunSpec) -> str:
        """The Celery task id of a run: the same for the same run as the state branch
        records it (job, number, when it was queued, attempt), never for another."""
        run = spec.run
        return str(uuid.uuid5(self._ids, f"{run.job}\n{run.number}\n{run.queued_at}\n"
                                         f"{run.attempt}"))

    def adopt(self, spec: RunSpec, on_started: Callable[[RunSpec, str], None],
              on_done: Callable[[RunSpec, Outcome], None]) -> bool:
        """Follow a run an earlier controller process sent, if Redis still knows its task
        (sent, claimed by a worker, or with a result); False if it is provably not there
        (nothing was sent, or a broker without persistence lost it) and must run again.
        Raises when the broker cannot be asked: nothing is provable then."""
        t = Tracked(spec, on_started, on_done, self.task_id(spec),
                    queue_for(spec, self.default_queue))
        if not self._known(t.task_id):
            return False
        # recorded running already: its start is not reported again
        t.sent, t.started, t.looked_at = True, True, time.monotonic()
        self.offers.offer(t.task_id, bigfiles.offload(spec)[2])  # its worker may fetch yet
        self._logs.restart(spec)
        with self._lock:
            if self._closing:
                raise RuntimeError("the Celery executor is shut down")
            self._runs[(spec.job.name, spec.run.number)] = t
        log.info("%s run %d: following task %s, sent before this controller started",
                 spec.job.name, spec.run.number, t.task_id)
        self._wake.set()
        return True

    def _known(self, task_id: str) -> bool:
        """Whether Redis holds any trace of task `task_id`."""
        marks = self._redis().exists(celery_worker.sent_key(task_id),
                                     celery_worker.claim_key(task_id))
        meta = self._results.backend.get_task_meta(task_id, cache=False)
        return bool(marks) or meta.get("status") != "PENDING"

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
            if not t.sent and not self._send(t):
                break  # the broker is away: the others wait their turn, untried
        metas = self._read([t for t in runs if t.sent and not t.done])
        self._mirror_logs([t for t, meta in metas if t.started or meta.get("status") != "PENDING"])
        now = time.monotonic()
        for t, meta in metas:
            if t.cancel and not t.revoke_sent:
                self._revoke(t, celery_worker.CANCEL_SIGNAL)
            verdict = judge(t, meta, now, lost_after=self.lost_after,
                            cancel_grace=self.cancel_grace)
            if verdict.started_at:
                _quietly(t.on_started, t.spec, verdict.started_at)
            if verdict.outcome is not None:
                if verdict.relaunch and self._relaunch(t, meta, now):
                    continue
                if verdict.fence:
                    self._fence(t)
                self._finish(t, verdict.outcome, forget=verdict.forget)
            elif meta.get("status") == "PENDING":
                self._check_pending(t, now)

    def _send(self, t: Tracked) -> bool:
        """Send `t`; False if the broker could not take it (it stays filed)."""
        if t.cancel:
            self._finish(t, made("cancelled", "cancelled before it was sent to a worker"))
            return True
        try:
            if t.resent == 0 and t.relaunched == 0 and self._known(t.task_id):
                # sent by an earlier controller process: a queued run is never sent twice
                t.sent, t.looked_at = True, time.monotonic()
                self.offers.offer(t.task_id, bigfiles.offload(t.spec)[2])
                log.info("%s run %d was sent before (task %s); following it",
                         t.spec.job.name, t.spec.run.number, t.task_id)
                return True
            self._sender.send_task(
                celery_worker.TASK_NAME, args=[self._sealed(t)],
                kwargs=self._kwargs(t), task_id=t.task_id, queue=t.queue,
                retry=True, retry_policy=SEND_RETRY)
            self._redis().set(celery_worker.sent_key(t.task_id), t.queue,
                              ex=celery_worker.CLAIM_SECONDS)
        except Exception as err:  # the run stays filed and is sent when the broker is back
            self._outage(err)
            return False
        self._restored()
        t.sent, t.looked_at = True, time.monotonic()
        log.info("%s run %d sent to queue %s (task %s)", t.spec.job.name, t.spec.run.number,
                 t.queue, t.task_id)
        return True

    def _sealed(self, t: Tracked) -> str:
        """The task's message: its RunSpec sealed, with input files over the bound left
        out (offered to its worker instead, see bigfiles)."""
        spec, refs, blobs = bigfiles.offload(t.spec)
        self.offers.offer(t.task_id, blobs)
        t.refs = [r.to_json() for r in refs]
        return sealing.seal(codec.spec_to_json(spec), self._key)

    def _kwargs(self, t: Tracked) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"heartbeat": self.heartbeat}
        if t.refs:  # sealed too: nobody who writes to Redis picks what a worker fetches
            kwargs["fetch"] = sealing.seal(json.dumps(t.refs), self._key)
        return kwargs

    def _read(self, runs: list[Tracked]) -> list[tuple[Tracked, dict[str, Any]]]:
        """Each run's task meta; none while the backend is unreachable (the runs wait)."""
        if not runs:
            return []
        backend = self._results.backend
        try:
            metas = [(t, backend.get_task_meta(t.task_id, cache=False)) for t in runs]
        except Exception as err:
            self._outage(err)
            return []
        if self._restored():
            now = time.monotonic()
            for t in runs:  # an outage is no worker's silence: its heartbeats could not land
                t.seen_at = now
        return metas

    def _check_pending(self, t: Tracked, now: float) -> None:
        """Send again a task whose message a restarted Redis lost (see judge_pending)."""
        if t.unmarked_since is None and now - t.looked_at < self.lost_message_after:
            return  # ask Redis at most once a period per task, then closely while it is amiss
        t.looked_at = now
        try:
            found = bool(self._redis().exists(celery_worker.sent_key(t.task_id),
                                              celery_worker.claim_key(t.task_id)))
        except Exception as err:
            self._outage(err)
            return
        what = judge_pending(t, found, now, after=self.lost_message_after)
        if what == "resend":
            log.warning("%s run %d: the broker lost its message (restarted without "
                        "persistence?); sending it again (task %s)", t.spec.job.name,
                        t.spec.run.number, t.task_id)
            t.resent += 1
            t.sent = False
            self._send(t)
        elif what == "fail":
            self._finish(t, made("failed", (
                f"the broker {sanitize_url(self.url)} lost the run's message twice; it was "
                "not run")))

    def _relaunch(self, t: Tracked, meta: dict[str, Any], now: float) -> bool:
        """Send a run whose worker is lost once more, for another worker to run as its
        next attempt (celery_worker.claim counts it); False if it already was (it fails).
        The dead worker's message, redelivered some day, finds the run done and runs
        nothing."""
        result = meta.get("result")
        host = result.get("hostname") if isinstance(result, dict) else None
        try:
            client = self._redis()
            if int(client.get(celery_worker.attempts_key(t.task_id)) or 0) \
                    >= celery_worker.MAX_ATTEMPTS:
                return False
            self._results.backend.forget(t.task_id)  # PENDING until a worker takes it
        except Exception as err:
            self._outage(err)
            return True  # judged again when Redis answers
        log.warning("%s run %d: worker lost: no heartbeat from %s for %g s; sending it once "
                    "more, for another worker (task %s)", t.spec.job.name, t.spec.run.number,
                    host or "its worker", self.lost_after, t.task_id)
        t.relaunched += 1
        t.sent, t.beat, t.seen_at = False, None, now
        self._send(t)
        return True

    def _fence(self, t: Tracked) -> None:
        """Mark `t` done in Redis: a redelivery after its worker died runs nothing, since
        the run is about to be recorded as failed."""
        try:
            self._redis().set(celery_worker.claim_key(t.task_id),
                              celery_worker.DONE + "nobody (its worker was lost)",
                              ex=celery_worker.CLAIM_SECONDS)
        except Exception:
            log.warning("could not fence task %s", t.task_id, exc_info=True)

    def _mirror_logs(self, runs: list[Tracked]) -> None:
        try:
            self._logs.mirror(self._redis(), runs)
        except Exception as err:
            self._outage(err)

    def _redis(self) -> Any:
        """The Redis client of the result backend (the same server as the broker)."""
        return self._results.backend.client

    def _outage(self, err: Exception) -> None:
        if self._down_since is None:
            self._down_since = time.monotonic()
            log.warning("celery executor: the broker %s is unreachable (%s: %s); runs wait "
                        "for it", sanitize_url(self.url), type(err).__name__, err)

    def _restored(self) -> bool:
        """Note that the broker answers again; True if it had been away."""
        if self._down_since is None:
            return False
        log.warning("celery executor: the broker %s is back after %.0f s", sanitize_url(self.url),
                    time.monotonic() - self._down_since)
        self._down_since = None
        return True

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
        if t.sent:
            self._mirror_logs([t])  # the last lines, before anyone reads the run as ended
            self._logs.forget(t.task_id)
        self.offers.withdraw(t.task_id)
        with self._lock:
            t.done = True
            self._runs.pop((t.spec.job.name, t.spec.run.number), None)
        if forget and t.sent:
            try:
                self._results.backend.forget(t.task_id)
                self._redis().delete(celery_worker.sent_key(t.task_id),
                                     celery_worker.live_log_key(t.task_id))
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
