"""Secrets never come from the repository: HOME/secrets.yml (mode 0600) and the environment.

A secret has a name, referenced from YAML (`integration: my_aws`, a notification's
`recipients`, an upstream's credentials). Its value is a string or a mapping of fields:

    # HOME/secrets.yml
    ops_webhook: https://hooks.example.com/T000/B000
    my_aws: {accessKey: AKIA..., secretKey: ...}

`GITLINE_SECRET_<NAME>` (a string) and `GITLINE_SECRET_<NAME>__<FIELD>` override the file.
Values are masked in run logs and never written to the state branch.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

SECRETS_FILE = "secrets.yml"
ENV_PREFIX = "GITLINE_SECRET_"

Secret = str | dict[str, str]


class SecretsError(Exception):
    """The secrets file is unsafe or unreadable."""


def load_secrets(home: Path, environ: Mapping[str, str] = os.environ) -> dict[str, Secret]:
    """All secrets by name: the file first, then environment overrides."""
    secrets: dict[str, Secret] = {}
    path = Path(home) / SECRETS_FILE
    if path.exists():
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise SecretsError(f"{path} is readable by others (mode {oct(mode & 0o777)}): "
                               f"run chmod 600 {path}")
        try:
            data = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8")) or {}
        except (YAMLError, UnicodeDecodeError) as err:
            # the message may quote the file; say only where it is
            raise SecretsError(f"{path} is not valid YAML") from err
        if not isinstance(data, dict):
            raise SecretsError(f"{path} must map secret names to values")
        for name, value in data.items():
            secrets[str(name)] = ({str(k): str(v) for k, v in value.items()}
                                  if isinstance(value, dict) else str(value))
    for key, value in environ.items():
        if not key.startswith(ENV_PREFIX):
            continue
        name, _, fld = key[len(ENV_PREFIX):].partition("__")
        name = name.lower()
        if fld:
            current = secrets.get(name)
            fields = dict(current) if isinstance(current, dict) else {}
            fields[fld] = value
            secrets[name] = fields
        else:
            secrets[name] = value
    return secrets


def secret_values(secrets: Mapping[str, Secret]) -> list[str]:
    """Every secret string, for masking."""
    values: list[str] = []
    for value in secrets.values():
        values.extend(value.values() if isinstance(value, dict) else [value])
    return [v for v in values if v]


def lookup(secrets: Mapping[str, Secret], name: str, fld: str = "") -> str | None:
    """A secret by name (case-insensitive), or one field of it."""
    value = secrets.get(name, secrets.get(name.lower()))
    if value is None:
        return None
    if isinstance(value, dict):
        return value.get(fld) if fld else None
    return None if fld else value
