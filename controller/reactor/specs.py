"""Building a RunSpec: the exact versions, files and secrets a run of a job needs.

Reads the state branch and the config repository, never writes them. What a worker gets
is plain data, so the same spec runs on the local executor or a Celery worker.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from controller.core import cliconfig, model, runenv
from controller.core import runspec as rs
from controller.reactor.ports import ConfigSource
from controller.secrets import Secret, SecretsError, find
from controller.store.statestore import StateStore

# The checkout of a gitRepo version from another repository: (files, executable paths).
Checkout = Callable[[model.Resource, model.Version],
                    tuple[dict[str, bytes], frozenset[str]] | None]


@dataclass
class SpecBuilder:
    config: ConfigSource
    store: StateStore
    job_env: dict[str, str] = field(default_factory=dict)
    secrets: Callable[[], Mapping[str, Secret]] = dict
    checkout: Checkout | None = None  # files of a gitRepo elsewhere (reactor/pollers.py)
    default_timeout_minutes: float = 60.0  # a job without runtime.timeoutMinutes
    # the other sources of the subscription, by name: a gitRepo on one checks out from it
    sources: Mapping[str, Any] = field(default_factory=dict)

    def _input_version(self, iv: model.InputVersion,
                       snap: model.Snapshot) -> tuple[model.Version, str]:
        """The version a run recorded, and the state commit that wrote it ("" = the tip)."""
        latest = snap.versions.get(iv.name)
        if latest is not None and latest.number == iv.number:
            return latest, ""
        for entry in self.store.history(iv.name, limit=10_000):
            if entry.version is not None and (
                entry.version.number == iv.number
                or (iv.number == 0 and iv.version_name and entry.version.name == iv.version_name)
            ):
                return entry.version, entry.commit
        return model.Version(iv.name, iv.number, iv.version_name, created_by="pin"), ""

    def _job_state(self, iv: model.InputVersion, snap: model.Snapshot) -> dict[str, bytes]:
        """JOB_STATE of the input job's run `iv.number` (a replay gets that run's, too)."""
        hist = snap.jobs.get(iv.name)
        if hist is None or hist.last_succeeded in (iv.number, 0):
            return self.store.read_files(f"jobs/{iv.name}/state")
        commit = next((e.commit for e in self.store.history(iv.name, limit=100_000)
                       if e.run is not None and e.run.number == iv.number), "")
        return self.store.read_files(f"jobs/{iv.name}/state", at=commit)

    def _resource_files(
        self, res: model.Resource | None, version: model.Version | None, at: str = ""
    ) -> tuple[dict[str, bytes], frozenset[str]]:
        """A state resource's files (at commit `at` of the state branch), or the checkout
        of a gitRepo tracking the config repo."""
        if res is None:
            return {}, frozenset()
        if res.type == "state":  # no version when the run was planned: no files yet
            if version is None:
                return {}, frozenset()
            return self.store.read_files(f"resources/{res.name}/files", at=at), frozenset()
        commit = str(version.values.get("commit", "")) if version else ""
        if res.tracks_path is not None and commit:
            repo = self.sources.get(res.tracks_source) if res.tracks_source else self.config
            return repo.files_under(commit, res.tracks_path) if repo else ({}, frozenset())
        if res.type == "gitRepo" and commit and version and self.checkout is not None:
            return self.checkout(res, version) or ({}, frozenset())
        return {}, frozenset()

    def build(self, wf: model.Workflow, job: model.Job, run: model.Run,
              snap: model.Snapshot) -> rs.RunSpec:
        """Everything a worker needs for `run`, with the exact input versions it recorded."""
        job = job.with_default_timeout(self.default_timeout_minutes)
        inputs = []
        for iv in run.inputs:
            if iv.kind == "job":
                inputs.append(rs.InputSpec(
                    iv.name, "job", wf.jobs[iv.name].type if iv.name in wf.jobs else "runSh",
                    model.Version(iv.name, iv.number, str(iv.number), created_by="job"),
                    files=self._job_state(iv, snap)))
                continue
            res = wf.resources.get(iv.name)
            version, at = self._input_version(iv, snap) if iv.number or iv.version_name \
                else (None, "")
            files, executable = self._resource_files(res, version, at)
            definition = dict(res.definition) if res else {}
            if res is not None and res.tracks_path is not None and job.ci is not None:
                # a CI run's BRANCH and `branches:` filter: the watched branch of config.git
                definition.setdefault("branch", getattr(self.config, "branch", ""))
            inputs.append(rs.InputSpec(
                iv.name, "resource", res.type if res else "", version,
                definition=definition,
                files=files, executable=executable))
        out_names = [o.name for o in job.outputs]
        if job.type == "release":  # a release bumps its version input: an implicit OUT
            out_names += [i.name for i in job.inputs if i.name not in out_names
                          and i.name in wf.resources and wf.resources[i.name].type == "version"]
        outs = {o.name: o for o in job.outputs}
        every = self.secrets()  # once per run; an unsafe secrets.yml holds every run back
        secrets, keys = self._job_secrets(wf, job, every)
        clis = self._cli_configs(wf, job, every)
        outputs = tuple(self._output_spec(wf, name, outs.get(name), snap) for name in out_names)
        return rs.RunSpec(run=run, job=job, inputs=tuple(inputs), outputs=outputs,
                          previous_state=self.store.read_files(f"jobs/{job.name}/state",
                                                               at=snap.tip),
                          env={**self.job_env, **keys},
                          secrets={**secrets, **cliconfig.hidden_secrets(clis)},
                          cli_configs=clis)

    def _cli_configs(self, wf: model.Workflow, job: model.Job,
                     secrets: Mapping[str, Secret]) -> dict[str, dict[str, str]]:
        """The secret fields of each cliConfig IN (its scope was checked with the rest)."""
        found = {i.name: find(secrets, wf.resources[i.name].integration) for i in job.inputs
                 if i.name in wf.resources and wf.resources[i.name].type == "cliConfig"
                 and wf.resources[i.name].integration}
        # {} when its secret is not set: the run says so at the input's line
        return {name: s.as_fields() if s is not None else {} for name, s in found.items()}

    def _output_spec(self, wf: model.Workflow, name: str, out: model.Output | None,
                     snap: model.Snapshot) -> rs.OutputSpec:
        res = wf.resources.get(name)
        return rs.OutputSpec(
            name, res.type if res else "", snap.versions.get(name),
            definition=dict(res.definition) if res else {},
            files=self.store.read_files(f"resources/{name}/files") if res and res.type == "state"
            else {},
            replicate=out.replicate if out else "", overwrite=out.overwrite if out else False)

    def _job_secrets(self, wf: model.Workflow, job: model.Job,
                     secrets: Mapping[str, Secret]) -> tuple[dict[str, str], dict[str, str]]:
        """The integrations of this job's inputs and outputs and its own `integrations:`,
        and nothing else: (secret variables, the variables naming their fields).

        The loader already refused a secret named outside its scope; this holds when
        secrets.yml changed since: the run is not built rather than handed the secret.
        """
        out: dict[str, str] = {}
        keys: dict[str, str] = {}
        ins = {i.name for i in job.inputs}
        for name in [i.name for i in job.inputs] + [o.name for o in job.outputs]:
            res = wf.resources.get(name)
            if res is None:
                continue
            secret = find(secrets, res.integration)
            if secret is None:
                continue
            if not secret.scope.allows(resource=name, job=job.name):
                raise SecretsError(f"secret '{res.integration}' of resource '{name}' is not "
                                   f"for job '{job.name}' (secrets.yml gives it to "
                                   f"{secret.scope.describe()})")
            # a key-value integration (fields) of an integration resource taken as IN
            as_is = name in ins and res.type == "integration" and bool(secret.fields)
            out.update(runenv.integration_env(name, secret.as_fields(), as_is=as_is))
            keys.update(runenv.integration_keys(name, secret.as_fields()))
        for name in job.integrations:  # job-level integrations: as Shippable exported them
            secret = find(secrets, name)
            if secret is None:
                raise SecretsError(f"secret '{name}' of job '{job.name}' (integrations:) is "
                                   "not set in secrets.yml")
            if not secret.scope.allows(job=job.name):
                raise SecretsError(f"secret '{name}' is not for job '{job.name}' (secrets.yml "
                                   f"gives it to {secret.scope.describe()})")
            out.update(runenv.integration_env(name, secret.as_fields(),
                                              as_is=bool(secret.fields)))
            keys.update(runenv.integration_keys(name, secret.as_fields()))
        return out, keys
