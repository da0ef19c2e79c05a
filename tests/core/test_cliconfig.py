"""core/cliconfig: which tool a cliConfig secret configures, and how (pure)."""

from __future__ import annotations

import base64
import json

import pytest

from controller.core import cliconfig

HOME = "/w/job/1/.gitline/home"


@pytest.mark.parametrize(("fields", "kind"), [
    ({"accessKey": "A", "secretKey": "S"}, "aws"),
    ({"accessKey": "A"}, ""),  # half a key pair configures nothing
    ({"kubeConfig": "apiVersion: v1"}, "kubernetes"),
    ({"username": "u", "password": "p", "url": "r.example.com"}, "docker"),
    ({"JSON_key": "{}"}, "gcp"),
    ({"appId": "a", "password": "p", "tenant": "t"}, "azure"),
    ({"value": "x"}, ""),
])
def test_the_fields_tell_the_tool(fields, kind):
    assert cliconfig.kind_of(fields) == kind


def test_aws_region_comes_from_the_version_not_the_secret():
    s = cliconfig.setup("aws_cli", {"accessKey": "A", "secretKey": "S", "region": "x"},
                        {"region": "eu-west-1"}, HOME)
    assert s.env == {"AWS_ACCESS_KEY_ID": "A", "AWS_SECRET_ACCESS_KEY": "S",
                     "AWS_DEFAULT_REGION": "eu-west-1", "AWS_REGION": "eu-west-1"}
    files = {f.path: f.content.decode() for f in s.files}
    assert files[".aws/credentials"] == ("[default]\naws_access_key_id = A\n"
                                         "aws_secret_access_key = S\n")
    assert "region = eu-west-1" in files[".aws/config"]
    assert all(f.mode == 0o600 for f in s.files) and s.tools == ("aws",)


def test_two_registries_share_one_docker_config_and_its_auth_is_masked():
    configs = {"a": {"username": "u1", "password": "p1", "url": "r1"},
               "b": {"username": "u2", "password": "p2"}}
    both = cliconfig.setups(configs, {}, HOME)
    assert both["a"] == both["b"]
    auths = json.loads(both["a"].files[0].content)["auths"]
    assert set(auths) == {"r1", cliconfig.DOCKER_HUB}
    hidden = cliconfig.hidden_secrets(configs)
    assert base64.b64encode(b"u1:p1").decode() in hidden.values()
    assert not any(k.isidentifier() for k in hidden)  # never an environment variable


def test_two_kubeconfigs_are_one_kubeconfig_list():
    out = cliconfig.setups({"a": {"kubeConfig": "x"}, "b": {"kubeConfig": "y"}}, {}, HOME)
    assert out["a"].env["KUBECONFIG"] == f"{HOME}/.kube/a.config:{HOME}/.kube/b.config"


def test_gcp_key_file_and_gcloud_config():
    key = json.dumps({"client_email": "ci@p.iam", "project_id": "p"})
    s = cliconfig.setup("g", {"JSON_key": key}, {"region": "europe-west1"}, HOME)
    assert s.env["GOOGLE_APPLICATION_CREDENTIALS"] == f"{HOME}/.config/gcloud/g-key.json"
    assert s.env["CLOUDSDK_CORE_PROJECT"] == "p"
    config = {f.path: f.content.decode() for f in s.files}[
        ".config/gcloud/configurations/config_default"]
    assert "account = ci@p.iam" in config and "region = europe-west1" in config
