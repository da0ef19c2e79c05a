"""What the CLI and the API both do to a running line: check the ask, then make it.

Approve, cancel and replay are checked here once (a job that exists, a job that needs
approval and has a run waiting, a run that exists), then made the same way for both
callers: cancel and replay as a request file in HOME/requests that the controller's loop
answers (reactor/requestfiles.py), an approval as a commit of approvals/<job>
(core/approvals.py `decision_text`). The callers
turn the exceptions into their own words: exit codes for the CLI, 404/409 for the API.
No click, no HTTP, no pygit2: readers are passed in (the CLI's `git cat-file` readers,
the controller's store).
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from controller.core import model
from controller.reactor import requestfiles


class NoSuchName(LookupError):
    """No such job or run (the CLI exits 2, the API answers 404)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class Refused(ValueError):
    """The job exists but the ask makes no sense now (the CLI exits 1, the API 409)."""


class NeedsNoApproval(Refused):
    """Approving a job without requiresApproval: a usage error in the CLI (exit 2)."""


class History(Protocol):
    def read_snapshot(self) -> model.Snapshot: ...
    def history(self, name: str, limit: int = ...) -> Iterable[Any]: ...


def check_job(names: Collection[str], job: str) -> None:
    """NoSuchName, with the nearest name as a suggestion, unless `job` is one of `names`."""
    if job in names:
        return
    ordered = sorted(names)
    close = difflib.get_close_matches(job, ordered, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else (
        f" (jobs: {', '.join(ordered)})" if ordered and len(ordered) <= 12 else "")
    raise NoSuchName(f"no job {job!r}{hint}")


def check_approvable(wf: model.Workflow, snap: model.Snapshot, job: str) -> None:
    """An approval (or rejection) of `job` has a run to decide, else Refused says why."""
    check_job(wf.jobs, job)
    if wf.jobs[job].approval is None:
        raise NeedsNoApproval(f"job {job!r} does not require approval")
    hist = snap.jobs.get(job)
    if not hist or not any(r.status == "pending_approval" for r in hist.active):
        raise Refused(f"no run of {job} is pending approval")


def check_replayable(store: History, job: str, run: int) -> None:
    """NoSuchName unless `job` has a run numbered `run` in its history."""
    if not any(e.run is not None and e.run.number == run
               for e in store.history(job, limit=100_000)):
        raise NoSuchName(f"{job} has no run {run} to replay")


@dataclass(frozen=True)
class Answer:
    """What became of a cancel or replay request."""

    state: str  # done | refused | waiting (no answer yet) | no controller
    message: str
    result: dict[str, Any]


def ask(home: Path, action: str, by: str, *, wait_seconds: float,
        controller_running: Callable[[], bool], poke: Callable[[], None] = lambda: None,
        **fields: Any) -> Answer:
    """Drop a request for the controller and wait up to `wait_seconds` for its answer."""
    path = requestfiles.write_request(home, action, by=by, **fields)
    what = f"{action} of {fields['job']}" + (f" run {fields['run']}" if "run" in fields else "")
    if not controller_running():
        return Answer("no controller", f"{what}: requested, but no controller is running; "
                      f"`gitline serve {home}` will do it when it starts", {})
    poke()
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        result = requestfiles.read_result(path)
        if result is not None:
            if result.get("error"):
                return Answer("refused", f"{what}: refused: {result['error']}", result)
            return Answer("done", result.get("message") or f"{what}: done", result)
        time.sleep(0.05)
    return Answer("waiting", f"{what}: requested; the controller has not answered within "
                  f"{wait_seconds:g} s (is `gitline serve` running?); it handles the request "
                  "when it runs", {})
