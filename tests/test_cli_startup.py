"""The console entry point builds only the command it runs (issue 15): the same output as the whole app."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from grader.cli.app import _only_what_runs, app

ARGS = [
    [],
    ["--help"],
    ["--version"],
    ["batch", "--help"],
    ["grade", "--help"],
    ["rubric", "--help"],
    ["rubric", "lint", "--help"],
    ["cache", "--help"],
    ["bacth"],
    ["batch"],
    ["rubric", "nope"],
    ["grade", "q05", "--answer", "a transformer attends to every token", "--backend", "offline", "--no-cache"],
]


@pytest.mark.parametrize("args", ARGS, ids=lambda a: " ".join(a) or "no-args")
def test_the_trimmed_app_says_what_the_whole_app_says(args: list[str]) -> None:
    commands, groups = list(app.registered_commands), list(app.registered_groups)
    whole = CliRunner().invoke(app, args, terminal_width=100)
    trimmed = CliRunner().invoke(_only_what_runs(app, args), args, terminal_width=100)
    assert (trimmed.exit_code, trimmed.stdout, trimmed.stderr) == (whole.exit_code, whole.stdout, whole.stderr)
    assert (app.registered_commands, app.registered_groups) == (commands, groups)  # the app itself is left whole


def test_only_the_command_that_runs_is_built() -> None:
    trimmed = _only_what_runs(app, ["batch", "--out", "x", "in.vtt"])
    assert [info.name for info in trimmed.registered_commands] == ["batch"] and trimmed.registered_groups == []
    listed = _only_what_runs(app, ["--help"])
    assert len(listed.registered_commands) == len(app.registered_commands)
    assert all(not info.callback.__code__.co_varnames for info in listed.registered_commands if info.callback)
