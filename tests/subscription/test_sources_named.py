"""Sources of a subscription (issue #14): names that could escape HOME/repos are refused
wherever a name comes in (gitline.yml, GITLINE_SOURCES, `gitline repo add`, a URL of the git
server), and gitline.yml's `sources:` reads as specs."""

from __future__ import annotations

import pytest
from dulwich.errors import NotGitRepository

from controller.core import subscription
from controller.server.auth import ANONYMOUS
from controller.server.gitserver import ConfigBackend, RefRules
from controller.settings import Settings, SettingsError
from controller.store.repoinit import add_source_setting, init_home, init_source
from tests.harness.commands import gitline

ESCAPES = ["../x", "/abs", "a/b", "..", ".hidden", "a..b", "x\\y", "", "a b", "-opt"]


@pytest.mark.parametrize("name", ESCAPES)
def test_a_source_name_that_could_escape_is_refused(name):
    with pytest.raises(ValueError, match="not allowed"):
        subscription.check_source_name(name)


@pytest.mark.parametrize("name", ["../x", "/abs", "a/b"])
def test_gitline_yml_with_an_escaping_source_does_not_load(tmp_path, name):
    init_home(tmp_path)
    with (tmp_path / "gitline.yml").open("a") as f:
        f.write(f"sources:\n  {name!r}: {{}}\n")
    with pytest.raises(SettingsError, match="setting sources: source name"):
        Settings.load(tmp_path)
    assert not (tmp_path / "repos").exists()


def test_gitline_sources_in_the_environment_are_checked_too(tmp_path, monkeypatch):
    init_home(tmp_path)
    monkeypatch.setenv("GITLINE_SOURCES", "shipit,../x")
    with pytest.raises(SettingsError, match="GITLINE_SOURCES"):
        Settings.load(tmp_path)
    monkeypatch.setenv("GITLINE_SOURCES", "shipit,infra")
    assert [s.name for s in Settings.load(tmp_path).sources] == ["infra", "shipit"]


@pytest.mark.parametrize("name", ["../x", "/abs", "a/b", "config"])
def test_repo_add_refuses_an_escaping_name_and_makes_nothing(tmp_path, name):
    init_home(tmp_path)
    before = (tmp_path / "gitline.yml").read_text()
    done = gitline("repo", "add", tmp_path, name, check=False)
    assert done.returncode != 0 and "source name" in done.stderr
    assert not (tmp_path / "repos").exists() and not (tmp_path.parent / "x.git").exists()
    assert (tmp_path / "gitline.yml").read_text() == before


def test_repo_add_makes_the_repository_and_lists_it_keeping_comments(tmp_path):
    init_home(tmp_path)
    done = gitline("repo", "add", tmp_path, "shipit")
    assert "repos/shipit.git" in done.stdout
    assert (tmp_path / "repos" / "shipit.git" / "HEAD").exists()
    assert (tmp_path / "repos" / "shipit.git" / "hooks" / "pre-receive").stat().st_mode & 0o111
    text = (tmp_path / "gitline.yml").read_text()
    assert "# How many jobs may run at the same time." in text
    assert not add_source_setting(tmp_path, "shipit")  # listed once
    assert [s.name for s in Settings.load(tmp_path).sources] == ["shipit"]


def test_sources_read_as_a_mapping_a_list_or_names():
    specs = subscription.parse_sources({"infra": {"upstream": "https://h/x.git",
                                                  "poll_seconds": 5}, "shipit": None})
    assert specs == (subscription.SourceSpec("infra", "https://h/x.git", poll_seconds=5.0),
                     subscription.SourceSpec("shipit"))
    assert subscription.parse_sources(["a", {"name": "b", "branch": "dev"}]) == (
        subscription.SourceSpec("a"), subscription.SourceSpec("b", branch="dev"))
    with pytest.raises(ValueError, match="listed twice"):
        subscription.parse_sources(["a", "a"])
    with pytest.raises(ValueError, match="unknown key 'url'"):
        subscription.parse_sources({"a": {"url": "x"}})


def test_a_followed_source_upstream_is_checked_as_the_upstream_is(tmp_path):
    init_home(tmp_path)
    with (tmp_path / "gitline.yml").open("a") as f:
        f.write("sources:\n  infra: {upstream: '--upload-pack=touch /tmp/x'}\n")
    with pytest.raises(SettingsError, match="sources: infra: upstream"):
        Settings.load(tmp_path)


@pytest.mark.parametrize("path", ["repos/../config.git", "repos/nope.git", "repos/x/../shipit.git",
                                  "repos/shipit.git/..", "../repos/shipit.git", "repos/"])
def test_the_git_server_opens_only_listed_sources(tmp_path, path):
    init_home(tmp_path)
    shipit = init_source(tmp_path, "shipit")
    backend = ConfigBackend(tmp_path / "config.git", rules=RefRules("main", "state"),
                            on_push=lambda p, u: None, before_push=lambda p, u: None,
                            principal=ANONYMOUS, sources={"shipit": (shipit, "main", False)})
    with pytest.raises(NotGitRepository):
        backend.open_repository(path)
    assert backend.open_repository("/repos/shipit.git").path.rstrip("/") == str(shipit)
    assert backend.open_repository("repos/shipit").path.rstrip("/") == str(shipit)


def test_folder_source_names():
    assert subscription.folder_source_name("corpus/acme__shipit@0123abc") == "shipit"
    assert subscription.folder_source_name("some/dir/infra/") == "infra"


@pytest.mark.parametrize("path", ["/api/objects/../../config.git/HEAD", "/config.git/../x/HEAD",
                                  "/repos/nope.git/info/refs", "/elsewhere.git/HEAD",
                                  "/repos/shipit.git/../../config.git/HEAD"])
def test_a_git_url_outside_a_served_repository_is_the_fallback_s(tmp_path, path):
    """dulwich matches `.../HEAD` and `.../info/refs` at any depth: before this, such a URL
    reached it and failed with a 500 instead of the API's 404."""
    from wsgiref.util import setup_testing_defaults

    from controller.server.gitserver import GitApp

    init_home(tmp_path)
    shipit = init_source(tmp_path, "shipit")
    answered: list[str] = []

    def fallback(environ, start_response):
        answered.append(environ["PATH_INFO"])
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]

    app = GitApp(tmp_path / "config.git", branch="main", state_branch="state",
                 on_push=lambda p, u: None, fallback=fallback,
                 sources={"shipit": (shipit, "main", False)})
    statuses: list[str] = []
    environ = {"PATH_INFO": path, "REQUEST_METHOD": "GET", "QUERY_STRING": ""}
    setup_testing_defaults(environ)
    body = b"".join(app(environ, lambda status, headers, *a: statuses.append(status)))
    assert statuses == ["404 Not Found"] and body == b"not found" and answered == [path]
    for served in ("/config.git/HEAD", "/repos/shipit.git/HEAD"):  # still git's
        environ = {"PATH_INFO": served, "REQUEST_METHOD": "GET", "QUERY_STRING": ""}
        setup_testing_defaults(environ)
        b"".join(app(environ, lambda status, headers, *a: statuses.append(status)))
        assert statuses[-1].startswith("200") and answered == [path]
