"""The authoring prompts: `prompts/draft.*.j2` and `prompts/review.*.j2`, rendered in the grading prompts' sandbox.

A bank may carry its own copies; a bank whose prompts/ predates these templates (or has none) gets the shipped
ones, so an old `grader bank init` copy still drafts and reviews.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from grader.bank.base import Bank, shipped_bank_root
from grader.bank.prompts import _BoundedSandbox, _ConfinedLoader
from grader.errors import PromptError
from grader.models import Message


@dataclass(frozen=True)
class RenderedMessages:
    """The messages of one authoring request and the sha256 of the templates that made them."""

    messages: list[Message]
    prompt_sha256: str


def templates_dir(bank: Bank, job: str) -> Path:
    """The folder holding `<job>.system.j2` and `<job>.user.j2`: the bank's, else the shipped one."""
    own = bank.prompts_dir
    if all((own / f"{job}.{part}.j2").is_file() for part in ("system", "user")):
        return own
    return shipped_bank_root() / "prompts"


def render_job(bank: Bank, job: str, context: dict[str, Any]) -> RenderedMessages:
    """Render the system and user messages of an authoring job ("draft" or "review")."""
    folder = templates_dir(bank, job)
    env = _BoundedSandbox(
        loader=_ConfinedLoader(str(folder)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )
    digest = hashlib.sha256()
    messages = []
    for role, part in (("system", "system"), ("user", "user")):
        name = f"{job}.{part}.j2"
        where = folder / name
        try:
            template = env.get_template(name)
            text = template.render(context)
        except jinja2.UndefinedError as exc:
            raise PromptError(f"{where}: {exc.message}") from None
        except jinja2.TemplateSyntaxError as exc:
            raise PromptError(f"{exc.filename or where}:{exc.lineno}: {exc.message}") from None
        except jinja2.TemplateNotFound:
            raise PromptError(f"{folder}: template {name} not found") from None
        except (jinja2.TemplateError, RecursionError, OverflowError, MemoryError) as exc:
            raise PromptError(f"{where}: {exc}"[:300]) from None
        digest.update(name.encode() + b"\0" + where.read_bytes() + b"\0")
        messages.append(Message(role=role, content=text))  # type: ignore[arg-type]
    return RenderedMessages(messages=messages, prompt_sha256=digest.hexdigest())
