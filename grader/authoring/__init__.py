"""Rubric authoring with a model: draft a rubric for a new question, review an existing one, grow a bank.

- `schemas`: what the model must return (strict-mode JSON schemas) and how a draft becomes a Rubric.
- `prompts`: the sandboxed templates `prompts/draft.*.j2` and `prompts/review.*.j2`.
- `calls`: one request through the grading client, with the cache, cost accounting and dry runs.
- `drafting` / `reviewing`: the two jobs; `banks`: writing questions and banks.
"""
