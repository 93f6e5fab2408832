"""Staging tables: big files are loaded into a temporary table and checked and written
with set-based SQL, so memory stays flat whatever the size of the file."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from slotctl.db import dialects
from slotctl.db.engine import first_line
from slotctl.errors import Conflict
from slotctl.transfer.cells import BATCH, CACHE_KIB, CANONICAL_INSTANT, cell_instant


class Refused(Conflict):
    """A database constraint refused the import's write (exit 4)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"the file conflicts with the current data: {reason}")
        self.reason = reason


class Stage:
    """A temporary table on the session's connection, filled in batches, and the raw
    driver to run set-based SQL over it (``?`` placeholders on both databases)."""

    def __init__(self, connection: Connection, name: str, columns: Sequence[tuple[str, str]]):
        self.connection = connection
        self.name = name
        self.columns = [c for c, _ in columns]
        self.dialect = dialects.of(connection)
        self.dialect.limit_cache(connection, CACHE_KIB)
        self.dialect.temp_table(connection, name, columns)

    def stamp(self, value: datetime | None) -> Any:
        return None if value is None else self.dialect.stamp(value)

    def instant(self, text: str, column: str) -> Any:
        """An ISO 8601 cell as this database stores it (None when empty).

        The form slotctl exports (UTC, ``+00:00``) is rewritten as text after the
        checked parse, without datetime arithmetic: millions of rows go through here.
        """
        if not text:
            return None
        if CANONICAL_INSTANT.match(text):
            try:
                datetime.fromisoformat(text)  # a real date and time
            except ValueError:
                pass  # reported below
            else:
                return self.dialect.canonical_instant(text)
        return self.stamp(cell_instant(text, column))

    def load(self, rows: Iterable[tuple[Any, ...]], width: int | None = None) -> int:
        """Insert the rows (tuples of the first ``width`` columns; the rest stay null)."""
        columns = self.columns[: width or len(self.columns)]
        return self.dialect.load(self.connection, self.name, columns, rows)

    def sql(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement (``?`` placeholders) on the raw connection; its rows.

        A constraint refusing a write is :class:`Refused` (exit 4); other driver
        errors (a lock, a lost connection) reach the one error map as SQLAlchemy's.
        """
        try:
            return self.dialect.run(self.connection, statement, params)
        except IntegrityError as exc:
            raise Refused(first_line(exc)) from exc

    def stream(self, statement: str) -> Iterator[tuple[Any, ...]]:
        """The rows of one SELECT (no parameters), fetched a batch at a time (a server-side
        cursor on PostgreSQL), so that memory stays flat however many rows it has."""
        result = self.connection.exec_driver_sql(  # options of this statement only
            statement, execution_options={"stream_results": True, "yield_per": BATCH}
        )
        for rows in result.partitions():
            yield from (tuple(row) for row in rows)

    def slot_names(self, ids: Iterable[int], names: dict[int, str]) -> None:
        """Add ``slug@YYYY-MM-DDTHH:MM`` (the exchange's local time, as ``SLOT`` arguments
        take it) of the slots ``ids`` not yet in ``names``."""
        wanted = [id_ for id_ in set(ids) if id_ not in names]
        zones: dict[str, ZoneInfo] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            for id_, slug, zone, starts in self.sql(
                "SELECT s.id, e.slug, e.timezone, s.starts_at FROM time_slots s"
                f" JOIN exchanges e ON e.id = s.exchange_id WHERE s.id IN ({marks})",
                chunk,
            ):
                local = self.dialect.instant(starts).astimezone(
                    zones.get(zone) or zones.setdefault(zone, ZoneInfo(zone))
                )
                names[id_] = f"{slug}@{local:%Y-%m-%dT%H:%M}"

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
        return self.dialect.distinct(a, b)


def duplicates(stage: Stage, column: str, label: str) -> list[tuple[int, str]]:
    rows = stage.sql(
        f"SELECT st.line, st.{column}, d.first FROM {stage.name} st JOIN"
        f" (SELECT {column} AS value, min(line) AS first FROM {stage.name}"
        f" WHERE {column} IS NOT NULL GROUP BY {column} HAVING count(*) > 1) d"
        f" ON d.value = st.{column} WHERE st.line > d.first"
    )
    return [
        (line, f"duplicate {label} {value} (also on line {first})") for line, value, first in rows
    ]


def lock_slots(stage: Stage, ids: str) -> None:
    """Lock these slots (in id order, as ``bookings move`` does) until the import commits,
    where the database needs row locks (PostgreSQL): seats are taken and released only
    under a slot's row lock, so the checks stay true while bookers wait. SQLite's
    IMMEDIATE transaction already holds the database's write lock."""
    statement = stage.dialect.lock_rows("time_slots", ids)
    if statement is not None:
        stage.sql(statement)


BULK_ROWS = 1_000  # an import that writes this many rows refreshes the statistics


def refresh_statistics(session: Session) -> None:
    """The planner's statistics of the tables an import fills, refreshed in its unit of
    work (:meth:`slotctl.db.dialects.Dialect.refresh_statistics`)."""
    connection = session.connection()
    dialects.of(connection).refresh_statistics(
        connection, ("exchanges", "time_slots", "bookings", "booking_events")
    )
