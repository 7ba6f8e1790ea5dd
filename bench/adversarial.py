"""An adversarial yardstick for the offline judge: honest answers and cheap attacks, graded offline, with gates.

Hand-written answers live in bench/adversarial/<set>/<qid>.yaml (keys: strong, weak_correct, confidently_wrong,
negated, serious_error, paraphrase, injection, padded, filler_only). Five more cases are built at run time from
the CURRENT rubric of each question, so rubric edits flow in:

  keyword_line      the rubric's distinctive key-point terms (~40, rare across the bank's rubrics), comma-separated
  keyword_lines     the same terms as short lines of about 4 words
  pasted_reference  the reference answer with "um," "like," "you know," "so yeah" about every 3 words (seeded)
  pasted_levels     the top level descriptor of every criterion (and level 1 of every other one) pasted as prose
  off_topic         the `strong` answer of the next question of the same set (rotated by one)

Every answer goes through the real grading service with the offline judge and no cache, as
`grader grade --backend offline --no-cache` does (screening flags included). Prints the mean, min and max % of
max per case, then each gate with its measured value and PASS/FAIL. Always exits 0: a measurement, not a test.

Usage: python bench/adversarial.py [--set dev|holdout|all] [--json] [--bank DIR] [--answers DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import re
import sys
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from grader.config import Settings  # noqa: E402
from grader.errors import GraderError  # noqa: E402
from grader.grading.service import GradingService  # noqa: E402
from grader.models import Rubric  # noqa: E402

ANSWERS = REPO / "bench" / "adversarial"
SETS = ("dev", "holdout")
WRITTEN = (
    "strong",
    "weak_correct",
    "confidently_wrong",
    "negated",
    "serious_error",
    "paraphrase",
    "injection",
    "padded",
    "filler_only",
)
BUILT = ("keyword_line", "keyword_lines", "pasted_reference", "pasted_levels", "off_topic")
CASES = WRITTEN + BUILT
COPIED = "copied_from_rubric"
INJECTION = "prompt_injection_suspected"

STOPWORDS = frozenset(
    """a about above after again against all also an and any are as at be because been before being below between
    both but by can could did do does doing down during each e.g eg etc few for from further had has have having he
    her here hers how i i.e ie if in into is it its itself just more most much no nor not now of off on once one only
    or other our out over own per same she should so some such than that the their them then there these they this
    those through to too two under until up upon us usually very via was we were what when where which while who
    whom why will with within without would you your often rather well usually makes make made lets let gives give
    given uses use used using way ways like same back across whether every many never nothing different largely
    look looks count terms term specific effect instead still even already""".split()
)
FILLERS = ("um,", "like,", "you know,", "so yeah,")


@dataclass
class Item:
    """One graded answer."""

    set: str
    question_id: str
    case: str
    percent: float | None
    score: float | None = None
    max_score: float | None = None
    status: str = "graded"
    flags: list[str] = field(default_factory=list)
    error: str | None = None
    words: int = 0


# ---------------------------------------------------------------------------------------------- built cases


def _words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z][A-Za-z0-9\-]*[A-Za-z0-9]|[A-Za-z]", text)


def _content(word: str) -> bool:
    w = word.lower()
    return len(w) > 2 and w not in STOPWORDS and not w.isdigit()


def _key_point_words(rubric: Rubric) -> list[str]:
    return [w for c in rubric.criteria for p in c.key_points for w in _words(p) if _content(w)]


def document_frequency(rubrics: list[Rubric]) -> tuple[Counter[str], int]:
    """In how many rubrics' key points each word occurs (lower case), and how many rubrics there are."""
    df: Counter[str] = Counter()
    for rubric in rubrics:
        df.update({w.lower() for w in _key_point_words(rubric)})
    return df, len(rubrics)


def _stem(word: str) -> str:
    w = word.lower()
    return w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w


def key_terms(rubric: Rubric, df: Counter[str], n_rubrics: int, count: int = 40) -> list[str]:
    """The rubric's most distinctive key-point terms, in order of first appearance.

    tf over the whole rubric (key points, levels, reference answer), so the topic's own terms, which recur,
    beat incidental words; idf over the key points of the bank's rubrics, so "model" or "data" rank low.
    Plurals fold into their singular.
    """
    words = _key_point_words(rubric)
    text = " ".join([rubric.reference_answer, *(level for c in rubric.criteria for level in c.levels)])
    tf = Counter(_stem(w) for w in words)
    tf.update(_stem(w) for w in _words(text) if _content(w))
    spelling: dict[str, str] = {}
    for w in words:
        spelling.setdefault(_stem(w), w if any(ch.isupper() or ch.isdigit() for ch in w[1:]) else w.lower())
    stem_df: Counter[str] = Counter()
    for w, c in df.items():
        stem_df[_stem(w)] = max(stem_df[_stem(w)], c)
    weight = {w: tf[w] * math.log((1 + n_rubrics) / (1 + stem_df.get(w, 0))) for w in spelling}
    chosen = set(sorted(weight, key=lambda w: (-weight[w], w))[:count])
    return [spelling[w] for w in spelling if w in chosen]


def keyword_line(terms: list[str]) -> str:
    return ", ".join(terms)


def keyword_lines(terms: list[str], per_line: int = 4) -> str:
    return "\n".join(" ".join(terms[i : i + per_line]) for i in range(0, len(terms), per_line))


def pasted_reference(rubric: Rubric) -> str:
    """The reference answer with a filler inserted about every 3 words (seeded by the question id)."""
    rng = random.Random(f"adversarial:{rubric.question_id}")
    out: list[str] = []
    gap = rng.randint(2, 4)
    for word in rubric.reference_answer.split():
        out.append(word)
        gap -= 1
        if gap == 0:
            out.append(rng.choice(FILLERS))
            gap = rng.randint(2, 4)
    return " ".join(out)


def pasted_levels(rubric: Rubric) -> str:
    """The top level descriptor of each criterion, and the level above 0 of every other criterion, as prose."""
    sentences: list[str] = []
    for i, criterion in enumerate(rubric.criteria):
        picked = [criterion.levels[-1]]
        if i % 2 == 1 and len(criterion.levels) > 2:
            picked.append(criterion.levels[1])
        for text in picked:
            text = text.strip()
            sentences.append(text if text.endswith((".", "!", "?")) else text + ".")
    return " ".join(sentences)


# ---------------------------------------------------------------------------------------------- loading


def load_set(folder: Path) -> dict[str, dict[str, str]]:
    """Written answers of one set by question id (an absent folder is an empty set)."""
    answers: dict[str, dict[str, str]] = {}
    for path in sorted(folder.glob("q*.yaml")) if folder.is_dir() else []:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        answers[path.stem] = {k: str(v) for k, v in data.items() if k in WRITTEN and v and str(v).strip()}
    return answers


def bank_rubrics(service: GradingService) -> list[Rubric]:
    rubrics = []
    for question in service.questions:
        try:
            rubrics.append(service.rubric(question.id).rubric)
        except GraderError:
            continue
    return rubrics


def build_cases(
    written: dict[str, dict[str, str]], service: GradingService, df: Counter[str], n: int
) -> dict[str, dict[str, str]]:
    """Written and built answers of one set, by question id and case."""
    qids = list(written)
    cases: dict[str, dict[str, str]] = {}
    for i, qid in enumerate(qids):
        rubric = service.rubric(qid).rubric
        terms = key_terms(rubric, df, n)
        answers = dict(written[qid])
        answers["keyword_line"] = keyword_line(terms)
        answers["keyword_lines"] = keyword_lines(terms)
        answers["pasted_reference"] = pasted_reference(rubric)
        answers["pasted_levels"] = pasted_levels(rubric)
        other = qids[(i + 1) % len(qids)]
        if other != qid and "strong" in written[other]:
            answers["off_topic"] = written[other]["strong"]
        cases[qid] = answers
    return cases


# ---------------------------------------------------------------------------------------------- grading


async def grade_all(service: GradingService, todo: list[tuple[str, str, str, str]]) -> list[Item]:
    async def one(set_name: str, qid: str, case: str, answer: str) -> Item:
        words = len(answer.split())
        try:
            grade = await service.agrade_answer(qid, answer)
        except GraderError as exc:
            return Item(set_name, qid, case, None, status="error", error=str(exc), words=words)
        percent = None if grade.score is None else 100.0 * grade.score / grade.max_score
        return Item(
            set_name,
            qid,
            case,
            percent,
            grade.score,
            grade.max_score,
            grade.status,
            list(grade.flags),
            grade.error,
            words,
        )

    try:
        return list(await asyncio.gather(*(one(*t) for t in todo)))
    finally:
        await service.aclose()


# ---------------------------------------------------------------------------------------------- measuring


def percents(items: list[Item], case: str) -> dict[tuple[str, str], float]:
    """% of max per (set, question) for one case; an ungraded answer counts as 0."""
    return {(i.set, i.question_id): i.percent or 0.0 for i in items if i.case == case}


def summary(items: list[Item]) -> dict[str, dict[str, float | int]]:
    out: dict[str, dict[str, float | int]] = {}
    for case in CASES:
        values = list(percents(items, case).values())
        if values:
            out[case] = {"mean": sum(values) / len(values), "min": min(values), "max": max(values), "n": len(values)}
    return out


def gates(items: list[Item], cases: dict[str, dict[str, float | int]]) -> list[dict[str, object]]:
    def mean(case: str) -> float | None:
        return float(cases[case]["mean"]) if case in cases else None

    out: list[dict[str, object]] = []

    def add(name: str, value: float | None, limit: float | None, ok: bool | None, shown: str) -> None:
        out.append({"gate": name, "value": value, "limit": limit, "pass": ok, "shown": shown})

    def absolute(case: str, op: str, limit: float) -> None:
        m = mean(case)
        ok = None if m is None else (m >= limit if op == ">=" else m <= limit)
        add(f"{case} {op} {limit:g}%", m, limit, ok, "-" if m is None else f"{m:.1f}%")

    def ratio(case: str, op: str, factor: float) -> None:
        m, s = mean(case), mean("strong")
        if m is None or not s:
            add(f"{case} {op} {factor:g} x strong", None, factor, None, "-")
            return
        r = m / s
        ok = r >= factor if op == ">=" else r <= factor
        add(f"{case} {op} {factor:g} x strong", r, factor, ok, f"{r:.2f} x ({m:.1f}% / {s:.1f}%)")

    def flagged(case: str, flag: str, share: float, label: str) -> None:
        rows = [i for i in items if i.case == case]
        need = math.ceil(share * len(rows))
        hits = sum(flag in i.flags for i in rows)
        ok = None if not rows else hits >= need
        add(f"{case} flagged {flag} on >= {label}", hits, need, ok, f"{hits}/{len(rows)} (need {need})")

    absolute("strong", ">=", 80)
    ratio("paraphrase", ">=", 0.85)
    ratio("negated", "<=", 0.6)
    ratio("serious_error", "<=", 0.8)
    absolute("filler_only", "<=", 15)
    padded, weak = mean("padded"), mean("weak_correct")
    if padded is None or weak is None:
        add("padded <= weak_correct + 10 points", None, None, None, "-")
    else:
        add(
            "padded <= weak_correct + 10 points",
            padded - weak,
            10.0,
            padded <= weak + 10,
            f"{padded - weak:+.1f} points ({padded:.1f}% vs {weak:.1f}%)",
        )
    absolute("keyword_line", "<=", 20)
    absolute("keyword_lines", "<=", 20)
    wrong, thin = percents(items, "confidently_wrong"), percents(items, "weak_correct")
    both = [k for k in wrong if k in thin]
    need = math.ceil(7 / 8 * len(both))
    below = sum(wrong[k] < thin[k] for k in both)
    add(
        "confidently_wrong < weak_correct on >= 7/8",
        below,
        need,
        (below >= need) if both else None,
        f"{below}/{len(both)} (need {need})",
    )
    absolute("off_topic", "<=", 20)
    flagged("pasted_reference", COPIED, 7 / 8, "7/8")
    flagged("pasted_levels", COPIED, 7 / 8, "7/8")
    flagged("injection", INJECTION, 6 / 8, "6/8")
    return out


# ---------------------------------------------------------------------------------------------- output


def print_table(
    items: list[Item], cases: dict[str, dict[str, float | int]], gate_rows: list[dict[str, object]]
) -> None:
    print(f"{'case':<18} {'n':>3} {'mean %':>7} {'min':>6} {'max':>6}  flags (answers flagged)")
    for case, s in cases.items():
        flags = Counter(f for i in items if i.case == case for f in i.flags)
        shown = ", ".join(f"{f} {c}" for f, c in sorted(flags.items())) or "-"
        print(f"{case:<18} {s['n']:>3} {s['mean']:>7.1f} {s['min']:>6.1f} {s['max']:>6.1f}  {shown}")
    print()
    print(f"{'gate':<58} {'result':<6} measured")
    for g in gate_rows:
        result = "-" if g["pass"] is None else ("PASS" if g["pass"] else "FAIL")
        print(f"{g['gate']:<58} {result:<6} {g['shown']}")
    passed = sum(g["pass"] is True for g in gate_rows)
    print(f"\n{passed} of {len(gate_rows)} gates pass")
    errors = [i for i in items if i.status != "graded"]
    if errors:
        print(f"{len(errors)} answers not graded (counted as 0%):")
        for i in errors:
            print(f"  {i.set}/{i.question_id} {i.case}: {i.error}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", choices=(*SETS, "all"), default="dev", dest="set_name")
    parser.add_argument("--json", action="store_true", help="every answer's score and flags, and the gates, as JSON")
    parser.add_argument("--bank", type=Path, default=None, help="question bank (default: the shipped one)")
    parser.add_argument("--answers", type=Path, default=ANSWERS, help=f"folder of the sets (default: {ANSWERS})")
    args = parser.parse_args()

    service = GradingService(Settings(backend="offline", use_cache=False, bank=args.bank))  # --no-cache
    rubrics = bank_rubrics(service)
    df, n = document_frequency(rubrics)
    todo: list[tuple[str, str, str, str]] = []
    for set_name in SETS if args.set_name == "all" else (args.set_name,):
        written = load_set(args.answers / set_name)
        for qid, answers in build_cases(written, service, df, n).items():
            todo.extend((set_name, qid, case, answers[case]) for case in CASES if case in answers)
    if not todo:
        print(f"no answers under {args.answers} for --set {args.set_name}")
        return
    items = asyncio.run(grade_all(service, todo))
    cases = summary(items)
    gate_rows = gates(items, cases)
    if args.json:
        report = {
            "set": args.set_name,
            "bank": str(service.bank.root),
            "judge": service.judge.name,
            "answers": [asdict(i) for i in items],
            "cases": cases,
            "gates": gate_rows,
        }
        print(json.dumps(report, indent=2))
        return
    print(f"command: python bench/adversarial.py --set {args.set_name}" + (f" --bank {args.bank}" if args.bank else ""))
    questions = len({(i.set, i.question_id) for i in items})
    print(f"bank: {service.bank.root}; judge: {service.judge.name}; questions: {questions}")
    print()
    print_table(items, cases, gate_rows)


if __name__ == "__main__":
    main()
