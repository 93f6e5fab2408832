"""Bulk access to ``time_slots`` through the raw driver: no ORM object per row.

Slot generation compares and writes hundreds of thousands of intervals, so it
works on one text "key" per instant, in UTC, exactly as the database spells
it (see :mod:`slotctl.db.dialects`). Keys sort like time and compare without
parsing. Inserts go through the dialect's bulk path (``executemany`` or
``COPY``), which reports how many rows it inserted.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Connection

from slotctl.db import dialects
from slotctl.db.models import new_uuids

Key = str  # a UTC instant as the database spells it
SlotRow = tuple[date, datetime, datetime]  # (local date, starts_at, ends_at), aware UTC
KeyedRow = tuple[date, Key, Key]


class ExistingSlot(NamedTuple):
    id: int
    starts: Key
    ends: Key
    current_bookings: int


class _KeyText:
    """An instant as key text, with a fast path for whole minutes (cached dates)."""

    def __init__(self, sql: dialects.Dialect) -> None:
        self.slow = sql.key_text
        self.dates: dict[tuple[int, int, int], str] = {}
        suffix = sql.key_suffix
        self.times = [f"{m // 60:02d}:{m % 60:02d}:00{suffix}" for m in range(24 * 60)]

    def __call__(self, value: datetime) -> str:
        if value.second or value.microsecond or value.tzinfo is not UTC:
            return self.slow(value)
        key = (value.year, value.month, value.day)
        day = self.dates.get(key)
        if day is None:
            day = self.dates[key] = f"{key[0]:04d}-{key[1]:02d}-{key[2]:02d} "
        return day + self.times[value.hour * 60 + value.minute]


def _fingerprint(rows: Sequence[KeyedRow]) -> str:
    return ";".join([f"{s} {e}" for _, s, e in rows])


class SlotStore:
    """Reads and writes the slots of one connection, in text keys."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.sql = dialects.of(connection)
        self.key = _KeyText(self.sql)
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
        # slots last at most a day: the lower bound keeps the index range short
        clause = "exchange_id = ? AND starts_at > ? AND starts_at < ? AND ends_at > ?"
        bounds = (start - timedelta(days=1), end, start)
        return clause, tuple(self.sql.stamp(b) for b in bounds)

    def _rows(self, statement: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        return self.sql.run(self.connection, statement, params)

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
        ((count, digest),) = self._rows(self.sql.slots_digest(clause), (exchange_id, *bounds))
        return bool(count == len(rows) and digest == self.sql.digest(_fingerprint(rows)))

    def existing(self, exchange_id: int, start: datetime, end: datetime) -> list[ExistingSlot]:
        """Slots of the exchange overlapping [start, end), in start order."""
        clause, bounds = self._window(start, end)
        starts, ends = self.sql.as_key("starts_at"), self.sql.as_key("ends_at")
        rows = self._rows(
            f"SELECT id, {starts}, {ends}, current_bookings FROM time_slots WHERE {clause}"
            " ORDER BY starts_at",
            (exchange_id, *bounds),
        )
        return [ExistingSlot(*row) for row in rows]

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
        stamp = dialects.sqlite_text(now)
        uuids = new_uuids(len(rows))
        batch = dialects.SlotBatch(exchange_id, capacity, rows, uuids, stamp)
        return self.sql.insert_slots(self.connection, batch, direct=empty)

    def analyze(self) -> None:
        """Refresh the planner's statistics after a bulk load (PostgreSQL's autovacuum
        would get there later; queries on the new slots should not wait for it)."""
        self._rows(self.sql.analyze, ())

    def delete_unbooked(self, ids: Sequence[int]) -> int:
        """Delete the slots among ``ids`` that hold no seats; return how many went."""
        deleted = 0
        with self.sql.cursor(self.connection) as cursor:
            for index in range(0, len(ids), 500):
                part = ids[index : index + 500]
                marks = ", ".join(["?"] * len(part))
                cursor.execute(
                    self.sql.placeholders(
                        f"DELETE FROM time_slots WHERE id IN ({marks}) AND current_bookings = 0"
                    ),
                    tuple(part),
                )
                deleted += int(cursor.rowcount)
        return deleted
