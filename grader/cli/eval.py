"""`grader eval`, `grader rubric calibrate` and `grader rubric add-example`: measuring and teaching a judge."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from grader.cli.options import MEASURING, BankOpt, grading_options
from grader.config import Settings
from grader.vocabulary import ReportFormat as Format

if TYPE_CHECKING:
    from grader.evaluation.measure import CalibrationResult, EvalResult
    from grader.grading.service import GradingService
    from grader.metrics import Agreement

T = TypeVar("T")


FormatOpt = Annotated[Format, typer.Option("--format", help="text (a table) or json.")]


def register(app: typer.Typer, rubric_app: typer.Typer) -> None:
    """Attach `eval` to the main app and `calibrate`, `add-example` to `grader rubric`."""
    app.command("eval")(grading_options(MEASURING)(eval_command))
    rubric_app.command("calibrate")(grading_options(MEASURING)(calibrate_command))
    rubric_app.command("add-example")(add_example_command)


def _service(settings: Settings) -> GradingService:
    """The same service `grader grade` uses: what is measured is what grades."""
    from grader.grading.service import GradingService

    return GradingService(settings)


def _run(service: GradingService, work: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine, then release the service (the LLM judge holds connections, the cache a file)."""

    async def go() -> T:
        try:
            return await work()
        finally:
            await service.aclose()

    import asyncio  # here, not at the top: --help need not import it

    return asyncio.run(go())


def eval_command(
    data: Annotated[
        Path, typer.Argument(help="JSONL rows: answer, a human score, and question_id or question + reference_answer.")
    ],
    score_field: Annotated[str, typer.Option("--score-field", help="Field holding the human score.")] = "score",
    split: Annotated[
        str | None, typer.Option("--split", help="Keep only rows whose `split` is NAME.", show_default=False)
    ] = None,
    examples: Annotated[
        Path | None,
        typer.Option(
            "--examples", help="Graded answers (same row format) the judge may learn from.", show_default=False
        ),
    ] = None,
    examples_split: Annotated[
        str | None,
        typer.Option("--examples-split", help="Keep only example rows whose `split` is NAME.", show_default=False),
    ] = None,
    bins: Annotated[
        int, typer.Option("--bins", min=2, max=100, help="Equal bins of score/score_max for QWK and agreement.")
    ] = 5,
    resamples: Annotated[
        int, typer.Option("--resamples", min=0, help="Bootstrap resamples for the 95% intervals (0: none).")
    ] = 1000,
    per_question: Annotated[bool, typer.Option("--per-question", help="Also show agreement per question.")] = False,
    output_format: FormatOpt = Format.text,
    *,
    settings: Settings,
) -> None:
    """Grade human-graded answers and report agreement: Pearson, Spearman, QWK, MAE, with 95% intervals."""
    from grader.bank.examples import read_rows
    from grader.errors import InputError
    from grader.evaluation.measure import arun_eval

    rows = read_rows(data, score_field)
    if split is not None:
        splits = sorted({r.split or "-" for r in rows})
        rows = [r for r in rows if r.split == split]
        if not rows:
            raise InputError(f"{data}: no rows with split {split!r} (splits present: {', '.join(splits)})")
    if not rows:
        raise InputError(f"{data}: no rows to evaluate")
    shown = []
    if examples is not None:
        shown = read_rows(examples, score_field)
        if examples_split is not None:
            shown = [r for r in shown if r.split == examples_split]
    service = _service(settings)

    def rubric_for(question_id: str) -> Any:
        return service.question(question_id), service.rubric(question_id).rubric

    work = lambda: arun_eval(rows, service, rubric_for, examples=shown, bins=bins, resamples=resamples)  # noqa: E731
    result = _run(service, work)
    if output_format is Format.json:
        typer.echo(json.dumps(eval_json(result, service.judge.name), indent=2))
    else:
        typer.echo(eval_text(result, service.judge.name, str(data), per_question), nl=False)


def calibrate_command(
    question_ids: Annotated[
        list[str] | None, typer.Argument(help="Question ids (default: every rubric of the bank).", show_default=False)
    ] = None,
    leave_one_out: Annotated[
        bool,
        typer.Option(
            "--leave-one-out/--all-exemplars", help="Grade each exemplar with a rubric that does not show it."
        ),
    ] = True,
    fail_under: Annotated[
        float | None,
        typer.Option(
            "--fail-under",
            min=-1.0,
            max=1.0,
            help="Exit 1 when the overall Pearson correlation is below this gate (for CI).",
            show_default=False,
        ),
    ] = None,
    output_format: FormatOpt = Format.text,
    *,
    settings: Settings,
) -> None:
    """Grade each rubric's exemplars and report agreement with their expected scores, per rubric and overall."""
    from grader.errors import InputError
    from grader.evaluation.measure import acalibrate

    service = _service(settings)
    if question_ids:
        ids = list(dict.fromkeys(question_ids))
    else:
        ids = [q.id for q in service.questions if service.bank.rubric_path(q.id).is_file()]
    if not ids:
        raise InputError(f"bank {service.bank.root}: no rubrics to calibrate")
    items = [(service.question(qid), service.rubric(qid).rubric) for qid in ids]
    graded = {qid: service.examples(qid) for qid in ids}
    result = _run(service, lambda: acalibrate(items, service, examples=graded, leave_one_out=leave_one_out))
    names = exemplar_labels(items)
    if output_format is Format.json:
        typer.echo(json.dumps(calibration_json(result, service.judge.name, names), indent=2))
    else:
        typer.echo(calibration_text(result, service.judge.name, leave_one_out, names), nl=False)
    if fail_under is not None:
        pearson = result.overall.pearson
        if pearson is None:
            typer.echo(f"grader: no Pearson correlation to hold to --fail-under {fail_under:g} "
                       "(too few graded exemplars, or no spread in their scores)", err=True)  # fmt: skip
            raise typer.Exit(code=1)
        if pearson < fail_under:
            typer.echo(f"grader: pearson {pearson:.3f} is under --fail-under {fail_under:g}", err=True)
            raise typer.Exit(code=1)


def exemplar_labels(items: list[tuple[Any, Any]]) -> dict[tuple[str, int], str]:
    """A short label per exemplar (its note, else its first words), by (question id, index)."""
    labels: dict[tuple[str, int], str] = {}
    for _question, rubric in items:
        for index, exemplar in enumerate(rubric.exemplars):
            text = " ".join((exemplar.note or exemplar.answer).split())
            labels[(rubric.question_id, index)] = text if len(text) <= 60 else text[:59] + "…"
    return labels


def add_example_command(
    question_id: Annotated[str, typer.Argument(help="Question id, e.g. q05.")],
    score: Annotated[float, typer.Option("--score", help="The human score, on the rubric's 0 … max_score scale.")],
    answer: Annotated[str | None, typer.Option("--answer", help="The answer text.", show_default=False)] = None,
    answer_file: Annotated[
        Path | None, typer.Option("--answer-file", help="A file holding the answer ('-': stdin).", show_default=False)
    ] = None,
    bank: BankOpt = None,
) -> None:
    """Add one human-graded answer to the bank (graded/<id>.jsonl), for the judges to learn from."""
    from grader.bank.base import Bank
    from grader.bank.examples import append_example
    from grader.bank.questions import find_question, load_questions
    from grader.bank.rubrics import load_rubric
    from grader.cli.options import read_answer
    from grader.config import settings_from_env
    from grader.errors import InputError
    from grader.text.screening import screen_answer

    opened = Bank.open(bank or settings_from_env().bank)
    find_question(load_questions(opened), question_id, opened)
    rubric = load_rubric(opened, question_id).rubric
    if not 0 <= score <= rubric.max_score:
        raise InputError(f"--score {score:g} is outside 0 … {rubric.max_score:g} (the rubric's max_score)")
    text = read_answer(answer, answer_file)
    flags = screen_answer(text).flags
    if flags:
        raise InputError(
            f"the answer is flagged {', '.join(flags)}: graded answers are shown to the model, so this one is refused"
        )
    path = append_example(opened, question_id, text, score / rubric.max_score)
    typer.echo(f"Added a graded answer ({score:g}/{rubric.max_score:g}) to {path}.")


def _num(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _agreement_dict(a: Agreement) -> dict[str, Any]:
    ci = {name: None if i is None else [round(i.low, 4), round(i.high, 4)] for name, i in a.ci.items()}
    names = ("pearson", "spearman", "qwk", "mae", "exact", "adjacent", "mean_human", "mean_grader")
    figures = {k: getattr(a, k) for k in names}
    rounded = {k: None if v is None else round(v, 4) for k, v in figures.items()}
    return {"n": a.n, **rounded, "bins": a.bins, "confusion": a.confusion, "ci": ci}


def eval_json(result: EvalResult, judge: str) -> dict[str, Any]:
    """The `--format json` object of `grader eval`."""
    return {
        **_agreement_dict(result.agreement),
        "judge": judge,
        "questions": result.questions,
        "ungraded": result.ungraded,
        "examples_used": result.examples_used,
        "examples_excluded": result.examples_excluded,
        "per_question": {k: _agreement_dict(a) for k, a in result.per_question.items()},
        "errors": [{"row": i.where, "error": i.error} for i in result.items if i.error],
    }


def _figure_rows(a: Agreement) -> list[str]:
    lines = [f"  {'':<10} {'value':>7}   95% interval"]
    for name in ("pearson", "spearman", "qwk", "mae"):
        interval = a.ci.get(name)
        span = f"[{interval.low:.3f}, {interval.high:.3f}]" if interval else "-"
        lines.append(f"  {name:<10} {_num(getattr(a, name)):>7}   {span}")
    lines.append(f"  {'exact':<10} {_num(a.exact):>7}   (same bin of {a.bins})")
    lines.append(f"  {'adjacent':<10} {_num(a.adjacent):>7}   (at most one bin apart)")
    lines.append(f"  {'mean':<10} grader {_num(a.mean_grader)}, human {_num(a.mean_human)}  (score / score_max)")
    return lines


def _confusion_rows(a: Agreement) -> list[str]:
    labels = [f"{round(100 * i / a.bins)}-{round(100 * (i + 1) / a.bins)}%" for i in range(a.bins)]
    width = max(7, *(len(label) + 1 for label in labels))
    lines = ["Confusion (rows: human, columns: grader; bins of score/score_max)"]
    lines.append(" " * 10 + "".join(f"{label:>{width}}" for label in labels))
    for label, row in zip(labels, a.confusion, strict=True):
        lines.append(f"{label:<10}" + "".join(f"{count:>{width}}" for count in row))
    return lines


def eval_text(result: EvalResult, judge: str, source: str, per_question: bool = False) -> str:
    """The readable report of `grader eval`."""
    a = result.agreement
    questions = f"{result.questions} question" + ("s" if result.questions != 1 else "")
    lines = [f"grader eval {source}: {a.n} answers, {questions}, {judge} judge"]
    extra = f"{result.examples_used} graded examples shown to the judge"
    if result.examples_excluded:
        extra += f" ({result.examples_excluded} identical to evaluated rows left out)"
    lines.append(extra + (f"; {result.ungraded} ungraded" if result.ungraded else ""))
    lines += ["", *_figure_rows(a), "", *_confusion_rows(a)]
    if per_question:
        lines += ["", f"  {'question':<40} {'n':>4} {'pearson':>8} {'mae':>6}"]
        for key, q in result.per_question.items():
            name = key if len(key) <= 40 else key[:39] + "…"
            lines.append(f"  {name:<40} {q.n:>4} {_num(q.pearson):>8} {_num(q.mae):>6}")
    errors = [i for i in result.items if i.error]
    for item in errors[:5]:
        lines.append(f"ungraded {item.where}: {item.error}")
    return "\n".join(lines) + "\n"


def calibration_json(
    result: CalibrationResult, judge: str, labels: dict[tuple[str, int], str] | None = None
) -> dict[str, Any]:
    """The `--format json` object of `grader rubric calibrate`."""
    return {
        "judge": judge,
        "overall": _agreement_dict(result.overall),
        "level_exact": result.level_exact,
        "ordering": _ordering_totals(result),
        "rubrics": [
            {
                "question_id": r.question_id,
                "mae_pct": r.mae_pct,
                "level_exact": r.level_exact,
                "pearson": r.agreement.pearson,
                "ordering": dataclasses.asdict(r.ordering),
                "exemplars": [
                    {"index": c.index, "name": f"{c.question_id}#{c.index + 1}",
                     "label": (labels or {}).get((c.question_id, c.index)),
                     "expected": c.expected, "score": c.score, "max_score": c.max_score,
                     "levels_expected": c.levels_expected, "levels": c.levels, "error": c.error}
                    for c in r.checks
                ],
            }
            for r in result.rubrics
        ],
    }  # fmt: skip


def _ordering_totals(result: CalibrationResult) -> dict[str, int]:
    orders = [r.ordering for r in result.rubrics]
    return {
        "rubrics": sum(o.top_above_bottom is not None for o in orders),
        "top_above_bottom": sum(o.top_above_bottom is True for o in orders),
        "concordant_pairs": sum(o.concordant for o in orders),
        "discordant_pairs": sum(o.discordant for o in orders),
        "tied_pairs": sum(o.tied for o in orders),
    }


def calibration_text(
    result: CalibrationResult, judge: str, leave_one_out: bool, labels: dict[tuple[str, int], str] | None = None
) -> str:
    """The readable report of `grader rubric calibrate`: a line per rubric, then one per exemplar, named."""
    how = "each graded by a rubric without it" if leave_one_out else "rubrics shown whole"
    lines = [f"Exemplars graded by the {judge} judge ({how}); score / expected", ""]
    lines.append(f"  {'rubric':<8} {'MAE %':>6} {'levels':>7}  exemplar: score/expected, levels matched, note")
    for r in result.rubrics:
        mae = "-" if r.mae_pct is None else f"{100 * r.mae_pct:.0f}"
        levels = "-" if r.level_exact is None else f"{100 * r.level_exact:.0f}%"
        lines.append(f"  {r.question_id:<8} {mae:>6} {levels:>7}")
        for c in r.checks:
            pair = f"{'-' if c.score is None else f'{c.score:g}'}/{c.expected:g}"
            matched = "-"
            if c.levels_expected and c.levels:
                same = sum(c.levels.get(cid) == lv for cid, lv in c.levels_expected.items())
                matched = f"{same}/{len(c.levels_expected)}"
            label = (labels or {}).get((c.question_id, c.index), "")
            error = f"  ungraded: {c.error}" if c.error else ""
            lines.append(f"    {c.question_id}#{c.index + 1:<3} {pair:>11} {matched:>5}  {label}{error}")
    o = result.overall
    lines += [
        "",
        f"Overall: {o.n} exemplars; pearson {_num(o.pearson)}, spearman {_num(o.spearman)}, "
        f"qwk {_num(o.qwk)}, MAE {_num(o.mae)} of max_score; levels exact {_num(result.level_exact)}",
    ]
    t = _ordering_totals(result)
    if t["rubrics"]:
        compared = t["concordant_pairs"] + t["discordant_pairs"] + t["tied_pairs"]
        lines.append(
            f"Order: the best exemplar outscores the worst in {t['top_above_bottom']} of {t['rubrics']} rubrics; "
            f"{t['concordant_pairs']} of {compared} exemplar pairs in the expected order "
            f"({t['discordant_pairs']} reversed, {t['tied_pairs']} tied)"
        )
    return "\n".join(lines) + "\n"
