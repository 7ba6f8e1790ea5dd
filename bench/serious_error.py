"""Does one serious error cost an otherwise strong answer? The offline judge on bench/serious.

bench/serious/<qid>.yaml holds, per question, a strong answer and three copies of it with one serious error each
(two listed misconceptions or red flags in the candidate's own words, one error the rubric does not list), written
from the rubric without its phrasings and without reading the judge. Every answer is graded as
`grader grade --backend offline --no-cache` grades it. Prints, per kind of error, the mean score as a share of the
strong answer's (issue 11's gate: one serious error <= 0.8x strong) and how many answers the judge docked for an
error; then the answers it missed with --show. Always exits 0: a measurement, not a test.

Usage: python bench/serious_error.py [--show] [--dir FOLDER]
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from grader.config import Settings  # noqa: E402
from grader.grading.service import GradingService  # noqa: E402

SERIOUS = REPO / "bench" / "serious"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show", action="store_true", help="list the errors the judge did not dock")
    parser.add_argument("--dir", type=Path, default=SERIOUS, help="folder of <qid>.yaml files (default bench/serious)")
    args = parser.parse_args()
    folder: Path = args.dir
    service = GradingService(Settings(backend="offline", use_cache=False))
    strong: dict[str, float] = {}
    rows: list[tuple[str, str, float, bool, str]] = []
    for path in sorted(folder.glob("q*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        qid = str(data["question_id"])
        base = service.grade_answer(qid, data["strong"])
        strong[qid] = base.score / base.max_score
        for item in data["serious_errors"]:
            graded = service.grade_answer(qid, item["answer"])
            docked = bool(graded.feedback.misconceptions)
            rows.append((qid, str(item["kind"]), graded.score / graded.max_score, docked, str(item["error"])))
    if not rows:
        sys.exit(f"bench/serious_error.py: no answers in {folder}")
    print("command: python bench/serious_error.py" + ("" if folder == SERIOUS else f" --dir {args.dir}"))
    print(f"questions: {len(strong)}; strong answers: mean {100 * sum(strong.values()) / len(strong):.1f}% of max\n")
    by_kind: dict[str, list[tuple[str, str, float, bool, str]]] = defaultdict(list)
    for row in rows:
        by_kind[row[1]].append(row)
        by_kind["every error"].append(row)
    print(f"{'kind':16}{'n':>4}{'mean %':>9}{'x strong':>10}{'docked':>10}")
    for kind, items in by_kind.items():
        mean = sum(r[2] for r in items) / len(items)
        base = sum(strong[r[0]] for r in items) / len(items)
        docked = sum(r[3] for r in items)
        print(f"{kind:16}{len(items):>4}{100 * mean:>9.1f}{mean / base:>10.2f}{f'{docked}/{len(items)}':>10}")
    if args.show:
        print()
        for qid, kind, share, docked, error in rows:
            if not docked:
                print(f"MISSED {qid} [{kind}] {100 * share:.0f}% (strong {100 * strong[qid]:.0f}%): {error}")


if __name__ == "__main__":
    main()
