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
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any

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
)
from slotctl.services.lookup import exchange_by_slug
from slotctl.services.seats import slot_status_sql

KINDS = ("exchanges", "hours", "closures", "slots", "bookings")
FIELDS: dict[str, Sequence[str]] = {
    "exchanges": EXCHANGE_FIELDS,
    "hours": HOURS_FIELDS,
    "closures": CLOSURE_FIELDS,
    "slots": SLOT_FIELDS,
    "bookings": BOOKING_FIELDS,
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
    column holding the whole CSV line."""
    columns, rest = _parts(kind, sql, where)
    if sql.csv_lines:
        line = " || ',' || ".join(f"COALESCE({column}, '')" for column in columns)
        return f"SELECT {line} {rest}"
    return f"SELECT {', '.join(columns)} {rest}"


def _parts(kind: str, sql: _Render, where: str) -> tuple[list[str], str]:
    t, u = sql.text, sql.utc
    if kind == "exchanges":
        columns = [
            "e.uuid", "e.slug", t("e.name"), "e.timezone", sql.boolean("e.is_active"),
            "e.min_notice_minutes", "e.max_advance_days", u("e.created_at"), u("e.updated_at"),
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
    ]  # fmt: skip
    return columns, (
        "FROM bookings b JOIN time_slots s ON s.id = b.time_slot_id"
        f" JOIN exchanges e ON e.id = s.exchange_id {where}"
        " ORDER BY s.starts_at, b.created_at, b.uuid"
    )


@dataclass
class Query:
    sql: str
    params: dict[str, Any]
    binds: list[BindParameter[Any]]
    columns: Sequence[str]


def build(session: Session, kind: str, filters: Filters, *, neutralise: bool = True) -> Query:
    """The SELECT rendering ``kind`` records as text, for these filters."""
    sql = dialects.of(session)
    dialect = _Render(sql, neutralise)
    conditions: list[str] = []
    params: dict[str, Any] = {}
    one: Exchange | None = None
    if filters.exchange is not None:
        one = exchange_by_slug(session, filters.exchange)
        alias = {"exchanges": "e.id", "hours": "h.exchange_id", "closures": "c.exchange_id"}
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
    elif kind == "closures":
        if first is not None:
            conditions.append("c.ends_on >= :first")
            params["first"] = first
        if last is not None:
            conditions.append("c.starts_on <= :last")
            params["last"] = last
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    return Query(_select(kind, dialect, where), params, dialect.params, FIELDS[kind])


def snapshot(session: Session) -> None:
    """Make the rest of this (read) transaction see one consistent state (PostgreSQL's
    REPEATABLE READ; SQLite's read transaction already does)."""
    dialects.of(session).begin_snapshot(session)


# Writing ----------------------------------------------------------------------------------


def write_csv(session: Session, query: Query, out: IO[bytes]) -> int:
    """Write the header and every row to ``out``; the number of rows."""
    out.write((",".join(query.columns) + "\n").encode())
    params = {**query.params, **{bind.key: bind.value for bind in query.binds}}
    connection = session.connection()
    return dialects.of(connection).write_csv(connection, query.sql, params, out)


def iter_rows(session: Session, query: Query) -> Iterator[dict[str, Any]]:
    """Records as dicts of text (or null), streamed (a server-side cursor on PostgreSQL)."""
    connection = session.connection().execution_options(stream_results=True, yield_per=FETCH)
    result = connection.execute(text(query.sql).bindparams(*query.binds), query.params)
    for row in result:
        yield dict(zip(query.columns, row, strict=True))


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
    "weekday", "min_notice_minutes", "max_advance_days", "max_capacity",
    "current_bookings", "available_seats",
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
