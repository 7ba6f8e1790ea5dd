"""Agreement between a grader and human scores: correlations, kappa, errors, bootstrap intervals.

Pure functions over plain sequences of floats (plus the small ridge line the offline judge fits to graded
answers). Hostile input never crashes and never yields NaN: a statistic that is undefined (fewer than two
pairs, a constant side, NaN values) is None. Pairs with a NaN on either side are dropped before anything is
computed; `Agreement.n` counts the pairs kept.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

Stat = Callable[[Sequence[float], Sequence[float]], float | None]


def clean_pairs(x: Sequence[float], y: Sequence[float]) -> tuple[list[float], list[float]]:
    """The pairs where both values are finite numbers.

    Raises:
        ValueError: if the sequences differ in length.
    """
    if len(x) != len(y):
        raise ValueError(f"length mismatch: {len(x)} and {len(y)} values")
    kept = [(float(a), float(b)) for a, b in zip(x, y, strict=True) if math.isfinite(a) and math.isfinite(b)]
    return [a for a, _ in kept], [b for _, b in kept]


def pearson(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Pearson's r, or None with fewer than two finite pairs or a constant side."""
    x, y = clean_pairs(x, y)
    n = len(x)
    if n < 2:
        return None
    mx, my = math.fsum(x) / n, math.fsum(y) / n
    sxx = math.fsum((a - mx) ** 2 for a in x)
    syy = math.fsum((b - my) ** 2 for b in y)
    if sxx <= 1e-24 or syy <= 1e-24:
        return None
    sxy = math.fsum((a - mx) * (b - my) for a, b in zip(x, y, strict=True))
    return max(-1.0, min(1.0, sxy / math.sqrt(sxx * syy)))


def ranks(values: Sequence[float]) -> list[float]:
    """Ranks from 1, ties sharing their mean rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    result = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for position in range(start, end + 1):
            result[order[position]] = (start + end) / 2 + 1
        start = end + 1
    return result


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's rho (Pearson on tie-averaged ranks), or None where Pearson would be."""
    x, y = clean_pairs(x, y)
    return pearson(ranks(x), ranks(y))


def mae(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Mean absolute difference, or None with no finite pair."""
    x, y = clean_pairs(x, y)
    if not x:
        return None
    return math.fsum(abs(a - b) for a, b in zip(x, y, strict=True)) / len(x)


def to_bin(ratio: float, bins: int) -> int:
    """The bin 0 … bins-1 of a ratio in 0 … 1 (equal widths; values outside are clamped, 1.0 is the top bin)."""
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    return min(bins - 1, max(0, int(math.floor(ratio * bins + 1e-9))))


def confusion(x: Sequence[float], y: Sequence[float], bins: int) -> list[list[int]]:
    """Counts[i][j] of pairs whose first ratio falls in bin i and second in bin j."""
    x, y = clean_pairs(x, y)
    matrix = [[0] * bins for _ in range(bins)]
    for a, b in zip(x, y, strict=True):
        matrix[to_bin(a, bins)][to_bin(b, bins)] += 1
    return matrix


def qwk(x: Sequence[float], y: Sequence[float], bins: int = 5) -> float | None:
    """Quadratic weighted kappa of two ratio series binned into `bins` equal bins.

    None with fewer than two pairs, or when chance agreement is total (both sides in one and the same bin).
    """
    x, y = clean_pairs(x, y)
    n = len(x)
    if n < 2 or bins < 2:
        return None
    matrix = confusion(x, y, bins)
    rows = [sum(r) for r in matrix]
    cols = [sum(matrix[i][j] for i in range(bins)) for j in range(bins)]
    observed = expected = 0.0
    for i in range(bins):
        for j in range(bins):
            weight = (i - j) ** 2 / (bins - 1) ** 2
            observed += weight * matrix[i][j]
            expected += weight * rows[i] * cols[j] / n
    if expected <= 1e-12:
        return None
    return 1.0 - observed / expected


def exact_agreement(x: Sequence[float], y: Sequence[float], bins: int = 5) -> float | None:
    """Share of pairs in the same bin, or None with no finite pair."""
    x, y = clean_pairs(x, y)
    if not x:
        return None
    return sum(to_bin(a, bins) == to_bin(b, bins) for a, b in zip(x, y, strict=True)) / len(x)


def adjacent_agreement(x: Sequence[float], y: Sequence[float], bins: int = 5) -> float | None:
    """Share of pairs at most one bin apart, or None with no finite pair."""
    x, y = clean_pairs(x, y)
    if not x:
        return None
    return sum(abs(to_bin(a, bins) - to_bin(b, bins)) <= 1 for a, b in zip(x, y, strict=True)) / len(x)


@dataclass(frozen=True)
class Interval:
    """A bootstrap percentile interval."""

    low: float
    high: float


def bootstrap_ci(
    stat: Stat, x: Sequence[float], y: Sequence[float], *, resamples: int = 1000, seed: int = 0, level: float = 0.95
) -> Interval | None:
    """Percentile bootstrap interval of a paired statistic, resampling pairs (seeded, so repeatable).

    Resamples on which the statistic is undefined are skipped; None when fewer than half remain, or with
    fewer than three pairs.
    """
    x, y = clean_pairs(x, y)
    n = len(x)
    if n < 3 or resamples < 1:
        return None
    rng = random.Random(seed)
    values = []
    for _ in range(resamples):
        picks = [rng.randrange(n) for _ in range(n)]
        value = stat([x[i] for i in picks], [y[i] for i in picks])
        if value is not None:
            values.append(value)
    if len(values) < resamples / 2:
        return None
    values.sort()
    tail = (1 - level) / 2
    low = values[min(len(values) - 1, int(math.floor(tail * len(values))))]
    high = values[min(len(values) - 1, int(math.ceil((1 - tail) * len(values))) - 1)]
    return Interval(low, high)


@dataclass(frozen=True)
class Agreement:
    """Every agreement figure between human ratios and grader ratios (0 … 1 each)."""

    n: int
    pearson: float | None
    spearman: float | None
    qwk: float | None
    mae: float | None
    exact: float | None
    adjacent: float | None
    bins: int
    confusion: list[list[int]]
    """Rows: human bin; columns: grader bin."""
    mean_human: float | None
    mean_grader: float | None
    ci: dict[str, Interval | None] = field(default_factory=dict)
    """95% bootstrap intervals of pearson, spearman, qwk and mae."""


def agreement(
    human: Sequence[float], grader: Sequence[float], *, bins: int = 5, resamples: int = 1000, seed: int = 0
) -> Agreement:
    """All agreement figures between two ratio series; resamples=0 skips the bootstrap intervals."""
    human, grader = clean_pairs(human, grader)
    stats: dict[str, Stat] = {
        "pearson": pearson,
        "spearman": spearman,
        "qwk": lambda a, b: qwk(a, b, bins),
        "mae": mae,
    }
    ci = {name: bootstrap_ci(f, human, grader, resamples=resamples, seed=seed) for name, f in stats.items()}
    n = len(human)
    return Agreement(
        n=n,
        pearson=pearson(human, grader),
        spearman=spearman(human, grader),
        qwk=qwk(human, grader, bins),
        mae=mae(human, grader),
        exact=exact_agreement(human, grader, bins),
        adjacent=adjacent_agreement(human, grader, bins),
        bins=bins,
        confusion=confusion(human, grader, bins),
        mean_human=math.fsum(human) / n if n else None,
        mean_grader=math.fsum(grader) / n if n else None,
        ci=ci if resamples else {},
    )


def ridge_line(x: Sequence[float], y: Sequence[float], strength: float) -> tuple[float, float]:
    """Least-squares line y = a + b·x, pulled towards a = 0, b = 1 by `strength` pseudo-observations.

    With no data (or strength 0 and a constant x) the identity line (0, 1) is returned.
    """
    sx, sy = math.fsum(x), math.fsum(y)
    sxx = math.fsum(v * v for v in x)
    sxy = math.fsum(u * v for u, v in zip(x, y, strict=True))
    # Normal equations of Σ(y - a - b·x)² + λ·a² + λ·(b - 1)², solved by Cramer's rule.
    a11, a12, a22 = len(x) + strength, sx, sxx + strength
    b1, b2 = sy, sxy + strength
    det = a11 * a22 - a12 * a12
    if abs(det) < 1e-12:
        return 0.0, 1.0
    return (b1 * a22 - a12 * b2) / det, (a11 * b2 - a12 * b1) / det
