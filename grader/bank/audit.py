"""Re-checking graded results against a bank: what changed since the grading.

Every grade records the sha256 of the rubric file and of the prompt templates it was made with. An audit
recomputes both in the bank as it is now and says, per result and per question, whether the rubric
changed, the prompt changed, the rubric is gone, or nothing changed. When a rubric changed, the stored
levels are re-scored under the current rubric where that is still meaningful (same criteria, same number
of levels), so a reader sees whether the change moves the score.

Which bank: the one given (--bank, GRADER_BANK), else the bank each result records, else the shipped bank.
Reading files is the only I/O here; the CLI prints.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from grader.bank.base import Bank
from grader.errors import BankError, GraderError, InputError
from grader.models import CriterionVerdict, Rubric
from grader.scoring import score_levels, scored_level
from grader.text.textfile import read_text

Status = Literal["unchanged", "changed", "rubric_missing", "bank_missing", "unverifiable", "unreadable"]
STATUS_ORDER: tuple[Status, ...] = (
    "unreadable",
    "unverifiable",
    "bank_missing",
    "rubric_missing",
    "changed",
    "unchanged",
)
MAX_LINE_BYTES = 10_000_000


class HashCheck(BaseModel):
    """A hash as recorded in the grade and as computed now (None where there is none)."""

    recorded: str | None = None
    current: str | None = None

    @property
    def changed(self) -> bool:
        """Whether the recorded hash differs from the current one (an unrecorded hash never differs)."""
        return self.recorded is not None and self.recorded != self.current


class ResultAudit(BaseModel):
    """The audit of one result line."""

    line: int
    question_id: str | None = None
    candidate: str | None = None
    transcript: str | None = None
    status: Status
    changes: list[Literal["rubric", "prompt"]] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    """What else a reader should know: score under the current rubric, criteria added, grader version …"""
    bank: str | None = None
    rubric: HashCheck = Field(default_factory=HashCheck)
    prompt: HashCheck = Field(default_factory=HashCheck)
    score: float | None = None
    rescored: float | None = None
    """The stored levels scored under the current rubric, when its criteria and levels still match."""


class QuestionAudit(BaseModel):
    """All results of one question, summed up."""

    question_id: str
    results: int
    statuses: dict[str, int]
    rubric_changed: int
    prompt_changed: int


class AuditReport(BaseModel):
    """The audit of a results file."""

    source: str
    bank: str | None
    """The bank given explicitly, or None when each result's own bank was used."""
    results: list[ResultAudit]
    questions: list[QuestionAudit]
    summary: dict[str, int]
    """Results per status."""
    ok: bool
    """True when every result is unchanged (exit code 0)."""


@dataclass
class _BankState:
    """Hashes of one bank as it is now, computed once."""

    bank: Bank
    rubric_hashes: dict[str, str | None] = field(default_factory=dict)
    rubrics: dict[str, Rubric | str] = field(default_factory=dict)
    prompt: str | None = None
    prompt_error: str | None = None
    prompt_done: bool = False

    def rubric_sha(self, question_id: str) -> str | None:
        if question_id not in self.rubric_hashes:
            path = self.bank.rubric_path(question_id)
            self.rubric_hashes[question_id] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
        return self.rubric_hashes[question_id]

    def rubric(self, question_id: str) -> Rubric | str:
        """The current rubric, or why it does not load."""
        if question_id not in self.rubrics:
            from grader.bank.rubrics import load_rubric

            try:
                self.rubrics[question_id] = load_rubric(self.bank, question_id).rubric
            except GraderError as exc:
                self.rubrics[question_id] = str(exc).split("\n")[0]
        return self.rubrics[question_id]

    def prompt_sha(self) -> str | None:
        if not self.prompt_done:
            from grader.bank.prompts import PromptRenderer

            self.prompt_done = True
            try:
                self.prompt = PromptRenderer(self.bank.prompts_dir).sha256()
            except GraderError as exc:
                self.prompt_error = str(exc).split("\n")[0]
        return self.prompt


class _Banks:
    """The bank for each result: the explicit one, else the one it records, else the shipped one."""

    def __init__(self, explicit: Bank | None) -> None:
        self.explicit = explicit
        self._states: dict[str | None, _BankState | str] = {}

    def state(self, recorded: str | None) -> _BankState | str:
        """The bank's state, or why it cannot be opened."""
        key = None if self.explicit is not None else recorded
        if key not in self._states:
            try:
                bank = self.explicit or Bank.open(key)
            except BankError as exc:
                self._states[key] = f"{exc}; pass --bank DIR to audit against another bank"
            else:
                self._states[key] = _BankState(bank)
        return self._states[key]


def read_results(path: Path) -> Iterator[tuple[int, object]]:
    """Yield (line number, parsed JSON or an error message) for each non-blank line.

    A whole-file JSON object or list (the output of `grader grade --format json`) is read as its grades,
    numbered from 1.
    """
    text = read_text(path, "results file", folder="is a folder; pass DIR/results.jsonl")
    stripped = text.strip()
    if stripped.startswith(("{", "[")) and "\n" in stripped and not _is_jsonl(stripped):
        try:
            whole = json.loads(stripped)
        except ValueError:
            whole = None
        if isinstance(whole, dict | list):
            yield from enumerate(whole if isinstance(whole, list) else [whole], start=1)
            return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if len(line) > MAX_LINE_BYTES:
            yield number, f"line longer than {MAX_LINE_BYTES} characters"
            continue
        try:
            yield number, json.loads(line)
        except ValueError as exc:
            yield number, f"not JSON ({exc.args[0].split(':')[0]})"


def _is_jsonl(text: str) -> bool:
    first = text.splitlines()[0]
    try:
        json.loads(first)
    except ValueError:
        return False
    return True


def audit_results(path: Path, bank: Bank | None = None, *, grader_version: str | None = None) -> AuditReport:
    """Audit every result of a results file (JSONL from `grader batch`, or `grader grade --format json`)."""
    banks = _Banks(bank)
    results = [_audit_one(number, record, banks, grader_version) for number, record in read_results(path)]
    if not results:
        raise InputError(f"results file {path}: no results in it")
    return AuditReport(
        source=str(path),
        bank=str(bank.root) if bank else None,
        results=results,
        questions=_per_question(results),
        summary={s: n for s in STATUS_ORDER if (n := sum(r.status == s for r in results))},
        ok=all(r.status == "unchanged" for r in results),
    )


def _audit_one(number: int, record: object, banks: _Banks, grader_version: str | None) -> ResultAudit:
    if not isinstance(record, dict):
        reason = record if isinstance(record, str) else f"a JSON {type(record).__name__}, not a grade"
        return ResultAudit(line=number, status="unreadable", notes=[reason])
    qid = record.get("question_id")
    who: dict[str, Any] = {
        "line": number,
        "question_id": qid if isinstance(qid, str) else None,
        "candidate": _text(record.get("candidate")),
        "transcript": _text(record.get("transcript")),
        "score": _number(record.get("score")),
    }
    prov = record.get("provenance")
    if not isinstance(qid, str) or not isinstance(prov, dict) or not isinstance(prov.get("rubric_sha256"), str):
        return ResultAudit(status="unverifiable", notes=["no question_id or no provenance.rubric_sha256"], **who)
    state = banks.state(_text(prov.get("bank")))
    if isinstance(state, str):
        return ResultAudit(status="bank_missing", bank=_text(prov.get("bank")), notes=[state], **who)
    who["bank"] = str(state.bank.root)
    try:
        current = state.rubric_sha(qid)
    except (BankError, OSError) as exc:
        return ResultAudit(status="unreadable", notes=[str(exc)], **who)
    rubric = HashCheck(recorded=prov["rubric_sha256"], current=current)
    if current is None:
        where = state.bank.rubric_path(qid)
        return ResultAudit(status="rubric_missing", rubric=rubric, notes=[f"{where}: no such file"], **who)
    recorded_prompt = _text(prov.get("prompt_sha256"))
    prompt = HashCheck(recorded=recorded_prompt, current=state.prompt_sha() if recorded_prompt else None)
    changes: list[Literal["rubric", "prompt"]] = []
    notes: list[str] = []
    rescored = None
    if rubric.changed:
        changes.append("rubric")
        rescored, rubric_notes = _rescore(record, state.rubric(qid))
        notes += rubric_notes
    if prompt.changed:
        changes.append("prompt")
        notes.append(state.prompt_error or "the prompt templates changed: the levels were decided with the old prompt")
    version = _text(prov.get("grader_version"))
    if grader_version and version and version != grader_version:
        notes.append(f"graded by grader {version}; this is grader {grader_version}")
    status: Status = "changed" if changes else "unchanged"
    return ResultAudit(
        status=status, changes=changes, notes=notes, rubric=rubric, prompt=prompt, rescored=rescored, **who
    )


def _rescore(record: dict[str, Any], current: Rubric | str) -> tuple[float | None, list[str]]:
    """The stored levels under the current rubric, and what changed in its structure."""
    if isinstance(current, str):
        return None, [f"the current rubric does not load: {current}"]
    notes = []
    stored = [c for c in record.get("criteria") or [] if isinstance(c, dict) and isinstance(c.get("id"), str)]
    max_score = _number(record.get("max_score"))
    if max_score is not None and max_score != current.max_score:
        notes.append(f"max_score {max_score:g} -> {current.max_score:g}")
    now = {c.id: len(c.levels) for c in current.criteria}
    then = {c["id"]: c.get("levels") for c in stored}
    added, removed = sorted(set(now) - set(then)), sorted(set(then) - set(now))
    if stored and added:
        notes.append("criteria added: " + ", ".join(added))
    if removed:
        notes.append("criteria removed: " + ", ".join(removed))
    relevelled = sorted(cid for cid in set(now) & set(then) if then[cid] != now[cid])
    for cid in relevelled:
        notes.append(f"criterion {cid}: {then[cid]} -> {now[cid]} levels")
    if record.get("status") != "graded" or not stored or added or removed or relevelled:
        if record.get("status") == "graded":
            notes.append("the stored levels cannot be re-scored under the current rubric")
        return None, notes
    try:
        levels = {c["id"]: scored_level(CriterionVerdict.model_validate(c)) for c in stored}
        rescored = score_levels(current, levels)
    except (ValueError, TypeError, KeyError, ZeroDivisionError):
        return None, [*notes, "the stored levels cannot be re-scored under the current rubric"]
    score = _number(record.get("score"))
    if score is not None and abs(rescored - score) > 0.005:
        notes.append(f"score {score:g} -> {rescored:g} under the current rubric (same levels)")
    else:
        notes.append("same score under the current rubric; the levels were decided with the old wording")
    return rescored, notes


def _per_question(results: list[ResultAudit]) -> list[QuestionAudit]:
    by_question: dict[str, list[ResultAudit]] = {}
    for result in results:
        if result.question_id is not None:
            by_question.setdefault(result.question_id, []).append(result)
    return [
        QuestionAudit(
            question_id=qid,
            results=len(items),
            statuses=dict(Counter(r.status for r in items)),
            rubric_changed=sum("rubric" in r.changes for r in items),
            prompt_changed=sum("prompt" in r.changes for r in items),
        )
        for qid, items in sorted(by_question.items())
    ]


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def audit_text(report: AuditReport) -> str:
    """The report for a terminal: one block per question, the lines that changed, a summary."""
    banks = sorted({r.bank for r in report.results if r.bank})
    where = report.bank or (", ".join(banks) if banks else "none")
    lines = [f"Audit of {report.source}: {len(report.results)} results against bank {where}"]
    for question in report.questions:
        items = [r for r in report.results if r.question_id == question.question_id]
        lines.append("")
        lines.append(f"{question.question_id}  {_question_summary(question)}")
        for result in items:
            if result.status != "unchanged":
                lines.append(f"  {_describe(result)}")
    orphans = [r for r in report.results if r.question_id is None]
    if orphans:
        lines.append("")
        lines.extend(f"  {_describe(r)}" for r in orphans)
    counts = ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in report.summary.items())
    verdict = "nothing changed since the grading" if report.ok else "some results no longer match the bank"
    lines += ["", f"Summary: {counts}: {verdict}."]
    return "\n".join(lines) + "\n"


def _question_summary(question: QuestionAudit) -> str:
    if question.statuses == {"unchanged": question.results}:
        return f"unchanged ({question.results} result{'s' * (question.results != 1)})"
    parts = []
    if question.rubric_changed:
        parts.append(f"rubric changed ({question.rubric_changed} of {question.results})")
    if question.prompt_changed:
        parts.append(f"prompt changed ({question.prompt_changed} of {question.results})")
    for status, count in sorted(question.statuses.items()):
        if status not in ("changed", "unchanged"):
            parts.append(f"{status.replace('_', ' ')} ({count} of {question.results})")
    return "; ".join(parts)


def _describe(result: ResultAudit) -> str:
    who = f"line {result.line}"
    extra = [x for x in (result.candidate, result.transcript) if x]
    if extra:
        who += f" ({', '.join(extra)})"
    what = " and ".join(f"{c} changed" for c in result.changes) or result.status.replace("_", " ")
    notes = "; ".join(result.notes)
    return f"{who}: {what}" + (f": {notes}" if notes else "")
