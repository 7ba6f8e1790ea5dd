"""Which reader reads a transcript: the one place that knows every transcript format."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from grader.errors import TranscriptError
from grader.transcripts.formats import Turn, detect_format, parse_cues, parse_text
from grader.transcripts.tables import parse_json


def parse_turns(path: Path) -> Iterator[Turn]:
    """Turns of a transcript in any supported format."""
    fmt = detect_format(path)
    if fmt == "vtt" or fmt == "srt":
        return parse_cues(path, fmt)
    if fmt in ("json", "jsonl"):
        return parse_json(path)
    if fmt == "csv":
        raise TranscriptError(f"{path}:1: a CSV file is an answer table, not a transcript")
    return parse_text(path)
