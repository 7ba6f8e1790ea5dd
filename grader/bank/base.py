"""Locating a question bank: questions.yaml, rubrics/ and prompts/ under one root.

Every path inside a bank is resolved through `Bank.file`, which refuses names that leave the bank
(`../`, absolute paths, links pointing outside), so a hostile bank cannot make the grader read elsewhere.

A bank may build on another: a `bank.yaml` naming its `base` (the shipped bank by default) makes the base's
questions, rubrics and prompts visible through this bank, its own adding to or replacing them. What the bank
writes (a new rubric, a question, a graded answer) always goes to its own folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from grader.errors import BankError

_PACKAGE_DIR = Path(__file__).resolve().parent.parent
QUESTION_ID = re.compile(r"^q\d{2,}$")
BANK_FILE = "bank.yaml"
SHIPPED = "shipped"
MAX_BASE_DEPTH = 8


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
    base: Bank | None = None
    """The bank this one builds on (bank.yaml), whose questions and rubrics show through."""

    @classmethod
    def open(cls, root: Path | str | None, _depth: int = 0) -> Bank:
        """Open a bank directory (None: the shipped bank); it must hold questions.yaml or a bank.yaml."""
        path = Path(root).expanduser() if root is not None else shipped_bank_root()
        if not path.is_dir():
            raise BankError(f"bank {path}: no such directory")
        base = _open_base(path, _depth) if (path / BANK_FILE).is_file() else None
        if base is None and not (path / "questions.yaml").is_file():
            raise BankError(f"bank {path}: no questions.yaml (pass --bank DIR or set GRADER_BANK)")
        return cls(path.resolve(), base)

    @property
    def is_shipped(self) -> bool:
        """Whether this is the bank installed with the grader (inside the wheel: not to be written to)."""
        return self.root == shipped_bank_root().resolve()

    @property
    def option(self) -> str:
        """` --bank DIR` for the commands hints print, so they work as printed (empty for the shipped bank)."""
        import shlex

        return "" if self.is_shipped else f" --bank {shlex.quote(str(self.root))}"

    def layers(self) -> list[Bank]:
        """This bank and its bases, nearest first."""
        found: list[Bank] = []
        bank: Bank | None = self
        while bank is not None:
            found.append(bank)
            bank = bank.base
        return found

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

    def own_rubric_path(self, question_id: str) -> Path:
        """rubrics/<id>.yaml in this bank's own folder (the id is checked, so it cannot name another path)."""
        if not QUESTION_ID.match(question_id):
            raise BankError(f"{question_id!r} is not a question id (expected q01, q02, …)")
        return self.file("rubrics", f"{question_id}.yaml")

    def rubric_path(self, question_id: str) -> Path:
        """The rubric file of a question: the bank's own, else its base's; the own path when none has one."""
        own = self.own_rubric_path(question_id)
        if own.is_file() or self.base is None:
            return own
        inherited = self.base.rubric_path(question_id)
        return inherited if inherited.is_file() else own

    def rubric_paths(self) -> list[Path]:
        """Every rubric file of the bank (its own replacing its base's of the same name), sorted by name."""
        found: dict[str, Path] = {p.name: p for p in self.base.rubric_paths()} if self.base is not None else {}
        directory = self.file("rubrics")
        if directory.is_dir():
            found.update({p.name: self.file("rubrics", p.name) for p in directory.glob("*.yaml")})
        return [found[name] for name in sorted(found)]

    @property
    def prompts_dir(self) -> Path:
        """The bank's prompts/, else its base's, else the shipped templates."""
        own = self.file("prompts")
        if own.is_dir():
            return own
        return self.base.prompts_dir if self.base is not None else shipped_bank_root() / "prompts"

    def examples_path(self, question_id: str) -> Path:
        """graded/<id>.jsonl: answers to this question already graded by people, that judges may learn from.

        Not examples/: in the repository that folder holds sample answers for the README.
        """
        self.rubric_path(question_id)
        return self.file("graded", f"{question_id}.jsonl")


def _open_base(path: Path, depth: int) -> Bank:
    """The base a bank.yaml names: `base: shipped` (the default), or a folder relative to the bank."""
    import yaml

    where = path / BANK_FILE
    try:
        data = yaml.safe_load(where.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise BankError(f"{where}: cannot read: {' '.join(str(exc).split())[:200]}") from None
    if not isinstance(data, dict) or set(data) - {"base"}:
        raise BankError(f"{where}: expected one key, `base: {SHIPPED}` or `base: <folder of another bank>`")
    base = data.get("base", SHIPPED)
    if not isinstance(base, str) or not base.strip():
        raise BankError(f"{where}: base must be `{SHIPPED}` or the folder of another bank")
    if depth >= MAX_BASE_DEPTH:
        raise BankError(f"{where}: more than {MAX_BASE_DEPTH} banks built on one another (a loop?)")
    if base == SHIPPED:
        shipped = shipped_bank_root()
        if shipped.resolve() == path.resolve():
            raise BankError(f"{where}: the shipped bank cannot build on itself")
        return Bank.open(shipped, depth + 1)
    target = (path / base).expanduser()
    if target.resolve() == path.resolve():
        raise BankError(f"{where}: a bank cannot build on itself")
    try:
        return Bank.open(target, depth + 1)
    except BankError as exc:
        raise BankError(f"{where}: base {base}: {exc}") from None
