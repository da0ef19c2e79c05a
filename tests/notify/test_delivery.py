"""Delivery to real servers on 127.0.0.1: JSON POST, Slack webhook, SMTP; retries; masking."""

from __future__ import annotations

import time

import pytest

from controller.core import notices
from controller.notify.delivery import Batch, Deliverer, Item
from controller.secrets import parse
from tests.harness.sinks import HttpSink, SmtpSink

NOTICE = notices.Notice("ops", "on_failure", "deploy", 3, "failed",
                        "deploy run 3 failed (exit 1)", cause="trigger: triggers/deploy",
                        snippet="boom")


def deliverer(entries: dict, records: list, **kw) -> Deliverer:
    """A Deliverer over `entries` written as in secrets.yml."""
    kw.setdefault("backoff", 0.05)
    secrets = {name: parse(name, value) for name, value in entries.items()}
    return Deliverer(secrets=lambda: secrets,
                     record=lambda job, run, results: records.append((job, run, results)), **kw)


def test_webhook_and_slack_posts_arrive():
    records: list = []
    with HttpSink() as sink:
        d = deliverer({"hook_url": sink.url("/hook"), "slack_url": sink.url("/slack")}, records)
        results = d.deliver(Batch("deploy", 3, (
            Item(NOTICE, notices.Target("webhook", url_secret="hook_url")),
            Item(NOTICE, notices.Target("slack", url_secret="slack_url")),
        )))
        assert [r.status for r in results] == ["delivered", "delivered"]
        hook, slack = sink.received
    assert hook.path == "/hook" and hook.body["job"] == "deploy" and hook.body["snippet"] == "boom"
    assert hook.headers["Content-Type"] == "application/json"
    assert slack.path == "/slack" and slack.body == {
        "text": "deploy run 3 failed (exit 1)\n```\nboom\n```"}
    [(job, run, recorded)] = records
    assert (job, run) == ("deploy", 3)
    assert [(r["notification"], r["status"], r["attempts"]) for r in recorded] == [
        ("ops", "delivered", 1), ("ops", "delivered", 1)]


def test_temporary_failures_are_retried_with_backoff_then_delivered():
    records: list = []
    with HttpSink(statuses=[500, 503]) as sink:
        d = deliverer({"u": sink.url()}, records, backoff=0.2)
        start = time.monotonic()
        [result] = d.deliver(Batch("deploy", 3, (Item(NOTICE, notices.Target("webhook",
                                                                              url_secret="u")),)))
        elapsed = time.monotonic() - start
    assert (result.status, result.attempts, sink.hits) == ("delivered", 3, 3)
    assert elapsed >= 0.2 + 0.4  # waited 0.2 s, then 0.4 s


def test_retries_are_bounded_and_the_failure_is_recorded_without_the_secret():
    records: list = []
    with HttpSink(statuses=[500] * 10) as sink:
        secret_url = sink.url("/T000/B000/very-secret-token")
        d = deliverer({"u": secret_url}, records, attempts=3)
        [result] = d.deliver(Batch("deploy", 3, (Item(NOTICE, notices.Target("webhook",
                                                                              url_secret="u")),)))
    assert (result.status, result.attempts, result.error) == ("failed", 3, "HTTP 500")
    assert "very-secret-token" not in repr(records)


def test_a_client_error_is_not_retried():
    with HttpSink(statuses=[404]) as sink:
        d = deliverer({"u": sink.url()}, [])
        [result] = d.deliver(Batch("j", 1, (Item(NOTICE, notices.Target("webhook",
                                                                         url_secret="u")),)))
    assert (result.status, result.attempts, result.error) == ("failed", 1, "HTTP 404")


def test_connection_refused_is_masked_and_bounded():
    records: list = []
    with HttpSink() as sink:
        url = sink.url("/secret-path-xyz")
    d = deliverer({"u": url}, records, attempts=2)  # the sink is closed now
    [result] = d.deliver(Batch("j", 1, (Item(NOTICE, notices.Target("webhook", url_secret="u")),)))
    assert result.status == "failed" and result.attempts == 2
    assert "secret-path-xyz" not in repr(records)


def test_missing_secret_or_disabled_delivery_is_skipped_and_recorded():
    records: list = []
    target = notices.Target("webhook", url_secret="absent")
    [missing] = deliverer({}, records).deliver(Batch("j", 1, (Item(NOTICE, target),)))
    assert (missing.status, missing.error) == ("skipped", "secret absent is not set")
    [off] = deliverer({"absent": "http://127.0.0.1:9/"}, records, enabled=False).deliver(
        Batch("j", 1, (Item(NOTICE, target),)))
    assert off.status == "skipped" and "off" in off.error
    [bad] = deliverer({}, records).deliver(Batch("j", 1, (Item(NOTICE, error="no resource"),)))
    assert (bad.status, bad.error) == ("failed", "no resource")
    assert len(records) == 3


def smtp_secret(port: int, password: str, **fields: str) -> dict[str, str | int]:
    """The `mail` secret of these tests: a local SMTP sink and the login `ci`."""
    return {"host": "127.0.0.1", "port": port, "user": "ci", "password": password, **fields}


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_email_over_smtp_with_login():
    records: list = []
    with SmtpSink(user="ci", password="s3cret-pw") as smtp:
        target = notices.Target("email", recipients=("ops@example.com", "dev@example.com"),
                                smtp={"from": "ci@example.com"}, smtp_secret="mail")
        d = deliverer({"mail": smtp_secret(smtp.port, "s3cret-pw", tls="plain")}, records)
        [result] = d.deliver(Batch("deploy", 3, (Item(NOTICE, target),)))
        assert result.status == "delivered", result.error
        [(rcpt, mail)] = smtp.messages
    assert rcpt == ["ops@example.com", "dev@example.com"] and smtp.logins == ["ci"]
    assert mail["Subject"] == "[gitline] deploy run 3 failed (exit 1)"
    assert mail["From"] == "ci@example.com" and "boom" in mail.get_payload()


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_email_with_a_wrong_password_fails_without_retry_or_leak():
    records: list = []
    with SmtpSink(user="ci", password="right") as smtp:
        target = notices.Target("email", recipients=("a@b.c",), smtp_secret="mail")
        d = deliverer({"mail": smtp_secret(smtp.port, "wrong-pw-123", tls="plain")}, records)
        [result] = d.deliver(Batch("j", 1, (Item(NOTICE, target),)))
    assert result.status == "failed" and result.attempts == 1
    assert "wrong-pw-123" not in repr(records)


def test_submit_returns_at_once_and_the_thread_delivers():
    records: list = []
    with HttpSink(statuses=[500]) as sink:
        d = deliverer({"u": sink.url()}, records, backoff=0.5)
        d.start()
        start = time.monotonic()
        d.submit(Batch("j", 1, (Item(NOTICE, notices.Target("webhook", url_secret="u")),)))
        assert time.monotonic() - start < 0.1
        sink.wait(1)
        deadline = time.monotonic() + 10
        while not records and time.monotonic() < deadline:
            time.sleep(0.02)
        d.stop()
    assert records[0][2][0]["status"] == "delivered"


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_credentials_never_travel_in_clear_unless_the_secret_says_plain():
    records: list = []
    with SmtpSink(user="ci", password="pw-in-clear-1") as smtp:
        target = notices.Target("email", recipients=("a@b.c",), smtp_secret="mail")
        d = deliverer({"mail": smtp_secret(smtp.port, "pw-in-clear-1")}, records)
        [result] = d.deliver(Batch("j", 1, (Item(NOTICE, target),)))
        assert result.status == "failed" and "does not offer STARTTLS" in result.error
        assert smtp.logins == [] and smtp.messages == []


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_the_smtp_server_is_the_secrets_not_the_workflows():
    """A workflow naming its own server with a team's SMTP secret: the mail and the login go
    to the server in secrets.yml; the workflow's server sees nothing."""
    records: list = []
    with SmtpSink(user="ci", password="team-pw") as real, \
            SmtpSink(user="ci", password="team-pw") as attacker:
        target = notices.Target("email", recipients=("a@b.c",), smtp_secret="mail",
                                smtp={"host": "127.0.0.1", "port": attacker.port})
        d = deliverer({"mail": smtp_secret(real.port, "team-pw", tls="plain")}, records)
        [result] = d.deliver(Batch("j", 1, (Item(NOTICE, target),)))
        assert result.status == "delivered", result.error
        assert real.logins == ["ci"] and attacker.logins == [] and attacker.messages == []


def test_a_secret_reaches_only_the_notifications_and_jobs_of_its_scope():
    records: list = []
    with HttpSink() as sink:
        d = deliverer({"hook_url": {"value": sink.url("/h"), "resources": ["other_team"]},
                       "job_url": {"value": sink.url("/j"), "jobs": [NOTICE.job]}}, records)
        [refused, allowed] = d.deliver(Batch(NOTICE.job, 3, (
            Item(NOTICE, notices.Target("webhook", url_secret="hook_url")),
            Item(NOTICE, notices.Target("webhook", url_secret="job_url")))))
        assert refused.status == "skipped" and "not for notification" in refused.error
        assert allowed.status == "delivered", allowed.error
        assert [r.path for r in sink.received] == ["/j"]
