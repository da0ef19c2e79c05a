"""The incremental plan (core/replan): given the previous pass, exactly a full plan's
result, whatever changed in between (versions, runs, definitions, inconsistency), and it
decides again only the jobs below what changed."""

from __future__ import annotations

import random
from dataclasses import replace

from controller.core import history, model, planner

LOC = model.Location("shippable.yml", 1, 1)
TYPES = ["params", "params", "params", "time", "state", "gitRepo"]
STATUSES = ["succeeded", "succeeded", "failed", "timed_out", "interrupted", "cancelled"]


def _job(rng: random.Random, i: int, names: list[str]) -> model.Job:
    inputs = []
    for name in rng.sample(names, min(len(names), rng.randint(0, 3))):
        pin = rng.random() < 0.1
        inputs.append(model.Input(
            name, LOC, switch=rng.random() > 0.15, version_number=1 if pin else None,
            dependency_mode=rng.choice(["", "", "", "strict", "immediate", "chrono"])))
    outputs = tuple(model.Output(f"r{rng.randint(0, 7)}", LOC)
                    for _ in range(rng.randint(0, 1)))
    return model.Job(f"j{i}", "runSh", LOC, tuple(inputs), outputs,
                     dependency_mode=rng.choice(["chrono", "chrono", "strict", "immediate"]),
                     priority=rng.choice([9999, 9999, 1, 5]))


def _workflow(rng: random.Random) -> model.Workflow:
    resources = {f"r{i}": model.Resource(f"r{i}", rng.choice(TYPES), {"i": i}, LOC)
                 for i in range(8)}
    jobs: dict[str, model.Job] = {}
    for i in range(rng.randint(3, 14)):
        names = [*resources, *jobs] + (["j99"] if rng.random() < 0.05 else [])
        jobs[f"j{i}"] = _job(rng, i, names)
    inconsistent = {f"j{rng.randint(0, 13)}": "why"} if rng.random() < 0.2 else {}
    return model.Workflow(resources=resources, jobs=jobs, inconsistent=inconsistent)


def _run(rng: random.Random, job: str, number: int, status: str) -> model.Run:
    return model.Run(job, number, status, model.Cause("manual", "test"),  # type: ignore[arg-type]
                     (model.InputVersion("r0", "resource", rng.randint(0, 2)),))


def _snapshot(rng: random.Random, wf: model.Workflow) -> model.Snapshot:
    versions = {r: model.Version(r, rng.randint(1, 3), created_by=rng.choice(
        ["config abc", "j1 run 2", "time"])) for r in wf.resources if rng.random() < 0.8}
    jobs = {}
    for name in wf.jobs:
        if rng.random() < 0.3:
            continue
        hist = history.after_run(model.JobHistory(), _run(rng, name, 1, rng.choice(STATUSES)))
        if rng.random() < 0.15:
            hist = history.after_run(hist, _run(rng, name, 2, rng.choice(["queued", "running"])))
        jobs[name] = hist
    return model.Snapshot(versions, jobs, "a" * 40, "a" * 40, "t1")


def _change(rng: random.Random, wf: model.Workflow,
            snap: model.Snapshot) -> tuple[model.Workflow, model.Snapshot]:
    kind = rng.choice(["version", "version", "run", "run", "job", "resource",
                       "inconsistent", "new job", "nothing"])
    versions, jobs = dict(snap.versions), dict(snap.jobs)
    if kind == "version":
        name = rng.choice(sorted(wf.resources))
        old = versions.get(name, model.Version(name, 0))
        versions[name] = replace(old, number=old.number + 1, created_by=rng.choice(
            ["config abc", f"j{rng.randint(0, 5)} run 3"]))
    elif kind == "run" and wf.jobs:
        name = rng.choice(sorted(wf.jobs))
        hist = jobs.get(name, model.JobHistory())
        number = planner.next_run_number(snap, name)
        jobs[name] = history.after_run(hist, _run(rng, name, number, rng.choice(
            [*STATUSES, "queued", "running"])))
    elif kind == "job" and wf.jobs:
        name = rng.choice(sorted(wf.jobs))
        before = sorted(n for n in wf.jobs if n < name)
        job = replace(_job(rng, int(name[1:]), [*wf.resources, *before]),
                      priority=wf.jobs[name].priority)
        wf = replace(wf, jobs={**wf.jobs, name: job})
    elif kind == "resource":
        name = rng.choice(sorted(wf.resources))
        res = replace(wf.resources[name], type=rng.choice(TYPES))
        wf = replace(wf, resources={**wf.resources, name: res})
    elif kind == "inconsistent" and wf.jobs:
        name = rng.choice(sorted(wf.jobs))
        wf = replace(wf, inconsistent={} if name in wf.inconsistent else {name: "cycle"})
    elif kind == "new job":
        wf = replace(wf, jobs={**wf.jobs, "j50": _job(rng, 50, [*wf.resources, *wf.jobs])})
    return wf, replace(snap, versions=versions, jobs=jobs)


def test_an_incremental_plan_is_the_full_plan_on_random_changes():
    rng = random.Random(13)
    kept = 0
    for _ in range(300):
        wf = _workflow(rng)
        snap = _snapshot(rng, wf)
        plan = planner.plan_runs(wf, snap)
        for _ in range(8):
            wf, snap = _change(rng, wf, snap)
            full = planner.plan_runs(wf, snap)
            again = planner.plan_runs(wf, snap, previous=plan.memo)
            assert again == full
            assert again.runs == full.runs and again.waits == full.waits
            kept += sum(o is plan.memo.outcomes.get(n)  # type: ignore[union-attr]
                        for n, o in again.memo.outcomes.items())  # type: ignore[union-attr]
            plan = again
    assert kept > 1000  # most outcomes were kept, not decided again


def test_only_the_jobs_below_a_new_version_are_decided_again(monkeypatch):
    resources = {f"r{i}": model.Resource(f"r{i}", "params", {}, LOC) for i in range(20)}
    jobs = {f"j{i}": model.Job(f"j{i}", "runSh", LOC, (
        model.Input(f"r{i}", LOC), *((model.Input(f"j{i - 1}", LOC),) if i % 5 else ())))
        for i in range(20)}
    wf = model.Workflow(resources=resources, jobs=jobs)
    versions = {r: model.Version(r, 1) for r in resources}
    snap = model.Snapshot(versions, {})
    first = planner.plan_runs(wf, snap)
    decided: list[str] = []
    real = planner._decide
    monkeypatch.setattr(planner, "_decide", lambda wf, job, snap: decided.append(job.name)
                        or real(wf, job, snap))
    bumped = replace(snap, versions={**versions, "r2": model.Version("r2", 2)})
    plan = planner.plan_runs(wf, bumped, previous=first.memo)
    assert sorted(decided) == ["j2", "j3", "j4"]
    assert plan == planner.plan_runs(wf, bumped)
    decided.clear()
    assert planner.plan_runs(wf, bumped, previous=plan.memo) == plan
    assert decided == []  # nothing changed: nothing decided
