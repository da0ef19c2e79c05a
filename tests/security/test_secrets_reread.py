"""secrets.yml is parsed again only when it changes (a fan-out asks once per run), and
is never served from that memory once it changed or became readable by others."""

from __future__ import annotations

import os

import pytest

from controller.secrets import SecretsError, load_secrets


def _write(home, text):
    path = home / "secrets.yml"
    path.write_text(text)
    path.chmod(0o600)
    return path


def test_a_changed_secrets_file_is_read_again(tmp_path):
    path = _write(tmp_path, "deploy_token: one\n")
    assert load_secrets(tmp_path, {})["deploy_token"].value == "one"
    assert load_secrets(tmp_path, {})["deploy_token"].value == "one"
    before = path.stat()
    _write(tmp_path, "deploy_token: two\n")  # same size: only the times tell
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # even with mtime put back
    assert load_secrets(tmp_path, {})["deploy_token"].value == "two"
    path.unlink()
    assert "deploy_token" not in load_secrets(tmp_path, {})


def test_the_environment_overrides_are_part_of_what_is_remembered(tmp_path):
    _write(tmp_path, "deploy_token: file\n")
    assert load_secrets(tmp_path, {})["deploy_token"].value == "file"
    env = {"GITLINE_SECRET_DEPLOY_TOKEN": "env"}
    assert load_secrets(tmp_path, env)["deploy_token"].value == "env"
    assert load_secrets(tmp_path, {})["deploy_token"].value == "file"


def test_a_remembered_file_made_readable_by_others_is_refused(tmp_path):
    path = _write(tmp_path, "deploy_token: s3cr3t\n")
    load_secrets(tmp_path, {})
    path.chmod(0o644)
    with pytest.raises(SecretsError, match="readable by others"):
        load_secrets(tmp_path, {})


def test_what_a_caller_does_to_its_answer_does_not_reach_the_next(tmp_path):
    _write(tmp_path, "deploy_token: s3cr3t\n")
    load_secrets(tmp_path, {}).pop("deploy_token")
    assert "deploy_token" in load_secrets(tmp_path, {})
