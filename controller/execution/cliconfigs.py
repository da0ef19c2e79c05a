"""Writes each cliConfig input's tool configuration into the job's own HOME.

`core/cliconfig.py` decides the files and variables; this writes the files under the
run's HOME (inside its workdir, never the controller's HOME) before the first step, and
for a tool the job's PATH lacks puts a stand-in first on PATH that fails the step which
runs it with "needs aws: not on PATH" and the input's line, rather than "command not
found" far from the cause.
"""

from __future__ import annotations

import shlex
import shutil
from collections.abc import Callable
from pathlib import Path

from controller.core import cliconfig, runenv
from controller.core.runspec import RunSpec
from controller.execution import workspace
from controller.execution.step import DEFAULT_PATH

KINDS = "aws, kubernetes, docker, gcp, azure"


def where(spec: RunSpec, name: str) -> str:
    """`IN name (file:line:col)`: the step that named the input."""
    found = next((i for i in spec.job.inputs if i.name == name), None)
    return f"IN {name} ({found.location})" if found is not None else f"IN {name}"


def prepare(spec: RunSpec, workdir: Path, env: dict[str, str],
            say: Callable[[str], None]) -> dict[str, str]:
    """Write the tools' files of every cliConfig input; the variables to add to `env`."""
    if not spec.cli_configs:
        return {}
    home = workdir / workspace.HOME_DIR
    values = {i.name: runenv.version_values(i) for i in spec.inputs
              if i.name in spec.cli_configs}
    setups = cliconfig.setups(spec.cli_configs, values, str(home))
    path = env.get("PATH") or DEFAULT_PATH
    added: dict[str, str] = {}
    for name, setup in setups.items():
        step = where(spec, name)
        if not spec.cli_configs[name]:
            say(f"gitline: {step}: its integration is not set in secrets.yml; no tool is "
                "configured")
            continue
        if not setup.kind:
            say(f"gitline: {step}: its secret's fields configure none of {KINDS}; only "
                f"its <NAME>_INTEGRATION_* variables are set")
            continue
        for file in setup.files:
            write_private(home, file)
        added.update(setup.env)
        for tool in setup.tools:
            if shutil.which(tool, path=path) is None:
                stand_in(workdir, tool, step)
                say(f"gitline: {step}: needs {tool}: not on PATH (a step that runs it fails)")
        say(f"gitline: {step}: {setup.describe()}")
    return added


def write_private(home: Path, file: cliconfig.File) -> None:
    target = home / runenv.check_relpath(file.path)
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    target.write_bytes(file.content)
    target.chmod(file.mode)


def stand_in(workdir: Path, tool: str, step: str) -> None:
    """`tool` in the job's bin dir: says what is missing and exits 127."""
    message = shlex.quote(f"gitline: needs {tool}: not on PATH ({step})")
    script = workdir / workspace.BIN_DIR / tool
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(f"#!/bin/sh\necho {message} >&2\nexit 127\n", encoding="utf-8")
    script.chmod(0o755)
