"""A name is a name: `$` matched before a trailing newline, so `name: "r\\n"` passed the
name check and wrote records that never read back (endless state commits)."""

from __future__ import annotations

import pytest

from controller.core import loader, model, triggers
from controller.store import yamlio

LINE = """\
resources:
  - name: "r\\n"
    type: params
    versionTemplate:
      params: {A: "1"}
  - name: fine
    type: params
    versionTemplate:
      params: {A: "1"}
jobs:
  - name: "j\\n"
    type: runSh
    steps:
      - IN: fine
      - TASK: {script: [echo hi]}
"""


def test_a_name_with_a_trailing_newline_is_refused_at_its_line():
    wf = loader.load_text("shippable.yml", LINE)
    assert "r\n" not in wf.resources and "j\n" not in wf.jobs
    assert "fine" in wf.resources  # the rest of the workflow loads
    where = {(p.location.line, p.severity) for p in wf.problems}
    assert (2, "error") in where and (11, "error") in where, [str(p) for p in wf.problems]


@pytest.mark.parametrize("name", ["r\n", "r\r", "a/b", "..", ".", "-x", "x\n"])
def test_unsafe_names_are_not_names(name):
    assert not model.is_safe_name(name)


@pytest.mark.parametrize("key", ["K\n", "K\nBASH_ENV", "1K", "K-1"])
def test_trigger_keys_that_are_not_shell_names_are_refused(key):
    params, error = triggers.parse_params(f"{key!r}: v\n".encode(), "triggers/j")
    assert key not in params and error


@pytest.mark.parametrize("value", ["r\n", "plain", "two words", "x: y", "- a", "#c", "",
                                   "tab\there", "true", "12", "1.5", "a\nb\n", " lead"])
def test_every_string_reads_back_as_it_was_written(value):
    record = {"name": value, "values": {"KEY": value}, "list": [value]}
    assert yamlio.load_mapping(yamlio.dump(record)) == record
