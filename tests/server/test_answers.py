"""HOME/answers.sock: the hook's client and the controller's socket, end to end in one
process; the answerer reads a push's objects only from inside the repository."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dulwich.file import FileLocked

from controller import answerclient
from controller.pushanswer import Answerer
from controller.server.answers import AnswerSocket
from controller.server.gitserver import _StrictRefs
from tests.harness.home import make_home

CLIENT = Path(answerclient.__file__)


def ask(home: Path, old: str = "a" * 40, new: str = "b" * 40,
        objects: str = "") -> subprocess.CompletedProcess[str]:
    """The hook's client as the hook runs it: in config.git, without site-packages."""
    env = {"PATH": os.environ["PATH"], "GIT_DIR": ".", **(
        {"GIT_QUARANTINE_PATH": objects} if objects else {})}
    return subprocess.run([sys.executable, "-S", "-E", str(CLIENT), old, new],
                          cwd=home / "config.git", env=env, capture_output=True, text=True,
                          timeout=30)


@pytest.fixture
def deep_home(tmp_path: Path) -> Path:
    """A HOME whose socket path is longer than a socket address holds (108 bytes)."""
    home = tmp_path / ("x" * 60) / ("y" * 60) / "home"
    return make_home(home)


def test_the_client_reads_the_answer_and_exits_3_when_the_push_is_refused(deep_home):
    asked: list[dict] = []

    def answer(request: dict) -> dict:
        asked.append(request)
        return {"lines": ["gitline: one", "  two"], "refuse": request["new"] == "c" * 40}

    sock = AnswerSocket(deep_home / "answers.sock", answer).start()
    try:
        done = ask(deep_home, objects=str(deep_home / "config.git" / "objects" / "q"))
        assert (done.returncode, done.stdout) == (0, "gitline: one\n  two\n")
        assert ask(deep_home, new="c" * 40).returncode == answerclient.REFUSE
    finally:
        sock.stop()
    assert asked[0] == {"old": "a" * 40, "new": "b" * 40,
                        "objects": str(deep_home / "config.git" / "objects" / "q")}
    assert not (deep_home / "answers.sock").exists()
    assert ask(deep_home).returncode == answerclient.UNANSWERED  # no controller: plan here


def test_a_failed_answer_accepts_the_push_and_says_why(deep_home):
    sock = AnswerSocket(deep_home / "answers.sock", lambda request: 1 / 0).start()
    try:
        done = ask(deep_home)
    finally:
        sock.stop()
    assert done.returncode == 0
    assert done.stdout == ("gitline: no plan for this push (ZeroDivisionError: division by "
                           "zero); it is accepted\n")


def test_the_answerer_reads_objects_only_from_inside_the_repository(tmp_path):
    make_home(tmp_path / "home")
    answerer = Answerer(tmp_path / "home" / "config.git", branch="main", state_branch="state")
    with pytest.raises(ValueError, match="is not inside"):
        answerer("", "b" * 40, reject_invalid=False, objects=str(tmp_path / "elsewhere"))


class _Locked:
    """dulwich's refs while another push holds refs/heads/main.lock."""

    def set_if_equals(self, *args: object, **kw: object) -> bool:
        raise FileLocked(b"refs/heads/main", b"refs/heads/main.lock")

    remove_if_equals = set_if_equals


def test_a_ref_locked_by_another_push_is_a_lost_race_not_a_failed_request():
    # the answer's remote: lines are sent by then: the push must end with a status line
    refs = _StrictRefs(_Locked())
    with pytest.raises(OSError, match="moved during the push; fetch and push again"):
        refs.set_if_equals(b"refs/heads/main", b"a" * 40, b"b" * 40)
    with pytest.raises(OSError, match="moved during the push"):
        refs.remove_if_equals(b"refs/heads/main", b"a" * 40)


def test_the_hooks_json_is_json() -> None:
    """The hook's client codes JSON with the C scanner alone; it reads what json writes."""
    import json

    reply = {"lines": ["gitline: 1 run", "é \\ \" \n", ""], "refuse": False, "n": [1, 2.5, None]}
    assert answerclient.loads(json.dumps(reply).encode() + b"\n") == reply
    request = {"old": "a" * 40, "new": "b" * 40, "objects": "/tmp/dé\"p"}
    assert json.loads(answerclient.dumps(request)) == request
    assert json.loads(answerclient.dumps({"objects": None})) == {"objects": None}
    for bad in (b"", b"{", b"[1] 2", b"\xff"):
        with pytest.raises(ValueError):
            answerclient.loads(bad)


def hook(home: Path, new: str = "b" * 40, objects: str = "",
         source: str = "") -> subprocess.CompletedProcess[str]:
    """The installed pre-receive hook as git runs it, for a push of `new` to main."""
    repo = home / "repos" / f"{source}.git" if source else home / "config.git"
    env = {"PATH": os.environ["PATH"], "GIT_DIR": ".",
           **({"GIT_QUARANTINE_PATH": objects} if objects else {})}
    return subprocess.run(["sh", "hooks/pre-receive"], input=f"{'a' * 40} {new} refs/heads/main\n",
                          cwd=repo, env=env, capture_output=True, text=True, timeout=60)


def test_the_hook_asks_through_git_s_socket_client_without_starting_python(deep_home,
                                                                          monkeypatch):
    from controller.server import hookwire

    asked: list[dict] = []
    read = hookwire.read_request
    monkeypatch.setattr(hookwire, "read_request",
                        lambda *a: asked.append({"by": "git"}) or read(*a))

    def answer(request: dict) -> dict:
        asked.append(request)
        return {"lines": ["gitline: one", "  two"], "refuse": request["new"] == "c" * 40}

    objects = deep_home / "config.git" / "objects" / "q"
    sock = AnswerSocket(deep_home / "answers.sock", answer).start()
    try:
        done = hook(deep_home, objects="objects/q")  # relative: made absolute, as Python did
        assert (done.returncode, done.stdout) == (0, "gitline: one\n  two\n")
        refused = hook(deep_home, new="c" * 40)
        assert (refused.returncode, refused.stdout) == (1, "gitline: one\n  two\n")
    finally:
        sock.stop()
    assert asked == [{"by": "git"}, {"old": "a" * 40, "new": "b" * 40, "objects": str(objects)},
                     {"by": "git"}, {"old": "a" * 40, "new": "c" * 40, "objects": None}]


def test_a_hook_answer_with_no_lines_and_a_failed_one_say_what_python_said(deep_home):
    replies: list[dict | Exception] = [{"lines": [], "refuse": False},
                                       ZeroDivisionError("division by zero")]

    def answer(request: dict) -> dict:
        reply = replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply

    sock = AnswerSocket(deep_home / "answers.sock", answer).start()
    try:
        quiet, failed = hook(deep_home), hook(deep_home)
    finally:
        sock.stop()
    assert (quiet.returncode, quiet.stdout) == (0, "")
    assert (failed.returncode, failed.stdout) == (0, (
        "gitline: no plan for this push (ZeroDivisionError: division by zero); it is "
        "accepted\n"))


def test_the_hook_without_a_verdict_asks_through_the_python_client(deep_home):
    """A quarantine path with a newline (no KEY=VALUE line holds it) goes the JSON way."""
    asked: list[dict] = []
    sock = AnswerSocket(deep_home / "answers.sock",
                        lambda request: asked.append(request) or {"lines": ["gitline: ok"]}
                        ).start()
    odd = str(deep_home / "config.git" / "objects" / "a\nb")
    try:
        done = hook(deep_home, objects=odd)
    finally:
        sock.stop()
    assert (done.returncode, done.stdout) == (0, "gitline: ok\n")
    assert asked == [{"old": "a" * 40, "new": "b" * 40, "objects": odd}]


def test_the_hook_s_git_client_is_given_up_after_the_wait() -> None:
    from controller.server import hookwire

    late = hookwire.answer_within(lambda request: time.sleep(1) or {}, {}, seconds=0.05)
    assert hookwire.reply_text(late) == (
        b"gitline: the controller did not answer (timed out after 0 s); the push is "
        b"accepted\ngitline-answer: accept\n")
    assert hookwire.reply_text({"error": "E: x", "refuse": True}) == (
        b"gitline: no plan for this push (E: x); it is accepted\ngitline-answer: accept\n")
    refused = hookwire.reply_text({"lines": ["a"], "refuse": True})
    assert refused == b"a\ngitline-answer: refuse\n"


def test_over_http_an_accepted_push_names_its_pusher_before_the_ref_moves() -> None:
    from dulwich.errors import HookError

    from controller.server.auth import ANONYMOUS
    from controller.server.gitserver import RefRules, _Update

    landed: list[list[tuple[str, str, str]]] = []
    rules = RefRules("main", "state")

    def update(refuse: bool) -> _Update:
        return _Update(rules, ANONYMOUS, lambda who, old, new: (["gitline: ok"], refuse),
                       lambda who, updates: landed.append(updates))

    update(False).execute(b"refs/heads/main", b"a" * 40, b"b" * 40)
    assert landed == [[("a" * 40, "b" * 40, "refs/heads/main")]]
    with pytest.raises(HookError, match="reject_invalid"):
        update(True).execute(b"refs/heads/main", b"a" * 40, b"c" * 40)
    with pytest.raises(HookError, match="written only by the controller"):
        update(False).execute(b"refs/heads/state", b"a" * 40, b"c" * 40)
    assert len(landed) == 1  # refused pushes name no pusher
