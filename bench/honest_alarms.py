"""Are honest answers docked for errors they do not make? The offline judge on bench/honest.

bench/honest/<qid>.yaml holds, per question, three technically correct answers (a spoken one, an expert's dense
notes, a short partial one) written from the rubric without reading the judge, in the shapes that trip word
matching: misconceptions named to reject them, elliptical contrasts ("training is parallel, generation isn't"),
rounded or differently written figures, first-person stories with their own numbers, roles named in reverse order.
Every answer is graded as `grader grade --backend offline --no-cache` grades it; an answer is docked when its
feedback lists a misconception (every one of them is a false alarm). Prints, per voice, how many were docked and
the mean score; with --show, each docked sentence and what it was taken for. Always exits 0: a measurement.

Usage: python bench/honest_alarms.py [--show] [--dir FOLDER]
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

HONEST = REPO / "bench" / "honest"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show", action="store_true", help="list each docked sentence and what it was taken for")
    parser.add_argument("--dir", type=Path, default=HONEST, help="folder of <qid>.yaml files (default bench/honest)")
    args = parser.parse_args()
    folder: Path = args.dir
    service = GradingService(Settings(backend="offline", use_cache=False))
    by_voice: dict[str, list[tuple[float, bool]]] = defaultdict(list)
    shown: list[str] = []
    for path in sorted(folder.glob("q*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        qid = str(data["question_id"])
        for answer in data["answers"]:
            graded = service.grade_answer(qid, str(answer["text"]))
            docked = graded.feedback.misconceptions
            for voice in (str(answer["voice"]), "every answer"):
                by_voice[voice].append((graded.score / graded.max_score, bool(docked)))
            shown += [f"{qid} [{answer['voice']}] {' '.join(m.split())}" for m in docked]
    if not by_voice:
        sys.exit(f"bench/honest_alarms.py: no answers in {folder}")
    print("command: python bench/honest_alarms.py" + ("" if folder == HONEST else f" --dir {args.dir}"))
    print(f"{'voice':16}{'n':>5}{'mean %':>9}{'docked':>10}")
    for voice, rows in sorted(by_voice.items(), key=lambda item: item[0] == "every answer"):
        mean = 100 * sum(r[0] for r in rows) / len(rows)
        docked = sum(r[1] for r in rows)
        print(f"{voice:16}{len(rows):>5}{mean:>9.1f}{f'{docked}/{len(rows)}':>10}")
    if args.show:
        print()
        print("\n".join(f"DOCKED {line}" for line in shown) or "no honest answer was docked")


if __name__ == "__main__":
    main()
