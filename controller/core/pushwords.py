"""A PushPlan in words: the `remote:` lines of a push and `gitline plan`, and its JSON.

Pure. Short for big workflows: each list says its count, then its first lines, then how
many more there are. git prints every line the hook writes as `remote: <line>`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from controller.core.model import shown
from controller.core.pushplan import PushPlan

LIMIT = 10  # lines of each list
PROBLEM_LIMIT = 20  # problems: the exact line of each matters most


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _first(lines: Sequence[str], limit: int) -> list[str]:
    shown = [f"  {line}" for line in lines[:limit]]
    return shown + ([f"  ... and {len(lines) - limit} more"] if len(lines) > limit else [])


def _section(noun: str, items: Sequence[str], limit: int, verb: str = "") -> list[str]:
    """`gitline: 3 jobs will run:` and the first lines; nothing when there are none."""
    if not items:
        return []
    return [f"gitline: {_plural(len(items), noun)}{verb}:", *_first(items, limit)]


def _counts(plan: PushPlan) -> tuple[int, int, int]:
    """Errors, warnings and infos (keys Gitline reads but does not act on) of the push."""
    of = [p.severity for p in plan.problems]
    return of.count("error"), of.count("warning"), of.count("info")


def render(plan: PushPlan, *, reject_invalid: bool = False, limit: int = LIMIT) -> list[str]:
    """The lines that answer a push (and `gitline plan`), in the order they matter."""
    errors, warnings, infos = _counts(plan)
    counts = f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')}" + (
        f" ({_plural(infos, 'info')}: gitline validate shows them)" if infos else "")
    lines = [f"gitline: {_plural(plan.resources, 'resource')}, {_plural(plan.jobs, 'job')}; "
             f"{counts}" if plan.loads else
             f"gitline: the pushed workflow does not load: {counts}"]
    lines += _first([str(p) for p in plan.problems if p.severity != "info"],
                    max(limit, PROBLEM_LIMIT))
    if plan.refused(reject_invalid):
        return lines + ["gitline: push refused: the workflow has errors (reject_invalid: true "
                        "in gitline.yml); fix them and push again"]
    if not plan.loads:
        lines.append(f"gitline: the last good workflow ({plan.kept[:7]}) keeps running"
                     if plan.kept else "gitline: nothing runs until a workflow loads")
    elif errors:
        lines.append("gitline: what the errors touch waits (inconsistent); the rest runs")
    lines += _section("new version", [f"{shown(v.resource)}: version {v.number} ({v.why})"
                                      for v in plan.versions], limit)
    lines += _section("job", [f"{shown(r.job)}: {r.why}" + ("; waits for approval" if r.gated
                                                           else "") for r in plan.runs],
                      limit, " will run") or ["gitline: no job will run"]
    lines += _section("trigger or approval file", [
        f"{f.path}: {'accepted' if f.accepted else 'refused'}: {f.why}" for f in plan.files],
        limit)
    lines += _section("run", list(plan.cancelled), limit, " of removed jobs will be cancelled")
    return lines


def as_json(plan: PushPlan, *, reject_invalid: bool = False) -> dict[str, Any]:
    """Everything of the plan, unabridged, for `gitline plan --json`."""
    return {
        "refused": plan.refused(reject_invalid),
        "loads": plan.loads,
        "kept": plan.kept,
        "resources": plan.resources,
        "jobs": plan.jobs,
        **dict(zip(("errors", "warnings", "infos"), _counts(plan), strict=True)),
        "problems": [{"file": p.location.path, "line": p.location.line, "col": p.location.col,
                      "severity": p.severity, "message": p.message} for p in plan.problems],
        "versions": [{"resource": v.resource, "version": v.number, "why": v.why}
                     for v in plan.versions],
        "runs": [{"job": r.job, "why": r.why, "after": r.after or None, "gated": r.gated}
                 for r in plan.runs],
        "files": [{"path": f.path, "commit": f.commit, "accepted": f.accepted, "why": f.why}
                  for f in plan.files],
        "cancelled": list(plan.cancelled),
    }
