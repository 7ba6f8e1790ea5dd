"""The grader's shared words, each defined once: defaults, flag names, error codes and output formats.

Imports nothing heavy (the CLI reads it to build `--help`), and everything else reads it instead of spelling a
word again.
"""

from __future__ import annotations

from enum import StrEnum

DEFAULT_MODEL = "gpt-4.1-mini"
"""Accepts temperature 0, a seed and strict structured outputs, and is cheap enough for batches."""
DEFAULT_TIMEOUT = 60.0
DEFAULT_MAX_ANSWER_TOKENS = 3000
DEFAULT_MATCH_THRESHOLD = 0.24
"""Score below which a question matches nothing (fitted on tests/test_matching.py's paraphrases)."""
WEAK_MATCH_MARGIN = 0.08
"""A match this close to the threshold is graded but flagged; `--llm-match` asks the model about it."""

# Flags on a grade (README, "Flags and error codes").
PROMPT_INJECTION_SUSPECTED = "prompt_injection_suspected"
HIDDEN_CHARACTERS = "hidden_characters"
EVIDENCE_NOT_FOUND = "evidence_not_found"
LOW_AGREEMENT = "low_agreement"
SAMPLES_MISSING = "samples_missing"
ANSWER_TRUNCATED = "answer_truncated"
COPIED_FROM_RUBRIC = "copied_from_rubric"
NON_ENGLISH_SUSPECTED = "non_english_suspected"
KEYWORD_LIST = "keyword_list"
WEAK_MATCH = "weak_match"
MODEL_JUDGEMENT = "model_judgement"
KEY_POINT_ESTIMATE = "key_point_estimate"
"""What kind of decision a grade's levels are (provenance.method): a model read the answer, or the offline
grader matched the rubric's key points."""
FLAGS = (
    PROMPT_INJECTION_SUSPECTED,
    HIDDEN_CHARACTERS,
    LOW_AGREEMENT,
    EVIDENCE_NOT_FOUND,
    ANSWER_TRUNCATED,
    SAMPLES_MISSING,
    COPIED_FROM_RUBRIC,
    NON_ENGLISH_SUSPECTED,
    KEYWORD_LIST,
    WEAK_MATCH,
)
"""Every flag; each one puts the answer under "Needs human review" in a batch report."""


class ErrorCode(StrEnum):
    """Why an answer is ungraded: the `<code>` of a grade's `error` ("<code>: <message>")."""

    invalid_verdict = "invalid_verdict"
    llm_unavailable = "llm_unavailable"
    timeout = "timeout"
    refused = "refused"
    over_budget = "over_budget"
    no_answer = "no_answer"
    invalid_input = "invalid_input"
    bank_error = "bank_error"


class OutputFormat(StrEnum):
    """How a command prints its result."""

    text = "text"
    json = "json"
    markdown = "markdown"


class ReportFormat(StrEnum):
    """How a measuring or checking command prints its report (no Markdown view)."""

    text = "text"
    json = "json"
