"""A `cliConfig` input as its tool expects to find it: environment and config files (pure).

Shippable's runCLI (and runSh with a cliConfig IN) configured a cloud CLI from the
input's integration before the job's steps ran. Gitline does the same without running
any tool: it writes the files each tool reads and sets the variables it honours, in the
job's own HOME. Which tool is told by the secret's fields (HOME/secrets.yml), as
Shippable's integration types named them:

    aws         accessKey + secretKey (+ sessionToken)      amazonKeys
    kubernetes  kubeConfig (the kubeconfig's text)           kubernetesConfig
    docker      username + password (+ url, email)         dockerRegistryLogin, quay
    gcp         JSON_key (a service-account key's JSON)     gcloudKey
    azure       appId + password + tenant                   azureKeys

The region (aws, gcp) comes from the resource's version (`versionTemplate: {region: ..}`),
which is not secret, else from a `region` field. No I/O here: the execution side writes
`files` under the job's HOME and puts a stand-in on PATH for a tool that is missing.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

DOCKER_HUB = "https://index.docker.io/v1/"
PRIVATE = 0o600  # every file written here holds a credential


@dataclass(frozen=True)
class File:
    """A file under the job's HOME (`path` relative to it)."""

    path: str
    content: bytes
    mode: int = PRIVATE


@dataclass(frozen=True)
class Setup:
    """What one cliConfig input needs in the job: variables, files and tools."""

    kind: str  # aws | kubernetes | docker | gcp | azure | "" (not recognised)
    env: dict[str, str] = field(default_factory=dict)
    files: tuple[File, ...] = ()
    tools: tuple[str, ...] = ()  # programs a job of this kind runs

    def describe(self) -> str:
        files = ", ".join(f"~/{f.path}" for f in self.files) or "no files"
        return f"{self.kind}: {files}; {', '.join(sorted(self.env)) or 'no variables'}"


def _get(fields: Mapping[str, str], *names: str) -> str:
    """The first non-empty field among `names`, case-insensitively."""
    lowered = {k.lower(): v for k, v in fields.items()}
    for name in names:
        value = lowered.get(name.lower(), "")
        if value:
            return value
    return ""


def kind_of(fields: Mapping[str, str]) -> str:
    """Which tool a secret's fields configure ("" when none)."""
    if _get(fields, "accessKey", "aws_access_key_id") and _get(fields, "secretKey",
                                                               "aws_secret_access_key"):
        return "aws"
    if _get(fields, "kubeConfig", "kubeconfig", "kubeConfigContent"):
        return "kubernetes"
    if _get(fields, "JSON_key", "jsonKey", "serviceAccountKey"):
        return "gcp"
    if _get(fields, "appId", "clientId") and _get(fields, "tenant", "tenantId"):
        return "azure"
    if _get(fields, "username") and _get(fields, "password"):
        return "docker"
    return ""


def region_of(values: Mapping[str, Any], fields: Mapping[str, str]) -> str:
    region = values.get("region")
    return str(region) if region not in (None, "") else _get(fields, "region")


def setup(name: str, fields: Mapping[str, str], values: Mapping[str, Any],
          home: str) -> Setup:
    """The Setup of cliConfig input `name` whose secret has `fields` and whose version
    has `values`, for a job whose HOME is `home` (an absolute path)."""
    kind = kind_of(fields)
    region = region_of(values, fields)
    if kind == "aws":
        return _aws(fields, region)
    if kind == "kubernetes":
        return _kubernetes(name, fields, home)
    if kind == "gcp":
        return _gcp(name, fields, region, home)
    if kind == "azure":
        return _azure(fields, home)
    if kind == "docker":
        return _docker([fields], home)
    return Setup("")


def setups(configs: Mapping[str, Mapping[str, str]], values: Mapping[str, Mapping[str, Any]],
           home: str) -> dict[str, Setup]:
    """Every cliConfig input's Setup; several docker registries share one config.json and
    several kubeconfigs one KUBECONFIG list, as the tools expect."""
    out = {n: setup(n, f, values.get(n, {}), home) for n, f in configs.items()}
    registries = [configs[n] for n, s in out.items() if s.kind == "docker"]
    if len(registries) > 1:
        merged = _docker(registries, home)
        out.update({n: merged for n, s in out.items() if s.kind == "docker"})
    kubes = [s.env["KUBECONFIG"] for s in out.values() if s.kind == "kubernetes"]
    if len(kubes) > 1:
        joined = ":".join(kubes)
        out.update({n: Setup(s.kind, {**s.env, "KUBECONFIG": joined}, s.files, s.tools)
                    for n, s in out.items() if s.kind == "kubernetes"})
    return out


def hidden_values(setup_: Setup) -> list[str]:
    """Credentials a file holds in another form than the secret's (docker's base64
    user:password): masked in the log like the secret itself."""
    if setup_.kind != "docker":
        return []
    found: list[str] = []
    for f in setup_.files:
        for entry in json.loads(f.content).get("auths", {}).values():
            found.append(str(entry.get("auth", "")))
    return [v for v in found if v]


def _ini(sections: Iterable[tuple[str, Mapping[str, str]]]) -> bytes:
    lines: list[str] = []
    for title, items in sections:
        lines.append(f"[{title}]")
        lines.extend(f"{k} = {v}" for k, v in items.items() if v)
        lines.append("")
    return "\n".join(lines).encode()


def _aws(fields: Mapping[str, str], region: str) -> Setup:
    key, secret = _get(fields, "accessKey", "aws_access_key_id"), \
        _get(fields, "secretKey", "aws_secret_access_key")
    token = _get(fields, "sessionToken", "aws_session_token")
    creds = {"aws_access_key_id": key, "aws_secret_access_key": secret,
             "aws_session_token": token}
    env = {"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret}
    if token:
        env["AWS_SESSION_TOKEN"] = token
    if region:
        env.update(AWS_DEFAULT_REGION=region, AWS_REGION=region)
    files = (File(".aws/credentials", _ini([("default", creds)])),
             File(".aws/config", _ini([("default", {"region": region, "output": "json"})])))
    return Setup("aws", env, files, ("aws",))


def _kubernetes(name: str, fields: Mapping[str, str], home: str) -> Setup:
    path = f".kube/{name}.config"
    text = _get(fields, "kubeConfig", "kubeconfig", "kubeConfigContent")
    return Setup("kubernetes", {"KUBECONFIG": f"{home}/{path}"},
                 (File(path, text.encode() + (b"" if text.endswith("\n") else b"\n")),),
                 ("kubectl",))


def _docker(registries: list[Mapping[str, str]], home: str) -> Setup:
    auths: dict[str, dict[str, str]] = {}
    for fields in registries:
        user, password = _get(fields, "username"), _get(fields, "password")
        url = _get(fields, "url", "registry", "server") or DOCKER_HUB
        entry = {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}
        if _get(fields, "email"):
            entry["email"] = _get(fields, "email")
        auths[url] = entry
    text = json.dumps({"auths": auths}, indent=2, sort_keys=True) + "\n"
    return Setup("docker", {"DOCKER_CONFIG": f"{home}/.docker"},
                 (File(".docker/config.json", text.encode()),), ("docker",))


def _gcp(name: str, fields: Mapping[str, str], region: str, home: str) -> Setup:
    text = _get(fields, "JSON_key", "jsonKey", "serviceAccountKey")
    try:
        key = json.loads(text)
    except ValueError:
        key = {}
    key = key if isinstance(key, dict) else {}
    account, project = str(key.get("client_email", "")), str(key.get("project_id", ""))
    gdir = ".config/gcloud"
    keyfile = f"{home}/{gdir}/{name}-key.json"
    env = {"GOOGLE_APPLICATION_CREDENTIALS": keyfile, "CLOUDSDK_CONFIG": f"{home}/{gdir}",
           # gcloud uses the key without `gcloud auth activate-service-account`
           "CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE": keyfile}
    if project:
        env.update(CLOUDSDK_CORE_PROJECT=project, GOOGLE_CLOUD_PROJECT=project)
    if region:
        env["CLOUDSDK_COMPUTE_REGION"] = region
    config = _ini([("core", {"account": account, "project": project}),
                   ("compute", {"region": region})])
    files = (File(f"{gdir}/{name}-key.json", text.encode()),
             File(f"{gdir}/configurations/config_default", config),
             File(f"{gdir}/active_config", b"default", 0o644))
    return Setup("gcp", env, files, ("gcloud",))


def _azure(fields: Mapping[str, str], home: str) -> Setup:
    # the variables of azure-identity's EnvironmentCredential (SDKs and Terraform read
    # them); the az CLI itself still needs `az login --service-principal` from them
    env = {"AZURE_CLIENT_ID": _get(fields, "appId", "clientId"),
           "AZURE_CLIENT_SECRET": _get(fields, "password", "clientSecret"),
           "AZURE_TENANT_ID": _get(fields, "tenant", "tenantId"),
           "AZURE_CONFIG_DIR": f"{home}/.azure"}
    sub = _get(fields, "subscriptionId", "subscription")
    if sub:
        env["AZURE_SUBSCRIPTION_ID"] = sub
    return Setup("azure", {k: v for k, v in env.items() if v}, (), ("az",))


def hidden_secrets(configs: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """`hidden_values` of every input, keyed by names that are not variable names (so
    they only mask, never reach the job's environment)."""
    out: dict[str, str] = {}
    for name, fields in configs.items():
        for i, value in enumerate(hidden_values(setup(name, fields, {}, ""))):
            out[f"{name}.cliConfig.{i}"] = value
    return out
