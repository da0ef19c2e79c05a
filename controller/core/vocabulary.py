"""Every key of the Assembly Line model, per object kind: the one table of known names.

Owns: the resource and job types, the enums (`switch`, `triggerMode`, `dependencyMode`,
`bump`), and for each kind of object (job, resource, step, TASK, hook, runtime, ...) its
keys with their JSON type, a description, and, for keys Shippable documented that Gitline
reads but does not act on, why not. `keycheck` warns from this table and `schema` makes
the JSON Schema from it, so the two cannot drift. Pure data: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

RUNNABLE_JOB_TYPES = ("runSh", "runCLI", "release", "manifest")
CLOUD_JOB_TYPES = ("runCI", "deploy", "provision", "externalCI", "jenkinsJob")
OLD_JOB_TYPES = ("dclDeploy", "ecsDeploy", "gkeDeploy", "tripubDeploy")
JOB_TYPES = RUNNABLE_JOB_TYPES + CLOUD_JOB_TYPES + OLD_JOB_TYPES

RESOURCE_TYPES = (
    "gitRepo", "syncRepo", "ciRepo", "params", "image", "version", "time", "trigger",
    "webhook", "state", "notification", "integration", "cliConfig", "cluster", "replicas",
    "dockerOptions", "loadBalancer", "file", "externalCI", "externalCIServer", "awsKeys",
    "vmCluster",
)
OLD_RESOURCE_TYPES = ("dclCluster", "ecsCluster", "gkeCluster", "tripubCluster")

TRIGGER_MODES = ("serial", "parallel")
DEPENDENCY_MODES = ("chrono", "strict", "immediate")
BUMPS = ("major", "minor", "patch", "rc", "alpha", "beta", "final")
# `switch:` as YAML 1.1 and 1.2 readers see it: a boolean or the word.
SWITCHES: tuple[Any, ...] = (True, False, "on", "off", "true", "false", "yes", "no")
NOTIFY_METHODS = ("webhook", "slack", "email")
HOOKS = ("on_start", "on_success", "on_failure", "on_cancel", "always")
DEFINITION_PARTS = ("versionTemplate", "pointer", "seed", "version", "source")

# Shippable CI sections may share a workflow file; they are a separate model.
CI_KEYS = (
    "language", "build", "env", "matrix", "branches", "node_js", "jdk", "integrations",
    "services", "python", "go", "php", "ruby", "scala", "rust", "compiler", "os", "dist",
    "addons", "cache", "git", "before_install", "install", "script", "after_success",
    "after_failure", "notifications", "runtime", "vote", "depth", "gitConfig", "before_script",
    "after_script",
)
CI_WHY = ("a Shippable CI section's key; a section (language: or build:) runs as the "
          "<repo>_runCI job")

SCALAR = "scalar"  # a string, number or boolean: YAML reads `1.0` and `"1.0"` differently
ANY = "any"


@dataclass(frozen=True)
class Key:
    """One key of an object: what it holds and whether Gitline acts on it."""

    name: str
    types: tuple[str, ...]  # JSON types, SCALAR or ANY
    about: str
    shape: str = ""  # the Shape of an object value, or of each object item of a list
    items: tuple[str, ...] = ()  # the types of a list's items
    enum: tuple[Any, ...] = ()
    not_applied: str = ""  # why Gitline reads it but does not act on it
    alias_of: str = ""  # another spelling the loader accepts (and says so)
    required: bool = False


@dataclass(frozen=True)
class Shape:
    """The keys of one kind of object. An open shape also takes keys it does not list."""

    name: str
    about: str
    keys: tuple[Key, ...]
    closed: bool = True

    def key(self, name: str) -> Key | None:
        return self._by_name.get(name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._by_name)

    @cached_property
    def _by_name(self) -> dict[str, Key]:  # workflows of 10,000 objects are checked key by key
        return {k.name: k for k in self.keys}


def _k(name: str, types: str, about: str, **more: Any) -> Key:
    return Key(name, tuple(types.split("|")), about, **more)


_NO_CONTAINER = "jobs run in Gitline's bubblewrap sandbox, not in a container image"
_NO_CLOUD = "this is for Shippable's managed deploy jobs, which do not run here"

_SCRIPT = _k("script", "string|array", "Shell lines, run in order with bash -e.",
             items=(SCALAR, "array"))
_NOTIFY = _k("NOTIFY", "string|object|array", "notification resources to send to.",
             shape="notify", items=("string", "object"))
_COMMON_JOB = (
    _k("name", "string", "Unique name of the job.", required=True),
    _k("type", "string", "The job type.", enum=JOB_TYPES, required=True),
    _k("steps", "array|object", "IN, OUT and TASK steps, in order.", shape="step",
       items=("object",)),
    _k("triggerMode", "string", "serial (default): one run at a time; parallel: no wait.",
       enum=TRIGGER_MODES),
    _k("dependencyMode", "string", "chrono (default): wait while an input job is queued, "
       "running or its newest run failed; strict: also while a job above it is; "
       "immediate: never wait.",
       enum=DEPENDENCY_MODES),
    _k("priority", "integer|string", "Orders due runs: 0 first, default 9999."),
    _k("runtime", "object", "Where and how long the job runs.", shape="job runtime"),
    _k("requiresApproval", "boolean|object", "A due run waits for an approval commit.",
       shape="approval"),
    _k("retries", "integer|string", "Run a failed or timed-out run again up to N times."),
    _k("flags", "string|array", "Labels for Shippable's dashboard filters.", items=(SCALAR,),
       not_applied="Gitline has no dashboard to filter"),
    *(_k(h, "object|array|string", f"Hook: script and NOTIFY run {h.replace('_', ' ')}.",
         shape="hook", items=("object", SCALAR)) for h in HOOKS),
    _k("allowPublicAccess", "boolean", "Make the job's console public on Shippable.",
       not_applied="read access is the config repository's and the API's (tokens)"),
    _k("timeoutMinutes", "number|string", "A timeout written beside runtime:.",
       not_applied="Gitline reads the timeout from runtime.timeoutMinutes"),
    _k("integrations", "array|string", "Secrets (HOME/secrets.yml) the job gets as "
       "<NAME>_INTEGRATION_<FIELD> and its keys as-is; shipctl get_integration_field.",
       items=(SCALAR,)),
)
_JOB_EXTRAS: dict[str, tuple[Key, ...]] = {
    "deploy": (
        _k("method", "string", "Deploy method (blueGreen, upgrade, replace, ...).",
           not_applied=_NO_CLOUD),
        _k("workflow", "string", "Deploy several manifests in parallel or serially.",
           not_applied=_NO_CLOUD),
        _k("stabilityDuration", "integer", "Seconds a blueGreen deploy must stay stable.",
           not_applied=_NO_CLOUD),
        _k("maxWaitTime", "integer", "Seconds to wait for a deploy to become stable.",
           not_applied=_NO_CLOUD),
    ),
    "jenkinsJob": (
        _k("integration", "string", "The Jenkins server's integration.",
           not_applied="jenkinsJob runs on Jenkins"),
        _k("pointer", "object", "The Jenkins job (sourceName).", shape="open",
           not_applied="jenkinsJob runs on Jenkins"),
    ),
    "release": (
        _k("bump", "string", "How the version input is bumped (default minor); a TASK's "
           "bump wins.", enum=BUMPS),
        _k("options", "object", "2016 syntax of a release's bump (action: minor).",
           shape="open", not_applied="write 'bump:' beside 'TASK: managed'"),
    ),
}

_INPUT = (
    _k("dependencyMode", "string", "For an input job: this input's dependencyMode "
       "(else the job's).", enum=DEPENDENCY_MODES),
    _k("switch", "boolean|string", "off: a new version of this input never starts the job.",
       enum=SWITCHES),
    _k("versionName", SCALAR, "Pin the input to the version with this name."),
    _k("versionNumber", "integer|string", "Pin the input to this version number."),
    _k("showBuildStatus", "boolean", "Post the run's status to the gitRepo's commit "
       "(GitHub, GitLab, Gitea; the gitRepo's integration)."),
    _k("applyTo", "array|string", "Apply params/dockerOptions to some images of a manifest.",
       items=(SCALAR, "object"), shape="open", not_applied=_NO_CLOUD),
    _k("scopes", "array|string", "Scopes of a cliConfig input (gke, ecr, ...).",
       items=(SCALAR,), not_applied="a scope logs in through the cloud's API (ECR, GKE); "
       "Gitline writes the tool's own configuration from the integration"),
    _k("pull", "boolean", "Pull the image of a manifest input.", not_applied=_NO_CLOUD),
    _k("force", "boolean", "Deploy even when the manifest did not change.",
       not_applied=_NO_CLOUD),
)

_GITREPO = (
    _k("sourceName", "string", "org/repo on the integration's host, a URL, or '.' for "
       "this config repository."),
    _k("url", "string", "The repository's URL (instead of sourceName)."),
    _k("path", "string", "With sourceName '.': only changes under this path version it."),
    _k("branch", "string", "The branch followed."),
    _k("branchName", "string", "Older spelling of branch."),
    _k("branches", "object", "Branches followed: only / except, with globs.", shape="filter"),
    _k("tags", "object|boolean", "Tags followed: only / except, with globs.",
       shape="filter"),
    _k("buildOnTagPush", "boolean", "A new tag is a version."),
    _k("pollSeconds", "integer|string", "How often another repository is fetched."),
    _k("showBuildStatus", "boolean", "Post the status of every run from its commits "
       "(as showBuildStatus on each IN step)."),
    _k("buildOnCommit", "boolean", "A new commit is a version (default true).",
       not_applied="every new commit on the followed branches is a version"),
    *(_k(k, "boolean", f"Shippable: {k} webhooks make a version.",
         not_applied="Gitline follows branches and tags, not pull requests or releases")
      for k in ("buildOnPullRequest", "buildOnPullRequestClose", "buildOnRelease")),
    _k("name", "string", "2016 'source:' syntax for sourceName.",
       not_applied="write sourceName"),
)

SHAPES: dict[str, Shape] = {s.name: s for s in (
    Shape("resource", "A resource: something jobs take as input or write as output.", (
        _k("name", "string", "Unique name of the resource.", required=True),
        _k("type", "string", "The resource type.", enum=RESOURCE_TYPES + OLD_RESOURCE_TYPES,
           required=True),
        _k("integration", "string", "The secret (HOME/secrets.yml) this resource uses."),
        _k("flags", "string|array", "Labels for Shippable's dashboard filters.",
           items=(SCALAR,), not_applied="Gitline has no dashboard to filter"),
        *(_k(p, "object", f"The resource's definition ({p}).", shape="definition")
          for p in DEFINITION_PARTS),
    )),
    Shape("job", "A job of a type Gitline does not know.", _COMMON_JOB, closed=False),
    *(Shape(f"{t} job", f"A {t} job.", _COMMON_JOB + _JOB_EXTRAS.get(t, ()))
      for t in JOB_TYPES),
    Shape("job runtime", "Where and how long a job runs.", (
        _k("nodePool", "string", "Celery queue of the job (default_queue without it)."),
        _k("nodepool", "string", "Lower-case spelling of nodePool.", alias_of="nodePool"),
        _k("timeoutMinutes", "number|string", "Kill the run after this many minutes."),
        _k("container", "boolean", "Run the job in a container.", not_applied=_NO_CONTAINER),
    )),
    Shape("approval", "Who may approve, and how long a run waits.", (
        _k("approvers", "array|string", "Names or emails allowed to approve.",
           items=("string",)),
        _k("timeoutMinutes", "number|string", "Cancel the waiting run after this long."),
    )),
    Shape("IN step", "An input: a resource or a job.",
          (_k("IN", "string", "The resource or job.", required=True), *_INPUT)),
    Shape("GET step", "2016 spelling of an IN step.",
          (_k("GET", "string", "The resource or job.", required=True), *_INPUT)),
    Shape("OUT step", "An output resource the job may write.", (
        _k("OUT", "string", "The resource.", required=True),
        _k("replicate", "string", "Copy this input's version when the run wrote none."),
        _k("overwrite", "boolean", "Replace the output's values instead of adding to them."),
        _k("on_failure", "boolean", "A run that fails still makes a new version of this "
           "output from what it wrote."),
        _k("replicateOnPullRequest", "boolean", "Replicate for pull-request versions too.",
           not_applied="Gitline makes no pull-request versions"),
    )),
    Shape("TASK step", "The job's work: scripts, or 'managed' for release and manifest.", (
        _k("TASK", "string|object|array", "'managed', a script, a task or a list of tasks.",
           shape="task", items=("object", SCALAR), required=True),
        _k("bump", "string", "release: how the version resource is bumped.", enum=BUMPS),
        _k("deployMethod", "string", "deploy: blueGreen, upgrade or replace.",
           not_applied=_NO_CLOUD),
    )),
    Shape("task", "A named task: its script and its environment.", (
        _k("name", SCALAR, "Name of the task (in the log)."),
        _SCRIPT,
        _k("runtime", "object", "The task's environment.", shape="task runtime"),
    )),
    Shape("task runtime", "A task's runtime.", (
        _k("options", "object", "env, and container options.", shape="task options"),
        _k("container", "boolean", "Run the task in a container.", not_applied=_NO_CONTAINER),
        _k("nodePool", "string", "The Celery queue of a job with this one TASK (a job with "
           "several TASKs, or a nodePool of its own, runs on one: a warning says so)."),
        _k("nodepool", "string", "Lower-case spelling of nodePool.", alias_of="nodePool"),
        _k("timeoutMinutes", "number|string", "A timeout per task.",
           not_applied="the timeout is the job's runtime.timeoutMinutes"),
    )),
    Shape("task options", "A task's runtime options.", (
        _k("env", "array|object|string", "Variables: a list of {KEY: value} or KEY=value.",
           items=("object", "string")),
        *(_k(k, t, f"Container option {k}.", not_applied=_NO_CONTAINER)
          for k, t in (("imageName", "string"), ("imageTag", SCALAR), ("pull", "boolean"),
                       ("options", "string"))),
    )),
    Shape("hook", "A hook entry: script lines and notifications.", (_SCRIPT, _NOTIFY)),
    Shape("notify", "A notification to send.", (
        _k("name", "string", "The notification resource.", required=True),
        _k("sendFailingSnippet", "boolean", "Add the last 20 log lines when the run failed."),
    )),
    Shape("filter", "Names to follow, with globs.", (
        _k("only", "array|string", "Only these.", items=(SCALAR,)),
        _k("except", "array|string", "All but these.", items=(SCALAR,)),
    )),
    Shape("smtp", "Email settings of a notification.", (
        _k("from", "string", "The sender address."),
        _k("host", "string", "SMTP server (else the integration secret's host)."),
        _k("port", "integer|string", "SMTP port."),
        _k("starttls", "boolean", "Use STARTTLS."),
        _k("ssl", "boolean", "Use SMTPS."),
    )),
    Shape("open", "Settings Gitline passes on without reading them.", (), closed=False),
    Shape("definition", "Settings of a resource type Gitline does not run (managed jobs, "
          "tools): a change is a new version; keys are not checked.", (), closed=False),
    Shape("gitRepo definition", "A git repository and the refs followed.", _GITREPO),
    Shape("params definition", "Key/values exported to the job's environment.", (
        _k("params", "object", "KEY: value pairs; 'secure' holds encrypted ones.",
           shape="open"),
    )),
    Shape("image definition", "A container image.", (
        _k("sourceName", "string", "The image's repository."),
        _k("versionName", SCALAR, "The tag."),
        _k("isPull", "boolean", "The image is pulled, not built.", not_applied=_NO_CLOUD),
        _k("tag", SCALAR, "2016 'source:' syntax for versionName."),
        _k("name", "string", "2016 'source:' syntax for sourceName."),
    )),
    Shape("version definition", "A semantic version, bumped by release jobs.", (
        _k("versionName", SCALAR, "The seed version, e.g. \"0.0.1\"."),
        _k("base", SCALAR, "2016 'source:' syntax for versionName."),
    )),
    Shape("time definition", "A cron schedule.", (
        _k("interval", "string", "Cron: minute hour day month weekday (seconds first, "
           "optional).", required=True),
        _k("timezone", "string", "IANA time zone, default UTC."),
        _k("catchup", "string", "After downtime: once (one tick for the newest missed "
           "time) or skip.", enum=("once", "skip")),
    )),
    Shape("trigger definition", "Any value (usually counter): change it and push to run "
          "the jobs that take it.", (
        _k("counter", SCALAR, "Bump it to make a new version."),
    ), closed=False),
    Shape("webhook definition", "An incoming HTTP call (POST /hooks/<name>): its JSON body "
          "is the version's payload.", (
        _k("secret", "string", "The secret holding the key (instead of integration:)."),
    ), closed=False),
    Shape("notification definition", "Where NOTIFY and shipctl notify send.", (
        _k("method", "string", "How to send (without it: slack with an integration, "
           "webhook with url_secret, else email).", enum=NOTIFY_METHODS),
        _k("recipients", "array|string", "Channels or email addresses.", items=(SCALAR,)),
        _k("url_secret", "string", "The secret holding the webhook or Slack URL."),
        _k("smtp", "object", "Email settings; the server's login is the integration's "
           "secret.", shape="smtp"),
        _k("sendConsoleLogs", "boolean", "Attach the console log.",
           not_applied="use sendFailingSnippet on the job's NOTIFY"),
        _k("url", "string", "A URL written in the repository.",
           not_applied="URLs are secrets here: put it in a secret, name it with url_secret"),
    )),
)}


def job_shape(job_type: Any) -> Shape:
    """The keys of a job of `job_type` (an unknown type: the keys common to all jobs)."""
    return SHAPES.get(f"{job_type} job", SHAPES["job"])


def definition_shape(resource_type: Any) -> Shape:
    """The keys of a resource's definition; open for types whose settings are not read."""
    return SHAPES.get(f"{resource_type} definition", SHAPES["definition"])
