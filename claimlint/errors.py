"""The one error family claimlint shows its users.

Every error a user can cause (a bad rulebook, a bad input file, a bad option) is a
`ClaimlintError`; the CLI prints it and exits 2. Anything else reaching the top is a bug.
"""

from __future__ import annotations

import attrs


@attrs.frozen
class Position:
    """A place in a text file: 1-based line and column, with an optional end."""

    file: str
    line: int
    column: int
    end_line: int | None = None
    end_column: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@attrs.frozen
class Diagnostic:
    """One message about a place: what is wrong, and how to mend it when we know."""

    message: str
    position: Position | None = None
    hint: str | None = None
    source_line: str | None = None

    def render(self) -> str:
        """The message as a compiler prints it: place, message, source line, caret, hint."""
        head = f"{self.position}: {self.message}" if self.position else self.message
        parts = [head]
        if self.position is not None and self.source_line is not None:
            line = self.source_line.rstrip("\n")
            width = 1
            if self.position.end_line == self.position.line and self.position.end_column:
                width = max(1, self.position.end_column - self.position.column)
            parts.append(f"  | {line}")
            parts.append("  | " + " " * (self.position.column - 1) + "^" * width)
        if self.hint:
            parts.append(f"  = aide : {self.hint}")
        return "\n".join(parts)


class ClaimlintError(Exception):
    """A user's mistake, carrying one or more diagnostics."""

    def __init__(self, diagnostics: list[Diagnostic] | Diagnostic | str):
        if isinstance(diagnostics, str):
            diagnostics = [Diagnostic(diagnostics)]
        elif isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics: list[Diagnostic] = list(diagnostics)
        super().__init__(self.render())

    def render(self) -> str:
        return "\n\n".join(d.render() for d in self.diagnostics)


class RulebookError(ClaimlintError):
    """The rulebook cannot be parsed or does not check."""


class InputError(ClaimlintError):
    """An input file cannot be read as a whole (missing columns, unknown encoding, ...)."""


class EvaluationError(ClaimlintError):
    """A checked rulebook met data it cannot decide on (e.g. a broken unique-hit table)."""


def engine_detail(err: BaseException) -> str:
    """An embedded engine's error as a user reads it: its first line. DuckDB follows it with
    the statement it was running and a caret under it, claimlint's own SQL, which tells the
    user nothing about their file."""
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__
