"""How many run logs of a job stay on the tip of the state branch (`run_logs_kept`).

jobs/<name>/log.txt is always the log of the newest finished run. With run_logs_kept N > 1
the tip also holds jobs/<name>/logs/<n>.txt for the newest N finished runs (the same blob
as log.txt for the newest: no extra object); each run's end removes the ones past N from
the tip. Nothing leaves history: every run's log stays in the commit that recorded its
end, which is where `gitline logs JOB N` reads a log no longer on the tip.
"""

from __future__ import annotations

import pygit2

from controller.store.statebranch import JOBS
from controller.store.trees import Edits, entry_name, object_at

LOGS = "logs"


def log_name(number: int) -> str:
    return f"{number}.txt"


def kept_numbers(names: list[str]) -> list[int]:
    """The run numbers of the files of a logs/ folder (other names are left alone)."""
    return sorted(int(n[:-4]) for n in names if n.endswith(".txt") and n[:-4].isdigit())


def kept_log_edits(repo: pygit2.Repository, tree: pygit2.Tree | None, job: str,
                   number: int, data: bytes, keep: int) -> Edits:
    """The edits of jobs/<job>/logs/ when run `number` ends with log `data`: add it, drop
    what falls past the newest `keep`. keep <= 1: no logs/ folder (log.txt alone)."""
    folder = object_at(repo, tree, (JOBS, job, LOGS))
    if keep <= 1:
        return {(JOBS, job, LOGS): None} if isinstance(folder, pygit2.Tree) else {}
    names = [entry_name(e) for e in folder] if isinstance(folder, pygit2.Tree) else []
    numbers = sorted(set(kept_numbers(names)) | {number})
    edits: Edits = {}
    if number in numbers[-keep:]:  # a run ending after newer ones may already be past N
        edits[(JOBS, job, LOGS, log_name(number))] = data
    for old in numbers[:-keep]:
        if old != number:
            edits[(JOBS, job, LOGS, log_name(old))] = None
    return edits
