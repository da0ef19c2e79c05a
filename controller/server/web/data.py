"""What the pages read and do: one set of callables the wiring binds
(controller/service/webdata.py, on the service layer).

The pages never touch the store, the config repository or the reactor: they call these.
Dicts are the API's JSON shapes (docs/api.md), so a page shows what `GET /api/...` says.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controller.core import model
from controller.server import api

Json = dict[str, Any]


@dataclass(frozen=True)
class RunDetail:
    """One run as its page shows it: the API's run, its outputs and its state files."""

    run: Json  # the API's run (status, cause, inputs, commit, ...)
    outputs: list[Json]  # versions it made: {resource, number, versionName, commit}
    state_files: dict[str, int]  # JOB_STATE file -> size in bytes, as the run left them
    # what its notifications and commit statuses did (the API's notices); None when they
    # are only in history (`notices_hint` says where)
    notices: list[Json] | None = None
    notices_hint: str = ""


@dataclass(frozen=True)
class Push:
    """A commit of the config branch and who made (or pushed) it."""

    sha: str
    author: str
    message: str


@dataclass(frozen=True)
class WebData:
    """The pages' reads and asks. Reads raise LookupError for an unknown name."""

    status: Callable[[], Json]  # GET /api/status (kept by the API between changes)
    # the state branch's tip now: every open page polls it (/web/tip), so it must be cheap
    tip: Callable[[], str]
    workflow: Callable[[], model.Workflow]  # the workflow the controller runs
    runs: Callable[[str, int], list[Json]]  # job, limit: newest first (GET .../runs)
    run: Callable[[str, int], RunDetail | None]  # job, number
    run_status: Callable[[str, int], str | None]  # final status; None while it is active
    versions: Callable[[str, int], list[Json]]  # resource, limit: newest first
    log: Callable[[str, int], str | None]  # a finished run's recorded log
    live_log: Callable[[str, int], Path]  # where the local executor writes it as it runs
    pushes: Callable[[int], list[Push]]  # newest first
    # a commit (state or config branch): sha, message, author, when, parent, changed
    # [(A|M|D, path)], more; None if there is none
    commit: Callable[[str], Json | None]
    actions: api.Services  # the API's own asks: trigger, approve, cancel, replay
