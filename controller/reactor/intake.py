"""The first sub-step of a pass: what came in. A push of the config branch (its
workflow, the versions its definitions make, its trigger and approval files) and the
trigger files that waited for a run in flight.

The core decides (`core.intake`, `core.planner`, `core.lifecycle`); this reads the config
repository, asks the identifier who made an approval commit, and records through the
recorder. A push is recorded as processed only at the end of the pass (`process` returns
how), so a triggered run starts one commit sooner.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from controller.core import approvals, intake, lifecycle, loader, model, planner, secretscope
from controller.core.fileload import LoadCache
from controller.core.intake import PushedCommit
from controller.core.subscription import fallback
from controller.reactor.identity import Identifier
from controller.reactor.ports import ConfigSource
from controller.reactor.recorder import Loaded, Recorder
from controller.secrets import SecretsError, scopes
from controller.store.subscription import Subscription

log = logging.getLogger("gitline")

Triggers = tuple[model.TriggerRequest, ...]


class Intake:
    def __init__(self, config: ConfigSource, recorder: Recorder,
                 identity: Identifier | None, subscription: Subscription | None = None) -> None:
        self.config = config
        # every source's files load as one workflow; trigger and approval files are read
        # from `config` (HOME/config.git) only
        self.sub = subscription or Subscription(config)
        self.good_sources: dict[str, str] = {}  # the commit of each source `good` loaded
        self.recorder = recorder
        self.store = recorder.store
        self._identity = identity  # None: no approval can be authenticated (all refused)
        self._cache: dict[tuple[str, tuple[tuple[str, str], ...]], model.Workflow] = {}
        self.files = LoadCache()  # the files of the last load: a push re-reads its own

    def _scopes(self) -> dict[str, secretscope.Scope] | None:
        """Who may use each secret; None (unchecked) when secrets.yml cannot be read: no
        run is built then, and the reason is shown where the run waits."""
        try:
            return scopes(self.recorder.specs.secrets())
        except SecretsError:
            return None

    def workflow_at(self, commit: str, sources: Mapping[str, str] | None = None
                    ) -> model.Workflow:
        """The workflow of main `commit` with each other source at its commit in `sources`
        (None: those the good workflow was loaded from)."""
        at = dict(self.good_sources if sources is None else sources)
        key = (commit, tuple(sorted(at.items())))
        if key not in self._cache:
            scopes, names, origin = self._scopes(), frozenset(self.sub.sources), \
                self.sub.origin(commit, at)
            # the commit a push's answer loaded (files shares its cache): not read again
            wf = loader.loaded(self.files, origin, scopes=scopes, sources=names,
                               main_name=self.sub.main_name)
            if wf is None:
                files = self.sub.workflow_files(commit, at, loader.is_workflow_file)
                wf = loader.load_workflow(files, scopes=scopes, sources=names,
                                          main_name=self.sub.main_name, cache=self.files,
                                          origin=origin)
            # keep one: memory stays flat (and so do the files, kept as loaded objects)
            self._cache = {key: wf}
        return self._cache[key]

    def process(self, head: str, snap: model.Snapshot,
                sources: Mapping[str, str] | None = None) -> Callable[[], object]:
        """Versions and trigger runs of the push up to `head` (and of the other sources at
        their commits in `sources`); returns how to record it."""
        sources = dict(sources or {})
        loaded = self.workflow_at(head, sources)
        commits, rewritten = self.config.commits_between(snap.processed_commit or None, head)
        if rewritten:
            log.warning("config branch was rewritten (force push); only %s is processed", head[:7])
        author = commits[-1].author if commits else ""
        kept = self._last_good(loaded, head, sources, snap) if loaded.fatal else None
        last_good = kept[:2] if kept else None
        good_sources = kept[2] if kept else sources
        _log_problems(loaded, head, last_good[0] if last_good else "")
        with self.recorder.version_lock:
            taken = intake.take_config(loaded, head, last_good, self.store.read_snapshot(),
                                       author=author, source_commits=good_sources,
                                       tracked_trees=self._tracked(loaded, head, last_good,
                                                                   good_sources))
            self.store.append_versions(taken.versions)  # a commit each, one pack
        for v in taken.versions:
            log.info("%s: version %d%s", v.resource, v.number,
                     f" ({v.name[:12]})" if v.name else "")
        good = Loaded(taken.commit, taken.workflow) if taken.workflow is not None else None
        self.recorder.good = good
        if good is not None:
            self.good_sources = good_sources
        # The snapshot after the versions above: a trigger in the same push as the first
        # definition of its job's input must see that input's version.
        after = self.store.read_snapshot()
        rejected, waiting = self._triggers(after, commits, good)
        waits = (*after.waiting_triggers, *waiting) if waiting else None
        return lambda: self.store.record_config(
            processed=head, good=good.commit if good else "", problems=loaded.problems,
            triggers=rejected, waiting=waits, names=good.workflow if good else None,
            sources={n: {"processed": c, "good": self.good_sources.get(n, "")}
                     for n, c in sources.items()} or None,
        )

    def _last_good(self, loaded: model.Workflow, head: str, sources: dict[str, str],
                   snap: model.Snapshot) -> tuple[str, model.Workflow, dict[str, str]] | None:
        """What runs when the pushed workflow does not load (core.subscription.fallback):
        (commit, workflow, commit of each other source), or None."""
        for commit, at in fallback(loaded, head, sources, snap):
            wf = self.workflow_at(commit, at)
            if not wf.fatal or (commit, at) == (snap.good_commit, snap.good_sources):
                return commit, wf, at
        return None

    def _tracked(self, loaded: model.Workflow, head: str,
                 last_good: tuple[str, model.Workflow] | None,
                 sources: Mapping[str, str]) -> dict[str, str]:
        """Tree ids of the paths gitRepo resources on a source of the subscription track."""
        commit, wf = last_good if last_good else (head, loaded)
        return {r.name: self.sub.tree_id(commit, sources, r)
                for r in wf.resources.values() if r.tracks_path is not None}

    def _triggers(self, snap: model.Snapshot, commits: Sequence[PushedCommit],
                  good: Loaded | None) -> tuple[Triggers, Triggers]:
        """Queue the runs of the push's trigger files and apply its approval files;
        returns (refused, waiting for an input job's run in flight)."""
        known = intake.trigger_runs_done(snap) | {(t.job, t.commit)
                                                  for t in snap.waiting_triggers}
        asked, decisions = intake.file_requests(commits, self.config.read_blob, known)
        if good is None:
            return tuple(replace(r, error=r.error or "the workflow does not load")
                         for r in asked), ()
        plan = planner.plan_triggers(good.workflow, snap, asked)
        for p in plan.runs:
            snap = self.recorder.queue(p, snap)
        rejected = list(plan.rejected)
        for d in map(self._identified, decisions):
            error = d.error or self._decide(good.workflow, d)
            if error:
                rejected.append(model.TriggerRequest(d.job, d.commit, d.author, d.path,
                                                     error=error))
        _log_triggers(rejected, plan.waiting)
        return tuple(rejected), plan.waiting

    def retry_waiting(self, wf: model.Workflow) -> None:
        """Trigger files that waited for an input job's run: each runs once that run has
        ended (the newest inputs), or is refused if it never can."""
        snap = self.store.read_snapshot()
        verdict = intake.retry_waiting(wf, snap)
        for p in verdict.runs:
            snap = self.recorder.queue(p, snap)
        _log_triggers(verdict.refused, ())
        if verdict.changed:
            self.store.record_waiting(verdict.waiting, verdict.refused)

    def _identified(self, d: approvals.ApprovalRequest) -> approvals.ApprovalRequest:
        """The request with who made its commit, as far as the controller can prove it."""
        if d.error:
            return d
        who, why = self._identity.identify(d.commit) if self._identity else (
            None, "this controller authenticates no approvals")
        return replace(d, identity=who, unauthenticated=why)

    def _decide(self, wf: model.Workflow, d: approvals.ApprovalRequest) -> str:
        """Apply one approval commit to the job's pending run; why not, if it does not."""
        verdict = lifecycle.decide_approval(wf, self.store.read_snapshot(), d,
                                            now=self.recorder.clock(),
                                            started=self.recorder.submitted)
        if isinstance(verdict, lifecycle.WhyNot):
            return verdict.reason
        self.recorder.apply(verdict)
        return verdict.why if isinstance(verdict, lifecycle.Refuse) else ""


def _log_problems(loaded: model.Workflow, head: str, kept: str) -> None:
    if loaded.fatal:
        log.error("config %s does not load%s:\n%s", head[:7],
                  f"; keeping {kept[:7]}" if kept else "", "\n".join(map(str, loaded.errors)))
    levels: Mapping[str, int] = {"error": logging.ERROR, "warning": logging.WARNING}
    for p in loaded.problems:
        log.log(levels.get(p.severity, logging.INFO), "%s", p)


def _log_triggers(rejected: Triggers | list[model.TriggerRequest], waiting: Triggers) -> None:
    for r in rejected:
        log.error("%s in %s by %s: %s", r.path, r.commit[:7], r.author, r.error)
    for r in waiting:
        log.info("%s in %s by %s waits: %s", r.path, r.commit[:7], r.author, r.error)

