"""Deciding which jobs run, from the workflow, the versions and the runs so far.

Pure and level-triggered, in the manner of Concourse's scheduler: a job is due when a
triggering input's current version differs from the one its newest run used. Because
the decision is recomputed from recorded state, a missed event or a crash loses nothing
and a second pass over the same state plans nothing new. Every job that is not due gets
a reason, so `status` can always say why a job is not running.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from controller.core import graph, history, model, replan


@dataclass(frozen=True)
class PlannedRun:
    job: str
    cause: model.Cause
    inputs: tuple[model.InputVersion, ...]
    params: dict[str, str] = field(default_factory=dict)
    # what the next plan compares versions against (None: `inputs`); a replay keeps the
    # baseline of the run before it, so newer versions still look unprocessed
    baseline: tuple[model.InputVersion, ...] | None = None
    attempt: int = 1  # a re-run of an interrupted attempt keeps counting its retries


@dataclass(frozen=True)
class Plan:
    runs: tuple[PlannedRun, ...] = ()
    waits: dict[str, str] = field(default_factory=dict)  # job -> why it is not due
    rejected: tuple[model.TriggerRequest, ...] = ()  # triggers that cannot run, with error
    # triggers that wait for a run of an input job in flight (error says which); they run
    # when it ends, as a pending build does in Concourse
    waiting: tuple[model.TriggerRequest, ...] = ()
    # what this pass saw and decided: the next plan's `previous` (not part of the result)
    memo: replan.PlanMemo | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class NotReady:
    """An input cannot be resolved now, and why. `in_flight`: only because a run of an
    input job is queued or running (it will end: a trigger waits for it)."""

    why: str
    in_flight: bool = False

    def __str__(self) -> str:
        return self.why


def _resolve_resource(inp: model.Input, res: model.Resource,
                      snap: model.Snapshot) -> model.InputVersion | NotReady:
    latest = snap.versions.get(inp.name)
    if inp.version_number is not None:
        name = inp.version_name or (
            latest.name if latest and latest.number == inp.version_number else ""
        )
        return model.InputVersion(inp.name, "resource", inp.version_number, name)
    if inp.version_name is not None:
        number = latest.number if latest and latest.name == inp.version_name else 0
        return model.InputVersion(inp.name, "resource", number, inp.version_name)
    if latest is None:
        if res.type == "state":  # an empty state is a valid start
            return model.InputVersion(inp.name, "resource", 0)
        if res.type == "time":
            return NotReady(f"waiting for the first tick of {inp.name} "
                            f"({res.definition.get('interval', 'no interval')})")
        return NotReady(f"input {inp.name} has no version yet")
    return model.InputVersion(inp.name, "resource", latest.number, latest.name)


# chrono (the default) and strict: "if Job-1 is in failed state or is queued, Job-4 will
# not trigger" (Shippable's jobs page). strict also waits on any failure or run of the
# input job's own upstream jobs; immediate waits for nothing.
FAILED = frozenset({"failed", "timed_out"})


def _block(name: str, up: model.JobHistory, mode: str, *, manual: bool) -> str:
    """Why the newest state of input job `name` holds a run back under `mode`, or ""."""
    if mode == "immediate":
        return ""
    if up.active:
        run = up.active[-1]
        return f"waiting for input job {name} (run {run.number} {run.status})"
    # a trigger file is a person asking for a run: an old failure upstream does not refuse it
    failed = up.last is not None and (
        up.last.status != "succeeded" if mode == "strict" else up.last.status in FAILED)
    if failed and not manual and up.last is not None:
        return f"input job {name} run {up.last.number} {up.last.status}"
    return ""


def _resolve_job(wf: model.Workflow, inp: model.Input, job: model.Job, snap: model.Snapshot,
                 *, manual: bool = False) -> model.InputVersion | NotReady:
    mode = inp.dependency_mode or job.dependency_mode
    up = snap.jobs.get(inp.name, model.JobHistory())
    why = _block(inp.name, up, mode, manual=manual)
    if not why and mode == "strict":  # the whole chain above the input job
        for name in sorted(graph.upstream(wf, inp.name) & wf.jobs.keys()):
            why = _block(name, snap.jobs.get(name, model.JobHistory()), mode, manual=manual)
            if why:
                why = why.replace("input job", "upstream job", 1)
                break
    if why:
        return NotReady(why, in_flight=why.startswith("waiting for"))
    if up.last_succeeded == 0:
        return NotReady(f"waiting for input job {inp.name} to succeed")
    return model.InputVersion(inp.name, "job", up.last_succeeded)


def resolve_inputs(
    wf: model.Workflow, job: model.Job, snap: model.Snapshot, *, manual: bool = False
) -> tuple[model.InputVersion, ...] | NotReady:
    """The exact input versions a run of `job` would use now, or why it cannot run now
    (the first input that cannot be resolved)."""
    resolved = []
    for inp in job.inputs:
        if inp.name in wf.resources:
            found = _resolve_resource(inp, wf.resources[inp.name], snap)
        elif inp.name in wf.jobs:
            found = _resolve_job(wf, inp, job, snap, manual=manual)
        else:
            found = NotReady(f"input {inp.name} is not defined")
        if isinstance(found, NotReady):
            return found
        resolved.append(found)
    return tuple(resolved)


def _triggering(wf: model.Workflow, inp: model.Input) -> bool:
    if not inp.switch or inp.pinned:
        return False
    res = wf.resources.get(inp.name)
    return res is None or res.type not in model.NEVER_TRIGGERS


def _own_output(snap: model.Snapshot, job: str, name: str) -> bool:
    """A version this job wrote itself never re-triggers it (no feedback loop)."""
    v = snap.versions.get(name)
    return v is not None and v.created_by.startswith(f"{job} run ")


def _changed_cause(
    wf: model.Workflow,
    job: model.Job,
    snap: model.Snapshot,
    now_inputs: Sequence[model.InputVersion],
    last: model.Run | None,
) -> model.Cause | None:
    """The cause of a due run: the first triggering input whose version moved."""
    for inp, iv in zip(job.inputs, now_inputs, strict=True):
        if not _triggering(wf, inp) or _own_output(snap, job.name, inp.name):
            continue
        used = last.baseline_input(inp.name) if last else None
        if used is not None and used.number == iv.number:
            continue
        if iv.kind == "job":
            return model.Cause("job", f"{inp.name} run {iv.number} succeeded")
        v = snap.versions[inp.name] if inp.name in snap.versions else model.Version(inp.name, 0)
        label = f"{inp.name} version {iv.number}"
        if iv.version_name:  # a commit sha is shown short, as git does
            short = len(iv.version_name) == 40 and all(c in "0123456789abcdef"
                                                       for c in iv.version_name)
            label += f" ({iv.version_name[:7] if short else iv.version_name})"
        return model.Cause("input", label, commit=v.config_commit, author=v.author)
    return None


def _idle_reason(wf: model.Workflow, job: model.Job, hist: model.JobHistory) -> str:
    pins = [
        f"{i.name} pinned to "
        + (
            f"versionName {i.version_name}"
            if i.version_name is not None
            else f"versionNumber {i.version_number}"
        )
        for i in job.inputs
        if i.pinned
    ]
    pinned = f"; {', '.join(pins)}" if pins else ""
    if not any(_triggering(wf, i) for i in job.inputs):
        return (
            "no triggering input (all switch: off or pinned); start it with a trigger "
            f"file triggers/{job.name}{pinned}"
        )
    if hist.last is None:
        return f"never run{pinned}"
    return f"up to date with run {hist.last.number} ({hist.last.status}){pinned}"


def blocked(wf: model.Workflow, job: model.Job) -> str:
    """Why `job` cannot run at all with this workflow ("" when it can)."""
    if job.name in wf.inconsistent:
        return f"inconsistent: {wf.inconsistent[job.name]}"
    if job.not_runnable:  # the loader's text may already say it: say it once
        reason = job.not_runnable
        return reason if "not runnable here" in reason else f"not runnable here: {reason}"
    return ""


def _plan_trigger(
    wf: model.Workflow, snap: model.Snapshot, req: model.TriggerRequest
) -> PlannedRun | str | NotReady:
    """The run a trigger makes now, why it never will (str), or why it waits (NotReady
    in flight)."""
    job = wf.jobs.get(req.job)
    if req.error:
        return req.error
    if job is None:
        return f"no job named {req.job!r} in the workflow"
    cannot = blocked(wf, job)
    if cannot:
        return cannot
    inputs = resolve_inputs(wf, job, snap, manual=True)
    if isinstance(inputs, NotReady):
        return inputs if inputs.in_flight else inputs.why
    cause = model.Cause("trigger", req.path, commit=req.commit, author=req.author)
    return PlannedRun(job.name, cause, inputs, dict(req.params))


def rerun_of(run: model.Run) -> PlannedRun:
    """The run that replaces an interrupted one: same inputs, params, baseline and attempt.
    Recovery queues it (the interrupted run had passed any approval); the planner plans it
    should recovery not have (a state written before it did) when the interrupted run is
    the job's newest."""
    return PlannedRun(run.job, model.Cause("retry", f"run {run.number} was interrupted"),
                      run.inputs, dict(run.params), baseline=run.baseline, attempt=run.attempt)


def _as_queued(p: PlannedRun, snap: model.Snapshot) -> model.Run:
    return model.Run(p.job, next_run_number(snap, p.job), "queued", p.cause, p.inputs, p.params)


def plan_triggers(
    wf: model.Workflow, snap: model.Snapshot, triggers: Iterable[model.TriggerRequest]
) -> Plan:
    """The runs of trigger requests (in order), the ones refused and the ones that wait
    for an input job's run in flight; no other job is planned."""
    runs: list[PlannedRun] = []
    rejected: list[model.TriggerRequest] = []
    waiting: list[model.TriggerRequest] = []
    for req in triggers:
        planned = _plan_trigger(wf, snap, req)
        if isinstance(planned, str):
            rejected.append(replace(req, error=planned))
            continue
        if isinstance(planned, NotReady):
            waiting.append(replace(req, error=planned.why))
            continue
        runs.append(planned)
        snap = history.with_run(snap, _as_queued(planned, snap))
    return Plan(tuple(runs), {}, tuple(rejected), tuple(waiting))


def plan_runs(
    wf: model.Workflow,
    snap: model.Snapshot,
    *,
    triggers: Iterable[model.TriggerRequest] = (),
    previous: replan.PlanMemo | None = None,
) -> Plan:
    """Runs to queue now (trigger requests first, in order), and why other jobs wait.

    `previous`: the `memo` of an earlier plan; the jobs nothing upstream of which changed
    since keep their outcome from it (see replan) instead of being decided again."""
    asked = plan_triggers(wf, snap, triggers)
    for p in asked.runs:
        snap = history.with_run(snap, _as_queued(p, snap))
    if previous is not None and replan.same_shape(previous.wf, wf):
        order, place, after = previous.order, previous.place, previous.after
    else:
        order = tuple(j.name for j in _upstream_first(wf))
        place, after = {name: i for i, name in enumerate(order)}, replan.name_graph(wf)
    seen = snap  # the memo's snapshot: after the trigger runs, before this pass's own
    decide = replan.to_decide(previous, wf, snap, order, after)
    if previous is None or decide is None:
        outcomes: dict[str, PlannedRun | str] = {}
        waits: dict[str, str] = {}
        visit: Iterable[str] = order
    else:  # the kept outcomes as they were; a kept run still goes in its place in order
        outcomes, waits = dict(previous.outcomes), dict(previous.waits)
        kept_runs = (n for n in previous.planned if n not in decide)
        visit = sorted([*decide, *kept_runs], key=place.__getitem__)
    auto: list[PlannedRun] = []
    for name in visit:
        outcome = outcomes[name] if decide is not None and name not in decide \
            else _decide(wf, wf.jobs[name], snap)
        outcomes[name] = outcome
        if isinstance(outcome, str):
            waits[name] = outcome
            continue
        waits.pop(name, None)
        auto.append(outcome)
        snap = history.with_run(snap, _as_queued(outcome, snap))
    auto.sort(key=lambda p: (wf.jobs[p.job].priority, p.job))
    memo = replan.PlanMemo(wf, seen, order, place, after, outcomes, waits,
                           frozenset(p.job for p in auto))
    return Plan((*asked.runs, *auto), waits, asked.rejected, asked.waiting, memo)


def _decide(wf: model.Workflow, job: model.Job, snap: model.Snapshot) -> PlannedRun | str:
    """The run of `job` due now, or why it waits."""
    cannot = blocked(wf, job)
    if cannot:
        return cannot
    hist = snap.jobs.get(job.name, model.JobHistory())
    inputs = resolve_inputs(wf, job, snap)
    if isinstance(inputs, NotReady):
        return inputs.why
    if hist.last is not None and hist.last.status == "interrupted" and not hist.active:
        return rerun_of(hist.last)
    changed = _changed_cause(wf, job, snap, inputs, hist.last)
    if changed is None:
        return _idle_reason(wf, job, hist)
    return PlannedRun(job.name, changed, inputs)


def _order(job: model.Job) -> tuple[int, str]:
    return (job.priority, job.name)


def _upstream_first(wf: model.Workflow) -> list[model.Job]:
    """Jobs with their input jobs before them (else by priority), so that a job due in
    this pass is queued before the jobs that take it as input are considered: they must
    wait for it. Iterative (a chain of 10,000 jobs); a cycle is cut where it is met."""
    done: set[str] = set()
    opened: set[str] = set()  # expanded, not yet done: met again, it is a cycle
    order: list[model.Job] = []
    for root in sorted(wf.jobs.values(), key=_order):
        stack = [(root, False)]
        while stack:
            job, expanded = stack.pop()
            if expanded:
                done.add(job.name)
                order.append(job)
                continue
            if job.name in done or job.name in opened:
                continue
            opened.add(job.name)
            stack.append((job, True))
            ups = [wf.jobs[i.name] for i in job.inputs if i.name in wf.jobs]
            stack += [(up, False) for up in sorted(ups, key=_order, reverse=True)
                      if up.name not in opened]
    return order


def next_run_number(snap: model.Snapshot, job: str) -> int:
    """The number the next run of `job` gets."""
    hist = snap.jobs.get(job, model.JobHistory())
    return max([hist.last.number if hist.last else 0, *(r.number for r in hist.active)]) + 1


def runnable_now(job: model.Job, hist: model.JobHistory) -> list[model.Run]:
    """Queued runs of a job that may start now: serial jobs one at a time, oldest first."""
    queued = [r for r in hist.active if r.status == "queued"]
    if job.trigger_mode == "parallel":
        return queued
    running = any(r.status == "running" for r in hist.active)
    return [] if running or not queued else queued[:1]
