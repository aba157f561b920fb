"""Errors that fibersim reports to the user as one line, with the exit code they map to."""

from __future__ import annotations


class FibersimError(Exception):
    """Base class: ``str(error)`` is the whole one-line message shown to the user."""

    exit_code = 1


class InputError(FibersimError):
    """Bad user input (scenario file or option): exit 2, ``file:line: field: message``."""

    exit_code = 2

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 field: str | None = None) -> None:
        self.file, self.line, self.field, self.message = file, line, field, message
        where = ""
        if file is not None:
            where = f"{file}:{line}: " if line is not None else f"{file}: "
        super().__init__(f"{where}{field + ': ' if field else ''}{message}")


class UnreachableError(FibersimError, ConnectionError):
    """The broker or the Focus Server cannot be reached: exit 3.

    A ``ConnectionError`` too, so library callers can catch it without knowing fibersim.
    """

    exit_code = 3
