"""Workflow files (path, text) -> one `model.Workflow` with Problems at file:line:col.

The entry point: `load_workflow` (and `load_text`, `is_workflow_file`). Owns which files
are workflow files, the top level of each file (sections, CI sections, JFrog's format,
unknown keys), each object's name (safe, unique) and isolating one object that cannot be
read from the rest. The parts are modules of their own: YAML reading (`yamlread`), one
resource (`resources_reader`), one job (`jobs_reader`, `steps_reader`), value coercion
and problems (`coerce`), and resolving names into the inconsistent set (`resolve`).
Never raises: anything unexpected becomes a Problem. Pure: text in, data out.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from typing import Any

from controller.core import coerce, keycheck, model, resolve, secretscope, vocabulary, yamlread
from controller.core.gcpause import no_collection
from controller.core.jobs_reader import JobReader
from controller.core.resources_reader import ResourceReader
from controller.core.yamldata import Pos, UndefinedAlias, YList, YMap, pos_of, undefined_in

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
    cache: yamlread.ParseCache | None = None,
) -> model.Workflow:
    """Load every file as one workflow. Never raises.

    With `scopes` (the HOME's secrets), a secret named outside its scope is an error at its
    line and what would get it is inconsistent; without, secrets are not checked (validate).
    `cache`: files parsed by the previous call (see yamlread.read_files).
    """
    try:
        with no_collection():
            return _Loader(self_names, scopes).load(list(files), cache)
    except Exception as err:  # noqa: BLE001 - the contract is: never raise
        where = model.Location("<workflow>")
        problem = model.Problem(where, f"internal error while loading: {err!r}")
        return model.Workflow(problems=(problem,), fatal=True)


class _Loader:
    """One load: the files' objects by name, and what the readers said of them."""

    def __init__(self, self_names: frozenset[str],
                 scopes: Mapping[str, secretscope.Scope] | None = None) -> None:
        self.scopes = scopes
        self.report = coerce.Reporter()
        self.resource_reader = ResourceReader(self.report, self_names)
        self.job_reader = JobReader(self.report)
        self.keys = keycheck.KeyChecker()
        self.resources: dict[str, model.Resource] = {}
        self.jobs: dict[str, model.Job] = {}
        self.defined_at: dict[str, model.Location] = {}  # name -> its first definition
        self.ci_files: list[str] = []  # files with a CI section (language:, build:)
        self.lost = 0  # files and objects not loaded whole (a top level no mapping, ...)
        self.unloaded: dict[str, str] = {}  # objects not loaded -> why
        self.fatal = False

    def load(self, files: list[tuple[str, str | bytes]],
             cache: yamlread.ParseCache | None = None) -> model.Workflow:
        for parsed in yamlread.read_files(sorted(files, key=lambda f: f[0]), cache):
            self.report.path = parsed.path
            self.report.problems.extend(parsed.problems)
            if parsed.failed:
                self.fatal = True
                continue
            self.load_document(parsed.data)
        if self.lost and not self.resources and not self.jobs:
            self.fatal = True  # nothing loaded at all: keep the last good workflow
        return resolve.resolve(resolve.Draft(
            resources=self.resources, jobs=self.jobs, problems=self.report.problems,
            fatal=self.fatal, notify_at=self.job_reader.notify_at,
            integration_at=self.resource_reader.integration_at,
            integration_uses=self.job_reader.integration_uses, ci_files=self.ci_files,
            unloaded=self.unloaded), self.scopes)

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
            self.lost += 1
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
            if problem not in self.report.problems:  # an alias repeats its anchor's keys
                self.report.problems.append(problem)

    def load_section(self, data: YMap, key: str, value: Any, is_templates: bool) -> None:
        pos = data.at(key)
        if key in ("resources", "jobs", "triggers"):
            if isinstance(value, UndefinedAlias):
                self.lost += 1  # said at the alias by yamlread
                return
            if value is None:
                self.report.warn(pos, f"'{key}:' is empty")
                return
            if not isinstance(value, list):
                self.report.error(pos, f"'{key}:' must be a list; the push is not loaded")
                self.fatal = True  # as above: never drop every object of a section
                return
            assert isinstance(value, YList)  # yamlread reads every sequence as one
            for index, item in enumerate(value):
                self.load_object(key, item, value.at(index))
        elif key in ("language", "build") and self.report.path not in self.ci_files:
            self.ci_files.append(self.report.path)
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
        missing = undefined_in(item)
        if missing is not None:  # said at the alias by yamlread; the rest of the file loads
            why = f"it uses the undefined alias '{missing.name}' (line {missing.pos[0]})"
            self.report.error(item.at("name"), f"{kind} '{name}' is not loaded: {why}", name)
            self.lost += 1
            self.unloaded[name] = f"{self.report.path}:{item.pos[0]}: {why}"
            return
        try:
            if kind == "job":
                job = self.job_reader.read(name, item)
                if job and self.register_name(name, item.pos):
                    self.jobs[name] = job
                return
            resource = self.resource_reader.read(name, item, section == "triggers")
            if resource and self.register_name(name, item.pos):
                self.resources[name] = resource
        except Exception as err:  # noqa: BLE001 - isolate one bad object
            self.report.error(item.pos, f"{kind} '{name}' could not be read: {err!r}", name)

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

    def register_name(self, name: str, pos: Pos) -> bool:
        """True for the first object named `name`; a later one is an error, ignored."""
        first = self.defined_at.get(name)
        if first is not None:
            self.report.error(
                pos, f"duplicate name '{name}': first defined at {first}; this one is ignored", name
            )
            return False
        self.defined_at[name] = self.report.loc(pos)
        return True
