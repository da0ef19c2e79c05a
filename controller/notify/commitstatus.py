"""Posts the status of runs back on the commits they built (GitHub, GitLab, Gitea).

`StatusPoster` is a run listener (`started(spec)`, `poster(spec, outcome)`): in the loop
thread it only asks `core/commitstatus.py` what the run owes and queues it; one
background thread sends, in order (a run's pending before its result), retrying a
temporary failure as notifications are (`delivery.send_with_retries`), and records each
run's statuses on the state branch beside its notifications. The token is read from the
gitRepo's integration when sending, only for a resource its scope names, and never
logged or recorded: every error text is masked with all secret values.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from controller.core import commitstatus as cs
from controller.core import model
from controller.core.clock import now_iso
from controller.core.runspec import Outcome, RunSpec
from controller.core.subscription import StatusTarget
from controller.notify.delivery import PermanentError, Result, post_json, send_with_retries
from controller.notify.sendthread import SendThread
from controller.secrets import Secret, find, secret_values

log = logging.getLogger("gitline")

API_URL_FIELDS = ("apiUrl", "api_url")


@dataclass(frozen=True)
class Batch:
    """The statuses one event of one run owes, with the workflow it was decided on."""

    owed: tuple[cs.Owed, ...]
    workflow: model.Workflow


@dataclass
class StatusPoster(SendThread[Batch]):
    thread_name: ClassVar[str] = "gitline-status"
    workflow: Callable[[], model.Workflow | None]
    secrets: Callable[[], Mapping[str, Secret]]
    record: Callable[[str, int, list[dict[str, Any]]], None]
    web_url: str = ""  # the web view's address, for a link to the run ("" = no link)
    # source name (MAIN: config.git) -> where its runCI statuses go (gitline.yml's
    # commit_status:, kept current by the caller)
    targets: Callable[[], Mapping[str, StatusTarget]] = dict
    attempts: int = 4
    backoff: float = 0.5
    timeout: float = 10.0

    # --- the listener side (loop thread): decide and queue ------------------------------

    def started(self, spec: RunSpec) -> None:
        self._owe(spec, "started")

    def __call__(self, spec: RunSpec, outcome: Outcome) -> None:
        self._owe(spec, outcome.status)

    def _owe(self, spec: RunSpec, event: str) -> None:
        wf = self.workflow()
        if wf is None:
            return
        commits = {i.name: cs.commit_of(i.version.values, i.version.name)
                   for i in spec.inputs if i.type == "gitRepo" and i.version is not None}
        owed = cs.owed(wf, spec.job, spec.run.number, event, commits, set(self.targets()))
        if owed:
            self._queue.put(Batch(tuple(owed), wf))

    # --- the sending side -----------------------------------------------------------------

    def send(self, batch: Batch) -> object:
        return self.deliver(batch)

    def failed(self, batch: Batch) -> str:
        return "commit status delivery failed"

    def deliver(self, batch: Batch) -> list[dict[str, Any]]:
        """Post every status of `batch`, then record them once (on the run's record)."""
        try:
            secrets = dict(self.secrets())
        except Exception as err:  # an unsafe secrets file: post nothing that needs one
            log.error("commit statuses: secrets unavailable: %s", err)
            secrets = {}
        hidden = secret_values(secrets)
        done = [self._post(owed, batch.workflow, secrets, hidden) for owed in batch.owed]
        first = batch.owed[0]
        self.record(first.job, first.run, done)
        return done

    def _post(self, owed: cs.Owed, wf: model.Workflow, secrets: Mapping[str, Secret],
              hidden: list[str]) -> dict[str, Any]:
        result = Result(f"commit status {owed.resource}", owed.event, "", at=now_iso())
        state = ""
        try:
            provider, req = self._request(owed, wf, secrets)
            result.method, state = provider, str(req.body["state"])
        except (PermanentError, cs.StatusError) as err:
            result.status, result.error = "skipped", str(err)
        else:
            send_with_retries(
                lambda: post_json(req.url, req.body, self.timeout, req.headers), result,
                attempts=self.attempts, backoff=self.backoff, stop=self._stop, hidden=hidden)
        level = logging.INFO if result.status == "delivered" else logging.WARNING
        log.log(level, "commit status %s %s: %s run %d %s: %s%s", owed.resource,
                owed.sha[:7], owed.job, owed.run, state or owed.event, result.status,
                f" ({result.error})" if result.error else "")
        return {**result.as_dict(), "commit": owed.sha, **({"state": state} if state else {})}

    def _request(self, owed: cs.Owed, wf: model.Workflow,
                 secrets: Mapping[str, Secret]) -> tuple[str, cs.Request]:
        """(provider, request) for `owed`; PermanentError when it cannot be sent."""
        res = wf.resources.get(owed.resource)
        # a gitRepo on a repository of the subscription: its source's commit_status
        target = self.targets().get(res.tracks_source) \
            if res is not None and res.tracks_path is not None else None
        integration = (res.integration if res is not None else "") or \
            (target.integration if target is not None else "")
        if res is None or not integration:
            raise PermanentError(f"resource {owed.resource} has no integration to post with")
        secret = find(secrets, integration)
        if secret is None:
            raise PermanentError(f"secret {integration} is not set")
        if not secret.scope.allows(resource=res.name):
            raise PermanentError(f"secret {integration} is not for resource {res.name} "
                                 f"(secrets.yml gives it to {secret.scope.describe()})")
        repo_url, repo = cs.on_host(res, secret.scope.base_url, target)
        api_url = next((secret.fields[f] for f in API_URL_FIELDS if secret.fields.get(f)), "")
        provider = cs.provider_of(api_url, repo_url)
        token = cs.token_of(secret.fields, secret.value)
        if not token:
            raise PermanentError(f"secret {integration} has no token")
        req = cs.request(
            provider, cs.api_base(provider, api_url, repo_url), repo,
            owed.sha, state=cs.state_of(provider, owed.event), context=cs.context_of(owed.job),
            description=cs.describe(owed), target_url=cs.run_url(self.web_url, owed.job,
                                                                  owed.run), token=token)
        return provider, req
