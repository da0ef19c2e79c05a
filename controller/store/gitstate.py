"""The state branch, written with pygit2: a StateStore of compare-and-swap commits.

GitStateStore puts together the parts, each in its own module: its reads (the snapshot,
files, history and logs: gitstatereads.py, which `statereader.py` mirrors through `git
cat-file` for one-shot commands), the layout of the branch
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

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pygit2

from controller.core import model
from controller.store import configrecord, jobfolder, refs, statebranch, yamlio
from controller.store.commitmessages import (
    batch_message,
    format_message,
    run_message,
    run_subject,
    version_message,
)
from controller.store.gitstatereads import StateReads
from controller.store.runlogs import kept_log_edits
from controller.store.statebranch import (
    JOBS,
    RESOURCES,
    check_name,
)
from controller.store.statestore import RunRecord
from controller.store.trees import Edits, folder_edits, object_at

PACK_FROM_RECORDS = 4  # record_runs of this many runs writes its objects as one pack

# Keeps the snapshot in step: the snapshot after a write, given the one at its parent.
SnapshotUpdate = Callable[[model.Snapshot, pygit2.Commit | None], model.Snapshot]


# What one commit of a chain writes, given its parent and the Previous trailer of a name.
StepChange = Callable[[pygit2.Commit | None, Callable[[str], str]], tuple[Edits, str]]


@dataclass(frozen=True)
class _Step:
    """One commit of a chain: the objects it writes (each gets a Previous trailer from the
    change), its change and how it changes the snapshot."""

    names: tuple[str, ...]
    change: StepChange
    update: SnapshotUpdate


@dataclass
class _Parent:
    """The tip a write was finally applied to (set by the last try of a CAS commit)."""

    commit: pygit2.Commit | None = None


class GitStateStore(StateReads):
    """StateStore on `refs/heads/<branch>` of a (bare) repository, via pygit2: the reads
    of gitstatereads.py, and every write as one compare-and-swap commit."""

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

    def _append_chain(self, steps: list[_Step]) -> str:
        """One commit per step, each on the one before, written as one pack and the ref
        moved once (refs.cas_chain); Previous trailers and the snapshot as `_append`."""
        chained: dict[str, str] = {}  # name -> its commit earlier in this chain
        base: list[pygit2.Commit | None] = []

        def previous(name: str) -> str:
            return chained.get(name) or self._index.previous(base[0], name)

        def change_for(index: int) -> refs.Change:
            def change(parent: pygit2.Commit | None) -> tuple[Edits, str]:
                if index == 0:  # a new try: the chain starts again on the tip
                    chained.clear()
                    base[:] = [parent]
                else:
                    assert parent is not None
                    chained.update(dict.fromkeys(steps[index - 1].names, str(parent.id)))
                return steps[index].change(parent, previous)

            return change

        with self._lock:
            tip, shas = refs.cas_chain(self._repo, self._ref,
                                       [change_for(i) for i in range(len(steps))])
            parent_sha = str(tip.id) if tip is not None else ""
            snap = self._snapshot
            keep = snap is not None and snap.tip == parent_sha and (
                tip is not None or not snap.tip)
            for step, sha in zip(steps, shas, strict=True):
                self._index.advance(parent_sha, sha, step.names)
                if keep and snap is not None:
                    snap = step.update(snap, None)
                parent_sha = sha
            self._snapshot = replace(snap, tip=shas[-1]) if keep and snap is not None else None
            return shas[-1]

    def _version_step(self, version: model.Version, subject: str) -> _Step:
        name = check_name(version.resource, "resource name")
        text = yamlio.version_to_yaml(version).encode()
        edits: Edits = {(RESOURCES, name, "version.yml"): text}
        if version.files is not None:
            edits.update(folder_edits((RESOURCES, name, "files"), version.files))
        message = version_message(version, subject)
        written = yamlio.version_from_yaml(text)

        def change(tip: pygit2.Commit | None, previous: Callable[[str], str]) -> tuple[Edits, str]:
            return edits, message + f"Gitline-Previous: {previous(name)}\n"

        def update(snap: model.Snapshot, tip: pygit2.Commit | None) -> model.Snapshot:
            return replace(snap, versions={**snap.versions, name: written})

        return _Step((name,), change, update)

    def _append_step(self, step: _Step) -> str:
        """One commit of `step`, its objects loose (`_append`)."""
        return self._append(lambda tip: step.change(tip, lambda n: self._index.previous(tip, n)),
                            update=step.update, names=step.names)

    def append_version(self, version: model.Version, *, subject: str = "") -> str:
        return self._append_step(self._version_step(version, subject))

    def append_versions(self, versions: Sequence[model.Version], *, subject: str = "") -> str:
        """Versions decided together (a push, a poll): each its own commit, as
        `append_version` writes it, in this order; their objects go into one pack and the
        branch moves once, to the last. Nothing is written if one is refused."""
        if len(versions) <= 1:
            return "".join(self.append_version(v, subject=subject) for v in versions)
        return self._append_chain([self._version_step(v, subject) for v in versions])

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
            after = jobfolder.job_history_after_run(old, run, records=self._records)
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

        def change(tip: pygit2.Commit | None,
                   previous: Callable[[str], str]) -> tuple[Edits, str]:
            edits = dict(fixed)
            tree = tip.tree if tip else None
            for run, text in zip(runs, texts, strict=True):
                edits.update(jobfolder.run_edits(self._records, tree, run, text))
            return edits, batch_message(runs, subjects, [previous(job) for job in jobs])

        def update(snap: model.Snapshot, tip: pygit2.Commit | None) -> model.Snapshot:
            after = dict(snap.jobs)
            for run, text in zip(runs, texts, strict=True):
                after[run.job] = jobfolder.job_history_after_run(
                    after.get(run.job, model.JobHistory()), run, text, self._records)
            return replace(snap, jobs=after)

        step = _Step(jobs, change, update)
        # a record writes ~4 objects: from a few records on, one pack beats that many files
        if len(records) >= PACK_FROM_RECORDS:
            return self._append_chain([step])
        return self._append_step(step)

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
