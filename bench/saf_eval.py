"""The offline judge against human graders on SAF (English): both test splits, with and without train examples.

SAF rows carry a question and a reference answer but no bank question id, so every question is graded with a
rubric built from its reference answer alone (grader/reference.py). "With examples" shows the judge the
human-graded `train` answers of the same question (none exist for the unseen questions). Runs the same code
as `grader eval` (grader.evaluation.measure.run_eval) and prints the equivalent commands.

Usage: python bench/saf_eval.py [PATH=/work/shared/data/saf_en.jsonl] [resamples=1000]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from grader.bank.examples import read_rows  # noqa: E402
from grader.config import Settings  # noqa: E402
from grader.errors import InputError  # noqa: E402
from grader.evaluation.measure import run_eval  # noqa: E402
from grader.grading.service import GradingService  # noqa: E402
from grader.metrics import Interval  # noqa: E402
from grader.models import Question, Rubric  # noqa: E402

DEFAULT = Path("/work/shared/data/saf_en.jsonl")
SPLITS = ("test_unseen_answers", "test_unseen_questions")


def no_bank(question_id: str) -> tuple[Question, Rubric]:
    raise InputError(f"SAF rows name no bank question ({question_id})")


def interval(i: Interval | None) -> str:
    return f"[{i.low:.2f}, {i.high:.2f}]" if i else "[-]"


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    resamples = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    rows = read_rows(path, "score_avg")
    train = [r for r in rows if r.split == "train"]
    print(f"command: python bench/saf_eval.py {path} {resamples}")
    print(f"{'split':<22} {'examples':<10} {'n':>4}  {'pearson':<19} {'spearman':<19} {'qwk':<19} {'mae':>5}  seconds")
    for split in SPLITS:
        evaluated = [r for r in rows if r.split == split]
        for shown in ((), train):
            start = time.perf_counter()
            service = GradingService(Settings(backend="offline", use_cache=False))  # as `grader eval --no-cache`
            result = run_eval(evaluated, service, no_bank, examples=shown, resamples=resamples)
            seconds = time.perf_counter() - start
            a = result.agreement
            figures = "  ".join(
                f"{getattr(a, name) or 0:.3f} {interval(a.ci.get(name)):<13}" for name in ("pearson", "spearman", "qwk")
            )
            label = f"train:{result.examples_used}" if shown else "none"
            print(f"{split:<22} {label:<10} {a.n:>4}  {figures}  {a.mae or 0:.3f}  {seconds:5.1f}")
    print("\nequivalent commands (offline judge; add --format json for machine-readable figures):")
    for split in SPLITS:
        base = f"grader eval {path} --score-field score_avg --split {split} --backend offline"
        print(f"  {base}")
        print(f"  {base} --examples {path} --examples-split train")


if __name__ == "__main__":
    main()
