"""The candidate's view of a grade (`--audience candidate`): what only the panel should see is taken out.

The service applies it when the audience is the candidate; the renderers check `is_candidate_view`.
"""

from __future__ import annotations

import re

from grader.models import Feedback, Grade, Rubric
from grader.scoring import normalize_for_match

CANDIDATE = "candidate"


def is_candidate_view(grade: Grade) -> bool:
    """Whether a grade was prepared for the candidate (see candidate_view)."""
    return (grade.provenance.model_extra or {}).get("audience") == CANDIDATE


_MIN_LEAK_WORDS = 3
_INSTEAD = {
    "strengths": "Covered: {topic}",
    "gaps": "Missing or incomplete: {topic}",
    "misconceptions": "Check your claims on: {topic}",
    "next_step": "Aim for an answer that {topic}",
}
_WHOLE_QUESTION = "the topic of this question as a whole"


def candidate_view(grade: Grade, rubric: Rubric) -> Grade:
    """The grade as the candidate may see it: no follow-up questions, no rationales, no rubric wording.

    Rationales are the judge's reasoning for the panel and cite level descriptions; follow-up questions are
    for the interviewer. Feedback that copies the rubric's own text (a key point, a level description, a
    reference or exemplar sentence: the answer key of a question that may be asked again) is replaced by
    the description of the criterion it belongs to, so the candidate learns the topic, not the key.
    Evidence stays: it quotes the candidate. Flags and provenance stay in the data for the pipeline;
    the text and Markdown views hide them. The provenance records `audience: candidate`.
    """
    internals = _rubric_internals(rubric)

    def clean(items: list[str], where: str) -> list[str]:
        return list(dict.fromkeys(_without_internals(item, internals, where) for item in items if item.strip()))

    fb = grade.feedback
    feedback = Feedback(
        strengths=clean(fb.strengths, "strengths"),
        gaps=clean(fb.gaps, "gaps"),
        misconceptions=clean(fb.misconceptions, "misconceptions"),
        next_step=_without_internals(fb.next_step, internals, "next_step") if fb.next_step.strip() else "",
        follow_up_questions=[],
    )
    criteria = [c.model_copy(update={"rationale": ""}) for c in grade.criteria]
    provenance = grade.provenance.model_copy(update={"audience": CANDIDATE})
    return grade.model_copy(update={"feedback": feedback, "criteria": criteria, "provenance": provenance})


def _rubric_internals(rubric: Rubric) -> list[tuple[str, str]]:
    """(normalised rubric text, the topic to name instead) for every rubric passage long enough to matter."""
    found: list[tuple[str, str]] = []
    for criterion in rubric.criteria:
        topic = criterion.description.strip().rstrip(".")
        topic = topic[:1].lower() + topic[1:]
        for text in [*criterion.key_points, *criterion.levels]:
            found.append((normalize_for_match(text).strip(" .;:"), topic))
    passages = [rubric.reference_answer] + [e.answer for e in rubric.exemplars]
    passages += [e.note for e in rubric.exemplars if e.note]
    for passage in passages:
        for sentence in re.split(r"(?<=[.!?])\s+", passage):
            found.append((normalize_for_match(sentence).strip(" .;:"), _WHOLE_QUESTION))
    return [(text, topic) for text, topic in found if len(text.split()) >= _MIN_LEAK_WORDS]


def _without_internals(item: str, internals: list[tuple[str, str]], where: str) -> str:
    normalized = normalize_for_match(item)
    for text, topic in internals:
        if text in normalized:
            return _INSTEAD[where].format(topic=topic) + "."
    return item
