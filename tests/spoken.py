"""Realistic interviews (tests/data/spoken/conversations.json) rendered in every export format people send.

Each conversation holds every kind of question the batch must handle: bank questions asked in the
interviewer's own words, unpunctuated ASR, imperatives, "curious how you think about X", follow-ups that
refer back, off-bank technical and behavioural questions, small talk, two interviewers. `render` writes one
conversation as a Google Meet text export, a Teams VTT (voice tags), a Zoom VTT (name: text), an SRT, a
diarized JSON, an AI note-taker's text (summary first, Otter-style headers) or raw lower-case ASR.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data" / "spoken" / "conversations.json"
FORMATS = ("meet.txt", "teams.vtt", "zoom.vtt", "captions.srt", "diarized.json", "notetaker.txt", "asr.txt")


def conversations() -> list[dict[str, Any]]:
    """The conversations with what each must yield."""
    return list(json.loads(DATA.read_text("utf-8")))


def _clock(seconds: int, sep: str = ".") -> str:
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}{sep}000"


def _asr(text: str) -> str:
    """What a raw speech recogniser gives: lower case, no punctuation."""
    return re.sub(r"[^\w\s'-]", "", text.casefold())


def render(conversation: dict[str, Any], fmt: str) -> str:
    """The conversation as one export format."""
    turns: list[list[str]] = conversation["turns"]
    lines: list[str] = []
    if fmt == "meet.txt":
        lines.append(f"Transcript\n{conversation['name']}\n")
        for i, (who, text) in enumerate(turns):
            lines.append(f"{_clock(i * 20)[:8]}\n{who}: {text}\n")
    elif fmt in ("teams.vtt", "zoom.vtt"):
        lines.append("WEBVTT\n")
        for i, (who, text) in enumerate(turns):
            head = f"{i + 1}\n" if fmt == "zoom.vtt" else f"a1b2c3-{i}\n"
            cue = f"<v {who}>{text}</v>" if fmt == "teams.vtt" else f"{who}: {text}"
            lines.append(f"{head}{_clock(i * 20)} --> {_clock(i * 20 + 19)}\n{cue}\n")
    elif fmt == "captions.srt":
        for i, (who, text) in enumerate(turns):
            lines.append(f"{i + 1}\n{_clock(i * 20, ',')} --> {_clock(i * 20 + 19, ',')}\n{who}: {text}\n")
    elif fmt == "diarized.json":
        speakers = {who: f"SPEAKER_{n:02d}" for n, who in enumerate(dict.fromkeys(w for w, _ in turns))}
        return json.dumps([{"speaker": speakers[w], "start": i * 20.0, "text": t} for i, (w, t) in enumerate(turns)])
    elif fmt == "notetaker.txt":
        lines.append("Meeting notes\n\nSummary\nThe team interviewed a candidate for the GenAI engineer role.\n")
        lines.append("Action items\n- Send feedback to the recruiter\n\nTranscript\n")
        for i, (who, text) in enumerate(turns):
            lines.append(f"{who}  {i // 3}:{i * 20 % 60:02d}\n{text}\n")
    elif fmt == "asr.txt":
        speakers = {who: f"Speaker {n + 1}" for n, who in enumerate(dict.fromkeys(w for w, _ in turns))}
        lines.extend(f"{speakers[who]}: {_asr(text)}" for who, text in turns)
    else:
        raise ValueError(fmt)
    return "\n".join(lines) + "\n"
