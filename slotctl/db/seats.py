"""The hot write path of a booking, through the raw driver.

Taking a seat is one conditional UPDATE of the slot (capacity, block, notice,
and the customer's active bookings checked in the same statement), then the
booking's INSERT and its audit event's INSERT, in the caller's transaction.
Three statements, as a hand-written driver loop would issue them: the write
lock (SQLite) or the slot's row lock (PostgreSQL) is held for no longer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection

from slotctl.db.bulk import sqlite_datetime


@dataclass(frozen=True)
class NewRow:
    uuid: str
    reference: str
    slot_id: int
    exchange_id: int
    name: str
    email: str
    phone: str | None
    notes: str | None
    status: str
    event_uuid: str
    actor: str


def book(
    connection: Connection,
    row: NewRow,
    *,
    earliest: datetime,
    now: datetime,
    overlap: tuple[datetime, datetime] | None,
    active: Sequence[str],
    new_reference: Callable[[], str],
) -> tuple[int, str] | None:
    """Take a seat and insert the booking: (id, reference), or None if refused.

    ``overlap``: (starts_at, ends_at) of the slot to refuse when the customer holds
    an active booking overlapping it anywhere; None checks only this very slot.
    A reference already in use is drawn again (``new_reference``).
    """
    raw: Any = connection.connection.driver_connection
    sqlite = connection.dialect.name == "sqlite"
    m = "?" if sqlite else "%s"

    def stamp(value: datetime) -> Any:
        return sqlite_datetime(value) if sqlite else value

    statuses = ", ".join(f"'{s}'" for s in active)
    params: list[Any] = [stamp(now), row.slot_id, stamp(earliest)]
    if overlap is None:
        customer = (
            f"SELECT 1 FROM bookings WHERE time_slot_id = {m} AND customer_email = {m}"
            f" AND status IN ({statuses})"
        )
        params += [row.slot_id, row.email]
    else:
        customer = (
            "SELECT 1 FROM bookings b JOIN time_slots s ON s.id = b.time_slot_id"
            f" WHERE b.customer_email = {m} AND b.status IN ({statuses})"
            f" AND s.starts_at < {m} AND s.ends_at > {m}"
        )
        params += [row.email, stamp(overlap[1]), stamp(overlap[0])]
    cursor = raw.cursor()
    try:
        cursor.execute(
            f"UPDATE time_slots SET current_bookings = current_bookings + 1, updated_at = {m}"
            f" WHERE id = {m} AND current_bookings < max_capacity AND is_available"
            f" AND starts_at > {m} AND NOT EXISTS ({customer})",
            params,
        )
        if cursor.rowcount != 1:
            return None
        confirmed_at = stamp(now) if row.status == "confirmed" else None
        reference = row.reference
        if not sqlite:  # the booking and its event in one round trip
            return _insert_postgres(cursor, row, reference, confirmed_at, now, new_reference)
        while True:
            cursor.execute(
                "INSERT INTO bookings (uuid, reference, time_slot_id, exchange_id, customer_name,"
                " customer_email, customer_phone, notes, status, confirmed_at, created_at,"
                f" updated_at) VALUES ({m}, {m}, {m}, {m}, {m}, {m}, {m}, {m}, {m}, {m}, {m}, {m})"
                " ON CONFLICT (reference) DO NOTHING RETURNING id",
                (
                    row.uuid,
                    reference,
                    row.slot_id,
                    row.exchange_id,
                    row.name,
                    row.email,
                    row.phone,
                    row.notes,
                    row.status,
                    confirmed_at,
                    stamp(now),
                    stamp(now),
                ),
            )
            inserted = cursor.fetchone()
            if inserted is not None:
                break
            reference = new_reference()  # one in a billion: the reference was taken
        booking_id = int(inserted[0])
        cursor.execute(
            "INSERT INTO booking_events (uuid, booking_id, at, actor, from_status, to_status,"
            f" note, created_at, updated_at) VALUES ({m}, {m}, {m}, {m}, NULL, {m}, 'created',"
            f" {m}, {m})",
            (row.event_uuid, booking_id, stamp(now), row.actor, row.status, stamp(now), stamp(now)),
        )
        return booking_id, reference
    finally:
        cursor.close()


def _insert_postgres(
    cursor: Any,
    row: NewRow,
    reference: str,
    confirmed_at: datetime | None,
    now: datetime,
    new_reference: Callable[[], str],
) -> tuple[int, str]:
    while True:
        cursor.execute(
            "WITH booked AS (INSERT INTO bookings (uuid, reference, time_slot_id, exchange_id,"
            " customer_name, customer_email, customer_phone, notes, status, confirmed_at,"
            " created_at, updated_at) VALUES (%(uuid)s, %(reference)s, %(slot)s, %(exchange)s,"
            " %(name)s, %(email)s, %(phone)s, %(notes)s, %(status)s, %(confirmed)s, %(now)s,"
            " %(now)s) ON CONFLICT (reference) DO NOTHING RETURNING id)"
            " INSERT INTO booking_events (uuid, booking_id, at, actor, from_status, to_status,"
            " note, created_at, updated_at) SELECT %(event)s, id, %(now)s, %(actor)s, NULL,"
            " %(status)s, 'created', %(now)s, %(now)s FROM booked RETURNING booking_id",
            {
                "uuid": row.uuid,
                "reference": reference,
                "slot": row.slot_id,
                "exchange": row.exchange_id,
                "name": row.name,
                "email": row.email,
                "phone": row.phone,
                "notes": row.notes,
                "status": row.status,
                "confirmed": confirmed_at,
                "now": now,
                "event": row.event_uuid,
                "actor": row.actor,
            },
        )
        inserted = cursor.fetchone()
        if inserted is not None:
            return int(inserted[0]), reference
        reference = new_reference()  # one in a billion: the reference was taken


def slot_by_uuid(connection: Connection, uuid: str) -> tuple[Any, ...] | None:
    """(slot id, uuid, starts_at, ends_at, max_capacity, current_bookings, is_available,
    exchange id, slug, timezone, is_active, min_notice_minutes, max_advance_days), instants
    aware in UTC; one raw query, for the booking hot path."""
    raw: Any = connection.connection.driver_connection
    sqlite = connection.dialect.name == "sqlite"
    cursor = raw.cursor()
    try:
        cursor.execute(
            "SELECT s.id, s.uuid, s.starts_at, s.ends_at, s.max_capacity, s.current_bookings,"
            " s.is_available, e.id, e.slug, e.timezone, e.is_active, e.min_notice_minutes,"
            " e.max_advance_days FROM time_slots s JOIN exchanges e ON e.id = s.exchange_id"
            f" WHERE s.uuid = {'?' if sqlite else '%s'}",
            (uuid,),
        )
        row = cursor.fetchone()
    finally:
        cursor.close()
    if row is None:
        return None
    if not sqlite:
        return tuple(row)
    values = list(row)
    for index in (2, 3):
        values[index] = datetime.fromisoformat(values[index]).replace(tzinfo=UTC)
    values[6], values[10] = bool(values[6]), bool(values[10])
    return tuple(values)
