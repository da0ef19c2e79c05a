"""The state branch, written with pygit2: a StateStore of compare-and-swap commits.

GitStateStore puts together the parts, each in its own module: the layout of the branch
(statebranch.py), trees and their edits (trees.py), CAS commits on a ref (refs.py, with
reflock.py), commit messages and their `Gitline-*` trailers (commitmessages.py), the
history index (history_index.py), parsed records (records.py), what a run and a processed
push write (jobfolder.py, configrecord.py) and the packing of loose objects
(maintenance.py).

Every write is one commit: the change is computed from the tip, only the trees on the
touched paths are rewritten, and the ref moves only if it still points at the tip; a
write that loses the race re-reads the tip and applies its change again.

The snapshot is kept in step with the writes: an append on top of the snapshot's tip
updates only the object it wrote, so a reconcile pass never re-reads 1,000 resources
after each version. The history index is kept in step the same way.
"""

from __future__ import annotations

import copy
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import pygit2

from controller.core import model
from controller.store import commitinfo, configrecord, jobfolder, refs, statebranch, yamlio
from controller.store.commitmessages import (
    batch_message,
    format_message,
    run_message,
    run_subject,
    version_message,
)
from controller.store.history_index import HistoryIndex, index_path
from controller.store.maintenance import LOOSE_OBJECTS_LIMIT, Packer
from controller.store.records import RecordCache
from controller.store.runlogs import LOGS, kept_log_edits, log_name
from controller.store.statebranch import (
    JOBS,
    RESOURCES,
    check_branch,
    check_name,
    split_path,
)
from controller.store.statestore import HistoryEntry, RunRecord
from controller.store.trees import Edits, folder_edits, object_at, read_tree_files

# Keeps the snapshot in step: the snapshot after a write, given the one at its parent.
SnapshotUpdate = Callable[[model.Snapshot, pygit2.Commit | None], model.Snapshot]


@dataclass
class _Parent:
    """The tip a write was finally applied to (set by the last try of a CAS commit)."""

    commit: pygit2.Commit | None = None


class GitStateStore:
    """StateStore on `refs/heads/<branch>` of a (bare) repository, via pygit2."""

    def __init__(self, repo_path: str | os.PathLike[str], branch: str = "state", *,
                 ref: str = "", logs_kept: int = 1) -> None:
        """`ref` reads another ref than refs/heads/<branch> (a clone's
        refs/remotes/origin/state); such a store is only read. `logs_kept`: run logs
        per job on the tip (runlogs.py)."""
        self.logs_kept = logs_kept
        self._repo = refs.open_repository(repo_path)
        self._ref = ref or f"refs/heads/{check_branch(branch)}"
        self._lock = threading.RLock()  # one writer (and reader) at a time on this repo object
        self._records = RecordCache(self._repo)
        self._snapshot: model.Snapshot | None = None
        self._index: HistoryIndex[pygit2.Commit] = HistoryIndex(
            index_path(self._repo.path, branch), self._commit, lambda sha: sha in self._repo)
        self._packer = Packer(self._repo.path)

    def tip(self) -> str:
        """Sha of the state branch, "" if it does not exist yet."""
        with self._lock:
            commit = refs.branch_tip(self._repo, self._ref)
            return str(commit.id) if commit else ""

    def _commit(self, oid: Any) -> pygit2.Commit | None:
        """The commit `oid` (trailers and parents name only commits), None if missing."""
        commit = self._repo.get(oid)
        assert commit is None or isinstance(commit, pygit2.Commit), oid
        return commit

    # --- StateStore: reads

    def read_snapshot(self) -> model.Snapshot:
        with self._lock:
            tip = refs.branch_tip(self._repo, self._ref)
            if tip is None:
                return model.Snapshot()
            if self._snapshot is not None and self._snapshot.tip == str(tip.id):
                return self._snapshot
            tree, records = tip.tree, self._records
            versions: dict[str, model.Version] = {}
            for name, sub in records.subtrees(tree, RESOURCES):
                version = records.record(sub, ("version.yml",), "version")
                if version is not None:
                    versions[name] = version
            jobs = {name: jobfolder.read_job_history(records, sub)
                    for name, sub in records.subtrees(tree, JOBS)}
            config = records.record(tree, statebranch.CONFIG_RECORD, "dict") or {}
            self._snapshot = statebranch.snapshot(versions, jobs, config, str(tip.id))
            return self._snapshot

    def commit_info(self, sha: str) -> commitinfo.CommitInfo | None:
        """A commit of this repository (state or config) as a page shows it."""
        with self._lock:
            return commitinfo.commit_info(self._repo, sha)

    def read_files(self, prefix: str, at: str = "") -> dict[str, bytes]:
        """Files under `prefix` at the tip, or at commit `at` of the state branch."""
        parts = split_path(prefix.strip("/"))
        with self._lock:
            tip = self._repo.get(at) if at else refs.branch_tip(self._repo, self._ref)
            if tip is not None and not isinstance(tip, pygit2.Commit):
                raise ValueError(f"{at} is not a commit")
            folder = object_at(self._repo, tip.tree if tip else None, parts)
            if not isinstance(folder, pygit2.Tree):
                return {}
            return read_tree_files(self._repo, folder)

    def read_config_record(self) -> dict[str, Any]:
        with self._lock:
            tip = refs.branch_tip(self._repo, self._ref)
            return copy.deepcopy(configrecord.read_config_record(self._records, tip))

    def _walk(self, name: str) -> Iterator[tuple[pygit2.Commit, dict[str, str]]]:
        """Commits of `name` up to the tip, newest first (history_index.py)."""
        return self._index.commits(name, refs.branch_tip(self._repo, self._ref))

    def history(self, name: str, limit: int = 100) -> Iterator[HistoryEntry]:
        """Versions of a resource or runs of a job (one per run number), newest first."""
        check_name(name)
        with self._lock:
            return iter(statebranch.history(name, limit, self._walk(name),
                                             self._records.record_at))

    def read_log(self, job: str, number: int | None = None) -> str | None:
        check_name(job, "job name")
        with self._lock:
            commit = refs.branch_tip(self._repo, self._ref)
            kept = object_at(self._repo, commit.tree if commit and number else None,
                             (JOBS, job, LOGS, log_name(number or 0)))
            if isinstance(kept, pygit2.Blob):  # still on the tip (run_logs_kept)
                return kept.data.decode("utf-8", errors="replace")
            if number is not None:
                commit = statebranch.finished_run_commit(job, number, self._walk(job))
            blob = object_at(self._repo, commit.tree if commit else None,
                             (JOBS, job, "log.txt"))
            if not isinstance(blob, pygit2.Blob):
                return None
            return blob.data.decode("utf-8", errors="replace")

    # --- housekeeping

    def maintain(self, *, limit: int = LOOSE_OBJECTS_LIMIT, wait: bool = False) -> bool:
        """Save the history index if it moved (every few seconds at most during a burst,
        at once with `wait`); pack loose objects in the background when they pile up
        (maintenance.py); True if packing started."""
        with self._lock:
            self._index.save_due(force=wait)
        return self._packer.maintain(limit=limit, wait=wait)

    # --- StateStore: writes

    def _append(self, change: refs.Change, *, name: str = "",
                update: SnapshotUpdate | None = None, names: tuple[str, ...] = ()) -> str:
        """One CAS commit; `name` gets a Previous trailer, `update` keeps the snapshot.

        `update(snapshot, tip)` returns the snapshot after this write, given the one at
        its parent; without it the snapshot is read again next time. `names` are the
        objects of a commit whose `change` wrote their Previous trailers itself.
        """
        parent = _Parent()

        def traced(tip: pygit2.Commit | None) -> tuple[Edits, str]:
            parent.commit = tip
            edits, message = change(tip)
            if name:
                message += f"Gitline-Previous: {self._index.previous(tip, name)}\n"
            return edits, message

        with self._lock:
            sha = refs.cas_commit(self._repo, self._ref, traced)
            tip = parent.commit
            parent_sha = str(tip.id) if tip is not None else ""
            self._index.advance(parent_sha, sha, (name,) if name else names)
            snap = self._snapshot
            if update is not None and snap is not None and snap.tip == parent_sha and (
                    tip is not None or not snap.tip):
                self._snapshot = replace(update(snap, tip), tip=sha)
            else:
                self._snapshot = None
            return sha

    def append_version(self, version: model.Version, *, subject: str = "") -> str:
        name = check_name(version.resource, "resource name")
        text = yamlio.version_to_yaml(version).encode()
        edits: Edits = {(RESOURCES, name, "version.yml"): text}
        if version.files is not None:
            edits.update(folder_edits((RESOURCES, name, "files"), version.files))
        message = version_message(version, subject)
        written = yamlio.version_from_yaml(text)

        def update(snap: model.Snapshot, tip: pygit2.Commit | None) -> model.Snapshot:
            return replace(snap, versions={**snap.versions, name: written})

        return self._append(lambda tip: (edits, message), name=name, update=update)

    def record_run(
        self,
        run: model.Run,
        *,
        log: str | None = None,
        state_files: dict[str, bytes] | None = None,
        subject: str = "",
    ) -> str:
        job = check_name(run.job, "job name")
        fixed: Edits = {}
        if state_files is not None:
            fixed.update(folder_edits((JOBS, job, "state"), state_files))
        if log is not None:
            fixed[(JOBS, job, "log.txt")] = log.encode("utf-8")
        message = run_message(run, subject)

        def change(tip: pygit2.Commit | None) -> tuple[Edits, str]:
            edits = dict(fixed)
            if log is not None:  # the newest run_logs_kept logs on the tip
                edits.update(kept_log_edits(self._repo, tip.tree if tip else None, job,
                                            run.number, log.encode("utf-8"), self.logs_kept))
            edits.update(jobfolder.run_edits(self._records, tip.tree if tip else None, run))
            return edits, message

        def update(snap: model.Snapshot, tip: pygit2.Commit | None) -> model.Snapshot:
            old = snap.jobs.get(job, model.JobHistory())
            after = jobfolder.job_history_after_run(old, run)
            return replace(snap, jobs={**snap.jobs, job: after})

        return self._append(change, name=job, update=update)

    def record_runs(self, records: list[RunRecord]) -> str:
        if len(records) == 1:
            r = records[0]
            return self.record_run(r.run, log=r.log, state_files=r.state_files,
                                   subject=r.subject)
        jobs = tuple(check_name(r.run.job, "job name") for r in records)
        if len(set(jobs)) != len(jobs) or not jobs:
            raise ValueError(f"record_runs: one record per job, got {list(jobs)}")
        fixed: Edits = {}
        for r in records:  # checked before anything is written
            if r.state_files is not None:
                fixed.update(folder_edits((JOBS, r.run.job, "state"), r.state_files))
            if r.log is not None:
                fixed[(JOBS, r.run.job, "log.txt")] = r.log.encode("utf-8")
        runs = [r.run for r in records]
        texts = [yamlio.run_to_yaml(run) for run in runs]  # each record, written once
        subjects = [r.subject or run_subject(r.run) for r in records]

        def change(tip: pygit2.Commit | None) -> tuple[Edits, str]:
            edits = dict(fixed)
            tree = tip.tree if tip else None
            for run, text in zip(runs, texts, strict=True):
                edits.update(jobfolder.run_edits(self._records, tree, run, text))
            previous = [self._index.previous(tip, job) for job in jobs]
            return edits, batch_message(runs, subjects, previous)

        def update(snap: model.Snapshot, tip: pygit2.Commit | None) -> model.Snapshot:
            after = dict(snap.jobs)
            for run, text in zip(runs, texts, strict=True):
                after[run.job] = jobfolder.job_history_after_run(
                    after.get(run.job, model.JobHistory()), run, text)
            return replace(snap, jobs=after)

        return self._append(change, update=update, names=jobs)

    def record_config(
        self,
        *,
        processed: str,
        good: str,
        problems: tuple[model.Problem, ...],
        triggers: tuple[model.TriggerRequest, ...] = (),
        waiting: tuple[model.TriggerRequest, ...] | None = None,
        names: model.Workflow | None = None,
        subject: str = "",
        sources: dict[str, dict[str, str]] | None = None,
    ) -> str:
        """controller/config.yml after a push: what was processed, what loads, its
        problems, refused triggers (kept with earlier ones) and waiting ones (None: as
        they are)."""
        refused = configrecord.trigger_errors(tuple(t for t in triggers if t.error))
        record = configrecord.processed_record(processed, good, problems, refused, names,
                                               sources)
        message = configrecord.config_message(processed, problems, refused, subject)

        def change(tip: pygit2.Commit | None) -> tuple[Edits, str]:
            old = configrecord.read_config_record(self._records, tip)
            value = configrecord.processed_value(old, record, waiting)
            text = yamlio.dump(value).encode()
            # read back at the next push (and by a snapshot): kept as written, not parsed
            # again (the 10,000 names of a 5,000-job workflow took 70 ms)
            self._records.cached(("dict", pygit2.hash(text)), lambda: value)
            return {statebranch.CONFIG_RECORD: text}, message

        def update(snap: model.Snapshot, tip: pygit2.Commit | None) -> model.Snapshot:
            done = replace(snap, processed_commit=processed, good_commit=good,
                           waiting_triggers=snap.waiting_triggers if waiting is None
                           else waiting)
            return statebranch.with_sources(done, sources)

        return self._append(change, update=update)

    def record_waiting(self, waiting: tuple[model.TriggerRequest, ...],
                       refused: tuple[model.TriggerRequest, ...] = ()) -> str:
        """The trigger files still waiting (the others ran, or are `refused` now)."""
        errors = configrecord.trigger_errors(refused)
        message = configrecord.waiting_message(waiting, errors)

        def change(tip: pygit2.Commit | None) -> tuple[Edits, str]:
            old = configrecord.read_config_record(self._records, tip)
            return configrecord.waiting_edits(old, waiting, errors), message

        def update(snap: model.Snapshot, tip: pygit2.Commit | None) -> model.Snapshot:
            return replace(snap, waiting_triggers=waiting)

        return self._append(change, update=update)

    def record_deliveries(self, job: str, number: int, deliveries: list[dict[str, Any]]) -> str:
        """`notifications/<job>.yml`: how the notices of run `number` were delivered.

        Trailers name the job as `Gitline-Notify` (not `Gitline-Job`), so run history and
        logs never mistake this commit for one of the run's own records.
        """
        job = check_name(job, "job name")
        path = ("notifications", f"{job}.yml")

        def change(tip: pygit2.Commit | None) -> tuple[Edits, str]:
            # on_start notices are recorded as the run starts; the rest join them at its end
            blob = object_at(self._repo, tip.tree if tip else None, path)
            old = yamlio.load_mapping(blob.data) if isinstance(blob, pygit2.Blob) else {}
            earlier = old.get("deliveries") if old.get("run") == number else None
            every = [*(earlier if isinstance(earlier, list) else []), *deliveries]
            counts: dict[str, int] = {}
            for d in every:  # the subject sums up the whole record
                counts[str(d.get("status"))] = counts.get(str(d.get("status")), 0) + 1
            summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "none"
            record = {"job": job, "run": number, "deliveries": every}
            message = format_message(f"{job}: run {number} notifications: {summary}",
                                     [("Notify", job), ("Run", str(number))])
            return {path: yamlio.dump(record).encode()}, message

        return self._append(change)
