"""Errors that reach the user (the message is shown verbatim, on one line), and the Failure of an ungraded answer."""

from __future__ import annotations

from dataclasses import dataclass

from grader.vocabulary import ErrorCode


@dataclass(frozen=True)
class Failure:
    """Why an answer has no grade, typed from the client to the result, so nothing parses an error message.

    `str(failure)` is the public `error` of a grade: "<code>: <message>".
    """

    code: ErrorCode
    message: str
    retry_after: float | None = None
    """Seconds the server asked to wait before the next call (its Retry-After), None when it did not say."""
    transient: bool = False
    """Worth trying again later: a rate limit, a server error, no connection, a timeout."""
    rate_limited: bool = False
    """The server said too many requests (429): every worker should hold off, not just this one."""

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class GraderError(Exception):
    """Base class: the message is shown to the user verbatim."""


class ConfigError(GraderError):
    """Bad settings: a missing or rejected key, an unknown backend, a bad path."""


class BankError(GraderError):
    """A question bank that cannot be used: missing questions.yaml, a path escaping the bank."""


class RubricError(BankError):
    """A rubric file that does not load or validate; the message names the file and line."""


class PromptError(BankError):
    """A prompt template that does not render (syntax, undefined variable, sandbox violation)."""


class QuestionNotFound(GraderError):
    """An id that names no question in the bank."""


class InputError(GraderError):
    """An answer or data file that cannot be used (missing, binary, empty, malformed)."""


class TranscriptError(InputError):
    """A transcript that cannot be parsed; the message names file and line."""


class LLMUnavailable(GraderError):
    """The model could not be reached or answered with an error status."""

    code = ErrorCode.llm_unavailable

    def __init__(
        self, message: str, *, retry_after: float | None = None, transient: bool = False, rate_limited: bool = False
    ) -> None:
        """`retry_after` in seconds as the server gave it; `transient` when trying again later may succeed."""
        super().__init__(message)
        self.retry_after = retry_after
        self.transient = transient
        self.rate_limited = rate_limited

    @property
    def failure(self) -> Failure:
        """This error as the Failure of the answer it left ungraded."""
        return Failure(self.code, str(self), self.retry_after, self.transient, self.rate_limited)


class LLMTimeout(LLMUnavailable):
    """The model did not answer within --timeout."""

    code = ErrorCode.timeout

    def __init__(self, message: str) -> None:
        """A timeout is always worth one more try."""
        super().__init__(message, transient=True)


class BudgetExceeded(GraderError):
    """Grading more would exceed --max-cost."""
