"""One frozen Settings for a Gitline HOME: read from HOME/gitline.yml, then GITLINE_* env."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

SETTINGS_FILE = "gitline.yml"


class SettingsError(Exception):
    """HOME/gitline.yml or a GITLINE_* variable holds something unusable."""


@dataclass(frozen=True)
class Settings:
    home: Path
    branch: str = "main"  # the config branch users push to
    state_branch: str = "state"
    workers: int = 4  # runs at once on the local executor
    poll_seconds: float = 10.0  # safety-net re-read of refs, besides the watcher
    listen: str = "127.0.0.1:8080"
    # Names of the controller's environment variables that jobs see (comma-separated).
    # Nothing else of the controller's environment reaches a job, so its secrets don't.
    pass_env: str = ""

    def job_env(self) -> dict[str, str]:
        names = [n.strip() for n in self.pass_env.split(",") if n.strip()]
        return {n: os.environ[n] for n in names if n in os.environ}

    @property
    def repo_path(self) -> Path:
        return self.home / "config.git"

    @property
    def work_root(self) -> Path:
        return self.home / "work"

    @classmethod
    def load(cls, home: str | os.PathLike[str], **overrides: Any) -> Settings:
        """Defaults, then HOME/gitline.yml, then GITLINE_<FIELD> env, then `overrides`."""
        settings = cls(home=Path(home).resolve())
        path = settings.home / SETTINGS_FILE
        values: dict[str, Any] = {}
        if path.exists():
            loaded = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8")) or {}
            if not isinstance(loaded, dict):
                raise SettingsError(f"{path}: must be a mapping of setting: value")
            values.update({k.replace("-", "_"): v for k, v in loaded.items()})
        for f in fields(cls):
            env = os.environ.get(f"GITLINE_{f.name.upper()}")
            if env is not None and f.name != "home":
                values[f.name] = env
        values.update({k: v for k, v in overrides.items() if v is not None})
        return replace(settings, **_typed(values, path))


def _typed(values: dict[str, Any], path: Path) -> dict[str, Any]:
    kinds = {f.name: f.type for f in fields(Settings) if f.name != "home"}
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key not in kinds:
            raise SettingsError(f"{path}: unknown setting {key!r} (known: {', '.join(kinds)})")
        conv = {"int": int, "float": float}.get(str(kinds[key]), str)
        try:
            out[key] = conv(value)
        except (TypeError, ValueError) as err:
            raise SettingsError(f"{path}: setting {key}: {err}") from err
    return out
