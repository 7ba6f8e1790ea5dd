"""JSON transcripts and answer tables: the structured inputs, streamed item by item.

A JSON transcript is a list of `{speaker, text}` turns, or an object whose `turns` (or `segments`,
`utterances`) list holds them; it is decoded one item at a time, so a minified 1 GB file on one line costs
memory for one item. Answer tables are JSONL, a JSON list or CSV rows with `answer` and `question_id` (or
the `question` as asked, which is then matched). Every error names `file:line`.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.errors import TranscriptError
from grader.transcripts.formats import MAX_TURN_CHARS, Turn, TurnBuilder, detect_format, read_lines, read_pieces

MAX_JSON_ITEM_CHARS = 4_000_000


@dataclass(frozen=True)
class Row:
    """One row of an answer table."""

    line: int
    answer: str
    question_id: str | None = None
    question: str | None = None
    candidate: str | None = None


class _JsonItems:
    """Streams the items of a top-level JSON list, or of the `turns` list of a top-level object."""

    LIST_KEYS = ("turns", "segments", "utterances", "rows", "answers")

    def __init__(self, path: Path) -> None:
        self.path = path
        self._pieces = read_pieces(path)
        self.buf, self.pos, self.line, self._eof = "", 0, 1, False
        self._decoder = json.JSONDecoder()

    def _more(self) -> bool:
        """Drop what was consumed and read some more; False at the end of the file."""
        self.line += self.buf.count("\n", 0, self.pos)
        self.buf, self.pos = self.buf[self.pos :], 0
        added = []
        for _ in range(64):
            piece = next(self._pieces, None)
            if piece is None:
                self._eof = True
                break
            added.append(piece[1] + ("\n" if piece[2] else ""))
        self.buf += "".join(added)
        return bool(added)

    def _skip(self) -> str:
        """The next non-space character (not consumed), or "" at the end."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos].isspace():
                self.pos += 1
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._more():
                return ""

    def _at(self, pos: int) -> str:
        return f"{self.path}:{self.line + self.buf.count(chr(10), 0, pos)}"

    def _expect(self, chars: str) -> str:
        found = self._skip()
        if not found or found not in chars:
            wanted = " or ".join(repr(c) for c in chars)
            seen = repr(found) if found else "the end of the file"
            raise TranscriptError(f"{self._at(self.pos)}: invalid JSON: expected {wanted}, found {seen}")
        self.pos += 1
        return found

    def _value(self) -> tuple[Any, int]:
        self._skip()
        while True:
            try:
                value, end = self._decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                # Decoding is decided by the prefix: an error before the end of the buffer is final.
                at_end = exc.pos >= len(self.buf.rstrip()) or exc.msg.startswith("Unterminated")
                if self._eof or not at_end:
                    raise TranscriptError(f"{self._at(exc.pos)}: invalid JSON: {exc.msg}") from None
                if len(self.buf) - self.pos > MAX_JSON_ITEM_CHARS:
                    raise TranscriptError(
                        f"{self._at(self.pos)}: one JSON item is over {MAX_JSON_ITEM_CHARS} characters"
                    ) from None
                self._more()
                continue
            line = self.line + self.buf.count("\n", 0, self.pos)
            self.pos = end
            return value, line

    def __iter__(self) -> Iterator[tuple[Any, int]]:
        if self._expect("[{") == "{":
            yield from self._object()
        else:
            yield from self._list()

    def _list(self) -> Iterator[tuple[Any, int]]:
        if self._skip() == "]":
            self.pos += 1
            return
        while True:
            yield self._value()
            if self._expect(",]") == "]":
                return

    def _object(self) -> Iterator[tuple[Any, int]]:
        while self._skip() != "}":
            key, _ = self._value()
            self._expect(":")
            if key in self.LIST_KEYS and self._skip() == "[":
                self.pos += 1
                yield from self._list()
                return
            self._value()
            if self._expect(",}") == "}":
                break
        raise TranscriptError(f"{self.path}:1: a JSON transcript is a list of turns or an object with a 'turns' list")


def _field(item: dict[str, Any], name: str, where: str, *, required: bool) -> str | None:
    value = item.get(name)
    if value is None or (isinstance(value, str) and not value.strip() and not required):
        if required:
            raise TranscriptError(f"{where}: missing {name!r}")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise TranscriptError(f"{where}: {name!r} must be text, not {type(value).__name__}")
    return str(value)


def parse_json(path: Path) -> Iterator[Turn]:
    """Turns of a JSON transcript: a list of {speaker, text} objects (other keys ignored)."""
    items: Iterator[tuple[Any, int]] = iter(_JsonItems(path)) if detect_format(path) == "json" else _jsonl(path)
    builder = TurnBuilder()
    for index, (item, line) in enumerate(items, 1):
        where = f"{path}:{line}"
        if not isinstance(item, dict):
            raise TranscriptError(f"{where}: turn {index} is not an object with 'speaker' and 'text'")
        speaker = _field(item, "speaker", where, required=True) or ""
        text = _field(item, "text", where, required=True) or ""
        if builder.turn is not None and builder.turn.speaker == speaker.strip():
            builder.add(text)
        elif (done := builder.start(speaker.strip(), text, line)) and done.text:
            yield done
    if done := builder.finish():
        yield done


def _jsonl(path: Path) -> Iterator[tuple[Any, int]]:
    for number, line in read_lines(path):
        if not line.strip():
            continue
        try:
            yield json.loads(line), number
        except ValueError as exc:
            raise TranscriptError(f"{path}:{number}: invalid JSON: {getattr(exc, 'msg', exc)}") from None


def is_table(path: Path) -> bool:
    """Whether a JSON, JSONL or CSV input holds answer rows rather than transcript turns."""
    fmt = detect_format(path)
    if fmt == "csv":
        return True
    if fmt not in ("json", "jsonl"):
        return False
    source = iter(_JsonItems(path)) if fmt == "json" else _jsonl(path)
    first = next(source, None)
    return first is not None and isinstance(first[0], dict) and "answer" in first[0] and "speaker" not in first[0]


def parse_table(path: Path) -> Iterator[Row]:
    """Rows of an answer table (JSONL, JSON list or CSV) with `answer` and `question_id` (or `question`)."""
    fmt = detect_format(path)
    if fmt == "csv":
        yield from _csv_rows(path)
        return
    items = iter(_JsonItems(path)) if fmt == "json" else _jsonl(path)
    for item, line in items:
        where = f"{path}:{line}"
        if not isinstance(item, dict):
            raise TranscriptError(f"{where}: a row must be an object with 'question_id' and 'answer'")
        yield _row({str(k).strip().lower(): v for k, v in item.items()}, line, where)


def _row(item: dict[str, Any], line: int, where: str) -> Row:
    question_id = _field(item, "question_id", where, required=False)
    question = _field(item, "question", where, required=False)
    if question_id is None and question is None:
        raise TranscriptError(f"{where}: missing 'question_id' (or 'question')")
    answer = _field(item, "answer", where, required=True) or ""
    candidate = _field(item, "candidate", where, required=False)
    return Row(line, answer[:MAX_TURN_CHARS], question_id.strip() if question_id else None, question, candidate)


def _csv_rows(path: Path) -> Iterator[Row]:
    csv.field_size_limit(MAX_TURN_CHARS * 4)
    lines = _whole_lines(path, MAX_TURN_CHARS * 4)
    dialect: type[csv.Dialect] = csv.excel_tab if path.suffix.lower() == ".tsv" else csv.excel
    reader = csv.DictReader(lines, dialect=dialect)
    try:
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
        if "answer" not in header or not {"question_id", "question"} & set(header):
            raise TranscriptError(f"{path}:1: the header needs 'answer' and 'question_id' columns (found {header})")
        reader.fieldnames = header
        start = reader.line_num + 1
        for record in reader:
            where = f"{path}:{start}"  # where the record starts: a quoted answer may span lines
            if None in record:
                raise TranscriptError(f"{where}: more fields than the header has")
            yield _row({k: v for k, v in record.items() if k}, start, where)
            start = reader.line_num + 1
    except csv.Error as exc:
        raise TranscriptError(f"{path}:{reader.line_num}: bad CSV: {exc}") from None


def _whole_lines(path: Path, limit: int) -> Iterator[str]:
    """Lines with their line ends (csv needs them inside quoted fields), pieces joined up to `limit`."""
    parts: list[str] = []
    size = 0
    for number, text, ends in read_pieces(path):
        size += len(text)
        if size > limit:
            raise TranscriptError(f"{path}:{number}: a line longer than {limit} characters")
        parts.append(text)
        if ends:
            yield "".join(parts) + "\n"
            parts, size = [], 0
    if parts:
        yield "".join(parts)
