"""What users ask a line to do, each by an `Actor`: trigger (a commit of triggers/<job>),
approve or reject (a commit of approvals/<job>, or a request the controller commits for a
local user), cancel and replay (requests the controller's loop answers, reactor/requests.py).

Checked here once for every caller: a job that exists, a job that needs approval and has
a run waiting, a run that exists, parameters that may be given. Failures are the typed
errors of core/errors.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controller.core import model
from controller.core.errors import Invalid, NeedsNoApproval, NotFound, Refused
from controller.service.history import History
from controller.service.names import check_job
from controller.settings import Settings


@dataclass(frozen=True)
class Actor:
    """Who asks: a local user (git's author name and email) or an API token."""

    name: str
    email: str
    via: str = "local user"  # or "token", or "api" (a trigger through the API)

    @property
    def by(self) -> str:
        """How a request file names who made it."""
        return f"{self.name} (token)" if self.via == "token" else f"{self.name} <{self.email}>"


# --- trigger ------------------------------------------------------------------------------

def trigger(settings: Settings, jobs: Collection[str] | None, job: str,
            params: dict[str, str], actor: Actor, *, message: str, note: str) -> str:
    """Commit triggers/<job> holding `params` (`note` as its comment) on the config
    branch, as `actor`; returns the commit. `jobs`: the running workflow's (None: not
    known yet, any safe name goes)."""
    from controller.core import triggers
    from controller.store.filecommit import commit_file

    if triggers.trigger_job(f"triggers/{job}") != job:
        raise NotFound(f"no job {job!r}")  # not a name a trigger file can have
    if jobs is not None:
        check_job(jobs, job)
    why = triggers.check_params(params)
    if why:
        raise Invalid(why)
    return commit_file(settings.repo_path, settings.branch, f"triggers/{job}",
                       triggers.render_params(params, note), message, actor.name, actor.email)


# --- approve and reject -------------------------------------------------------------------

def check_approvable(wf: model.Workflow, snap: model.Snapshot, job: str) -> None:
    """An approval (or rejection) of `job` has a run to decide, else Refused says why."""
    check_job(wf.jobs, job)
    if wf.jobs[job].approval is None:
        raise NeedsNoApproval(f"job {job!r} does not require approval")
    hist = snap.jobs.get(job)
    if not hist or not any(r.status == "pending_approval" for r in hist.active):
        raise Refused(f"no run of {job} is pending approval")


def commit_decision(settings: Settings, wf: model.Workflow, snap: model.Snapshot, job: str,
                    decision: str, reason: str, actor: Actor,
                    before_update: Callable[[str], None] | None = None) -> str:
    """approvals/<job> as `gitline approve` writes it, committed as `actor` (a token: the
    pass that reads it counts the token's email if it has the approve scope)."""
    from controller.core import approvals
    from controller.store.filecommit import commit_file

    check_approvable(wf, snap, job)
    who = approvals.Identity(actor.name, actor.email, actor.via)
    return commit_file(settings.repo_path, settings.branch, f"approvals/{job}",
                       approvals.decision_text(decision, reason, who),
                       f"{decision} {job} (API, {actor.name})", actor.name,
                       actor.email or f"{actor.name}@gitline", before_update)


# --- requests the controller answers: cancel, replay, a local user's approval ------------

@dataclass(frozen=True)
class Answer:
    """What became of a request."""

    state: str  # done | waiting (no answer yet) | no controller
    message: str
    result: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        extra: dict[str, Any] = {k: self.result[k] for k in ("cancelled", "queued")
                                 if k in self.result}
        return {"state": self.state, "message": self.message, **extra}


@dataclass(frozen=True)
class Requests:
    """Requests to the controller of `home`: dropped in HOME/requests, answered by its loop."""

    home: Path
    wait_seconds: float
    controller_running: Callable[[], bool]
    poke: Callable[[], None] = lambda: None

    def ask(self, action: str, actor: Actor, **fields: Any) -> Answer:
        """Drop a request and wait up to `wait_seconds` for its answer; Refused if the
        controller refuses it."""
        from controller.reactor import requestfiles as requests

        path = requests.write_request(self.home, action, by=actor.by, **fields)
        what = f"{action} of {fields['job']}" + (
            f" run {fields['run']}" if "run" in fields else "")
        if not self.controller_running():
            return Answer("no controller", f"{what}: requested, but no controller is "
                          f"running; `gitline serve {self.home}` will do it when it starts")
        self.poke()
        deadline = time.monotonic() + self.wait_seconds
        while time.monotonic() < deadline:
            result = requests.read_result(path)
            if result is not None:
                if result.get("error"):
                    raise Refused(f"{what}: refused: {result['error']}")
                return Answer("done", result.get("message") or f"{what}: done", result)
            time.sleep(0.05)
        return Answer("waiting", f"{what}: requested; the controller has not answered within "
                      f"{self.wait_seconds:g} s (is `gitline serve` running?); it handles "
                      "the request when it runs")

    def approve(self, wf: model.Workflow, snap: model.Snapshot, job: str, decision: str,
                reason: str, actor: Actor) -> Answer:
        """A local user's decision: the controller commits it, knowing who from the
        request file's owner."""
        check_approvable(wf, snap, job)
        return self.ask("approve", actor, job=job, decision=decision, reason=reason)

    def cancel(self, jobs: Collection[str], job: str, actor: Actor) -> Answer:
        check_job(jobs, job)
        return self.ask("cancel", actor, job=job)

    def replay(self, jobs: Collection[str], store: History, job: str, run: int,
               actor: Actor) -> Answer:
        check_job(jobs, job)
        check_replayable(store, job, run)
        return self.ask("replay", actor, job=job, run=run)


def check_replayable(store: History, job: str, run: int) -> None:
    """NotFound unless `job` has a run numbered `run` in its history."""
    if not any(e.run is not None and e.run.number == run
               for e in store.history(job, limit=100_000)):
        raise NotFound(f"{job} has no run {run} to replay")
