"""HOME/pushes.jsonl stays bounded: rotated past a number of lines, a few rotated files
kept, and a pushed commit is still named while its file is kept."""

from __future__ import annotations

from pathlib import Path

from controller.store.pushlog import Pusher, PushLog


def _sha(n: int) -> str:
    return f"{n:040x}"


def test_rotates_past_the_line_limit_and_keeps_n_files(tmp_path: Path) -> None:
    log = PushLog(tmp_path, rotate_lines=10, kept=2)
    for n in range(45):
        log.record(Pusher("ci"), [_sha(n)])
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["pushes.jsonl", "pushes.jsonl.1", "pushes.jsonl.2"]
    assert [len(p.read_text().splitlines()) for p in log.files()] == [10, 10, 5]
    assert log.pusher(_sha(44)) == "ci" and log.pusher(_sha(20)) == "ci"
    assert log.pusher(_sha(19)) is None  # its file went with the third rotation
    again = PushLog(tmp_path, rotate_lines=10, kept=2)  # a restart reads the rotated ones
    assert again.pusher(_sha(25)) == "ci" and again.pusher(_sha(5)) is None


def test_rotate_due_applies_a_smaller_setting_and_trim_keeps_the_newest(tmp_path: Path) -> None:
    big = PushLog(tmp_path, rotate_lines=5, kept=4)
    for n in range(23):
        big.record(Pusher("ci"), [_sha(n)])
    assert len(big.files()) == 5
    small = PushLog(tmp_path, rotate_lines=5, kept=1)
    assert small.rotate_due() == 15  # .2 .. .4 removed
    assert len(small.files()) == 2 and small.pusher(_sha(22)) == "ci"
    assert small.pusher(_sha(17)) == "ci" and small.pusher(_sha(14)) is None
    assert small.rotate(3) == 5
    assert small.files() == [tmp_path / "pushes.jsonl"]
    assert [small.pusher(_sha(n)) for n in (19, 20, 21, 22)] == [None, "ci", "ci", "ci"]


def test_without_rotated_files_kept_the_file_starts_again(tmp_path: Path) -> None:
    log = PushLog(tmp_path, rotate_lines=3, kept=0)
    for n in range(7):
        log.record("ci", [_sha(n)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pushes.jsonl"]
    assert log.pusher(_sha(6)) == "ci" and log.pusher(_sha(5)) is None
