"""Where each criterion's evidence sits in the answer, as segments the page renders as text.

The answer is cut into consecutive segments that cover it whole, each with the criteria whose evidence it
belongs to; the page only ever puts segment text into text nodes. Segments (not offsets) because the browser
counts UTF-16 units and Python code points.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

_ELLIPSIS = re.compile(r"\s*(?:\.\.\.|…|\[\.\.\.\])\s*")
MAX_QUOTE_CHARS = 2000


def find_quote(answer: str, quote: str) -> list[tuple[int, int]]:
    """The spans of the answer a quote stands for: exact, else ignoring case and spacing; an ellipsis splits it.

    Parts must appear in order; a quote that is not in the answer gives no span.
    """
    parts = [p.strip(" \"'.,;:") for p in _ELLIPSIS.split(quote[:MAX_QUOTE_CHARS])]
    spans = []
    position = 0
    for part in (p for p in parts if p):
        start = answer.find(part, position)
        if start >= 0:
            end = start + len(part)
        else:
            words = [re.escape(w) for w in part.split()]
            found = re.compile(r"\s+".join(words), re.IGNORECASE).search(answer, position)
            if found is None:
                return []
            start, end = found.span()
        spans.append((start, end))
        position = end
    return spans


def highlight_spans(answer: str, evidence: Mapping[str, Sequence[str]]) -> list[dict[str, Any]]:
    """Segments covering the answer in order: `{"text", "criteria": [ids whose evidence covers it]}`."""
    marks: list[set[str]] = [set() for _ in range(len(answer))]
    for criterion_id, quotes in evidence.items():
        for quote in quotes:
            for start, end in find_quote(answer, quote):
                for index in range(start, end):
                    marks[index].add(criterion_id)
    order = list(evidence)
    segments: list[dict[str, Any]] = []
    start = 0
    for index in range(1, len(answer) + 1):
        if index == len(answer) or marks[index] != marks[start]:
            segments.append({"text": answer[start:index], "criteria": [c for c in order if c in marks[start]]})
            start = index
    return segments
