"""A sub-step of a pass: what users asked through HOME/requests (`reactor/requestfiles`):
cancel a job's runs, replay a run, approve as a local user.

Each request gets an answer file (what was done, or why not) and is removed. The core
decides the replay (`lifecycle.plan_replay`); a cancel asks the executor first, since
only it can stop a run it holds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from controller.core import approvals, lifecycle, model, planner
from controller.reactor import requestfiles
from controller.reactor.identity import Identifier
from controller.reactor.ports import ConfigSource
from controller.reactor.recorder import Recorder

log = logging.getLogger("gitline")

Answer = dict[str, Any]  # {"message", and "cancelled" or "queued"} or {"error"}


class Asks:
    def __init__(self, folder: Path | None, recorder: Recorder, config: ConfigSource,
                 identity: Identifier | None, poke: Callable[[], None]) -> None:
        self.folder = folder
        self.recorder = recorder
        self.config = config
        self._identity = identity
        self._poke = poke

    def handle(self, wf: model.Workflow) -> None:
        """Answer every pending request, oldest first."""
        if self.folder is None:
            return
        for path, req in requestfiles.read_requests(self.folder):
            result = {"error": req["error"]} if req.get("error") else self._answer(wf, req)
            if result.get("error"):
                log.error("request %s: %s", path.name, result["error"])
            else:
                log.info("request %s: %s", path.name, result["message"])
            requestfiles.write_result(path, {
                "action": str(req.get("action", "")), "job": str(req.get("job", "")),
                "run": req.get("run"), "by": str(req.get("by", "")),
                "at": self.recorder.clock(), **result})
            path.unlink(missing_ok=True)

    def _answer(self, wf: model.Workflow, req: dict[str, Any]) -> Answer:
        job, by = str(req.get("job", "")), str(req.get("by", "someone"))
        if job not in wf.jobs:
            return {"error": f"no job named {job!r}"}
        if req.get("action") == "approve":
            return self._approve(job, req)
        if req.get("action") == "cancel":
            return self._cancel(job, by)
        try:
            number = int(req.get("run", 0))
        except (TypeError, ValueError):
            return {"error": f"run {req.get('run')!r} is not a run number"}
        return self._replay(job, number, by)

    def _cancel(self, job: str, by: str) -> Answer:
        """Every queued or running run of `job`: the executor stops the ones it holds."""
        rec = self.recorder
        hist = rec.store.read_snapshot().jobs.get(job)
        cancelled = []
        for run in (hist.active if hist else ()):
            if rec.executor.cancel(job, run.number):
                cancelled.append(run.number)
            elif (job, run.number) not in rec.submitted:
                rec.cancel_unstarted(run, f"cancelled by {by}")
                cancelled.append(run.number)
        message = (f"cancelled {job} run{'s' if len(cancelled) > 1 else ''} "
                   + ", ".join(map(str, cancelled)) if cancelled
                   else f"{job} had no queued or running run to cancel")
        return {"message": message, "cancelled": cancelled}

    def _replay(self, job: str, number: int, by: str) -> Answer:
        store = self.recorder.store
        old = next((e.run for e in store.history(job, limit=100_000)
                    if e.run is not None and e.run.number == number), None)
        snap = store.read_snapshot()
        planned = lifecycle.plan_replay(snap, job, old, number=number, by=by)
        if isinstance(planned, lifecycle.WhyNot):
            return {"error": planned.reason}
        new = planner.next_run_number(snap, job)
        self.recorder.queue(planned, snap)
        return {"message": f"queued {job} run {new}, a replay of run {number}", "queued": new}

    def _approve(self, job: str, req: dict[str, Any]) -> Answer:
        """`gitline approve`: commit approvals/<job> for the request file's owner.

        The owner (uid of the file, which only the kernel sets) is the identity; the
        commit is vouched for in the push log, so the pass that reads it knows who made
        it. A hand-made commit with the same content and author has no such record.
        """
        if self._identity is None:
            return {"error": "this controller authenticates no approvals"}
        who, why = self._identity.local_user(req.get("_uid"))
        if who is None:
            return {"error": f"approval request refused: {why}"}
        decision = "reject" if req.get("decision") == "reject" else "approve"
        body = approvals.decision_text(decision, str(req.get("reason") or ""), who)
        sha = self.config.commit_file(f"approvals/{job}", body, f"{decision} {job}",
                                      who.name, who.email or f"{who.name}@localhost")
        self._identity.vouch(sha, who)
        self._poke()
        return {"message": f"committed approvals/{job} ({decision}) as {sha[:7]} for {who}; "
                           "the controller checks it against the approvers next"}
