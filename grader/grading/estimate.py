"""How many tokens one judgement of a task will use, before it is sent: for --max-cost budgets and dry runs.

Prompt tokens are counted with tiktoken on the messages the judge would send and on the response schema;
completion tokens are estimated per criterion.
"""

from __future__ import annotations

import json

from grader.bank.prompts import PromptRenderer
from grader.grading.service import GradingService
from grader.judges.base import GradingTask
from grader.judges.llm import verdict_model

COMPLETION_TOKENS_PRIOR = (150, 80)
"""Expected completion tokens of one verdict: a base plus this much per criterion (for dry runs and budgets)."""


_SCHEMA_TOKENS: dict[tuple[str, str], int] = {}


def estimate_tokens(service: GradingService, task: GradingTask) -> tuple[int, int]:
    """(prompt, completion) tokens one judgement of this task will use, all samples included."""
    render = getattr(service.judge, "render", None)
    messages = render(task) if callable(render) else None
    if messages is None:
        renderer = PromptRenderer(service.bank.prompts_dir)
        messages = renderer.render(task.question, task.rubric, task.answer, examples=task.examples,
                                   audience=service.settings.audience).messages  # fmt: skip
    key = (task.rubric.question_id, service.rubric(task.rubric.question_id).sha256)
    if key not in _SCHEMA_TOKENS:  # the schema goes with every request too; it depends on the rubric alone
        _SCHEMA_TOKENS[key] = service.counter.count(json.dumps(verdict_model(task.rubric).model_json_schema()))
    prompt = sum(service.counter.count(m.content) + 4 for m in messages) + _SCHEMA_TOKENS[key]
    base, per_criterion = COMPLETION_TOKENS_PRIOR
    completion = base + per_criterion * len(task.rubric.criteria)
    samples = service.settings.samples
    return prompt * samples, completion * samples
