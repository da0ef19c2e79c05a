"""What a Celery task's state means for its run: the verdicts of the Celery executor.

`judge` reads a task's backend meta (status, result) against what the follower has seen
of it (`Tracked`) and says: wait, report the run started, or finish it with an Outcome;
`judge_pending` says when a task still PENDING was lost by the broker. Both take the time
as an argument and only update the Tracked bookkeeping, so they are tested as tables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from controller.core.clock import now_iso
from controller.core.runspec import Outcome, RunSpec, ran_as, ran_by
from controller.execution import codec


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
    looked_at: float = 0.0  # when Redis was last asked whether a PENDING task is lost
    unmarked_since: float | None = None  # PENDING with neither sent mark nor claim, since
    resent: int = 0  # times sent again because the broker lost the message
    relaunched: int = 0  # times sent again because its worker was lost under it
    refs: list[Any] = field(default_factory=list)  # files its worker fetches (bigfiles.Ref)


@dataclass(frozen=True)
class Verdict:
    """What to do about one task now: nothing, report it started, or finish it."""

    started_at: str = ""  # report on_started with this
    outcome: Outcome | None = None  # report on_done with this
    forget: bool = True  # delete the result (False keeps REVOKED for a late worker to see)
    fence: bool = False  # no later delivery may run it (its record says how it ended)
    relaunch: bool = False  # its worker is lost: send it once more (attempt 2), if it may


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
        host = str(info.get("hostname") or "")
        attempt = info.get("attempt")
        if t.started and isinstance(attempt, int) and attempt > t.spec.run.attempt:
            # the next attempt (its worker lost) started: recorded as running again, so
            # run.yml and status say which attempt runs where, and why
            run = replace(t.spec.run, message=str(info.get("note") or ""))
            t.spec = ran_as(ran_by(replace(t.spec, run=run), host), attempt)
            return Verdict(started_at=str(info.get("startedAt") or now_iso()))
        if t.started and host and host != t.spec.run.worker:  # attempt 2, on another worker
            t.spec = ran_by(t.spec, host)
        if not t.started:
            t.started = True
            t.spec = ran_by(t.spec, str(info.get("hostname") or ""))
            return Verdict(started_at=str(info.get("startedAt") or now_iso()))
        if now - t.seen_at > lost_after:
            return Verdict(outcome=made("failed", (
                f"worker lost: no heartbeat from {info.get('hostname') or 'its worker'} for "
                f"{lost_after:g} s; the run may still be going on there")), fence=True,
                relaunch=not t.cancel and t.relaunched == 0)
        return WAIT
    if status == "SUCCESS":
        try:
            outcome = codec.outcome_from_json(result)
        except codec.CodecError as err:
            return Verdict(outcome=made("failed", f"the worker's outcome is unreadable: {err}"))
        t.spec = ran_as(ran_by(t.spec, outcome.worker), outcome.attempt)
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


def judge_pending(t: Tracked, found: bool, now: float, *, after: float) -> str:
    """What to do about a sent task still PENDING: "wait", "resend" or "fail".

    `found` is whether Redis still holds its sent mark or a worker's claim. Only a task
    missing both for `after` seconds is lost (a heartbeat restores a claim within its
    period, so a restarted Redis cannot make a running task look lost); it is sent again
    once, and a second loss fails it.
    """
    if found or t.cancel or t.started:
        t.unmarked_since = None
        return "wait"
    if t.unmarked_since is None:
        t.unmarked_since = now
    if now - t.unmarked_since < after:
        return "wait"
    t.unmarked_since = None
    return "resend" if t.resent == 0 else "fail"


def made(status: str, message: str) -> Outcome:
    """An Outcome made by the executor (no log of the job's own)."""
    at = now_iso()
    return Outcome(status, None, f"gitline: {message}\n", at, at, message=message)  # type: ignore[arg-type]
