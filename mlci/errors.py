"""One hierarchy for everything that stops mlci; each error knows its exit code.

Findings (policy violations, schema errors, failed gates) are *data*, not
exceptions. An exception means mlci could not do what it was asked.
"""

from __future__ import annotations

from dataclasses import dataclass

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USER_ERROR = 2
EXIT_UNDECIDED = 3
EXIT_OUT_OF_DATE = 4


class MlciError(Exception):
    """Base class; `exit_code` decides what the CLI returns."""

    exit_code = EXIT_UNDECIDED

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UserError(MlciError):
    """The user's input cannot be used: bad YAML, missing file, bad option."""

    exit_code = EXIT_USER_ERROR


@dataclass(frozen=True)
class Location:
    file: str
    line: int = 1
    column: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class InputError(UserError):
    """A problem at a position in a file the user wrote."""

    def __init__(self, location: Location, problem: str) -> None:
        super().__init__(f"{location}: {problem}")
        self.location = location
        self.problem = problem


class UndecidedError(MlciError):
    """mlci could not reach a decision: engine error, server down, undefined result."""

    exit_code = EXIT_UNDECIDED


class PolicyEngineError(UndecidedError):
    def __init__(self, engine: str, problem: str) -> None:
        super().__init__(f"policy engine {engine!r} could not decide: {problem}")


class GeneratedFileConflict(UserError):
    """A file mlci would write exists and was not written by mlci (or was edited by hand)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}; mlci will not overwrite it (move it away, or pass --force)")
