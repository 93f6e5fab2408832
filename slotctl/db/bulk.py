"""Bulk writes through the raw driver: no ORM object per row.

SQLite gets one ``executemany`` of a prepared INSERT; PostgreSQL gets ``COPY``
into a staging table and one set-based INSERT. Both skip rows whose
``(exchange_id, starts_at)`` already exists and return how many were inserted.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection

# (date, starts_at, ends_at) with aware UTC instants
SlotRow = tuple[date, datetime, datetime]

_SQLITE_INSERT = (
    "INSERT INTO time_slots (uuid, exchange_id, date, starts_at, ends_at, max_capacity, "
    "current_bookings, is_available, created_at, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?, 0, 1, ?, ?) ON CONFLICT (exchange_id, starts_at) DO NOTHING"
)


def sqlite_datetime(value: datetime) -> str:
    """The text form SQLAlchemy's SQLite DateTime stores (so comparisons stay exact)."""
    v = value if value.tzinfo is None or value.tzinfo is UTC else value.astimezone(UTC)
    return (
        f"{v.year:04d}-{v.month:02d}-{v.day:02d} "
        f"{v.hour:02d}:{v.minute:02d}:{v.second:02d}.{v.microsecond:06d}"
    )


def insert_slots(
    connection: Connection,
    exchange_id: int,
    capacity: int,
    rows: Sequence[SlotRow],
    now: datetime,
) -> int:
    """Insert slots that do not exist yet; return the number inserted."""
    if not rows:
        return 0
    raw: Any = connection.connection.driver_connection
    if connection.dialect.name == "sqlite":
        stamp = sqlite_datetime(now)
        uuid4 = uuid.uuid4
        cursor = raw.cursor()
        try:
            cursor.executemany(
                _SQLITE_INSERT,
                [
                    (
                        str(uuid4()),
                        exchange_id,
                        day.isoformat(),
                        sqlite_datetime(start),
                        sqlite_datetime(end),
                        capacity,
                        stamp,
                        stamp,
                    )
                    for day, start, end in rows
                ],
            )
            return int(cursor.rowcount)
        finally:
            cursor.close()
    return _copy_slots_postgres(raw, exchange_id, capacity, rows, now)


def _copy_slots_postgres(
    raw: Any, exchange_id: int, capacity: int, rows: Sequence[SlotRow], now: datetime
) -> int:
    uuid4 = uuid.uuid4
    with raw.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS slot_stage ("
            " uuid varchar(36), date date, starts_at timestamptz, ends_at timestamptz"
            ") ON COMMIT DELETE ROWS"
        )
        with cursor.copy("COPY slot_stage (uuid, date, starts_at, ends_at) FROM STDIN") as copy:
            for day, start, end in rows:
                copy.write_row((str(uuid4()), day, start, end))
        cursor.execute(
            "INSERT INTO time_slots (uuid, exchange_id, date, starts_at, ends_at, max_capacity,"
            " current_bookings, is_available, created_at, updated_at)"
            " SELECT uuid, %s, date, starts_at, ends_at, %s, 0, true, %s, %s FROM slot_stage"
            " ON CONFLICT (exchange_id, starts_at) DO NOTHING",
            (exchange_id, capacity, now, now),
        )
        inserted = int(cursor.rowcount)
        cursor.execute("DELETE FROM slot_stage")
        return inserted
