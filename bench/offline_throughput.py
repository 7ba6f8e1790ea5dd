"""Offline grading throughput: answers per second of OfflineJudge.decide on the shipped rubrics, one core.

Every rubric of the shipped bank is graded on its own exemplars, its reference answer and the example q05
answer, round after round, in one process (pure Python: one core). Reports the steady state (rubric
indexes built), the cold first answer per rubric (index build included), the same with 50 graded examples
per question (nearest neighbours), and a long answer (about 1,500 words).

Usage: python bench/offline_throughput.py [seconds=3]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from grader.bank import Bank  # noqa: E402
from grader.bank.questions import find_question, load_questions  # noqa: E402
from grader.bank.rubrics import load_rubric  # noqa: E402
from grader.judges.base import GradedExample, GradingTask  # noqa: E402
from grader.judges.offline import OfflineJudge  # noqa: E402


def tasks(examples_per_question: int = 0) -> list[GradingTask]:
    bank = Bank.open(REPO)
    questions = load_questions(bank)
    extra = (REPO / "examples" / "q05_answer.txt").read_text(encoding="utf-8")
    out = []
    for path in bank.rubric_paths():
        rubric = load_rubric(bank, path.stem).rubric
        question = find_question(questions, rubric.question_id)
        answers = [e.answer for e in rubric.exemplars] + [rubric.reference_answer, extra]
        shown = tuple(
            GradedExample(f"{answers[i % len(answers)]} variant {i}", (i % 5) / 4, question.id)
            for i in range(examples_per_question)
        )
        out += [GradingTask(question, rubric, answer, shown) for answer in answers]
    return out


def rate(judge: OfflineJudge, work: list[GradingTask], seconds: float) -> tuple[float, int]:
    done = 0
    start = time.process_time()
    while time.process_time() - start < seconds:
        for task in work:
            judge.decide(task)
        done += len(work)
    return done / (time.process_time() - start), done


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    plain = tasks()
    print(f"command: python bench/offline_throughput.py {seconds:g}")
    print(f"{len(plain)} answers over {len({t.rubric.question_id for t in plain})} rubrics; CPU time, one process")

    judge = OfflineJudge()
    start = time.process_time()
    for task in plain:
        judge.decide(task)
    cold = len(plain) / (time.process_time() - start)
    print(f"cold (first pass, rubric indexes built on the way): {cold:8.0f} answers/s")

    per_second, done = rate(judge, plain, seconds)
    print(f"steady state:                                      {per_second:8.0f} answers/s ({done} graded)")

    with_examples = tasks(50)
    judge = OfflineJudge()
    for task in with_examples:
        judge.decide(task)
    per_second, done = rate(judge, with_examples, seconds)
    print(f"with 50 graded examples per question:              {per_second:8.0f} answers/s ({done} graded)")

    long_answer = " ".join(t.answer for t in plain[:40])
    words = len(long_answer.split())
    work = [GradingTask(plain[0].question, plain[0].rubric, long_answer)]
    per_second, done = rate(judge, work, seconds)
    print(f"one long answer ({words} words):                    {per_second:8.0f} answers/s ({done} graded)")


if __name__ == "__main__":
    main()
