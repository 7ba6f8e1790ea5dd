"""The replies a model must give when it drafts or reviews a rubric, as strict-mode JSON schemas.

OpenAI's strict mode (and the servers that copy it) accepts a subset of JSON Schema: every property required,
`additionalProperties: false` on every object, no defaults and no length or numeric bounds. So these models
have no optional fields and no constraints; what the schema cannot say, lint says, and its messages go back
to the model. Maps keyed by free names (an exemplar's level per criterion) travel as lists of pairs.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from grader.models import Exemplar, Rubric
from grader.scoring import score_levels

DRAFT_MAX_SCORE = 10.0


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DraftCriterion(_Strict):
    """One criterion of a drafted rubric."""

    id: str = Field(description="snake_case identifier, e.g. core_mechanism; unique in the rubric.")
    description: str = Field(description="One sentence: what this criterion checks.")
    weight: float = Field(description="Relative weight, above 0 (points are 10 x weight / sum of weights).")
    levels: list[str] = Field(
        description="3 to 5 level descriptions from lowest (level 0: absent or wrong) to highest; concrete enough "
        "that two graders would choose the same level."
    )
    key_points: list[str] = Field(description="What a full answer says for this criterion, in candidates' words.")


class LevelChoice(_Strict):
    """The expected level of one criterion for an exemplar."""

    criterion: str = Field(description="A criterion id of this rubric.")
    level: int = Field(description="0 (lowest) to the criterion's number of levels minus 1.")


class DraftExemplar(_Strict):
    """A sample answer with the level a careful grader gives it on each criterion."""

    answer: str = Field(description="The sample answer, as a candidate would say it.")
    levels: list[LevelChoice] = Field(description="One entry per criterion of the rubric, each exactly once.")
    note: str = Field(description="Why these levels, for the rubric's authors.")


class DraftRubric(_Strict):
    """A complete rubric for one interview question, in the grader's rubric format."""

    criteria: list[DraftCriterion] = Field(description="3 to 6 criteria covering what a strong answer must show.")
    misconceptions: list[str] = Field(description="Wrong claims candidates commonly make; stating one is penalised.")
    red_flags: list[str] = Field(description="Statements that show a fundamental misunderstanding.")
    reference_answer: str = Field(description="What a strong candidate says: at least 80 words, technically exact.")
    exemplars: list[DraftExemplar] = Field(
        description="At least 3 sample answers spanning the scale: a strong one (70% or more of the points), a weak "
        "one (30% or less), and a fluent answer that states a misconception."
    )
    tags: list[str] = Field(description="A few lowercase topic tags.")


FindingKind = Literal[
    "technical_error",
    "misconception_docks_correct_answer",
    "exemplar_contradicts_levels",
    "vague_level",
    "missing_topic",
]
FINDING_KINDS: tuple[str, ...] = FindingKind.__args__  # type: ignore[attr-defined]


class Finding(_Strict):
    """One problem a reviewer finds in a rubric."""

    kind: FindingKind = Field(
        description="technical_error: a wrong fact; misconception_docks_correct_answer: a listed misconception, "
        "red flag or level that would penalise a correct answer; exemplar_contradicts_levels: an exemplar whose "
        "levels or score contradict the level text; vague_level: a level two graders would read differently; "
        "missing_topic: something a strong answer must cover that no criterion checks."
    )
    field: str = Field(
        description="The rubric field concerned, as a path: e.g. criteria[1].levels[2], misconceptions[0], "
        "reference_answer, exemplars[2].levels; criteria for a missing topic."
    )
    quote: str = Field(description="The text concerned, copied exactly from the rubric; empty for a missing topic.")
    fix: str = Field(description="The corrected text, or what to add, ready to paste.")
    confidence: Literal["high", "medium", "low"] = Field(description="How sure you are that this is a real problem.")


class ReviewReply(_Strict):
    """A senior reviewer's findings on one rubric."""

    findings: list[Finding] = Field(description="Every problem found, most serious first; empty if none.")
    summary: str = Field(description="One or two sentences on the rubric as a whole.")


def to_rubric_data(draft: DraftRubric, question_id: str) -> tuple[dict[str, Any], list[str]]:
    """The rubric-format data of a draft (exemplar scores recomputed), and what keeps it from being one.

    Problems are phrased for the model: they go back to it in the re-ask.
    """
    problems: list[str] = []
    levels_of = {c.id: len(c.levels) for c in draft.criteria}
    exemplars: list[dict[str, Any]] = []
    for index, exemplar in enumerate(draft.exemplars):
        chosen: dict[str, int] = {}
        for pair in exemplar.levels:
            if pair.criterion in chosen:
                problems.append(f"exemplars[{index}].levels: criterion {pair.criterion!r} is given twice")
            chosen[pair.criterion] = pair.level
        exemplars.append({"answer": exemplar.answer, "levels": chosen, "note": exemplar.note})
    data: dict[str, Any] = {
        "question_id": question_id,
        "max_score": DRAFT_MAX_SCORE,
        "tags": draft.tags,
        "criteria": [c.model_dump() for c in draft.criteria],
        "misconceptions": draft.misconceptions,
        "red_flags": draft.red_flags,
        "reference_answer": draft.reference_answer,
        "exemplars": exemplars,
    }
    try:
        shape = Rubric.model_validate({**data, "exemplars": []})
    except ValueError:
        return data, problems  # the full validation names the fields
    for shaped in exemplars:
        given: dict[str, int] = shaped["levels"]
        if set(given) == set(levels_of) and all(0 <= lv < levels_of[cid] for cid, lv in given.items()):
            shaped["expected_score"] = score_levels(shape, given)
        else:
            shaped["expected_score"] = 0.0  # lint names the unknown, missing or out-of-range levels
    return data, problems


def rubric_from_data(data: dict[str, Any]) -> Rubric:
    """Validate rubric-format data (raises pydantic.ValidationError)."""
    return Rubric.model_validate(data)


def draft_from_rubric(rubric: Rubric) -> DraftRubric:
    """The draft shape of an existing rubric (for tests and for showing a model a rubric in its own terms)."""
    return DraftRubric(
        criteria=[DraftCriterion(**c.model_dump()) for c in rubric.criteria],
        misconceptions=rubric.misconceptions,
        red_flags=rubric.red_flags,
        reference_answer=rubric.reference_answer,
        exemplars=[_draft_exemplar(e) for e in rubric.exemplars],
        tags=rubric.tags,
    )


def _draft_exemplar(exemplar: Exemplar) -> DraftExemplar:
    levels = [LevelChoice(criterion=cid, level=lv) for cid, lv in (exemplar.levels or {}).items()]
    return DraftExemplar(answer=exemplar.answer, levels=levels, note=exemplar.note or "")


STRICT_KEYWORDS = frozenset(
    {"type", "properties", "required", "additionalProperties", "items", "enum", "const", "description", "title",
     "$ref", "$defs", "anyOf"}
)  # fmt: skip
"""The JSON Schema keywords every strict-mode server accepts (no defaults, formats, patterns or bounds)."""


def strict_schema_problems(schema: dict[str, Any]) -> list[str]:
    """Why a JSON schema is not strict-mode valid: each object closed with every property required, known keywords."""
    problems: list[str] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, f"{where}[{index}]")
            return
        if not isinstance(node, dict):
            return
        unknown = sorted(set(node) - STRICT_KEYWORDS)
        if unknown:
            problems.append(f"{where}: unsupported keywords {', '.join(unknown)}")
        if node.get("type") == "object" or "properties" in node:
            if node.get("additionalProperties") is not False:
                problems.append(f"{where}: additionalProperties is not false")
            if sorted(node.get("required", [])) != sorted(node.get("properties", {})):
                problems.append(f"{where}: not every property is required")
        for key in ("properties", "$defs"):
            for name, child in (node.get(key) or {}).items():
                walk(child, f"{where}.{key}.{name}")
        for key in ("items", "anyOf"):
            if key in node:
                walk(node[key], f"{where}.{key}")

    walk(schema, "#")
    return problems


__all__ = [
    "DRAFT_MAX_SCORE",
    "FINDING_KINDS",
    "DraftCriterion",
    "DraftExemplar",
    "DraftRubric",
    "Finding",
    "LevelChoice",
    "ReviewReply",
    "draft_from_rubric",
    "rubric_from_data",
    "strict_schema_problems",
    "to_rubric_data",
]
