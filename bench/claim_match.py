"""How well the offline judge tells a serious error from a correct sentence on the same topic.

bench/claims/<qid>.yaml holds hand-written sentences (written from each rubric without reading the judge):
`errors`, each stating one of the rubric's misconceptions or red flags in a candidate's own words, or a key point
flipped, and `correct`, true sentences on the same topics, often in the same words ("temperature zero does not
make a hosted API deterministic"), and key points paraphrased. Each sentence is read alone by the judge's error
detector (the one `grader grade --backend offline` uses): an error sentence is caught when the judge finds any
error in it; a correct sentence is a false alarm when it does.

Prints recall per kind of error, the false-alarm rate, and both per half of the bank (q01–q25 and q26–q50), so a
change tuned on one half can be checked on the other. Always exits 0: a measurement, not a test.

Usage: python bench/claim_match.py [--questions q01-q25] [--show misses|alarms|all] [--json]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from grader.config import Settings  # noqa: E402
from grader.grading.service import GradingService  # noqa: E402
from grader.judges.offline import OfflineJudge  # noqa: E402

CLAIMS = REPO / "bench" / "claims"


@dataclass
class Row:
    question_id: str
    expected_error: bool
    kind: str
    source: str
    text: str
    found: list[str]


def kind_of(source: str) -> str:
    for kind in ("misconception", "red flag", "flipped key point", "key point"):
        if source.lower().startswith(kind):
            return kind
    return "other"


def in_range(question_id: str, spec: str | None) -> bool:
    if not spec:
        return True
    low, _, high = spec.partition("-")
    number = int(question_id[1:])
    return int(low.lstrip("q")) <= number <= int((high or low).lstrip("q"))


def measure(spec: str | None) -> list[Row]:
    service = GradingService(Settings(backend="offline", use_cache=False))
    judge = OfflineJudge()
    questions = {q.id: q for q in service.questions}
    rows = []
    for path in sorted(CLAIMS.glob("q*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        qid = str(data.get("question_id", path.stem))
        if not in_range(qid, spec):
            continue
        rubric = service.rubric(qid).rubric
        question = questions[qid].question
        for expected, key in ((True, "errors"), (False, "correct")):
            for item in data.get(key) or []:
                text, source = str(item["text"]), str(item.get("source", ""))
                errors = judge.errors(rubric, question, text)
                found = [e.claim for e in errors]
                rows.append(Row(qid, expected, kind_of(source), source, text, found))
    return rows


def rate(rows: list[Row]) -> str:
    if not rows:
        return "-"
    hit = sum(bool(r.found) for r in rows)
    return f"{hit / len(rows):6.1%} ({hit}/{len(rows)})"


def half(question_id: str) -> str:
    return "q01-q25" if int(question_id[1:]) <= 25 else "q26-q50"


def report(rows: list[Row]) -> dict[str, dict[str, str]]:
    table: dict[str, dict[str, str]] = defaultdict(dict)
    for part in ("all", "q01-q25", "q26-q50"):
        chosen = [r for r in rows if part == "all" or half(r.question_id) == part]
        errors = [r for r in chosen if r.expected_error]
        for kind in ("misconception", "red flag", "flipped key point"):
            table[part][f"caught: {kind}"] = rate([r for r in errors if r.kind == kind])
        table[part]["caught: every error"] = rate(errors)
        table[part]["questions with >= 1/2 caught"] = questions_caught(errors)
        correct = [r for r in chosen if not r.expected_error]
        table[part]["false alarms: same-topic truths"] = rate([r for r in correct if r.kind != "key point"])
        table[part]["false alarms: key points"] = rate([r for r in correct if r.kind == "key point"])
    return table


def questions_caught(errors: list[Row]) -> str:
    by_question: dict[str, list[bool]] = defaultdict(list)
    for r in errors:
        by_question[r.question_id].append(bool(r.found))
    good = sum(sum(v) * 2 >= len(v) for v in by_question.values())
    return f"{good}/{len(by_question)}" if by_question else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", help="a range such as q01-q25 (default: every file)")
    parser.add_argument("--show", choices=("misses", "alarms", "all"), help="list missed errors and/or false alarms")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.questions and not re.fullmatch(r"q?\d+(-q?\d+)?", args.questions):
        parser.error("--questions takes a range such as q01-q25")
    rows = measure(args.questions)
    if not rows:
        sys.exit(f"bench/claim_match.py: no sentences in {CLAIMS} for {args.questions or 'any question'}")
    table = report(rows)
    if args.json:
        print(json.dumps({"table": table, "rows": [r.__dict__ for r in rows]}, indent=1))
        return
    print("command: python bench/claim_match.py" + (f" --questions {args.questions}" if args.questions else ""))
    print(f"sentences: {len(rows)} from {len({r.question_id for r in rows})} questions\n")
    parts = [p for p in table if any(v != "-" for v in table[p].values())]
    print(f"{'':36}" + "".join(f"{p:>22}" for p in parts))
    for measure_name in table["all"]:
        print(f"{measure_name:36}" + "".join(f"{table[p][measure_name]:>22}" for p in parts))
    if args.show:
        print()
        for r in rows:
            missed = r.expected_error and not r.found
            alarm = not r.expected_error and r.found
            if (missed and args.show in ("misses", "all")) or (alarm and args.show in ("alarms", "all")):
                label = "MISS " if missed else "ALARM"
                print(f"{label} {r.question_id} [{r.source}] {r.text}")
                for claim in r.found:
                    print(f"        matched: {claim}")


if __name__ == "__main__":
    main()
