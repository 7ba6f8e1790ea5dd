"""Pure scoring: check a verdict against its rubric and turn it into points.

The formula is fixed by the public contract, whichever judge decided the levels: a criterion with L levels
scored at level k earns k / (L-1) of its points; its points are max_score * weight / sum of weights; the
total is the sum, rounded to 2 decimals. No I/O here.
"""

from __future__ import annotations

import bisect
import json
import math
import re
import statistics
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from grader.models import CriterionResult, CriterionVerdict, Rubric, Verdict


def criterion_points(rubric: Rubric) -> dict[str, float]:
    """Return the maximum points of each criterion, by id."""
    total_weight = sum(c.weight for c in rubric.criteria)
    return {c.id: rubric.max_score * c.weight / total_weight for c in rubric.criteria}


def score_levels(rubric: Rubric, levels: Mapping[str, float]) -> float:
    """Total score for a level per criterion (levels may be fractional, e.g. a median of samples)."""
    points = criterion_points(rubric)
    total = 0.0
    for criterion in rubric.criteria:
        level = levels[criterion.id]
        total += points[criterion.id] * level / (len(criterion.levels) - 1)
    return round(total, 2)


def verdict_problems(verdict: Verdict, rubric: Rubric) -> list[str]:
    """Return what makes a verdict unusable for this rubric (each a line to show the model in a re-ask)."""
    problems = []
    known = {c.id for c in rubric.criteria}
    for criterion in rubric.criteria:
        decided = verdict.criteria.get(criterion.id)
        if decided is None:
            problems.append(f"criteria.{criterion.id}: missing")
        elif not 0 <= decided.level < len(criterion.levels):
            problems.append(f"criteria.{criterion.id}.level: {decided.level} is outside 0..{len(criterion.levels) - 1}")
        elif decided.level_probs is not None and len(decided.level_probs) != len(criterion.levels):
            problems.append(
                f"criteria.{criterion.id}.level_probs: {len(decided.level_probs)} values for "
                f"{len(criterion.levels)} levels"
            )
    for extra in sorted(set(verdict.criteria) - known):
        problems.append(f"criteria.{extra}: not a criterion of this rubric")
    return problems


def normalize_for_match(text: str) -> str:
    """Fold case, Unicode forms, quotes, dashes and whitespace so quotes can be found in the answer."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = re.sub(r"[\u2018\u2019\u201b\u2032`]", "'", text)
    text = re.sub(r"[\u201c\u201d\u201f\u2033]", '"', text)
    text = re.sub(r"[\u2010-\u2015\u2212]", "-", text)
    text = re.sub(r"[\u200b-\u200f\u2060\ufeff]", "", text)
    return re.sub(r"\s+", " ", text).strip()


_ELLIPSIS = re.compile(r"\s*(?:\.\.\.|…|\[\.\.\.\])\s*")


def quote_in_answer(quote: str, normalized_answer: str) -> bool:
    """Whether a quote occurs in the answer; an ellipsis may stand for omitted text between parts."""
    parts = [normalize_for_match(p).strip(" \"'.,;:") for p in _ELLIPSIS.split(quote)]
    parts = [p for p in parts if p]
    if not parts:
        return True
    position = 0
    for part in parts:
        found = normalized_answer.find(part, position)
        if found < 0:
            return False
        position = found + len(part)
    return True


def missing_evidence(verdict: Verdict, answer: str) -> list[str]:
    """Return the evidence quotes that do not occur in the answer, as `criterion: "quote"`."""
    normalized = normalize_for_match(answer)
    return [
        f'{criterion_id}: "{quote}"'
        for criterion_id, decided in verdict.criteria.items()
        for quote in decided.evidence
        if not quote_in_answer(quote, normalized)
    ]


def scored_level(decided: CriterionVerdict) -> float:
    """The level a criterion is scored at: the expected level when level probabilities are known, else the level.

    With logprob weighting (G-Eval) the score follows the probability-weighted level, so a judge torn between
    two levels earns points in between; `level` stays the nearest whole level for display.
    """
    if decided.level_probs:
        return expected_level(decided.level_probs)
    return float(decided.level)


def criterion_results(verdict: Verdict, rubric: Rubric) -> list[CriterionResult]:
    """Score each criterion of a valid verdict, in rubric order."""
    points = criterion_points(rubric)
    results = []
    for criterion in rubric.criteria:
        decided = verdict.criteria[criterion.id]
        steps = len(criterion.levels) - 1
        results.append(
            CriterionResult(
                id=criterion.id,
                level=decided.level,
                levels=len(criterion.levels),
                score=round(points[criterion.id] * scored_level(decided) / steps, 2),
                max_score=round(points[criterion.id], 2),
                rationale=decided.rationale,
                evidence=decided.evidence,
                spread=decided.spread,
                level_probs=decided.level_probs,
            )
        )
    return results


def total_score(verdict: Verdict, rubric: Rubric) -> float:
    """Total of a valid verdict by the fixed formula."""
    return score_levels(rubric, {c.id: scored_level(verdict.criteria[c.id]) for c in rubric.criteria})


class Combined(NamedTuple):
    """Several sampled verdicts combined into one."""

    verdict: Verdict
    max_spread: float


def combine_verdicts(verdicts: Sequence[Verdict], rubric: Rubric) -> Combined:
    """Combine sampled verdicts per criterion: the median level (low median on ties), and its spread.

    The low median keeps a split decision from rounding a candidate up. Feedback and evidence come from
    the sample whose levels are closest to the combined ones, so the text matches the score. When every
    sample carries level probabilities for a criterion, they are averaged (a mixture of the samples) and
    the level is the rounded expectation of the mixture; the spread is still that of the sampled levels.
    """
    if not verdicts:
        raise ValueError("no verdicts to combine")
    combined: dict[str, CriterionVerdict] = {}
    max_spread = 0.0
    for criterion in rubric.criteria:
        decided = [v.criteria[criterion.id] for v in verdicts]
        levels = [d.level for d in decided]
        spread = float(max(levels) - min(levels))
        max_spread = max(max_spread, spread)
        probs = mean_probs([d.level_probs for d in decided if d.level_probs], len(criterion.levels))
        if probs is not None and all(d.level_probs for d in decided):
            level = round_level(expected_level(probs))
        else:
            probs = None
            level = statistics.median_low(levels)
        source = min(decided, key=lambda d: abs(d.level - level))
        combined[criterion.id] = source.model_copy(update={"level": level, "spread": spread, "level_probs": probs})

    def distance(v: Verdict) -> int:
        return sum(abs(v.criteria[cid].level - combined[cid].level) for cid in combined)

    closest = min(verdicts, key=distance)
    return Combined(Verdict(criteria=combined, feedback=closest.feedback), max_spread)


def expected_level(probs: Sequence[float]) -> float:
    """Probability-weighted level (G-Eval style) from per-level probabilities."""
    total = sum(probs)
    if total <= 0:
        raise ValueError("level probabilities sum to zero")
    return sum(i * p for i, p in enumerate(probs)) / total


def round_level(expected: float) -> int:
    """The whole level nearest an expected level; exact halves go down, like the low median of samples."""
    return max(0, math.ceil(expected - 0.5 - 1e-9))


def level_probabilities(mass: Sequence[float]) -> list[float] | None:
    """Normalise probability mass per level (from a token's top logprobs) into level probabilities.

    Levels absent from the top logprobs keep probability 0; the mass outside the allowed levels (other tokens)
    is dropped by the normalisation. None when no level got any mass. Rounded to 4 decimals so that the
    stored probabilities reproduce the stored score.
    """
    if any(m < 0 or math.isnan(m) for m in mass):
        raise ValueError("probability mass must be non-negative")
    total = math.fsum(mass)
    if not mass or total <= 0 or math.isinf(total):
        return None
    return [round(m / total, 4) for m in mass]


def mean_probs(probs: Sequence[Sequence[float]], levels: int) -> list[float] | None:
    """The average of several level distributions (None if there are none or their lengths disagree)."""
    if not probs or any(len(p) != levels for p in probs):
        return None
    return [round(math.fsum(p[k] for p in probs) / len(probs), 4) for k in range(levels)]


def agreement_threshold(levels: int) -> float:
    """Spread (max - min of sampled levels) from which samples disagree on a criterion with `levels` levels.

    Two levels apart, or half the criterion's range, whichever is smaller: a 2-level criterion disagrees
    on any split, a 3-level one on a one-level split, 4 and more levels on a two-level split.
    """
    return min(2.0, (levels - 1) / 2)


def disagreeing_criteria(verdict: Verdict, rubric: Rubric) -> list[str]:
    """The criteria whose sampled levels spread at or past the agreement threshold (the `low_agreement` flag)."""
    found = []
    for criterion in rubric.criteria:
        decided = verdict.criteria.get(criterion.id)
        if decided is not None and decided.spread is not None:
            if decided.spread >= agreement_threshold(len(criterion.levels)):
                found.append(criterion.id)
    return found


# Level probabilities from a reply's logprobs (G-Eval): pure functions over the token list the client returns.

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null")
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_LEADING_DIGITS = re.compile(r"\s*(\d+)")
_MAX_DEPTH = 32


def level_offsets(text: str) -> dict[str, int]:
    """Where each `criteria.<id>.level` value starts in a JSON verdict (character offsets; {} if not JSON).

    A small walk over the JSON rather than a regex, so that quotes and braces inside evidence strings
    cannot be mistaken for structure.
    """
    found: dict[str, int] = {}

    def value(pos: int, path: tuple[str, ...]) -> int:
        if len(path) > _MAX_DEPTH:
            raise ValueError("too deep")
        pos = _WHITESPACE.match(text, pos).end()  # type: ignore[union-attr]
        char = text[pos : pos + 1]
        if char == "{":
            return members(pos + 1, path, "}", keyed=True)
        if char == "[":
            return members(pos + 1, path, "]", keyed=False)
        if char == '"':
            return json.decoder.scanstring(text, pos + 1)[1]  # type: ignore[attr-defined,no-any-return]
        match = _NUMBER.match(text, pos)
        if match is None:
            raise ValueError(f"unexpected {char!r} at {pos}")
        if len(path) == 3 and path[0] == "criteria" and path[2] == "level":
            found[path[1]] = pos
        return match.end()

    def members(pos: int, path: tuple[str, ...], close: str, *, keyed: bool) -> int:
        pos = _WHITESPACE.match(text, pos).end()  # type: ignore[union-attr]
        if text[pos : pos + 1] == close:
            return pos + 1
        index = 0
        while True:
            key = str(index)
            if keyed:
                if text[pos : pos + 1] != '"':
                    raise ValueError(f"expected a key at {pos}")
                key, pos = json.decoder.scanstring(text, pos + 1)  # type: ignore[attr-defined]
                pos = _WHITESPACE.match(text, pos).end()  # type: ignore[union-attr]
                if text[pos : pos + 1] != ":":
                    raise ValueError(f"expected ':' at {pos}")
                pos += 1
            pos = value(pos, (*path, key))
            pos = _WHITESPACE.match(text, pos).end()  # type: ignore[union-attr]
            char = text[pos : pos + 1]
            if char == close:
                return pos + 1
            if char != ",":
                raise ValueError(f"expected ',' or {close!r} at {pos}")
            pos = _WHITESPACE.match(text, pos + 1).end()  # type: ignore[union-attr]
            index += 1

    try:
        value(0, ())
    except (ValueError, IndexError):
        return {}
    return found


def level_probs_from_logprobs(tokens: Sequence[dict[str, Any]] | None, rubric: Rubric) -> dict[str, list[float]]:
    """Level probabilities per criterion from per-token logprobs ({} when the reply carries none usable).

    The reply's text is rebuilt from its tokens; the token where a criterion's level value starts holds,
    in its top logprobs, the alternatives the model weighed. Each alternative that reads as the same text
    up to the value and then a level of this criterion adds exp(logprob) to that level.
    """
    if not tokens:
        return {}
    texts = [t.get("token") if isinstance(t, dict) else None for t in tokens]
    if not all(isinstance(t, str) for t in texts):
        return {}
    pieces: list[str] = texts  # type: ignore[assignment]
    starts = []
    position = 0
    for piece in pieces:
        starts.append(position)
        position += len(piece)
    offsets = level_offsets("".join(pieces))
    result: dict[str, list[float]] = {}
    for criterion in rubric.criteria:
        offset = offsets.get(criterion.id)
        if offset is None:
            continue
        index = bisect.bisect_right(starts, offset) - 1
        while index > 0 and not pieces[index]:
            index -= 1
        token = tokens[index]
        prefix = pieces[index][: offset - starts[index]]
        mass = [0.0] * len(criterion.levels)
        seen: set[str] = set()
        for alternative in [*(token.get("top_logprobs") or []), token]:
            if not isinstance(alternative, dict):
                continue
            text, logprob = alternative.get("token"), alternative.get("logprob")
            if not isinstance(text, str) or not isinstance(logprob, int | float) or text in seen:
                continue
            seen.add(text)
            level = _token_level(text, prefix, len(criterion.levels))
            if level is not None and math.isfinite(logprob):
                mass[level] += math.exp(min(0.0, logprob))
        probs = level_probabilities(mass)
        if probs is not None:
            result[criterion.id] = probs
    return result


def _token_level(text: str, prefix: str, levels: int) -> int | None:
    """The level an alternative token stands for, if it reads as `prefix` then a level number."""
    if not text.startswith(prefix):
        if not prefix.strip() or text.strip()[: len(prefix.strip())] != prefix.strip():
            return None
        text = text.strip()[len(prefix.strip()) :]
    else:
        text = text[len(prefix) :]
    match = _LEADING_DIGITS.match(text)
    if match is None:
        return None
    level = int(match.group(1))
    return level if level < levels else None
