"""Redaction of personal data from an answer before it leaves the machine (`--redact`).

Pure text in, text out. E-mail addresses become [EMAIL], phone numbers [PHONE], and the names the caller
gives (the candidate's, as a transcript names them) [CANDIDATE]. Numbers that are not phone numbers stay:
years and date ranges, version numbers (GPT-4.1), sizes (175B), ratios (2:4), decimals, thousands written
with separators and IP addresses. The rules favour a missed phone number over a mangled technical answer,
except where the text says it is a phone number ("call me on 555 0199"), where shorter numbers go too.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

EMAIL = "[EMAIL]"
PHONE = "[PHONE]"
CANDIDATE = "[CANDIDATE]"

_EMAIL_RE = re.compile(
    r"(?<![\w.%+-])[\w.%+-]+"
    r"(?:@|\s*[\[(]\s*at\s*[\])]\s*)"
    r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
    r"(?:(?:\.|\s*[\[(]\s*dot\s*[\])]\s*)[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*"
    r"(?:\.|\s*[\[(]\s*dot\s*[\])]\s*)[a-z]{2,24}\b",
    re.IGNORECASE,
)
# A run of digit groups joined by one separator each (space, dash, dot, slash), optionally led by + or 00
# and with one parenthesised group, e.g. "+44 (0)20 7946 0958", "(555) 123-4567", "07700 900123".
_PHONE_CANDIDATE = re.compile(
    r"(?<![\w.,:/+\-])"
    r"(?P<number>(?:\+|\b00)?\s?(?:\(\+?\d{1,5}\)|\d{1,15})(?:(?:[ \-./]|\s?\(\d{1,5}\)\s?)\d{1,10}){0,6})"
    r"(?![\w%]|[.,:/\-]\d)"
)
_PHONE_CONTEXT = re.compile(
    r"\b(?:phone|tel|telephone|mobile|cell|cellphone|whats\s?app|signal|fax|call|call\s+me|text\s+me|sms|"
    r"reach\s+me|contact\s+me|(?:my|phone|mobile|cell|contact)\s+(?:number|no))\b"
    r"\W{0,6}(?:(?:is|at|on|me|me\s+at|me\s+on)\b\W{0,3})?$",
    re.IGNORECASE,
)
_NOT_PHONE_CONTEXT = re.compile(r"\b(?:isbn|issn|doi|arxiv|pmid|patent|id|version|v)\W{0,3}$", re.IGNORECASE)
_NANP = re.compile(r"^(?:1[ .\-])?\d{3}[ .\-]\d{3}[ .\-]\d{4}$")
_DOTTED_QUAD = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")
_THOUSANDS = re.compile(r"^\d{1,3}(?:([ ,.])\d{3})(?:\1\d{3})*$")
_ISO_DATE = re.compile(r"^\d{4}[-./]\d{1,2}[-./]\d{1,2}$|^\d{1,2}[-./]\d{1,2}[-./]\d{4}$")

# Parts of a name that say nothing about who someone is, and labels meeting tools put in place of names.
_NOT_A_NAME = frozenset(
    "mr mrs ms miss mx dr prof sir madam dame jr sr ii iii iv phd md the of van von de da del der di du la le "
    "speaker candidate interviewer interviewee unknown guest participant user host attendee me you "
    "person moderator panel panelist".split()
)
# Name parts that are also common English words: these are replaced only when capitalised as a name.
_COMMON_WORDS = frozenset(
    "will may mark bill grace hope rose june april august summer faith joy art guy rich ray sky dawn "
    "victor lance chase drew pat frank sue penny amber ruby jack max miles page hunter young long king "
    "brown white green black gray grey rice bell hall wood stone field hill park lane cook baker carter "
    "mason price reed rock sharp short small strong sweet wise story case".split()
)


def redact(text: str, names: Sequence[str] = ()) -> str:
    """Replace e-mail addresses, phone numbers and the given names with placeholders.

    Args:
        text: The answer (or any text about to be sent to a model).
        names: Names of people to hide, e.g. the candidate's as a transcript names them. Each full name
            and each part of it (first name, surname) is matched case-insensitively on word boundaries,
            possessives included ("Ada's"); generic speaker labels ("Speaker 1", "SPEAKER_00") are ignored.

    Returns:
        The text with [EMAIL], [PHONE] and [CANDIDATE] in place of what was found.
    """
    text = _EMAIL_RE.sub(EMAIL, text)
    text = _PHONE_CANDIDATE.sub(_phone_or_not, text)
    pattern = _names_pattern(names)
    if pattern is not None:
        text = pattern.sub(_name_or_not, text)
    return text


def _phone_or_not(match: re.Match[str]) -> str:
    raw = match.group("number")
    number = raw.strip()
    before = match.string[max(0, match.start() - 40) : match.start()]
    if _is_phone(number, before):
        return raw[: len(raw) - len(raw.lstrip())] + PHONE
    return match.group(0)


def _is_phone(number: str, before: str) -> bool:
    """Whether a run of digit groups is a phone number, given the text just before it."""
    digits = re.sub(r"\D", "", number)
    if not 7 <= len(digits) <= 15 or _NOT_PHONE_CONTEXT.search(before):
        return False
    if _PHONE_CONTEXT.search(before):
        return True
    if _DOTTED_QUAD.match(number) or _THOUSANDS.match(number) or _ISO_DATE.match(number):
        return False
    groups = re.findall(r"\d+", number)
    if number.startswith("+"):
        return len(digits) >= 8 and (len(groups) > 1 or len(digits) >= 10)
    if number.startswith("("):
        return len(digits) >= 9
    if _NANP.match(number):
        return True
    if number.startswith("0") and all(len(g) >= 2 for g in groups):
        # National numbers start with a trunk 0 (or 00 for international); "0.7" or "0 1 2 3" do not qualify.
        if number.startswith("00"):
            return len(groups) > 1 and 10 <= len(digits) <= 15
        return 9 <= len(digits) <= 11 and (len(groups) > 1 or len(digits) >= 10)
    return False


def _name_parts(names: Iterable[str]) -> list[str]:
    """Full names and their parts, longest first, without labels, initials or honorifics."""
    found: dict[str, None] = {}
    for name in names:
        full = " ".join(unicodedata.normalize("NFC", name).split()).strip(" .,;:()[]\"'")
        parts = [p.strip(".,;:()[]\"'’") for p in re.split(r"[\s\-]+", full)]
        meaningful = [p for p in parts if _is_name_part(p)]
        if not meaningful:
            continue
        if len(parts) > 1 and all(_is_name_part(p) or p.lower() in _NOT_A_NAME for p in parts):
            found[full] = None
        for part in meaningful:
            found[part] = None
    return sorted(found, key=lambda n: (-len(n), n))


def _is_name_part(part: str) -> bool:
    return (
        len(part) >= 2
        and any(ch.isalpha() for ch in part)
        and not any(ch.isdigit() or ch == "_" for ch in part)
        and part.lower() not in _NOT_A_NAME
    )


def _letter_pattern(ch: str) -> str:
    """A letter, or its plain form too when it carries an accent ("é" also matches "e")."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
    if ch in "'’":
        return "['’]"
    if plain and plain != ch and len(plain) == 1:
        return f"[{re.escape(ch)}{re.escape(plain)}]"
    return re.escape(ch)


def _names_pattern(names: Iterable[str]) -> re.Pattern[str] | None:
    parts = _name_parts(names)
    if not parts:
        return None
    alternatives = "|".join(
        r"\s+".join("".join(_letter_pattern(ch) for ch in word) for word in part.split()) for part in parts
    )
    return re.compile(rf"(?<![\w@])(?:{alternatives})(?!\w)", re.IGNORECASE)


def _name_or_not(match: re.Match[str]) -> str:
    found = match.group(0)
    words = found.split()
    if all(w.lower() in _COMMON_WORDS for w in words) and not all(w[:1].isupper() for w in words):
        return found
    return CANDIDATE
