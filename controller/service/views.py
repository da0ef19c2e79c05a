"""The read side as plain dataclasses: what status, a job's runs, a resource's versions
and the config's state are, for every caller. `to_json` gives the API's (and `--json`'s)
shape, unchanged from before this layer existed; a web page may read the fields."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from controller.core import model

Json = dict[str, Any]


def _seconds(start: str, end: str) -> float | None:
    try:
        return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    except ValueError:
        return None


@dataclass(frozen=True)
class RunView:
    """One run as recorded: status, cause, exact inputs, timings."""

    run: model.Run
    commit: str = ""  # the state-branch commit that recorded it ("" from the snapshot)
    when: str = ""  # that commit's time
    outputs: tuple[VersionView, ...] = ()  # versions it made (run_detail fills them)

    @property
    def duration_seconds(self) -> float | None:
        """Start to end of a finished run (None while it runs or if it never started)."""
        r = self.run
        return _seconds(r.started_at, r.finished_at) if r.started_at and r.finished_at \
            else None

    def summary_json(self) -> Json:
        r = self.run
        return {"number": r.number, "status": r.status, "cause": str(r.cause),
                "queuedAt": r.queued_at, "finishedAt": r.finished_at,
                "exitCode": r.exit_code, "attempt": r.attempt, "message": r.message,
                "worker": r.worker, "inputs": {i.name: i.number for i in r.inputs},
                **({"ci": [ci_json(c) for c in r.ci]} if r.ci else {})}

    def to_json(self) -> Json:
        """A run in a job's history (GET /api/jobs/<job>/runs)."""
        r = self.run
        return {**self.summary_json(), "commit": self.commit, "when": self.when,
                "startedAt": r.started_at, "params": r.params, "message": r.message}


def ci_json(result: model.CiResult) -> Json:
    """One CI row of a run, with its summary in words (`3 passed, 0 failed, ...`)."""
    return {"row": result.row, "status": result.status, "passed": result.passed,
            "failed": result.failed, "skipped": result.skipped, "coverage": result.coverage,
            "reports": result.reports, "note": result.note, "summary": result.summary()}


@dataclass(frozen=True)
class VersionView:
    """One version of a resource and what made it."""

    version: model.Version
    commit: str = ""
    when: str = ""

    def to_json(self) -> Json:
        v = self.version
        return {"number": v.number, "versionName": v.name, "values": v.values,
                "createdBy": v.created_by, "author": v.author,
                "configCommit": v.config_commit, "commit": self.commit, "when": self.when}


@dataclass(frozen=True)
class ProblemView:
    """A recorded config problem, split back into where and what."""

    text: str  # as recorded: "path:line:col: severity: message"
    file: str = ""
    line: int = 0
    col: int = 0
    severity: str = ""
    message: str = ""


_PROBLEM = re.compile(r"^(?P<file>[^:]*):(?P<line>\d+):(?P<col>\d+): (?P<sev>\w+): (?P<msg>.*)$",
                      re.S)


def problem_view(text: str) -> ProblemView:
    m = _PROBLEM.match(text)
    if m is None:
        return ProblemView(text, message=text)
    return ProblemView(text, m["file"], int(m["line"]), int(m["col"]), m["sev"], m["msg"])


@dataclass(frozen=True)
class ConfigState:
    """The config branch as the controller last read it."""

    processed: str  # last config commit processed
    good: str  # last commit that loaded (the running workflow)
    problems: tuple[ProblemView, ...] = ()
    trigger_errors: tuple[Any, ...] = ()  # as recorded in controller/config.yml
    refused: tuple[str, ...] = ()  # refused trigger files and requests, in words
    waiting_triggers: tuple[str, ...] = ()
    # the other sources of the subscription: the commit of each processed / running
    sources: dict[str, str] = field(default_factory=dict)
    good_sources: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> Json:
        return {"processed": self.processed, "good": self.good,
                "sources": dict(self.sources), "goodSources": dict(self.good_sources),
                "problems": [p.text for p in self.problems],
                "triggerErrors": list(self.trigger_errors), "refused": list(self.refused),
                "waitingTriggers": list(self.waiting_triggers)}


@dataclass(frozen=True)
class ResourceSummary:
    name: str
    type: str
    latest: model.Version | None
    inconsistent: str | None = None

    def to_json(self) -> Json:
        v = self.latest
        return {"type": self.type, "version": v.number if v else None,
                "versionName": v.name if v else None,
                "createdBy": v.created_by if v else None, "inconsistent": self.inconsistent}


@dataclass(frozen=True)
class JobSummary:
    """A job with its newest run, its active runs and why it is not running."""

    name: str
    type: str
    last: RunView | None
    active: tuple[RunView, ...] = ()
    last_succeeded: int = 0
    pins: tuple[str, ...] = ()
    waiting: str | None = None

    @property
    def status(self) -> str:
        """The newest run's status ("" if never run): what a job is coloured by."""
        newest = self.active[-1] if self.active else self.last
        return newest.run.status if newest else ""

    def to_json(self) -> Json:
        return {"type": self.type, "lastRun": self.last.summary_json() if self.last else None,
                "active": [r.summary_json() for r in self.active],
                "lastSucceeded": self.last_succeeded or None, "pins": list(self.pins),
                "waiting": self.waiting}


@dataclass(frozen=True)
class StatusView:
    config: ConfigState
    resources: dict[str, ResourceSummary] = field(default_factory=dict)
    jobs: dict[str, JobSummary] = field(default_factory=dict)

    def to_json(self) -> Json:
        return {"config": self.config.to_json(),
                "resources": {n: r.to_json() for n, r in self.resources.items()},
                "jobs": {n: j.to_json() for n, j in self.jobs.items()}}
