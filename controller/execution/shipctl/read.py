"""The reading commands: a resource's name, version fields, params, integration fields
and paths, printed for `$(shipctl ...)`."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from controller.core import model, runenv
from controller.execution.shipctl.console import Command, emit, require_args
from controller.execution.shipctl.workspace import (
    content_path,
    dotted,
    is_output,
    load_json,
    read_record,
    require_resource,
    res_dir,
    resolve,
)


def cmd_get_resource_name(args: Sequence[str]) -> int:
    require_args(args, 1, "get_resource_name RESOURCE_NAME")
    return emit((*model.env_prefixes(args[0]), model.env_prefix(args[0]))[0])  # a shell name


def _record_field(field: str, text: str) -> Command:
    def command(args: Sequence[str]) -> int:
        require_args(args, 1, f"{text} RESOURCE_NAME")
        return emit(read_record(require_resource(args[0])).get(field, ""))

    return command


def cmd_get_resource_state(args: Sequence[str]) -> int:
    require_args(args, 1, "get_resource_state RESOURCE_NAME")
    return emit(str(content_path(require_resource(args[0]))))


def cmd_get_resource_meta(args: Sequence[str]) -> int:
    require_args(args, 1, "get_resource_meta RESOURCE_NAME")
    return emit(str(res_dir(require_resource(args[0]))))


def cmd_get_resource_operation(args: Sequence[str]) -> int:
    require_args(args, 1, "get_resource_operation RESOURCE_NAME")
    return emit("OUT" if is_output(require_resource(args[0])) else "IN")


def cmd_get_resource_version_key(args: Sequence[str]) -> int:
    require_args(args, 2, "get_resource_version_key RESOURCE_NAME KEY")
    record = read_record(require_resource(args[0]))
    key = args[1]
    if key in ("versionName", "versionId", "versionNumber"):
        return emit(record.get(key, ""))
    value = dotted(record.get("values") or {}, key)
    if value is None:
        value = dotted(record.get("definition") or {}, key)
    if isinstance(value, str):  # `${VAR}` in a resource: from the job's environment
        value = runenv.fill_placeholders(value, os.environ)
    return emit(value)


def cmd_get_resource_env(args: Sequence[str]) -> int:
    require_args(args, 2, "get_resource_env RESOURCE_NAME ENV_NAME")
    var = f"{model.env_prefix(args[0])}_{model.env_prefix(args[1])}"
    if var in os.environ:
        return emit(os.environ[var])
    name = resolve(args[0])
    values = read_record(name).get("values") or {} if name else {}
    match = next((v for k, v in values.items() if k.upper() == args[1].upper()), "")
    return emit(match)


def cmd_get_params_resource(args: Sequence[str]) -> int:
    require_args(args, 2, "get_params_resource RESOURCE_NAME PARAM_NAME")
    var = f"{model.env_prefix(args[0])}_PARAMS_{model.env_prefix(args[1])}"
    if var in os.environ:
        return emit(os.environ[var])
    name = resolve(args[0])
    if name is None:
        return emit("")
    record = read_record(name)
    params = runenv.params_of(record.get("values") or {}, record.get("definition") or {})
    return emit(params.get(args[1], ""))


def _integration_keys(name: str) -> list[str]:
    return os.environ.get(f"{runenv.INTEGRATION_KEYS}{model.env_prefix(name)}", "").split()


def cmd_get_integration_keys(args: Sequence[str]) -> int:
    """The field names of an integration (a job's `integrations:` or a resource's)."""
    require_args(args, 1, "get_integration_keys NAME")
    return emit(" ".join(_integration_keys(args[0])))


def cmd_get_integration_resource(args: Sequence[str]) -> int:
    """The fields of an integration as one JSON object (values are masked in the log)."""
    require_args(args, 1, "get_integration_resource NAME")
    prefix = model.env_prefix(args[0])
    fields = {k: os.environ.get(f"GITLINE_INTEGRATION_{prefix}_{model.env_prefix(k)}", "")
              for k in _integration_keys(args[0])}
    return emit(json.dumps(fields, sort_keys=True))


def cmd_get_integration_resource_field(args: Sequence[str]) -> int:
    require_args(args, 2, "get_integration_resource_field RESOURCE_NAME KEY_NAME")
    prefix, field = model.env_prefix(args[0]), model.env_prefix(args[1])
    for var in (f"GITLINE_INTEGRATION_{prefix}_{field}", f"{prefix}_INTEGRATION_{field}"):
        if var in os.environ:
            return emit(os.environ[var])
    name = resolve(args[0])
    definition = read_record(name).get("definition") or {} if name else {}
    match = next((v for k, v in definition.items() if k.upper() == args[1].upper()), "")
    return emit(match)


def cmd_get_json_value(args: Sequence[str]) -> int:
    require_args(args, 1, "get_json_value JSON_PATH FIELD")
    data = load_json(Path(args[0]))
    return emit(dotted(data, args[1]) if len(args) > 1 and args[1] else data)


COMMANDS: dict[str, Command] = {
    "get_resource_name": cmd_get_resource_name,
    "get_resource_id": _record_field("versionId", "get_resource_id"),
    "get_resource_type": _record_field("type", "get_resource_type"),
    "get_resource_version_name": _record_field("versionName", "get_resource_version_name"),
    "get_resource_version_number": _record_field("versionNumber", "get_resource_version_number"),
    "get_resource_version_id": _record_field("versionId", "get_resource_version_id"),
    "get_resource_version_key": cmd_get_resource_version_key,
    "get_resource_state": cmd_get_resource_state,
    "get_resource_path": cmd_get_resource_state,
    "get_resource_meta": cmd_get_resource_meta,
    "get_resource_operation": cmd_get_resource_operation,
    "get_resource_env": cmd_get_resource_env,
    "get_params_resource": cmd_get_params_resource,
    "get_integration_resource_field": cmd_get_integration_resource_field,
    "get_integration_field": cmd_get_integration_resource_field,  # a job's integrations:
    "get_integration_keys": cmd_get_integration_keys,
    "get_integration_resource_keys": cmd_get_integration_keys,
    "get_integration_resource": cmd_get_integration_resource,
    "get_json_value": cmd_get_json_value,
}
