"""Across candidates: the ranking of a batch (total, then per question) and the spreadsheet export (`--csv`).

A candidate's total is the sum of the scores of their graded answers out of the sum of those answers'
maxima, so candidates asked different numbers of questions compare as percentages; the ranking also shows
how many answers each total rests on. Per question, candidates are ranked on that question's score.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

CSV_COLUMNS = ("transcript", "candidate", "question_id", "question", "status", "score", "max_score", "pct",
               "asked", "match_score", "matched_by", "flags", "error")  # fmt: skip


def ranking(transcripts: Sequence[Mapping[str, Any]], records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """{"candidates": [ranked by total %], "questions": {qid: [ranked by score]}} of a batch's summary entries."""
    rows = []
    for entry in transcripts:
        total, maximum = float(entry.get("total_score") or 0), float(entry.get("max_total") or 0)
        rows.append({
            "transcript": entry.get("transcript"),
            "candidate": entry.get("candidate"),
            "total_score": round(total, 2),
            "max_total": round(maximum, 2),
            "pct": round(100 * total / maximum, 1) if maximum else None,
            "graded": entry.get("graded", 0),
        })  # fmt: skip
    rows.sort(key=lambda r: (r["pct"] is None, -(r["pct"] or 0), -r["graded"], str(r["candidate"])))
    _number(rows, "pct")
    per_question: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        if record.get("status") != "graded" or record.get("score") is None:
            continue
        maximum = float(record.get("max_score") or 0)
        per_question.setdefault(str(record.get("question_id")), []).append({
            "transcript": record.get("transcript"),
            "candidate": record.get("candidate"),
            "score": record.get("score"),
            "max_score": record.get("max_score"),
            "pct": round(100 * float(record["score"]) / maximum, 1) if maximum else None,
        })  # fmt: skip
    for qid, entries in per_question.items():
        entries.sort(key=lambda r: (-(r["pct"] or 0), str(r["candidate"])))
        _number(entries, "pct")
        per_question[qid] = entries
    return {"candidates": rows, "questions": dict(sorted(per_question.items()))}


def _number(rows: list[dict[str, Any]], key: str) -> None:
    """Competition ranking (1, 2, 2, 4): equal values share a rank; no value, no rank."""
    for index, row in enumerate(rows):
        if row[key] is None:
            row["rank"] = None
        elif index and rows[index - 1][key] == row[key]:
            row["rank"] = rows[index - 1]["rank"]
        else:
            row["rank"] = index + 1


def results_csv(records: Sequence[Mapping[str, Any]], questions: Mapping[str, str]) -> str:
    """One row per candidate x question (every answer attempted), for a spreadsheet."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for record in sorted(records, key=lambda r: (str(r.get("candidate")), str(r.get("transcript")),
                                                 str(r.get("question_id")))):  # fmt: skip
        score, maximum = record.get("score"), record.get("max_score")
        pct = round(100 * float(score) / float(maximum), 1) if score is not None and maximum else None
        writer.writerow({
            **{key: record.get(key) for key in CSV_COLUMNS},
            "question": questions.get(str(record.get("question_id")), ""),
            "pct": pct,
            "flags": ";".join(record.get("flags") or []),
            "error": str(record.get("error") or ""),
        })  # fmt: skip
    return buffer.getvalue()
