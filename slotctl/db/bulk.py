"""Bulk access to ``time_slots`` through the raw driver: no ORM object per row.

Slot generation compares and writes hundreds of thousands of intervals, so it
works on one text "key" per instant, in UTC, exactly as the database spells
it: on SQLite what SQLAlchemy stores (``YYYY-MM-DD HH:MM:SS.ffffff``), on
PostgreSQL ``timestamptz::text`` in a UTC session (``YYYY-MM-DD HH:MM:SS+00``).
Keys sort like time and compare without parsing. SQLite inserts
with one ``executemany``; PostgreSQL with ``COPY`` (straight into the table when
the stretch is empty, else through a staging table and one ``INSERT ... ON
CONFLICT DO NOTHING``). Both report how many rows they inserted.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection

Key = str  # a UTC instant as the database spells it
SlotRow = tuple[date, datetime, datetime]  # (local date, starts_at, ends_at), aware UTC
KeyedRow = tuple[date, Key, Key]
ExistingSlot = tuple[int, Key, Key, int]  # (id, starts, ends, current_bookings)

_COLUMNS = (
    "uuid, exchange_id, date, starts_at, ends_at, max_capacity, current_bookings,"
    " is_available, created_at, updated_at"
)


def sqlite_datetime(value: datetime) -> str:
    """The text form SQLAlchemy's SQLite DateTime stores (so comparisons stay exact)."""
    if value.tzinfo is not None and value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    text = value.isoformat(" ")  # 'YYYY-MM-DD HH:MM:SS[.ffffff][+00:00]'
    return text[:26] if value.microsecond else text[:19] + ".000000"


class _KeyText:
    """An instant as key text, with a fast path for whole minutes (cached dates).

    ``suffix`` follows the seconds: '.000000' on SQLite, '+00' on PostgreSQL.
    """

    def __init__(self, sqlite: bool) -> None:
        self.sqlite = sqlite
        self.dates: dict[tuple[int, int, int], str] = {}
        suffix = ".000000" if sqlite else "+00"
        self.times = [f"{m // 60:02d}:{m % 60:02d}:00{suffix}" for m in range(24 * 60)]

    def __call__(self, value: datetime) -> str:
        if value.second or value.microsecond or value.tzinfo is not UTC:
            text = sqlite_datetime(value)
            if self.sqlite:
                return text
            return (text[:19] if text.endswith(".000000") else text) + "+00"
        key = (value.year, value.month, value.day)
        day = self.dates.get(key)
        if day is None:
            day = self.dates[key] = f"{key[0]:04d}-{key[1]:02d}-{key[2]:02d} "
        return day + self.times[value.hour * 60 + value.minute]


def uuid4_strings(count: int) -> list[str]:
    """``count`` random (version 4) UUIDs as text, from one read of the OS's randomness."""
    digits = os.urandom(16 * count).hex()
    variant = "89ab89ab89ab89ab"
    return [
        f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant[int(h[16], 16)]}{h[17:20]}-{h[20:32]}"
        for h in (digits[i : i + 32] for i in range(0, 32 * count, 32))
    ]


def _fingerprint(rows: Sequence[KeyedRow]) -> str:
    return ";".join([f"{s} {e}" for _, s, e in rows])


class SlotStore:
    """Reads and writes the slots of one connection, in text keys."""

    def __init__(self, connection: Connection) -> None:
        self.raw: Any = connection.connection.driver_connection
        self.sqlite = connection.dialect.name == "sqlite"
        self.key = _KeyText(self.sqlite)
        self.mark = "?" if self.sqlite else "%s"
        # per (slot grid, UTC offset): the time halves of the keys, and the day they fall on
        self._templates: dict[tuple[int, int], tuple[Any, list[tuple[int, str, int, str]]]] = {}

    def keyed(self, rows: Sequence[SlotRow]) -> list[KeyedRow]:
        key = self.key
        return [(day, key(start), key(end)) for day, start, end in rows]

    def grid_rows(
        self, day: date, slots: Sequence[tuple[int, int]], offset: timedelta
    ) -> list[KeyedRow]:
        """Rows for wall-clock minute pairs of ``day`` at a steady UTC ``offset``."""
        shift = int(offset.total_seconds()) // 60
        cached = self._templates.get((id(slots), shift))
        if cached is None or cached[0] is not slots:
            template = []
            for start, end in slots:
                s_day, s_min = divmod(start - shift, 1440)
                e_day, e_min = divmod(end - shift, 1440)
                times = self.key.times
                template.append((s_day + 1, times[s_min], e_day + 1, times[e_min]))
            cached = self._templates[(id(slots), shift)] = (slots, template)
        midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
        dates = [self.key(midnight + timedelta(days=n))[:11] for n in (-1, 0, 1)]
        return [(day, dates[a] + b, dates[c] + d) for a, b, c, d in cached[1]]

    def _window(self, start: datetime, end: datetime) -> tuple[str, tuple[Any, ...]]:
        """The WHERE clause for slots overlapping [start, end) and its bounds."""
        m = self.mark
        # slots last at most a day: the lower bound keeps the index range short
        clause = f"exchange_id = {m} AND starts_at > {m} AND starts_at < {m} AND ends_at > {m}"
        bounds = (start - timedelta(days=1), end, start)
        if self.sqlite:
            return clause, tuple(self.key(b) for b in bounds)
        return clause, bounds

    def _one(self, sql: str, params: Sequence[Any]) -> Any:
        cursor = self.raw.cursor()
        try:
            cursor.execute(sql, params)
            return cursor.fetchone()
        finally:
            cursor.close()

    def already_there(
        self, exchange_id: int, start: datetime, end: datetime, rows: Sequence[KeyedRow]
    ) -> bool:
        """True when the slots overlapping [start, end) are exactly ``rows``.

        The nightly re-run's fast path: one aggregate row instead of a row per slot.
        A False answer only means "compare the slow way".
        """
        if not rows:
            return False
        clause, bounds = self._window(start, end)
        if self.sqlite:
            count, joined = self._one(
                "SELECT count(*), group_concat(starts_at || ' ' || ends_at, ';') FROM ("
                f" SELECT starts_at, ends_at FROM time_slots WHERE {clause} ORDER BY starts_at)",
                (exchange_id, *bounds),
            )
            return bool(count == len(rows) and joined == _fingerprint(rows))
        count, digest = self._one(
            "SELECT count(*), md5(string_agg(starts_at::text || ' ' || ends_at::text, ';'"
            f" ORDER BY starts_at)) FROM time_slots WHERE {clause}",
            (exchange_id, *bounds),
        )
        expected = hashlib.md5(_fingerprint(rows).encode(), usedforsecurity=False).hexdigest()
        return bool(count == len(rows) and digest == expected)

    def existing(self, exchange_id: int, start: datetime, end: datetime) -> list[ExistingSlot]:
        """Slots of the exchange overlapping [start, end), in start order."""
        clause, bounds = self._window(start, end)
        columns = "starts_at, ends_at" if self.sqlite else "starts_at::text, ends_at::text"
        cursor = self.raw.cursor()
        try:
            cursor.execute(
                f"SELECT id, {columns}, current_bookings FROM time_slots WHERE {clause}"
                " ORDER BY starts_at",
                (exchange_id, *bounds),
            )
            rows: list[ExistingSlot] = cursor.fetchall()
            return rows
        finally:
            cursor.close()

    def insert(
        self,
        exchange_id: int,
        capacity: int,
        rows: Sequence[KeyedRow],
        now: datetime,
        *,
        empty: bool = False,
    ) -> int:
        """Insert slots that do not exist yet; return the number inserted.

        ``empty``: the caller holds the exchange's lock and saw no slot in the
        stretch, so PostgreSQL may COPY straight into the table.
        """
        if not rows:
            return 0
        stamp = sqlite_datetime(now)
        uids = uuid4_strings(len(rows))
        if not self.sqlite:
            return self._copy(exchange_id, capacity, rows, uids, stamp, direct=empty)
        cursor = self.raw.cursor()
        try:
            cursor.executemany(
                f"INSERT INTO time_slots ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, 0, 1, ?, ?)"
                " ON CONFLICT (exchange_id, starts_at) DO NOTHING",
                [
                    (uid, exchange_id, str(day), start, end, capacity, stamp, stamp)
                    for uid, (day, start, end) in zip(uids, rows, strict=True)
                ],
            )
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def _copy(
        self,
        exchange_id: int,
        capacity: int,
        rows: Sequence[KeyedRow],
        uids: list[str],
        stamp: str,
        *,
        direct: bool,
    ) -> int:
        """COPY in PostgreSQL's text format (keys already carry their '+00')."""
        tail = f"\t{capacity}\t0\tt\t{stamp}+00\t{stamp}+00\n"
        data = "".join(
            [
                f"{uid}\t{exchange_id}\t{day}\t{start}\t{end}{tail}"
                for uid, (day, start, end) in zip(uids, rows, strict=True)
            ]
        )
        with self.raw.cursor() as cursor:
            if direct:
                with cursor.copy(f"COPY time_slots ({_COLUMNS}) FROM STDIN") as copy:
                    copy.write(data)
                return len(rows)
            cursor.execute(
                "CREATE TEMP TABLE IF NOT EXISTS slot_stage (uuid varchar(36), exchange_id int,"
                " date date, starts_at timestamptz, ends_at timestamptz, max_capacity int,"
                " current_bookings int, is_available boolean, created_at timestamptz,"
                " updated_at timestamptz) ON COMMIT DELETE ROWS"
            )
            with cursor.copy(f"COPY slot_stage ({_COLUMNS}) FROM STDIN") as copy:
                copy.write(data)
            cursor.execute(
                f"INSERT INTO time_slots ({_COLUMNS}) SELECT {_COLUMNS} FROM slot_stage"
                " ON CONFLICT (exchange_id, starts_at) DO NOTHING"
            )
            inserted = int(cursor.rowcount)
            cursor.execute("DELETE FROM slot_stage")
            return inserted

    def analyze(self) -> None:
        """Refresh the planner's statistics after a bulk load (PostgreSQL's autovacuum
        would get there later; queries on the new slots should not wait for it)."""
        cursor = self.raw.cursor()
        try:
            cursor.execute("ANALYZE time_slots" if not self.sqlite else "PRAGMA optimize")
        finally:
            cursor.close()

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


BULK_CHECKPOINT_PAGES = 65536  # 256 MiB of 4 KiB pages


@contextmanager
def deferred_checkpoints(connection: Connection) -> Iterator[None]:
    """Checkpoint SQLite's WAL rarely during bulk work, then once at the end.

    At the default (every 1,000 pages) each chunk commit copies the hot index
    pages back into the database file again; every 256 MiB writes most pages
    once while keeping the WAL file bounded. The file is truncated afterwards.
    Readers are not blocked either way (WAL).
    """
    if connection.dialect.name != "sqlite":
        yield
        return
    raw: Any = connection.connection.driver_connection
    raw.execute(f"PRAGMA wal_autocheckpoint={BULK_CHECKPOINT_PAGES}")
    try:
        yield
    finally:
        raw.execute("PRAGMA wal_autocheckpoint=1000")
        if not raw.in_transaction:
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
