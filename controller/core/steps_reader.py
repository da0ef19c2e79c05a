"""The `steps:` of one job -> its inputs (IN), outputs (OUT) and tasks (TASK).

Owns: each step's keys (switch, versionName/versionNumber, dependencyMode, showBuildStatus,
applyTo; replicate, overwrite, on_failure; bump), the shapes a TASK is written in (a
script, a list, a mapping with runtime options and env), 2016's `GET:`, and the node pool
a TASK asks for. What cannot be read is said at its line; the rest of the job loads.
Pure.
"""

from __future__ import annotations

from typing import Any

from controller.core import coerce, model, versions, vocabulary
from controller.core.yamldata import Pos, YList, YMap


def read_node_pool(report: coerce.Reporter, runtime: dict[str, Any], subject: str) -> str:
    """`runtime.nodePool` (of a job or a TASK); `nodepool` is accepted and said."""
    if "nodePool" in runtime:
        return coerce.as_text(runtime["nodePool"])
    if "nodepool" in runtime and isinstance(runtime, YMap):
        report.warn(runtime.at("nodepool"), "'nodepool' should be written 'nodePool'; accepted",
                    subject)
        return coerce.as_text(runtime["nodepool"])
    return ""


class StepsReader:
    """Reads the `steps:` list of one job into inputs, outputs and tasks."""

    def __init__(self, report: coerce.Reporter, job: str) -> None:
        self.report = report
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
            self.report.warn(pos, f"runtime.nodePool {pool!r} of a TASK is not applied: {why}",
                             self.job)
        return job_pool

    def read(self, steps: Any, pos: Pos) -> None:
        if steps is None:
            return
        if isinstance(steps, YMap):
            msg = "'steps:' should be a list; this mapping is read as one step"
            self.report.warn(pos, msg, self.job)
            steps = [steps]
        if not isinstance(steps, list):
            self.report.error(pos, f"'steps:' of job '{self.job}' must be a list", self.job)
            return
        for index, step in enumerate(steps):
            if not isinstance(step, YMap):
                where = steps.at(index) if isinstance(steps, YList) else pos
                self.report.error(where, "a step must be a mapping (IN/OUT/TASK)", self.job)
                continue
            self.step(step)

    def step(self, step: YMap) -> None:
        kinds = [k for k in ("IN", "GET", "OUT", "TASK", "NOTIFY") if k in step]
        if not kinds:
            self.report.warn(step.pos, "a step without IN, OUT or TASK is ignored", self.job)
        if "deploymentMethod" in step:
            self.report.warn(
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
                self.report.warn(
                    step.at(kind), "NOTIFY as a step is not supported; use a hook", self.job
                )

    def bump_of(self, step: YMap) -> str:
        value = coerce.as_text(step.get("bump"))
        if value not in versions.BUMP_KINDS:
            kinds = ", ".join(versions.BUMP_KINDS)
            self.report.warn(step.at("bump"), f"bump {value!r} is not one of {kinds}; the "
                             "version is released as it is", self.job)
            return ""
        return value

    def name(self, step: YMap, kind: str) -> str | None:
        value = step[kind]
        if value is None or isinstance(value, (dict, list)):
            self.report.error(step.at(kind), f"'{kind}:' needs a name", self.job)
            return None
        return coerce.as_text(value)

    def input(self, step: YMap, kind: str) -> None:
        name = self.name(step, kind)
        if name is None:
            return
        if kind == "GET":
            self.report.warn_once(step.at(kind), "'GET:' is 2016 syntax; read as 'IN:'")
        switch = coerce.switch_of(step.get("switch"))
        if switch is None:
            self.report.warn(
                step.at("switch"), f"switch {step['switch']!r} is not on/off; using on", self.job
            )
            switch = True
        number = step.get("versionNumber")
        if number is not None and coerce.parse_int(number, 0) is None:
            self.report.error(step.at("versionNumber"), f"versionNumber {number!r} of input "
                              f"'{name}' is not a number", self.job)
        self.inputs.append(
            model.Input(
                name=name,
                location=self.report.loc(step.at(kind)),
                switch=switch,
                version_name=None
                if step.get("versionName") is None
                else coerce.as_text(step["versionName"]),
                version_number=None if number is None else coerce.parse_int(number, 0),
                show_build_status=coerce.is_true(step.get("showBuildStatus")),
                apply_to=coerce.as_texts(step.get("applyTo")),
                dependency_mode=self.dependency_mode(step, name),
            )
        )

    def dependency_mode(self, step: YMap, name: str) -> Any:
        """`dependencyMode` of one IN: overrides the job's for that input job."""
        value = step.get("dependencyMode")
        if value is None:
            return ""
        if value not in vocabulary.DEPENDENCY_MODES:
            self.report.warn(step.at("dependencyMode"), f"dependencyMode {value!r} of input "
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
                    location=self.report.loc(step.at("OUT")),
                    replicate=coerce.as_text(step.get("replicate")),
                    overwrite=coerce.is_true(step.get("overwrite")),
                    on_failure=coerce.is_true(step.get("on_failure")),
                )
            )

    def task(self, value: Any, pos: Pos) -> None:
        if value is None:
            self.report.warn(pos, "empty 'TASK:'", self.job)
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
                for line in self.script(i.get("script") if isinstance(i, dict) else i)
            ]
            self.add_task("", lines, ())
        elif isinstance(value, dict):
            self.task_map(value, pos)
        else:
            self.add_task("", self.script(value), ())

    def task_map(self, value: dict[str, Any], pos: Pos) -> None:
        runtime = value.get("runtime")
        env: tuple[tuple[str, str], ...] = ()
        if runtime is None and isinstance(value.get("options"), dict) and isinstance(value, YMap):
            msg = "'options:' is beside an empty 'runtime:'; read as 'runtime: {options: ...}'"
            self.report.warn(value.at("options"), msg, self.job)
            runtime = {"options": value["options"]}
        if isinstance(runtime, dict):
            pool = read_node_pool(self.report, runtime, self.job)
            if pool:
                at = runtime.at("nodePool" if "nodePool" in runtime else "nodepool") \
                    if isinstance(runtime, YMap) else pos
                self.task_pools.append((pool, at))
            options = runtime.get("options")
            if isinstance(options, dict):
                env = self.env(options.get("env"), pos)
        self.add_task(coerce.as_text(value.get("name")), self.script(value.get("script")), env)

    def env(self, value: Any, pos: Pos) -> tuple[tuple[str, str], ...]:
        pairs: list[tuple[str, str]] = []
        for part in value if isinstance(value, list) else [] if value is None else [value]:
            if isinstance(part, dict):
                pairs += [(str(k), coerce.as_text(v)) for k, v in part.items()]
            elif isinstance(part, str) and "=" in part:
                key, _, val = part.partition("=")
                pairs.append((key.strip(), val))
            else:
                self.report.warn(pos, f"env entry {part!r} is not KEY=value; ignored", self.job)
        return tuple(pairs)

    def script(self, value: Any) -> list[str]:
        return coerce.script_lines(self.report, value, self.job)

    def add_task(self, name: str, script: list[str], env: tuple[tuple[str, str], ...]) -> None:
        self.tasks.append(model.Task(name or f"task_{len(self.tasks) + 1}", tuple(script), env))
