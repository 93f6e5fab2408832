"""Bulk access to ``time_slots`` through the raw driver: no ORM object per row.

Slot generation compares and writes hundreds of thousands of intervals, so it
works in the database's own representation of an instant (a "key"): on SQLite
the text SQLAlchemy stores (``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC, which sorts
like time), on PostgreSQL the aware datetime psycopg reads and writes. SQLite
inserts with one ``executemany`` of a prepared INSERT; PostgreSQL with ``COPY``
into a staging table and one set-based INSERT. Both skip rows whose
``(exchange_id, starts_at)`` already exists and report how many they inserted.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection

Key = Any  # str on SQLite, datetime on PostgreSQL; ordered like the instants
SlotRow = tuple[date, datetime, datetime]  # (local date, starts_at, ends_at), aware UTC
KeyedRow = tuple[date, Key, Key]

_TIMES = [f"{m // 60:02d}:{m % 60:02d}:00.000000" for m in range(24 * 60)]


def sqlite_datetime(value: datetime) -> str:
    """The text form SQLAlchemy's SQLite DateTime stores (so comparisons stay exact)."""
    if value.tzinfo is not None and value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    text = value.isoformat(" ")  # 'YYYY-MM-DD HH:MM:SS[.ffffff][+00:00]'
    return text[:26] if value.microsecond else text[:19] + ".000000"


class _SQLiteKey:
    """``sqlite_datetime`` with a fast path for whole-minute UTC instants (cached dates)."""

    def __init__(self) -> None:
        self.dates: dict[tuple[int, int, int], str] = {}

    def __call__(self, value: datetime) -> str:
        if value.second or value.microsecond or value.tzinfo is not UTC:
            return sqlite_datetime(value)
        key = (value.year, value.month, value.day)
        day = self.dates.get(key)
        if day is None:
            day = self.dates[key] = f"{key[0]:04d}-{key[1]:02d}-{key[2]:02d} "
        return day + _TIMES[value.hour * 60 + value.minute]


def uuid4_strings(count: int) -> list[str]:
    """``count`` random (version 4) UUIDs as text, from one read of the OS's randomness."""
    digits = os.urandom(16 * count).hex()
    variant = "89ab89ab89ab89ab"
    return [
        f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant[int(h[16], 16)]}{h[17:20]}-{h[20:32]}"
        for h in (digits[i : i + 32] for i in range(0, 32 * count, 32))
    ]


ExistingSlot = tuple[int, Key, Key, int]  # (id, starts, ends, current_bookings)


class SlotStore:
    """Reads and writes slots of one connection in its native key space."""

    def __init__(self, connection: Connection) -> None:
        self.raw: Any = connection.connection.driver_connection
        self.sqlite = connection.dialect.name == "sqlite"
        self.key: Any = _SQLiteKey() if self.sqlite else (lambda value: value)
        self.mark = "?" if self.sqlite else "%s"
        # per (slot grid, UTC offset): the time halves of the keys, and the day they fall on
        self._templates: dict[tuple[int, int], tuple[Any, list[tuple[int, str, int, str]]]] = {}

    def keyed(self, rows: Sequence[SlotRow]) -> list[KeyedRow]:
        if not self.sqlite:
            return list(rows)
        key = self.key
        return [(day, key(start), key(end)) for day, start, end in rows]

    def grid_rows(
        self, day: date, slots: Sequence[tuple[int, int]], offset: timedelta
    ) -> list[KeyedRow]:
        """Rows for wall-clock minute pairs of ``day`` at a steady UTC ``offset``."""
        shift = int(offset.total_seconds()) // 60
        if not self.sqlite:
            base = datetime(day.year, day.month, day.day, tzinfo=UTC) - offset
            return [
                (day, base + timedelta(minutes=s), base + timedelta(minutes=e)) for s, e in slots
            ]
        cached = self._templates.get((id(slots), shift))
        if cached is None or cached[0] is not slots:
            template = []
            for start, end in slots:
                s_day, s_min = divmod(start - shift, 1440)
                e_day, e_min = divmod(end - shift, 1440)
                template.append((s_day + 1, _TIMES[s_min], e_day + 1, _TIMES[e_min]))
            cached = self._templates[(id(slots), shift)] = (slots, template)
        midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
        dates = [self.key(midnight + timedelta(days=n))[:11] for n in (-1, 0, 1)]
        return [(day, dates[a] + b, dates[c] + d) for a, b, c, d in cached[1]]

    def already_there(
        self, exchange_id: int, start: datetime, end: datetime, rows: Sequence[KeyedRow]
    ) -> bool:
        """True when the slots overlapping [start, end) are exactly ``rows`` (SQLite).

        The nightly re-run's fast path: one aggregate row instead of a row per slot.
        A False answer only means "compare the slow way".
        """
        if not self.sqlite or not rows:
            return False
        cursor = self.raw.cursor()
        try:
            cursor.execute(
                "SELECT count(*), group_concat(starts_at || ' ' || ends_at, ';') FROM ("
                " SELECT starts_at, ends_at FROM time_slots WHERE exchange_id = ?"
                " AND starts_at > ? AND starts_at < ? AND ends_at > ? ORDER BY starts_at)",
                (exchange_id, self.key(start - timedelta(days=1)), self.key(end), self.key(start)),
            )
            count, joined = cursor.fetchone()
        finally:
            cursor.close()
        return bool(count == len(rows) and joined == ";".join([f"{s} {e}" for _, s, e in rows]))

    def existing(self, exchange_id: int, start: datetime, end: datetime) -> list[ExistingSlot]:
        """Slots of the exchange overlapping [start, end), in start order."""
        m = self.mark
        sql = (
            "SELECT id, starts_at, ends_at, current_bookings FROM time_slots"
            f" WHERE exchange_id = {m} AND starts_at > {m} AND starts_at < {m}"
            f" AND ends_at > {m} ORDER BY starts_at"
        )
        # slots last at most a day: the lower bound keeps the index range short
        params = (exchange_id, self.key(start - timedelta(days=1)), self.key(end), self.key(start))
        cursor = self.raw.cursor()
        try:
            cursor.execute(sql, params)
            rows: list[ExistingSlot] = cursor.fetchall()
            return rows
        finally:
            cursor.close()

    def insert(
        self, exchange_id: int, capacity: int, rows: Sequence[KeyedRow], now: datetime
    ) -> int:
        """Insert slots that do not exist yet; return the number inserted."""
        if not rows:
            return 0
        if not self.sqlite:
            return self._copy(exchange_id, capacity, rows, now)
        stamp = sqlite_datetime(now)
        cursor = self.raw.cursor()
        try:
            cursor.executemany(
                "INSERT INTO time_slots (uuid, exchange_id, date, starts_at, ends_at,"
                " max_capacity, current_bookings, is_available, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, 0, 1, ?, ?)"
                " ON CONFLICT (exchange_id, starts_at) DO NOTHING",
                [
                    (uid, exchange_id, str(day), start, end, capacity, stamp, stamp)
                    for uid, (day, start, end) in zip(uuid4_strings(len(rows)), rows, strict=True)
                ],
            )
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def _copy(
        self, exchange_id: int, capacity: int, rows: Sequence[KeyedRow], now: datetime
    ) -> int:
        with self.raw.cursor() as cursor:
            cursor.execute(
                "CREATE TEMP TABLE IF NOT EXISTS slot_stage ("
                " uuid varchar(36), date date, starts_at timestamptz, ends_at timestamptz"
                ") ON COMMIT DELETE ROWS"
            )
            with cursor.copy("COPY slot_stage (uuid, date, starts_at, ends_at) FROM STDIN") as copy:
                for uid, (day, start, end) in zip(uuid4_strings(len(rows)), rows, strict=True):
                    copy.write_row((uid, day, start, end))
            cursor.execute(
                "INSERT INTO time_slots (uuid, exchange_id, date, starts_at, ends_at,"
                " max_capacity, current_bookings, is_available, created_at, updated_at)"
                " SELECT uuid, %s, date, starts_at, ends_at, %s, 0, true, %s, %s FROM slot_stage"
                " ON CONFLICT (exchange_id, starts_at) DO NOTHING",
                (exchange_id, capacity, now, now),
            )
            inserted = int(cursor.rowcount)
            cursor.execute("DELETE FROM slot_stage")
            return inserted

    def delete_unbooked(self, ids: Sequence[int]) -> int:
        """Delete the slots among ``ids`` that hold no seats; return how many went."""
        deleted = 0
        cursor = self.raw.cursor()
        try:
            for index in range(0, len(ids), 500):
                part = ids[index : index + 500]
                marks = ", ".join([self.mark] * len(part))
                cursor.execute(
                    f"DELETE FROM time_slots WHERE id IN ({marks}) AND current_bookings = 0",
                    tuple(part),
                )
                deleted += int(cursor.rowcount)
        finally:
            cursor.close()
        return deleted


@contextmanager
def deferred_checkpoints(connection: Connection) -> Iterator[None]:
    """Hold SQLite's WAL checkpoints until the bulk work is done, then run one.

    Each chunk commit would otherwise copy the hot index pages back into the
    database file again; one checkpoint at the end writes each page once.
    Readers are not blocked either way (WAL).
    """
    if connection.dialect.name != "sqlite":
        yield
        return
    raw: Any = connection.connection.driver_connection
    raw.execute("PRAGMA wal_autocheckpoint=0")
    try:
        yield
    finally:
        raw.execute("PRAGMA wal_autocheckpoint=1000")
        if not raw.in_transaction:
            raw.execute("PRAGMA wal_checkpoint(PASSIVE)")
