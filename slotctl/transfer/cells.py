"""The shared cell layer of imports: reading rows, parsing cells, reporting bad rows."""

from __future__ import annotations

import heapq
import io
import json
import re
import tempfile
import uuid as uuid_module
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date, datetime
from typing import IO, Any, Protocol, TypeVar

from slotctl.bounds import Bound, check_date
from slotctl.domain import clean_text
from slotctl.domain import email as check_email
from slotctl.errors import InvalidFile, InvalidValue
from slotctl.parsing import parse_instant, parse_time
from slotctl.tabular import Row, Source, check_header, read_rows
from slotctl.transfer.export import FIELDS
from slotctl.wording import counted

REQUIRED: dict[str, Sequence[str | tuple[str, ...]]] = {
    "exchanges": ("slug", "name"),
    "hours": ("exchange", ("weekday", "day"), "opens_at", "closes_at"),
    "closures": ("exchange", "starts_on"),
    "slots": ("exchange", ("starts_at+ends_at", "date+start+end"), "max_capacity"),
    "bookings": ("slot", "customer_name", "customer_email"),
    "tickets": ("number", "exchange", "customer_name", "arrived_at"),
    "waitlist": ("exchange", "customer_name", "customer_email", "from", "to"),
}
BATCH = 2_000  # rows parsed between slot look-ups and staging loads
CACHE_KIB = 8_192  # SQLite page cache while importing: bounded memory whatever the file
MAX_PROBLEMS_SHOWN = 1000  # problems kept for the report; the count is always exact

T = TypeVar("T")
WHOLE_NUMBER = re.compile(r"^[+-]?[0-9]{1,20}$")


Change = tuple[str, str, Any, Any]  # record, field, old value, new value (JSON types)
CHANGE_FIELDS = ("record", "field", "old", "new")


class Changes:
    """What an import changes in the records it updates, one ``(record, field, old,
    new)`` per changed field, in the order of the file. Up to :attr:`KEPT` of them stay
    in memory, the rest go to a temporary file (JSON lines), so an import that changes
    millions of fields still runs in flat memory; iterating reads them back in order."""

    KEPT = 10_000

    def __init__(self) -> None:
        self.count = 0
        self._kept: list[Change] = []
        self._spilled: IO[str] | None = None

    def add(self, record: str, field: str, old: Any, new: Any) -> None:
        self.count += 1
        self._kept.append((record, field, old, new))
        if len(self._kept) >= self.KEPT:
            if self._spilled is None:
                self._spilled = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115
            self._spilled.writelines(json.dumps(change) + "\n" for change in self._kept)
            self._kept.clear()

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[Change]:
        if self._spilled is not None:
            self._spilled.flush()
            self._spilled.seek(0)
            for line in self._spilled:
                record, field, old, new = json.loads(line)
                yield record, field, old, new
            self._spilled.seek(0, io.SEEK_END)
        yield from list(self._kept)

    def records(self) -> Iterator[dict[str, Any]]:
        """The changes as the import result's JSON objects."""
        for record, field, old, new in self:
            yield {"record": record, "field": field, "old": old, "new": new}


@dataclass
class ImportResult:
    kind: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    dry_run: bool = False
    changes: Changes = dataclass_field(default_factory=Changes)  # of the updated records

    def counts(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "dry_run": self.dry_run,
        }

    def record(self) -> dict[str, Any]:
        """The import result's JSON object (its changes read into memory)."""
        return {**self.counts(), "changes": list(self.changes.records())}


class Problems:
    """Bad rows, in line order when reported: each row on one line, every reason found
    for it (by the row's parse and by the whole-file checks after it) joined there."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.rows: dict[int, list[str]] = {}  # the reasons of the first bad rows, by line
        self.last: list[int] = []  # a heap of those lines, negated: the last one first
        self.lines: set[int] = set()

    @property
    def count(self) -> int:
        return len(self.lines)

    def add(self, line: int, message: str) -> None:
        self.lines.add(line)
        reasons = self.rows.get(line)
        if reasons is not None:
            if message not in reasons:
                reasons.append(message)
            return
        if len(self.rows) >= MAX_PROBLEMS_SHOWN:  # keep the first rows of the file
            if line > -self.last[0]:
                return
            del self.rows[-heapq.heappop(self.last)]
        self.rows[line] = [message]
        heapq.heappush(self.last, -line)

    def extend(self, items: Iterable[tuple[int, str]]) -> None:
        for line, message in items:
            self.add(line, message)

    def raise_if_any(self) -> None:
        if not self.count:
            return
        shown = [(line, SEPARATOR.join(self.rows[line])) for line in sorted(self.rows)]
        more = "" if len(shown) == self.count else f" (the first {len(shown):,} are listed)"
        raise InvalidFile(
            f"{counted(self.count, 'bad row')} in the {self.what} file; nothing was imported{more}",
            shown,
        )


SEPARATOR = "; "  # between the reasons of one bad row


class Reasons:
    """Every reason one row is bad: each cell parsed on its own, a failure noted and the
    next cell parsed. The parse of a small record type, and the second look at a row of
    a big one whose fast parse stopped at its first bad cell."""

    def __init__(self) -> None:
        self.found: list[str] = []

    def __call__(self, parse: Callable[..., T], *args: Any) -> T | None:
        """``parse(*args)``, or None when it refuses the cell (its reason noted)."""
        try:
            return parse(*args)
        except InvalidValue as exc:
            self.add(exc.message)
            return None

    def add(self, message: str) -> None:
        if message not in self.found:
            self.found.append(message)

    def raise_if_any(self) -> None:
        if self.found:
            raise BadRow(self.found)


class BadRow(InvalidValue):
    """A row's reasons, all of them (``message`` joins them)."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(SEPARATOR.join(reasons))
        self.reasons = reasons


def add_reasons(problems: Problems, line: int, exc: InvalidValue) -> None:
    """The reasons of a refused row (a :class:`BadRow`'s each, else the one) to ``problems``."""
    for reason in exc.reasons if isinstance(exc, BadRow) else (exc.message,):
        problems.add(line, reason)


# Cell parsers: each raises InvalidValue with the reason -------------------------------


CANONICAL_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# Years 1900 to 2199 (the rest of the range takes the checked path: slotctl.bounds).
CANONICAL_INSTANT = re.compile(r"^(19|2[01])\d\d-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00$")


def cell_uuid(text: str, column: str | None = None) -> str:
    """A uuid (the ``uuid`` cell; another ``column`` is named in the refusal)."""
    if CANONICAL_UUID.match(text):
        return text
    try:
        return str(uuid_module.UUID(text.strip()))
    except ValueError:
        named = f"{column}: " if column else ""
        raise InvalidValue(f"{named}invalid uuid {text!r}") from None


def cell_instant(text: str, column: str) -> datetime:
    return parse_instant(text, f"{column}: {text!r}")


def cell_optional_instant(text: str, column: str) -> datetime | None:
    return cell_instant(text, column) if text.strip() else None


def cell_date(text: str, column: str) -> date:
    try:
        value = date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidValue(f"{column}: invalid date {text!r}: use YYYY-MM-DD") from None
    return check_date(value, column)


def cell_int(text: str, column: str, bound: Bound) -> int:
    value = text.strip()
    if not WHOLE_NUMBER.match(value):
        raise InvalidValue(f"{column}: {text[:40]!r} is not a whole number")
    return bound.check(int(value), column)


def cell_time(text: str, column: str, closing: bool = False) -> int:
    """A clock time, ``HH:MM`` (also ``24:00`` when ``closing``), in minutes."""
    try:
        return parse_time(text, allow_end_of_day=closing)
    except InvalidValue as exc:
        raise InvalidValue(f"{column}: {exc.message}") from None


_TRUE = {"true", "yes", "1", "y", "t"}
_FALSE = {"false", "no", "0", "n", "f"}


def cell_bool(text: str, column: str) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise InvalidValue(f"{column}: {text!r} is not true or false")


def cell_text(text: str, column: str, limit: int, *, required: bool = False) -> str | None:
    """A free-text cell, cleaned as the commands clean typed text (notes keep their
    lines); an empty cell is None, or refused when ``required``."""
    return clean_text(
        text if text.strip() else None,
        column,
        limit,
        required=required,
        multiline=column == "notes",
    )


_LOCAL_PART = re.compile(r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")


class Emails:
    """Email validation for millions of rows: a plain ASCII address is checked by a
    strict pattern for its local part and by ``email-validator`` once per domain;
    anything else goes through ``email-validator`` whole."""

    def __init__(self) -> None:
        self.domains: dict[str, str | None] = {}  # domain -> normalised, or None if invalid

    def __call__(self, text: str) -> str:

        value = text.strip().lower()
        local, at, domain = value.rpartition("@")
        if at and len(local) <= 64 and len(value) <= 254 and _LOCAL_PART.match(local):
            known = self.domains.get(domain, "")
            if known == "":
                try:
                    known = check_email(f"a@{domain}").partition("@")[2]
                except InvalidValue:
                    known = None
                if len(self.domains) > 10_000:
                    self.domains.clear()
                self.domains[domain] = known
            if known is not None:
                return f"{local}@{known}"
        return check_email(text)


# Reading and staging --------------------------------------------------------------------


def file_rows(
    stream: Source, kind: str, problems: Problems, header: list[str] | None = None
) -> Iterator[Row]:
    columns, rows = read_rows(stream, kind)
    check_header(columns, FIELDS[kind], REQUIRED[kind], kind)
    if header is not None:
        header.extend(columns)
    for row in rows:
        if isinstance(row, tuple):
            problems.add(*row)
        else:
            yield row


class RowParser(Protocol):
    """A row to its staging tuple, raising InvalidValue at its first bad cell; and
    ``reasons``: every reason a row is bad (the slow path, for a row that failed)."""

    def __call__(self, row: Row) -> tuple[Any, ...]: ...

    def reasons(self, row: Row) -> list[str]: ...


def parsed_rows(
    rows: Iterable[Row], parse: RowParser, problems: Problems
) -> Iterator[tuple[Any, ...]]:
    for row in rows:
        try:
            yield parse(row)
        except InvalidValue as exc:
            for reason in parse.reasons(row) or [exc.message]:
                problems.add(row.line, reason)
