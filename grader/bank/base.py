"""Locating a question bank: questions.yaml, rubrics/ and prompts/ under one root.

Every path inside a bank is resolved through `Bank.file`, which refuses names that leave the bank
(`../`, absolute paths, links pointing outside), so a hostile bank cannot make the grader read elsewhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from grader.errors import BankError

_PACKAGE_DIR = Path(__file__).resolve().parent.parent
QUESTION_ID = re.compile(r"^q\d{2,}$")


def shipped_bank_root() -> Path:
    """The bank that ships with the grader: inside the wheel, or the repository top in an editable install."""
    wheel_copy = _PACKAGE_DIR / "_bank"
    if (wheel_copy / "questions.yaml").is_file():
        return wheel_copy
    return _PACKAGE_DIR.parent


@dataclass(frozen=True)
class Bank:
    """A question bank rooted at one directory."""

    root: Path

    @classmethod
    def open(cls, root: Path | str | None) -> Bank:
        """Open a bank directory (None: the shipped bank); it must hold questions.yaml."""
        path = Path(root).expanduser() if root is not None else shipped_bank_root()
        if not path.is_dir():
            raise BankError(f"bank {path}: no such directory")
        if not (path / "questions.yaml").is_file():
            raise BankError(f"bank {path}: no questions.yaml (pass --bank DIR or set GRADER_BANK)")
        return cls(path.resolve())

    def file(self, *parts: str) -> Path:
        """A path inside the bank; refuses anything that resolves outside it."""
        candidate = self.root.joinpath(*parts)
        resolved = candidate.resolve()
        if not resolved.is_relative_to(self.root):
            raise BankError(f"bank {self.root}: {'/'.join(parts)} leaves the bank")
        return resolved

    @property
    def questions_path(self) -> Path:
        """questions.yaml of this bank."""
        return self.file("questions.yaml")

    def rubric_path(self, question_id: str) -> Path:
        """rubrics/<id>.yaml of this bank (the id is checked, so it cannot name another path)."""
        if not QUESTION_ID.match(question_id):
            raise BankError(f"{question_id!r} is not a question id (expected q01, q02, …)")
        return self.file("rubrics", f"{question_id}.yaml")

    def rubric_paths(self) -> list[Path]:
        """Every rubric file of the bank, sorted."""
        directory = self.file("rubrics")
        if not directory.is_dir():
            return []
        return sorted(self.file("rubrics", p.name) for p in directory.glob("*.yaml"))

    @property
    def prompts_dir(self) -> Path:
        """The bank's prompts/, or the shipped templates when the bank has none."""
        own = self.file("prompts")
        return own if own.is_dir() else shipped_bank_root() / "prompts"

    def examples_path(self, question_id: str) -> Path:
        """graded/<id>.jsonl: answers to this question already graded by people, that judges may learn from.

        Not examples/: in the repository that folder holds sample answers for the README.
        """
        self.rubric_path(question_id)
        return self.file("graded", f"{question_id}.jsonl")
