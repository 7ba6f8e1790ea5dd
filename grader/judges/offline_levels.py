"""From key-point coverage to levels, for the offline judge: pure arithmetic.

Criterion fractions of their top level are shifted together until their weighted sum meets the target total,
then rounded to levels so that the total stays as close to the target as the levels allow.
"""

from __future__ import annotations


def curve(coverage: float, low: float, full: float) -> float:
    """0 below `low`, 1 from `full`, linear between."""
    if full <= low:
        return 1.0 if coverage > low else 0.0
    return min(1.0, max(0.0, (coverage - low) / (full - low)))


def shift_to(fractions: list[float], shares: list[float], target: float) -> list[float]:
    """Move every fraction by one offset (clamped to 0 … 1) until their weighted sum meets the target."""
    lo, hi = -1.0, 1.0
    for _ in range(24):  # 2 / 2**24: far finer than any level step
        mid = (lo + hi) / 2
        total = sum(s * min(1.0, max(0.0, f + mid)) for f, s in zip(fractions, shares, strict=True))
        lo, hi = (mid, hi) if total < target else (lo, mid)
    return [min(1.0, max(0.0, f + (lo + hi) / 2)) for f in fractions]


def round_levels(fractions: list[float], steps: list[int], shares: list[float], target: float) -> list[int]:
    """Round fractions to levels keeping the total as close to the target as the levels allow.

    Rounding each criterion alone can move the total by half a level per criterion; instead start from the
    floors and raise the criteria with the largest remainders while that brings the total closer.
    """
    levels = [min(s, int(f * s + 1e-9)) for f, s in zip(fractions, steps, strict=True)]
    total = sum(share * lv / s for share, lv, s in zip(shares, levels, steps, strict=True))
    for i in sorted(range(len(levels)), key=lambda i: (levels[i] - fractions[i] * steps[i], i)):
        step = shares[i] / steps[i]
        if levels[i] < steps[i] and abs(total + step - target) < abs(total - target):
            levels[i] += 1
            total += step
    return levels
