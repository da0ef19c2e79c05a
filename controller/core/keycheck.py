"""Unknown and unapplied keys of one workflow document, from the table in `vocabulary`.

Owns: walking resources, jobs, steps, tasks, hooks and runtimes as the loader reads them,
and saying, for each key, either nothing (known), a warning (unknown: with the nearest
known key) or, once per workflow, an info (known to Shippable, not acted on here). It
never changes what is loaded: findings are reported, never make anything inconsistent.
Pure: data with positions in, findings out.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from controller.core import model, vocabulary
from controller.core.vocabulary import Shape
from controller.core.yamldata import Pos, YMap

# Keys the loader already explains with a message of its own (and what it does instead).
EXPLAINED = frozenset({"deploymentMethod", "NOTIFY@step", "options@task", "user_secret@smtp",
                       "password_secret@smtp"})
STEP_KINDS = ("IN", "GET", "OUT", "TASK")


@dataclass(frozen=True)
class Finding:
    pos: Pos
    message: str
    severity: model.Severity  # "warning" (an unknown key) or "info" (not applied here)
    subject: str  # the resource or job it concerns
    once: tuple[str, str] | None = None  # an info said once per workflow: its key


@dataclass
class KeyChecker:
    """Checks the documents of one workflow; infos are said once per workflow."""

    said: set[tuple[str, str]] = field(default_factory=set)

    def check(self, data: YMap) -> list[Finding]:
        found: list[Finding] = []
        ci = [key for key in data if key in vocabulary.CI_KEYS]
        # one info for CI keys without a section; a section's keys are ci_reader's to say
        if ci and "language" not in data and "build" not in data:
            found += self.info_once(data.at(ci[0]), "top level", ci[0], "the top level", "",
                                    vocabulary.CI_WHY)
        for section in ("resources", "triggers", "jobs"):
            for item in _maps(data.get(section)):
                found += self.check_object(section, item)
        return found

    def check_object(self, section: str, item: YMap) -> list[Finding]:
        name = str(item.get("name", "?"))
        if section == "jobs":
            shape, owner = vocabulary.job_shape(item.get("type")), f"job '{name}'"
            if "type" not in item:  # `tpye:`: said, though a job of no type has open keys
                return [self.unknown(item.at(k), k, shape, owner, name) for k in item
                        if shape.key(k) is None and _near(k, "type")]
        else:
            shape, owner = vocabulary.SHAPES["resource"], f"resource '{name}'"
        rtype = item.get("type", "trigger" if section == "triggers" else None)
        return list(self.walk(item, shape, owner, name, rtype))

    def walk(self, value: YMap, shape: Shape, owner: str, subject: str,
             rtype: Any = None) -> Iterator[Finding]:
        for key, item in value.items():
            known = shape.key(key)
            if known is None:
                if shape.closed and not _explained(key, shape):
                    yield self.unknown(value.at(key), key, shape, owner, subject)
                continue
            if known.not_applied:
                yield from self.info_once(value.at(key), shape.name, key, owner, subject,
                                          known.not_applied)
            yield from self.nested(key, item, known.shape, owner, subject, rtype)

    def nested(self, key: str, item: Any, shape_name: str, owner: str, subject: str,
               rtype: Any) -> Iterator[Finding]:
        if not shape_name:
            return
        if shape_name == "step":
            for step in _maps(item if isinstance(item, list) else [item]):
                yield from self.step(step, owner, subject)
            return
        shape = (vocabulary.definition_shape(rtype) if shape_name == "definition"
                 else vocabulary.SHAPES[shape_name])
        where = owner if key in STEP_KINDS else f"{key} of {owner}"  # the step's label names it
        for part in _maps(item if isinstance(item, list) else [item]):
            yield from self.walk(part, shape, where, subject, rtype)

    def step(self, step: YMap, owner: str, subject: str) -> Iterator[Finding]:
        kinds = [k for k in STEP_KINDS if k in step]
        if not kinds:
            return  # the loader says the step is ignored
        shape = _step_shape(tuple(kinds))
        named = step[kinds[0]]
        if isinstance(named, YMap):
            named = named.get("name")
        label = f"{kinds[0]} '{named}'" if isinstance(named, str | int) else kinds[0]
        yield from self.walk(step, shape, f"{label} of {owner}", subject)

    def unknown(self, pos: Pos, key: str, shape: Shape, owner: str, subject: str) -> Finding:
        import difflib  # only for an unknown key (start-up time of `gitline status`)

        hint = difflib.get_close_matches(key, shape.names, n=1, cutoff=0.6)
        tail = f"; did you mean '{hint[0]}'?" if hint else "; it is ignored"
        return Finding(pos, f"unknown key '{key}' of {owner}{tail}", "warning", subject)

    def info_once(self, pos: Pos, shape: str, key: str, owner: str, subject: str,
                  why: str) -> list[Finding]:
        once = (shape.split()[-1], key)  # "runSh job" and "deploy job" are both "job"
        if once in self.said:
            return []
        self.said.add(once)
        message = f"'{key}' of {owner} is not applied here: {why}"
        return [Finding(pos, message + " (said once)", "info", subject, once)]


@functools.cache
def _step_shape(kinds: tuple[str, ...]) -> Shape:
    """A step's keys: those of each kind it holds (2016 steps hold GET and TASK together)."""
    keys = tuple(k for kind in kinds for k in vocabulary.SHAPES[f"{kind} step"].keys)
    return Shape(" + ".join(kinds) + " step", "", keys)


def _explained(key: str, shape: Shape) -> bool:
    return key in EXPLAINED or f"{key}@{shape.name.split()[-1]}" in EXPLAINED


def _near(key: str, word: str) -> bool:
    import difflib

    return bool(difflib.get_close_matches(key, [word], n=1, cutoff=0.6))


def _maps(value: Any) -> list[YMap]:
    return [v for v in value if isinstance(v, YMap)] if isinstance(value, list) else []
