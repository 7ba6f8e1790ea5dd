"""Property-based fuzzing: any input to a parser parses, or gives a clear one-line GraderError; never a crash.

Targets: the rubric loader (`load_rubric_file`, over raw bytes, YAML-shaped text, mutations of a real
rubric and hostile YAML features), the transcript parsers (every format, through `parse_turns`,
`read_interview` and `plan_inputs`), the answer-table parser, and the pure text screens (`redact`,
`screen_answer`). Examples are kept small and few enough for the suite to stay fast; raise
HYPOTHESIS_PROFILE=deep for a longer run.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grader.bank.rubrics import load_rubric_file
from grader.errors import GraderError
from grader.text.redaction import redact
from grader.text.screening import screen_answer

REPO = Path(__file__).resolve().parent.parent
Q05 = (REPO / "rubrics" / "q05.yaml").read_text(encoding="utf-8")

settings.register_profile("default", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("deep", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@contextmanager
def written(data: bytes | str, suffix: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"input{suffix}"
        path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass"))
        yield path


def one_line(exc: GraderError) -> None:
    message = str(exc)
    assert message and "\n" not in message.strip(), message
    assert "Traceback" not in message


# --- the rubric loader ------------------------------------------------------------------------------------

YAML_PIECES = [
    "question_id: q05", "max_score: 10", "max_score: -1", "max_score: .inf", "max_score: .nan", "criteria:",
    "criteria: []", "  - id: x", "    weight: 1", "    levels: [a, b]", "    levels: []", "    key_points: [k]",
    "    description: d", "reference_answer: r", "exemplars:", "  - answer: a", "    expected_score: 3",
    "tags: [a, b]", "&a [1, 2]", "*a", "<<: *a", "!!python/object/apply:os.system ['true']", "!!binary aGk=",
    "!!str 1", "? [1, 2]\n: x", "{a: 1, a: 2}", "---", "...", "%YAML 1.1", "%TAG ! tag:x,2000:", "!x 1",
    "key: 'unclosed", 'key: "\\x00\\ud800"', "- - - -", "\t", "\ufeff", "\x00", "key: |", "  text", "key: >-",
    "0o17: 1", "1e999: x", "null: ~", "true: yes", "2001-12-14: date", "[" * 50, "{" * 50,
]  # fmt: skip

yaml_like = st.lists(st.one_of(st.sampled_from(YAML_PIECES), st.text(max_size=40)), max_size=25).map(
    lambda lines: "\n".join(lines)
)


def mutated_rubric() -> st.SearchStrategy[str]:
    """The real q05 rubric with a few lines dropped, duplicated or spliced with junk."""
    lines = Q05.splitlines()

    def mutate(ops: list[tuple[int, int, str]]) -> str:
        out = list(lines)
        for kind, index, junk in ops:
            if not out:
                break
            i = index % len(out)
            if kind == 0:
                del out[i]
            elif kind == 1:
                out.insert(i, out[i])
            elif kind == 2:
                out[i] = out[i][: len(junk)] + junk
            else:
                out.insert(i, junk)
        return "\n".join(out)

    op = st.tuples(st.integers(0, 3), st.integers(0, 10_000), st.one_of(st.sampled_from(YAML_PIECES), st.text()))
    return st.lists(op, min_size=1, max_size=6).map(mutate)


@given(st.binary(max_size=2000))
def test_rubric_loader_on_random_bytes(data: bytes) -> None:
    with written(data, ".yaml") as path:
        try:
            load_rubric_file(path)
        except GraderError as exc:
            one_line(exc)


@given(st.one_of(yaml_like, mutated_rubric()))
def test_rubric_loader_on_yaml_shaped_text(text: str) -> None:
    with written(text, ".yaml") as path:
        try:
            loaded = load_rubric_file(path)
        except GraderError as exc:
            one_line(exc)
        else:
            rubric = loaded.rubric
            assert rubric.max_score > 0 and all(c.weight > 0 and len(c.levels) >= 2 for c in rubric.criteria)


# --- transcripts and answer tables ---------------------------------------------------------------------

TRANSCRIPT_PIECES = [
    "WEBVTT", "WEBVTT - title", "NOTE a note", "1", "2", "00:00:01.000 --> 00:00:04.000",
    "00:00:01,000 --> 00:00:04,000",
    "00:00:04.000 --> 00:00:01.000", "99:99:99.999 --> 00:00:00.000", "<v Ada Lovelace>", "<v Interviewer>",
    "<v Ada>What is a VAE?</v>", "Interviewer: How does a VAE differ from a GAN?", "Ada: A VAE has an encoder.",
    "SPEAKER_00: Explain attention in transformers.", "SPEAKER_01: Attention weighs tokens.", "Speaker 1: hi",
    "**Interviewer:** What is RLHF?", "**Candidate:** Reward models.", "Q: what is a GAN?", "A: two networks",
    "Candidate:", ": no speaker", "Interviewer:::", "<b>bold</b>", "<c.yellow>x</c>", "&amp; &lt;", "-->", "",
    "\ufeff", "\x00", "\r", "\u202e", "x" * 300, '[{"speaker": "I", "text": "Q?"}]', '{"turns": null}',
    '{"turns": [{"speaker": 1, "text": ["a"]}]}', '{"speaker": "I", "text": "Explain diffusion models?"}',
    '{"question_id": "q05", "answer": "a"}', '{"question_id": "../x", "answer": 1}', "[", "{", "null",
]  # fmt: skip

transcript_text = st.lists(st.one_of(st.sampled_from(TRANSCRIPT_PIECES), st.text(max_size=60)), max_size=30).map(
    lambda lines: "\n".join(lines)
)
SUFFIXES = [".vtt", ".srt", ".txt", ".md", ".json", ".jsonl"]


@pytest.fixture(scope="module")
def matcher():  # type: ignore[no-untyped-def]
    from grader.bank import Bank
    from grader.bank.questions import load_questions
    from grader.transcripts.matching import QuestionMatcher

    return QuestionMatcher(load_questions(Bank.open(REPO))).match


@given(
    st.one_of(transcript_text, st.binary(max_size=1500).map(lambda b: b.decode("latin-1"))), st.sampled_from(SUFFIXES)
)
def test_transcript_parsers_never_crash(text: str, suffix: str) -> None:
    from grader.transcripts.read import parse_turns

    with written(text, suffix) as path:
        try:
            turns = list(parse_turns(path))
        except GraderError as exc:
            one_line(exc)
        else:
            for turn in turns:
                assert isinstance(turn.speaker, str) and isinstance(turn.text, str)


@settings(max_examples=30)
@given(transcript_text, st.sampled_from(SUFFIXES))
def test_read_interview_never_crashes(matcher, text: str, suffix: str) -> None:  # type: ignore[no-untyped-def]
    from grader.transcripts.interview import read_interview

    with written(text, suffix) as path:
        try:
            interview = read_interview(path, matcher)
        except GraderError as exc:
            one_line(exc)
        else:
            assert all(exchange.question_id for exchange in interview.answers)


table_rows = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "question_id": st.one_of(st.sampled_from(["q05", "q01", "q99", "", "../x"]), st.text(max_size=8)),
            "answer": st.one_of(st.text(max_size=80), st.integers(), st.none()),
            "candidate": st.one_of(st.text(max_size=10), st.none(), st.lists(st.integers(), max_size=2)),
        },
    ),
    max_size=8,
)


@settings(max_examples=40)
@given(table_rows, st.sampled_from([".jsonl", ".csv"]), st.text(max_size=40))
def test_answer_tables_never_crash(matcher, rows: list[dict[str, object]], suffix: str, junk: str) -> None:  # type: ignore[no-untyped-def]
    import csv
    import io
    import json

    from grader.transcripts.interview import plan_inputs

    if suffix == ".jsonl":
        text = "".join(json.dumps(row) + "\n" for row in rows) + junk
    else:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=["question_id", "answer", "candidate"])
        writer.writeheader()
        for row in rows:
            writer.writerow({k: v for k, v in row.items() if isinstance(v, str | int)})
        text = buffer.getvalue() + junk
    with written(text, suffix) as path:
        try:
            plan = plan_inputs([path], matcher, {f"q{i:02d}" for i in range(1, 51)})
        except GraderError as exc:
            one_line(exc)
        else:
            assert len({item.item_id for item in plan.items}) == len(plan.items)


# --- pure text screens ---------------------------------------------------------------------------------


@given(st.text(max_size=400), st.lists(st.text(max_size=20), max_size=3))
def test_redact_never_crashes_and_leaves_no_email(text: str, names: list[str]) -> None:
    out = redact(text, names)
    assert isinstance(out, str)
    assert redact("write to ada@example.com " + text, names).startswith("write to [EMAIL] ")


@given(st.text(alphabet=st.characters(blacklist_characters="0123456789@"), max_size=300))
def test_redact_without_names_leaves_digit_free_text_alone(text: str) -> None:
    if "[at]" not in text.lower() and "(at)" not in text.lower():
        assert redact(text) == text


@given(st.text(max_size=600))
def test_screen_never_crashes(text: str) -> None:
    result = screen_answer(text)
    assert set(result.flags) <= {"prompt_injection_suspected", "hidden_characters"}
    assert bool(result.flags) == bool(result.reasons)
