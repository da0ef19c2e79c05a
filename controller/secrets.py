"""Secrets never come from the repository: HOME/secrets.yml (mode 0600) and the environment.

A secret has a name, referenced from YAML (`integration: my_aws`, a notification's
`url_secret`, the upstream's credentials). Its value is a string or a mapping of fields,
and its owner says who may use it and where the controller may send it:

    # HOME/secrets.yml
    ops_webhook: https://hooks.example.com/T000/B000      # global: any job, any resource
    deploy_token: {value: s3cr3t, jobs: [deploy_prod]}
    my_aws: {accessKey: AKIA..., secretKey: ..., resources: [aws_creds]}
    gh: {token: ghp_..., hosts: [github.com], resources: [app_repo]}
    ops_mail: {host: smtp.example.com, port: 587, user: ci, password: ..., tls: starttls,
               resources: [ops_email]}

`jobs`, `resources` and `hosts` are the scope (controller/core/secretscope.py), never
fields; `value` alone is a string secret. `GITLINE_SECRET_<NAME>` (a string) and
`GITLINE_SECRET_<NAME>__<FIELD>` override the file (`__JOBS`, `__RESOURCES`, `__HOSTS`:
comma-separated scope). Values are masked in run logs and never written to the state branch.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from controller.core.secretscope import Scope
from controller.masking import secret_strings

SECRETS_FILE = "secrets.yml"
ENV_PREFIX = "GITLINE_SECRET_"
SCOPE_KEYS = ("jobs", "resources", "hosts")


class SecretsError(Exception):
    """The secrets file is unsafe or unreadable, or a secret is used outside its scope."""


@dataclass(frozen=True)
class Secret:
    value: str | None = None  # a string secret
    fields: Mapping[str, str] = field(default_factory=dict)  # or a mapping of fields
    scope: Scope = field(default_factory=Scope)

    def get(self, fld: str = "") -> str | None:
        return self.fields.get(fld) if fld else self.value

    def as_fields(self) -> dict[str, str]:
        """Fields, with a string secret as its one field `value`."""
        return dict(self.fields) if self.fields else (
            {"value": self.value} if self.value else {})

    def strings(self) -> list[str]:
        return [v for v in [self.value, *self.fields.values()] if v]


def load_secrets(home: Path, environ: Mapping[str, str] = os.environ) -> dict[str, Secret]:
    """All secrets by name: the file first, then environment overrides."""
    path = Path(home) / SECRETS_FILE
    try:
        st = path.stat()
        seen: tuple[int, ...] = (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)
    except FileNotFoundError:
        seen = ()
    overrides = tuple(sorted((k, v) for k, v in environ.items() if k.startswith(ENV_PREFIX)))
    # each run's spec asks: parse the file again only when it changed (a fan-out of 1,000
    # runs parsed it 1,000 times with the pure-Python YAML reader); the mode is checked
    # every time, and a change of mode moves ctime
    cached = _read.get(path)
    if cached is not None and cached[0] == (seen, overrides):
        _check_mode(path)
        return dict(cached[1])
    secrets = _load_secrets(path, overrides)
    _read[path] = ((seen, overrides), secrets)
    return dict(secrets)


_read: dict[Path, tuple[Any, dict[str, Secret]]] = {}  # path -> (its stat and env, secrets)


def _check_mode(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise SecretsError(f"{path} is readable by others (mode {oct(mode & 0o777)}): "
                               f"run chmod 600 {path}")


def _load_secrets(path: Path, overrides: tuple[tuple[str, str], ...]) -> dict[str, Secret]:
    secrets: dict[str, Secret] = {}
    if path.exists():
        _check_mode(path)
        try:
            data = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8")) or {}
        except (YAMLError, UnicodeDecodeError) as err:
            # the message may quote the file; say only where it is
            raise SecretsError(f"{path} is not valid YAML") from err
        if not isinstance(data, dict):
            raise SecretsError(f"{path} must map secret names to values")
        for name, value in data.items():
            secrets[str(name)] = parse(str(name), value, str(path))
    for key, value in overrides:
        name, _, fld = key[len(ENV_PREFIX):].partition("__")
        name = name.lower()
        secrets[name] = _override(secrets.get(name, Secret()), fld, value)
    return secrets


def parse(name: str, value: Any, where: str = SECRETS_FILE) -> Secret:
    """One entry of secrets.yml: a string, fields, and the scope keys."""
    if not isinstance(value, dict):
        return Secret(value=str(value))
    scope = {k: value[k] for k in SCOPE_KEYS if k in value}
    for key, names in scope.items():
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise SecretsError(f"{where}: secret {name}: {key} must be a list of names")
    fields = {str(k): str(v) for k, v in value.items() if k not in SCOPE_KEYS}
    plain = fields.pop("value") if list(fields) == ["value"] else None
    return Secret(plain, fields, _scope(scope, fields))


def _scope(scope: Mapping[str, list[str]], fields: Mapping[str, str]) -> Scope:
    def names(key: str) -> frozenset[str] | None:
        return frozenset(scope[key]) if key in scope else None
    return Scope(jobs=names("jobs"), resources=names("resources"),
                 hosts=frozenset(h.lower() for h in scope.get("hosts", ())),
                 base_url=fields.get("url", ""))


def _override(secret: Secret, fld: str, value: str) -> Secret:
    """One environment variable over a secret: its string, a field, or its scope."""
    if fld.lower() in SCOPE_KEYS:
        items = [v.strip() for v in value.split(",") if v.strip()]
        changed: dict[str, Any] = {
            fld.lower(): frozenset(items if fld.lower() != "hosts" else map(str.lower, items))}
        return replace(secret, scope=replace(secret.scope, **changed))
    if not fld:
        return replace(secret, value=value, fields={})
    fields = {**secret.fields, fld: value}
    return replace(secret, value=None, fields=fields,
                   scope=replace(secret.scope, base_url=fields.get("url", "")))


def scopes(secrets: Mapping[str, Secret]) -> dict[str, Scope]:
    return {name: s.scope for name, s in secrets.items()}


def secret_values(secrets: Mapping[str, Secret]) -> list[str]:
    """Every secret string, for masking (longest first)."""
    return secret_strings(v for s in secrets.values() for v in s.strings())


def lookup(secrets: Mapping[str, Secret], name: str, fld: str = "") -> str | None:
    """A secret by name (case-insensitive), or one field of it."""
    secret = find(secrets, name)
    return secret.get(fld) if secret else None


def find(secrets: Mapping[str, Secret], name: str) -> Secret | None:
    return secrets.get(name, secrets.get(name.lower())) if name else None
