"""Loading questions.yaml: the list of questions of a bank."""

from __future__ import annotations

from pydantic import TypeAdapter, ValidationError

from grader.bank.base import Bank
from grader.bank.yamlio import load_yaml, summarize, validation_messages
from grader.errors import BankError, QuestionNotFound
from grader.models import Question

_QUESTIONS = TypeAdapter(list[Question])


def load_questions(bank: Bank) -> list[Question]:
    """All questions of a bank, in file order; ids must be unique."""
    located = load_yaml(bank.questions_path)
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


def find_question(questions: list[Question], question_id: str) -> Question:
    """The question with this id, or QuestionNotFound naming the valid range."""
    for question in questions:
        if question.id == question_id:
            return question
    ids = [q.id for q in questions]
    span = f"{ids[0]} … {ids[-1]}" if ids else "none"
    raise QuestionNotFound(f"no question {question_id!r} in the bank (ids: {span}; see `grader questions`)")
