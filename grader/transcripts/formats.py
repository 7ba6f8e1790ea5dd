"""Reading transcripts as meeting tools export them, streamed one line at a time.

Readers yield `Turn`s (who spoke, what they said, where): plain text and Markdown, WebVTT and SRT here;
JSON transcripts and answer tables in `transcript_tables`. Nothing here decides who the interviewer is
(that is `transcript.py`). Files are never read whole: lines are read with a length limit, and one turn
keeps at most MAX_TURN_CHARS, so a 1 GB export costs memory for one answer, not for the file. Every error
names `file:line`.
"""

from __future__ import annotations

import html
import io
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from grader.errors import InputError, TranscriptError

MAX_LINE_CHARS = 65_536
"""A longer line is read in pieces (same line number)."""
MAX_TURN_CHARS = 60_000
"""What one turn (and so one answer) can hold; the rest is dropped and the turn marked truncated."""
Format = Literal["text", "vtt", "srt", "json", "jsonl", "csv"]


@dataclass
class Turn:
    """What one speaker said, from where it starts in the file."""

    speaker: str
    text: str
    line: int
    truncated: bool = False


def read_pieces(path: Path) -> Iterator[tuple[int, str, bool]]:
    """(line number, text, whether the line ends here): a line over MAX_LINE_CHARS comes in several pieces.

    UTF-8 (a BOM is allowed) or UTF-16 with a BOM; line ends are not included.
    """
    try:
        raw = path.open("rb")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not a file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    with raw:
        bom = raw.read(4)
        raw.seek(0)
        encoding = "utf-16" if bom[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
        text = io.TextIOWrapper(raw, encoding=encoding, errors="strict", newline=None)
        number = 1
        try:
            while chunk := text.readline(MAX_LINE_CHARS):
                if "\0" in chunk:
                    raise InputError(f"{path}:{number}: binary file, expected text")
                ends = chunk.endswith("\n")
                yield number, chunk.rstrip("\n"), ends
                number += ends
        except UnicodeDecodeError:
            raise InputError(f"{path}:{_bad_byte_line(path)}: not UTF-8 text") from None


def read_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Numbered lines (from 1) of a text file; an over-long line comes in pieces with the same number."""
    for number, text, _ in read_pieces(path):
        yield number, text


def _bad_byte_line(path: Path) -> int:
    """The line holding the first byte that is not UTF-8 (the text reader decodes ahead, so it cannot say)."""
    with path.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return 1


def detect_format(path: Path) -> Format:
    """The format of an input, by extension and, for the ambiguous ones, by its first lines."""
    suffix = path.suffix.lower()
    head = [line for _, line in _first_lines(path, 8) if line.strip()]
    first = head[0].strip() if head else ""
    if first.startswith("WEBVTT") or suffix == ".vtt":
        return "vtt"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix in (".csv", ".tsv"):
        return "csv"
    if suffix == ".srt" or (re.fullmatch(r"\d+", first) and len(head) > 1 and _SRT_TIMING.match(head[1].strip())):
        return "srt"
    if suffix == ".json" or re.match(r'\{\s*(?:"|\}|$)|\[\s*(?:[{\["\]]|$)', first):
        if len(head) > 1 and first.startswith("{") and first.endswith("}") and head[1].strip().startswith("{"):
            return "jsonl"
        return "json"
    return "text"


def _first_lines(path: Path, count: int) -> Iterator[tuple[int, str]]:
    """The first piece of each of the first `count` lines."""
    previous = 0
    for number, line, _ in read_pieces(path):
        if number > count:
            return
        if number != previous:
            yield number, line
        previous = number


# --- plain text and Markdown -------------------------------------------------------------------------------

_TIME = r"\(?\[?(?:\d{1,2}:)?\d{1,2}:\d{2}(?:[.,]\d+)?(?:\s*[AaPp]\.?[Mm]\.?)?\]?\)?"
_NAME = r"[^\W\d_][\w.'’()-]*(?:[ \t][\w.'’()-]+){0,4}"
_OTTER = re.compile(rf"^(?P<name>{_NAME}?)\s{{1,8}}(?P<ts>{_TIME})\s*$")
_BOLD = re.compile(
    r"^\s*(?:[-*>]\s+)?(?:\*\*|__)(?P<name>[^*_:]{1,60}?)\s*(?::\s*(?:\*\*|__)|(?:\*\*|__)\s*:)\s*(?P<text>.*)$"
)
_COLON = re.compile(
    rf"^\s*(?:{_TIME}\s+)?(?:\[(?P<bname>[^\]]{{1,60}})\]|(?P<name>{_NAME}?))\s*(?:{_TIME})?\s*:\s*(?P<text>.*)$"
)
_BRACKET = re.compile(rf"^\s*(?:{_TIME}\s+)?\[(?P<name>{_NAME}?)\]\s+(?P<text>\S.*)$")
_TIME_ONLY = re.compile(rf"^\s*{_TIME}\s*$|^\s*(?:---+|\*\*\*+)\s*$")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s")
_ROLE = re.compile(r"^(?:interviewer|candidate|interviewee|speaker[ _]?\d+|recruiter|host|applicant)\b", re.I)
_NOT_NAMES = frozenset(
    "note notes example e.g i.e step date time title subject attendees location duration "
    "meeting transcript summary agenda".split()
)


def _label(match: re.Match[str] | None) -> tuple[str, str] | None:
    if match is None:
        return None
    groups = match.groupdict()
    name = (groups.get("bname") or groups.get("name") or "").strip().strip("*_ ")
    if not name or len(name) > 60 or name.casefold() in _NOT_NAMES or name[-1] in ".,;!?":
        return None
    return name, (groups.get("text") or "").strip()


def _text_label(line: str) -> tuple[str, str] | None:
    """(speaker, text) when a line of a text transcript starts a turn."""
    return _label(_BOLD.match(line)) or _label(_BRACKET.match(line)) or _label(_COLON.match(line))


class TurnBuilder:
    """Accumulates a speaker's lines into one Turn, capped at MAX_TURN_CHARS (shared with transcript_tables)."""

    def __init__(self) -> None:
        self.turn: Turn | None = None
        self._size = 0

    def start(self, speaker: str, text: str, line: int) -> Turn | None:
        """Begin a new turn; returns the one it ends (or None)."""
        done = self.turn
        self.turn = Turn(speaker, "", line)
        self._size = 0
        self.add(text)
        return done

    def add(self, text: str) -> None:
        """Append text to the current turn, within the cap."""
        turn = self.turn
        if turn is None or not text.strip():
            return
        text = text.strip()
        room = MAX_TURN_CHARS - self._size
        if room <= 0:
            turn.truncated = True
            return
        if len(text) > room:
            text, turn.truncated = text[:room], True
        turn.text = f"{turn.text} {text}" if turn.text else text
        self._size += len(text) + 1

    def finish(self) -> Turn | None:
        """End the current turn; returns it if it holds any text."""
        done, self.turn = self.turn, None
        return done if done is not None and done.text else None


def _accepted_labels(labels: Counter[str]) -> set[str]:
    """Labels that are speakers: seen at least twice, or role names; all of them if that leaves fewer than two.

    "Key components: encoder, decoder" inside an answer looks like a label once; real speakers recur.
    """
    accepted = {name for name, count in labels.items() if count >= 2 or _ROLE.match(name)}
    return accepted if len(accepted) >= 2 else set(labels)


def parse_text(path: Path) -> Iterator[Turn]:
    """Turns of a plain-text or Markdown transcript: Otter's "Name  0:03" headers, "**Name:**", "Name: text"."""
    labels: Counter[str] = Counter()
    for _, line in read_lines(path):
        otter = _OTTER.match(line)
        found = (otter.group("name").strip(), "") if otter else _text_label(line)
        if found and len(labels) < 10_000:
            labels[found[0]] += 1
    speakers = _accepted_labels(labels)
    builder = TurnBuilder()
    for number, line in read_lines(path):
        otter = _OTTER.match(line)
        found = (otter.group("name").strip(), "") if otter else _text_label(line)
        if found and found[0] in speakers:
            if (done := builder.start(found[0], found[1], number)) and done.text:
                yield done
        elif _HEADING.match(line):
            if done := builder.finish():
                yield done  # a Markdown heading ends the turn: notes after a transcript are nobody's answer
        elif builder.turn is not None and not _TIME_ONLY.match(line):
            builder.add(line.strip().lstrip("> "))
    if done := builder.finish():
        yield done
    if not speakers:
        raise TranscriptError(
            f"{path}:1: no speaker labels found (expected 'Name: text', '**Name:** text' or Otter's 'Name  0:03' lines)"
        )


# --- WebVTT and SRT ----------------------------------------------------------------------------------------

_VTT_TS = r"(?:\d+:)?\d{2}:\d{2}[.,]\d{3}"
_VTT_TIMING = re.compile(rf"^\s*{_VTT_TS}\s+-->\s+{_VTT_TS}(?:\s+.*)?$")
_SRT_TIMING = re.compile(r"^\s*\d{1,3}:\d{2}:\d{2}[,.]\d{1,3}\s*-->\s*\d{1,3}:\d{2}:\d{2}[,.]\d{1,3}")
_VOICE = re.compile(r"<v(?:\.[\w.-]+)?(?:\s+([^>]*))?>", re.I)
_TAG = re.compile(r"</?[a-z][^>]*>|<\d{2}:[\d:.]+>", re.I)
_CUE_LABEL = re.compile(rf"^\s*(?:-\s*)?(?:\[(?P<bname>[^\]]{{1,60}})\]|(?P<name>{_NAME}?))\s*:\s*(?P<text>.*)$")
_SRT_BRACKET = re.compile(r"^\s*(?:-\s*)?\[(?P<name>[^\]]{1,60})\]\s*(?P<text>.*)$")


def _cue_parts(payload: list[str]) -> list[tuple[str | None, str, bool]]:
    """(speaker or None, text, colon label) pieces of a cue payload."""
    joined = "\n".join(payload)
    parts: list[tuple[str | None, str, bool]] = []
    voices = list(_VOICE.finditer(joined))
    if voices:
        head = joined[: voices[0].start()]
        if _clean(head):
            parts.append((None, _clean(head), False))
        for index, voice in enumerate(voices):
            end = voices[index + 1].start() if index + 1 < len(voices) else len(joined)
            parts.append(((voice.group(1) or "").strip() or None, _clean(joined[voice.end() : end]), False))
        return parts
    for line in payload:
        text = _clean(line)
        found = _label(_CUE_LABEL.match(text)) or _label(_SRT_BRACKET.match(text))
        if found:
            parts.append((found[0], found[1], True))
        elif text:
            parts.append((None, text, False))
    return parts


def _clean(text: str) -> str:
    return " ".join(html.unescape(_TAG.sub("", text)).split())


def _cues(path: Path, kind: Literal["vtt", "srt"]) -> Iterator[tuple[int, list[str]]]:
    """(line of the timing, payload lines) of each cue, checking the structure as it goes.

    Cue identifiers, NOTE/STYLE/REGION blocks and header metadata are skipped; an SRT that forgets the blank
    line between cues is split at the next timing line.
    """
    lines = read_lines(path)
    timing = _VTT_TIMING if kind == "vtt" else _SRT_TIMING
    example = "00:00:01.000 --> 00:00:04.000" if kind == "vtt" else "00:00:01,000 --> 00:00:04,000"
    if kind == "vtt":
        first = next(lines, (1, ""))
        if not first[1].startswith("WEBVTT"):
            raise TranscriptError(f"{path}:{first[0]}: not WebVTT: the first line must start with WEBVTT")
    cue_line, payload = 0, list[str]()
    identifier: tuple[int, str] | None = None
    skipping, seen_cue = False, False
    for number, line in lines:
        if not line.strip():
            if cue_line:
                yield cue_line, payload
            cue_line, payload, identifier, skipping = 0, [], None, False
        elif skipping:
            continue
        elif "-->" in line:
            if not timing.match(line):
                raise TranscriptError(f"{path}:{number}: bad cue timing {line.strip()[:60]!r}; expected {example}")
            if cue_line:
                if payload and re.fullmatch(r"\s*\d+\s*", payload[-1]):
                    payload.pop()
                yield cue_line, payload
            cue_line, payload, identifier, seen_cue = number, [], None, True
        elif cue_line:
            payload.append(line)
        elif kind == "vtt" and re.match(r"(?:NOTE|STYLE|REGION)\b", line):
            skipping = True
        elif identifier is None:
            identifier = (number, line)
        elif kind == "vtt" and not seen_cue:
            continue  # header metadata such as "Kind: captions" / "Language: en"
        else:
            raise TranscriptError(f"{path}:{identifier[0]}: expected a cue timing line like {example}")
    if cue_line:
        yield cue_line, payload


def parse_cues(path: Path, kind: Literal["vtt", "srt"]) -> Iterator[Turn]:
    """Turns of a WebVTT or SRT file: `<v Name>` voice tags or "Name: text" cues; unlabelled cues continue."""
    labels: Counter[str] = Counter()
    for _, payload in _cues(path, kind):
        for speaker, _, colon in _cue_parts(payload):
            if speaker and len(labels) < 10_000:
                labels[speaker] += 1 if colon else 2
    speakers = _accepted_labels(labels)
    builder = TurnBuilder()
    current: str | None = None
    for number, payload in _cues(path, kind):
        for speaker, text, _ in _cue_parts(payload):
            if speaker is not None and speaker not in speakers:
                text, speaker = f"{speaker}: {text}", None
            if speaker is None or speaker == current:
                if builder.turn is None and speaker is None:
                    continue  # text before anyone is named: captions, titles
                builder.add(text)
                continue
            current = speaker
            if (done := builder.start(speaker, text, number)) and done.text:
                yield done
    if done := builder.finish():
        yield done
