"""Pure parts of `grader review`: agreement figures, evidence highlighting, the review log, the loopback socket."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
from review_support import bank, batch_dir, graded_once  # noqa: F401  (fixtures)

from grader.bank import Bank
from grader.errors import InputError
from grader.review.agreement import agreement, agreement_text
from grader.review.highlight import find_quote, highlight_spans
from grader.review.server import bind_loopback
from grader.review.store import ReviewLog, check_reviewer, latest_reviews, load_batch, review_record


def _review(batch: Any, index: int, reviewer: str, shift: int, log: ReviewLog) -> dict[str, Any]:
    answer = batch.answers[index]
    levels = {c.id: max(0, min(len(c.levels) - 1, (c.grader_level or 0) + shift)) for c in answer.criteria}
    record = review_record(answer, reviewer, levels, "")
    log.append(record)
    return record


def test_agreement_per_criterion_and_total(batch_dir: Path, bank: Path) -> None:  # noqa: F811
    batch = load_batch(batch_dir, Bank.open(bank))
    log = ReviewLog(batch_dir)
    same = _review(batch, 0, "ana", 0, log)  # agrees with the grader everywhere
    lower = _review(batch, 1, "ana", -1, log)  # one level lower wherever it can be
    _review(batch, 1, "bo", -1, log)
    report = agreement(batch, latest_reviews(batch, log.read()))
    assert report["reviewed"] == 2 and report["reviews"] == 3 and report["reviewers"] == ["ana", "bo"]
    grader = report["grader_vs_reviewers"]
    first = batch.answers[0]
    key = f"{first.question_id}.{first.criteria[0].id}"
    assert grader["criteria"][key]["n"] == 1 and grader["criteria"][key]["exact"] == 1.0
    second = batch.answers[1]
    moved = [c for c in second.criteria if (c.grader_level or 0) > 0]
    figures = grader["criteria"][f"{second.question_id}.{moved[0].id}"]
    assert figures == {"n": 2, "exact": 0.0, "adjacent": 1.0, "qwk": 0.0, "mae": 1.0}  # QWK: no better than chance
    total = grader["total"]
    assert total["n"] == 3
    expected_mae = (0 + 2 * abs(second.score - lower["score"])) / 3  # type: ignore[operator]
    assert total["mae"] == pytest.approx(expected_mae, abs=1e-4)
    assert same["score"] == first.score
    between = report["between_reviewers"]
    assert between["total"] == {"n": 1, "exact": 1.0, "adjacent": 1.0, "qwk": None, "mae": 0.0}
    assert between["pairs"][0]["reviewers"] == ["ana", "bo"]
    text = agreement_text(report)
    assert "2 of 8 answers reviewed; 3 reviews" in text and "ana vs bo" in text


def test_latest_line_per_answer_and_reviewer_counts(batch_dir: Path, bank: Path) -> None:  # noqa: F811
    batch = load_batch(batch_dir, Bank.open(bank))
    log = ReviewLog(batch_dir)
    _review(batch, 0, "ana", 0, log)
    latest = _review(batch, 0, "ana", -1, log)
    found = latest_reviews(batch, log.read())
    assert found[batch.answers[0].answer_id]["ana"]["levels"] == latest["levels"]
    assert len(log.read()) == 2


def test_a_torn_last_line_neither_breaks_reading_nor_swallows_the_next_save(batch_dir: Path, bank: Path) -> None:  # noqa: F811
    batch = load_batch(batch_dir, Bank.open(bank))
    log = ReviewLog(batch_dir)
    _review(batch, 0, "ana", 0, log)
    with log.path.open("ab") as handle:
        handle.write(b'{"reviewer": "ana", "lev')  # a kill mid-write
    assert len(log.read()) == 1
    _review(batch, 1, "ana", 0, log)
    lines = log.path.read_text().splitlines()
    assert len(lines) == 3 and json.loads(lines[2])["answer_id"] == batch.answers[1].answer_id
    assert len(log.read()) == 2


@pytest.mark.parametrize(
    ("quote", "expected"),
    [
        pytest.param("encoder and a decoder", "encoder and a decoder", id="exact"),
        pytest.param("ENCODER  and a\ndecoder", "encoder and a decoder", id="case_and_spacing"),
        pytest.param('"has an encoder."', "has an encoder", id="quotes_and_punctuation_trimmed"),
        pytest.param("not in the answer", None, id="absent"),
    ],
)
def test_find_quote(quote: str, expected: str | None) -> None:
    answer = "A VAE has an encoder and a decoder; a GAN has a generator and a discriminator."
    spans = find_quote(answer, quote)
    if expected is None:
        assert spans == []
    else:
        assert [answer[s:e] for s, e in spans] == [expected]


def test_ellipsis_quotes_mark_each_part_in_order() -> None:
    answer = "First the encoder maps x. Later, the decoder maps z back."
    assert [answer[s:e] for s, e in find_quote(answer, "the encoder … the decoder")] == ["the encoder", "the decoder"]
    assert find_quote(answer, "the decoder ... the encoder") == []  # parts out of order are not the answer's words


def test_highlight_segments_cover_the_answer_with_overlaps() -> None:
    answer = "<b>alpha</b> beta gamma 🙂 delta"
    segments = highlight_spans(answer, {"one": ["alpha</b> beta"], "two": ["beta gamma 🙂"]})
    assert "".join(s["text"] for s in segments) == answer
    assert [s for s in segments if s["criteria"] == ["one", "two"]] == [{"text": "beta", "criteria": ["one", "two"]}]
    assert highlight_spans("", {"one": ["x"]}) == []


def test_the_port_must_be_free_and_loopback_only() -> None:
    first = bind_loopback(0)
    try:
        host, port = first.getsockname()
        assert host == "127.0.0.1" and port > 0
        with pytest.raises(InputError, match=f"--port {port}"):
            bind_loopback(port)
    finally:
        first.close()
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    free = probe.getsockname()[1]
    probe.close()
    chosen = bind_loopback(free)
    assert chosen.getsockname() == ("127.0.0.1", free)
    chosen.close()


@pytest.mark.parametrize("name", ["", "   ", "a\nb", "x" * 101, "tab\there"])
def test_reviewer_names_are_one_printable_line(name: str) -> None:
    with pytest.raises(InputError):
        check_reviewer(name)
    assert check_reviewer("  Dana Whitfield ") == "Dana Whitfield"
