"""A heuristic screen for answers that try to instruct the grader.

The answer always reaches the model as delimited data, whatever this screen says; the screen only adds
flags so that a person looks at the grade: `prompt_injection_suspected` when the answer addresses the
grader (overrides, fake system or reviewer messages, fake verdicts, closing tags, template or format-string
payloads, flooding by repetition), and `hidden_characters` when it hides text from a human reader
(invisible Unicode tag characters, bidirectional overrides, zero-width characters inside words,
look-alike letters mixed into Latin words).

The patterns run over several views of the answer, so that obfuscation does not hide a payload: the text
with look-alikes folded and invisible characters removed, with spaced-out letters joined ("i g n o r e"),
with digits read as letters inside words ("1gn0re"), the text smuggled in Unicode tag characters, text
under a right-to-left override read backwards, and base64 runs decoded. It is a screen, not a guarantee:
paraphrases and languages it does not know get through (see SECURITY.md).
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
import zlib
from collections import Counter
from typing import NamedTuple

HIDDEN_CHARACTERS = "hidden_characters"
INJECTION = "prompt_injection_suspected"

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
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164"
    "\ufe00-\ufe0f\ufeff\uffa0\U000e0000-\U000e007f\U000e0100-\U000e01ef]"
)
_TAGS = re.compile("[\U000e0000-\U000e007f]+")
_BIDI_OPENERS = re.compile("[\u202a\u202b\u202d\u202e\u2066-\u2068]")
_RTL_OVERRIDE = re.compile("\u202e([^\u202c\u2069\n]*)")
_INVISIBLE_IN_WORD = re.compile(
    r"\w[\u00ad\u034f\u180e\u200b-\u200d\u2060-\u2064\ufeff\ufe00-\ufe0f\U000e0100-\U000e01ef]+\w"
)
_SPACED_LETTERS = re.compile(r"(?<!\S)(?:\w[ .\-_*]){3,}\w(?!\S)")
_BASE64 = re.compile(r"(?<![\w+/=])[A-Za-z0-9+/]{16,}={0,2}(?![\w+/=])")

_SCORE = r"(?:score|grade|mark|marks|points|rating|level|levels)"
_TOP = r"(?:full|max|maximum|perfect|top|highest|best|10|100|ten|hundred)"
_GRADER = (
    r"(?:grader|grading (?:model|system|ai)|evaluator|examiner|assessor|judge|model|assistant|ai|llm|gpt|"
    r"chatgpt|claude|reviewer|marker|bot)"
)
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (
        "override",
        re.compile(
            r"\b(?:ignore|disregard|forget|override|bypass|skip|discard)\b.{0,40}"
            r"\b(?:previous|prior|above|earlier|preceding|all|any|the|your|these|those|system|grading|original)\b"
            r".{0,30}\b(?:instructions?|prompts?|rules?|rubrics?|guidelines?|criteria|directions?|directives?)",
            re.S,
        ),
    ),
    (
        "override_other_language",
        re.compile(
            r"\bignor(?:ez|e|a|ar|iere|ieren)\b.{0,40}\b(?:instructions|instrucciones|anweisungen|istruzioni|"
            r"instruções|consignes)\b|忽略.{0,10}(?:指令|指示|说明)|無視.{0,10}指示",
            re.S,
        ),
    ),
    (
        "new_role",
        re.compile(
            rf"\byou are now (?:an?|the|my|in|acting|no)\b|\byou are no longer\b|\bact as (?:the|an?) {_GRADER}\b"
            r"|\bnew (?:system )?instructions?\s*:|\bfrom now on,? (?:you|the grader)\b|\bdeveloper mode\b"
            r"|\bjailbreak(?:en)?\b.{0,20}\bmode\b|\bpretend (?:that )?you are\b"
        ),
    ),
    (
        "address_grader",
        re.compile(
            rf"\b(?:dear|attention|note to(?: the)?|message to(?: the)?|hey|hello|hi|instructions? (?:to|for)"
            rf"(?: the)?)\s+{_GRADER}s?\b"
            rf"|\b(?:the|this|dear|you,?) {_GRADER}s? (?:must|should|shall|will|is instructed to|needs to|has to)"
            r"\s+(?:give|award|assign|output|return|respond|mark|score|rate|ignore|grade|treat|accept)"
        ),
    ),
    (
        "score_demand",
        re.compile(
            rf"\b(?:give|award|assign|grant|set|mark|rate|score|grade)\b.{{0,30}}\b{_TOP}\b.{{0,15}}{_SCORE}"
            rf"|\b{_SCORE}s?\b.{{0,12}}\b(?:of\s+)?(?:10\s*/\s*10|100\s*/\s*100|100\s*%|full marks)"
            r"|\b(?:must|should|will)\s+(?:be\s+)?(?:given|awarded|graded|scored|rated)\b.{0,20}"
            r"\b(?:full|max|perfect|10|100|top|highest)"
            rf"|\b(?:deserves?|merits?|warrants?|earns?|worthy of)\b.{{0,20}}\b{_TOP}\b.{{0,10}}{_SCORE}"
            r"|\bthis (?:answer|response) (?:is|deserves) (?:perfect|flawless|a 10|full marks)"
            r"|\b(?:10|ten) out of (?:10|ten)\b|\b(?:every|each|all) criteri(?:on|a)\b.{0,30}"
            r"\b(?:top|highest|maximum|max|full)\b.{0,6}\blevels?\b"
        ),
    ),
    (
        "fake_verdict",
        re.compile(
            r"[{,]\s*[\"']?(?:score|level|grade|verdict|status|criteria|total|points)[\"']?\s*:\s*[\"'\d{\[]"
            r"|(?:^|\n)\s*(?:final |total |overall )?(?:score|grade|verdict|rating)\s*[:=]\s*"
            r"(?:\d+(?:\.\d+)?\s*(?:/|out of)\s*\d+|\d+\s*%|full|max|perfect|a\+|pass)",
        ),
    ),
    (
        "fake_message",
        re.compile(
            r"^\s*(?:#+\s*|\[|\*\*)?(?:system|assistant|developer|reviewer|grader|evaluator|admin|administrator|"
            r"moderator|examiner|openai|anthropic)\s*(?:message|note|prompt|override|update|instruction)?"
            r"\s*(?:\]|\*\*)?\s*:"
            r"|<\|(?:im_start|im_end|system|user|assistant|endoftext|start_header_id|end_header_id|eot_id)\|>"
            r"|\[/?inst\]|<</?sys>>|^\s*(?:human|user|assistant)\s*:\s*$"
            r"|\banswer truncated by the grader\b|\bend of (?:the )?(?:candidate'?s? )?answer\b",
            re.M,
        ),
    ),
    (
        "fake_delimiter",
        re.compile(
            r"</?\s*answer[\w-]*\s*>|</?\s*(?:system|instructions?|rubric|candidate_answer|user|assistant|"
            r"grader|verdict|data)\s*>|^\s*(?:-{3,}|={3,}|#{3,})\s*(?:end|begin|start)\b",
            re.M,
        ),
    ),
    (
        # Paraphrased steering without trigger words: the answer speaks to whoever marks it ("to whoever is marking
        # this", "note to the evaluator", "if an automated system is reading this") …
        "address_marker",
        re.compile(
            r"\b(?:to|for|dear|attention|hi|hello|hey)\s+(?:whoever|whomever|anyone|the (?:person|people|team|one)"
            r"|the (?:ai|model|system|software|tool|program)s?)\b[^.\n]{0,30}?\b(?:mark|grad|scor|review|assess"
            r"|evaluat|check|read|judg)\w*"
            r"|\bwhoever\s+(?:is\s+|will\s+be\s+)?(?:mark|grad|scor|review|assess|evaluat|check|read|judg)\w*"
            r"|\b(?:if|when|should)\s+(?:an?\s+|the\s+)?(?:automated|ai|llm|language model|model|machine|bot|grader"
            r"|grading|scoring|marking|program|system)\b[^.\n]{0,25}?\b(?:is|are)\s+(?:reading|grading|marking"
            r"|scoring|evaluating|checking|reviewing|assessing)\s+(?:this|these|my|the above)\b"
            r"|\bdear\s+(?:marker|grader|examiner|assessor|evaluator|reviewer|scorer)s?\b"
            r"|\b(?:to the|for the|note (?:to|for)(?: the)?|message (?:to|for)(?: the)?|a word (?:to|for) the"
            r"|attention,?)\s+(?:human\s+)?(?:marker|grader|examiner|assessor|evaluator|reviewer|scorer"
            r"|grading (?:system|team|model)|scoring (?:system|model)|course staff|question setter)s?"
            r"\s*(?:[:,(\u2014-]|please\b|kindly\b)"
        ),
    ),
    (
        # … or tells the marker how to read it: "treat this as complete", "do not list any gaps", "the scoring
        # guide says this is top-band".
        "steer_marker",
        re.compile(
            r"\b(?:treat|regard|consider|read|count|accept|mark|score|grade|record|assess|evaluate|take|see)\s+"
            r"(?:this|it|the above|my (?:answer|response)|the (?:answer|response)|this (?:answer|response|reply))"
            r"(?:\s+\w+){0,3}?\s+as\s+(?:a\s+|an\s+|being\s+|fully\s+)?(?:complete|full|correct|perfect|"
            r"top|exemplary|model|covering|comprehensive|flawless|excellent|sufficient|meeting)"
            r"|\b(?:do not|don't|never|please don't)\s+(?:list|report|mention|note|flag|record|deduct|penali[sz]e"
            r"|hold)\b[^.\n]{0,30}?\b(?:gaps?|missing|errors?|omissions?|points?|marks?|length)\b"
            r"|\b(?:rubric|marking scheme|scheme|scoring guide|grading guide|guidance|grading policy|marking guide"
            r"|guidelines?|instructions)\b[^.\n]{0,30}?\b(?:says|states|specifies|requires|indicates|gives|count"
            r"|deserves?)\b[^.\n]{0,40}?\b(?:this|my|such)\b[^.\n]{0,40}?\b(?:full|top|highest|maximum|max"
            r"|complete|top-band|band)"
            r"|\b(?:top|highest|maximum|max|full)(?:-|\s+)(?:band|level|marks|score|credit)\b[^.\n]{0,40}?"
            r"\b(?:on|for|across|in)\s+(?:every|each|all)\b"
            r"|\b(?:every|each|all)\s+(?:criterion|criteria)\b[^.\n]{0,40}?\b(?:top|highest|maximum|max|full)"
            r"|\bany\s+(?:careful|fair|reasonable|competent|good)\s+(?:examiner|marker|grader|assessor|evaluator"
            r"|reviewer)\s+would\b"
            r"|\bany\s+gaps?\s+you\s+(?:report|list|find)\b"
            r"|\b(?:let|leave)\s+(?:the|this|my)\s+(?:answer|response|score)\s+(?:stand|as it is)"
        ),
    ),
    ("template_syntax", re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)),
    (
        "format_string",
        re.compile(
            r"\{\s*\w*\s*(?:\.__\w+__|\[\s*['\"\d])[^{}]{0,80}\}"
            r"|\{(?:answer|rubric|reference_answer|question|criteria|prompt|system_prompt|instructions|score|"
            r"answer_block|answer_tag)\}"
            r"|%\(\w+\)[sdr]|\$\{[^}\n]{1,80}\}"
            r"|__(?:class|mro|subclasses|globals|builtins|import|init|base|dict)__"
        ),
    ),
    ("hidden_comment", re.compile(r"<!--.*?-->", re.S)),
]


class Screening(NamedTuple):
    """What the screen found: flags for the grade, and the reasons for an audit trail."""

    flags: list[str]
    reasons: list[str]


def fold(text: str) -> str:
    """Lower-case text with look-alikes folded, invisible characters removed and spaces collapsed.

    Line breaks are kept (as single newlines), so patterns can anchor on a line that starts "System:".
    """
    text = _INVISIBLE.sub("", unicodedata.normalize("NFKC", text)).translate(_CONFUSABLES).casefold()
    text = re.sub(r"[^\S\n]+", " ", text)
    return re.sub(r"\s*\n\s*", "\n", text)


def screen_answer(answer: str) -> Screening:
    """Look for attempts to instruct the grader, and for text hidden from a human reader.

    The answer itself is never changed; see the module docstring for what is looked for.
    """
    reasons: list[str] = []
    for view in _views(answer):
        for name, pattern in _PATTERNS:
            if name not in reasons and pattern.search(view):
                reasons.append(name)
    if _repetitive(answer):
        reasons.append("repetition")
    flags = [INJECTION] if reasons else []
    hidden = _hidden_reasons(answer)
    if hidden:
        flags.append(HIDDEN_CHARACTERS)
        reasons.extend(hidden)
    return Screening(flags, reasons)


def _views(answer: str) -> list[str]:
    """The answer as a reader sees it, plus what obfuscation would hide from the patterns."""
    folded = fold(answer)
    views = [folded]
    plain = _INVISIBLE.sub("", unicodedata.normalize("NFKC", answer)).translate(_CONFUSABLES).casefold()
    if _SPACED_LETTERS.search(plain):
        views.append(fold(_SPACED_LETTERS.sub(lambda m: re.sub(r"[ .\-_*]", "", m.group()), plain)))
    unleet = re.sub(r"\b(?=\w*[a-z])(?=\w*[013457])\w+\b", lambda m: m.group().translate(_LEET), folded)
    if unleet != folded:
        views.append(unleet)
    smuggled = "".join(
        chr(ord(ch) - 0xE0000) for run in _TAGS.findall(answer) for ch in run if 0xE0020 <= ord(ch) <= 0xE007E
    )
    if smuggled:
        views.append(fold(smuggled))
    views.extend(fold(span[::-1]) for span in _RTL_OVERRIDE.findall(answer))
    views.extend(fold(decoded) for decoded in _base64_texts(answer))
    return views


def _base64_texts(answer: str) -> list[str]:
    texts = []
    for run in _BASE64.findall(answer)[:20]:
        if not (re.search(r"[a-z]", run) and re.search(r"[A-Z]", run)):
            continue
        try:
            text = base64.b64decode(run + "=" * (-len(run) % 4), validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            continue
        if text.isprintable() and re.search(r"[a-z]{3,} [a-z]{2,}", text.lower()):
            texts.append(text)
    return texts


def _hidden_reasons(answer: str) -> list[str]:
    """Why the answer hides text from a reader; a stray BOM or direction mark from copy-paste is not enough."""
    reasons = []
    if _TAGS.search(answer):
        reasons.append("tag_characters")
    if _BIDI_OPENERS.search(answer):
        reasons.append("bidi_override")
    if _INVISIBLE_IN_WORD.search(answer) or len(_INVISIBLE.findall(answer)) >= 8:
        reasons.append("zero_width")
    if _has_mixed_script_words(answer):
        reasons.append("look_alikes")
    return reasons


def _has_mixed_script_words(text: str) -> bool:
    """A word mixing Latin with Cyrillic or Greek letters is a classic look-alike trick."""
    for word in re.findall(r"\w{3,}", _INVISIBLE.sub("", text)):
        if word.isascii():
            continue
        has_latin = any("a" <= ch.lower() <= "z" for ch in word)
        if has_latin and any(ch != ch.translate(_CONFUSABLES) for ch in word):
            return True
    return False


def _repetitive(answer: str) -> bool:
    """Flooding: the same line, or the same few words, over and over (natural answers are far from it)."""
    data = answer.encode("utf-8", "replace")
    if len(data) >= 1000 and len(zlib.compress(data, 6)) / len(data) < 0.12:
        return True
    lines = [line.strip().casefold() for line in answer.splitlines() if len(line.strip()) >= 8]
    if lines and Counter(lines).most_common(1)[0][1] >= 8:
        return True
    words = re.findall(r"\w+", answer.casefold())[:20_000]
    return any(_longest_run(words, n) >= 15 for n in (1, 2, 3))


def _longest_run(words: list[str], n: int) -> int:
    """The longest run of one n-word sequence repeated back to back."""
    best = 1
    for start in range(n):
        chunks = [tuple(words[i : i + n]) for i in range(start, len(words) - n + 1, n)]
        run = 1
        for previous, current in zip(chunks, chunks[1:], strict=False):
            run = run + 1 if previous == current else 1
            best = max(best, run)
    return best
