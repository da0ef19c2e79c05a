"""Sends what `core/notices.py` decided: JSON POST, Slack incoming webhook, SMTP mail.

Never blocks or fails a run: `submit` only queues; one background thread sends, retrying
a temporary failure (connection error, HTTP 5xx or 429, SMTP error) with exponential
backoff, a bounded number of times. Each batch (the notices of one run) ends in one
record through the `record` callable it is handed (a commit on the state branch). Secret
values (URLs, passwords) are looked up when sending, never logged and never recorded:
every error text is masked with all secret values first.
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, ClassVar

from controller.core import notices
from controller.core.clock import now_iso
from controller.masking import mask
from controller.notify.sendthread import SendThread
from controller.secrets import Secret, find, lookup, secret_values

log = logging.getLogger("gitline")


class TemporaryError(Exception):
    """Sending failed in a way a retry may fix."""


class PermanentError(Exception):
    """Sending cannot work as configured (a 4xx, a missing secret)."""


@dataclass(frozen=True)
class Item:
    """One notice of a batch, with its target, or why there is none."""

    notice: notices.Notice
    target: notices.Target | None = None
    error: str = ""  # set when the resource cannot be delivered to


@dataclass(frozen=True)
class Batch:
    job: str
    run: int
    items: tuple[Item, ...] = ()


@dataclass
class Result:
    notification: str
    event: str
    method: str
    status: str = "delivered"  # delivered | failed | skipped
    attempts: int = 0
    error: str = ""
    at: str = ""

    def as_dict(self) -> dict[str, Any]:
        out = {"notification": self.notification, "event": self.event, "method": self.method,
               "status": self.status, "attempts": self.attempts, "at": self.at}
        if self.error:
            out["error"] = self.error
        return out


# --- sending one message --------------------------------------------------------------


def post_json(url: str, body: dict[str, Any], timeout: float,
              headers: Mapping[str, str] | None = None) -> None:
    if not url.startswith(("http://", "https://")):
        raise PermanentError("the URL secret is not an http(s) URL")
    data = json.dumps(body).encode("utf-8")
    req = urllib.request.Request(url, data=data, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": "gitline", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - http(s) only
            resp.read(64 * 1024)
    except urllib.error.HTTPError as err:
        what = f"HTTP {err.code}"
        if err.code >= 500 or err.code == 429:
            raise TemporaryError(what) from None
        raise PermanentError(what) from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise TemporaryError(f"{type(err).__name__}: {reason}") from None


def send_mail(config: Mapping[str, Any], message: notices.Message, timeout: float) -> None:
    for recipient in message.recipients:
        problem = notices.recipient_problem(recipient, "email")
        if problem:
            raise PermanentError(problem)
    mail = EmailMessage()
    mail["From"] = str(config.get("from") or "gitline@localhost")
    mail["To"] = ", ".join(message.recipients)
    mail["Subject"] = message.subject
    mail.set_content(message.body)
    host, port = str(config["host"]), int(config.get("port") or 25)
    mode = smtp_tls(config)
    try:
        context = ssl.create_default_context()
        with (smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
              if mode == "smtps" else smtplib.SMTP(host, port, timeout=timeout)) as smtp:
            if mode == "starttls":
                smtp.ehlo()
                if not smtp.has_extn("starttls"):
                    raise PermanentError(f"SMTP server {host}:{port} does not offer STARTTLS; "
                                         "nothing was sent (tls: plain in the secret allows "
                                         "plain text, for a local relay)")
                smtp.starttls(context=context)
            if config.get("user") and config.get("password"):
                smtp.login(str(config["user"]), str(config["password"]))
            smtp.send_message(mail)
    except smtplib.SMTPAuthenticationError as err:
        raise PermanentError(f"SMTP authentication failed ({err.smtp_code})") from None
    except (smtplib.SMTPException, OSError) as err:
        raise TemporaryError(f"{type(err).__name__}: {err}") from None


def smtp_tls(config: Mapping[str, Any]) -> str:
    """starttls, smtps or plain. Credentials travel encrypted unless the secret's owner
    wrote `tls: plain`; a relay without credentials keeps the workflow's starttls/ssl."""
    tls = str(config.get("tls", "")).strip().lower()
    if tls in ("starttls", "smtps", "plain"):
        return tls
    if str(config.get("ssl", "")).lower() in ("true", "yes", "on", "1"):
        return "smtps"
    if str(config.get("starttls", "")).lower() in ("true", "yes", "on", "1"):
        return "starttls"
    return "starttls" if config.get("user") or config.get("password") else "plain"


def send_with_retries(send: Callable[[], None], result: Result, *, attempts: int,
                      backoff: float, stop: threading.Event, hidden: list[str]) -> None:
    """Call `send` until it works, a permanent error, `attempts` tries or `stop`; the
    outcome (errors masked with `hidden`) goes into `result`."""
    delay = backoff
    while True:
        result.attempts += 1
        try:
            send()
            result.status, result.error = "delivered", ""
            break
        except PermanentError as err:
            result.status, result.error = "failed", mask(str(err), hidden)
            break
        except TemporaryError as err:
            result.status, result.error = "failed", mask(str(err), hidden)
            if result.attempts >= attempts or stop.wait(delay):
                break
            delay *= 2
        except Exception as err:  # a header the mail library refuses, ...: this one only
            result.status = "failed"
            result.error = mask(f"{type(err).__name__}: {err}", hidden)
            break
    result.at = now_iso()


# --- the worker -------------------------------------------------------------------------


@dataclass
class Deliverer(SendThread[Batch]):
    """A queue of batches and one thread that sends them, with bounded retries."""

    thread_name: ClassVar[str] = "gitline-notify"

    secrets: Callable[[], Mapping[str, Secret]]
    record: Callable[[str, int, list[dict[str, Any]]], None]
    enabled: bool = True
    attempts: int = 4  # tries per message
    backoff: float = 0.5  # seconds before the 2nd try; doubles each time
    timeout: float = 10.0  # per HTTP request / SMTP session

    def submit(self, batch: Batch) -> None:
        """Queue a batch; returns at once."""
        if batch.items:
            self._queue.put(batch)

    def send(self, batch: Batch) -> object:
        return self.deliver(batch)

    def failed(self, batch: Batch) -> str:
        return f"{batch.job}: run {batch.run}: notification delivery failed"

    def deliver(self, batch: Batch) -> list[Result]:
        """Send every item of `batch`, then record the results once."""
        try:
            secrets = dict(self.secrets())
        except Exception as err:  # an unsafe secrets file: send nothing that needs one
            log.error("notifications: secrets unavailable: %s", err)
            secrets = {}
        hidden = secret_values(secrets)
        results = [self._deliver_one(item, secrets, hidden) for item in batch.items]
        for r in results:
            level = logging.INFO if r.status != "failed" else logging.WARNING
            log.log(level, "%s: %s run %d %s: %s%s", r.notification, batch.job, batch.run,
                    r.event, r.status, f" ({r.error})" if r.error else "")
        self.record(batch.job, batch.run, [r.as_dict() for r in results])
        return results

    def _deliver_one(self, item: Item, secrets: Mapping[str, Secret],
                     hidden: list[str]) -> Result:
        n, target = item.notice, item.target
        result = Result(n.notification, n.event, target.method if target else "", at=now_iso())
        if item.error or target is None:
            result.status, result.error = "failed", item.error or "no target"
            return result
        if not self.enabled:
            result.status, result.error = "skipped", "notifications are off (gitline.yml)"
            return result
        try:
            target = self._settled(target, secrets)
            result.method = target.method
            message = notices.render(n, target)
            for recipient in message.recipients:  # a CR/LF would forge mail headers
                problem = notices.recipient_problem(recipient, message.method)
                if problem:
                    raise ValueError(problem)
            send = self._sender(n, target, message, secrets)
        except PermanentError as err:
            result.status, result.error = "skipped", str(err)
            return result
        except Exception as err:  # one bad notice never costs the batch its others
            result.status, result.error = "failed", mask(str(err), hidden)
            return result
        send_with_retries(send, result, attempts=self.attempts, backoff=self.backoff,
                          stop=self._stop, hidden=hidden)
        return result

    @staticmethod
    def _settled(target: notices.Target, secrets: Mapping[str, Secret]) -> notices.Target:
        """`integration:` without `method:`: the method its secret calls for."""
        if target.method != "integration":
            return target
        secret = find(secrets, target.url_secret)
        if secret is None:
            raise PermanentError(f"secret {target.url_secret} is not set")
        url = secret.value or secret.fields.get("url", "")
        return notices.settle(target, url, bool(secret.fields.get("host")))

    def _sender(self, notice: notices.Notice, target: notices.Target,
                message: notices.Message,
                secrets: Mapping[str, Secret]) -> Callable[[], None]:
        """A no-argument send for `message`; PermanentError if a secret is missing or is
        not for this notification (its scope in secrets.yml)."""
        for name in {target.url_secret, target.smtp_secret} - {""}:
            secret = find(secrets, name)
            if secret is not None and not secret.scope.allows(resource=notice.notification,
                                                               job=notice.job):
                raise PermanentError(f"secret {name} is not for notification "
                                     f"{notice.notification} or job {notice.job} "
                                     f"(secrets.yml gives it to {secret.scope.describe()})")
        if message.method in ("webhook", "slack"):
            url = lookup(secrets, target.url_secret) or lookup(secrets, target.url_secret, "url")
            if not url:
                raise PermanentError(f"secret {target.url_secret} is not set")
            return lambda: post_json(url, message.json, self.timeout)
        config: dict[str, Any] = dict(target.smtp)
        base = find(secrets, target.smtp_secret)
        if target.smtp_secret and base is None:
            raise PermanentError(f"secret {target.smtp_secret} is not set")
        if base is not None:  # the server comes with its credentials, never from the workflow
            config = {k: v for k, v in config.items() if k == "from"}
            config.update(base.fields)
        if not config.get("host"):
            raise PermanentError("no SMTP host")
        return lambda: send_mail(config, message, self.timeout)
