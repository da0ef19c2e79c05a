"""Web sessions (bounded, expiring, token re-checked) and the live log's reading."""

from __future__ import annotations

from pathlib import Path

from controller.server.auth import Principal
from controller.server.web import livelog, session
from controller.server.web.session import Sessions, csrf_ok

ADA = Principal("ada", frozenset({"read"}))


def environ(sid: str) -> dict[str, str]:
    return {"HTTP_COOKIE": f"other=1; {session.COOKIE}={sid}"}


def test_a_session_is_found_by_its_cookie_and_follows_its_token() -> None:
    valid = {"tok"}
    sessions = Sessions(lambda token: ADA if token in valid else None)
    made = sessions.new("tok")
    found = sessions.get(environ(made.sid))
    assert found is made and sessions.principal(found) == ADA
    assert sessions.get(environ("forged")) is None
    assert sessions.get({"HTTP_COOKIE": "bad=\x00;;"}) is None
    valid.clear()  # the token was removed: the session signs in nobody
    assert sessions.principal(found) is None
    sessions.end(made)
    assert sessions.get(environ(made.sid)) is None


def test_sessions_expire_and_visitors_never_push_signed_in_ones_out(monkeypatch) -> None:
    sessions = Sessions(lambda token: ADA)
    signed = sessions.new("tok")
    monkeypatch.setattr(session, "MAX_SESSIONS", 3)
    visitors = [sessions.new() for _ in range(5)]
    assert sessions.get(environ(signed.sid)) is signed
    assert sessions.get(environ(visitors[0].sid)) is None  # the oldest visitor went
    assert sessions.get(environ(visitors[-1].sid)) is visitors[-1]
    signed.used -= session.LIFETIME + 1
    assert sessions.get(environ(signed.sid)) is None


def test_csrf_needs_the_sessions_own_token() -> None:
    made = Sessions(lambda token: None).new()
    assert csrf_ok(made, made.csrf)
    assert not csrf_ok(made, "") and not csrf_ok(made, made.csrf + "x")
    assert not csrf_ok(None, made.csrf)


def test_cookie_flags() -> None:
    made = Sessions(lambda token: None).new()
    name, value = session.set_cookie(made)
    assert name == "Set-Cookie" and value.startswith(f"{session.COOKIE}={made.sid};")
    assert "HttpOnly" in value and "SameSite=Strict" in value and "Path=/" in value
    assert "Max-Age=0" in session.set_cookie(made, clear=True)[1]


def test_the_live_log_is_read_in_whole_lines_until_the_run_ends(tmp_path: Path) -> None:
    log = tmp_path / "1.log"
    assert livelog._read(log, 0, final=False) == b""  # not there yet
    log.write_bytes("one\ntwo and a half \u00e9".encode())
    assert livelog._read(log, 0, final=False) == b"one\n"
    assert livelog._read(log, 4, final=False) == b""  # waits for the end of the line
    assert livelog._read(log, 4, final=True) == "two and a half \u00e9".encode()
    assert livelog.event("log", {"text": "<b>\n</b>", "offset": 3}) == \
        b'event: log\ndata: {"text": "<b>\\n</b>", "offset": 3}\n\n'
