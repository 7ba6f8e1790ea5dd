"""A rubric as the YAML file an author edits: the usual key order, long texts as blocks, levels inline."""

from __future__ import annotations

from typing import Any

import yaml

from grader.errors import RubricError

_ORDER = ("question_id", "max_score", "tags", "reviewed", "sources", "criteria", "misconceptions", "red_flags",
          "reference_answer", "exemplars")  # fmt: skip
_BLOCK_KEYS = {"reference_answer", "answer"}


class _Dumper(yaml.SafeDumper):
    pass


class _Block(str):
    """A text written as a YAML block (`|` keeps its lines; `>` wraps a long single line)."""


class _Inline(dict[str, Any]):
    """A small mapping written on one line."""


def _block(dumper: yaml.SafeDumper, value: _Block) -> yaml.Node:
    text = str(value)
    style = "|" if "\n" in text.strip() else ">"
    return dumper.represent_scalar("tag:yaml.org,2002:str", text.strip() + "\n", style=style)


def _inline(dumper: yaml.SafeDumper, value: _Inline) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", dict(value), flow_style=True)


_Dumper.add_representer(_Block, _block)
_Dumper.add_representer(_Inline, _inline)


def _whole(value: Any) -> Any:
    """10.0 as 10: the numbers an author would type."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _shape(data: dict[str, Any]) -> dict[str, Any]:
    data = {**data, "max_score": _whole(data.get("max_score"))}
    if "criteria" in data:
        data["criteria"] = [{**c, "weight": _whole(c.get("weight"))} for c in data["criteria"]]
    ordered = {k: data[k] for k in _ORDER if k in data and data[k] not in (None, [])}
    ordered.update({k: v for k, v in data.items() if k not in ordered and v not in (None, [])})
    ordered["reference_answer"] = _Block(ordered["reference_answer"])
    exemplars = []
    for exemplar in ordered.get("exemplars", []):
        shaped: dict[str, Any] = {"answer": _Block(exemplar["answer"])}
        if exemplar.get("levels") is not None:
            shaped["levels"] = _Inline(exemplar["levels"])
        shaped["expected_score"] = _whole(exemplar["expected_score"])
        if exemplar.get("note"):
            shaped["note"] = exemplar["note"]
        exemplars.append(shaped)
    if exemplars:
        ordered["exemplars"] = exemplars
    return ordered


def rubric_yaml(data: dict[str, Any], header: str = "") -> str:
    """YAML text for rubric-format data, checked to load back to the same data."""
    text = yaml.dump(_shape(data), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110)
    back = yaml.safe_load(text)
    if _normal(back) != _normal(data):
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110)
        if _normal(yaml.safe_load(text)) != _normal(data):  # pragma: no cover - safe_dump round-trips
            raise RubricError("the drafted rubric does not survive YAML")
    lines = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    return lines + text


def _normal(node: Any) -> Any:
    """Data compared modulo the surrounding whitespace of texts and dropped empty fields."""
    if isinstance(node, dict):
        return {k: _normal(v) for k, v in node.items() if v not in (None, [])}
    if isinstance(node, list):
        return [_normal(v) for v in node]
    if isinstance(node, str):
        return node.strip()
    return node
