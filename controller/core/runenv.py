"""What a running job sees: its environment variables and its folder layout (pure).

`job_env` turns a RunSpec into the variables of the Shippable runtime contract
(`JOB_NAME`, `BUILD_NUMBER`, `<NAME>_PATH`, `<NAME>_VERSIONNAME` ...); `layout` lists the
folders and files of the workdir (`IN/<name>/`, `OUT/<name>/`, `state/`, `previousState/`,
`shared/`). No I/O here: the workspace module writes what `layout` describes.

Layout entries are `(relative path, bytes)`; a path ending in `/` is a folder.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterable, Mapping
from typing import Any

from controller.core import model, triggers, versionrecord
from controller.core.runspec import InputSpec, OutputSpec, RunSpec

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# Folders of a workdir, relative to it.
STATE_DIR = "state"
PREVIOUS_STATE_DIR = "previousState"
SHARED_DIR = "shared"
NOTIFICATIONS_FILE = "notifications.jsonl"
VERSION_FILE = "version.json"
VERSION_ENV_FILE = "version.env"
PAYLOAD_FILE = "payload.json"  # a webhook version's payload, in IN/<name>/ (<NAME>_PAYLOAD_FILE)
# A version value longer than this is not exported as a variable (execve refuses an
# environment past 128 KiB per string, ~2 MB in all): read it from IN/<name>/version.json.
MAX_ENV_VALUE = 16 * 1024


class UnsafeNameError(ValueError):
    """A name or a file path that could escape its folder."""


# --- names and paths ---------------------------------------------------------------


def check_name(name: str) -> str:
    """Return `name` if it is a safe single path component; raise otherwise."""
    if not model.is_safe_name(name) or "/" in name or ".." in name:
        raise UnsafeNameError(f"unsafe name: {name!r}")
    return name


def check_relpath(path: str) -> str:
    """Return a relative file path inside its folder (no `..`, not absolute); raise otherwise."""
    parts = path.replace("\\", "/").split("/")
    if not path or path.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise UnsafeNameError(f"unsafe file path: {path!r}")
    if "\x00" in path:
        raise UnsafeNameError(f"unsafe file path: {path!r}")
    return "/".join(parts)


def io_dir(operation: str, name: str) -> str:
    """`IN/<name>` or `OUT/<name>`, relative to the workdir."""
    return f"{operation}/{check_name(name)}"


def content_dir(res_type: str) -> str:
    """The folder inside `IN/<name>` that holds the resource's files."""
    return "gitRepo" if res_type == "gitRepo" else STATE_DIR


# --- values --------------------------------------------------------------------------


def env_str(value: Any) -> str:
    """A value as an environment string: scalars as text, the rest as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, str | int | float):
        return str(value)
    return json.dumps(value, sort_keys=True, default=str)


def parse_env_lines(text: str) -> dict[str, str]:
    """`K=V` lines (as the original shipctl wrote them) -> dict; later lines win."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key:
            out[key.strip()] = value.strip().strip('"')
    return out


def version_values(inp: InputSpec | OutputSpec, job_name_files: bool = False) -> dict[str, Any]:
    """The key/values of the version an IN or OUT uses.

    For a job input, the `K=V` lines its run wrote with `shipctl put_resource_state <job>`
    (kept in that job's state as `<job>.env`) are merged in, so that
    `get_resource_version_key <job> KEY` works as it did on Shippable.
    """
    values = dict(_version(inp).values)
    if job_name_files:
        blob = inp.files.get(f"{inp.name}.env")
        if blob is not None:
            values.update(parse_env_lines(blob.decode("utf-8", "replace")))
    return values


def params_of(values: Mapping[str, Any], definition: Mapping[str, Any]) -> dict[str, str]:
    """The params of a params resource: `values["params"]` if present, else the values.

    Falls back to `definition["params"]` when the version holds none. `secure` (an
    encrypted blob) is never exported; keys that are not valid env names are skipped.
    """
    raw: Any = values.get("params") if isinstance(values.get("params"), dict) else None
    if raw is None:
        raw = values or definition.get("params") or {}
    if not isinstance(raw, Mapping):
        return {}
    return {
        str(k): env_str(v) for k, v in raw.items()
        if str(k) != "secure" and ENV_NAME.fullmatch(str(k))
    }


def _is_output(inp: InputSpec | OutputSpec) -> bool:
    return hasattr(inp, "current")


def _version(inp: InputSpec | OutputSpec) -> model.Version:
    ver = inp.current if _is_output(inp) else inp.version  # type: ignore[union-attr]
    return ver if ver is not None else model.Version(resource=inp.name, number=0)


# --- env -----------------------------------------------------------------------------


def _first(values: Mapping[str, Any], *keys: str) -> str | None:
    """The first present key among `keys`, supporting one level of `a.b` nesting."""
    for key in keys:
        head, _, tail = key.partition(".")
        val = values.get(head)
        if tail:
            val = val.get(tail) if isinstance(val, Mapping) else None
        if val is not None and val != "":
            return env_str(val)
    return None


def _type_specific(res_type: str, values: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    if res_type == "gitRepo":
        wanted = {
            "COMMIT": ("commit", "commitSha", "sha", "shaData.commitSha"),
            "BRANCH": ("branch", "branchName", "shaData.branchName"),
            "COMMIT_MESSAGE": ("commitMessage", "commit_message", "shaData.commitMessage"),
            "COMMITTER": ("committer", "committerLogin", "author", "shaData.committer"),
            "SOURCENAME": ("sourceName", "source_name"),
        }
        for suffix, keys in wanted.items():
            found = _first(values, *keys)
            if found is not None:
                out[suffix] = found
    elif res_type == "image":
        src = _first(values, "sourceName")
        if src is not None:
            out["SOURCENAME"] = src
    return out


def version_name(res_type: str, ver: model.Version, values: Mapping[str, Any]) -> str:
    """versionName: the version's name, else a `versionName` value (an image's `tag`)."""
    keys = ("versionName", "tag") if res_type == "image" else ("versionName",)
    return ver.name or _first(values, *keys) or ""


def resource_env(
    inp: InputSpec | OutputSpec, operation: str, workdir: str, res_type: str
) -> dict[str, str]:
    """The `<NAME>_*` variables of one IN or OUT, under each of its prefixes."""
    env: dict[str, str] = {}
    for prefix in model.env_prefixes(check_name(inp.name)):
        env.update(_resource_env(inp, operation, workdir, res_type, prefix))
    return env


def integration_env(name: str, fields: Mapping[str, str], *, as_is: bool) -> dict[str, str]:
    """A resource's integration (a secret's fields) as a job sees it:
    `<NAME>_INTEGRATION_<FIELD>` and `GITLINE_INTEGRATION_<NAME>_<FIELD>`; with `as_is`
    (a key-value integration taken as IN) each field under its own name too, as Shippable
    exported them, unless the name would change how the job runs (PATH, JOB_*, ...)."""
    env: dict[str, str] = {}
    for key, val in fields.items():
        field = model.env_prefix(key)
        env[f"GITLINE_INTEGRATION_{model.env_prefix(name)}_{field}"] = val
        env.update({f"{p}_INTEGRATION_{field}": val for p in model.env_prefixes(name)})
        if as_is and ENV_NAME.fullmatch(key) and not triggers.denied(key):
            env[key] = val
    return env


INTEGRATION_KEYS = "GITLINE_INTEGRATION_KEYS_"  # + prefix: the field names, space-separated


def integration_keys(name: str, fields: Mapping[str, str]) -> dict[str, str]:
    """The names of an integration's fields (not secret: an environment variable, never
    masked), for `shipctl get_integration_keys` / `get_integration_resource_keys`."""
    return {f"{INTEGRATION_KEYS}{model.env_prefix(name)}": " ".join(fields)}


PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def fill_placeholders(text: str, env: Mapping[str, str]) -> str:
    """`${NAMESPACE}` from `env` ("templating resources" in Shippable's docs); a name the
    job does not have stays as written, so a script can still tell."""
    return PLACEHOLDER.sub(lambda m: env.get(m[1], m[0]), text)


def _resource_env(
    inp: InputSpec | OutputSpec, operation: str, workdir: str, res_type: str, prefix: str
) -> dict[str, str]:
    ver = _version(inp)
    is_job = getattr(inp, "kind", "resource") == "job"
    values = version_values(inp, job_name_files=is_job)
    path = f"{workdir}/{io_dir(operation, inp.name)}"
    env: dict[str, str] = {}
    for key, val in values.items():
        if key == "secure" or (res_type == "params" and key == "params"):
            continue  # an encrypted blob; params are exported one by one below
        text = env_str(val)
        if len(text) <= MAX_ENV_VALUE:
            env[f"{prefix}_{model.env_prefix(str(key))}"] = text
    if res_type == "webhook" and "payload" in values:
        env[f"{prefix}_PAYLOAD_FILE"] = f"{path}/{PAYLOAD_FILE}"
    if res_type == "params":
        definition = getattr(inp, "definition", {}) or {}
        for key, val in params_of(values, definition).items():
            env[f"{prefix}_PARAMS_{model.env_prefix(key)}"] = val
    for suffix, val in _type_specific(res_type, values).items():
        env[f"{prefix}_{suffix}"] = val
    env.update(
        {
            f"{prefix}_NAME": inp.name,
            f"{prefix}_TYPE": res_type,
            f"{prefix}_OPERATION": operation,
            f"{prefix}_PATH": path,
            f"{prefix}_META": path,
            f"{prefix}_STATE": f"{path}/{content_dir(res_type)}",
            f"{prefix}_VERSIONNUMBER": str(ver.number),
            f"{prefix}_VERSIONID": str(ver.number),
            f"{prefix}_VERSIONNAME": version_name(res_type, ver, values),
        }
    )
    return env


def triggered_by_name(spec: RunSpec) -> str:
    """JOB_TRIGGERED_BY_NAME: the input that caused the run when the cause names one.

    The cause detail is human text (`app_img version 3`); when its first word is one of
    the run's inputs that name is used, so `get_resource_version_key "$JOB_TRIGGERED_BY_NAME"`
    works as on Shippable. Otherwise the whole detail.
    """
    detail = spec.run.cause.detail
    first = detail.split(" ", 1)[0] if detail else ""
    if first and any(i.name == first for i in spec.inputs):
        return first
    return detail


def job_env(spec: RunSpec, workdir: str) -> dict[str, str]:
    """All variables of the runtime contract for `spec` run in `workdir` (absolute path).

    Order (later wins): variables passed through from the controller (`pass_env`),
    inputs, outputs, params of params inputs as plain variables,
    job variables, secrets whose keys are env names, trigger params (`spec.run.params`).
    Task env (`Task.env`) is applied per task by `task_env`.
    """
    run, job = spec.run, spec.job
    check_name(job.name)
    env: dict[str, str] = dict(spec.env)  # passed through from the controller's settings
    of_resources: dict[str, str] = {}
    for inp in spec.inputs:
        of_resources.update(resource_env(inp, "IN", workdir, inp.type))
    for out in spec.outputs:
        of_resources.update(resource_env(out, "OUT", workdir, out.type))
    env.update(of_resources)
    for inp in spec.inputs:
        if inp.type == "params":
            env.update(params_of(version_values(inp), inp.definition))
    env.update(
        {
            "JOB_NAME": job.name,
            "JOB_TYPE": job.type,
            "BUILD_NUMBER": str(run.number),
            "RUN_NUMBER": str(run.number),
            "BUILD_ID": f"{job.name}-{run.number}",
            "JOB_PATH": workdir,
            "JOB_STATE": f"{workdir}/{STATE_DIR}",
            "JOB_PREVIOUS_STATE": f"{workdir}/{PREVIOUS_STATE_DIR}",
            "SHARED_DIR": f"{workdir}/{SHARED_DIR}",
            "JOB_TRIGGERED_BY_NAME": triggered_by_name(spec),
            "JOB_TRIGGERED_BY_ID": run.cause.commit,
            "GITLINE_CAUSE": str(run.cause),
            "GITLINE_CAUSE_KIND": run.cause.kind,
            "GITLINE_ATTEMPT": str(run.attempt),
            "GITLINE_CONFIG_COMMIT": run.config_commit,
        }
    )
    env.update({k: v for k, v in spec.secrets.items() if ENV_NAME.fullmatch(k)})
    # a refused name (PATH, LD_*, ...) never reaches the job, however it got into params
    env.update({k: str(v) for k, v in run.params.items() if not triggers.denied(k)})
    # resource values written `${VAR}` are filled from the job's environment (params ...)
    env.update({k: fill_placeholders(v, env) for k, v in of_resources.items()
                if "${" in v and env.get(k) == v})
    return env


def task_env(base: Mapping[str, str], task: model.Task) -> dict[str, str]:
    """`base` with the task's own `env` entries applied."""
    env = dict(base)
    env.update({k: v for k, v in task.env if ENV_NAME.fullmatch(k)})
    return env


# --- layout --------------------------------------------------------------------------


def version_record(inp: InputSpec | OutputSpec, operation: str, res_type: str) -> dict[str, Any]:
    """The `version.json` of an IN or OUT: our fields plus a Shippable-shaped `version`."""
    ver = _version(inp)
    values = version_values(inp, job_name_files=getattr(inp, "kind", "") == "job")
    definition = {k: v for k, v in (inp.definition or {}).items() if k != "secure"}
    return {
        "resource": inp.name,
        "type": res_type,
        "operation": operation,
        "versionNumber": ver.number,
        "versionName": version_name(res_type, ver, values),
        "versionId": str(ver.number),
        "values": values,
        "createdBy": ver.created_by,
        "definition": definition,
        "version": {
            "versionNumber": ver.number,
            "versionName": version_name(res_type, ver, values),
            "versionId": str(ver.number),
            "propertyBag": values,
        },
    }


def env_file(values: Mapping[str, Any]) -> bytes:
    """`KEY='value'` lines, shell-quoted, for keys that are env names."""
    lines = [f"{k}={shlex.quote(env_str(v))}" for k, v in values.items()
             if ENV_NAME.fullmatch(str(k))]
    return ("\n".join(lines) + ("\n" if lines else "")).encode()


def _files(base: str, files: Mapping[str, bytes]) -> Iterable[tuple[str, bytes]]:
    for rel, blob in sorted(files.items()):
        yield f"{base}/{check_relpath(rel)}", blob


def _io_layout(
    inp: InputSpec | OutputSpec, operation: str, res_type: str
) -> list[tuple[str, bytes]]:
    base = io_dir(operation, inp.name)
    record = version_record(inp, operation, res_type)
    entries: list[tuple[str, bytes]] = [
        (f"{base}/", b""),
        (f"{base}/{STATE_DIR}/", b""),
        (f"{base}/{VERSION_FILE}", versionrecord.encode(record).encode()),
        (f"{base}/{VERSION_ENV_FILE}", env_file(record["values"])),
    ]
    if res_type == "webhook" and "payload" in record["values"]:
        payload = json.dumps(record["values"]["payload"], indent=2, default=str)
        entries.append((f"{base}/{PAYLOAD_FILE}", payload.encode()))
    files_dir = f"{base}/{STATE_DIR}"
    if res_type == "gitRepo":
        entries.append((f"{base}/gitRepo/", b""))
        files_dir = f"{base}/gitRepo"
    entries.extend(_files(files_dir, inp.files))
    return entries


def executables(spec: RunSpec) -> set[str]:
    """Layout paths (as `layout` names them) to mark executable: InputSpec.executable."""
    out: set[str] = set()
    for inp in spec.inputs:
        base = f"{io_dir('IN', inp.name)}/{content_dir(inp.type)}"
        out.update(f"{base}/{check_relpath(rel)}" for rel in inp.executable if rel in inp.files)
    return out


def layout(spec: RunSpec) -> list[tuple[str, bytes]]:
    """Folders (paths ending in `/`) and files to create in a fresh workdir, in order.

    A gitRepo input gets an (empty unless the spec carries files) `gitRepo/` folder where
    its files go; other inputs get their files (state resource files, or an input job's
    JOB_STATE files) in `state/`. Outputs get their current files in `state/`.
    """
    check_name(spec.job.name)
    entries: list[tuple[str, bytes]] = [
        ("IN/", b""),
        ("OUT/", b""),
        (f"{STATE_DIR}/", b""),
        (f"{PREVIOUS_STATE_DIR}/", b""),
        (f"{SHARED_DIR}/", b""),
    ]
    for inp in spec.inputs:
        entries.extend(_io_layout(inp, "IN", inp.type))
    for out in spec.outputs:
        entries.extend(_io_layout(out, "OUT", out.type))
    entries.extend(_files(PREVIOUS_STATE_DIR, spec.previous_state))
    return entries
