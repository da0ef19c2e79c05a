"""Which jobs a plan must decide again, given the previous plan's inputs and outcomes.

Owns: `PlanMemo` (what a pass of `planner.plan_runs` saw and decided, per job) and
`to_decide`: the jobs whose previous outcome (its planned run, or why it waits) may not
be the outcome now. A job's outcome reads only its own definition and history, its inputs'
definitions and versions, and the history of the jobs above it (the runs a pass plans
upstream first, and `strict` mode's whole chain). So a job is decided again when anything
upstream of it in the name graph (IN and OUT edges, of the old workflow and the new)
changed; the others keep their outcome. When the order of the pass changed (a job came,
went or changed priority), or nothing is known of the previous pass, every job is
decided again. The planner stays level-triggered: the result is exactly a full plan's
(a test compares both on random changes). Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from controller.core import graph, model


@dataclass(frozen=True)
class PlanMemo:
    """One pass: the workflow and snapshot (after trigger runs) it saw, the order it went
    in (and each job's place in it), its name graph (name -> the names it leads to), each
    job's outcome (a `planner.PlannedRun`, or why the job waits), the waits alone and
    the jobs planned."""

    wf: model.Workflow
    snap: model.Snapshot
    order: tuple[str, ...]
    place: Mapping[str, int]
    after: Mapping[str, frozenset[str]]
    outcomes: Mapping[str, Any] = field(default_factory=dict)
    waits: Mapping[str, str] = field(default_factory=dict)
    planned: frozenset[str] = frozenset()  # the jobs whose outcome is a run


def name_graph(wf: model.Workflow) -> dict[str, frozenset[str]]:
    """name -> the names an edge leads to from it (IN: input -> job, OUT: job -> output)."""
    after: dict[str, set[str]] = {}
    for edge in graph.edges(wf):
        after.setdefault(edge.src, set()).add(edge.dst)
    return {name: frozenset(dsts) for name, dsts in after.items()}


def same_shape(before: model.Workflow, now: model.Workflow) -> bool:
    """True when the pass's order and the name graph of `now` are those of `before`: the
    same jobs, and every job that changed kept its priority, inputs and outputs (a push
    that changes a script or a resource's definition)."""
    if before is now:
        return True
    if before.jobs.keys() != now.jobs.keys():
        return False
    return all(_shape(before.jobs[name]) == _shape(now.jobs[name])
               for name in _changed(before.jobs, now.jobs))


def _shape(job: model.Job) -> tuple[object, ...]:
    return (job.priority, tuple(i.name for i in job.inputs), tuple(o.name for o in job.outputs))


def to_decide(previous: PlanMemo | None, wf: model.Workflow, snap: model.Snapshot,
              order: tuple[str, ...], after: Mapping[str, frozenset[str]]) -> set[str] | None:
    """The jobs to decide again; the others keep their outcome in `previous` (None: decide
    every job)."""
    if previous is None or previous.order != order:
        return None
    seeds = _changed(previous.snap.versions, snap.versions)
    seeds |= _changed(previous.snap.jobs, snap.jobs)
    if previous.wf is not wf:
        seeds |= _changed(previous.wf.resources, wf.resources)
        seeds |= _changed(previous.wf.jobs, wf.jobs)
        seeds |= _changed(previous.wf.inconsistent, wf.inconsistent)
    both = (after, previous.after) if previous.after is not after else (after,)
    dirty = set(seeds)
    todo = list(seeds)
    while todo:
        name = todo.pop()
        for edges in both:
            for nxt in edges.get(name, ()):
                if nxt not in dirty:
                    dirty.add(nxt)
                    todo.append(nxt)
    return {name for name in dirty if name in wf.jobs}


def _changed(before: Mapping[str, Any], now: Mapping[str, Any]) -> set[str]:
    """Names whose value differs (or is only on one side); identical objects are skipped
    without comparing them."""
    if before is now:
        return set()
    out = {name for name, value in now.items()
           if (old := before.get(name, _MISSING)) is not value and old != value}
    if out or len(before) != len(now):  # else no name can have gone
        out |= before.keys() - now.keys()
    return out


_MISSING = object()
