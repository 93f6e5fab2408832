"""Domain errors. Each carries the exit code of the command contract (docs/cli.md).

Services raise these; the one error map in :mod:`slotctl.cli` turns them into a
single ``Error: ...`` line on stderr (or a JSON error object) and the exit code.
"""

from __future__ import annotations


class SlotctlError(Exception):
    """Base class: an error a user can act on."""

    exit_code, code = 1, "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidValue(SlotctlError):
    """A value that does not parse or is out of range (usage error)."""

    exit_code, code = 2, "usage"


class NotFound(SlotctlError):
    """No such exchange, slot, booking or file."""

    exit_code, code = 3, "not_found"


class Conflict(SlotctlError):
    """The request conflicts with the current state of the database."""

    exit_code, code = 4, "conflict"


class InvalidFile(SlotctlError):
    """Rows of an import file fail validation."""

    exit_code, code = 5, "invalid_file"

    def __init__(self, message: str, problems: list[tuple[int, str]] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []
        self.sheet: str | None = None  # a workbook's sheet: problems are its rows, not lines


class Unavailable(SlotctlError):
    """Database or configuration unavailable (connect, schema, lock, config file)."""

    exit_code, code = 6, "unavailable"
