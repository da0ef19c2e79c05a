"""Which notifications a run owes (on_start ones as it starts, the rest when it ends),
and what each message says. Pure.

A run reports the NOTIFY events it produced (`on_failure: NOTIFY ops_slack`, one per hook
that ran, and `shipctl: NOTIFY ops_slack --text=...` from `shipctl notify`). From those,
the job's hooks (`sendFailingSnippet`) and the run's log, `plan_notices` makes Notice
values; `read_target` reads a `notification` resource's definition; `render` turns a
Notice and a Target into the message a method sends. Secrets are names here, never values:
the edge (`notify/delivery.py`) looks them up.

A notification resource, in either style:

    - name: ops_hook                  # Gitline style
      type: notification
      versionTemplate:
        method: webhook               # webhook | slack | email
        url_secret: ops_hook_url      # the secret holding the URL (webhook, slack)
    - name: ops_mail
      type: notification
      versionTemplate:
        method: email
        recipients: [ops@example.com]
        smtp: {from: ci@example.com}  # server and login: the integration's secret
      integration: ops_smtp           # {host: ..., port: 587, user: ..., password: ...}
    - name: ops_slack                 # Shippable style: the integration's secret is the URL
      type: notification
      integration: ops_slack_int
      versionTemplate: {recipients: ["#ops"]}
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from controller.core import model, vocabulary

# "integration": written with `integration:` and no `method:`; settled by its secret.
Method = Literal["webhook", "slack", "email", "integration"]
METHODS: tuple[str, ...] = vocabulary.NOTIFY_METHODS
BY_SECRET = ("the method follows its secret: email for an SMTP server (a 'host' field), "
             "Slack for a hooks.slack.com URL, a JSON webhook for any other URL (Shippable's "
             "webhook-shaped providers); write method: to say it")
SNIPPET_LINES = 20
ON_START = "on_start"
# `<event>: NOTIFY <name>[ --key=value...]`: a name may hold spaces ("Slack (DevTac)")
_EVENT = re.compile(r"^(?P<event>[a-z_]+): NOTIFY (?P<name>.+?)"
                    r"(?P<rest>\s--[A-Za-z0-9][A-Za-z0-9_-]*=.*)?$", re.S)
_OPTION = re.compile(r"(?:^|\s)--([A-Za-z0-9][A-Za-z0-9_-]*)=")


class TargetError(ValueError):
    """A notification resource's definition cannot be delivered to."""


# One mail address, no display name: no spaces, commas, brackets or control characters
# (a CR/LF would start a new mail header).
_EMAIL = re.compile(r"[^\s@,;<>()\[\]\\\"]+@[^\s@,;<>()\[\]\\\"]+")


def smtp_problem(smtp: Any) -> str | None:
    """Why a workflow's `smtp:` mapping is refused: a login is never the workflow's to name."""
    if isinstance(smtp, dict) and ("user_secret" in smtp or "password_secret" in smtp):
        return ("smtp: user_secret/password_secret are not read: the SMTP server and its "
                "login are one secret (host, port, user, password, tls) named by the "
                "notification's integration")
    return None


def recipient_problem(recipient: str, method: str) -> str | None:
    """Why `recipient` cannot be sent to by `method`; None if it can."""
    if any(not c.isprintable() for c in recipient):
        return f"recipient {recipient!r} contains a control character (CR, LF, ...)"
    if method == "email" and not _EMAIL.fullmatch(recipient):
        return f"recipient {recipient!r} is not a mail address (user@host)"
    return None


@dataclass(frozen=True)
class Target:
    """Where a notification resource sends, with secrets as names."""

    method: Method
    url_secret: str = ""  # webhook, slack: the secret whose value is the URL
    recipients: tuple[str, ...] = ()
    smtp: dict[str, Any] = field(default_factory=dict)  # host, port, from, starttls
    smtp_secret: str = ""  # an integration mapping with host/port/user/password/from


@dataclass(frozen=True)
class Notice:
    """One message a run owes to one notification resource."""

    notification: str
    event: str  # on_start, on_success, on_failure, on_cancel, always, shipctl
    job: str
    run: int
    status: str
    text: str
    cause: str = ""
    snippet: str = ""  # the last lines of the log (sendFailingSnippet)
    options: dict[str, str] = field(default_factory=dict)  # from `shipctl notify --k=v`


@dataclass(frozen=True)
class Message:
    """What to send: a JSON body (webhook, slack) or a mail (email)."""

    method: Method
    json: dict[str, Any] = field(default_factory=dict)
    subject: str = ""
    body: str = ""
    recipients: tuple[str, ...] = ()


def parse_event(event: str) -> tuple[str, str, dict[str, str]] | None:
    """`on_failure: NOTIFY ops` -> ("on_failure", "ops", {}); options for shipctl events."""
    found = _EVENT.match(event.strip())
    if found is None:
        return None
    rest = found["rest"] or ""
    keys = list(_OPTION.finditer(rest))
    options = {}
    for i, key in enumerate(keys):
        end = keys[i + 1].start() if i + 1 < len(keys) else len(rest)
        options[key[1]] = rest[key.end():end].strip()
    return found["event"], found["name"], options


def describe(run: model.Run, event: str) -> str:
    """`deploy_prod run 3 failed (exit 1)`: the headline of a notice."""
    if event == "on_start":
        return f"{run.job} run {run.number} started"
    status = run.status.replace("_", " ")
    if run.status == "failed" and run.exit_code is not None:
        status += f" (exit {run.exit_code})"
    return f"{run.job} run {run.number} {status}"


def snippet(log: str, lines: int = SNIPPET_LINES) -> str:
    return "\n".join(log.rstrip("\n").splitlines()[-lines:])


def plan_notices(job: model.Job, run: model.Run, events: tuple[str, ...] | list[str],
                 log: str) -> list[Notice]:
    """The notices a finished run owes: one per NOTIFY event, in order, without repeats."""
    notices: list[Notice] = []
    seen: set[tuple[str, str, tuple[tuple[str, str], ...]]] = set()
    for event in events:
        parsed = parse_event(event)
        if parsed is None:
            continue
        hook, name, options = parsed
        key = (hook, name, tuple(sorted(options.items())))
        if key in seen:
            continue
        seen.add(key)
        wants_snippet = any(n.name == name and n.send_failing_snippet
                            for n in job.hooks.get(hook, model.Hook()).notify)
        text = describe(run, hook)
        if run.message and hook != "on_start":
            text += f": {run.message}"
        notices.append(Notice(
            notification=name, event=hook, job=run.job, run=run.number, status=run.status,
            text=options.get("text") or text, cause=str(run.cause),
            snippet=snippet(log) if wants_snippet and run.status != "succeeded" else "",
            options=options))
    return notices


def start_notices(job: model.Job, run: model.Run) -> list[Notice]:
    """The notices a run owes as it starts: its on_start hook's NOTIFY, sent right away."""
    hook = job.hooks.get(ON_START)
    events = [f"{ON_START}: NOTIFY {n.name}" for n in hook.notify] if hook else []
    return plan_notices(job, run, events, "")


def finished_events(events: tuple[str, ...] | list[str]) -> list[str]:
    """The NOTIFY events left to send when a run ends: on_start ones went at its start."""
    return [e for e in events if not e.strip().startswith(f"{ON_START}:")]


def _names(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, list | tuple) else [value]
    return tuple(str(v).strip() for v in items if str(v).strip())


def read_target(resource: model.Resource) -> Target:
    """A notification resource's Target; TargetError says what is missing."""
    d = resource.definition
    if resource.type != "notification":
        raise TargetError(f"{resource.name} is a {resource.type}, not a notification resource")
    if d.get("url") or d.get("webhookUrl"):
        raise TargetError(f"{resource.name}: a URL in the repository is not allowed; put it in "
                          "a secret and name it with url_secret")
    url_secret = str(d.get("url_secret") or resource.integration or "")
    recipients = _names(d.get("recipients"))
    method = str(d.get("method") or "").strip().lower()
    if not method and resource.integration:  # Shippable took it from the integration's type
        return Target("integration", url_secret=url_secret, recipients=recipients,
                      smtp_secret=resource.integration)
    if not method:  # url_secret alone: a webhook; recipients alone: email
        method = "webhook" if url_secret else "email"
    if method not in METHODS:
        raise TargetError(f"{resource.name}: method {method!r} is not one of "
                          f"{', '.join(METHODS)}")
    for recipient in recipients:
        problem = recipient_problem(recipient, method)
        if problem:
            raise TargetError(f"{resource.name}: {problem}")
    if method == "email":
        smtp_value = d.get("smtp")
        smtp: dict[str, Any] = smtp_value if isinstance(smtp_value, dict) else {}
        if not recipients:
            raise TargetError(f"{resource.name}: method email needs recipients")
        refused = smtp_problem(smtp)
        if refused:
            raise TargetError(f"{resource.name}: {refused}")
        if not smtp.get("host") and not resource.integration:
            raise TargetError(f"{resource.name}: method email needs smtp: {{host: ...}} or an "
                              "integration secret with host")
        return Target(
            "email", recipients=recipients,
            smtp={k: smtp[k] for k in ("host", "port", "from", "starttls", "ssl") if k in smtp},
            smtp_secret=resource.integration)
    if not url_secret:
        raise TargetError(f"{resource.name}: method {method} needs url_secret (or integration)")
    return Target(method, url_secret=url_secret, recipients=recipients)  # type: ignore[arg-type]


def settle(target: Target, url: str, smtp_host: bool) -> Target:
    """A Target of method "integration" as its secret says (see BY_SECRET); TargetError
    when that cannot be sent (an email without recipients)."""
    if target.method != "integration":
        return target
    if smtp_host:
        for recipient in target.recipients or ("",):
            problem = recipient_problem(recipient, "email") if recipient else \
                "method email needs recipients"
            if problem:
                raise TargetError(problem)
        return Target("email", recipients=target.recipients, smtp_secret=target.smtp_secret)
    host = re.sub(r"^[a-z]+://([^/:?#]*).*$", r"\1", url.strip().lower(), flags=re.S)
    method: Method = "slack" if host == "hooks.slack.com" else "webhook"
    return Target(method, url_secret=target.url_secret, recipients=target.recipients)


def render(notice: Notice, target: Target) -> Message:
    """The message `target` gets for `notice`."""
    recipients = _names(notice.options.get("recipient")) or target.recipients
    if target.method == "webhook":
        body: dict[str, Any] = {
            "notification": notice.notification, "event": notice.event, "job": notice.job,
            "run": notice.run, "status": notice.status, "text": notice.text,
            "cause": notice.cause}
        if notice.snippet:
            body["snippet"] = notice.snippet
        if notice.options:
            body["options"] = dict(notice.options)
        return Message("webhook", json=body)
    if target.method == "slack":
        text = notice.text
        if notice.snippet:
            text += f"\n```\n{notice.snippet}\n```"
        slack: dict[str, Any] = {"text": text}
        if len(recipients) == 1:
            slack["channel"] = recipients[0]
        for opt, key in (("username", "username"), ("icon-url", "icon_url")):
            if notice.options.get(opt):
                slack[key] = notice.options[opt]
        return Message("slack", json=slack)
    body_text = f"{notice.text}\n\ncause: {notice.cause}\n"
    if notice.snippet:
        body_text += f"\nlast lines of the log:\n\n{notice.snippet}\n"
    return Message("email", subject=f"[gitline] {notice.text.splitlines()[0][:150]}",
                   body=body_text, recipients=recipients)
