"""Growing a bank: adding a question to its questions.yaml, writing the shipped bank out, hints with --bank."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from grader.bank.base import BANK_FILE, SHIPPED, Bank, shipped_bank_root
from grader.bank.questions import load_questions
from grader.errors import BankError, InputError
from grader.models import Question

DEFAULT_SECTION = "Custom"


def bank_flag(bank: Bank) -> str:
    """` --bank DIR` for hints, so the printed command works as printed (empty for the shipped bank)."""
    return bank.option


def ensure_writable(bank: Bank) -> None:
    """Refuse to write into the bank installed inside the wheel: it is replaced on upgrade."""
    installed = shipped_bank_root()
    if bank.root == installed.resolve() and installed.name == "_bank":
        raise BankError(
            "the shipped bank is part of the installed grader and is not edited in place; make a bank of your own "
            "with `grader bank init mybank --extend` and pass --bank mybank"
        )


def resolve_question(
    bank: Bank, question_id: str, text: str | None, section: str | None = None, subsection: str | None = None
) -> tuple[Question, bool]:
    """The bank's question with this id, or a new one from `text` (True when it must be added)."""
    questions = load_questions(bank)
    found = next((q for q in questions if q.id == question_id), None)
    if found is not None:
        if text is not None and " ".join(text.split()) != " ".join(found.question.split()):
            raise InputError(
                f"{question_id} is already in the bank as {found.question!r}; drop --question, or pick a new id"
            )
        return found, False
    if text is None or not text.strip():
        raise InputError(
            f"no question {question_id!r} in the bank; add it with --question TEXT "
            f"(e.g. grader rubric new {question_id} --question 'Explain …'{bank_flag(bank)})"
        )
    bank.own_rubric_path(question_id)  # checks the id
    question = Question(
        id=question_id, section=section or DEFAULT_SECTION, subsection=subsection, question=text.strip()
    )
    return question, True


def add_question(bank: Bank, question: Question) -> Path:
    """Append a question to the bank's own questions.yaml, keeping the file's text (comments included)."""
    ensure_writable(bank)
    path = bank.questions_path
    entry = yaml.safe_dump([question.model_dump()], sort_keys=False, allow_unicode=True, width=1000)
    original = path.read_text(encoding="utf-8") if path.is_file() else None
    data = yaml.safe_load(original) if original else None
    if original is None or data in (None, []):
        kept = "".join(line for line in (original or "").splitlines(keepends=True) if line.lstrip().startswith("#"))
        text = kept + entry
    else:
        first = next((ln for ln in original.splitlines() if ln.strip() and not ln.lstrip().startswith("#")), "")
        if not first.startswith("-"):
            raise BankError(f"{path}: not a block list of questions; add {question.id} by hand")
        text = original + ("" if original.endswith("\n") else "\n") + entry
    path.write_text(text, encoding="utf-8")
    try:
        load_questions(Bank.open(bank.root))
    except BankError:
        if original is None:
            path.unlink()
        else:
            path.write_text(original, encoding="utf-8")
        raise BankError(f"{path}: adding {question.id} would break the file; add it by hand") from None
    return path


def init_bank(directory: Path, extend: bool) -> list[Path]:
    """Write a bank to `directory`: the shipped bank's files, or (extend) a bank.yaml building on them."""
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise InputError(f"{directory} exists and is not empty; choose a new folder")
    directory.mkdir(parents=True, exist_ok=True)
    if extend:
        (directory / BANK_FILE).write_text(
            "# This bank builds on the shipped one: its questions and rubrics show through, and the files here add\n"
            "# to or replace them (same id, same file name). `base` may also name the folder of another bank.\n"
            f"base: {SHIPPED}\n",
            encoding="utf-8",
        )
        (directory / "questions.yaml").write_text(
            "# Your own questions, as {id, section, subsection, question}; `grader rubric new` and\n"
            "# `grader rubric draft` add them here.\n[]\n",
            encoding="utf-8",
        )
        (directory / "rubrics").mkdir()
        return [directory / BANK_FILE, directory / "questions.yaml", directory / "rubrics"]
    source = shipped_bank_root()
    shutil.copy2(source / "questions.yaml", directory / "questions.yaml")
    shutil.copytree(source / "rubrics", directory / "rubrics")
    shutil.copytree(source / "prompts", directory / "prompts")
    return [directory / "questions.yaml", directory / "rubrics", directory / "prompts"]
