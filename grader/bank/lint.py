"""Rubric lint: checks beyond the schema that make a rubric fit for grading real candidates."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import ValidationError

from grader.bank.rubrics import LoadedRubric, load_rubric_file
from grader.bank.yamlio import load_yaml, validation_messages
from grader.errors import GraderError
from grader.models import Question, Rubric
from grader.scoring import score_levels

MIN_LEVELS = 3
MIN_CRITERIA, MAX_CRITERIA = 3, 6
MIN_REFERENCE_WORDS = 60
MIN_EXEMPLARS = 3
LOW_EXEMPLAR, HIGH_EXEMPLAR = 0.30, 0.70
SCORE_TOLERANCE = 0.011
DEFAULT_PROMPT_BUDGET = 6000


@dataclass(frozen=True)
class LintMessage:
    """One finding, printed as `file:line: severity: text`."""

    path: Path
    line: int
    severity: Literal["error", "warning"]
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.severity}: {self.text}"


def _words(text: str) -> int:
    return len(re.findall(r"\w+", text))


_PLACEHOLDER = re.compile(r"\bTODO\b")


def _strings(node: object, loc: tuple[str | int, ...] = ()) -> Iterable[tuple[tuple[str | int, ...], str]]:
    """Every string in a rubric's data, with where it sits."""
    if isinstance(node, str):
        yield loc, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, (*loc, str(key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _strings(value, (*loc, index))


def _dotted(loc: tuple[str | int, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")


SelfCheck = Callable[[Rubric, str], Iterable[tuple[tuple[str | int, ...], str]]]
"""Reads a rubric (and its question's text) as a judge does and returns (field, problem) pairs."""


def lint_rubric(
    loaded: LoadedRubric,
    question_ids: set[str] | None = None,
    prompt_tokens: Callable[[LoadedRubric], int] | None = None,
    prompt_budget: int = DEFAULT_PROMPT_BUDGET,
    self_check: SelfCheck | None = None,
    question_text: str = "",
) -> list[LintMessage]:
    """Check one loaded rubric.

    `prompt_tokens` renders its grading prompt and counts its tokens; `self_check` reads the rubric with a judge's
    matcher (the CLI passes the offline judge's: its correct texts must not state its own wrong claims).
    """
    rubric, located = loaded.rubric, loaded.located
    messages: list[LintMessage] = []

    def report(loc: tuple[str | int, ...], text: str, severity: Literal["error", "warning"] = "error") -> None:
        messages.append(LintMessage(loaded.path, located.line_of(loc), severity, text))

    expected_name = f"{rubric.question_id}.yaml"
    if loaded.path.name != expected_name:
        report(("question_id",), f"question_id {rubric.question_id} does not match the file name {loaded.path.name}")
    if question_ids is not None and rubric.question_id not in question_ids:
        report(("question_id",), f"{rubric.question_id} is not a question in questions.yaml")

    if not MIN_CRITERIA <= len(rubric.criteria) <= MAX_CRITERIA:
        report(("criteria",), f"{len(rubric.criteria)} criteria; use {MIN_CRITERIA} to {MAX_CRITERIA}")
    seen: dict[str, int] = {}
    for index, criterion in enumerate(rubric.criteria):
        where = ("criteria", index)
        if criterion.id in seen:
            report((*where, "id"), f"duplicate criterion id {criterion.id!r} (first at criteria[{seen[criterion.id]}])")
        seen.setdefault(criterion.id, index)
        if len(criterion.levels) < MIN_LEVELS:
            report(
                (*where, "levels"),
                f"criterion {criterion.id!r} has {len(criterion.levels)} levels; use at least {MIN_LEVELS}",
            )
        if not math.isfinite(criterion.weight):
            report((*where, "weight"), f"criterion {criterion.id!r} weight must be a finite number")
        if len(set(criterion.levels)) < len(criterion.levels):
            report((*where, "levels"), f"criterion {criterion.id!r} repeats a level description")
    weights = [c.weight for c in rubric.criteria if math.isfinite(c.weight)]
    if weights and max(weights) > 10 * min(weights):
        report(("criteria",), "one weight is more than 10 times another; is a criterion really that minor?", "warning")

    if _words(rubric.reference_answer) < MIN_REFERENCE_WORDS:
        report(
            ("reference_answer",),
            f"reference answer has {_words(rubric.reference_answer)} words; write at least {MIN_REFERENCE_WORDS}",
        )

    for loc, text in _strings(rubric.model_dump(mode="json")):
        if _PLACEHOLDER.search(text):
            report(loc, f"placeholder left in {_dotted(loc)}: {text.strip()[:60]!r}")
    messages.extend(_lint_exemplars(loaded, seen))
    if self_check is not None and not any(m.severity == "error" for m in messages):
        for loc, text in self_check(rubric, question_text):
            report(loc, text)
    if prompt_tokens is not None and not any(m.severity == "error" for m in messages):
        try:
            tokens = prompt_tokens(loaded)
        except GraderError as exc:
            report((), f"grading prompt does not render: {exc}")
        else:
            if tokens > prompt_budget:
                report((), f"grading prompt is {tokens} tokens, over the budget of {prompt_budget}")
    return messages


def _lint_exemplars(loaded: LoadedRubric, criterion_index: dict[str, int]) -> list[LintMessage]:
    rubric, located = loaded.rubric, loaded.located
    messages: list[LintMessage] = []

    def report(loc: tuple[str | int, ...], text: str) -> None:
        messages.append(LintMessage(loaded.path, located.line_of(loc), "error", text))

    if len(rubric.exemplars) < MIN_EXEMPLARS:
        report(("exemplars",), f"{len(rubric.exemplars)} exemplars; write at least {MIN_EXEMPLARS}")
    for index, exemplar in enumerate(rubric.exemplars):
        where = ("exemplars", index)
        if not 0 <= exemplar.expected_score <= rubric.max_score:
            report(
                (*where, "expected_score"),
                f"expected_score {exemplar.expected_score} is outside 0 … {rubric.max_score}",
            )
        if exemplar.levels is None:
            continue
        unknown = sorted(set(exemplar.levels) - set(criterion_index))
        missing = sorted(set(criterion_index) - set(exemplar.levels))
        if unknown:
            report((*where, "levels"), f"levels name unknown criteria: {', '.join(unknown)}")
        if missing:
            report((*where, "levels"), f"levels miss criteria: {', '.join(missing)}")
        out_of_range = [
            f"{cid}={level}"
            for cid, level in exemplar.levels.items()
            if cid in criterion_index and not 0 <= level < len(rubric.criteria[criterion_index[cid]].levels)
        ]
        if out_of_range:
            report((*where, "levels"), f"levels out of range: {', '.join(out_of_range)}")
        if not (unknown or missing or out_of_range):
            computed = score_levels(rubric, exemplar.levels)
            if abs(computed - exemplar.expected_score) > SCORE_TOLERANCE:
                report(
                    (*where, "expected_score"),
                    f"expected_score {exemplar.expected_score} does not follow from its levels ({computed})",
                )
    scores = [e.expected_score / rubric.max_score for e in rubric.exemplars]
    if len(scores) >= MIN_EXEMPLARS:
        if min(scores) > LOW_EXEMPLAR:
            report(
                ("exemplars",),
                f"no exemplar at or below {LOW_EXEMPLAR:.0%} of max_score; the scale needs a weak answer",
            )
        if max(scores) < HIGH_EXEMPLAR:
            report(
                ("exemplars",),
                f"no exemplar at or above {HIGH_EXEMPLAR:.0%} of max_score; the scale needs a strong answer",
            )
    return messages


def prompt_counter(prompts_dir: Path, questions: list[Question], model: str) -> Callable[[LoadedRubric], int]:
    """Tokens, for `model`, of the grading prompt a rubric renders with no answer: what the lint budget limits."""
    from grader.bank.prompts import PromptRenderer
    from grader.bank.questions import find_question
    from grader.text.tokens import TokenCounter

    renderer = PromptRenderer(prompts_dir)
    counter = TokenCounter.for_model(model)

    def prompt_tokens(loaded: LoadedRubric) -> int:
        rendered = renderer.render(find_question(questions, loaded.rubric.question_id), loaded.rubric, "")
        return sum(counter.count(m.content) for m in rendered.messages)

    return prompt_tokens


def lint_paths(
    paths: Iterable[Path],
    questions: list[Question],
    prompt_tokens: Callable[[LoadedRubric], int] | None = None,
    prompt_budget: int = DEFAULT_PROMPT_BUDGET,
    self_check: SelfCheck | None = None,
) -> list[LintMessage]:
    """Lint rubric files; a file that does not load is one error naming its line."""
    question_ids = {q.id for q in questions}
    texts = {q.id: q.question for q in questions}
    messages: list[LintMessage] = []
    for path in paths:
        try:
            loaded = load_rubric_file(path)
        except GraderError as exc:
            messages.extend(_load_failures(path, str(exc)))
            continue
        text = texts.get(loaded.rubric.question_id, "")
        messages.extend(lint_rubric(loaded, question_ids, prompt_tokens, prompt_budget, self_check, text))
    return messages


def _load_failures(path: Path, summary: str) -> list[LintMessage]:
    """Every schema problem of a file that does not load, each at its own line (the loader shows only the first)."""
    try:
        located = load_yaml(path)
        Rubric.model_validate(located.data)
    except ValidationError as exc:
        return [_parse_message(path, text) for text in validation_messages(exc, located)]
    except GraderError:
        pass
    return [_parse_message(path, summary)]


def _parse_message(path: Path, text: str) -> LintMessage:
    match = re.match(rf"{re.escape(str(path))}:(\d+): (.*)", text, re.S)
    if match:
        return LintMessage(path, int(match.group(1)), "error", match.group(2))
    return LintMessage(path, 1, "error", text.removeprefix(f"{path}: "))


def missing_rubrics(questions: list[Question], rubric_paths: Iterable[Path], questions_path: Path) -> list[LintMessage]:
    """Questions of the bank that have no rubric file."""
    have = {p.stem for p in rubric_paths}
    return [
        LintMessage(questions_path, 1, "error", f"{q.id} has no rubric (rubrics/{q.id}.yaml)")
        for q in questions
        if q.id not in have
    ]
