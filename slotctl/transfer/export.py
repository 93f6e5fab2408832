"""Export: every record type as CSV (or JSON), streamed with constant memory.

Each record's fields are rendered *by the database*, as text, in one SELECT:
ISO 8601 instants (UTC with ``+00:00``; a slot's times in its exchange's local
time with the offset), ``true``/``false``, dates, and text cells neutralised
against spreadsheet formulas (:mod:`slotctl.tabular`). Python only moves rows:
on SQLite each row even comes back as one finished CSV line (quoted as
``csv.writer`` quotes), written in chunks; PostgreSQL streams
``COPY (SELECT ...) TO STDOUT`` straight to the output. Both dialects write
the same bytes for the same data, so a file exported from SQLite imports into
PostgreSQL and exports again identically.

Tickets are the exception (:data:`RENDERED`): their instants carry their exchange's
offset to the microsecond and their ``waited_minutes`` is the queue's own
(:func:`slotctl.services.queue.ticket_record`), so the SELECT streams their raw
columns and Python renders each row, neutralising and quoting the CSV cells as the
database does (the same bytes on both).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any, cast

from sqlalchemy import select, text
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import BindParameter

from slotctl import clock
from slotctl.db import dialects
from slotctl.db.models import Exchange
from slotctl.localtime import Span, day_window, optional_date
from slotctl.parsing import DAY_NAMES
from slotctl.records import (
    BOOKING_FIELDS,
    CLOSURE_FIELDS,
    EXCHANGE_FIELDS,
    HOURS_FIELDS,
    SLOT_FIELDS,
    EntryRecord,
    TicketRecord,
)
from slotctl.services.lookup import exchange_by_slug
from slotctl.services.seats import slot_status_sql
from slotctl.tabular import encode_cell

# Every record type, parents first (the order of the whole database's files and sheets).
KINDS = ("exchanges", "hours", "closures", "slots", "bookings", "tickets", "waitlist")
FIELDS: dict[str, Sequence[str]] = {
    "exchanges": EXCHANGE_FIELDS,
    "hours": HOURS_FIELDS,
    "closures": CLOSURE_FIELDS,
    "slots": SLOT_FIELDS,
    "bookings": BOOKING_FIELDS,
    "tickets": TicketRecord.FIELDS,
    "waitlist": EntryRecord.FIELDS,
}
FETCH = 5000  # rows per fetch when streaming JSON and ICS
DAY_CASE = (
    "CASE h.weekday "
    + " ".join(f"WHEN {number} THEN '{day}'" for number, day in enumerate(DAY_NAMES))
    + " END"
)


Filters = Span  # an export covers an exchange's records (or all) between local dates


class _Render:
    """SQL that renders a column as the text of its CSV/JSON field."""

    def __init__(self, sql: dialects.Dialect, neutralise: bool) -> None:
        self.sql = sql
        self.neutralise = neutralise
        # SQLite, CSV: each row comes back as one ready CSV line (no csv.writer per cell).
        self.csv_lines = sql.csv_lines and neutralise
        self.params: list[BindParameter[Any]] = []
        self.local_texts: dict[str, str] = {}
        self.utc = sql.utc_text
        self.date = sql.date_text
        # Rows in byte order of the slug on both databases, whatever the collation.
        self.slug = sql.slug_order

    def local(self, column: str) -> str:
        """A slot's instant in its exchange's time, ``YYYY-MM-DDTHH:MM:SS+HH:MM``."""
        return self.local_texts[column]

    def boolean(self, column: str) -> str:
        return f"CASE WHEN {column} THEN 'true' ELSE 'false' END"

    def text(self, column: str) -> str:
        """Free text: empty as null (one spelling on both databases), formulas neutralised,
        and on the CSV-lines path quoted as ``csv.writer`` would."""
        if not self.neutralise:
            return column
        neutralised = self.sql.neutralised(column)
        return self.sql.csv_cell(column, neutralised) if self.csv_lines else neutralised


def _select(kind: str, sql: _Render, where: str) -> str:
    """The SELECT of ``kind``: one text column per field, or on SQLite's CSV path one
    column holding the whole CSV line (tickets: the raw columns :func:`_tickets` renders)."""
    columns, rest = _parts(kind, sql, where)
    if sql.csv_lines and kind not in RENDERED:
        line = " || ',' || ".join(f"COALESCE({column}, '')" for column in columns)
        return f"SELECT {line} {rest}"
    return f"SELECT {', '.join(columns)} {rest}"


def _parts(kind: str, sql: _Render, where: str) -> tuple[list[str], str]:
    t, u = sql.text, sql.utc
    if kind == "exchanges":
        columns = [
            "e.uuid", "e.slug", t("e.name"), "e.timezone", sql.boolean("e.is_active"),
            "e.min_notice_minutes", "e.max_advance_days", "e.checkin_early_minutes",
            "e.late_after_minutes", u("e.created_at"), u("e.updated_at"),
        ]  # fmt: skip
        return columns, f"FROM exchanges e {where} ORDER BY {sql.slug}"
    if kind == "hours":
        columns = ["h.uuid", "e.slug", "h.weekday", DAY_CASE, "h.opens_at", "h.closes_at"]
        return columns, (
            f"FROM business_hours h JOIN exchanges e ON e.id = h.exchange_id {where}"
            f" ORDER BY {sql.slug}, h.weekday, h.opens_at"
        )
    if kind == "closures":
        columns = [
            "c.uuid",
            "e.slug",
            sql.date("c.starts_on"),
            sql.date("c.ends_on"),
            t("c.reason"),
        ]
        return columns, (
            f"FROM closures c JOIN exchanges e ON e.id = c.exchange_id {where}"
            f" ORDER BY {sql.slug}, c.starts_on, c.uuid"
        )
    if kind in ("tickets", "waitlist"):
        return _front_desk_parts(kind, sql, where)
    starts, ends = sql.local("s.starts_at"), sql.local("s.ends_at")
    if kind == "slots":
        now = ":now"
        columns = [
            "s.uuid", "e.slug", sql.date("s.date"),
            f"substr({starts}, 12, 5)", f"substr({ends}, 12, 5)", starts, ends,
            "s.max_capacity", "s.current_bookings",
            "CASE WHEN s.max_capacity > s.current_bookings"
            " THEN s.max_capacity - s.current_bookings ELSE 0 END",
            sql.boolean("s.is_available"),
            slot_status_sql("s", now),
        ]  # fmt: skip
        return columns, (
            f"FROM time_slots s JOIN exchanges e ON e.id = s.exchange_id {where}"
            f" ORDER BY s.starts_at, {sql.slug}"
        )
    columns = [
        "b.uuid", "b.reference", "e.slug", "s.uuid", starts, ends,
        t("b.customer_name"), t("b.customer_email"), t("b.customer_phone"), t("b.notes"),
        "b.status", u("b.created_at"), u("b.updated_at"), u("b.confirmed_at"),
        u("b.completed_at"), u("b.cancelled_at"), t("b.cancellation_reason"),
        u("b.arrived_at"), u("b.called_at"), t("b.counter"),
    ]  # fmt: skip
    return columns, (
        "FROM bookings b JOIN time_slots s ON s.id = b.time_slot_id"
        f" JOIN exchanges e ON e.id = s.exchange_id {where}"
        " ORDER BY s.starts_at, b.created_at, b.uuid"
    )


Render = Callable[[Sequence[Any]], dict[str, Any]]


def _front_desk_parts(kind: str, sql: _Render, where: str) -> tuple[list[str], str]:
    """The SELECT of tickets (raw columns, rendered in Python) or waitlist entries."""
    t, u = sql.text, sql.utc
    if kind == "tickets":
        columns = [
            "t.uuid", "t.kind", "t.seq", "e.slug", "e.timezone", "b.reference",
            "t.customer_name", "t.status", "t.arrived_at", "t.called_at", "t.served_at",
            "t.counter", "t.due_at",
        ]  # fmt: skip
        return columns, (
            "FROM tickets t JOIN exchanges e ON e.id = t.exchange_id"
            f" LEFT JOIN bookings b ON b.id = t.booking_id {where}"
            f" ORDER BY t.arrived_at, {sql.slug}, t.kind, t.seq"
        )
    columns = [  # waitlist
        "w.uuid", "e.slug", t("w.customer_name"), t("w.customer_email"),
        t("w.customer_phone"), sql.date("w.from_date"), sql.date("w.to_date"),
        "CASE WHEN w.between_start IS NOT NULL AND w.between_end IS NOT NULL"
        " THEN w.between_start || '-' || w.between_end END",
        "w.status", "b.reference", u("w.created_at"),
    ]  # fmt: skip
    return columns, (
        "FROM waitlist_entries w JOIN exchanges e ON e.id = w.exchange_id"
        f" LEFT JOIN bookings b ON b.id = w.booking_id {where}"
        " ORDER BY w.created_at, w.id"
    )


@dataclass
class Query:
    sql: str
    params: dict[str, Any]
    binds: list[BindParameter[Any]]
    columns: Sequence[str]
    # A record type rendered in Python (tickets): each row of raw columns to the fields'
    # values (text, integers or null), and the free-text fields a CSV cell neutralises.
    render: Render | None = None
    texts: frozenset[str] = frozenset()


def build(session: Session, kind: str, filters: Filters, *, neutralise: bool = True) -> Query:
    """The SELECT rendering ``kind`` records as text, for these filters."""
    sql = dialects.of(session)
    dialect = _Render(sql, neutralise)
    conditions: list[str] = []
    params: dict[str, Any] = {}
    one: Exchange | None = None
    if filters.exchange is not None:
        one = exchange_by_slug(session, filters.exchange)
        alias = {
            "exchanges": "e.id",
            "hours": "h.exchange_id",
            "closures": "c.exchange_id",
            "tickets": "t.exchange_id",
            "waitlist": "w.exchange_id",
        }
        conditions.append(f"{alias.get(kind, 's.exchange_id')} = :exchange")
        params["exchange"] = one.id
    timezone = one.timezone if one is not None else filters.default_timezone
    first = optional_date(filters.from_date, timezone)
    last = optional_date(filters.to_date, timezone)
    if kind in ("slots", "bookings"):
        exchanges = [one] if one is not None else list(session.scalars(select(Exchange)))
        zones = {e.timezone for e in exchanges} or {timezone}
        if first is not None:
            start = min(day_window(zone, first, first)[0] for zone in zones)
            conditions.append("s.starts_at >= :start AND s.date >= :first")
            params["start"], params["first"] = sql.stamp(start), first
        if last is not None:
            end = max(day_window(zone, last, last)[1] for zone in zones)
            conditions.append("s.starts_at < :end AND s.date <= :last")
            params["end"], params["last"] = sql.stamp(end), last
        if kind == "slots":
            params["now"] = sql.stamp(clock.now())
        columns = ("s.starts_at", "s.ends_at")
        dialect.local_texts, dialect.params = sql.local_texts(session, columns, exchanges)
    elif kind in ("closures", "waitlist"):  # a span of dates that overlaps the period
        low, high = ("c.starts_on", "c.ends_on") if kind == "closures" else _WINDOW
        if first is not None:
            conditions.append(f"{high} >= :first")
            params["first"] = first
        if last is not None:
            conditions.append(f"{low} <= :last")
            params["last"] = last
    elif kind == "tickets":  # the local day of arrival
        if first is not None:
            conditions.append("t.day >= :first")
            params["first"] = first
        if last is not None:
            conditions.append("t.day <= :last")
            params["last"] = last
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    query = Query(_select(kind, dialect, where), params, dialect.params, FIELDS[kind])
    if kind in RENDERED:
        query.render = _tickets(sql, clock.now())
        query.texts = RENDERED[kind]
    return query


_WINDOW = ("w.from_date", "w.to_date")
# Record types rendered in Python, with their free-text fields: a ticket's instants carry
# its exchange's offset to the microsecond, and its waited_minutes is the queue's own.
RENDERED: dict[str, frozenset[str]] = {"tickets": frozenset({"customer_name", "counter"})}


@dataclass
class _TicketRow:
    """What :func:`slotctl.services.queue.ticket_record` reads of a ticket."""

    uuid: str
    kind: str
    seq: int
    customer_name: str
    status: str
    arrived_at: datetime
    called_at: datetime | None
    served_at: datetime | None
    counter: str | None
    due_at: datetime | None


@dataclass
class _ExchangeRow:
    slug: str
    timezone: str


def _tickets(sql: dialects.Dialect, now: datetime) -> Render:
    """A ticket row of the SELECT to its record's values, as the queue commands show it
    (:func:`slotctl.services.queue.ticket_record`): instants as ISO 8601 text."""
    from slotctl.services.queue import ticket_record

    instant = sql.instant
    exchanges: dict[tuple[str, str], _ExchangeRow] = {}

    def optional(value: Any) -> datetime | None:
        return None if value is None else instant(value)

    def render(row: Sequence[Any]) -> dict[str, Any]:
        uuid, kind, seq, slug, zone, reference, name, status, *times = row
        arrived, called, served, counter, due = times
        exchange = exchanges.get((slug, zone)) or exchanges.setdefault(
            (slug, zone), _ExchangeRow(slug, zone)
        )
        ticket = _TicketRow(
            uuid, kind, int(seq), name, status, instant(arrived), optional(called),
            optional(served), counter, optional(due),
        )  # fmt: skip
        record = ticket_record(cast(Any, ticket), cast(Any, exchange), reference, now)
        return {
            field: value.isoformat() if isinstance(value, datetime) else value
            for field, value in record.items()
        }

    return render


def snapshot(session: Session) -> None:
    """Make the rest of this (read) transaction see one consistent state (PostgreSQL's
    REPEATABLE READ; SQLite's read transaction already does)."""
    dialects.of(session).begin_snapshot(session)


# Writing ----------------------------------------------------------------------------------


def write_csv(session: Session, query: Query, out: IO[bytes]) -> int:
    """Write the header and every row to ``out``; the number of rows."""
    out.write((",".join(query.columns) + "\n").encode())
    if query.render is not None:
        return _write_rendered(session, query, out)
    params = {**query.params, **{bind.key: bind.value for bind in query.binds}}
    connection = session.connection()
    return dialects.of(connection).write_csv(connection, query.sql, params, out)


def iter_rows(session: Session, query: Query) -> Iterator[dict[str, Any]]:
    """Records as dicts of text (or null), streamed (a server-side cursor on PostgreSQL)."""
    connection = session.connection().execution_options(stream_results=True, yield_per=FETCH)
    result = connection.execute(text(query.sql).bindparams(*query.binds), query.params)
    if query.render is not None:
        yield from map(query.render, result)
        return
    for row in result:
        yield dict(zip(query.columns, row, strict=True))


def _write_rendered(session: Session, query: Query, out: IO[bytes]) -> int:
    """The rows of a record type rendered in Python, as CSV lines quoted and neutralised as
    the database writes the others (``csv.writer`` quotes a CR only when it is in the line
    terminator: rows are written with CRLF and their terminator rewritten)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    count = 0
    lines: list[str] = []
    for record in iter_rows(session, query):
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([_cell(record[column], column in query.texts) for column in query.columns])
        lines.append(buffer.getvalue()[:-2])
        count += 1
        if len(lines) >= FETCH:
            out.write(("\n".join(lines) + "\n").encode())
            lines.clear()
    if lines:
        out.write(("\n".join(lines) + "\n").encode())
    return count


def _cell(value: Any, free_text: bool) -> str:
    """A rendered value as its CSV cell: free text neutralised, empty for null."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return encode_cell(value) if free_text else str(value)


def write_json(session: Session, query: Query, out: IO[bytes]) -> int:
    """A JSON array of the records, one object per line, streamed."""
    count = 0
    out.write(b"[")
    for record in iter_rows(session, query):
        out.write((",\n" if count else "\n").encode())
        out.write(json.dumps(_typed(record), ensure_ascii=False).encode())
        count += 1
    out.write(b"\n]\n" if count else b"]\n")
    return count


_INTEGERS = {
    "weekday", "min_notice_minutes", "max_advance_days", "checkin_early_minutes",
    "late_after_minutes", "max_capacity", "current_bookings", "available_seats",
    "waited_minutes",
}  # fmt: skip
_BOOLEANS = {"is_active", "is_available"}


def _typed(record: dict[str, Any]) -> dict[str, Any]:
    """JSON types for the text the SELECT rendered (integers and booleans)."""
    for key, value in record.items():
        if value is None:
            continue
        if key in _INTEGERS:
            record[key] = int(value)
        elif key in _BOOLEANS:
            record[key] = value in ("true", True, 1)
    return record
