"""A draft workflow (what the readers made of the files) -> the `model.Workflow`: every
name resolved, and the objects that must not run, each with why (`inconsistent`).

Owns: IN/OUT/NOTIFY names (with "did you mean", and why a name Shippable made from a CI
section is missing), a job taking itself or its own output as a triggering input, job
cycles, secrets named outside their scope, and the spread: a job that takes an
inconsistent job is inconsistent too. Nothing is dropped: an inconsistent object stays in
the workflow, marked, so the rest runs. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from controller.core import graph, model, secretscope

# Names Shippable made for a repository's CI (its runCI job, its ciRepo resource).
CROSS_REPO = re.compile(r".+_(runCI|ciRepo)$")


@dataclass
class Draft:
    """What the readers made of the files, before any name is resolved."""

    resources: dict[str, model.Resource]
    jobs: dict[str, model.Job]
    problems: list[model.Problem]  # said while reading; resolution adds its own
    fatal: bool = False  # keep the last good workflow (said in a problem)
    notify_at: dict[tuple[str, str], list[model.Location]] = field(default_factory=dict)
    integration_at: dict[str, model.Location] = field(default_factory=dict)  # resource's
    integration_uses: list[tuple[str, str, model.Location]] = field(default_factory=list)
    ci_files: list[str] = field(default_factory=list)  # files with a CI section
    # objects that could not be read -> why: each a placeholder in resources/jobs that
    # never runs, and a name that resolves to nothing (what takes it waits)
    unloaded: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Memo:
    """What a resolution found, for the next one (a long-lived loader: one file of a
    5,000-job workflow changed): the names it saw, each job's name checks (the reasons
    and problems `check_names` gave) and the job cycles."""

    resources: Mapping[str, model.Resource]
    jobs: Mapping[str, model.Job]
    context: tuple[object, ...]  # what every job's name checks read besides its names
    checks: Mapping[str, tuple[tuple[str, ...], tuple[model.Problem, ...]]]
    cycles: list[list[str]]


def resolve(draft: Draft, scopes: Mapping[str, secretscope.Scope] | None) -> model.Workflow:
    """The workflow of `draft`. With `scopes` (the HOME's secrets), a secret named outside
    its scope is an error and what would get it is inconsistent; without, not checked."""
    return _Resolution(draft, scopes).workflow()


def resolve_from(draft: Draft, scopes: Mapping[str, secretscope.Scope] | None,
                 previous: Memo | None) -> tuple[model.Workflow, Memo]:
    """resolve(), re-checking only what changed since the resolution of `previous` (and
    what refers to it): the same workflow. Returns its memo too."""
    resolution = _Resolution(draft, scopes, previous)
    return resolution.workflow(), resolution.memo()


class _Resolution:
    def __init__(self, draft: Draft, scopes: Mapping[str, secretscope.Scope] | None,
                 previous: Memo | None = None) -> None:
        self.draft = draft
        self.resources, self.jobs, self.problems = draft.resources, draft.jobs, draft.problems
        self.check_scopes = scopes is not None
        self.scopes = scopes or {}
        self.inconsistent = dict(draft.unloaded)  # object -> why it does not run
        self.previous = previous
        self.checks: dict[str, tuple[tuple[str, ...], tuple[model.Problem, ...]]] = {}
        self.cycles: list[list[str]] = []
        self._context: tuple[object, ...] | None = None

    def memo(self) -> Memo:
        return Memo(self.resources, self.jobs, self.context(), self.checks, self.cycles)

    def context(self) -> tuple[object, ...]:
        """What check_names reads besides a job and the objects it names: which names
        exist (a "did you mean" looks at all of them), the notification resources among
        them, and the draft's notes on names."""
        if self._context is None:
            notifications = frozenset(r for r, res in self.resources.items()
                                      if res.type == "notification")
            d = self.draft
            self._context = (notifications, d.unloaded, d.ci_files, d.notify_at)
        return self._context

    def workflow(self) -> model.Workflow:
        prev, kept = self.previous, self.reusable()
        for job in self.jobs.values():
            known = prev.checks.get(job.name) if prev is not None and kept is not None and \
                job.name not in kept[0] else None
            if known is None:
                mark = len(self.problems)
                reasons = tuple(self.check_names(job))
                known = (reasons, tuple(self.problems[mark:]))
            else:
                self.problems += known[1]
            self.checks[job.name] = known
            for reason in known[0]:
                self.inconsistent.setdefault(job.name, reason)
        named = model.Workflow(resources=self.resources, jobs=self.jobs)
        self.cycles = prev.cycles if prev is not None and kept is not None and kept[1] \
            else graph.job_cycles(named)
        for cycle in self.cycles:
            text = " -> ".join([*cycle, cycle[0]])
            first = self.jobs[cycle[0]].location
            self.problems.append(
                model.Problem(first, f"jobs form a cycle: {text}", "error", cycle[0])
            )
            for name in cycle:
                self.inconsistent.setdefault(name, f"part of the cycle {text}")
        if self.check_scopes:
            self.check_secrets(named)
        self.mark_downstream()
        return model.Workflow(
            resources=self.resources,
            jobs=self.jobs,
            problems=tuple(self.problems),
            inconsistent=self.inconsistent,
            fatal=self.draft.fatal,
        )

    def reusable(self) -> tuple[set[str], bool] | None:
        """What the previous resolution found that still holds: None if nothing (the
        names or what every check reads changed), else (the jobs to check again: those
        that changed or write a resource whose type did, whether its job cycles hold:
        no job's inputs, outputs or switches changed, nor any resource's triggering)."""
        prev = self.previous
        if prev is None or prev.resources.keys() != self.resources.keys() or \
                prev.jobs.keys() != self.jobs.keys() or prev.context != self.context():
            return None
        resources = _changed(prev.resources, self.resources)
        jobs = _changed(prev.jobs, self.jobs)
        # of a resource, a job's checks read only the type of its outputs (is_triggering)
        retyped = {n for n in resources if prev.resources[n].type != self.resources[n].type}
        again = jobs | {name for name, job in self.jobs.items()
                        if any(o.name in retyped for o in job.outputs)} if retyped else jobs
        same_graph = all(_shape(prev.jobs[n]) == _shape(self.jobs[n]) for n in jobs) and all(
            _triggers(prev.resources[n]) == _triggers(self.resources[n]) for n in resources)
        return again, same_graph

    def check_secrets(self, named: model.Workflow) -> None:
        """A secret named outside its scope: nothing that would get it runs."""
        for misuse in secretscope.check(named, self.scopes, self.draft.integration_at):
            self.problems.append(model.Problem(misuse.location, misuse.message, "error",
                                               misuse.resource))
            if misuse.resource_out:
                self.inconsistent.setdefault(misuse.resource, misuse.message)
            for job in misuse.jobs:
                self.inconsistent.setdefault(job, misuse.message)
        for job, secret, where in self.draft.integration_uses:
            message = secretscope.job_misuse(job, secret, self.scopes)
            if message:
                self.problems.append(model.Problem(where, message, "error", job))
                self.inconsistent.setdefault(job, message)

    def check_names(self, job: model.Job) -> list[str]:
        """Each name `job` refers to that does not resolve, or must not be used so: why."""
        reasons: list[str] = []
        outs = {o.name for o in job.outputs}
        for inp in job.inputs:
            if inp.name == job.name:
                reasons.append(
                    self.job_error(job, inp.location, f"job '{job.name}' takes itself as input")
                )
            elif not self.loaded(inp.name, self.resources, self.jobs):
                reasons.append(self.unresolved(job, "input", inp.name, inp.location))
            elif inp.name in outs and inp.switch and self.is_triggering(inp.name):
                msg = (
                    f"job '{job.name}' takes its own output '{inp.name}' as a triggering "
                    "input (it would start itself); add 'switch: off'"
                )
                reasons.append(self.job_error(job, inp.location, msg))
        for out in job.outputs:
            if out.name in self.jobs:
                msg = f"OUT '{out.name}' is a job; only a resource can be an output"
                reasons.append(self.job_error(job, out.location, msg))
            elif not self.loaded(out.name, self.resources):
                reasons.append(self.unresolved(job, "output", out.name, out.location))
        missing = {note.name: None for hook in job.hooks.values() for note in hook.notify
                   if not self.loaded(note.name, self.resources)}
        for name in missing:  # each use once, at its own line
            for where in self.draft.notify_at.get((job.name, name), [job.location]):
                reasons.append(self.unresolved(job, "notification", name, where))
        return reasons

    def loaded(self, name: str, *kinds: Mapping[str, object]) -> bool:
        """`name` is one of `kinds`, read (not the placeholder of an object that was not)."""
        return name not in self.draft.unloaded and any(name in kind for kind in kinds)

    def is_triggering(self, name: str) -> bool:
        """Whether a new version of resource `name` starts the jobs that take it (a job's
        name, written as an OUT by mistake, is no resource: said by its OUT's error)."""
        res = self.resources.get(name)
        return res is not None and res.type not in model.NEVER_TRIGGERS

    def job_error(self, job: model.Job, where: model.Location, message: str) -> str:
        """Say `message` at `where`; the reason `job` is inconsistent (with its line)."""
        self.problems.append(model.Problem(where, message, "error", job.name))
        return f"{message} ({where.path}:{where.line})"

    def unresolved(self, job: model.Job, kind: str, name: str, where: model.Location) -> str:
        """Say why `name` does not resolve (and what was meant); the reason for `job`."""
        message = f"unresolved {kind} '{name}' of job '{job.name}'"
        hint = self.nearest(name, kind, job.name)
        if name in self.draft.unloaded:
            message += f": {self.draft.unloaded[name]}"  # why it could not be read
        elif CROSS_REPO.match(name) and self.draft.ci_files:
            made = "the runCI job" if name.endswith("_runCI") else "the ciRepo resource"
            ours = sorted(n for n in [*self.resources, *self.jobs] if CROSS_REPO.match(n)
                          and n.endswith(name[name.rindex("_"):]))
            message += (f": Shippable made {made} from the CI section (language:, build:) "
                        f"of {', '.join(self.draft.ci_files)}, here named "
                        f"{', '.join(repr(n) for n in ours) or 'otherwise'} (after the "
                        "repository's name: its source's name in gitline.yml)")
        elif CROSS_REPO.match(name):
            message += ": defined outside this repository (the runCI job of another one?)"
        elif hint:
            message += f"; did you mean '{hint}'?"
        else:
            message += ": no resource or job has this name"
        self.problems.append(model.Problem(where, message, "error", job.name))
        state = "not loaded" if name in self.draft.unloaded else "not defined"
        return f"{kind} '{name}' is {state} ({where.path}:{where.line})"

    def nearest(self, name: str, kind: str, referrer: str) -> str | None:
        """The defined name `name` was probably meant as: of the kind the key expects
        (an output is a resource, a notification a notification resource) before any
        other, and never the object that refers to it."""
        import difflib  # only for a name that does not resolve (start-up time)

        notifications = [r for r, res in self.resources.items() if res.type == "notification"]
        preferred = {"output": list(self.resources), "notification": notifications}.get(
            kind, [*self.resources, *self.jobs])
        for pool in (preferred, [*self.resources, *self.jobs]):
            names = sorted(n for n in pool if n != referrer)
            hint = difflib.get_close_matches(name, names, n=1, cutoff=0.75)
            if hint:
                return hint[0]
        return None

    def mark_downstream(self) -> None:
        """Jobs that take an inconsistent job as input are inconsistent too."""
        changed = bool(self.inconsistent)  # else none is (5,000 jobs looked at for nothing)
        while changed:
            changed = False
            for job in self.jobs.values():
                if job.name in self.inconsistent:
                    continue
                upstream = next((i.name for i in job.inputs if i.name in self.inconsistent),
                                None)
                if upstream is not None:
                    self.inconsistent[job.name] = f"input job '{upstream}' is inconsistent"
                    message = (f"job '{job.name}' is skipped: its input job '{upstream}' is "
                               "inconsistent")
                    self.problems.append(model.Problem(job.location, message, "warning", job.name))
                    changed = True


def _changed(before: Mapping[str, object], now: Mapping[str, object]) -> set[str]:
    """The names (of both) whose object is not the same, nor equal."""
    return {name for name, value in now.items()
            if (old := before.get(name)) is not value and old != value}


def _shape(job: model.Job) -> tuple[object, ...]:
    """What of a job the job-start graph (graph.starts) reads."""
    return (tuple((i.name, i.switch) for i in job.inputs), tuple(o.name for o in job.outputs))


def _triggers(resource: model.Resource) -> bool:
    return resource.type not in model.NEVER_TRIGGERS
