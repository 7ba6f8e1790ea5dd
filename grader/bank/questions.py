"""Loading questions.yaml: the list of questions of a bank."""

from __future__ import annotations

from pydantic import TypeAdapter, ValidationError

from grader.bank.base import Bank
from grader.bank.yamlio import load_yaml, summarize, validation_messages
from grader.errors import BankError, QuestionNotFound
from grader.models import Question

_QUESTIONS = TypeAdapter(list[Question])


def load_questions(bank: Bank) -> list[Question]:
    """All questions of a bank, in file order; ids must be unique.

    A bank built on a base (bank.yaml) lists the base's questions first, its own replacing those of the same id
    in place and adding the others after them.
    """
    if bank.base is None:
        return _load_own_questions(bank)
    merged = {q.id: q for q in load_questions(bank.base)}
    if bank.questions_path.is_file():
        merged.update({q.id: q for q in _load_own_questions(bank, empty_ok=True)})
    return list(merged.values())


def _load_own_questions(bank: Bank, empty_ok: bool = False) -> list[Question]:
    located = load_yaml(bank.questions_path)
    if empty_ok and located.data is None:
        return []
    try:
        questions = _QUESTIONS.validate_python(located.data)
    except ValidationError as exc:
        raise BankError(summarize(validation_messages(exc, located))) from None
    seen: dict[str, int] = {}
    for index, question in enumerate(questions):
        if question.id in seen:
            raise BankError(f"{located.where((index, 'id'))}: duplicate question id {question.id}")
        seen[question.id] = index
    return questions


def find_question(questions: list[Question], question_id: str, bank: Bank | None = None) -> Question:
    """The question with this id, or QuestionNotFound naming the valid range (and the bank, for the hint)."""
    for question in questions:
        if question.id == question_id:
            return question
    ids = [q.id for q in questions]
    span = f"{ids[0]} … {ids[-1]}" if ids else "none"
    flag = bank.option if bank is not None else ""
    near = nearest_id(question_id, ids)
    hint = f"; did you mean {near}?" if near else ""
    raise QuestionNotFound(f"no question {question_id!r} in the bank{hint} (ids: {span}; see `grader questions{flag}`)")


def nearest_id(wanted: str, ids: list[str]) -> str | None:
    """The id a mistyped one most likely means: same letters and number ("q5", "Q005" -> "q05"), else the closest."""
    import difflib
    import re

    def key(text: str) -> str:
        return re.sub(r"0*(\d+)", r"\1", text.strip().casefold())

    same = [i for i in ids if key(i) == key(wanted)]
    if same:
        return same[0]
    close = difflib.get_close_matches(wanted.strip().casefold(), [i.casefold() for i in ids], n=1, cutoff=0.6)
    return next((i for i in ids if close and i.casefold() == close[0]), None)
