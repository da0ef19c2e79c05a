"""One entry of `jobs:` -> a `model.Job`, with its problems at file:line:col.

Owns: the job's type (runnable here, run on Shippable's cloud, or 2016's), its runtime
(timeout, node pool), triggerMode/dependencyMode/priority/retries, requiresApproval,
a release's bump, job-level integrations, and hooks (script lines and NOTIFY names, each
use remembered for resolution). Its `steps:` are `steps_reader`'s. Pure.
"""

from __future__ import annotations

from typing import Any

from controller.core import coerce, model, vocabulary
from controller.core.steps_reader import StepsReader, read_node_pool
from controller.core.yamldata import Pos, YList, YMap

OLD_JOB_TYPES = frozenset(vocabulary.OLD_JOB_TYPES)


class JobReader:
    """Reads jobs; remembers where each names a secret or a notification, for resolution."""

    def __init__(self, report: coerce.Reporter) -> None:
        self.report = report
        self.integration_uses: list[tuple[str, str, model.Location]] = []  # job, secret, where
        self.notify_at: dict[tuple[str, str], list[model.Location]] = {}  # every NOTIFY use

    def read(self, name: str, item: YMap) -> model.Job | None:
        """The job `name` of `item`, or None when it cannot run at all (said why)."""
        jtype = item.get("type")
        not_runnable = ""
        if not isinstance(jtype, str) or not jtype:
            self.report.error(item.pos, f"job '{name}' has no 'type:'", name)
            return None
        if jtype in OLD_JOB_TYPES:
            self.report.warn(item.at("type"), f"job type '{jtype}' is non-current (2016)", name)
            not_runnable = f"{jtype} deployed through Shippable's cloud; not runnable here"
        elif jtype in model.CLOUD_JOB_TYPES:
            where = "CI" if jtype == "runCI" else "cloud"
            not_runnable = f"{jtype} runs on Shippable's {where}; not runnable here"
        elif jtype not in model.RUNNABLE_JOB_TYPES:
            self.report.error(item.at("type"), f"job '{name}' has unknown type '{jtype}'", name)
            return None
        if item.get("steps") is None:  # it would run nothing and pass, and feed the next
            self.report.error(item.pos, f"job '{name}' has no 'steps:'", name)
            return None
        steps = StepsReader(self.report, name)
        steps.read(item.get("steps"), item.at("steps"))
        runtime = item.get("runtime")
        if not isinstance(runtime, dict):
            runtime = YMap(item.pos)
        assert isinstance(runtime, YMap)  # yamlread reads every mapping as one
        return model.Job(
            name=name,
            type=jtype,
            location=self.report.loc(item.pos),
            inputs=tuple(steps.inputs),
            outputs=tuple(steps.outputs),
            tasks=tuple(steps.tasks),
            hooks=self.hooks(name, item),
            trigger_mode=coerce.choice(self.report, item, "triggerMode",
                                       vocabulary.TRIGGER_MODES, name),
            dependency_mode=coerce.choice(self.report, item, "dependencyMode",
                                          vocabulary.DEPENDENCY_MODES, name),
            priority=coerce.number(self.report, item, "priority", 9999, name),
            timeout_minutes=self.timeout(runtime, name),
            retries=coerce.number(self.report, item, "retries", 0, name),
            flags=coerce.as_texts(item.get("flags")),
            node_pool=steps.task_pool(read_node_pool(self.report, runtime, name)),
            not_runnable=not_runnable,
            approval=self.approval(item, name),
            bump=self.bump(item, steps, jtype, name),
            integrations=self.integrations(item, name),
        )

    def integrations(self, item: YMap, name: str) -> tuple[str, ...]:
        """Job-level `integrations:`: secret names, checked against their scopes like a
        resource's integration (at this line)."""
        names = tuple(n for n in coerce.as_texts(item.get("integrations")) if n)
        for secret in names:
            self.integration_uses.append((name, secret, self.report.loc(item.at("integrations"))))
        return names

    def bump(self, item: YMap, steps: StepsReader, jtype: str, name: str) -> str:
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
            self.report.error(item.at("requiresApproval"), "requiresApproval must be true or "
                              "{approvers: [...], timeoutMinutes: N}", name)
            return model.Approval()
        timeout = value.get("timeoutMinutes")
        try:
            minutes = float(timeout) if timeout is not None else None
        except (TypeError, ValueError):
            self.report.warn(item.at("requiresApproval"),
                             f"timeoutMinutes {timeout!r} is not a number", name)
            minutes = None
        return model.Approval(approvers=coerce.as_texts(value.get("approvers")),
                              timeout_minutes=minutes)

    def timeout(self, runtime: YMap, name: str) -> float | None:
        """`runtime.timeoutMinutes`: None when absent or not a number (said)."""
        value = runtime.get("timeoutMinutes")
        if value is None:
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            self.report.warn(
                runtime.at("timeoutMinutes"), f"timeoutMinutes {value!r} is not a number", name
            )
            return None

    def hooks(self, name: str, item: YMap) -> dict[str, model.Hook]:
        hooks: dict[str, model.Hook] = {}
        for hook in model.HOOK_NAMES:
            if item.get(hook) is not None:
                hooks[hook] = self.hook(name, item.get(hook), item.at(hook))
        return hooks

    def hook(self, name: str, value: Any, pos: Pos) -> model.Hook:
        """One hook: script lines and NOTIFY entries, in a list or alone."""
        scripts: list[str] = []
        notes: list[model.Notify] = []
        items = value if isinstance(value, list) else [value]
        for index, part in enumerate(items):
            where = items.at(index) if isinstance(items, YList) else pos
            if isinstance(part, dict):
                scripts += coerce.script_lines(self.report, part.get("script"), name)
                at = part.at("NOTIFY") if isinstance(part, YMap) and "NOTIFY" in part else where
                notes += self.notify(name, part.get("NOTIFY"), at)
                if not {"script", "NOTIFY"} & set(part):
                    self.report.warn(where, "a hook entry needs 'script:' or 'NOTIFY:'", name)
            else:
                scripts += coerce.script_lines(self.report, part, name)
        return model.Hook(tuple(scripts), tuple(notes))

    def notify(self, job: str, value: Any, pos: Pos) -> list[model.Notify]:
        """A hook's NOTIFY names; each use is kept (at its line) to say it if unresolved."""
        out: list[model.Notify] = []
        parts = value if isinstance(value, list) else [] if value is None else [value]
        for index, part in enumerate(parts):
            where = parts.at(index) if isinstance(parts, YList) else pos
            if isinstance(part, dict):
                note = model.Notify(coerce.as_text(part.get("name")),
                                    coerce.is_true(part.get("sendFailingSnippet")))
            else:
                note = model.Notify(coerce.as_text(part))
            uses = self.notify_at.setdefault((job, note.name), [])
            if self.report.loc(where) not in uses:
                uses.append(self.report.loc(where))
            out.append(note)
        return out
