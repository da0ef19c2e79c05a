"""The CLI as a user meets it: help everywhere, honest exit codes, graph and validate."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from controller.cli import main

SAMPLE = Path(__file__).resolve().parents[2] / "sample-repo"


@pytest.mark.parametrize("command", sorted(main.commands))
def test_every_command_has_help(command):
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0
    assert "Usage: main " + command in result.output or f"{command} [OPTIONS]" in result.output
    assert main.commands[command].help


def test_graph_draws_switch_off_edges_dotted():
    dot = CliRunner().invoke(main, ["graph", str(SAMPLE)]).output
    assert dot.startswith("digraph workflow {")
    assert '"prod_params" -> "deploy_prod" [style=dotted];' in dot
    assert '"app_src" -> "build_app";' in dot
    mermaid = CliRunner().invoke(main, ["graph", str(SAMPLE), "--format", "mermaid"]).output
    assert mermaid.startswith("flowchart LR") and "-.->" in mermaid


def test_validate_clean_sample_exits_0_and_bad_file_exits_1(tmp_path):
    ok = CliRunner().invoke(main, ["validate", str(SAMPLE)])
    assert ok.exit_code == 0, ok.output
    bad = tmp_path / "shippable.yml"
    bad.write_text("resources:\n  - name: a\n    type: params\n  - name: a\n    type: params\n")
    result = CliRunner().invoke(main, ["validate", str(tmp_path)])
    assert result.exit_code == 1
    assert f"{bad}:4:" in result.output and "'a'" in result.output


def test_commands_on_a_missing_home_say_how_to_create_one(tmp_path):
    result = CliRunner().invoke(main, ["status", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert "gitline init" in result.output
