"""What a push to the config branch will do, decided before it lands: a PushPlan.

The same decisions a reconcile pass records (`intake.take_config` for the workflow and its
versions, `planner.plan_runs` for the runs, `intake.pending_approval` for approvals), plus
the jobs that will run after a planned one, each with its reason in words. Pure: the edges
(the pre-receive hook, the HTTP git server, `gitline plan`) read git and render the result
with `pushwords`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from controller.core import approvals, intake, model, planner, replan


@dataclass(frozen=True)
class NewVersion:
    resource: str
    number: int
    why: str  # "first version", "definition changed", "files under app/ changed"


@dataclass(frozen=True)
class PlannedJob:
    job: str
    why: str  # "app_src changed: version 4", "trigger file ...", "after build_app"
    after: str = ""  # the planned job this one follows, once it succeeds
    gated: bool = False  # requiresApproval: the run waits for an approval


@dataclass(frozen=True)
class FileVerdict:
    """A trigger or approval file of the push: accepted (with what it does) or refused."""

    path: str
    commit: str
    accepted: bool
    why: str


@dataclass(frozen=True)
class PushPlan:
    problems: tuple[model.Problem, ...] = ()  # of the pushed workflow, errors and warnings
    resources: int = 0  # objects of the pushed workflow that load
    jobs: int = 0
    loads: bool = True  # False: the pushed workflow does not load at all
    kept: str = ""  # then: the commit of the last good workflow, which keeps running
    versions: tuple[NewVersion, ...] = ()
    runs: tuple[PlannedJob, ...] = ()
    files: tuple[FileVerdict, ...] = ()
    cancelled: tuple[str, ...] = ()  # "job run N": runs of jobs the push removes
    # the plan's memo: the next answer's `previous` (not part of the answer)
    memo: replan.PlanMemo | None = field(default=None, compare=False, repr=False)

    @property
    def errors(self) -> tuple[model.Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")

    def refused(self, reject_invalid: bool) -> bool:
        """With `reject_invalid`, a workflow with errors is refused whole."""
        return reject_invalid and bool(self.errors)


def plan_push(
    pushed: model.Workflow,
    head: str,
    snap: model.Snapshot,
    *,
    good: tuple[str, model.Workflow] | None = None,
    author: str = "",
    tracked_trees: Mapping[str, str] | None = None,
    triggers: Sequence[model.TriggerRequest] = (),
    decisions: Sequence[approvals.ApprovalRequest] = (),
    source_commits: Mapping[str, str] | None = None,
    previous: replan.PlanMemo | None = None,
) -> PushPlan:
    """The plan of pushing `head` (whose workflow is `pushed`) onto state `snap`.

    `good` is the last good (commit, workflow), needed only when `pushed` does not load;
    `source_commits` the commit of each other source it runs with; `previous`: the memo
    of the previous answer (see planner.plan_runs).
    """
    taken = intake.take_config(pushed, head, good, snap, author=author,
                               tracked_trees=tracked_trees, source_commits=source_commits)
    base = PushPlan(problems=pushed.problems, resources=len(pushed.resources),
                    jobs=len(pushed.jobs), loads=not pushed.fatal,
                    kept=taken.commit if taken.kept else "")
    wf = taken.workflow
    if wf is None:  # nothing ever loaded: no trigger can run (as the reactor records)
        files = [FileVerdict(r.path, r.commit, False, r.error or "the workflow does not load")
                 for r in triggers]
        return replace(base, files=tuple(files))
    after = intake.with_versions(snap, taken.versions)
    plan = planner.plan_runs(wf, after, triggers=triggers, previous=previous)
    runs = [PlannedJob(p.job, _cause_words(p.cause, p.params), gated=_gated(wf, p.job))
            for p in plan.runs]
    runs += _cascade(wf, [r.job for r in runs])
    files = [FileVerdict(p.cause.detail, p.cause.commit, True,
                         f"{model.shown(p.job)} runs once" + _params_words(p.params))
             for p in plan.runs if p.cause.kind == "trigger"]
    files += [FileVerdict(r.path, r.commit, False, r.error) for r in plan.rejected]
    files += [FileVerdict(r.path, r.commit, True, f"{model.shown(r.job)} runs once that run "
                          f"has ended ({r.error})" + _params_words(r.params))
              for r in plan.waiting]
    files += [_decision(wf, after, d) for d in decisions]
    return replace(base, versions=tuple(_new_version(wf, snap, v) for v in taken.versions),
                 runs=tuple(runs), files=tuple(files), cancelled=_orphans(wf, snap),
                 memo=plan.memo)


def _new_version(wf: model.Workflow, snap: model.Snapshot, v: model.Version) -> NewVersion:
    res, latest = wf.resources[v.resource], snap.versions.get(v.resource)
    if latest is None or not latest.digest:
        why = "first version"
    elif res.tracks_path is not None and latest.digest.startswith(res.digest + ":"):
        why = f"files under {res.tracks_path.strip('/')}/ changed" if res.tracks_path.strip("/") \
            else "files changed"
    else:
        why = "definition changed"
    return NewVersion(v.resource, v.number, why)


def _cause_words(cause: model.Cause, params: Mapping[str, str]) -> str:
    if cause.kind == "input":  # "app_src version 4 (abc1234)"
        name, _, version = cause.detail.partition(" version ")
        return f"{model.shown(name)} changed: version {version}" if version else cause.detail
    if cause.kind == "trigger":
        at = f" in {cause.commit[:7]}" if cause.commit else ""
        return f"trigger file {cause.detail}{at}{_params_words(params)}"
    return cause.detail


def _params_words(params: Mapping[str, str]) -> str:
    shown = ", ".join(f"{k}={v}" for k, v in list(params.items())[:5])
    more = f", +{len(params) - 5}" if len(params) > 5 else ""
    return f" ({shown}{more})" if params else ""


def _gated(wf: model.Workflow, job: str) -> bool:
    return wf.jobs[job].approval is not None


def _cascade(wf: model.Workflow, planned: list[str]) -> list[PlannedJob]:
    """Jobs a planned run starts once it succeeds (through a job input or an output it
    writes), breadth first: the ones that cannot run at all are left out."""
    starts = _Starts(wf) if planned else None  # graph.starts of the jobs reached only
    seen, todo, out = set(planned), list(planned), []
    while todo and starts is not None:
        src = todo.pop(0)
        for dst in sorted(starts.of(src)):
            if dst in seen or planner.blocked(wf, wf.jobs[dst]):
                continue
            seen.add(dst)
            todo.append(dst)
            out.append(PlannedJob(dst, f"after {model.shown(src)}", after=src,
                                  gated=_gated(wf, dst)))
    return out


class _Starts:
    """graph.starts(wf)[job], worked out for the jobs asked about (a push that plans one
    job of 5,000 does not build the start graph of all of them)."""

    def __init__(self, wf: model.Workflow) -> None:
        self.wf = wf
        self.takers: dict[str, list[str]] = {}  # name -> jobs taking it, switch on
        for job in wf.jobs.values():
            for inp in job.inputs:
                if inp.switch:
                    self.takers.setdefault(inp.name, []).append(job.name)

    def of(self, src: str) -> set[str]:
        """The jobs `src` starts: those taking it (a job input), or taking an output of
        it that triggers."""
        names = [o.name for o in self.wf.jobs[src].outputs if self._triggers(o.name)]
        if not self._triggers(src):  # taken as a job (a name is one or the other)
            names.append(src)
        return {job for name in names for job in self.takers.get(name, ())} - {src}

    def _triggers(self, name: str) -> bool:
        res = self.wf.resources.get(name)
        return res is not None and res.type not in model.NEVER_TRIGGERS


def _decision(wf: model.Workflow, snap: model.Snapshot,
              d: approvals.ApprovalRequest) -> FileVerdict:
    hist = snap.jobs.get(d.job, model.JobHistory())
    run, none = intake.pending_approval(wf.jobs.get(d.job), d.job, hist)
    if d.error or run is None:
        return FileVerdict(d.path, d.commit, False, d.error or none)
    job = wf.jobs[d.job]
    assert job.approval is not None  # pending_approval found a gated job
    what = f"{d.decision}s {model.shown(d.job)} run {run.number}"
    if d.identity is None:  # the edge could not tell who made the commit: the pass checks
        approvers = ", ".join(job.approval.approvers) or "anyone who can push"
        return FileVerdict(d.path, d.commit, True, f"{what} if the controller can prove who "
                           f"made the commit and that is an approver ({approvers})")
    why_not = approvals.why_refused(job.approval, d)
    return FileVerdict(d.path, d.commit, not why_not, why_not or f"{what} (by {d.identity})")


def _orphans(wf: model.Workflow, snap: model.Snapshot) -> tuple[str, ...]:
    """Queued or running runs of jobs the workflow no longer has: they are cancelled."""
    return tuple(f"{model.shown(name)} run {r.number}" for name, hist in sorted(snap.jobs.items())
                 if name not in wf.jobs for r in hist.active)
