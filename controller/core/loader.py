"""Workflow files (path, text) -> one `model.Workflow` with Problems at file:line:col.

The entry point: `load_workflow` (and `load_text`, `is_workflow_file`). Owns which files
are workflow files, the top level of each file (sections, CI sections, JFrog's format,
unknown keys), each object's name (safe, unique) and isolating one object that cannot be
read from the rest (it stays as a placeholder under its name, inconsistent: it and what
takes it wait). The parts are modules of their own: YAML reading (`yamlread`), one
resource (`resources_reader`), one job (`jobs_reader`, `steps_reader`), value coercion
and problems (`coerce`), and resolving names into the inconsistent set (`resolve`).
Never raises: anything unexpected becomes a Problem. Pure: text in, data out.
"""

from __future__ import annotations

import contextlib
import posixpath
from collections.abc import Iterable, Mapping
from typing import Any

from controller.core import coerce, keycheck, model, resolve, secretscope, vocabulary, yamlread
from controller.core.ci_reader import Section, synthesize
from controller.core.fileload import FileLoad, LoadCache, Merge, Named, Once
from controller.core.gcpause import no_collection
from controller.core.jobs_reader import JobReader
from controller.core.resources_reader import ResourceReader
from controller.core.sourcenames import DEFAULT_MAIN_NAME
from controller.core.yamldata import Pos, UndefinedAlias, YList, YMap, pos_of, undefined_in
from controller.core.yamlguards import decode

SPLIT_FILES = frozenset(
    {
        "shippable.yml",
        "shippable.resources.yml",
        "shippable.jobs.yml",
        "shippable.triggers.yml",
        "shippable.templates.yml",
    }
)
# The known names are vocabulary's (one table, shared with the key check and the schema).
CI_KEYS = frozenset(vocabulary.CI_KEYS)


def is_workflow_file(path: str) -> bool:
    """True for the file names Shippable (and Gitline) read anywhere in the tree."""
    base = posixpath.basename(path.replace("\\", "/"))
    # any name ending in shippable.yml (myshippable.yml, app.shippable.yml), as Shippable read
    if base in SPLIT_FILES or base.endswith("shippable.yml"):
        return True
    for ext in (".yml", ".yaml"):
        if base == "gitline" + ext or base.endswith(".gitline" + ext):
            return True
    return False


def load_text(path: str, text: str | bytes) -> model.Workflow:
    """Load a single file as a whole workflow (handy in tests and `validate`)."""
    return load_workflow([(path, text)])


def load_workflow(
    files: Iterable[tuple[str, str | bytes]],
    *,
    self_names: frozenset[str] = frozenset({".", "self"}),
    scopes: Mapping[str, secretscope.Scope] | None = None,
    cache: LoadCache | None = None,
    sources: frozenset[str] = frozenset(),
    main_name: str = DEFAULT_MAIN_NAME,
    origin: Any = None,
) -> model.Workflow:
    """Load every file as one workflow. Never raises.

    `main_name`: the main config repository's name, for the `<repo>_runCI` job and
    `<repo>_ciRepo` resource of its CI section (another source's are named after it).

    With `scopes` (the HOME's secrets), a secret named outside its scope is an error at its
    line and what would get it is inconsistent; without, secrets are not checked (validate).
    `cache`: the files loaded by the previous call (see fileload): only the others are read,
    and it is left holding this call's files. `sources`: the names of the subscription's
    other repositories (a gitRepo on one versions locally). `origin`: what the files were
    read from (a commit of each source), for `loaded`.
    """
    try:
        # a shared cache: one load at a time (the answerer's and the reactor's threads)
        with getattr(cache, "lock", None) or contextlib.nullcontext(), no_collection():
            return _load(list(files), self_names, scopes, cache, sources, main_name, origin)
    except Exception as err:  # noqa: BLE001 - the contract is: never raise
        where = model.Location("<workflow>")
        problem = model.Problem(where, f"internal error while loading: {err!r}")
        return model.Workflow(problems=(problem,), fatal=True)


def loaded(cache: LoadCache | None, origin: Any, *,
           self_names: frozenset[str] = frozenset({".", "self"}),
           scopes: Mapping[str, secretscope.Scope] | None = None,
           sources: frozenset[str] = frozenset(),
           main_name: str = DEFAULT_MAIN_NAME) -> model.Workflow | None:
    """The workflow the last load with `cache` made from the files of `origin` with these
    options (the commit a push's answer loaded, taken in by the reactor without reading
    its files again); None when that was not the last load."""
    last = getattr(cache, "last", None)
    if last is None or origin is None or last[2] != origin or \
            last[0][1:] != _options(self_names, sources, main_name, scopes):
        return None
    return last[1]  # type: ignore[no-any-return]


def _options(self_names: frozenset[str], sources: frozenset[str], main_name: str,
             scopes: Mapping[str, secretscope.Scope] | None) -> tuple[object, ...]:
    return self_names, sources, main_name, None if scopes is None else dict(scopes)


def _load(files: list[tuple[str, str | bytes]], self_names: frozenset[str],
          scopes: Mapping[str, secretscope.Scope] | None,
          cache: LoadCache | None, sources: frozenset[str] = frozenset(),
          main_name: str = DEFAULT_MAIN_NAME, origin: Any = None) -> model.Workflow:
    """Each file read on its own (or taken from `cache`), then put together in path order."""
    files = sorted(files, key=lambda f: f[0])
    # the same inputs as the last load (the pushed commit, answered then taken in): its
    # workflow, as loading again would make it
    inputs = (files, *_options(self_names, sources, main_name, scopes))
    last = getattr(cache, "last", None)
    if last is not None and last[0] == inputs:
        return last[1]  # type: ignore[no-any-return]
    loads: dict[tuple[str, str | bytes], FileLoad] = {}
    for file in files:
        hit = cache.get(file) if cache is not None else None
        if hit is not None and hit.key == (self_names, sources):
            loads[file] = hit
    # a cached file has no anchors and is no templates file: the others read the same
    lone: yamlread.ParseCache = dict(
        load.lone for load in (cache or {}).values() if load.lone is not None)
    dependent: list[tuple[str, str | bytes]] = []
    for file in (f for f in files if f not in loads):
        text, problem = decode(*file)
        parsed = lone.get((file[0], text)) if text is not None and problem is None else None
        if text is not None and problem is None and parsed is None:
            parsed = yamlread.parse(file[0], text)
            if _alone(parsed):  # loaded now: its YAML is freed before the next file's
                loads[file] = _Loader(self_names, sources).load_file(parsed)
                continue
            lone[(file[0], text)] = parsed
        dependent.append(file)
    for file, parsed in zip(dependent, yamlread.read_files(dependent, lone), strict=True):
        loads[file] = _Loader(self_names, sources).load_file(parsed)
    lone_by_path = {path: (path, text) for path, text in lone}
    for file in dependent:
        if loads[file].key is None and file[0] in lone_by_path:
            loads[file].lone = (lone_by_path[file[0]], lone[lone_by_path[file[0]]])
    merge = Merge()
    for file in files:
        merge.add(loads[file])
    if cache is not None:
        cache.clear()
        cache.update((f, load) for f, load in loads.items()
                     if load.key is not None or load.lone is not None)
    if merge.lost and merge.unloaded.keys() >= {*merge.resources, *merge.jobs}:
        merge.fatal = True  # nothing loaded at all (placeholders aside): keep the last good
    _add_ci(merge, [Section(load.path, load.ci_data) for load in map(loads.get, files)
                    if load is not None and load.ci_data is not None],
            self_names, sources, main_name)
    workflow, resolved = resolve.resolve_from(resolve.Draft(
        resources=merge.resources, jobs=merge.jobs, problems=merge.problems,
        fatal=merge.fatal, notify_at=merge.notify_at, integration_at=merge.integration_at,
        integration_uses=merge.integration_uses, ci_files=merge.ci_files,
        unloaded=merge.unloaded), scopes, getattr(cache, "resolved", None))
    if isinstance(cache, LoadCache):
        cache.last, cache.resolved = (inputs, workflow, origin), resolved
    return workflow


def _add_ci(merge: Merge, sections: list[Section], self_names: frozenset[str],
            sources: frozenset[str], main_name: str) -> None:
    """The `<repo>_runCI` job and `<repo>_ciRepo` resource of each CI section."""
    if not sections:
        return
    report = coerce.Reporter()
    reader = ResourceReader(report, self_names, sources)
    made = synthesize(sections, main_name, report, merge.jobs, merge.resources,
                      lambda name, item: reader.read(name, item, False))
    merge.problems += report.problems
    for name, job in made.jobs.items():
        merge.defined_at.setdefault(name, job.location)
        merge.jobs[name] = job  # a runCI job written in a file is completed
    for name, resource in made.resources.items():
        first = merge.defined_at.setdefault(name, resource.location)
        if first == resource.location:
            merge.resources[name] = resource
        else:
            merge.problems.append(model.Problem(
                resource.location, f"the CI section's resource '{name}' is not made: the "
                f"name is taken (first defined at {first})", "error", name))


def _alone(parsed: yamlread.Parsed) -> bool:
    """The file's load depends on no other file, and no other file's on it."""
    return parsed.alone and not parsed.anchors and not parsed.undefined_alias and \
        posixpath.basename(parsed.path) != yamlread.TEMPLATE_FILE


class _Loader:
    """One file's load: its objects in order, and what the readers said of them."""

    def __init__(self, self_names: frozenset[str], sources: frozenset[str] = frozenset()) -> None:
        self.self_names = self_names
        self.sources = sources
        self.report = coerce.Reporter()
        self.resource_reader = ResourceReader(self.report, self_names, sources)
        self.job_reader = JobReader(self.report)
        self.keys = keycheck.KeyChecker()
        self.marks: list[tuple[int, Named | Once]] = []  # placed before problems[index]
        self.alone = True  # the file was parsed on its own
        self.out = FileLoad("")

    def load_file(self, parsed: yamlread.Parsed) -> FileLoad:
        out = self.out = FileLoad(parsed.path)
        self.alone = parsed.alone
        self.report.path = parsed.path
        self.report.problems.extend(parsed.problems)
        if parsed.failed:
            out.fatal = True
        else:
            self.load_document(parsed.data)
        problems = iter(self.report.problems)
        done = 0
        for index, mark in self.marks:
            out.entries += [next(problems) for _ in range(index - done)]
            out.entries.append(mark)
            done = index
        out.entries += list(problems)
        out.notify_at = self.job_reader.notify_at
        out.integration_at = self.resource_reader.integration_at
        out.integration_uses = self.job_reader.integration_uses
        # kept as loaded (see _load)
        out.key = (self.self_names, self.sources) if _alone(parsed) else None
        return out

    def mark(self, entry: Named | Once) -> None:
        self.marks.append((len(self.report.problems), entry))

    def load_document(self, data: Any) -> None:
        is_templates = posixpath.basename(self.report.path) == yamlread.TEMPLATE_FILE
        if data is None:
            if not is_templates:
                self.report.warn((1, 1), "file is empty: nothing to load")
            return
        if not isinstance(data, YMap):
            # An error of this file: the other files load, and what needed an object of
            # this one is unresolved (and so inconsistent), like any missing name.
            self.report.error(pos_of(data, (1, 1)), "the top level must be a mapping of keys "
                              "(resources:, jobs:); nothing of this file is loaded")
            self.out.lost += 1
            return
        if "pipelines" in data and "jobs" not in data:
            self.report.warn(
                data.at("pipelines"),
                "this is JFrog Pipelines format (top-level 'pipelines:'), not an Assembly "
                "Line; the file is not loaded",
            )
            return
        if not is_templates:  # a templates file holds fragments, checked where used
            self.check_keys(data)
        for key, value in data.items():
            self.load_section(data, key, value, is_templates)

    def check_keys(self, data: YMap) -> None:
        """Unknown keys (warnings) and keys not applied here (infos): reported only."""
        for found in self.keys.check(data):
            problem = model.Problem(self.report.loc(found.pos), found.message, found.severity,
                                    found.subject)
            if found.once is not None:  # once per workflow: the files put together say it
                self.mark(Once(found.once, problem))
            elif problem not in self.report.problems:  # an alias repeats its anchor's keys
                self.report.problems.append(problem)

    def load_section(self, data: YMap, key: str, value: Any, is_templates: bool) -> None:
        pos = data.at(key)
        if key in ("resources", "jobs", "triggers"):
            if isinstance(value, UndefinedAlias):
                self.out.lost += 1  # said at the alias by yamlread
                return
            if value is None:
                self.report.warn(pos, f"'{key}:' is empty")
                return
            if not isinstance(value, list):
                self.report.error(pos, f"'{key}:' must be a list; the push is not loaded")
                self.out.fatal = True  # as above: never drop every object of a section
                return
            assert isinstance(value, YList)  # yamlread reads every sequence as one
            for index, item in enumerate(value):
                self.load_object(key, item, value.at(index))
        elif key in ("language", "build"):
            if not self.out.ci:
                self.out.ci = True
                self.out.ci_data = data
        elif not (
            is_templates or key in CI_KEYS or key.startswith("templates") or key in data.anchored
        ):
            self.report.warn(pos, f"unknown top-level key '{key}' ignored")

    def load_object(self, section: str, item: Any, pos: Pos) -> None:
        kind = "job" if section == "jobs" else "resource"
        if not isinstance(item, YMap):
            self.report.error(pos, f"each entry of '{section}:' must be a mapping")
            return
        name = self.name_of(item, kind)
        if name is None:
            return
        said = len(self.report.problems)
        # only a lenient retry (never a lone parse) reads an alias without an anchor
        missing = undefined_in(item) if not self.alone else None
        obj: model.Job | model.Resource | None = None
        if missing is not None:  # said at the alias by yamlread; the rest of the file loads
            why = f"it uses the undefined alias '{missing.name}' (line {missing.pos[0]})"
            self.report.error(item.at("name"), f"{kind} '{name}' is not loaded: {why}", name)
            self.out.lost += 1
        else:
            obj = self.read_object(kind, name, item, section == "triggers")
        if obj is not None:
            self.mark(Named(kind, name, obj, item.pos))
        else:  # kept under its name, inconsistent: it and what takes it wait, never run
            self.mark(self.placeholder(kind, name, item, section == "triggers", said))

    def read_object(self, kind: str, name: str, item: YMap,
                    is_trigger: bool) -> model.Job | model.Resource | None:
        """The object, or None when it cannot be read (its reader said why)."""
        try:
            if kind == "job":
                return self.job_reader.read(name, item)
            return self.resource_reader.read(name, item, is_trigger)
        except Exception as err:  # noqa: BLE001 - isolate one bad object
            self.report.error(item.pos, f"{kind} '{name}' could not be read: {err!r}", name)
            return None

    def placeholder(self, kind: str, name: str, item: YMap, is_trigger: bool,
                    said: int) -> Named:
        """What stands for an object that could not be read: its name, its type as
        written and its place, with why (the last error said of it: the one that dropped
        it, at its file:line:col)."""
        error = next((p for p in reversed(self.report.problems[said:])
                      if p.severity == "error"), None)
        why = f"{error.message} ({error.location})" if error else \
            f"{kind} '{name}' could not be read ({self.report.loc(item.pos)})"
        written = item.get("type", "trigger" if is_trigger else "")
        rtype = written if isinstance(written, str) else ""
        where = self.report.loc(item.pos)
        obj: model.Job | model.Resource = model.Job(name, rtype, where) if kind == "job" \
            else model.Resource(name, rtype, {}, where)
        return Named(kind, name, obj, item.pos, why)

    def name_of(self, item: YMap, kind: str) -> str | None:
        """The `name:` of an object, if it has one that may be used (else said why)."""
        raw = item.get("name")
        if raw is None or isinstance(raw, (dict, list)):
            self.report.error(item.pos, f"{kind} without a 'name:'")
            return None
        name = coerce.as_text(raw)
        if not model.is_safe_name(name):
            self.report.error(
                item.at("name"),
                f"{kind} name {name!r} is not allowed: {model.NAME_RULE}",
                name,
            )
            return None
        return name
