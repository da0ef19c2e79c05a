"""YAML values as the loader's readers take them: tables of what is written -> what is
used, and what is said (at its line) when a value cannot be read."""

from __future__ import annotations

from typing import Any

import pytest

from controller.core import coerce
from controller.core.yamldata import YList, YMap


def ymap(pos: tuple[int, int] = (3, 5), **values: Any) -> YMap:
    out = YMap(pos)
    for line, (key, value) in enumerate(values.items(), start=pos[0] + 1):
        out[key] = value
        out.key_pos[key] = (line, pos[1] + 2)
    return out


@pytest.mark.parametrize(("written", "used"), [
    (None, True), (True, True), (False, False), ("off", False), ("OFF ", False), ("no", False),
    ("n", False), ("0", False), (0, False), ("on", True), ("yes", True), ("1", True),
    ("maybe", None), ("", None),
])
def test_a_switch_is_on_unless_written_off_and_none_when_unreadable(written, used) -> None:
    assert coerce.switch_of(written) is used


@pytest.mark.parametrize(("written", "used"), [
    (True, True), ("TRUE", True), (" yes", True), ("y", True), (1, True),
    (None, False), (False, False), ("nope", False), (0, False), ("", False),
])
def test_a_flag_is_true_only_when_written_true(written, used) -> None:
    assert coerce.is_true(written) is used


@pytest.mark.parametrize(("written", "used"), [
    (None, 7), (3, 3), ("12", 12), (" 4 ", 4), ("x", None), ([1], None), ("1.5", None),
])
def test_an_int_is_its_default_when_absent_and_none_when_not_a_number(written, used) -> None:
    assert coerce.parse_int(written, 7) == used


@pytest.mark.parametrize(("written", "used"), [
    (None, ""), (True, "true"), (False, "false"), (3, "3"), (1.5, "1.5"), ("a b", "a b"),
])
def test_a_scalar_is_text_as_a_shell_would_write_it(written, used) -> None:
    assert coerce.as_text(written) == used


def test_lines_nested_by_aliases_are_flattened_in_order() -> None:
    assert coerce.as_lines(["a", ["b", ["c", None]], True, None]) == ["a", "b", "c", "true"]
    assert coerce.as_texts("one") == ("one",)
    assert coerce.as_texts(None) == ()


def test_plain_keeps_values_and_drops_positions() -> None:
    data = ymap(a=YList((9, 9)), b=ymap(c=1))
    data["a"].append(ymap(d=None))
    result = coerce.plain(data)
    assert result == {"a": [{"d": None}], "b": {"c": 1}}
    assert type(result) is dict and type(result["a"]) is list and type(result["a"][0]) is dict


def lines(report: coerce.Reporter) -> list[str]:
    return [f"{p.location}: {p.severity}: {p.message}" for p in report.problems]


def test_a_choice_not_allowed_is_the_first_and_said_at_its_key() -> None:
    report = coerce.Reporter("shippable.yml")
    item = ymap(triggerMode="paralel")
    assert coerce.choice(report, item, "triggerMode", ("serial", "parallel"), "j") == "serial"
    assert coerce.choice(report, ymap(), "triggerMode", ("serial", "parallel"), "j") == "serial"
    assert lines(report) == ["shippable.yml:4:7: warning: triggerMode 'paralel' is not one of "
                             "serial, parallel; using serial"]
    assert report.problems[0].subject == "j"


def test_a_number_not_a_number_is_the_default_and_said_at_its_key() -> None:
    report = coerce.Reporter("a/shippable.yml")
    assert coerce.number(report, ymap(priority="high"), "priority", 9999, "j") == 9999
    assert coerce.number(report, ymap(priority="5"), "priority", 9999, "j") == 5
    assert lines(report) == ["a/shippable.yml:4:7: warning: priority 'high' is not a number; "
                             "using 9999"]


def test_an_unquoted_colon_in_a_script_line_is_read_back_and_said() -> None:
    report = coerce.Reporter("shippable.yml")
    assert coerce.script_lines(report, ["make", ymap((8, 11), echo="a")], "j") == [
        "make", "echo: a"]
    assert lines(report) == ["shippable.yml:8:11: warning: this script line is a YAML mapping "
                             "(an unquoted ': '); read as 'echo: a': quote the line"]


def test_a_mapping_as_a_script_line_is_an_error_and_no_line() -> None:
    report = coerce.Reporter("shippable.yml")
    assert coerce.script_lines(report, ymap((5, 3), a=1, b=2), "j") == []
    assert lines(report) == ["shippable.yml:5:3: error: a script line must be text"]


def test_a_dialect_warning_is_said_once_per_file() -> None:
    report = coerce.Reporter("one.yml")
    report.warn_once((1, 1), "'GET:' is 2016 syntax")
    report.warn_once((2, 1), "'GET:' is 2016 syntax")
    report.path = "two.yml"
    report.warn_once((3, 1), "'GET:' is 2016 syntax")
    assert lines(report) == [
        "one.yml:1:1: warning: 'GET:' is 2016 syntax (first use in this file)",
        "two.yml:3:1: warning: 'GET:' is 2016 syntax (first use in this file)",
    ]
