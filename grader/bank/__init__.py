"""The question bank: its folder, questions, rubrics, prompt templates, graded answers; lint and audit."""

from grader.bank.base import QUESTION_ID, Bank, shipped_bank_root

__all__ = ["QUESTION_ID", "Bank", "shipped_bank_root"]
