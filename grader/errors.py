"""Errors that reach the user: the message is shown verbatim, on one line."""


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


class LLMTimeout(LLMUnavailable):
    """The model did not answer within --timeout."""


class BudgetExceeded(GraderError):
    """Grading more would exceed --max-cost."""
