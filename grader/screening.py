"""A heuristic screen for answers that try to instruct the grader.

The answer always reaches the model as delimited data; this screen only decides whether to add the flag
`prompt_injection_suspected` so that a person looks at the grade. It folds Unicode look-alikes and
removes zero-width characters first, so `ｉｇｎｏｒｅ` or `ig\u200bnore` do not slip past.
"""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple

# Cyrillic and Greek letters that look like Latin ones; NFKC does not fold these.
_CONFUSABLES = str.maketrans(
    {
        "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i", "ј": "j",
        "ѕ": "s", "ԁ": "d", "ɡ": "g", "һ": "h", "ӏ": "l", "м": "m", "т": "t", "к": "k", "в": "b",
        "А": "a", "В": "b", "Е": "e", "К": "k", "М": "m", "Н": "h", "О": "o", "Р": "p", "С": "c",
        "Т": "t", "Х": "x", "Ι": "i", "Ο": "o", "Α": "a", "Β": "b", "Ε": "e", "Κ": "k", "Ν": "n",
        "Ρ": "p", "Τ": "t", "Χ": "x", "ο": "o", "ι": "i", "ν": "v",
    }
)  # fmt: skip
_INVISIBLE = re.compile(r"[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0]")
HIDDEN_CHARACTERS = "hidden_characters"
INJECTION = "prompt_injection_suspected"


def fold(text: str) -> str:
    """Lower-case text with look-alikes folded and invisible characters removed."""
    text = _INVISIBLE.sub("", unicodedata.normalize("NFKC", text))
    return re.sub(r"\s+", " ", text.translate(_CONFUSABLES).casefold())


_SCORE = r"(?:score|grade|mark|marks|points|rating|level)"
_GRADER = r"(?:grader|evaluator|examiner|assessor|judge|model|assistant|ai|llm|gpt|reviewer|marker)"
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (
        "override",
        re.compile(
            r"\b(?:ignore|disregard|forget|override|bypass|skip)\b.{0,40}"
            r"\b(?:previous|prior|above|earlier|all|any|the|your|these|those|system)\b.{0,30}"
            r"\b(?:instructions?|prompts?|rules?|rubric|guidelines?|criteria|directions?)"
        ),
    ),
    ("new_role", re.compile(rf"\byou are (?:now|no longer)\b|\bact as (?:the|an?) {_GRADER}\b|\bnew instructions?\b")),
    ("address_grader", re.compile(rf"\b(?:dear|attention|note to (?:the)?|hey|hello)\s+{_GRADER}s?\b")),
    (
        "score_demand",
        re.compile(
            rf"\b(?:give|award|assign|grant|set|mark|rate|score)\b.{{0,30}}"
            rf"\b(?:full|max(?:imum)?|perfect|top|highest|10|100|ten)\b.{{0,15}}{_SCORE}"
            rf"|\b{_SCORE}s?\b.{{0,12}}\b(?:of\s+)?(?:10\s*/\s*10|100\s*/\s*100|100\s*%|full marks)"
            rf"|\b(?:must|should|will)\s+(?:be\s+)?(?:given|awarded|graded|scored)\b.{{0,20}}\b(?:full|max|perfect|10|100)"
            rf"|\bthis (?:answer|response) (?:is|deserves) (?:perfect|flawless|a 10|full marks)"
        ),
    ),
    ("fake_verdict", re.compile(r"[{,]\s*\"?(?:score|level|grade|verdict|status|criteria)\"?\s*:\s*[\"\d{\[]")),
    (
        "fake_message",
        re.compile(
            r"^\s*(?:#+\s*)?(?:system|assistant|developer|reviewer|grader|evaluator)\s*(?:message|note|prompt)?\s*:"
            r"|<\|(?:im_start|im_end|system|endoftext|start_header_id|eot_id)\|>|\[/?inst\]|<</?sys>>",
            re.M,
        ),
    ),
    ("fake_delimiter", re.compile(r"</?\s*answer[\w-]*\s*>|</?\s*(?:system|instructions?|rubric|candidate_answer)\s*>")),
    ("template_syntax", re.compile(r"\{\{.*?\}\}|\{%.*?%\}")),
]


class Screening(NamedTuple):
    """What the screen found: flags for the grade, and the reasons for an audit trail."""

    flags: list[str]
    reasons: list[str]


def screen_answer(answer: str) -> Screening:
    """Look for attempts to instruct the grader; the answer itself is never changed."""
    folded = fold(answer)
    reasons = [name for name, pattern in _PATTERNS if pattern.search(folded)]
    flags = [INJECTION] if reasons else []
    if _INVISIBLE.search(answer) or _has_mixed_script_words(answer):
        flags.append(HIDDEN_CHARACTERS)
        if reasons:
            reasons.append("obfuscated")
    return Screening(flags, reasons)


def _has_mixed_script_words(text: str) -> bool:
    """A word mixing Latin with Cyrillic or Greek letters is a classic look-alike trick."""
    for word in re.findall(r"\w{3,}", text):
        has_latin = any("a" <= ch.lower() <= "z" for ch in word)
        if has_latin and any(ch != ch.translate(_CONFUSABLES) for ch in word):
            return True
    return False
