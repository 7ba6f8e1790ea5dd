"""One declaration of the grading options (the Settings fields) from which the commands and the cache key follow.

Adding a Settings field with a plain default fails here: it must say whether it goes into the cache key (KEY),
reaches it through the judge's profile (JUDGE), or why it cannot change a grade. A KEY option reaches the key
with no further edit, and every option with a flag reaches `grade` and `batch`.
"""

from __future__ import annotations

import typing
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from grader.cli import app
from grader.cli.options import GRADING, MEASURING
from grader.config import JUDGE, KEY, Settings, option_specs
from grader.grading.service import GradingService
from grader.judges.base import GradingTask
from grader.judges.select import judge_profile

SPECS = option_specs()


def changed(name: str, value: Any) -> Any:
    """Another valid value for a setting."""
    hint = typing.get_type_hints(Settings)[name]
    if typing.get_origin(hint) is typing.Literal:
        return next(choice for choice in typing.get_args(hint) if choice != value)
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float) or value is None:
        return 0.3
    return f"{value}-other"


def test_every_setting_says_what_it_does_to_the_cache_key() -> None:
    assert set(SPECS) == {f.name for f in fields(Settings)}
    for name, spec in SPECS.items():
        assert spec.cache in (KEY, JUDGE) or len(spec.cache.split()) >= 3, f"{name}: say why it is not in the key"


@pytest.mark.parametrize("name", [name for name, spec in SPECS.items() if spec.cache == KEY])
def test_a_key_option_reaches_the_cache_key(name: str) -> None:
    service = GradingService(Settings(backend="offline", use_cache=False))
    task = GradingTask(service.question("q05"), service.rubric("q05").rubric, "A VAE learns a latent distribution.")
    before = service._key(task, "sha")
    service.settings = replace(service.settings, **{name: changed(name, getattr(service.settings, name))})
    assert service._key(task, "sha") != before


@pytest.mark.parametrize("name", [name for name, spec in SPECS.items() if spec.cache == JUDGE])
def test_a_judge_option_reaches_the_cache_key_through_the_judge_profile(name: str) -> None:
    settings = Settings(backend="openai", base_url="http://127.0.0.1:9/v1")
    other = {"backend": "offline", "base_url": "http://127.0.0.1:10/v1"}.get(name)
    moved = replace(settings, **{name: other if other is not None else changed(name, getattr(settings, name))})
    assert judge_profile(moved) != judge_profile(settings)


def test_every_flagged_option_reaches_the_grading_commands() -> None:
    flagged = {name for name, spec in SPECS.items() if spec.flag}
    assert flagged == set(GRADING) and set(MEASURING) <= flagged
    runner = CliRunner()
    for command in (["grade"], ["batch"]):
        shown = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "200"}).stdout
        for name in flagged:
            assert str(SPECS[name].flag).split("/")[0] in shown, (command, name)


def test_flags_set_the_settings(tmp_path: Path) -> None:
    from grader.cli.options import build_settings

    settings = build_settings(samples=3, use_cache=False, audience="candidate", backend="offline")
    assert (settings.samples, settings.use_cache, settings.audience) == (3, False, "candidate")
    assert build_settings(no_cache=True, backend="offline").use_cache is False
