"""Which notices a finished run owes, notification targets, and the messages (pure)."""

from __future__ import annotations

import pytest

from controller.core import model, notices

LOC = model.Location("shippable.yml", 1, 1)
LOG = "\n".join(f"line {i}" for i in range(1, 31)) + "\n"


def job(**hooks: model.Hook) -> model.Job:
    return model.Job("deploy", "runSh", LOC, hooks=hooks)


def run(status: str = "failed", **kw) -> model.Run:
    cause = model.Cause("trigger", "triggers/deploy", "abcdef1234", "Ada <ada@example.com>")
    return model.Run("deploy", 3, status, cause, exit_code=kw.pop("exit_code", 1), **kw)


def res(name: str, definition: dict, integration: str = "") -> model.Resource:
    return model.Resource(name, "notification", definition, LOC, integration=integration)


def test_each_hook_event_is_one_notice_with_a_headline():
    got = notices.plan_notices(job(), run(), ["on_start: NOTIFY ops", "on_failure: NOTIFY ops",
                                              "always: NOTIFY team"], LOG)
    assert [(n.event, n.notification, n.text) for n in got] == [
        ("on_start", "ops", "deploy run 3 started"),
        ("on_failure", "ops", "deploy run 3 failed (exit 1)"),
        ("always", "team", "deploy run 3 failed (exit 1)"),
    ]
    assert got[1].cause == "trigger: triggers/deploy in abcdef1 by Ada <ada@example.com>"
    assert all(n.snippet == "" for n in got)


@pytest.mark.parametrize(
    ("status", "snippet_expected"),
    [("failed", True), ("timed_out", True), ("succeeded", False)],
)
def test_send_failing_snippet_adds_the_last_lines_when_the_run_did_not_succeed(
        status, snippet_expected):
    hooks = {"always": model.Hook(notify=(model.Notify("ops", send_failing_snippet=True),))}
    [n] = notices.plan_notices(job(**hooks), run(status, exit_code=None), ["always: NOTIFY ops"],
                               LOG)
    if snippet_expected:
        assert n.snippet.splitlines() == [f"line {i}" for i in range(11, 31)]
    else:
        assert n.snippet == ""


def test_shipctl_notify_options_and_text():
    events = ["shipctl: NOTIFY ops --color=red --text=deployed v1.2 to prod --recipient=a@b.c"]
    [n] = notices.plan_notices(job(), run("succeeded", exit_code=0), events, LOG)
    assert n.event == "shipctl" and n.text == "deployed v1.2 to prod"
    assert n.options == {"color": "red", "text": "deployed v1.2 to prod", "recipient": "a@b.c"}


def test_repeated_events_make_one_notice_and_junk_is_ignored():
    got = notices.plan_notices(job(), run(), ["on_failure: NOTIFY ops", "on_failure: NOTIFY ops",
                                              "garbage"], LOG)
    assert len(got) == 1


def test_the_run_message_is_part_of_the_text():
    [n] = notices.plan_notices(job(), run("timed_out", exit_code=None,
                                          message="timed out after 1 minutes"),
                               ["on_failure: NOTIFY ops"], LOG)
    assert n.text == "deploy run 3 timed out: timed out after 1 minutes"


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        (res("h", {"method": "webhook", "url_secret": "hook_url"}),
         notices.Target("webhook", url_secret="hook_url")),
        (res("s", {"recipients": ["#ops"]}, integration="slack_int"),  # settled by its secret
         notices.Target("integration", url_secret="slack_int", recipients=("#ops",),
                        smtp_secret="slack_int")),
        (res("s2", {"method": "slack", "url_secret": "x"}),
         notices.Target("slack", url_secret="x")),
        (res("m", {"method": "email", "recipients": "ops@example.com",
                   "smtp": {"host": "mail", "port": 2525}}),
         notices.Target("email", recipients=("ops@example.com",),
                        smtp={"host": "mail", "port": 2525})),
        (res("m2", {"method": "email", "recipients": ["a@b.c"]}, integration="smtp_int"),
         notices.Target("email", recipients=("a@b.c",), smtp_secret="smtp_int")),
    ],
    ids=["gitline-webhook", "shippable-slack", "gitline-slack", "email-smtp", "email-integration"],
)
def test_targets_in_both_styles(resource, expected):
    assert notices.read_target(resource) == expected


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        (res("h", {"method": "webhook", "url": "https://x"}), "URL in the repository"),
        (res("h", {"method": "pager", "url_secret": "x"}), "method 'pager'"),
        (res("h", {"method": "webhook"}), "needs url_secret"),
        (res("m", {"method": "email", "smtp": {"host": "x"}}), "needs recipients"),
        (res("m", {"method": "email", "recipients": ["a@b"]}), "needs smtp"),
        (res("m", {"method": "email", "recipients": ["a@b"],
                   "smtp": {"host": "x", "password_secret": "other_team"}}),
         "user_secret/password_secret are not read"),
    ],
    ids=["plain-url", "unknown-method", "no-secret", "no-recipients", "no-smtp", "smtp-login"],
)
def test_bad_targets_say_why(resource, message):
    with pytest.raises(notices.TargetError, match=message):
        notices.read_target(resource)


def test_messages_per_method():
    hooks = {"on_failure": model.Hook(notify=(model.Notify("ops", True),))}
    [n] = notices.plan_notices(job(**hooks), run(), ["on_failure: NOTIFY ops"], "boom\n")
    hook = notices.render(n, notices.Target("webhook", url_secret="x"))
    assert hook.json == {"notification": "ops", "event": "on_failure", "job": "deploy", "run": 3,
                         "status": "failed", "text": "deploy run 3 failed (exit 1)",
                         "cause": n.cause, "snippet": "boom"}
    slack = notices.render(n, notices.Target("slack", url_secret="x", recipients=("#ops",)))
    assert slack.json == {"text": "deploy run 3 failed (exit 1)\n```\nboom\n```",
                          "channel": "#ops"}
    mail = notices.render(n, notices.Target("email", recipients=("a@b.c",)))
    assert mail.subject == "[gitline] deploy run 3 failed (exit 1)"
    assert "boom" in mail.body and mail.recipients == ("a@b.c",)


@pytest.mark.parametrize(("url", "smtp_host", "recipients", "method"), [
    ("https://hooks.slack.com/services/T/B/X", False, ("#ops",), "slack"),
    ("https://hooks.example.com/ci", False, (), "webhook"),  # any webhook-shaped provider
    ("", True, ("ops@example.com",), "email"),
])
def test_an_integration_without_method_is_settled_by_its_secret(url, smtp_host, recipients,
                                                                 method):
    """#17: not silently Slack: the secret says which provider it is."""
    target = notices.read_target(res("n", {"recipients": list(recipients)}, integration="i"))
    assert notices.settle(target, url, smtp_host).method == method


def test_an_smtp_integration_without_recipients_cannot_be_settled():
    target = notices.read_target(res("n", {}, integration="i"))
    with pytest.raises(notices.TargetError, match="method email needs recipients"):
        notices.settle(target, "", True)
