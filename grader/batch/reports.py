"""What a batch writes to its folder: results.jsonl (durably, line by line), summary.json, report.md, report.html.

results.jsonl is the source of truth: the summary and both reports are rebuilt from it at the end of every
run (and of every resumed run), so they always describe every answer graded so far. The reports open with
the answers that need a person (flags such as prompt_injection_suspected, low_agreement, evidence_not_found,
or ungraded), then the batch-wide bias check (does the score follow answer length?), then each candidate.
Answers are hostile text: the HTML template autoescapes everything and the page's Content-Security-Policy
allows no script and no network, so viewing a report can neither run nor fetch anything.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import json
import os
import re
import statistics
import threading
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from grader.batch.ranking import ranking
from grader.errors import InputError
from grader.metrics import pearson, spearman
from grader.version import __version__
from grader.vocabulary import ANSWER_TRUNCATED, FLAGS, WEAK_MATCH, WEAK_MATCH_MARGIN

if TYPE_CHECKING:
    from grader.models import Grade
    from grader.transcripts.interview import Plan, WorkItem

RESULTS = "results.jsonl"
OUTPUTS = (RESULTS, "summary.json", "report.md", "report.html")
REVIEW_FLAGS = FLAGS
VERBOSITY_THRESHOLD = 0.5
"""Correlation of score with answer length above which the summary warns of verbosity bias."""
VERBOSITY_MIN_ANSWERS = 8


class ResultsFile:
    """Appends result lines durably: each line is written, flushed and fsynced before the next starts."""

    def __init__(self, path: Path) -> None:
        """Open for appending (creating the file)."""
        self.path = path
        self._handle: IO[bytes] = path.open("ab")
        self._lock = threading.Lock()

    def append(self, record: dict[str, Any]) -> None:
        """Write one result line (safe from worker threads)."""
        data = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock:
            self._handle.write(data)
            self._handle.flush()
            os.fsync(self._handle.fileno())

    def close(self) -> None:
        """Close the file."""
        self._handle.close()


def read_results(path: Path, repair: bool = True) -> tuple[list[dict[str, Any]], bool]:
    """The result lines of a run, and whether a torn last line (a kill mid-write) was cut off the file."""
    if not path.is_file():
        return [], False
    records: list[dict[str, Any]] = []
    good_end = 0
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            try:
                record = json.loads(raw)
                if not isinstance(record, dict) or not raw.endswith(b"\n"):
                    raise ValueError("not a whole result line")
            except ValueError:
                if handle.read(1):
                    raise InputError(f"{path}:{number}: not a result line; remove it or use a new --out") from None
                if repair:
                    with path.open("r+b") as fixing:
                        fixing.truncate(good_end)
                return records, True
            records.append(record)
            good_end += len(raw)
    return records, False


def check_out_dir(out: Path, resume: bool) -> None:
    """Refuse a folder that already holds results unless resuming."""
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: is a file, not a folder")
    held = [name for name in OUTPUTS if (out / name).is_file() and (out / name).stat().st_size > 0]
    if held and not resume:
        raise InputError(f"--out {out} already holds results ({', '.join(held)}); pass --resume, or another --out")


@contextlib.contextmanager
def locked(out: Path) -> Iterator[None]:
    """Hold a lock on the output folder, so two batches never write the same results.jsonl."""
    out.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no lock
        yield
        return
    with (out / ".lock").open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise InputError(f"--out {out}: another grader batch is writing there") from None
        yield


def result_record(item: WorkItem, grade: Grade, answer: str, threshold: float) -> dict[str, Any]:
    """One line of results.jsonl: the grade of interface.md plus where the answer came from."""
    flags = list(grade.flags)
    if item.match_score is not None and item.asked and item.match_score < threshold + WEAK_MATCH_MARGIN:
        flags.append(WEAK_MATCH)
    if item.truncated and ANSWER_TRUNCATED not in flags:
        flags.append(ANSWER_TRUNCATED)
    record = grade.model_dump(mode="json")
    record["flags"] = list(dict.fromkeys(flags))
    record.update(
        transcript=item.source,
        candidate=item.candidate,
        asked=item.asked,
        match_score=item.match_score,
        matched_by=item.matched_by,
        item=item.item_id,
        line=item.line,
        follow_ups=list(item.follow_ups),
        answer=answer,
        answer_words=len(answer.split()),
    )
    return record


# --- summary.json ---------------------------------------------------------------------------------------------


def review_reasons(record: Mapping[str, Any]) -> list[str]:
    """Why an answer needs a person: review-worthy flags, and ungraded with its error code."""
    reasons = [flag for flag in record.get("flags") or [] if flag in REVIEW_FLAGS]
    if record.get("status") != "graded":
        reasons.append("ungraded: " + str(record.get("error") or "unknown").split(":", 1)[0])
    return reasons


def _pct(record: Mapping[str, Any]) -> float | None:
    score, top = record.get("score"), record.get("max_score")
    if record.get("status") != "graded" or not isinstance(score, int | float) or not top:
        return None
    return float(score) / float(top)


def verbosity_bias(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """How strongly scores follow answer length across the batch, overall and within each question.

    Some correlation is expected (complete answers are longer); a strong one, especially within a question,
    suggests the judge rewards length itself.
    """
    pairs = [(float(r.get("answer_words") or 0), p, str(r.get("question_id"))) for r in records
             if (p := _pct(r)) is not None]  # fmt: skip
    words, pcts = [w for w, _, _ in pairs], [p for _, p, _ in pairs]
    by_question: dict[str, list[tuple[float, float]]] = {}
    for w, p, qid in pairs:
        by_question.setdefault(qid, []).append((w, p))
    residual_w, residual_p = [], []
    for group in by_question.values():
        if len(group) > 1:
            mean_w, mean_p = statistics.fmean(w for w, _ in group), statistics.fmean(p for _, p in group)
            residual_w += [w - mean_w for w, _ in group]
            residual_p += [p - mean_p for _, p in group]
    result: dict[str, Any] = {
        "n": len(pairs),
        "pearson": _round(pearson(words, pcts)),
        "spearman": _round(spearman(words, pcts)),
        "within_question_pearson": _round(pearson(residual_w, residual_p)),
        "threshold": VERBOSITY_THRESHOLD,
        "warning": None,
    }
    strongest = max((v for k, v in result.items() if k in ("spearman", "within_question_pearson") and v), default=0)
    if len(pairs) >= VERBOSITY_MIN_ANSWERS and strongest >= VERBOSITY_THRESHOLD:
        result["warning"] = (
            f"scores rise with answer length (correlation {strongest:.2f} over {len(pairs)} answers): "
            "check that content, not length, earns the points"
        )
    return result


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def _mean_pct(records: Sequence[Mapping[str, Any]]) -> float | None:
    values = [p for r in records if (p := _pct(r)) is not None]
    return round(100 * statistics.fmean(values), 1) if values else None


def build_summary(
    records: Sequence[Mapping[str, Any]], plan: Plan | None, run: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """summary.json: one entry per transcript (or table candidate), then batch-wide figures.

    `mean_pct` is the mean of score / max_score over graded answers, in percent (0 … 100).
    """
    groups: dict[tuple[str, str | None], list[Mapping[str, Any]]] = {}
    for record in records:
        groups.setdefault((str(record.get("transcript")), record.get("candidate")), []).append(record)
    planned = {(s.source, s.candidate): s for s in plan.sources} if plan else {}
    keys = list(dict.fromkeys([*planned, *groups]))
    transcripts = []
    for key in keys:
        items, source = groups.get(key, []), planned.get(key)
        graded = [r for r in items if r.get("status") == "graded"]
        transcripts.append({
            "transcript": key[0],
            "candidate": key[1],
            "interviewers": source.interviewers if source else [],
            "answers": len(items),
            "graded": len(graded),
            "ungraded": len(items) - len(graded),
            "mean_pct": _mean_pct(items),
            "total_score": round(sum(float(r["score"]) for r in graded), 2),
            "max_total": round(sum(float(r.get("max_score") or 0) for r in graded), 2),
            "questions": [r.get("question_id") for r in items],
            "unmatched": [u.get("asked") for u in source.unmatched] if source else [],
            "unmatched_detail": source.unmatched if source else [],
            "pending": max(0, source.items - len(items)) if source else 0,
            "coverage": source.coverage if source else None,
            "warnings": source.warnings if source else [],
        })  # fmt: skip
    graded = [r for r in records if r.get("status") == "graded"]
    fresh = [r for r in records if not (r.get("provenance") or {}).get("cached")]
    usage = [r.get("usage") or {} for r in fresh]
    summary: dict[str, Any] = {
        "transcripts": transcripts,
        "answers": len(records),
        "graded": len(graded),
        "ungraded": len(records) - len(graded),
        "mean_pct": _mean_pct(records),
        "unmatched": sum(len(s.unmatched) for s in plan.sources) if plan else 0,
        "cached": len(records) - len(fresh),
        "usage": {
            "prompt_tokens": sum(u.get("prompt_tokens") or 0 for u in usage),
            "completion_tokens": sum(u.get("completion_tokens") or 0 for u in usage),
            "cost_usd": _round(sum(c for u in usage if (c := u.get("cost_usd")) is not None), 6)
            if any(u.get("cost_usd") is not None for u in usage)
            else None,
        },
        "flags": dict(Counter(flag for r in records for flag in r.get("flags") or []).most_common()),
        "needs_review": [
            {
                "transcript": r.get("transcript"),
                "candidate": r.get("candidate"),
                "question_id": r.get("question_id"),
                "item": r.get("item"),
                "reasons": reasons,
            }
            for r in records
            if (reasons := review_reasons(r))
        ],  # fmt: skip
        "verbosity_bias": verbosity_bias(records),
        "pending": sum(t["pending"] for t in transcripts),
        "warnings": [w for s in (plan.sources if plan else []) for w in s.warnings],
        "skipped": plan.skipped if plan else [],
        "ranking": ranking(transcripts, records),
        "read_notes": plan.notes if plan else [],
    }
    summary["complete"] = summary["pending"] == 0
    summary.update({"backend": None, "model": None, "stopped": None, "spent_usd": None, "grader_version": __version__})
    summary.update(run or {})
    matching_cost = ((summary.get("llm_match") or {}).get("usage") or {}).get("cost_usd")
    if matching_cost:  # the report's cost is what was spent: --llm-match calls included
        usage = summary["usage"]
        usage["matching_cost_usd"] = matching_cost
        usage["cost_usd"] = round((usage["cost_usd"] or 0.0) + matching_cost, 6)
    bias = summary["verbosity_bias"]
    if bias.get("warning") and summary.get("backend") == "offline":
        bias["warning"] += " (the offline grader counts key points covered, and longer answers cover more)"
    summary["generated_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return summary


# --- report.md and report.html ----------------------------------------------------------------------------------


def _anchor(item: object) -> str:
    return "a-" + hashlib.sha1(str(item).encode("utf-8")).hexdigest()[:12]


def _answer_view(record: Mapping[str, Any], questions: Mapping[str, str]) -> dict[str, Any]:
    pct = _pct(record)
    criteria = []
    for c in record.get("criteria") or []:
        top = float(c.get("max_score") or 0)
        score = float(c.get("score") or 0)
        criteria.append({**c, "pct": round(100 * score / top) if top else 0})
    return {
        **record,
        "anchor": _anchor(record.get("item")),
        "question": questions.get(str(record.get("question_id")), ""),
        "pct": None if pct is None else round(100 * pct, 1),
        "bar": 0 if pct is None else max(0, min(100, round(100 * pct))),
        "criteria": criteria,
        "review": review_reasons(record),
        "error_code": str(record.get("error") or "").split(":", 1)[0],
    }


def _order(question_id: object) -> tuple[int, str]:
    found = re.match(r"q(\d+)$", str(question_id))
    return (int(found.group(1)) if found else 10**6, str(question_id))


def report_context(
    summary: Mapping[str, Any], records: Sequence[Mapping[str, Any]], questions: Mapping[str, str]
) -> dict[str, Any]:
    """What both report templates see."""
    by_key: dict[tuple[str, str | None], list[dict[str, Any]]] = {}
    for record in records:
        key = (str(record.get("transcript")), record.get("candidate"))
        by_key.setdefault(key, []).append(_answer_view(record, questions))
    candidates = []
    for entry in summary["transcripts"]:
        answers = by_key.get((entry["transcript"], entry["candidate"]), [])
        answers.sort(key=lambda a: _order(a["question_id"]))
        candidates.append({**entry, "answers": answers, "anchor": _anchor((entry["transcript"], entry["candidate"]))})
    review = [
        {**item, "anchor": _anchor(item["item"]), "question": questions.get(str(item["question_id"]), "")}
        for item in summary["needs_review"]
    ]
    return {"summary": summary, "candidates": candidates, "review": review}


def _md(text: object) -> str:
    """Text made inert in Markdown: no HTML, no table breaks, no line breaks."""
    value = " ".join(str("" if text is None else text).split())
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")


@functools.cache
def _environment(autoescape: bool) -> Any:
    """One environment per kind, so its compiled templates serve every report (and a batch warms it early)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = _md
    env.filters["num"] = lambda v: "–" if v is None else f"{float(v):g}"
    return env


def render_markdown(context: Mapping[str, Any]) -> str:
    """report.md."""
    return str(_environment(False).get_template("report.md.j2").render(context))


def render_html(context: Mapping[str, Any]) -> str:
    """report.html: one self-contained page (inline CSS, no script, no network)."""
    return str(_environment(True).get_template("report.html.j2").render(context))


def warm_templates() -> None:
    """Compile the report templates now (a batch does it while its first calls are in flight)."""
    _environment(False).get_template("report.md.j2")
    _environment(True).get_template("report.html.j2")


def write_atomic(path: Path, text: str) -> None:
    """Replace a file in one step, so a reader never sees half a report."""
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def write_reports(
    out: Path, records: Sequence[Mapping[str, Any]], plan: Plan | None, questions: Mapping[str, str],
    run: Mapping[str, Any] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Write summary.json, report.md and report.html from the results; returns the summary."""
    summary = build_summary(records, plan, run)
    write_atomic(out / "summary.json", json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    context = report_context(summary, records, questions)
    write_atomic(out / "report.md", render_markdown(context))
    write_atomic(out / "report.html", render_html(context))
    return summary
