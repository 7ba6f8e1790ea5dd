"""Safe YAML loading that remembers where each value came from, for file:line messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from grader.errors import BankError

Loc = tuple[str | int, ...]
_M = TypeVar("_M", bound=BaseModel)


# libyaml's parser is ~70x faster than the pure-Python one; the constructor stays PyYAML's safe one.
_SafeBase: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_SafeBase):  # type: ignore[valid-type,misc]
    """A safe loader that refuses duplicate mapping keys (plain PyYAML keeps the last one silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, str | int | float | bool | None):
                message = f"a mapping key must be a plain value, not a {type(key).__name__}"
                raise yaml.constructor.ConstructorError(None, None, message, key_node.start_mark)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping


@dataclass
class Located:
    """A YAML document's data and the line (1-based) of every value, by its path."""

    path: Path
    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)

    def line_of(self, loc: Loc) -> int:
        """The line of the deepest known value on this path (1 for the document)."""
        for end in range(len(loc), 0, -1):
            if loc[:end] in self.lines:
                return self.lines[loc[:end]]
        return 1

    def where(self, loc: Loc) -> str:
        """`file:line` for a path inside the document."""
        return f"{self.path}:{self.line_of(loc)}"


def _index_lines(node: yaml.Node, loc: Loc, lines: dict[Loc, int], seen: set[int] | None = None) -> None:
    # An alias is the same node object again: walking it once per reference would let a few lines of
    # "billion laughs" anchors expand into billions of entries.
    seen = set() if seen is None else seen
    lines[loc] = node.start_mark.line + 1
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            lines[(*loc, key)] = key_node.start_mark.line + 1
            _index_lines(value_node, (*loc, key), lines, seen)
            lines[(*loc, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _index_lines(item, (*loc, index), lines, seen)


MAX_YAML_BYTES = 2_000_000


def load_yaml(path: Path) -> Located:
    """Load one YAML file safely; errors name the file and line."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise BankError(f"{path}: no such file") from None
    except OSError as exc:
        raise BankError(f"{path}: cannot read: {exc.strerror}") from None
    if len(raw) > MAX_YAML_BYTES:
        raise BankError(f"{path}: {len(raw)} bytes is larger than the {MAX_YAML_BYTES}-byte limit for a bank file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BankError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    try:
        lines, data = _parse(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        problem = exc.problem or exc.context or "invalid YAML"
        raise BankError(f"{path}:{line}: YAML error: {problem}") from None
    except yaml.YAMLError as exc:
        raise BankError(f"{path}: YAML error: {' '.join(str(exc).split())}") from None
    except RecursionError:
        raise BankError(f"{path}: YAML nests too deeply") from None
    return Located(path=path, data=data, lines=lines)


def _parse(text: str) -> tuple[dict[Loc, int], Any]:
    """The line of every value and the data, from one parse (as `yaml.compose` then `yaml.load` would give).

    The lines are indexed before the data is built: building merges `<<` keys into the nodes in place.
    """
    loader = _UniqueKeyLoader(text)
    lines: dict[Loc, int] = {}
    try:
        node = loader.get_single_node()
        if node is None:
            return lines, None
        try:
            _index_lines(node, (), lines)
        except TypeError:  # a list or mapping as a key: building the data names it, with its line
            loader.construct_document(node)
            raise
        return lines, loader.construct_document(node)
    finally:
        loader.dispose()


def validation_messages(exc: ValidationError, located: Located) -> list[str]:
    """One `file:line: field: message` line per pydantic error."""
    messages = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        field_name = ".".join(str(part) for part in loc) or "(document)"
        messages.append(f"{located.where(loc)}: {field_name}: {error['msg']}")
    return messages


def validate_located(model: type[_M], located: Located, error: type[BankError]) -> _M:
    """Validate a document against a model, raising `error` naming the first problem and how many more."""
    try:
        return model.model_validate(located.data)
    except ValidationError as exc:
        raise error(summarize(validation_messages(exc, located))) from None


def summarize(messages: list[str]) -> str:
    """The first problem, and how many more there are: one line for the user."""
    more = f" (and {len(messages) - 1} more problems)" if len(messages) > 1 else ""
    return messages[0] + more
