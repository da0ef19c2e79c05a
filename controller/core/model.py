"""The workflow model and the records of its history, as frozen dataclasses.

Pure data: no I/O, no clock, no git. Everything the planner decides from and everything
the store writes is one of these types. Mappings are kept as plain dicts for ease of use
but are never mutated after construction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from controller.core import vocabulary

# info: a fact worth saying once (a key read but not acted on); never a defect.
Severity = Literal["error", "warning", "info"]

# Resource types whose versions come from their definition in the config repository:
# a pushed change to the definition makes a new version. Other types get versions from
# jobs (state, image written by a job, version bumped by release), the clock (time),
# HTTP (webhook) or another repository (gitRepo on an upstream).
NOT_VERSIONED_BY_DEFINITION = frozenset({"state", "time", "webhook", "notification"})

# Resource types that never start a job, whatever `switch` says.
NEVER_TRIGGERS = frozenset({"state", "notification"})

RUNNABLE_JOB_TYPES = frozenset(vocabulary.RUNNABLE_JOB_TYPES)
CLOUD_JOB_TYPES = frozenset(vocabulary.CLOUD_JOB_TYPES)

HOOK_NAMES = vocabulary.HOOKS

# A name from YAML becomes a folder on the state branch and a word in logs and commit
# subjects. Shippable allowed quoted names such as "Slack (DevTac)": a name may hold
# spaces and harmless punctuation, but never `/` or `\\` (a path), `..`, a control
# character, a shell character ($ ` ; | & < > * ? ' " :) nor start with `-`, `.` or a space.
NAME_PATTERN = re.compile(r"[A-Za-z0-9_()\[\]+@,#=~!][A-Za-z0-9_.\-()\[\]+@,#=~! ]{0,199}")
NAME_RULE = ("use letters, digits, spaces and _.-()[]+@,#=~! (not first: - . or a space; "
             "no '..'; at most 200)")
PLAIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")  # needs no quotes anywhere


def is_safe_name(name: str) -> bool:
    """True if `name` may be used as a file name and in an env var prefix."""
    return (bool(NAME_PATTERN.fullmatch(name)) and ".." not in name
            and not name.endswith(" "))


def shown(name: str) -> str:
    """`name` as printed where words are separated by spaces: quoted unless plain."""
    return name if PLAIN_NAME.fullmatch(name) else '"' + name.replace('"', '\\"') + '"'


def env_prefix(name: str) -> str:
    """`app-img.v1` -> `APP_IMG_V1`: the prefix of an input's runtime variables."""
    return re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def documented_prefix(name: str) -> str:
    """`my-key-1` -> `MYKEY1`: Shippable's documented rule (capitals; every character but
    letters, digits and `_` removed; leading digits removed, so it is a shell name)."""
    return re.sub(r"[^A-Za-z0-9_]", "", name).upper().lstrip("0123456789")


def env_prefixes(name: str) -> tuple[str, ...]:
    """The prefixes a job gets for `name`: Gitline's (relied on since its first version)
    and the documented one where they differ; never one that is not a shell name."""
    found = (env_prefix(name), documented_prefix(name))
    return tuple(dict.fromkeys(p for p in found if re.fullmatch(r"[A-Za-z_]\w*", p)))


@dataclass(frozen=True)
class Location:
    """Where something was written: a path in the config repo, 1-based line and column."""

    path: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Problem:
    """An error or warning found while loading a workflow."""

    location: Location
    message: str
    severity: Severity = "error"
    subject: str = ""  # the resource or job it concerns, if any

    def __str__(self) -> str:
        return f"{self.location}: {self.severity}: {self.message}"


@dataclass(frozen=True)
class Resource:
    name: str
    type: str
    # The version-defining part: `versionTemplate`, or `pointer`/`seed`/`version`
    # (old syntax) merged into one mapping; `source` (2016 syntax) likewise.
    definition: dict[str, Any]
    location: Location
    integration: str = ""
    flags: tuple[str, ...] = ()
    # For a gitRepo whose sourceName is the config repository itself: the path prefix
    # whose files it tracks ("" = the whole repository). None for anything else.
    tracks_path: str | None = None
    # ...and the source of the subscription it tracks ("": the main config repository)
    tracks_source: str = ""
    # A stable digest of everything that, changed, makes a new version.
    digest: str = ""


@dataclass(frozen=True)
class Input:
    name: str
    location: Location
    switch: bool = True  # False for `switch: off`: never starts the job
    version_name: str | None = None  # pin
    version_number: int | None = None  # pin
    show_build_status: bool = False
    apply_to: tuple[str, ...] = ()
    dependency_mode: Literal["chrono", "strict", "immediate", ""] = ""  # "": the job's

    @property
    def pinned(self) -> bool:
        return self.version_name is not None or self.version_number is not None


@dataclass(frozen=True)
class Output:
    name: str
    location: Location
    replicate: str = ""
    overwrite: bool = False
    on_failure: bool = False  # `on_failure: true`: a run that did not succeed versions it too


@dataclass(frozen=True)
class Task:
    name: str
    script: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Notify:
    name: str
    send_failing_snippet: bool = False


@dataclass(frozen=True)
class Hook:
    script: tuple[str, ...] = ()
    notify: tuple[Notify, ...] = ()


@dataclass(frozen=True)
class Approval:
    """`requiresApproval`: a due run waits until someone allowed approves it by a commit."""

    approvers: tuple[str, ...] = ()  # names or emails; empty: anyone who can push
    timeout_minutes: float | None = None  # then the pending run is cancelled

    def allows(self, author: str) -> bool:
        """`author` is "Name <email>", as git records it."""
        if not self.approvers:
            return True
        name, _, email = author.partition(" <")
        who = {name.strip().lower(), email.rstrip(">").strip().lower()}
        return any(a.strip().lower() in who for a in self.approvers)


@dataclass(frozen=True)
class CiRow:
    """One row of a CI section's matrix: its variables (global ones first)."""

    label: str  # "" for a section without a matrix, else "2: PY=3.12"
    env: tuple[str, ...] = ()  # `NAME=value` entries as written (the shell expands them)
    allow_failure: bool = False  # `matrix: allow_failures`: its failure fails no run


@dataclass(frozen=True)
class CiPlan:
    """A CI section (`language:`, `build:`) as its `<repo>_runCI` job runs it: every row in
    turn, each in a fresh copy of the `checkout` input's files (see core/ci_reader.py)."""

    checkout: str  # the gitRepo input whose files are the checkout (<repo>_ciRepo)
    steps: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (CI_STEPS name, script)
    rows: tuple[CiRow, ...] = (CiRow(""),)
    branches_only: tuple[str, ...] = ()  # globs; empty: every branch
    branches_except: tuple[str, ...] = ()

    def script(self, step: str) -> tuple[str, ...]:
        return next((s for n, s in self.steps if n == step), ())


@dataclass(frozen=True)
class CiResult:
    """What one row of a CI run did, with its test and coverage reports summarised."""

    row: str  # CiRow.label
    status: str  # "succeeded", "failed", "failed (allowed)", "timed_out", "cancelled", "skipped"
    passed: int = 0
    failed: int = 0  # failures and errors of the JUnit reports
    skipped: int = 0
    coverage: float | None = None  # percent of lines, from the Cobertura report's line-rate
    reports: int = 0  # report files read
    note: str = ""  # reports refused or unreadable, and why

    def summary(self) -> str:
        """`3 passed, 1 failed, 0 skipped, coverage 81.2%` (what status and the web show)."""
        if not self.reports:  # not "0 passed": no test ran that anything reported
            return "no report in shippable/testresults or shippable/codecoverage"
        text = f"{self.passed} passed, {self.failed} failed, {self.skipped} skipped"
        if self.coverage is not None:
            text += f", coverage {self.coverage:.1f}%"
        return text


@dataclass(frozen=True)
class Job:
    name: str
    type: str
    location: Location
    inputs: tuple[Input, ...] = ()
    outputs: tuple[Output, ...] = ()
    tasks: tuple[Task, ...] = ()
    hooks: dict[str, Hook] = field(default_factory=dict)  # keys from HOOK_NAMES
    trigger_mode: Literal["serial", "parallel"] = "serial"
    dependency_mode: Literal["chrono", "strict", "immediate"] = "chrono"
    priority: int = 9999
    timeout_minutes: float | None = None
    retries: int = 0
    flags: tuple[str, ...] = ()
    node_pool: str = ""
    # Set when the type is understood but cannot run here (a cloud-managed job).
    not_runnable: str = ""
    approval: Approval | None = None
    bump: str = ""  # release jobs: major, minor, patch, rc, alpha, beta or final
    integrations: tuple[str, ...] = ()  # job-level `integrations:`: secrets the job gets
    ci: CiPlan | None = None  # a `<repo>_runCI` job: the CI section it runs

    def with_default_timeout(self, minutes: float) -> Job:
        """The job as it runs: every run has a timeout (the setting's when none is written)."""
        return self if self.timeout_minutes else replace(self, timeout_minutes=minutes)

    def publishes(self, output: str, status: str) -> bool:
        """Whether what a run with `status` wrote to `output` becomes a new version: a
        succeeded run's, and a failed one's only for an `OUT` marked `on_failure: true`."""
        if status == "succeeded":
            return True
        return any(o.name == output and o.on_failure for o in self.outputs)


@dataclass(frozen=True)
class Workflow:
    """A loaded configuration: the objects that resolved, and what did not."""

    resources: dict[str, Resource] = field(default_factory=dict)
    jobs: dict[str, Job] = field(default_factory=dict)
    problems: tuple[Problem, ...] = ()
    # name -> reason, for objects that could not be resolved; they are skipped.
    inconsistent: dict[str, str] = field(default_factory=dict)
    # True when a file failed to parse at all: the workflow must not replace the last good one.
    fatal: bool = False

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")


# --- History: what the state branch records ------------------------------------------


@dataclass(frozen=True)
class Version:
    """One immutable version of a resource (one commit on the state branch)."""

    resource: str
    number: int
    name: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    created_by: str = ""  # "config <sha7>", "build_img run 7", "time", "webhook", "pin"
    config_commit: str = ""
    author: str = ""  # who made the config commit (or pushed) that caused it
    digest: str = ""  # definition digest it was made from (for config versions)
    # Files of a state resource: relative path -> content. Only set when written.
    files: dict[str, bytes] | None = None


RunStatus = Literal[
    "pending_approval",
    "queued",
    "running",
    "succeeded",
    "failed",
    "cancelled",
    "timed_out",
    "interrupted",
]
FINISHED = frozenset({"succeeded", "failed", "cancelled", "timed_out", "interrupted"})


@dataclass(frozen=True)
class Cause:
    """Why a run exists. Recorded on the run so users can see what started it."""

    kind: Literal[
        "input", "job", "trigger", "manual", "replay", "retry", "time", "webhook", "push"
    ]
    detail: str  # human text, e.g. "app_img version 3" or "triggers/deploy_prod"
    commit: str = ""  # the config commit behind it, if any
    author: str = ""  # who made that commit, "Name <email>"

    def __str__(self) -> str:
        who = f" by {self.author}" if self.author else ""
        at = f" in {self.commit[:7]}" if self.commit else ""
        return f"{self.kind}: {self.detail}{at}{who}"


@dataclass(frozen=True)
class InputVersion:
    """The exact version of one input a run used."""

    name: str
    kind: Literal["resource", "job"]
    number: int  # resource versionNumber, or the input job's run number
    version_name: str = ""


@dataclass(frozen=True)
class Run:
    job: str
    number: int
    status: RunStatus
    cause: Cause
    inputs: tuple[InputVersion, ...] = ()
    params: dict[str, str] = field(default_factory=dict)  # from a trigger file
    config_commit: str = ""
    queued_at: str = ""  # ISO 8601 UTC; set by the edge that knows the time
    started_at: str = ""
    finished_at: str = ""
    exit_code: int | None = None
    attempt: int = 1
    message: str = ""  # why it failed to start, timed out, was interrupted...
    notifications: tuple[str, ...] = ()  # NOTIFY events recorded on the run
    worker: str = ""  # who ran it: a Celery node name, or local@<hostname>; "" until started
    ci: tuple[CiResult, ...] = ()  # a CI run: each matrix row's result and reports
    # What the planner compares new versions against. A replay runs old inputs but must
    # not make the planner think newer versions are unprocessed: it keeps the baseline.
    baseline: tuple[InputVersion, ...] | None = None

    def input(self, name: str) -> InputVersion | None:
        return next((i for i in self.inputs if i.name == name), None)

    def baseline_input(self, name: str) -> InputVersion | None:
        pool = self.inputs if self.baseline is None else self.baseline
        return next((i for i in pool if i.name == name), None)


@dataclass(frozen=True)
class TriggerRequest:
    """A trigger-file commit (or `gitline trigger`): run `job` once with `params`."""

    job: str
    commit: str
    author: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    error: str = ""  # set when the file or the job is bad; recorded, never run


@dataclass(frozen=True)
class JobHistory:
    """What the planner needs to know of one job's past."""

    last: Run | None = None  # the newest run, whatever its status
    last_succeeded: int = 0  # number of the newest succeeded run (0: never)
    active: tuple[Run, ...] = ()  # queued or running, oldest first


@dataclass(frozen=True)
class Snapshot:
    """The state branch at one commit, as the planner sees it."""

    versions: dict[str, Version] = field(default_factory=dict)  # latest, without files
    jobs: dict[str, JobHistory] = field(default_factory=dict)
    processed_commit: str = ""  # last config commit fully processed
    good_commit: str = ""  # last config commit that loaded without a fatal error
    tip: str = ""  # the state commit this was read from
    # trigger files that wait for a run of an input job in flight (error: for which)
    waiting_triggers: tuple[TriggerRequest, ...] = ()
    # the commit of each other source of the subscription processed / loaded with them
    processed_sources: dict[str, str] = field(default_factory=dict)
    good_sources: dict[str, str] = field(default_factory=dict)
