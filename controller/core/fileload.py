"""One workflow file as the loader read it, kept per file, and the files put together.

Owns: `FileLoad`, what reading one file gave in order (its problems, its objects, the infos
said once per workflow, what the resolver needs of it), `Merge`, which replays the files'
loads in path order (first definition of a name wins, be it a placeholder for an object
that could not be read; infos said once), and `LoadCache`, the loads of the previous call
by (path, content). A file whose load depends on no other file (no anchors in or out, not
a templates file) is cached as loaded: a long-lived process that loads a push changing
one file of 51 reads one, and holds the loaded objects of the others (a fraction of their
YAML as positioned maps); the others keep their lone parse, and are loaded again with the
files they depend on. Pure.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from controller.core import model
from controller.core.sourcenames import split as split_source
from controller.core.yamldata import Pos
from controller.core.yamlread import Parsed


@dataclass(frozen=True)
class Named:
    """An object read from a file, at `pos`: registered when the files are put together.
    With `why`, one that could not be read: a placeholder under its name (no steps, no
    definition), inconsistent for `why`, so that it and what takes it wait."""

    kind: str  # "job" or "resource"
    name: str
    obj: model.Job | model.Resource
    pos: Pos
    why: str = ""  # the error that kept it from loading, at its file:line:col


@dataclass(frozen=True)
class Once:
    """An info said once per workflow (`key`): the first file to say it keeps it."""

    key: tuple[str, str]
    problem: model.Problem


Entry = model.Problem | Named | Once


@dataclass
class FileLoad:
    path: str
    entries: list[Entry] = field(default_factory=list)
    fatal: bool = False
    lost: int = 0
    ci: bool = False  # the file has a CI section
    ci_data: Any = None  # its top-level mapping then (the `<repo>_runCI` is made from it)
    notify_at: dict[tuple[str, str], list[model.Location]] = field(default_factory=dict)
    integration_at: dict[str, model.Location] = field(default_factory=dict)
    integration_uses: list[tuple[str, str, model.Location]] = field(default_factory=list)
    key: Any = None  # what it was read with besides its text (self_names): a cache hit needs it
    # a file whose load depends on the others (anchors, a templates file) is read again
    # each time, from its lone parse kept here: (path, text) as yamlread.ParseCache has it
    lone: tuple[tuple[str, str], Parsed] | None = None
    # its objects by name, made once (a cached load is merged again at every push)
    named: ByName | None = field(default=None, repr=False, compare=False)

    def by_name(self) -> ByName | None:
        """Its objects by name, in order, and its other entries; None when a name repeats
        within the file (the merge then registers one object at a time)."""
        if self.named is None:
            self.named = ByName.of(self)
        return self.named if self.named.unique else None


@dataclass
class ByName:
    """One file's objects by name, as `Merge.register` would add them to an empty merge."""

    unique: bool = True
    defined_at: dict[str, model.Location] = field(default_factory=dict)
    jobs: dict[str, model.Job] = field(default_factory=dict)
    resources: dict[str, model.Resource] = field(default_factory=dict)
    unloaded: dict[str, str] = field(default_factory=dict)
    others: list[model.Problem | Once] = field(default_factory=list)

    @classmethod
    def of(cls, load: FileLoad) -> ByName:
        made = cls()
        for entry in load.entries:
            if not isinstance(entry, Named):
                made.others.append(entry)
                continue
            if entry.name in made.defined_at:
                return cls(unique=False)
            _put(made, load.path, entry)
        return made


def _put(into: ByName | Merge, path: str, named: Named) -> None:
    """`named` defined at `path`: its object under its name (a placeholder's why too)."""
    into.defined_at[named.name] = model.Location(path, named.pos[0], named.pos[1])
    if named.why:
        into.unloaded[named.name] = named.why
    if named.kind == "job":
        assert isinstance(named.obj, model.Job)
        into.jobs[named.name] = named.obj
    else:
        assert isinstance(named.obj, model.Resource)
        into.resources[named.name] = named.obj


class LoadCache(dict[tuple[str, Any], FileLoad]):
    """(path, content) -> that file's load, valid whatever the other files hold (a plain
    dict works too). One may be shared by the processes' loaders that load the same
    commits one after the other (the push's answer, then the reactor's pass): `lock`
    makes them take turns; `last` is the last load's inputs, workflow and origin (the
    same inputs, or origin, give it again: not loaded twice); `resolved` its resolution
    (core/resolve's memo: the next load re-checks only what changed)."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.RLock()
        self.last: tuple[Any, Any, Any] | None = None
        self.resolved: Any = None


@dataclass
class Merge:
    """The files' loads put together in path order, as one sequential read would have."""

    resources: dict[str, model.Resource] = field(default_factory=dict)
    jobs: dict[str, model.Job] = field(default_factory=dict)
    problems: list[model.Problem] = field(default_factory=list)
    defined_at: dict[str, model.Location] = field(default_factory=dict)
    said: set[tuple[str, str]] = field(default_factory=set)
    fatal: bool = False
    lost: int = 0
    ci_files: list[str] = field(default_factory=list)
    unloaded: dict[str, str] = field(default_factory=dict)  # placeholder's name -> why
    notify_at: dict[tuple[str, str], list[model.Location]] = field(default_factory=dict)
    integration_at: dict[str, model.Location] = field(default_factory=dict)
    integration_uses: list[tuple[str, str, model.Location]] = field(default_factory=list)

    def add(self, load: FileLoad) -> None:
        named = load.by_name()
        if named is not None and self.defined_at.keys().isdisjoint(named.defined_at):
            # no name of this file is taken: its objects go in at once (10,000 objects of
            # 51 files one by one were ~9 ms of a push's answer at 5,000 jobs)
            for said in named.others:
                self._say(said)
            self.defined_at.update(named.defined_at)
            self.unloaded.update(named.unloaded)
            self.jobs.update(named.jobs)
            self.resources.update(named.resources)
        else:
            for entry in load.entries:
                if isinstance(entry, Named):
                    self.register(load.path, entry)
                else:
                    self._say(entry)
        self.fatal = self.fatal or load.fatal
        self.lost += load.lost
        if load.ci and load.path not in self.ci_files:
            self.ci_files.append(load.path)
        for key, where in load.notify_at.items():
            self.notify_at.setdefault(key, []).extend(where)
        self.integration_at.update(load.integration_at)
        self.integration_uses += load.integration_uses

    def _say(self, entry: model.Problem | Once) -> None:
        if isinstance(entry, Once):
            if entry.key not in self.said:
                self.said.add(entry.key)
                self.problems.append(entry.problem)
        else:
            self.problems.append(entry)

    def register(self, path: str, named: Named) -> None:
        """The first object named so is kept; a later one is an error, ignored."""
        first = self.defined_at.get(named.name)
        if first is not None:
            where = model.Location(path, named.pos[0], named.pos[1])
            self.problems.append(model.Problem(
                where, f"duplicate name '{named.name}': first defined at {first}; this one "
                "is ignored", "error", named.name))
            if split_source(first.path)[0] != split_source(path)[0]:
                # two sources of a subscription: neither one is "the" name, say it at both
                self.problems.append(model.Problem(
                    first, f"duplicate name '{named.name}': also defined at {where}",
                    "error", named.name))
            return
        _put(self, path, named)
