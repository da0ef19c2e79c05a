"""What the HTTP API asks of the running controller: its `api.Services`, bound to a
`Controller` (the reads answer from its store, the asks go through `controller.services`
with the same checks as the CLI, webhooks make versions through the controller).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from controller.core import model
from controller.readview import open_repos, read_status, run_summary
from controller.secrets import find as find_secret
from controller.secrets import load_secrets
from controller.secrets import lookup as lookup_secret
from controller.store.configrepo import ConfigRepo
from controller.store.pushlog import Pusher, token_pusher

if TYPE_CHECKING:  # the controller is wired in app.py, which imports this module
    from controller.app import Controller


API_WAIT_SECONDS = 5.0  # how long a cancel or replay call waits for the loop's answer


def _running(ctl: Controller) -> model.Workflow:
    """The workflow the controller runs (empty before its first good load)."""
    return ctl.reconciler.workflow or model.Workflow()


@contextmanager
def _service_errors() -> Iterator[None]:
    """controller.services' refusals in the API's words: 404 and 409."""
    from controller import services
    from controller.server import api

    try:
        yield
    except services.NoSuchName as err:
        raise api.NotFound(str(err)) from err
    except services.Refused as err:
        raise api.Conflict(str(err)) from err


def api_services(ctl: Controller) -> Any:
    """The API's callables, bound to this controller."""
    from controller import services
    from controller.core import approvals, triggers
    from controller.server import api

    s = ctl.settings

    def history(name: str, limit: int) -> list[Any]:
        _, store = open_repos(s)
        return list(store.history(name, limit=limit))

    def runs(job: str, limit: int) -> list[dict]:
        entries = [e for e in history(job, limit) if e.run is not None]
        wf = ctl.reconciler.workflow
        if not entries and (wf is None or job not in wf.jobs):
            raise api.NotFound(f"no job {job}")
        return [{**run_summary(e.run), "commit": e.commit, "when": e.when,
                 "startedAt": e.run.started_at, "params": e.run.params,
                 "message": e.run.message} for e in entries]

    def versions(name: str, limit: int) -> list[dict]:
        entries = [e for e in history(name, limit) if e.version is not None]
        wf = ctl.reconciler.workflow
        if not entries and (wf is None or name not in wf.resources):
            raise api.NotFound(f"no resource {name}")
        return [{"number": e.version.number, "versionName": e.version.name,
                 "values": e.version.values, "createdBy": e.version.created_by,
                 "author": e.version.author, "configCommit": e.version.config_commit,
                 "commit": e.commit, "when": e.when} for e in entries]

    def trigger(job: str, params: dict[str, str], user: str, message: str) -> str:
        wf = ctl.reconciler.workflow
        if triggers.trigger_job(f"triggers/{job}") != job:
            raise api.NotFound(f"no job {job!r}")  # not a name a trigger file can have
        if wf is not None:
            with _service_errors():
                services.check_job(wf.jobs, job)
        why = triggers.check_params(params)
        if why:
            raise api.Invalid(why)
        config = ConfigRepo(s.repo_path, s.branch)
        sha = config.commit_file(f"triggers/{job}",
                                 triggers.render_params(params, f"API trigger by {user}"),
                                 message, user, f"{user}@gitline")
        ctl.pushes.record(Pusher(user, "api"), [sha])
        ctl.loop.poke()
        return sha

    def approve(job: str, decision: str, reason: str, principal: Any) -> str:
        """approvals/<job> as `gitline approve` writes it, vouched for as the token's:
        the pass that reads it counts the token's email if it has the approve scope."""
        with _service_errors():
            services.check_approvable(_running(ctl), open_repos(s)[1].read_snapshot(), job)
        who = approvals.Identity(principal.name, principal.email, "token")
        config = ConfigRepo(s.repo_path, s.branch)
        sha = config.commit_file(
            f"approvals/{job}", approvals.decision_text(decision, reason, who),
            f"{decision} {job} (API, {principal.name})", principal.name,
            principal.email or f"{principal.name}@gitline",
            before_update=lambda sha: ctl.pushes.record(token_pusher(principal), [sha]))
        ctl.loop.poke()
        return sha

    def ask(action: str, job: str, user: str, **fields: Any) -> dict:
        with _service_errors():
            services.check_job(_running(ctl).jobs, job)
            if action == "replay":
                services.check_replayable(open_repos(s)[1], job, fields["run"])
        answer = services.ask(s.home, action, f"{user} (token)", wait_seconds=API_WAIT_SECONDS,
                              controller_running=lambda: True, poke=ctl.loop.poke,
                              job=job, **fields)
        extra = {k: answer.result[k] for k in ("cancelled", "queued") if k in answer.result}
        return {"state": answer.state, "message": answer.message, **extra}

    def hook_resource(name: str) -> tuple[str, str]:
        wf = ctl.reconciler.workflow
        res = wf.resources.get(name) if wf else None
        if res is None:
            raise api.NotFound(f"no resource {name}")
        key = str(res.definition.get("secret") or res.integration or "")
        secret = find_secret(load_secrets(s.home), key)
        value = secret and (secret.value or next(
            (secret.fields[f] for f in ("key", "token", "secret", "value") if f in secret.fields),
            ""))
        return res.type, value or ""

    def add_hook_version(name: str, payload: Any) -> int:
        version = ctl.add_version(name, {"payload": payload}, created_by="webhook")
        ctl.loop.poke()
        return version.number

    def git_hook_secret() -> str:
        name = s.webhook_secret
        secrets = load_secrets(s.home)
        return (lookup_secret(secrets, name) or lookup_secret(secrets, name, "key") or ""
                ) if name else ""

    def status() -> dict:
        return {**read_status(s, *open_repos(s)), **ctl.pollers.status()}

    return api.Services(
        status=status, runs=runs, versions=versions,
        log=lambda job, run: open_repos(s)[1].read_log(job, run), trigger=trigger,
        approve=approve, cancel=lambda job, user: ask("cancel", job, user),
        replay=lambda job, run, user: ask("replay", job, user, run=run),
        hook_resource=hook_resource, add_hook_version=add_hook_version,
        git_hook_secret=git_hook_secret, git_pushed=ctl.pollers.pushed)
