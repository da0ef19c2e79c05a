"""A source's CI section (`language:`, `build:`) -> the objects Shippable made of it (pure).

Shippable gave every repository with a CI section a job `<repo>_runCI` and a resource
`<repo>_ciRepo`, and other jobs took them as inputs. Here `<repo>_ciRepo` is a gitRepo on
the section's own source (`sourceName: self` for the main config repository, the source's
name for another: see core/sourcenames.py), so each new commit of that source is a version
and starts `<repo>_runCI`. The job carries a `model.CiPlan`: the build steps, one row per
matrix entry, the branches it builds; execution/ci_run.py runs it. A file that defines
`<repo>_runCI` itself (to add inputs, as Shippable allowed) keeps its definition, made
runnable with the section's plan; a `<repo>_ciRepo` it defines is used as written.

What needs Shippable's cloud (build images, services, caches, hub integrations) is said
as an info "not applied here: <why>" at its line, never dropped silently.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from controller.core import coerce, model, sourcenames, vocabulary
from controller.core.yamldata import Pos, YList, YMap

# Build steps in the order a row runs them (on_success / on_failure, then always, last).
CI_STEPS = ("pre_ci", "ci", "post_ci", "on_success", "on_failure", "always")
# The older, Travis-like top-level keys Shippable also read, and the step they belong to.
LEGACY_STEPS = {"before_install": "pre_ci", "install": "pre_ci", "before_script": "pre_ci",
                "script": "ci", "after_script": "always", "after_success": "on_success",
                "after_failure": "on_failure"}
_ENV_ENTRY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_IMAGE = "the build image is Shippable's; steps run with the tools installed here"
# Keys read from the section but not acted on, and why.
NOT_APPLIED = {
    "pre_ci_boot": "it picks Shippable's build container; steps run in Gitline's sandbox",
    "cache": "Shippable's build cache; every run starts from the commit's files",
    "cache_dir_list": "Shippable's build cache; every run starts from the commit's files",
    "push": "Shippable pushed images from its build machine; push from post_ci",
    "services": "services were started by Shippable's build machine; start them in pre_ci",
    "addons": "Shippable's build machine add-ons",
    "language": _IMAGE, "os": _IMAGE, "dist": _IMAGE, "compiler": _IMAGE, "runtime": _IMAGE,
    "node_js": _IMAGE, "jdk": _IMAGE, "python": _IMAGE, "go": _IMAGE, "php": _IMAGE,
    "ruby": _IMAGE, "scala": _IMAGE, "rust": _IMAGE,
    "git": "the checkout is the commit's files, without submodules or a .git folder",
    "depth": "the checkout is the commit's files, without history",
    "gitConfig": "the checkout is the commit's files, without a .git folder",
    "vote": "a CI run posts commit statuses when gitline.yml gives its repository "
            "commit_status: (docs/subscriptions.md)",
    "notifications": "written at the top level; write it under 'integrations:'",
    "hub": "Shippable's hub integrations log in on its build machine; use secrets",
    "key": "Shippable's key integrations; use secrets",
    "generic": "Shippable's generic integrations; use secrets",
    "fast_finish": "every row runs to its end",
}
_SECURE = "encrypted with Shippable's key; put the value in a secret"
MAX_ROWS = 100  # a matrix larger than this is cut (each row is a whole build)
_EVENTS = {"on_start": "on_start", "on_success": "on_success", "on_failure": "on_failure",
           "on_cancel": "on_cancel"}


@dataclass(frozen=True)
class Section:
    """One file's CI section: its loader path and its top-level mapping."""

    path: str
    data: YMap


@dataclass
class Made:
    """What the CI sections make: objects to add, the explicit runCI jobs they complete,
    and the YAML of each `<repo>_ciRepo` for the loader's resource reader."""

    jobs: dict[str, model.Job] = dataclasses.field(default_factory=dict)
    resources: dict[str, model.Resource] = dataclasses.field(default_factory=dict)
    names: list[str] = dataclasses.field(default_factory=list)  # every name made


def names_for(repo: str) -> tuple[str, str]:
    """(`<repo>_runCI`, `<repo>_ciRepo`)."""
    return f"{repo}_runCI", f"{repo}_ciRepo"


def synthesize(
    sections: list[Section],
    main_name: str,
    report: coerce.Reporter,
    jobs: Mapping[str, model.Job],
    resources: Mapping[str, model.Resource],
    read_resource: Callable[[str, YMap], model.Resource | None],
) -> Made:
    """The runCI job and ciRepo resource of every source with a CI section (the first
    file of a source that has one; the others are said and not run)."""
    made = Made()
    first: dict[str, str] = {}
    for section in sections:
        source, _ = sourcenames.split(section.path)
        report.path = section.path
        pos = _section_pos(section.data)
        if source in first:
            report.warn(pos, f"a second CI section in this source: only the one of "
                             f"{first[source]} runs (Shippable read one per repository)")
            continue
        first[source] = section.path
        repo = source or main_name
        job_name, repo_name = names_for(repo)
        if not model.is_safe_name(job_name):
            report.error(pos, f"the CI section's job name {job_name!r} is not allowed: "
                              f"{model.NAME_RULE}")
            continue
        reader = _SectionReader(report, job_name)
        plan = reader.plan(section.data, repo_name)
        if repo_name not in resources and repo_name not in jobs:
            resource = read_resource(repo_name, _ci_repo_yaml(repo_name, source, pos))
            if resource is not None:
                made.resources[repo_name] = resource
                made.names.append(repo_name)
        hooks, notifications = reader.notifications(section.data, repo, read_resource)
        made.resources.update(notifications)
        made.names.extend(notifications)
        explicit = jobs.get(job_name)
        # a placeholder without a type (said at its line) is no other kind of job
        if explicit is not None and explicit.type not in ("runCI", ""):
            report.error(pos, f"job '{job_name}' is a {explicit.type} "
                         "job: the CI section's job has this name; the section is not run",
                         job_name)
            continue
        made.jobs[job_name] = _job(job_name, report.loc(pos), plan, repo_name, hooks, explicit)
        made.names.append(job_name)
    return made


def _job(name: str, where: model.Location, plan: model.CiPlan, repo_name: str,
         hooks: dict[str, model.Hook], explicit: model.Job | None) -> model.Job:
    """The runCI job: the explicit one completed (its inputs, outputs and settings kept),
    or a new one at the CI section; it always takes `<repo>_ciRepo`."""
    base = explicit or model.Job(name, "runCI", where)
    inputs = base.inputs
    if not any(i.name == repo_name for i in inputs):
        inputs = (model.Input(repo_name, where), *inputs)
    merged = dict(base.hooks)
    for event, hook in hooks.items():
        old = merged.get(event, model.Hook())
        merged[event] = model.Hook(old.script, (*old.notify, *hook.notify))
    return dataclasses.replace(base, inputs=inputs, hooks=merged, not_runnable="", ci=plan)


def _ci_repo_yaml(name: str, source: str, pos: Pos) -> YMap:
    """`<repo>_ciRepo` as if written at the CI section: a gitRepo on its own source."""
    pointer = YMap(pos)
    pointer["sourceName"] = source or "self"
    item = YMap(pos)
    item.update({"name": name, "type": "gitRepo", "pointer": pointer})
    return item


def _section_pos(data: YMap) -> Pos:
    key = "build" if "build" in data else "language"
    return data.at(key)


class _SectionReader:
    """Reads one CI section, saying at its lines what is not applied or not understood."""

    def __init__(self, report: coerce.Reporter, job: str) -> None:
        self.report = report
        self.job = job

    def info(self, pos: Pos, key: str, why: str) -> None:
        self.report.say(pos, f"CI section: '{key}' not applied here: {why}", "info", self.job)

    def plan(self, data: YMap, checkout: str) -> model.CiPlan:
        steps: dict[str, list[str]] = {step: [] for step in CI_STEPS}
        build = data.get("build")
        if isinstance(build, YMap):
            for key, value in build.items():
                if key in steps:
                    steps[key] += coerce.script_lines(self.report, value, self.job)
                elif key in NOT_APPLIED:
                    self.info(build.at(key), key, NOT_APPLIED[key])
                else:
                    self.report.warn(build.at(key), f"CI section: unknown key 'build.{key}' "
                                     "ignored", self.job)
        elif build is not None:
            self.report.error(data.at("build"), "CI section: 'build:' must be a mapping of "
                              "steps (pre_ci, ci, post_ci ...)", self.job)
        for key, step in LEGACY_STEPS.items():
            if key in data:
                steps[step] += coerce.script_lines(self.report, data[key], self.job)
        for key in data:
            if key in NOT_APPLIED and key in vocabulary.CI_KEYS:
                self.info(data.at(key), key, NOT_APPLIED[key])
        if not steps["ci"]:
            self.report.say(_section_pos(data), "CI section: no 'build.ci' steps: the "
                            "language's default build commands Shippable ran are not applied "
                            "here; only the steps written run", "info", self.job)
        only, exclude = self.branches(data)
        return model.CiPlan(
            checkout=checkout,
            steps=tuple((s, tuple(lines)) for s, lines in steps.items() if lines),
            rows=self.rows(data), branches_only=only, branches_except=exclude)

    def branches(self, data: YMap) -> tuple[tuple[str, ...], tuple[str, ...]]:
        value = data.get("branches")
        if value is None:
            return (), ()
        if not isinstance(value, YMap):
            self.report.warn(data.at("branches"), "CI section: 'branches:' must be a mapping "
                             "of only / except; every branch is built", self.job)
            return (), ()
        return coerce.as_texts(value.get("only")), coerce.as_texts(value.get("except"))

    # --- env and matrix -------------------------------------------------------------

    def entries(self, value: Any, pos: Pos) -> list[str]:
        """`NAME=value` lines of an env list (a string is one entry); `secure:` said."""
        items = value if isinstance(value, list) else [] if value is None else [value]
        out: list[str] = []
        for index, item in enumerate(items):
            at = value.at(index) if isinstance(value, YList) else pos
            if isinstance(item, YMap) and "secure" in item:
                self.info(item.at("secure"), "secure", _SECURE)
            elif isinstance(item, dict | list) or not _ENV_ENTRY.match(coerce.as_text(item)):
                self.report.warn(at, f"CI section: env entry {coerce.as_text(item)!r} is not "
                                 "NAME=value; ignored", self.job)
            else:
                out.append(coerce.as_text(item))
        return out

    def rows(self, data: YMap) -> tuple[model.CiRow, ...]:
        """One row per `env.matrix` entry (or per entry of a plain `env:` list), with
        `matrix: include` added and `exclude` removed; global entries come first."""
        env = data.get("env")
        glob: list[str] = []
        matrix: list[str] = []
        if isinstance(env, YMap):
            glob = self.entries(env.get("global"), env.at("global"))
            matrix = self.entries(env.get("matrix"), env.at("matrix"))
            for key in env:
                if key not in ("global", "matrix"):
                    self.report.warn(env.at(key), f"CI section: unknown key 'env.{key}' "
                                     "ignored", self.job)
        elif isinstance(env, list):
            matrix = self.entries(env, data.at("env"))
        elif env is not None:
            glob = self.entries(env, data.at("env"))
        include, exclude, allowed = self.matrix(data)
        listed = [e for e in [*matrix, *include] if e not in exclude] or \
            ([] if matrix or include else [""])
        if not listed:
            self.report.warn(data.at("matrix"), "CI section: 'matrix: exclude' leaves no row: "
                             "nothing runs", self.job)
        if len(listed) > MAX_ROWS:
            self.report.warn(data.at("env"), f"CI section: {len(listed)} matrix rows; only the "
                             f"first {MAX_ROWS} run", self.job)
            listed = listed[:MAX_ROWS]
        single = len(listed) == 1 and not matrix and not include
        return tuple(
            model.CiRow("" if single else f"{n}: {entry}",
                        tuple(e for e in (*glob, entry) if e), entry in allowed)
            for n, entry in enumerate(listed, start=1))

    def matrix(self, data: YMap) -> tuple[list[str], set[str], set[str]]:
        """(include entries, exclude entries, allow_failures entries), each by its env."""
        value = data.get("matrix")
        if value is None:
            return [], set(), set()
        if not isinstance(value, YMap):
            self.report.warn(data.at("matrix"), "CI section: 'matrix:' must be a mapping "
                             "(include, exclude, allow_failures); ignored", self.job)
            return [], set(), set()
        found: dict[str, list[str]] = {}
        for key in ("include", "exclude", "allow_failures"):
            found[key] = []
            items = value.get(key)
            for index, item in enumerate(items if isinstance(items, list) else []):
                at = items.at(index) if isinstance(items, YList) else value.at(key)
                found[key] += self.matrix_item(key, item, at)
        for key in value:
            if key == "fast_finish":
                self.info(value.at(key), key, NOT_APPLIED[key])
            elif key not in found:
                self.report.warn(value.at(key), f"CI section: unknown key 'matrix.{key}' "
                                 "ignored", self.job)
        return found["include"], set(found["exclude"]), set(found["allow_failures"])

    def matrix_item(self, key: str, item: Any, at: Pos) -> list[str]:
        """The env of one include/exclude/allow_failures entry (one row: its entries joined)."""
        if not isinstance(item, YMap) or "env" not in item:
            self.report.warn(at, f"CI section: a 'matrix.{key}' entry without 'env:' is not "
                             "applied here: rows are made of env entries only", self.job)
            return []
        for other in item:
            if other != "env":
                self.info(item.at(other), f"matrix.{key}.{other}", _IMAGE)
        entries = self.entries(item["env"], item.at("env"))
        return [" ".join(entries)] if entries else []

    # --- notifications --------------------------------------------------------------

    def notifications(self, data: YMap, repo: str,
                      read: Callable[[str, YMap], model.Resource | None],
                      ) -> tuple[dict[str, model.Hook], dict[str, model.Resource]]:
        """`integrations.notifications` -> a notification resource each, NOTIFYed by the
        runCI job on the events it asks for (`always` or `change`: change is sent always)."""
        integrations = data.get("integrations")
        if not isinstance(integrations, YMap):
            return {}, {}
        for key in integrations:
            if key != "notifications":
                self.info(integrations.at(key), f"integrations.{key}",
                          NOT_APPLIED.get(key, "Shippable's integrations; use secrets"))
        items = integrations.get("notifications")
        hooks: dict[str, list[model.Notify]] = {}
        made: dict[str, model.Resource] = {}
        for index, item in enumerate(items if isinstance(items, list) else []):
            at = items.at(index) if isinstance(items, YList) else integrations.at("notifications")
            name = f"{repo}_ciNotify{index + 1}"
            written = self.notification(item, at, name)
            resource = read(name, written) if written is not None else None
            if resource is None:
                continue
            made[resource.name] = resource
            assert isinstance(item, YMap)
            for key, event in _EVENTS.items():
                when = coerce.as_text(item.get(key, _default_when(key))).lower()
                if when in ("always", "change"):
                    hooks.setdefault(event, []).append(model.Notify(resource.name))
        return {e: model.Hook(notify=tuple(n)) for e, n in hooks.items()}, made

    def notification(self, item: Any, at: Pos, name: str) -> YMap | None:
        """The notification resource of one entry, as if written there (None: not sent)."""
        if not isinstance(item, YMap):
            self.report.warn(at, "CI section: a notification must be a mapping; ignored",
                             self.job)
            return None
        kind = coerce.as_text(item.get("type")).lower()
        method = kind if kind in vocabulary.NOTIFY_METHODS else ""
        if not method:
            self.report.say(item.at("type"), f"CI section: notification type {kind!r} not "
                            "applied here: Gitline sends webhook, Slack and email notifications",
                            "info", self.job)
            return None
        definition = YMap(at)
        definition["method"] = method
        if "recipients" in item:
            definition["recipients"] = list(coerce.as_texts(item.get("recipients")))
            definition.key_pos["recipients"] = item.at("recipients")
        for key in ("on_success", "on_failure", "on_start", "on_cancel"):
            if coerce.as_text(item.get(key)).lower() == "change":
                self.info(item.at(key), f"{key}: change",
                          "the change of status is Shippable's; sent on every such run")
        for key in ("on_pull_request", "branches", "payload", "sendConsoleLogs",
                    "sendCoverageReports", "channel"):
            if key in item:
                self.info(item.at(key), key, "Shippable's notification options")
        written = YMap(at)
        written.update({"name": name, "type": "notification", "versionTemplate": definition})
        integration = coerce.as_text(item.get("integrationName"))
        if integration:
            written["integration"] = integration
            written.key_pos["integration"] = item.at("integrationName")
        return written


def _default_when(key: str) -> str:
    """Shippable's defaults: on_failure always, on_success change, the rest never."""
    return {"on_failure": "always", "on_success": "change"}.get(key, "never")
