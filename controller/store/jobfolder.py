"""A job's folder, jobs/<name>/, through pygit2: its history, and what a run writes there.

The folder holds run.yml (the newest run), job.yml (counters: lastRun, lastSucceeded),
active/<n>.yml (each run not finished), finished.yml (the last to finish), log.txt and
state/. `read_job_history` reads a JobHistory from it; `run_edits` are the edits that
record a run; `job_history_after_run` is the JobHistory those edits leave, worked out
without reading the folder again, so the kept snapshot stays in step with the branch.
"""

from __future__ import annotations

import pygit2

from controller.core import history, model
from controller.store import yamlio
from controller.store.records import RecordCache
from controller.store.statebranch import JOBS
from controller.store.trees import Edits, entry_name, object_at


def read_job_history(records: RecordCache, job_tree: pygit2.Tree) -> model.JobHistory:
    """The history in `job_tree` (a jobs/<name>/ folder), cached by the folder's oid."""
    def parse() -> model.JobHistory:
        runs: list[model.Run] = []
        active = object_at(records.repo, job_tree, ("active",))
        if isinstance(active, pygit2.Tree):
            for entry in active:
                if entry_name(entry).endswith(".yml"):
                    runs.append(records.record(active, (entry_name(entry),), "run"))
        counters = records.record(job_tree, ("job.yml",), "dict") or {}
        return history.from_records(runs, records.record(job_tree, ("run.yml",), "run"),
                                    int(counters.get("lastSucceeded") or 0))

    read: model.JobHistory = records.cached(("job", job_tree.id), parse)
    return read


def run_edits(records: RecordCache, tree: pygit2.Tree | None, run: model.Run,
              text: str | None = None) -> Edits:
    """run.yml, job.yml, active/<n>.yml (and finished.yml) for `run` on top of `tree`;
    `text` is yamlio.run_to_yaml(run) when the caller has it already."""
    folder = (JOBS, run.job)
    data = (text if text is not None else yamlio.run_to_yaml(run)).encode()
    counters = records.record(tree, (*folder, "job.yml"), "dict") or {}
    last_run = int(counters.get("lastRun") or 0)
    last_ok = int(counters.get("lastSucceeded") or 0)
    if run.status == "succeeded" and run.number > last_ok:
        last_ok = run.number
    job_yml = {"lastRun": max(last_run, run.number), "lastSucceeded": last_ok}
    counters_data = yamlio.dump(job_yml).encode()
    edits: Edits = {(*folder, "job.yml"): counters_data}
    # the job's next record reads both back from the tree, the snapshot's update
    # (job_history_after_run) the run: each is parsed once, here
    records.parsed("dict", counters_data, job_yml)
    records.parsed("run", data)
    newest = records.record(tree, (*folder, "run.yml"), "run")
    if newest is None or run.number >= newest.number:
        edits[(*folder, "run.yml")] = data
    active = (*folder, "active", f"{run.number}.yml")
    if run.status in model.FINISHED:
        edits[active] = None
        edits[(*folder, "finished.yml")] = data
    else:
        edits[active] = data
    return edits


def job_history_after_run(old: model.JobHistory, run: model.Run, text: str | None = None,
                          records: RecordCache | None = None) -> model.JobHistory:
    """The job's history after recording `run` (as read_job_history would read it): the
    core's one rule, applied to the run as its record (`text`, if given) reads back
    (parsed once with `records`: run_edits parsed it already)."""
    written = (text if text is not None else yamlio.run_to_yaml(run)).encode()
    back = records.parsed("run", written) if records is not None \
        else yamlio.run_from_yaml(written)
    return history.after_run(old, back)

