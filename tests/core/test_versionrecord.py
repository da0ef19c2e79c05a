"""version.json: the record a job starts with, what shipctl writes to it, what it means."""

from __future__ import annotations

from controller.core import versionrecord
from controller.core.versionrecord import Written

START = {"type": "version", "versionName": "1.0.0", "values": {"a": "1", "b": "2"}}


def test_a_record_nobody_wrote_stands_for_itself() -> None:
    assert versionrecord.written(START) is None
    assert versionrecord.effective(START) == START


def test_put_adds_to_the_current_values_and_post_replaces_them() -> None:
    put = versionrecord.add_values(START, [("b", "3"), ("versionName", "1.1.0")], replace=False)
    assert put == Written(False, {"b": "3"}, "1.1.0", START)
    record = versionrecord.decode(versionrecord.encode_written(put))
    assert versionrecord.effective(record) == {
        **START, "versionName": "1.1.0", "values": {"a": "1", "b": "3"}}
    post = versionrecord.add_values(record, [("c", "4")], replace=True)
    assert post == Written(True, {"c": "4"}, "", START)
    assert versionrecord.effective(versionrecord.decode(versionrecord.encode_written(post))) == {
        **START, "values": {"c": "4"}}


def test_a_put_after_a_post_keeps_what_the_post_wrote() -> None:
    post = versionrecord.add_values(START, [("c", "4")], replace=True)
    put = versionrecord.add_values(
        versionrecord.decode(versionrecord.encode_written(post)), [("d", "5")], replace=False)
    assert put == Written(True, {"c": "4", "d": "5"}, "", START)


def test_anything_but_a_json_object_decodes_to_nothing() -> None:
    assert versionrecord.decode("[1]") == {}
    assert versionrecord.decode("{not json") == {}
    assert versionrecord.decode(b'{"a": 1}') == {"a": 1}
