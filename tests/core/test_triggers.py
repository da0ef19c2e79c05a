"""Trigger files: which paths are triggers and what parameters they carry."""

import pytest

from controller.core import triggers


@pytest.mark.parametrize(
    "path, job",
    [
        ("triggers/deploy_prod", "deploy_prod"),
        ("triggers/deploy_prod.yml", "deploy_prod"),
        ("triggers/deploy_prod.env", "deploy_prod"),
        ("triggers/sub/deploy_prod", None),
        ("other/deploy_prod", None),
        ("triggers/..", None),
        ("triggers/", None),
    ],
)
def test_trigger_paths(path, job):
    assert triggers.trigger_job(path) == job


@pytest.mark.parametrize(
    "text, params, error",
    [
        (b"", {}, ""),
        (b"REASON: hotfix\n", {"REASON": "hotfix"}, ""),
        (b"REASON=hotfix\nexport N='2'\n# comment\n", {"REASON": "hotfix", "N": "2"}, ""),
        (b"FORCE: true\nN: 3\n", {"FORCE": "true", "N": "3"}, ""),
        (b"- a\n- b\n", {}, "trigger file must be a mapping of KEY: value or KEY=VALUE lines"),
        (b"\xff\xfe", {}, "trigger file is not UTF-8 text"),
        (b"bad key: 1\n", {}, "parameter name 'bad key' is not a valid environment variable name"),
        (b"A: [1]\n", {}, "parameter A must be a plain value, not a list"),
    ],
)
def test_trigger_params(text, params, error):
    assert triggers.parse_params(text) == (params, error)
