"""Import: CSV files of every record type, validated whole, written in one transaction.

Every row is checked before anything is written; all bad rows are reported
with their line numbers (exit 5) and nothing is written. Otherwise records
whose ``uuid`` exists are updated (only when something differs, so importing
the same file twice changes nothing), the rest are inserted, in the caller's
one transaction.

Slots and bookings can number millions, so they are never held in Python:
each row is parsed and checked on its own, then *staged* into a temporary
table (``executemany`` on SQLite, ``COPY`` on PostgreSQL), and the checks that
need the whole picture — duplicates, unknown slots, overlaps, capacity — and
the writes are set-based SQL over that table. Memory stays flat whatever the
file's size. (Booking import writes in a savepoint and runs its whole-file
checks only when a constraint refuses the write: see :func:`import_bookings`.)
Exchanges, hours and closures are small by nature and go through the ORM with
the same validation as the commands that create them.

Derived columns (a booking's exchange and times, a slot's counters, seats and
status) are optional and ignored: they are recomputed from the records they
derive from. Booking import recomputes the counters of every slot it touches
and refuses rows that would overbook a slot, like bad rows.
"""

from __future__ import annotations

import re
import secrets
import uuid as uuid_module
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import islice, pairwise
from typing import IO, Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from slotctl import clock
from slotctl.db.bulk import sqlite_datetime, uuid4_strings
from slotctl.db.engine import first_line
from slotctl.db.models import (
    ACTIVE_STATUSES,
    BOOKING_STATUSES,
    SEAT_HOLDING_STATUSES,
    BusinessHours,
    Closure,
    Exchange,
)
from slotctl.errors import Conflict, InvalidFile, InvalidValue, Unavailable
from slotctl.parsing import format_time, parse_days, parse_time, validate_timezone
from slotctl.services.exchanges import EXCHANGE_FIELDS
from slotctl.services.export import FIELDS
from slotctl.services.records import BOOKING_FIELDS
from slotctl.tabular import Row, check_header, decode_cell, read_cells, read_rows

REQUIRED: dict[str, Sequence[str | tuple[str, ...]]] = {
    "exchanges": ("slug", "name"),
    "hours": ("exchange", ("weekday", "day"), "opens_at", "closes_at"),
    "closures": ("exchange", "starts_on"),
    "slots": ("exchange", ("starts_at+ends_at", "date+start+end"), "max_capacity"),
    "bookings": ("slot", "customer_name", "customer_email"),
}
BATCH = 2_000  # staged rows per executemany (memory stays flat)
CACHE_KIB = 8_192  # SQLite page cache while importing: bounded memory whatever the file
MAX_PROBLEMS_SHOWN = 1000  # problems kept for the report; the count is always exact


@dataclass
class ImportResult:
    kind: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    dry_run: bool = False

    def record(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "dry_run": self.dry_run,
        }


class Problems:
    """Bad rows, in line order when reported."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.items: list[tuple[int, str]] = []
        self.lines: set[int] = set()

    @property
    def count(self) -> int:
        return len(self.lines)

    def add(self, line: int, message: str) -> None:
        self.lines.add(line)
        if len(self.items) < MAX_PROBLEMS_SHOWN:
            self.items.append((line, message))

    def extend(self, items: Iterable[tuple[int, str]]) -> None:
        for line, message in items:
            self.add(line, message)

    def raise_if_any(self) -> None:
        if not self.count:
            return
        shown = sorted(set(self.items))
        more = (
            ""
            if len(self.items) < MAX_PROBLEMS_SHOWN
            else f" (the first {len(shown)} problems are listed)"
        )
        raise InvalidFile(
            f"{self.count} bad rows in the {self.what} file; nothing was imported{more}",
            shown,
        )


# Cell parsers: each raises InvalidValue with the reason -------------------------------


_CANONICAL_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_CANONICAL_INSTANT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00$")


def _uuid(text: str) -> str:
    if _CANONICAL_UUID.match(text):
        return text
    try:
        return str(uuid_module.UUID(text.strip()))
    except ValueError:
        raise InvalidValue(f"invalid uuid {text!r}") from None


def _instant(text: str, column: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidValue(
            f"{column}: invalid time {text!r}: use ISO 8601 with an offset,"
            " e.g. 2027-03-22T09:00:00+01:00"
        ) from None
    if value.tzinfo is None:
        raise InvalidValue(f"{column}: {text!r} has no UTC offset (add +00:00 or Z)")
    return value.astimezone(UTC)


def _optional_instant(text: str, column: str) -> datetime | None:
    return _instant(text, column) if text.strip() else None


def _date(text: str, column: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidValue(f"{column}: invalid date {text!r}: use YYYY-MM-DD") from None


def _int(text: str, column: str, minimum: int = 0) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise InvalidValue(f"{column}: {text!r} is not a whole number") from None
    if value < minimum:
        raise InvalidValue(f"{column}: {value} is below {minimum}")
    return value


_TRUE = {"true", "yes", "1", "y", "t"}
_FALSE = {"false", "no", "0", "n", "f"}


def _bool(text: str, column: str) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise InvalidValue(f"{column}: {text!r} is not true or false")


def _text(text: str, column: str, limit: int, *, required: bool = False) -> str | None:
    value = text if column == "notes" else " ".join(text.split())
    if not value.strip():
        if required:
            raise InvalidValue(f"{column} is required")
        return None
    if len(value) > limit:
        raise InvalidValue(f"{column} is longer than {limit} characters")
    return value


_LOCAL_PART = re.compile(r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")


class Emails:
    """Email validation for millions of rows: a plain ASCII address is checked by a
    strict pattern for its local part and by ``email-validator`` once per domain;
    anything else goes through ``email-validator`` whole."""

    def __init__(self) -> None:
        self.domains: dict[str, str | None] = {}  # domain -> normalised, or None if invalid

    def __call__(self, text: str) -> str:
        from slotctl.services.bookings import normalise_email

        value = text.strip().lower()
        local, at, domain = value.rpartition("@")
        if at and len(local) <= 64 and len(value) <= 254 and _LOCAL_PART.match(local):
            known = self.domains.get(domain, "")
            if known == "":
                try:
                    known = normalise_email(f"a@{domain}").partition("@")[2]
                except InvalidValue:
                    known = None
                if len(self.domains) > 10_000:
                    self.domains.clear()
                self.domains[domain] = known
            if known is not None:
                return f"{local}@{known}"
        return normalise_email(text)


# Reading and staging --------------------------------------------------------------------


def _rows(
    stream: IO[str], kind: str, problems: Problems, header: list[str] | None = None
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


def _parsed(
    rows: Iterable[Row], parse: Callable[[Row], tuple[Any, ...]], problems: Problems
) -> Iterator[tuple[Any, ...]]:
    for row in rows:
        try:
            yield parse(row)
        except InvalidValue as exc:
            problems.add(row.line, exc.message)


class Refused(Conflict):
    """A database constraint refused the import's write (exit 4)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"the file conflicts with the current data: {reason}")
        self.reason = reason


class _Stage:
    """A temporary table on the session's connection, filled in batches."""

    def __init__(self, connection: Connection, name: str, columns: Sequence[tuple[str, str]]):
        self.connection = connection
        self.name = name
        self.columns = [c for c, _ in columns]
        self.sqlite = connection.dialect.name == "sqlite"
        raw = self.raw
        types = {"ts": "TEXT" if self.sqlite else "timestamptz", "text": "TEXT", "int": "INTEGER"}
        ddl = ", ".join(f"{column} {types[kind]}" for column, kind in columns)
        cursor = raw.cursor()
        if self.sqlite:
            cursor.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            cursor.execute(f"DROP TABLE IF EXISTS temp.{name}")
            cursor.execute(f"CREATE TEMP TABLE {name} ({ddl})")
        else:
            cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{name}")
            cursor.execute(f"CREATE TEMP TABLE {name} ({ddl}) ON COMMIT DROP")
        cursor.close()

    @property
    def raw(self) -> Any:
        return self.connection.connection.driver_connection

    def stamp(self, value: datetime | None) -> Any:
        if value is None or not self.sqlite:
            return value
        return sqlite_datetime(value)

    def instant(self, text: str, column: str) -> Any:
        """An ISO 8601 cell as this database stores it (None when empty).

        The form slotctl exports (UTC, ``+00:00``) is rewritten as text after the
        checked parse, without datetime arithmetic: millions of rows go through here.
        """
        if not text:
            return None
        if _CANONICAL_INSTANT.match(text):
            try:
                datetime.fromisoformat(text)  # a real date and time
            except ValueError:
                pass  # reported below
            else:
                if not self.sqlite:
                    return text  # PostgreSQL reads ISO 8601 itself
                return (
                    text[:10] + " " + text[11:19] + (text[19:26] if len(text) == 32 else ".000000")
                )
        return self.stamp(_instant(text, column))

    def load(self, rows: Iterable[tuple[Any, ...]], width: int | None = None) -> int:
        """Insert the rows (tuples of the first ``width`` columns; the rest stay null)."""
        count = 0
        columns = self.columns[: width or len(self.columns)]
        names = ", ".join(columns)
        if self.sqlite:
            marks = ", ".join("?" for _ in columns)
            insert = f"INSERT INTO {self.name} ({names}) VALUES ({marks})"
            cursor = self.raw.cursor()
            batch: list[tuple[Any, ...]] = []
            for row in rows:
                batch.append(row)
                if len(batch) >= BATCH:
                    cursor.executemany(insert, batch)
                    count += len(batch)
                    batch.clear()
            if batch:
                cursor.executemany(insert, batch)
                count += len(batch)
            cursor.close()
            return count
        # A batch is gathered before its COPY: producing rows may query the connection
        # (slot lookups), which must not happen while a COPY is in progress on it.
        iterator = iter(rows)
        with self.raw.cursor() as cursor:
            while batch := list(islice(iterator, BATCH * 5)):
                with cursor.copy(f"COPY {self.name} ({names}) FROM STDIN") as copy:
                    for row in batch:
                        copy.write_row(row)
                count += len(batch)
        return count

    def sql(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement (``?`` placeholders) on the raw connection; its rows.

        Driver errors become domain errors: a constraint refusing a write is
        :class:`Refused` (exit 4), a lock or lost connection :class:`Unavailable` (6).
        """
        dbapi: Any = self.connection.dialect.loaded_dbapi
        cursor = self.raw.cursor()
        try:
            if not params:
                cursor.execute(statement)
            elif self.sqlite:
                cursor.execute(statement, tuple(params))
            else:
                cursor.execute(statement.replace("?", "%s"), tuple(params))
            return list(cursor.fetchall()) if cursor.description else []
        except dbapi.IntegrityError as exc:
            raise Refused(first_line(exc)) from exc
        except dbapi.OperationalError as exc:
            raise Unavailable(f"the database refused the import: {first_line(exc)}") from exc
        finally:
            cursor.close()

    def slot_ids(self, uuids: Iterable[str]) -> dict[str, tuple[int, int]]:
        """``uuid -> (id, exchange_id)`` of these slots (those that exist)."""
        found: dict[str, tuple[int, int]] = {}
        wanted = list(uuids)
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            for uuid, id_, exchange_id in self.sql(
                f"SELECT uuid, id, exchange_id FROM time_slots WHERE uuid IN ({marks})", chunk
            ):
                found[uuid] = (id_, exchange_id)
        return found

    def unique_index(self, column: str) -> bool:
        """Index ``column``: unique if its values are (True), else a plain index (False)."""
        self.sql("SAVEPOINT slotctl_unique")
        try:
            self.sql(f"CREATE UNIQUE INDEX {self.name}_{column} ON {self.name} ({column})")
        except Refused:
            self.sql("ROLLBACK TO SAVEPOINT slotctl_unique")
            self.sql(f"CREATE INDEX {self.name}_{column} ON {self.name} ({column})")
            return False
        finally:
            self.sql("RELEASE SAVEPOINT slotctl_unique")
        return True

    def drop(self) -> None:
        self.sql(f"DROP TABLE IF EXISTS {self.name}")

    def distinct(self, a: str, b: str) -> str:
        return f"{a} IS NOT {b}" if self.sqlite else f"{a} IS DISTINCT FROM {b}"


def _duplicates(stage: _Stage, column: str, label: str) -> list[tuple[int, str]]:
    rows = stage.sql(
        f"SELECT st.line, st.{column}, d.first FROM {stage.name} st JOIN"
        f" (SELECT {column} AS value, min(line) AS first FROM {stage.name}"
        f" WHERE {column} IS NOT NULL GROUP BY {column} HAVING count(*) > 1) d"
        f" ON d.value = st.{column} WHERE st.line > d.first"
    )
    return [
        (line, f"duplicate {label} {value} (also on line {first})") for line, value, first in rows
    ]


def _in(values: Sequence[str]) -> str:
    return ", ".join(f"'{value}'" for value in values)


def _lock_slots(stage: _Stage, ids: str) -> None:
    """PostgreSQL: lock these slots (in id order, as ``bookings move`` does) until the
    import commits: seats are taken and released only under a slot's row lock, so the
    checks stay true while bookers wait. SQLite's IMMEDIATE transaction already holds
    the database's write lock."""
    if not stage.sqlite:
        stage.sql(f"SELECT id FROM time_slots WHERE id IN ({ids}) ORDER BY id FOR UPDATE")


# Bookings ---------------------------------------------------------------------------------

_BOOKING_STAGE = (
    ("line", "int"),
    ("uuid", "text"),
    ("reference", "text"),
    ("ref_given", "int"),
    ("slot_uuid", "text"),
    ("customer_name", "text"),
    ("customer_email", "text"),
    ("customer_phone", "text"),
    ("notes", "text"),
    ("status", "text"),
    ("created_at", "ts"),
    ("updated_at", "ts"),
    ("confirmed_at", "ts"),
    ("completed_at", "ts"),
    ("cancelled_at", "ts"),
    ("cancellation_reason", "text"),
    ("slot_id", "int"),
    ("exchange_id", "int"),
    ("existing_id", "int"),
    ("old_status", "text"),
    ("old_slot_id", "int"),
    ("changed", "int"),
)
_BOOKING_PARSED = 18  # columns the parser fills (slot_id and exchange_id included)
# A booking's own columns: its fields less the uuid and those derived from its slot.
_BOOKING_COLUMNS = tuple(
    f for f in BOOKING_FIELDS if f not in ("uuid", "exchange", "slot", "starts_at", "ends_at")
)
_STAMPS = ("created_at", "updated_at")
_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,15}$")


class _BookingParser:
    """One bookings row (cells by position) to its staging tuple, or InvalidValue.

    The hot loop of an import of millions of rows: only free-text cells are
    un-neutralised, canonical uuids and instants skip the general parsers.
    """

    def __init__(self, columns: list[str], stage: _Stage, now: datetime) -> None:
        from slotctl.services.bookings import validate_phone

        index = {column: i for i, column in enumerate(columns)}
        self.i = {column: index.get(column, -1) for column in FIELDS["bookings"]}
        self.emails = Emails()
        self.instant = stage.instant
        self.now = stage.stamp(now)
        self.fresh_uuids: list[str] = []
        self.validate_phone = validate_phone
        self.times = [
            (self.i[c], c)
            for c in ("created_at", "updated_at", "confirmed_at", "completed_at", "cancelled_at")
        ]

    def text(self, cells: list[str], column: str) -> str:
        i = self.i[column]
        if i < 0:
            return ""
        value = cells[i]
        return decode_cell(value) if value[:1] == "'" else value

    def plain(self, cells: list[str], column: str) -> str:
        i = self.i[column]
        return cells[i].strip() if i >= 0 else ""

    def uuid(self, cells: list[str]) -> str:
        uuid = self.plain(cells, "uuid")
        if not uuid:
            if not self.fresh_uuids:
                self.fresh_uuids.extend(uuid4_strings(1000))
            return self.fresh_uuids.pop()
        return uuid if _CANONICAL_UUID.match(uuid) else _uuid(uuid)

    def status(self, cells: list[str]) -> str | None:
        status = self.plain(cells, "status").lower()
        if status in BOOKING_STATUSES:
            return status
        if not status:
            return None  # kept for an existing booking, pending for a new one
        status = status.replace("-", "_")
        if status not in BOOKING_STATUSES:
            raise InvalidValue(f"unknown status {status!r}: use {', '.join(BOOKING_STATUSES)}")
        return status

    def __call__(self, line: int, cells: list[str]) -> tuple[Any, ...]:
        from slotctl.services.bookings import _draw_reference

        uuid = self.uuid(cells)
        reference = self.plain(cells, "reference")
        if reference and not _REFERENCE.match(reference):
            raise InvalidValue(f"invalid reference {reference!r}: up to 16 letters and digits")
        status = self.status(cells)
        slot = self.plain(cells, "slot")
        if not slot:
            raise InvalidValue("slot is required")
        if not _CANONICAL_UUID.match(slot):
            slot = _uuid(slot)
        email = self.text(cells, "customer_email")
        if not email.strip():
            raise InvalidValue("customer_email is required")
        phone = self.text(cells, "customer_phone")
        instant = self.instant
        times = [instant(cells[i], c) if i >= 0 and cells[i] else None for i, c in self.times]
        return (
            line,
            uuid,
            reference or _draw_reference(),
            1 if reference else 0,
            slot,
            _text(self.text(cells, "customer_name"), "customer_name", 200, required=True),
            self.emails(email),
            self.validate_phone(phone) if phone else None,
            _text(self.text(cells, "notes"), "notes", 2000),
            status,
            times[0],  # created_at and updated_at: null when not given (see import_bookings)
            times[1],
            times[2],
            times[3],
            times[4],
            _text(self.text(cells, "cancellation_reason"), "cancellation_reason", 200),
        )


def _booking_rows(
    stream: IO[str],
    stage: _Stage,
    now: datetime,
    problems: Problems,
    header: list[str],
    refused: dict[str, int],
) -> Iterator[tuple[Any, ...]]:
    """Every good row of a bookings file as a staging tuple, its slot resolved to ids a
    batch at a time; bad rows go to ``problems`` (and their uuids to ``refused``, so
    that a good row repeating one is reported too); the file's columns to ``header``."""
    columns, rows = read_cells(stream, "bookings")
    check_header(columns, FIELDS["bookings"], REQUIRED["bookings"], "bookings")
    header.extend(columns)
    parse = _BookingParser(columns, stage, now)
    slots: dict[str, tuple[int, int]] = {}
    batch: list[tuple[Any, ...]] = []
    for line, cells in rows:
        if isinstance(cells, str):
            problems.add(line, cells)
            continue
        try:
            batch.append(parse(line, cells))
        except InvalidValue as exc:
            problems.add(line, exc.message)
            uuid = parse.plain(cells, "uuid").lower()
            if uuid:
                if uuid in refused:
                    problems.add(line, f"duplicate uuid {uuid} (also on line {refused[uuid]})")
                refused.setdefault(uuid, line)
            continue
        if len(batch) >= BATCH:
            yield from _with_slots(batch, slots, stage, problems, refused)
    yield from _with_slots(batch, slots, stage, problems, refused)


def _with_slots(
    batch: list[tuple[Any, ...]],
    slots: dict[str, tuple[int, int]],
    stage: _Stage,
    problems: Problems,
    refused: dict[str, int],
) -> Iterator[tuple[Any, ...]]:
    """The batch's rows with ``(slot_id, exchange_id)`` appended (a cache of known slots
    saves the lookups); rows whose slot does not exist are reported. Empties the batch."""
    wanted = {row[4] for row in batch if row[4] not in slots}
    if wanted:
        if len(slots) > 100_000:
            slots.clear()
        slots.update(stage.slot_ids(wanted))
    for row in batch:
        found = slots.get(row[4])
        if found is None:
            problems.add(row[0], f"no slot with uuid {row[4]}")
            refused.setdefault(row[1], row[0])
            continue
        yield (*row, *found)
    batch.clear()


def import_bookings(
    session: Session, stream: IO[str], *, actor: str, dry_run: bool = False
) -> ImportResult:
    """Import a bookings file (see the module's docstring).

    The checks that need the whole picture (references, a customer's active booking,
    capacity) are also the database's own constraints, so a file that breaks none of
    them is written without running them: inside a savepoint, and on a constraint
    violation, or with bad rows already found, or on a dry run, the checks run as SQL
    over the staged rows and every bad row is reported, nothing written.
    """
    now = clock.now()
    problems = Problems("bookings")
    stage = _Stage(session.connection(), "import_bookings", _BOOKING_STAGE)
    header: list[str] = []
    refused: dict[str, int] = {}
    stage.load(_booking_rows(stream, stage, now, problems, header, refused), _BOOKING_PARSED)
    st = stage.name
    _repeated_refused(stage, refused, problems)
    _lock_slots(stage, f"SELECT slot_id FROM {st}")
    # With no booking in the database (a fresh import), the checks against it are skipped.
    has_bookings = bool(stage.sql("SELECT 1 FROM bookings LIMIT 1"))
    if not stage.unique_index("uuid"):
        problems.extend(_duplicates(stage, "uuid", "uuid"))
    if has_bookings:
        stage.sql(
            f"UPDATE {st} SET existing_id = b.id, old_status = b.status,"
            f" old_slot_id = b.time_slot_id FROM bookings b WHERE b.uuid = {st}.uuid"
        )
        # A booking the file moves elsewhere releases a seat in its old slot: lock that too.
        _lock_slots(stage, f"SELECT old_slot_id FROM {st} WHERE old_slot_id IS NOT NULL")
        # A booking keeps its status when the file gives none (no column, or a blank cell).
        stage.sql(f"UPDATE {st} SET status = old_status WHERE status IS NULL")
    stage.sql(f"UPDATE {st} SET status = 'pending' WHERE status IS NULL")
    if stage.sql(f"SELECT 1 FROM {st} WHERE ref_given = 0 LIMIT 1"):
        _redraw_references(stage)
    if problems.count or dry_run:
        _diagnose_bookings(stage, problems, has_bookings)
        problems.raise_if_any()

    # Only the columns the file has are compared and updated: a column left out keeps
    # its value (created_at and updated_at also when their cell is empty).
    updatable = [c for c in _BOOKING_COLUMNS if c in header]
    result = ImportResult("bookings", dry_run=dry_run)
    if has_bookings:
        differs = " OR ".join(
            [
                f"(st.{c} IS NOT NULL AND {stage.distinct(f'b.{c}', f'st.{c}')})"
                if c in _STAMPS
                else f"(st.ref_given = 1 AND {stage.distinct('b.reference', 'st.reference')})"
                if c == "reference"
                else stage.distinct(f"b.{c}", f"st.{c}")
                for c in updatable
            ]
            + [stage.distinct("b.time_slot_id", "st.slot_id")]
        )
        stage.sql(
            f"UPDATE {st} AS st SET changed = 1 FROM bookings b"
            f" WHERE b.id = st.existing_id AND ({differs})"
        )
    ((total, result.created, result.updated),) = stage.sql(
        "SELECT count(*), COALESCE(sum(CASE WHEN existing_id IS NULL THEN 1 ELSE 0 END), 0),"
        f" COALESCE(sum(CASE WHEN changed = 1 THEN 1 ELSE 0 END), 0) FROM {st}"
    )
    result.unchanged = total - result.created - result.updated
    if dry_run or total == result.unchanged:
        stage.drop()
        return result

    stage.sql("SAVEPOINT slotctl_import")
    try:
        _write_bookings(stage, result, updatable, stage.stamp(now), actor)
    except Refused:
        stage.sql("ROLLBACK TO SAVEPOINT slotctl_import")
        _diagnose_bookings(stage, problems, has_bookings)
        problems.raise_if_any()
        raise
    stage.sql("RELEASE SAVEPOINT slotctl_import")
    return result  # the staging table goes with the connection (or the commit, on PostgreSQL)


def _repeated_refused(stage: _Stage, refused: dict[str, int], problems: Problems) -> None:
    """Good rows whose uuid a bad row also has are duplicates too."""
    wanted = list(refused)
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        marks = ", ".join("?" for _ in chunk)
        for line, uuid in stage.sql(
            f"SELECT line, uuid FROM {stage.name} WHERE uuid IN ({marks})", chunk
        ):
            first, second = sorted((line, refused[uuid]))
            problems.add(second, f"duplicate uuid {uuid} (also on line {first})")


def _write_bookings(
    stage: _Stage, result: ImportResult, updatable: list[str], stamp: Any, actor: str
) -> None:
    """Update the changed bookings, insert the new ones, write their events, recount."""
    st = stage.name
    if result.updated:
        assignments = [
            f"{c} = COALESCE(st.{c}, bookings.{c})"
            if c in _STAMPS
            else "reference = CASE WHEN st.ref_given = 1 THEN st.reference"
            " ELSE bookings.reference END"
            if c == "reference"
            else f"{c} = st.{c}"
            for c in updatable
        ]
        if "updated_at" not in updatable:
            assignments.append("updated_at = ?")
        stage.sql(
            f"UPDATE bookings SET {', '.join(assignments)}, time_slot_id = st.slot_id,"
            f" exchange_id = st.exchange_id FROM {st} st"
            " WHERE bookings.id = st.existing_id AND st.changed = 1",
            [] if "updated_at" in updatable else [stamp],
        )
        _events(
            stage,
            f"SELECT b.id AS booking_id, st.old_status AS from_status, b.status AS to_status"
            f" FROM {st} st"
            " JOIN bookings b ON b.id = st.existing_id"
            " WHERE st.changed = 1 AND st.old_status <> b.status",
            stamp,
            actor,
        )
    ((before,),) = stage.sql("SELECT COALESCE(max(id), 0) FROM bookings")
    columns = ", ".join(_BOOKING_COLUMNS)
    values = ", ".join(f"COALESCE({c}, ?)" if c in _STAMPS else c for c in _BOOKING_COLUMNS)
    stage.sql(
        f"INSERT INTO bookings (uuid, time_slot_id, exchange_id, {columns})"
        f" SELECT uuid, slot_id, exchange_id, {values} FROM {st}"
        " WHERE existing_id IS NULL ORDER BY line",
        [stamp, stamp],
    )
    # SQLite: the new rows are exactly those above the old maximum id (the import holds
    # the write lock). PostgreSQL: bookers insert concurrently, so by uuid.
    new_rows = (
        f"FROM bookings WHERE id > {int(before)}"
        if stage.sqlite
        else f"FROM bookings JOIN {st} st ON st.uuid = bookings.uuid"
        f" WHERE st.existing_id IS NULL AND bookings.id > {int(before)}"
    )
    _events(
        stage,
        "SELECT bookings.id AS booking_id, CAST(NULL AS TEXT) AS from_status,"
        f" bookings.status AS to_status {new_rows}",
        stamp,
        actor,
    )
    # The capacity check of time_slots refuses a count above capacity: overbooking.
    _recount(stage, f"SELECT slot_id FROM {st} UNION SELECT old_slot_id FROM {st}", stamp)


def _diagnose_bookings(stage: _Stage, problems: Problems, has_bookings: bool) -> None:
    """Every row that breaks a reference, a customer's single active booking per slot, or
    a slot's capacity, with the reason."""
    st = stage.name
    if not stage.unique_index("reference"):
        problems.extend(_duplicates(stage, "reference", "reference"))
    if has_bookings:
        problems.extend(
            (line, f"reference {reference} belongs to another booking ({other})")
            for line, reference, other in stage.sql(
                f"SELECT st.line, st.reference, b.uuid FROM {st} st"
                " JOIN bookings b ON b.reference = st.reference WHERE b.uuid <> st.uuid"
                f" AND NOT EXISTS (SELECT 1 FROM {st} o WHERE o.uuid = b.uuid)"
            )
        )
    stage.sql(f"CREATE INDEX {st}_slot ON {st} (slot_id, line)")
    active, holding = _in(ACTIVE_STATUSES), _in(SEAT_HOLDING_STATUSES)
    in_database = (
        " LEFT JOIN bookings b ON b.time_slot_id = st.slot_id"
        f" AND b.customer_email = st.customer_email AND b.status IN ({active})"
        f" AND NOT EXISTS (SELECT 1 FROM {st} o WHERE o.uuid = b.uuid)"
        if has_bookings
        else " LEFT JOIN (SELECT CAST(NULL AS INTEGER) AS id, '' AS reference) b ON 0 = 1"
    )
    problems.extend(
        (line, f"{email} already holds an active booking for this slot{where}")
        for line, email, where in stage.sql(
            f"SELECT st.line, st.customer_email, CASE WHEN b.id IS NOT NULL"
            f" THEN ' (' || b.reference || ')' ELSE ' (line ' || CAST(d.first AS TEXT) || ')' END"
            f" FROM {st} st"
            f" LEFT JOIN (SELECT slot_id, customer_email, min(line) AS first FROM {st}"
            f"  WHERE status IN ({active}) GROUP BY slot_id, customer_email) d"
            "  ON d.slot_id = st.slot_id AND d.customer_email = st.customer_email"
            f"  AND d.first < st.line{in_database}"
            f" WHERE st.status IN ({active}) AND (d.first IS NOT NULL OR b.id IS NOT NULL)"
        )
    )
    kept = (
        "SELECT b.time_slot_id, count(*) AS n FROM bookings b"
        f" JOIN (SELECT DISTINCT slot_id FROM {st}) t ON t.slot_id = b.time_slot_id"
        f" WHERE b.status IN ({holding})"
        f" AND NOT EXISTS (SELECT 1 FROM {st} o WHERE o.uuid = b.uuid) GROUP BY b.time_slot_id"
        if has_bookings
        else "SELECT CAST(NULL AS INTEGER) AS time_slot_id, 0 AS n WHERE 0 = 1"
    )
    problems.extend(
        (line, f"would overbook slot {slot}: {capacity} seats, {taken} taken by other bookings")
        for line, slot, capacity, taken in stage.sql(
            f"WITH kept AS ({kept}),"
            " ranked AS (SELECT line, slot_id,"
            f" row_number() OVER (PARTITION BY slot_id ORDER BY line) AS k FROM {st}"
            f" WHERE status IN ({holding}) AND slot_id IS NOT NULL)"
            " SELECT r.line, s.uuid, s.max_capacity, COALESCE(kept.n, 0) FROM ranked r"
            " JOIN time_slots s ON s.id = r.slot_id"
            " LEFT JOIN kept ON kept.time_slot_id = r.slot_id"
            " WHERE r.k + COALESCE(kept.n, 0) > s.max_capacity"
        )
    )


def _event_uuid(sqlite: bool, booking_id: str) -> str:
    """A UUID (version 7 layout): the import's clock, a random number drawn once per
    import, and the booking id.

    Unique (one event per booking per import, and imports differ in clock or draw) and
    increasing within an import, so a million events append to the uuid index instead
    of scattering into it as random uuids would.
    """
    ms = int(clock.now().timestamp() * 1000) % (1 << 48)
    draw = secrets.randbits(24)
    prefix = f"{ms:012x}"
    prefix = f"{prefix[:8]}-{prefix[8:]}-7{draw >> 12:03x}-{0x8000 | (draw & 0xFFF):04x}-"
    if sqlite:
        return f"'{prefix}' || printf('%012x', {booking_id})"
    return f"'{prefix}' || lpad(to_hex({booking_id}::bigint), 12, '0')"


def _events(stage: _Stage, rows: str, now: Any, actor: str) -> None:
    """One 'imported' audit event for each ``(booking_id, from_status, to_status)`` row."""
    uuid = _event_uuid(stage.sqlite, "r.booking_id")
    stage.sql(
        "INSERT INTO booking_events (uuid, booking_id, at, actor, from_status, to_status, note,"
        f" created_at, updated_at) SELECT {uuid}, r.booking_id, ?, ?, r.from_status,"
        f" r.to_status, 'imported', ?, ? FROM ({rows}) r",
        [now, actor, now, now],
    )


def _recount(stage: _Stage, slot_ids: str, now: Any) -> None:
    """Set ``current_bookings`` of these slots from their seat-holding bookings."""
    holding = _in(SEAT_HOLDING_STATUSES)
    count = (
        "(SELECT count(*) FROM bookings b WHERE b.time_slot_id = time_slots.id"
        f" AND b.status IN ({holding}))"
    )
    stage.sql(
        f"UPDATE time_slots SET current_bookings = {count}, updated_at = ?"
        f" WHERE id IN ({slot_ids}) AND current_bookings <> {count}",
        [now],
    )


def _redraw_references(stage: _Stage) -> None:
    """Generated references that collide (with the database or each other) are drawn again."""
    from slotctl.services.bookings import _draw_reference

    st = stage.name
    stage.sql(f"CREATE INDEX {st}_drawn ON {st} (reference)")
    for _ in range(20):
        taken = stage.sql(
            f"SELECT st.line FROM {st} st WHERE st.ref_given = 0 AND (EXISTS (SELECT 1 FROM"
            " bookings b WHERE b.reference = st.reference AND b.uuid <> st.uuid) OR EXISTS"
            f" (SELECT 1 FROM {st} o WHERE o.reference = st.reference AND o.line <> st.line"
            " AND (o.ref_given = 1 OR o.line < st.line)))"
        )
        if not taken:
            return
        for (line,) in taken:
            stage.sql(f"UPDATE {st} SET reference = ? WHERE line = ?", [_draw_reference(), line])


# Slots ------------------------------------------------------------------------------------

_SLOT_STAGE = (
    ("line", "int"),
    ("uuid", "text"),
    ("exchange_id", "int"),
    ("date", "text"),
    ("starts_at", "ts"),
    ("ends_at", "ts"),
    ("max_capacity", "int"),
    ("is_available", "int"),
    ("created_at", "ts"),
    ("updated_at", "ts"),
    ("existing_id", "int"),
)


def _local(day: str, clock_time: str, zone: ZoneInfo, column: str) -> datetime:
    minutes = parse_time(clock_time, allow_end_of_day=column == "end")
    wall = datetime.combine(_date(day, "date"), datetime.min.time()) + timedelta(minutes=minutes)
    local = wall.replace(tzinfo=zone)
    instant = local.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != wall:
        raise InvalidValue(f"{column} {day} {clock_time} does not exist in {zone.key} (DST)")
    return instant


def _slot_parser(
    stage: _Stage, exchanges: dict[str, Exchange], now: datetime
) -> Callable[[Row], tuple[Any, ...]]:
    fresh_uuids: list[str] = []
    zones: dict[str, ZoneInfo] = {}
    stamp = stage.stamp

    def parse(row: Row) -> tuple[Any, ...]:
        v = row.values
        get = v.get
        slug = v["exchange"].strip()
        exchange = exchanges.get(slug)
        if exchange is None:
            raise InvalidValue(f"no exchange {slug!r}" if slug else "exchange is required")
        zone = zones.get(exchange.timezone) or zones.setdefault(
            exchange.timezone, ZoneInfo(exchange.timezone)
        )
        if (get("starts_at") or "").strip():
            starts = _instant(v["starts_at"], "starts_at")
            ends = _instant(get("ends_at") or "", "ends_at")
        else:
            starts = _local(get("date", ""), get("start", ""), zone, "start")
            ends = _local(get("date", ""), get("end", ""), zone, "end")
        if ends <= starts:
            raise InvalidValue("the slot must end after it starts")
        if starts.second or starts.microsecond or ends.second or ends.microsecond:
            raise InvalidValue("slot times must be whole minutes")
        given = (get("uuid") or "").strip()
        if given:
            uuid = _uuid(given)
        else:
            if not fresh_uuids:
                fresh_uuids.extend(uuid4_strings(1000))
            uuid = fresh_uuids.pop()
        available = get("is_available", "").strip()
        return (
            row.line,
            uuid,
            exchange.id,
            starts.astimezone(zone).date().isoformat(),
            stamp(starts),
            stamp(ends),
            _int(v["max_capacity"], "max_capacity"),
            1 if not available or _bool(available, "is_available") else 0,
            stamp(_optional_instant(get("created_at", ""), "created_at") or now),
            stamp(_optional_instant(get("updated_at", ""), "updated_at") or now),
            None,
        )

    return parse


def import_slots(session: Session, stream: IO[str], *, dry_run: bool = False) -> ImportResult:
    now = clock.now()
    problems = Problems("slots")
    exchanges = {e.slug: e for e in session.scalars(select(Exchange))}
    stage = _Stage(session.connection(), "import_slots", _SLOT_STAGE)
    header: list[str] = []
    stage.load(
        _parsed(
            _rows(stream, "slots", problems, header),
            _slot_parser(stage, exchanges, now),
            problems,
        )
    )
    st = stage.name
    stage.sql(f"CREATE INDEX {st}_uuid ON {st} (uuid)")
    stage.sql(f"UPDATE {st} SET existing_id = s.id FROM time_slots s WHERE s.uuid = {st}.uuid")
    _lock_slots(stage, f"SELECT existing_id FROM {st} WHERE existing_id IS NOT NULL")
    problems.extend(_duplicates(stage, "uuid", "uuid"))
    date_column = "st.date" if stage.sqlite else "CAST(st.date AS date)"
    rows = stage.sql(
        f"SELECT st.line, d.first FROM {st} st JOIN (SELECT exchange_id, starts_at,"
        f" min(line) AS first FROM {st} GROUP BY exchange_id, starts_at HAVING count(*) > 1) d"
        " ON d.exchange_id = st.exchange_id AND d.starts_at = st.starts_at WHERE st.line > d.first"
    )
    problems.extend(
        (line, f"another row starts at the same time (line {first})") for line, first in rows
    )
    problems.extend(
        (line, f"slot {other} of this exchange already starts at that time")
        for line, other in stage.sql(
            f"SELECT st.line, s.uuid FROM {st} st JOIN time_slots s"
            " ON s.exchange_id = st.exchange_id AND s.starts_at = st.starts_at"
            " WHERE s.uuid <> st.uuid"
            f" AND NOT EXISTS (SELECT 1 FROM {st} o WHERE o.uuid = s.uuid)"
        )
    )
    problems.extend(
        (line, "overlaps another slot of its exchange")
        for (line,) in stage.sql(
            "WITH final AS ("
            f" SELECT s.exchange_id, s.starts_at, s.ends_at, NULL AS line FROM time_slots s"
            f" WHERE s.exchange_id IN (SELECT DISTINCT exchange_id FROM {st})"
            f" AND NOT EXISTS (SELECT 1 FROM {st} o WHERE o.uuid = s.uuid)"
            f" UNION ALL SELECT exchange_id, starts_at, ends_at, line FROM {st}),"
            " ordered AS (SELECT line, starts_at, ends_at,"
            " LAG(ends_at) OVER w AS previous_end, LEAD(starts_at) OVER w AS next_start"
            " FROM final WINDOW w AS (PARTITION BY exchange_id ORDER BY starts_at, line))"
            " SELECT line FROM ordered WHERE line IS NOT NULL"
            " AND (previous_end > starts_at OR next_start < ends_at)"
        )
    )
    problems.extend(
        (line, f"capacity {capacity} is below the slot's {booked} bookings")
        for line, capacity, booked in stage.sql(
            f"SELECT st.line, st.max_capacity, s.current_bookings FROM {st} st"
            " JOIN time_slots s ON s.id = st.existing_id WHERE st.max_capacity < s.current_bookings"
        )
    )
    problems.extend(
        (line, "a booked slot cannot move to another time or exchange")
        for (line,) in stage.sql(
            f"SELECT st.line FROM {st} st JOIN time_slots s ON s.id = st.existing_id"
            " WHERE (s.starts_at <> st.starts_at OR s.ends_at <> st.ends_at"
            " OR s.exchange_id <> st.exchange_id)"
            " AND EXISTS (SELECT 1 FROM bookings b WHERE b.time_slot_id = s.id)"
        )
    )
    problems.raise_if_any()

    # A slot's CSV has no created_at/updated_at: they are kept, and updated_at is set
    # when something else changes.
    compared = ("exchange_id", "starts_at", "ends_at", "max_capacity")
    # A file without is_available leaves blocks as they are.
    blocks = "is_available" in header
    differs = " OR ".join(
        [stage.distinct(f"s.{c}", f"st.{c}") for c in compared]
        + [stage.distinct("s.date", date_column)]
        + ([stage.distinct("s.is_available", _flag(stage))] if blocks else [])
    )
    result = ImportResult("slots", dry_run=dry_run)
    ((result.created,),) = stage.sql(f"SELECT count(*) FROM {st} WHERE existing_id IS NULL")
    ((result.updated,),) = stage.sql(
        f"SELECT count(*) FROM {st} st JOIN time_slots s ON s.id = st.existing_id WHERE {differs}"
    )
    ((total,),) = stage.sql(f"SELECT count(*) FROM {st}")
    result.unchanged = total - result.created - result.updated
    if dry_run or total == result.unchanged:
        stage.drop()
        return result
    block = f" is_available = {_flag(stage)}," if blocks else ""
    stage.sql(
        f"UPDATE time_slots SET exchange_id = st.exchange_id, date = {date_column},"
        f" starts_at = st.starts_at, ends_at = st.ends_at, max_capacity = st.max_capacity,"
        f"{block} updated_at = st.updated_at"
        f" FROM {st} st WHERE time_slots.id = st.existing_id"
        f" AND EXISTS (SELECT 1 FROM time_slots s WHERE s.id = st.existing_id AND ({differs}))"
    )
    stage.sql(
        "INSERT INTO time_slots (uuid, exchange_id, date, starts_at, ends_at, max_capacity,"
        " current_bookings, is_available, created_at, updated_at)"
        f" SELECT st.uuid, st.exchange_id, {date_column}, st.starts_at, st.ends_at,"
        f" st.max_capacity, 0, {_flag(stage)}, st.created_at, st.updated_at FROM {st} st"
        " WHERE st.existing_id IS NULL ORDER BY st.line"
    )
    stage.drop()
    return result


def _flag(stage: _Stage) -> str:
    return "st.is_available" if stage.sqlite else "(st.is_available = 1)"


# Exchanges, hours and closures (small: through the ORM) -------------------------------------


@dataclass
class _Small:
    problems: Problems
    uuids: dict[str, int] = field(default_factory=dict)

    def unique_uuid(self, row: Row) -> str | None:
        given = (row.values.get("uuid") or "").strip()
        if not given:
            return None
        value = _uuid(given)
        if value in self.uuids:
            raise InvalidValue(f"duplicate uuid {value} (also on line {self.uuids[value]})")
        self.uuids[value] = row.line
        return value


def _collect(
    stream: IO[str], kind: str, parse: Callable[[Row, _Small], Any]
) -> tuple[list[Any], _Small]:
    small = _Small(Problems(kind))
    parsed = []
    for row in _rows(stream, kind, small.problems):
        try:
            parsed.append(parse(row, small))
        except InvalidValue as exc:
            small.problems.add(row.line, exc.message)
    return parsed, small


Item = tuple[str | None, dict[str, Any], int]  # (uuid, column values, line)


def _apply(
    session: Session,
    kind: str,
    model: Any,
    items: list[Item],
    dry_run: bool,
    defaults: dict[str, Any] | None = None,
) -> ImportResult:
    """Upsert ORM rows by uuid: update the values given when one differs (a column the
    file leaves out, or an empty optional cell, keeps its value), insert otherwise (with
    ``defaults`` for what is not given)."""
    result = ImportResult(kind, dry_run=dry_run)
    existing = {
        row.uuid: row
        for row in session.scalars(
            select(model).where(model.uuid.in_([u for u, _, _ in items if u is not None]))
        )
    }
    for uuid, values, _ in items:
        row = existing.get(uuid) if uuid is not None else None
        if row is None:
            result.created += 1
            if not dry_run:
                given = {**(defaults or {}), **values}
                session.add(model(**({"uuid": uuid} if uuid else {}), **given))
            continue
        changed = {k: v for k, v in values.items() if getattr(row, k) != v}
        if not changed:
            result.unchanged += 1
            continue
        result.updated += 1
        if not dry_run:
            for key, value in changed.items():
                setattr(row, key, value)
    session.flush()
    return result


_EXCHANGE_OPTIONAL = tuple(f for f in EXCHANGE_FIELDS if f not in ("uuid", "slug", "name"))


def import_exchanges(
    session: Session, stream: IO[str], *, default_timezone: str, dry_run: bool = False
) -> ImportResult:
    from slotctl.services.exchanges import _validate_name, validate_slug

    now = clock.now()
    slugs: dict[str, int] = {}

    def parse(row: Row, small: _Small) -> Item:
        v = row.values
        get = v.get
        uuid = small.unique_uuid(row)
        slug = validate_slug(v["slug"])
        if slug in slugs:
            raise InvalidValue(f"duplicate slug {slug} (also on line {slugs[slug]})")
        slugs[slug] = row.line
        values: dict[str, Any] = {"slug": slug, "name": _validate_name(v["name"])}
        cells = {k: (get(k) or "").strip() for k in _EXCHANGE_OPTIONAL}
        if cells["timezone"]:
            values["timezone"] = validate_timezone(cells["timezone"])
        if cells["is_active"]:
            values["is_active"] = _bool(cells["is_active"], "is_active")
        if cells["min_notice_minutes"]:
            values["min_notice_minutes"] = _int(cells["min_notice_minutes"], "min_notice_minutes")
        if "max_advance_days" in v:  # an empty cell: no limit
            advance = cells["max_advance_days"]
            values["max_advance_days"] = _int(advance, "max_advance_days") if advance else None
        for stamp in ("created_at", "updated_at"):
            if cells[stamp]:
                values[stamp] = _instant(cells[stamp], stamp)
        return uuid, values, row.line

    items, small = _collect(stream, "exchanges", parse)
    current = list(session.scalars(select(Exchange)))
    by_slug = {e.slug: e for e in current}
    by_uuid = {e.uuid: e for e in current}
    for uuid, values, line in items:
        other = by_slug.get(values["slug"])
        if other is not None and other.uuid != uuid:
            small.problems.add(
                line, f"exchange {values['slug']!r} exists with another uuid ({other.uuid})"
            )
        mine = by_uuid.get(uuid) if uuid is not None else None
        zone = values.get("timezone")
        if mine is not None and zone not in (None, mine.timezone) and _has_slots(session, mine):
            small.problems.add(line, f"{mine.slug} has slots: its timezone cannot change")
    small.problems.raise_if_any()
    defaults = {
        "timezone": validate_timezone(default_timezone),
        "is_active": True,
        "min_notice_minutes": 0,
        "created_at": now,
        "updated_at": now,
    }
    return _apply(session, "exchanges", Exchange, items, dry_run, defaults)


def _has_slots(session: Session, exchange: Exchange) -> bool:
    from slotctl.db.models import TimeSlot

    return (
        session.scalar(select(TimeSlot.id).where(TimeSlot.exchange_id == exchange.id).limit(1))
        is not None
    )


def _exchange_ids(session: Session) -> dict[str, int]:
    return {slug: id_ for id_, slug in session.execute(select(Exchange.id, Exchange.slug))}


def import_hours(session: Session, stream: IO[str], *, dry_run: bool = False) -> ImportResult:
    exchanges = _exchange_ids(session)

    def parse(row: Row, small: _Small) -> Item:
        v = row.values
        get = v.get
        uuid = small.unique_uuid(row)
        slug = v["exchange"].strip()
        if slug not in exchanges:
            raise InvalidValue(f"no exchange {slug!r}")
        weekday_text, day_text = get("weekday", "").strip(), get("day", "").strip().lower()
        if weekday_text:
            weekday = _int(weekday_text, "weekday")
            if weekday > 6:
                raise InvalidValue("weekday: use 0 (Monday) to 6 (Sunday)")
        else:
            days = parse_days(day_text)  # mon or monday; a range is not one row's day
            if len(days) != 1:
                raise InvalidValue(f"day: {day_text!r} names more than one day")
            weekday = days[0]
        opens = parse_time(v["opens_at"])
        closes = parse_time(v["closes_at"], allow_end_of_day=True)
        if opens >= closes:
            raise InvalidValue("opens_at must be before closes_at")
        values = {
            "exchange_id": exchanges[slug],
            "weekday": weekday,
            "opens_at": format_time(opens),
            "closes_at": format_time(closes),
        }
        return uuid, values, row.line

    parsed, small = _collect(stream, "hours", parse)
    # The week after the import: shifts not in the file stay; check overlaps per day.
    named = {u for u, _, _ in parsed if u is not None}
    week: dict[tuple[int, int], list[tuple[int, int, int]]] = {}
    for row in session.scalars(select(BusinessHours)):
        if row.uuid not in named:
            key = (row.exchange_id, row.weekday)
            week.setdefault(key, []).append(
                (parse_time(row.opens_at), parse_time(row.closes_at, allow_end_of_day=True), 0)
            )
    for _, values, line in parsed:
        key = (values["exchange_id"], values["weekday"])
        week.setdefault(key, []).append(
            (
                parse_time(values["opens_at"]),
                parse_time(values["closes_at"], allow_end_of_day=True),
                line,
            )
        )
    for shifts in week.values():
        shifts.sort()
        for (_, closes, line_a), (opens, _, line_b) in pairwise(shifts):
            if opens < closes:
                line = max(line_a, line_b)
                other = (
                    f"line {min(line_a, line_b)}" if min(line_a, line_b) else "an existing shift"
                )
                small.problems.add(line, f"overlaps {other} on the same day")
    small.problems.raise_if_any()
    return _apply(session, "hours", BusinessHours, parsed, dry_run)


def import_closures(session: Session, stream: IO[str], *, dry_run: bool = False) -> ImportResult:
    exchanges = _exchange_ids(session)

    def parse(row: Row, small: _Small) -> Item:
        v = row.values
        get = v.get
        uuid = small.unique_uuid(row)
        slug = v["exchange"].strip()
        if slug not in exchanges:
            raise InvalidValue(f"no exchange {slug!r}")
        starts = _date(v["starts_on"], "starts_on")
        ends_text = get("ends_on", "").strip()
        ends = _date(ends_text, "ends_on") if ends_text else starts
        if ends < starts:
            raise InvalidValue("ends_on is before starts_on")
        reason = _text(get("reason", ""), "reason", 200) or ""
        values = {
            "exchange_id": exchanges[slug],
            "starts_on": starts,
            "ends_on": ends,
            "reason": reason,
        }
        return uuid, values, row.line

    items, small = _collect(stream, "closures", parse)
    small.problems.raise_if_any()
    return _apply(session, "closures", Closure, items, dry_run)
