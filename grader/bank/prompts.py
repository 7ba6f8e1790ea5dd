"""Rendering the grading prompt from Jinja templates, with the answer inserted afterwards as data.

Templates are written by rubric authors, so they render in Jinja's sandbox with StrictUndefined. The
candidate's answer never passes through Jinja: templates place `{{ answer_block }}`, which renders to a
sentinel that is replaced after rendering by the answer between delimiters derived from the answer's own
hash, which the answer therefore cannot contain.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from grader.errors import PromptError
from grader.models import Message, Question, Rubric
from grader.scoring import criterion_points

SYSTEM_TEMPLATE = "grade.system.j2"
USER_TEMPLATE = "grade.user.j2"
_SENTINEL = "\x00ANSWER_BLOCK\x00"
MAX_TEMPLATE_BYTES = 200_000
_NO_TAG_MARK = "\x01"
_NO_TAG = "answer-" + _NO_TAG_MARK * 16
"""A tag no answer has (answer tags are hex): what the system message is first rendered with, to see if it shows it."""
_MAX_SYSTEMS = 512


class _ConfinedLoader(jinja2.FileSystemLoader):
    """A FileSystemLoader that refuses templates resolving outside its folder (links included)."""

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        source, filename, uptodate = super().get_source(environment, template)
        root = Path(self.searchpath[0]).resolve()
        if not Path(filename).resolve().is_relative_to(root):
            raise jinja2.TemplateNotFound(template)
        if len(source.encode()) > MAX_TEMPLATE_BYTES:
            raise PromptError(f"{filename}: template larger than {MAX_TEMPLATE_BYTES} bytes")
        return source, filename, uptodate


class _BoundedSandbox(SandboxedEnvironment):
    """Jinja's sandbox, with `*` and `**` bounded: a one-line template must not allocate gigabytes.

    The sandbox already blocks attribute escapes and huge ranges; it leaves sequence repetition and powers
    alone, so `{{ "x" * 10**10 }}` in a hostile bank would exhaust memory.
    """

    intercepted_binops = frozenset(["*", "**"])
    max_size = 1_000_000

    def call_binop(self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, str | bytes | list | tuple) and isinstance(times, int):
                    if len(seq) * times > self.max_size:
                        raise jinja2.exceptions.SecurityError(f"repetition longer than {self.max_size} items")
        if operator == "**" and isinstance(left, int) and isinstance(right, int):
            if max(left.bit_length(), 1) * abs(right) > self.max_size * 8:
                raise jinja2.exceptions.SecurityError("power too large")
        return super().call_binop(context, operator, left, right)


@dataclass(frozen=True)
class RenderedPrompt:
    """The messages for one grading request and the hash of the templates that made them."""

    messages: list[Message]
    prompt_sha256: str
    answer_tag: str


def answer_tag(answer: str) -> str:
    """The delimiter name for an answer: derived from its hash, so the answer cannot contain its closing tag."""
    return "answer-" + hashlib.sha256(answer.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def delimit_answer(answer: str) -> str:
    """The answer between its delimiters, verbatim."""
    tag = answer_tag(answer)
    return f"<{tag}>\n{answer}\n</{tag}>"


class PromptRenderer:
    """Renders the grading messages from one prompts folder."""

    def __init__(self, prompts_dir: Path) -> None:
        """Load templates from prompts_dir (grade.system.j2 and grade.user.j2)."""
        self.prompts_dir = prompts_dir
        self._env = _BoundedSandbox(
            loader=_ConfinedLoader(str(prompts_dir)),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
            auto_reload=False,  # read once, as hashed once (sha256): no stat of every template per answer
        )
        self._sha256: str | None = None
        self._systems: dict[tuple[Any, ...], tuple[str, tuple[Any, ...]]] = {}
        """System messages that depend on no answer, by what they were rendered from (see _system)."""

    def template_files(self) -> list[Path]:
        """The template files a grading prompt uses (the two entry points and what they include)."""
        names = sorted({SYSTEM_TEMPLATE, USER_TEMPLATE} | _referenced(self._env, [SYSTEM_TEMPLATE, USER_TEMPLATE]))
        root = self.prompts_dir.resolve()
        # A reference that leaves the folder ("/dev/zero", "../x") is no template of ours: rendering refuses it,
        # and hashing must not read it.
        return [path for path in (self.prompts_dir / name for name in names) if path.resolve().is_relative_to(root)]

    def sha256(self) -> str:
        """sha256 over the names and bytes of the template files used (computed once per renderer)."""
        if self._sha256 is None:
            self._sha256 = self._hash_templates()
        return self._sha256

    def _hash_templates(self) -> str:
        digest = hashlib.sha256()
        for path in self.template_files():
            try:
                if path.exists() and not path.is_file():
                    raise PromptError(f"{path}: not a regular file")
                with path.open("rb") as handle:
                    data = handle.read(MAX_TEMPLATE_BYTES + 1)
            except OSError as exc:
                raise PromptError(f"{path}: cannot read: {exc.strerror}") from None
            digest.update(path.name.encode() + b"\0" + data + b"\0")
        return digest.hexdigest()

    def render(
        self,
        question: Question,
        rubric: Rubric,
        answer: str,
        *,
        examples: Sequence[Any] = (),
        audience: str = "interviewer",
        criteria_order: Sequence[str] | None = None,
    ) -> RenderedPrompt:
        """Render the system and user messages for grading one answer."""
        criteria = list(rubric.criteria)
        if criteria_order is not None:
            by_id = {c.id: c for c in criteria}
            criteria = [by_id[cid] for cid in criteria_order]
        points = {cid: round(p, 2) for cid, p in criterion_points(rubric).items()}
        shown = list(examples)
        context: dict[str, Any] = {
            "question": question,
            "rubric": rubric,
            "criteria": criteria,
            "points": points,
            "examples": shown,
            "audience": audience,
            "answer_tag": answer_tag(answer),
            "answer_block": _SENTINEL,
        }
        system = self._system(context, (question, rubric, *criteria, *shown, audience))
        user = self._render(USER_TEMPLATE, context)
        placed = system.count(_SENTINEL) + user.count(_SENTINEL)
        if placed != 1:
            raise PromptError(
                f"{self.prompts_dir}: the templates must place {{{{ answer_block }}}} exactly once (found {placed})"
            )
        block = delimit_answer(answer)
        messages = [
            Message(role="system", content=system.replace(_SENTINEL, block)),
            Message(role="user", content=user.replace(_SENTINEL, block)),
        ]
        return RenderedPrompt(messages=messages, prompt_sha256=self.sha256(), answer_tag=answer_tag(answer))

    def _system(self, context: dict[str, Any], sources: tuple[Any, ...]) -> str:
        """The system message, rendered once for all the answers to a question when it shows no answer's tag.

        A batch renders it per answer otherwise, and with the rubric in it, it is most of the rendering. It is
        rendered with a tag no answer has (tags are hex); if that tag shows nowhere, the text does not depend on
        the answer and serves every answer with the same question, rubric, criteria order, examples and audience
        (the same objects: the key holds them, so their ids cannot be reused while cached).
        """
        key = (*map(id, sources), context["audience"])
        cached = self._systems.get(key)
        if cached is not None:
            return cached[0]
        text = self._render(SYSTEM_TEMPLATE, {**context, "answer_tag": _NO_TAG})
        if _NO_TAG_MARK in text:  # the template shows the tag: render it for this answer
            return self._render(SYSTEM_TEMPLATE, context)
        if len(self._systems) >= _MAX_SYSTEMS:
            self._systems.clear()
        self._systems[key] = (text, sources)
        return text

    def _render(self, name: str, context: dict[str, Any]) -> str:
        where = self.prompts_dir / name
        try:
            return self._env.get_template(name).render(context)
        except jinja2.UndefinedError as exc:
            raise PromptError(f"{where}: {exc.message}") from None
        except jinja2.TemplateSyntaxError as exc:
            raise PromptError(f"{exc.filename or where}:{exc.lineno}: {exc.message}") from None
        except jinja2.TemplateNotFound as exc:
            raise PromptError(f"{self.prompts_dir}: template {exc.name} not found") from None
        except jinja2.exceptions.SecurityError as exc:
            raise PromptError(f"{where}: unsafe template: {exc}") from None
        except (jinja2.TemplateError, RecursionError) as exc:
            raise PromptError(f"{where}: {exc}") from None
        except (OverflowError, MemoryError) as exc:
            raise PromptError(f"{where}: too large to render: {exc}"[:300]) from None


def _referenced(env: jinja2.Environment, names: list[str]) -> set[str]:
    """Templates included, imported or extended from the given ones, transitively."""
    from jinja2 import meta

    found: set[str] = set()
    pending = list(names)
    while pending:
        name = pending.pop()
        try:
            source = env.loader.get_source(env, name)[0] if env.loader else ""
            tree = env.parse(source)
        except (jinja2.TemplateError, OSError):
            continue
        for child in meta.find_referenced_templates(tree):
            if child and child not in found:
                found.add(child)
                pending.append(child)
    return found - set(names)
