"""Workflow files (path, text) -> one `model.Workflow` with Problems at file:line:col.

Owns: which files are workflow files, reading resources/jobs/triggers (current, older
`pointer`/`seed`/`version` and 2016 `source`/`GET` syntax), unique names, resolving
every IN/OUT/NOTIFY name, and marking inconsistent the jobs a defect touches (and the
jobs downstream of them). Never raises: anything unexpected becomes a Problem.
Pure: text in, data out; YAML reading itself lives in `yamlread`.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
from collections.abc import Iterable, Mapping
from typing import Any

from controller.core import (
    graph,
    keycheck,
    model,
    notices,
    remotes,
    secretscope,
    timing,
    versions,
    vocabulary,
    yamlread,
)
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
KNOWN_RESOURCE_TYPES = frozenset(vocabulary.RESOURCE_TYPES)
OLD_RESOURCE_TYPES = frozenset(vocabulary.OLD_RESOURCE_TYPES)
OLD_JOB_TYPES = frozenset(vocabulary.OLD_JOB_TYPES)
CROSS_REPO = re.compile(r".+_(runCI|ciRepo)$")
_FALSE = {"off", "false", "no", "n", "0"}
_TRUE = {"on", "true", "yes", "y", "1"}


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
        return _Loader(self_names, scopes).load(list(files), cache)
    except Exception as err:  # noqa: BLE001 - the contract is: never raise
        where = model.Location("<workflow>")
        problem = model.Problem(where, f"internal error while loading: {err!r}")
        return model.Workflow(problems=(problem,), fatal=True)


def _text(value: Any) -> str:
    """A YAML scalar as a shell would want it written."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _flatten(value: Any) -> list[str]:
    """Script lines: a string, or lists nested to any depth by aliases."""
    if value is None:
        return []
    if isinstance(value, list):
        return [line for item in value for line in _flatten(item)]
    return [_text(value)]


def _strs(value: Any) -> tuple[str, ...]:
    return tuple(_flatten(value))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _digest(rtype: str, definition: dict[str, Any], integration: str) -> str:
    doc = {"type": rtype, "definition": definition, "integration": integration}
    blob = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _int(value: Any, default: int) -> int | None:
    if value is None:
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class _Loader:
    def __init__(self, self_names: frozenset[str],
                 scopes: Mapping[str, secretscope.Scope] | None = None) -> None:
        self.self_names = self_names
        self.scopes = scopes
        self.integration_at: dict[str, model.Location] = {}
        self.job_integration_at: list[tuple[str, str, model.Location]] = []
        self.problems: list[model.Problem] = []
        self.resources: dict[str, model.Resource] = {}
        self.jobs: dict[str, model.Job] = {}
        self.claimed: dict[str, model.Location] = {}
        self.notify_at: dict[tuple[str, str], list[model.Location]] = {}  # every use
        self.ci_files: list[str] = []  # files with a CI section (language:, build:)
        self.lost = 0  # files and objects not loaded whole (a top level no mapping, ...)
        self.unloaded: dict[str, str] = {}  # objects not loaded -> why
        self.fatal = False
        self.path = ""
        self.said: set[tuple[str, str]] = set()
        self.keys = keycheck.KeyChecker()

    # --- problems ---------------------------------------------------------------------

    def loc(self, pos: Pos) -> model.Location:
        return model.Location(self.path, pos[0], pos[1])

    def report(self, pos: Pos, message: str, severity: model.Severity, subject: str) -> None:
        self.problems.append(model.Problem(self.loc(pos), message, severity, subject))

    def error(self, pos: Pos, message: str, subject: str = "") -> None:
        self.report(pos, message, "error", subject)

    def warn(self, pos: Pos, message: str, subject: str = "") -> None:
        self.report(pos, message, "warning", subject)

    def warn_once(self, pos: Pos, message: str) -> None:
        """A warning about a file's dialect: said once per file, not once per use."""
        if (self.path, message) not in self.said:
            self.said.add((self.path, message))
            self.warn(pos, message + " (first use in this file)")

    # --- files ------------------------------------------------------------------------

    def load(self, files: list[tuple[str, str | bytes]],
             cache: yamlread.ParseCache | None = None) -> model.Workflow:
        for parsed in yamlread.read_files(sorted(files, key=lambda f: f[0]), cache):
            self.path = parsed.path
            self.problems.extend(parsed.problems)
            if parsed.failed:
                self.fatal = True
                continue
            self.load_document(parsed.data)
        if self.lost and not self.resources and not self.jobs:
            self.fatal = True  # nothing loaded at all: keep the last good workflow
        return self.resolve()

    def load_document(self, data: Any) -> None:
        is_templates = posixpath.basename(self.path) == yamlread.TEMPLATE_FILE
        if data is None:
            if not is_templates:
                self.warn((1, 1), "file is empty: nothing to load")
            return
        if not isinstance(data, YMap):
            # An error of this file: the other files load, and what needed an object of
            # this one is unresolved (and so inconsistent), like any missing name.
            self.error(pos_of(data, (1, 1)), "the top level must be a mapping of keys "
                       "(resources:, jobs:); nothing of this file is loaded")
            self.lost += 1
            return
        if "pipelines" in data and "jobs" not in data:
            self.warn(
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
            problem = model.Problem(self.loc(found.pos), found.message, found.severity,
                                    found.subject)
            if problem not in self.problems:  # an alias repeats its anchor's keys
                self.problems.append(problem)

    def load_section(self, data: YMap, key: str, value: Any, is_templates: bool) -> None:
        pos = data.at(key)
        if key in ("resources", "jobs", "triggers"):
            if isinstance(value, UndefinedAlias):
                self.lost += 1  # said at the alias by yamlread
                return
            if value is None:
                self.warn(pos, f"'{key}:' is empty")
                return
            if not isinstance(value, list):
                self.error(pos, f"'{key}:' must be a list; the push is not loaded")
                self.fatal = True  # as above: never drop every object of a section
                return
            assert isinstance(value, YList)  # yamlread reads every sequence as one
            for index, item in enumerate(value):
                self.load_object(key, item, value.at(index))
        elif key in ("language", "build") and self.path not in self.ci_files:
            self.ci_files.append(self.path)
        elif not (
            is_templates or key in CI_KEYS or key.startswith("templates") or key in data.anchored
        ):
            self.warn(pos, f"unknown top-level key '{key}' ignored")

    def load_object(self, section: str, item: Any, pos: Pos) -> None:
        kind = "job" if section == "jobs" else "resource"
        if not isinstance(item, YMap):
            self.error(pos, f"each entry of '{section}:' must be a mapping")
            return
        name = self.name_of(item, kind)
        if name is None:
            return
        missing = undefined_in(item)
        if missing is not None:  # said at the alias by yamlread; the rest of the file loads
            why = f"it uses the undefined alias '{missing.name}' (line {missing.pos[0]})"
            self.error(item.at("name"), f"{kind} '{name}' is not loaded: {why}", name)
            self.lost += 1
            self.unloaded[name] = f"{self.path}:{item.pos[0]}: {why}"
            return
        try:
            if kind == "job":
                job = self.job(name, item)
                if job and self.claim(name, item.pos):
                    self.jobs[name] = job
                return
            resource = self.resource(name, item, section == "triggers")
            if resource and self.claim(name, item.pos):
                self.resources[name] = resource
        except Exception as err:  # noqa: BLE001 - isolate one bad object
            self.error(item.pos, f"{kind} '{name}' could not be read: {err!r}", name)

    def name_of(self, item: YMap, kind: str) -> str | None:
        raw = item.get("name")
        if raw is None or isinstance(raw, (dict, list)):
            self.error(item.pos, f"{kind} without a 'name:'")
            return None
        name = _text(raw)
        if not model.is_safe_name(name):
            self.error(
                item.at("name"),
                f"{kind} name {name!r} is not allowed: {model.NAME_RULE}",
                name,
            )
            return None
        return name

    def claim(self, name: str, pos: Pos) -> bool:
        first = self.claimed.get(name)
        if first is not None:
            self.error(
                pos, f"duplicate name '{name}': first defined at {first}; this one is ignored", name
            )
            return False
        self.claimed[name] = self.loc(pos)
        return True

    # --- resources --------------------------------------------------------------------

    def resource(self, name: str, item: YMap, is_trigger: bool) -> model.Resource | None:
        rtype = item.get("type", "trigger" if is_trigger else None)
        if not isinstance(rtype, str) or not rtype:
            self.error(item.pos, f"resource '{name}' has no 'type:'", name)
            return None
        if rtype in OLD_RESOURCE_TYPES:
            self.warn(item.at("type"), f"resource type '{rtype}' is non-current (2016)", name)
        elif rtype not in KNOWN_RESOURCE_TYPES:
            self.warn(item.at("type"), f"unknown resource type '{rtype}'", name)
        definition = self.definition(name, item)
        if rtype == "time":
            self.check_schedule(name, item, definition)
        if rtype == "notification":
            self.check_notification(name, item, definition)
        integration = _text(item.get("integration"))
        if integration:
            self.integration_at[name] = self.loc(item.at("integration"))
        tracks: str | None = None
        if rtype == "gitRepo" and _text(definition.get("sourceName")) in self.self_names:
            tracks = self.tracked_path(name, item, definition)
            if tracks is None:
                return None
        elif rtype == "gitRepo" and not self.check_remote(name, item, definition):
            return None
        return model.Resource(
            name=name,
            type=rtype,
            definition=definition,
            location=self.loc(item.pos),
            integration=integration,
            flags=_strs(item.get("flags")),
            tracks_path=tracks,
            digest=_digest(rtype, definition, integration),
        )

    def check_remote(self, name: str, item: YMap, definition: dict[str, Any]) -> bool:
        """A gitRepo elsewhere names a real remote: never an option or a remote helper."""
        key = "url" if definition.get("url") else "sourceName"
        value = _text(definition.get(key))
        if not value:
            return True
        if key == "sourceName" and remotes.ORG_REPO.fullmatch(value):
            return True  # org/repo on its integration's host
        # local paths are the HOME's decision (allow_local_repos), made where it is known
        problem = remotes.url_problem(value, allow_local=True)
        if problem:
            self.error(self.key_pos(item, key), f"resource '{name}': {key}: {problem}", name)
        return problem is None

    def key_pos(self, item: YMap, key: str) -> Pos:
        """Where a definition key is written (in whichever part of the resource holds it)."""
        for part in ("versionTemplate", "pointer", "seed", "version", "source"):
            sub = item.get(part)
            if isinstance(sub, YMap) and key in sub:
                return sub.at(key)
        return item.pos

    def check_notification(self, name: str, item: YMap, definition: dict[str, Any]) -> None:
        """What delivery would refuse, said at its line now: an unknown method, a login
        named by the workflow, a recipient with CR/LF (a forged mail header) or, for
        email, not an address."""
        method = _text(definition.get("method")).strip().lower()
        if method and method not in notices.METHODS:
            self.error(self.key_pos(item, "method"), f"resource '{name}': method {method!r} "
                       f"is not one of {', '.join(notices.METHODS)}", name)
        if not method and item.get("integration"):  # not silently Slack: say what decides
            self.report(item.at("integration"), f"resource '{name}' has an integration and no "
                        f"method: {notices.BY_SECRET}", "info", name)
        refused = notices.smtp_problem(definition.get("smtp"))
        if refused:
            self.error(self.key_pos(item, "smtp"), f"resource '{name}': {refused}", name)
        method = method or (
            "email" if not item.get("integration") and not definition.get("url_secret")
            else "")
        raw = definition.get("recipients")
        for recipient in raw if isinstance(raw, list) else [] if raw is None else [raw]:
            problem = notices.recipient_problem(str(recipient).strip(), method)
            if problem:
                self.error(self.key_pos(item, "recipients"), f"resource '{name}': {problem}",
                           name)

    def definition(self, name: str, item: YMap) -> dict[str, Any]:
        definition: dict[str, Any] = {}
        for part in ("versionTemplate", "pointer", "seed", "version", "source"):
            if part not in item or item[part] is None:
                continue
            if not isinstance(item[part], dict):
                self.error(item.at(part), f"'{part}:' of resource '{name}' must be a mapping", name)
                continue
            if part == "source":
                self.warn_once(
                    item.at(part), "'source:' is 2016 syntax; read as 'versionTemplate:'"
                )
            definition.update(_plain(item[part]))
        return definition

    def check_schedule(self, name: str, item: YMap, definition: dict[str, Any]) -> None:
        """A time resource whose interval, timezone or catchup is bad: an error at its line."""
        try:
            timing.parse_schedule(definition)
        except timing.ScheduleError as err:
            where = item.pos
            key = next((k for k in ("interval", "timezone", "catchup") if k in str(err)), "")
            for part in ("versionTemplate", "pointer", "seed", "version", "source"):
                block = item.get(part)
                if isinstance(block, YMap) and key in block:
                    where = block.at(key)
            self.error(where, f"resource '{name}': {err}; it never ticks", name)

    def tracked_path(self, name: str, item: YMap, definition: dict[str, Any]) -> str | None:
        raw = _text(definition.get("path")).replace("\\", "/").strip("/")
        parts = [p for p in raw.split("/") if p not in ("", ".")]
        if ".." in parts:
            self.error(item.pos, f"resource '{name}': path {raw!r} may not contain '..'", name)
            return None
        return "/".join(parts)

    # --- jobs -------------------------------------------------------------------------

    def job(self, name: str, item: YMap) -> model.Job | None:
        jtype = item.get("type")
        not_runnable = ""
        if not isinstance(jtype, str) or not jtype:
            self.error(item.pos, f"job '{name}' has no 'type:'", name)
            return None
        if jtype in OLD_JOB_TYPES:
            self.warn(item.at("type"), f"job type '{jtype}' is non-current (2016)", name)
            not_runnable = f"{jtype} deployed through Shippable's cloud; not runnable here"
        elif jtype in model.CLOUD_JOB_TYPES:
            where = "CI" if jtype == "runCI" else "cloud"
            not_runnable = f"{jtype} runs on Shippable's {where}; not runnable here"
        elif jtype not in model.RUNNABLE_JOB_TYPES:
            self.error(item.at("type"), f"job '{name}' has unknown type '{jtype}'", name)
            return None
        steps = _Steps(self, name)
        steps.read(item.get("steps"), item.at("steps"))
        runtime = item.get("runtime")
        if not isinstance(runtime, dict):
            runtime = YMap(item.pos)
        assert isinstance(runtime, YMap)  # yamlread reads every mapping as one
        return model.Job(
            name=name,
            type=jtype,
            location=self.loc(item.pos),
            inputs=tuple(steps.inputs),
            outputs=tuple(steps.outputs),
            tasks=tuple(steps.tasks),
            hooks=self.hooks(name, item),
            trigger_mode=self.choice(item, "triggerMode", ("serial", "parallel"), name),
            dependency_mode=self.choice(
                item, "dependencyMode", ("chrono", "strict", "immediate"), name
            ),
            priority=self.number(item, "priority", 9999, name),
            timeout_minutes=self.timeout(runtime, name),
            retries=self.number(item, "retries", 0, name),
            flags=_strs(item.get("flags")),
            node_pool=steps.task_pool(self.node_pool(runtime, name)),
            not_runnable=not_runnable,
            approval=self.approval(item, name),
            bump=self.bump(item, steps, jtype, name),
            integrations=self.integrations(item, name),
        )

    def integrations(self, item: YMap, name: str) -> tuple[str, ...]:
        """Job-level `integrations:`: secret names, checked against their scopes like a
        resource's integration (at this line)."""
        names = tuple(n for n in _strs(item.get("integrations")) if n)
        for secret in names:
            self.job_integration_at.append((name, secret, self.loc(item.at("integrations"))))
        return names

    def bump(self, item: YMap, steps: _Steps, jtype: str, name: str) -> str:
        """A release's bump: the TASK's, else the job's `bump:`, else minor (as documented)."""
        if jtype != "release":
            return steps.bump
        if steps.bump or steps.bump_said:
            return steps.bump or ""
        if item.get("bump") is None:
            return "minor"
        return steps.bump_of(item)

    def approval(self, item: YMap, name: str) -> model.Approval | None:
        """`requiresApproval: true` or `{approvers: [...], timeoutMinutes: N}`."""
        value = item.get("requiresApproval")
        if value is None or value is False:
            return None
        if value is True:
            return model.Approval()
        if not isinstance(value, dict):
            self.error(item.at("requiresApproval"),
                       "requiresApproval must be true or {approvers: [...], timeoutMinutes: N}",
                       name)
            return model.Approval()
        timeout = value.get("timeoutMinutes")
        try:
            minutes = float(timeout) if timeout is not None else None
        except (TypeError, ValueError):
            self.warn(item.at("requiresApproval"), f"timeoutMinutes {timeout!r} is not a number",
                      name)
            minutes = None
        return model.Approval(approvers=_strs(value.get("approvers")), timeout_minutes=minutes)

    def choice(self, item: YMap, key: str, allowed: tuple[str, ...], name: str) -> Any:
        value = item.get(key)
        if value is None:
            return allowed[0]
        if value not in allowed:
            self.warn(
                item.at(key),
                f"{key} {value!r} is not one of {', '.join(allowed)}; using {allowed[0]}",
                name,
            )
            return allowed[0]
        return value

    def number(self, item: YMap, key: str, default: int, name: str) -> int:
        value = _int(item.get(key), default)
        if value is None:
            self.warn(
                item.at(key), f"{key} {item.get(key)!r} is not a number; using {default}", name
            )
            return default
        return value

    def timeout(self, runtime: YMap, name: str) -> float | None:
        value = runtime.get("timeoutMinutes")
        if value is None:
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            self.warn(
                runtime.at("timeoutMinutes"), f"timeoutMinutes {value!r} is not a number", name
            )
            return None

    def node_pool(self, runtime: dict[str, Any], name: str) -> str:
        if "nodePool" in runtime:
            return _text(runtime["nodePool"])
        if "nodepool" in runtime and isinstance(runtime, YMap):
            self.warn(
                runtime.at("nodepool"), "'nodepool' should be written 'nodePool'; accepted", name
            )
            return _text(runtime["nodepool"])
        return ""

    def hooks(self, name: str, item: YMap) -> dict[str, model.Hook]:
        hooks: dict[str, model.Hook] = {}
        for hook in model.HOOK_NAMES:
            if item.get(hook) is not None:
                hooks[hook] = self.hook(name, item.get(hook), item.at(hook))
        return hooks

    def hook(self, name: str, value: Any, pos: Pos) -> model.Hook:
        scripts: list[str] = []
        notes: list[model.Notify] = []
        items = value if isinstance(value, list) else [value]
        for index, part in enumerate(items):
            where = items.at(index) if isinstance(items, YList) else pos
            if isinstance(part, dict):
                scripts += self.script(part.get("script"), name)
                at = part.at("NOTIFY") if isinstance(part, YMap) and "NOTIFY" in part else where
                notes += self.notify(name, part.get("NOTIFY"), at)
                if not {"script", "NOTIFY"} & set(part):
                    self.warn(where, "a hook entry needs 'script:' or 'NOTIFY:'", name)
            else:
                scripts += self.script(part, name)
        return model.Hook(tuple(scripts), tuple(notes))

    def script(self, value: Any, subject: str) -> list[str]:
        """Script lines; an unquoted `: ` turns a line into a mapping, which is read back."""
        if isinstance(value, list):
            return [line for item in value for line in self.script(item, subject)]
        if isinstance(value, YMap) and len(value) == 1:
            key, val = next(iter(value.items()))
            if not isinstance(val, dict | list):
                line = f"{key}: {_text(val)}"
                msg = f"this script line is a YAML mapping (an unquoted ': '); read as {line!r}:" \
                      " quote the line"
                self.warn(value.pos, msg, subject)
                return [line]
        if isinstance(value, dict):
            self.error(getattr(value, "pos", (0, 0)), "a script line must be text", subject)
            return []
        return _flatten(value)

    def notify(self, job: str, value: Any, pos: Pos) -> list[model.Notify]:
        out: list[model.Notify] = []
        parts = value if isinstance(value, list) else [] if value is None else [value]
        for index, part in enumerate(parts):
            where = parts.at(index) if isinstance(parts, YList) else pos
            if isinstance(part, dict):
                note = model.Notify(
                    _text(part.get("name")), _truthy(part.get("sendFailingSnippet"))
                )
            else:
                note = model.Notify(_text(part))
            uses = self.notify_at.setdefault((job, note.name), [])
            if self.loc(where) not in uses:
                uses.append(self.loc(where))
            out.append(note)
        return out

    # --- resolution -------------------------------------------------------------------

    def resolve(self) -> model.Workflow:
        inconsistent: dict[str, str] = {}
        for job in self.jobs.values():
            for reason in self.check_names(job):
                inconsistent.setdefault(job.name, reason)
        draft = model.Workflow(resources=self.resources, jobs=self.jobs)
        for cycle in graph.job_cycles(draft):
            text = " -> ".join([*cycle, cycle[0]])
            first = self.jobs[cycle[0]].location
            self.problems.append(
                model.Problem(first, f"jobs form a cycle: {text}", "error", cycle[0])
            )
            for name in cycle:
                inconsistent.setdefault(name, f"part of the cycle {text}")
        if self.scopes is not None:
            self.check_secrets(draft, inconsistent)
        self.spread(inconsistent)
        return model.Workflow(
            resources=self.resources,
            jobs=self.jobs,
            problems=tuple(self.problems),
            inconsistent=inconsistent,
            fatal=self.fatal,
        )

    def check_secrets(self, draft: model.Workflow, inconsistent: dict[str, str]) -> None:
        """A secret named outside its scope: nothing that would get it runs."""
        for bad in secretscope.check(draft, self.scopes or {}, self.integration_at):
            self.problems.append(model.Problem(bad.location, bad.message, "error", bad.resource))
            if bad.resource_out:
                inconsistent.setdefault(bad.resource, bad.message)
            for job in bad.jobs:
                inconsistent.setdefault(job, bad.message)
        for job, secret, where in self.job_integration_at:
            message = secretscope.job_misuse(job, secret, self.scopes or {})
            if message:
                self.problems.append(model.Problem(where, message, "error", job))
                inconsistent.setdefault(job, message)

    def check_names(self, job: model.Job) -> list[str]:
        reasons: list[str] = []
        outs = {o.name for o in job.outputs}
        for inp in job.inputs:
            if inp.name == job.name:
                reasons.append(
                    self.bad(job, inp.location, f"job '{job.name}' takes itself as input")
                )
            elif inp.name not in self.resources and inp.name not in self.jobs:
                reasons.append(self.unresolved(job, "input", inp.name, inp.location))
            elif inp.name in outs and inp.switch and self.triggers(inp.name):
                msg = (
                    f"job '{job.name}' takes its own output '{inp.name}' as a triggering "
                    "input (it would start itself); add 'switch: off'"
                )
                reasons.append(self.bad(job, inp.location, msg))
        for out in job.outputs:
            if out.name in self.jobs:
                msg = f"OUT '{out.name}' is a job; only a resource can be an output"
                reasons.append(self.bad(job, out.location, msg))
            elif out.name not in self.resources:
                reasons.append(self.unresolved(job, "output", out.name, out.location))
        missing = {note.name: None for hook in job.hooks.values() for note in hook.notify
                   if note.name not in self.resources}
        for name in missing:  # each use once, at its own line
            for where in self.notify_at.get((job.name, name), [job.location]):
                reasons.append(self.unresolved(job, "notification", name, where))
        return reasons

    def triggers(self, name: str) -> bool:
        return self.resources[name].type not in model.NEVER_TRIGGERS

    def bad(self, job: model.Job, where: model.Location, message: str) -> str:
        self.problems.append(model.Problem(where, message, "error", job.name))
        return f"{message} ({where.path}:{where.line})"

    def unresolved(self, job: model.Job, kind: str, name: str, where: model.Location) -> str:
        message = f"unresolved {kind} '{name}' of job '{job.name}'"
        hint = self.nearest(name, kind, job.name)
        if name in self.unloaded:
            message += f": it is not loaded ({self.unloaded[name]})"
        elif CROSS_REPO.match(name) and self.ci_files:
            made = "the runCI job" if name.endswith("_runCI") else "the ciRepo resource"
            message += (f": Shippable made {made} from the CI section (language:, build:) "
                        f"of {', '.join(self.ci_files)}; Gitline does not run CI sections")
        elif CROSS_REPO.match(name):
            message += ": defined outside this repository (the runCI job of another one?)"
        elif hint:
            message += f"; did you mean '{hint}'?"
        else:
            message += ": no resource or job has this name"
        self.problems.append(model.Problem(where, message, "error", job.name))
        return f"{kind} '{name}' is not defined ({where.path}:{where.line})"

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

    def spread(self, inconsistent: dict[str, str]) -> None:
        """Jobs that take an inconsistent job as input are inconsistent too."""
        changed = True
        while changed:
            changed = False
            for job in self.jobs.values():
                if job.name in inconsistent:
                    continue
                bad = next((i.name for i in job.inputs if i.name in inconsistent), None)
                if bad is not None:
                    inconsistent[job.name] = f"input job '{bad}' is inconsistent"
                    self.problems.append(
                        model.Problem(
                            job.location,
                            f"job '{job.name}' is skipped: its input job '{bad}' is inconsistent",
                            "warning",
                            job.name,
                        )
                    )
                    changed = True


def _truthy(value: Any) -> bool:
    return value is True or _text(value).strip().lower() in _TRUE


def switch_of(value: Any) -> bool | None:
    """`switch:` as written (off/false/"off"/on/true) -> bool; None if unreadable."""
    if value is None:
        return True
    if isinstance(value, bool):
        return value
    text = _text(value).strip().lower()
    return False if text in _FALSE else True if text in _TRUE else None


class _Steps:
    """Reads the `steps:` list of one job into inputs, outputs and tasks."""

    def __init__(self, loader: _Loader, job: str) -> None:
        self.loader = loader
        self.job = job
        self.inputs: list[model.Input] = []
        self.outputs: list[model.Output] = []
        self.tasks: list[model.Task] = []
        self.task_pools: list[tuple[str, Pos]] = []  # runtime.nodePool of TASKs
        self.bump = ""
        self.bump_said = False  # a TASK wrote bump: (even a bad one, already warned of)

    def task_pool(self, job_pool: str) -> str:
        """The node pool the job runs in: its own; else its only TASK's. A run goes to one
        worker, so a TASK's pool beside the job's or another TASK is said, not dropped."""
        if not self.task_pools:
            return job_pool
        if not job_pool and len(self.tasks) == 1:
            return self.task_pools[0][0]
        why = (f"the job's runtime.nodePool {job_pool!r} is used" if job_pool else
               f"job '{self.job}' has {len(self.tasks)} TASKs and a run goes to one worker; "
               "set runtime.nodePool on the job")
        for pool, pos in self.task_pools:
            self.loader.warn(pos, f"runtime.nodePool {pool!r} of a TASK is not applied: {why}",
                             self.job)
        return job_pool

    def read(self, steps: Any, pos: Pos) -> None:
        if steps is None:
            return
        if isinstance(steps, YMap):
            msg = "'steps:' should be a list; this mapping is read as one step"
            self.loader.warn(pos, msg, self.job)
            steps = [steps]
        if not isinstance(steps, list):
            self.loader.error(pos, f"'steps:' of job '{self.job}' must be a list", self.job)
            return
        for index, step in enumerate(steps):
            if not isinstance(step, YMap):
                where = steps.at(index) if isinstance(steps, YList) else pos
                self.loader.error(where, "a step must be a mapping (IN/OUT/TASK)", self.job)
                continue
            self.step(step)

    def step(self, step: YMap) -> None:
        kinds = [k for k in ("IN", "GET", "OUT", "TASK", "NOTIFY") if k in step]
        if not kinds:
            self.loader.warn(step.pos, "a step without IN, OUT or TASK is ignored", self.job)
        if "deploymentMethod" in step:
            self.loader.warn(
                step.at("deploymentMethod"),
                "'deploymentMethod' is a misspelling of 'deployMethod'; ignored",
                self.job,
            )
        for kind in kinds:
            if kind in ("IN", "GET"):
                self.input(step, kind)
            elif kind == "OUT":
                self.output(step)
            elif kind == "TASK":
                self.task(step["TASK"], step.at("TASK"))
                if step.get("bump") is not None:
                    self.bump, self.bump_said = self.bump_of(step), True
            else:
                self.loader.warn(
                    step.at(kind), "NOTIFY as a step is not supported; use a hook", self.job
                )

    def bump_of(self, step: YMap) -> str:
        value = _text(step.get("bump"))
        if value not in versions.BUMP_KINDS:
            kinds = ", ".join(versions.BUMP_KINDS)
            self.loader.warn(step.at("bump"), f"bump {value!r} is not one of {kinds}; the "
                             "version is released as it is", self.job)
            return ""
        return value

    def name(self, step: YMap, kind: str) -> str | None:
        value = step[kind]
        if value is None or isinstance(value, (dict, list)):
            self.loader.error(step.at(kind), f"'{kind}:' needs a name", self.job)
            return None
        return _text(value)

    def input(self, step: YMap, kind: str) -> None:
        name = self.name(step, kind)
        if name is None:
            return
        if kind == "GET":
            self.loader.warn_once(step.at(kind), "'GET:' is 2016 syntax; read as 'IN:'")
        switch = switch_of(step.get("switch"))
        if switch is None:
            self.loader.warn(
                step.at("switch"), f"switch {step['switch']!r} is not on/off; using on", self.job
            )
            switch = True
        number = step.get("versionNumber")
        if number is not None and _int(number, 0) is None:
            self.loader.error(step.at("versionNumber"), f"versionNumber {number!r} of input "
                              f"'{name}' is not a number", self.job)
        self.inputs.append(
            model.Input(
                name=name,
                location=self.loader.loc(step.at(kind)),
                switch=switch,
                version_name=None
                if step.get("versionName") is None
                else _text(step["versionName"]),
                version_number=None if number is None else _int(number, 0),
                show_build_status=_truthy(step.get("showBuildStatus")),
                apply_to=_strs(step.get("applyTo")),
                dependency_mode=self.dependency_mode(step, name),
            )
        )

    def dependency_mode(self, step: YMap, name: str) -> Any:
        """`dependencyMode` of one IN: overrides the job's for that input job."""
        value = step.get("dependencyMode")
        if value is None:
            return ""
        if value not in vocabulary.DEPENDENCY_MODES:
            self.loader.warn(step.at("dependencyMode"), f"dependencyMode {value!r} of input "
                             f"'{name}' is not one of {', '.join(vocabulary.DEPENDENCY_MODES)}; "
                             "using the job's", self.job)
            return ""
        return value

    def output(self, step: YMap) -> None:
        name = self.name(step, "OUT")
        if name is not None:
            self.outputs.append(
                model.Output(
                    name=name,
                    location=self.loader.loc(step.at("OUT")),
                    replicate=_text(step.get("replicate")),
                    overwrite=_truthy(step.get("overwrite")),
                    on_failure=_truthy(step.get("on_failure")),
                )
            )

    def task(self, value: Any, pos: Pos) -> None:
        if value is None:
            self.loader.warn(pos, "empty 'TASK:'", self.job)
        elif isinstance(value, str) and value.strip() == "managed":
            return
        elif isinstance(value, list):
            if any(isinstance(i, dict) and set(i) - {"script"} for i in value):
                for part in value:
                    self.task(part, pos)
                return
            lines = [
                line
                for i in value
                for line in self.loader.script(i.get("script") if isinstance(i, dict) else i,
                                               self.job)
            ]
            self.add_task("", lines, ())
        elif isinstance(value, dict):
            self.task_map(value, pos)
        else:
            self.add_task("", self.loader.script(value, self.job), ())

    def task_map(self, value: dict[str, Any], pos: Pos) -> None:
        runtime = value.get("runtime")
        env: tuple[tuple[str, str], ...] = ()
        if runtime is None and isinstance(value.get("options"), dict) and isinstance(value, YMap):
            msg = "'options:' is beside an empty 'runtime:'; read as 'runtime: {options: ...}'"
            self.loader.warn(value.at("options"), msg, self.job)
            runtime = {"options": value["options"]}
        if isinstance(runtime, dict):
            pool = self.loader.node_pool(runtime, self.job)
            if pool:
                at = runtime.at("nodePool" if "nodePool" in runtime else "nodepool") \
                    if isinstance(runtime, YMap) else pos
                self.task_pools.append((pool, at))
            options = runtime.get("options")
            if isinstance(options, dict):
                env = self.env(options.get("env"), pos)
        self.add_task(_text(value.get("name")), self.loader.script(value.get("script"), self.job),
                      env)

    def env(self, value: Any, pos: Pos) -> tuple[tuple[str, str], ...]:
        pairs: list[tuple[str, str]] = []
        for part in value if isinstance(value, list) else [] if value is None else [value]:
            if isinstance(part, dict):
                pairs += [(str(k), _text(v)) for k, v in part.items()]
            elif isinstance(part, str) and "=" in part:
                key, _, val = part.partition("=")
                pairs.append((key.strip(), val))
            else:
                self.loader.warn(pos, f"env entry {part!r} is not KEY=value; ignored", self.job)
        return tuple(pairs)

    def add_task(self, name: str, script: list[str], env: tuple[tuple[str, str], ...]) -> None:
        self.tasks.append(model.Task(name or f"task_{len(self.tasks) + 1}", tuple(script), env))
