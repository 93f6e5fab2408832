"""Domain errors. Each carries the exit code of the command contract (CLI.md).

Services raise these; the one error map in :mod:`slotctl.cli` turns them into a
single ``Error: ...`` line on stderr (or a JSON error object) and the exit code.
"""

from __future__ import annotations


class SlotctlError(Exception):
    """Base class: an error a user can act on."""

    exit_code = 1
    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidValue(SlotctlError):
    """A value that does not parse or is out of range (usage error)."""

    exit_code = 2
    code = "usage"


class NotFound(SlotctlError):
    """No such exchange, slot, booking or file."""

    exit_code = 3
    code = "not_found"


class Conflict(SlotctlError):
    """The request conflicts with the current state of the database."""

    exit_code = 4
    code = "conflict"


class InvalidFile(SlotctlError):
    """Rows of an import file fail validation."""

    exit_code = 5
    code = "invalid_file"

    def __init__(self, message: str, problems: list[tuple[int, str]] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class Unavailable(SlotctlError):
    """Database or configuration unavailable (connect, schema, lock, config file)."""

    exit_code = 6
    code = "unavailable"
