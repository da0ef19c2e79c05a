"""Settings a user can trust: documented in one place (docs/settings.md, checked here
against controller/settings.py), and a damaged gitline.yml, an unreadable HOME, a bad
value or a missing HOME stop every command with one line naming the file and the
problem, exit status 1, never a traceback (issue #10)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import MISSING, fields
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from controller.settings import Settings
from controller.store.repoinit import init_home
from tests.harness.home import make_home

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "settings.md"
ROW = re.compile(r"^\| `(?P<name>[a-z_]+)` \| `(?P<default>[^`]*)` \| (?P<meaning>.+) \|$")

# Every command that reads HOME/gitline.yml, with arguments that would otherwise be valid.
COMMANDS = [
    ("status",), ("log", "app"), ("logs", "app"), ("trigger", "app"), ("approve", "app"),
    ("cancel", "app"), ("replay", "app", "1"), ("serve", "--listen", "none"),
]


def documented() -> dict[str, tuple[str, str]]:
    rows = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        m = ROW.match(line)
        if m:
            rows[m["name"]] = (m["default"], m["meaning"])
    return rows


def test_docs_settings_lists_every_setting_with_its_default():
    rows = documented()
    settings = {f.name: f.default for f in fields(Settings) if f.name != "home"}
    missing = [n for n in settings if n not in rows]
    assert not missing, (
        f"docs/settings.md has no row for the setting(s) {', '.join(missing)} of "
        "controller/settings.py; add one per setting to its table: "
        "| `name` | `default` | what it does |")
    stale = [n for n in rows if n not in settings]
    assert not stale, f"docs/settings.md documents {stale}, which controller/settings.py lacks"
    for name, default in settings.items():
        assert default is not MISSING
        shown = YAML(typ="safe", pure=True).load(rows[name][0] or '""')
        kind = type(default)
        assert (shown if default is None else kind(shown)) == default, (
            f"docs/settings.md gives setting {name} the default `{rows[name][0]}`; "
            f"controller/settings.py has {default!r}")
        assert len(rows[name][1]) > 20, f"docs/settings.md: say what {name} does"


def test_generated_settings_file_is_true_and_loads(tmp_path):
    init_home(tmp_path / "home")
    text = (tmp_path / "home" / "gitline.yml").read_text()
    assert "status pages" not in text  # there are none
    assert "docs/settings.md" in text
    keys = YAML(typ="safe", pure=True).load(text)
    assert set(keys) <= {f.name for f in fields(Settings)}
    loaded = Settings.load(tmp_path / "home")
    assert all(getattr(loaded, k) == type(getattr(loaded, k))(v) for k, v in keys.items())


# ------------------------------------------------------------------- damaged settings

def gitline(*args: str | Path, env: dict[str, str] | None = None,
            prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("GITLINE_")}
    return subprocess.run([*prefix, sys.executable, "-m", "controller.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=60, cwd=ROOT,
                          env={**full, **(env or {})})


def one_clear_line(done: subprocess.CompletedProcess[str], *expected: str) -> str:
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return make_home(tmp_path / "home")


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
@pytest.mark.parametrize("text, problem", [
    ("workers: [1, 2\n", "gitline.yml:2:1: not valid YAML"),
    ("workers: 0\n", "gitline.yml: setting workers: must be at least 1, not 0"),
], ids=["damaged", "workers-0"])
def test_every_command_names_the_file_and_the_problem(home, command, text, problem):
    (home / "gitline.yml").write_text(text)
    one_clear_line(gitline(command[0], home, *command[1:]), f"Error: {home}/{problem}")
    assert not (home / "serve.lock").exists() or command[0] == "serve"


@pytest.mark.parametrize("content, problem", [
    (b"- workers\n", "gitline.yml: must be a mapping of setting: value"),
    (b"wokers: 2\n", "gitline.yml: unknown setting 'wokers'"),
    (b"poll_seconds: 0\n", "gitline.yml: setting poll_seconds: must be more than 0"),
    (b"workers: two\n", "gitline.yml: setting workers: invalid literal"),
    (b"anonymous_read: maybe\n", "gitline.yml: setting anonymous_read: expected true or"),
    (b"branch: main\nbranch: dev\n", "gitline.yml:2:1: not valid YAML"),
    (b"\xff\xfeworkers: 2\n", "gitline.yml: not UTF-8 text"),
], ids=["list", "unknown", "poll-0", "not-a-number", "not-a-bool", "duplicate", "binary"])
def test_each_kind_of_damage_is_one_line(home, content, problem):
    (home / "gitline.yml").write_bytes(content)
    one_clear_line(gitline("status", home), f"{home}/{problem}")


def test_a_bad_environment_variable_is_named_instead_of_the_file(home):
    one_clear_line(gitline("status", home, env={"GITLINE_WORKERS": "0"}),
                   "GITLINE_WORKERS: setting workers: must be at least 1, not 0")


def test_gitline_yml_that_is_a_folder(home):
    (home / "gitline.yml").unlink()
    (home / "gitline.yml").mkdir()
    one_clear_line(gitline("status", home), f"{home}/gitline.yml: cannot read:")


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_every_command_on_a_missing_home_says_how_to_make_one(tmp_path, command):
    missing = tmp_path / "nowhere"
    one_clear_line(gitline(command[0], missing, *command[1:]),
                   f"{missing} is not a Gitline home: run `gitline init {missing}`")
    assert not missing.exists()  # nothing was created on the way


def _unprivileged() -> tuple[str, ...] | None:
    """A prefix that runs a command without root's licence to read anything."""
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    return (setpriv, "--bounding-set", "-dac_override,-dac_read_search") if setpriv else None


@pytest.mark.parametrize("command", [*COMMANDS, ("token", "list")], ids=lambda c: "-".join(c))
def test_every_command_on_an_unreadable_home_names_it(home, command):
    prefix = _unprivileged()
    if prefix is None:
        pytest.skip("running as root without setpriv: every HOME is readable")
    args = command if command[0] != "token" else ("token", "list")
    rest = () if command[0] == "token" else command[1:]
    home.chmod(0)
    try:
        done = gitline(*args[: 2 if command[0] == "token" else 1], home, *rest, prefix=prefix)
    finally:
        home.chmod(0o755)
    one_clear_line(done, f"Error: {home}/", "Permission denied")
