"""PostgreSQL's SQL (see :mod:`slotctl.db.dialects`), through psycopg 3.

Instants are ``timestamptz`` read in a UTC session. Concurrent writers are
ordered by row locks, taken in id order so that they never deadlock.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from itertools import islice
from typing import IO, Any, ClassVar

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.orm import Session

from slotctl.db import dialects as d


class PostgreSQL(d.Dialect):
    name = "postgresql"
    random_uuid = "gen_random_uuid()::text"
    temp_schema = "pg_temp"
    temp_until = " ON COMMIT DROP"
    temp_types: ClassVar[dict[str, str]] = {"ts": "timestamptz", "text": "TEXT", "int": "INTEGER"}

    def create_engine(self, url: str, busy_timeout: float) -> Engine:
        """psycopg 3; a connection gives up after the busy timeout; sessions in UTC."""
        connect_args: dict[str, Any] = {}
        if "connect_timeout" not in url:
            connect_args["connect_timeout"] = max(1, int(busy_timeout))
        engine = create_engine(url, connect_args=connect_args)

        @event.listens_for(engine, "connect")
        def _utc_session(dbapi_connection: Any, _record: Any) -> None:
            # Instants are read and compared in UTC, whatever the server's TimeZone.
            dbapi_connection.execute("SET TIME ZONE 'UTC'")
            dbapi_connection.commit()

        return engine

    def refresh_statistics(self, connection: Connection, tables: Sequence[str]) -> None:
        # Autovacuum would analyze them within a minute or so; a doctor run right after
        # an import of 16,000 bookings took 50 s on the empty tables' plan, 0.4 s after.
        connection.exec_driver_sql(f"ANALYZE {', '.join(tables)}")

    def stamp(self, value: datetime) -> Any:
        return value

    def bind_instant(self, value: datetime) -> datetime:
        return value.astimezone(UTC)

    def instant(self, value: Any) -> datetime:
        return value.astimezone(UTC)  # type: ignore[no-any-return]

    def canonical_instant(self, text: str) -> Any:
        return text  # PostgreSQL reads ISO 8601 itself

    def placeholders(self, statement: str) -> str:
        return statement.replace("?", "%s")

    def load(self, connection: Connection, table: str, columns: d.Columns, rows: d.Rows) -> int:
        # A batch is gathered before its COPY: producing rows may query the connection
        # (slot lookups), which must not happen while a COPY is in progress on it.
        count = 0
        iterator = iter(rows)
        with self.cursor(connection) as cursor:
            while batch := list(islice(iterator, d.BATCH * 5)):
                with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in batch:
                        copy.write_row(row)
                count += len(batch)
        return count

    def distinct(self, a: str, b: str) -> str:
        return f"{a} IS DISTINCT FROM {b}"

    def text_date(self, column: str) -> str:
        return f"CAST({column} AS date)"

    def int_flag(self, column: str) -> str:
        return f"({column} = 1)"

    def sequential_uuid(self, prefix: str, number: str) -> str:
        return f"'{prefix}' || lpad(to_hex(({number})::bigint), 12, '0')"

    def lock_rows(self, table: str, ids: str) -> str | None:
        return f"SELECT id FROM {table} WHERE id IN ({ids}) ORDER BY id FOR UPDATE"

    def begin_snapshot(self, session: Session) -> None:
        session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))

    def new_rows(self, before: int, stage: str) -> str:
        # Bookers insert concurrently: the import's own rows are found by uuid.
        return (
            f"FROM bookings JOIN {stage} st ON st.uuid = bookings.uuid"
            f" WHERE st.existing_id IS NULL AND bookings.id > {int(before)}"
        )

    def insert_booking(self, cursor: Any, values: dict[str, Any]) -> int | None:
        # The booking and its event in one round trip.
        cursor.execute(_INSERT_BOOKING, values)
        inserted = cursor.fetchone()
        return None if inserted is None else int(inserted[0])

    def expire_statements(self, stale: str, change: str, event: str) -> tuple[str, ...]:
        # One statement: the UPDATE's status test is on the row itself, so a run that waited
        # for another run's row locks re-checks it and skips what the other already expired.
        return (
            f"WITH expired AS (UPDATE bookings SET {change} WHERE {stale}"
            " RETURNING id, time_slot_id),"
            " released AS (UPDATE time_slots t SET current_bookings = t.current_bookings - c.n,"
            " updated_at = :now FROM (SELECT time_slot_id, count(*) AS n FROM expired"
            " GROUP BY time_slot_id) c WHERE t.id = c.time_slot_id)"
            f" INSERT INTO booking_events ({d.EVENT_COLUMNS}) SELECT {self.random_uuid}, id,"
            f" {event} FROM expired",
        )

    # Slot generation -----------------------------------------------------------------

    key_suffix = "+00"
    analyze = "ANALYZE time_slots"

    def key_text(self, value: datetime) -> str:
        text = d.sqlite_text(value)
        return (text[:19] if text.endswith(".000000") else text) + "+00"

    def as_key(self, column: str) -> str:
        return f"{column}::text"

    def slots_digest(self, where: str) -> str:
        return (
            "SELECT count(*), md5(string_agg(starts_at::text || ' ' || ends_at::text, ';'"
            f" ORDER BY starts_at)) FROM time_slots WHERE {where}"
        )

    def digest(self, joined: str) -> str:
        return hashlib.md5(joined.encode(), usedforsecurity=False).hexdigest()

    def insert_slots(self, connection: Connection, batch: d.SlotBatch, *, direct: bool) -> int:
        # COPY in PostgreSQL's text format (keys already carry their '+00').
        tail = f"\t{batch.capacity}\t0\tt\t{batch.stamp}+00\t{batch.stamp}+00\n"
        data = "".join(
            [
                f"{uid}\t{batch.exchange_id}\t{day}\t{start}\t{end}{tail}"
                for uid, (day, start, end) in zip(batch.uuids, batch.rows, strict=True)
            ]
        )
        with self.cursor(connection) as cursor:
            if direct:
                with cursor.copy(f"COPY time_slots ({d.SLOT_COLUMNS}) FROM STDIN") as copy:
                    copy.write(data)
                return len(batch.rows)
            cursor.execute(
                "CREATE TEMP TABLE IF NOT EXISTS slot_stage (uuid varchar(36), exchange_id int,"
                " date date, starts_at timestamptz, ends_at timestamptz, max_capacity int,"
                " current_bookings int, is_available boolean, created_at timestamptz,"
                " updated_at timestamptz) ON COMMIT DELETE ROWS"
            )
            with cursor.copy(f"COPY slot_stage ({d.SLOT_COLUMNS}) FROM STDIN") as copy:
                copy.write(data)
            cursor.execute(
                f"INSERT INTO time_slots ({d.SLOT_COLUMNS}) SELECT {d.SLOT_COLUMNS} FROM slot_stage"
                " ON CONFLICT (exchange_id, starts_at) DO NOTHING"
            )
            inserted = int(cursor.rowcount)
            cursor.execute("DELETE FROM slot_stage")
            return inserted

    # Export: COPY streams the rows ---------------------------------------------------

    csv_lines = False
    slug_order = 'e.slug COLLATE "C"'

    def utc_text(self, column: str) -> str:
        return (
            f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') ||"
            f" CASE WHEN date_trunc('second', {column}) = {column} THEN ''"
            f" ELSE to_char({column} AT TIME ZONE 'UTC', '.US') END || '+00:00'"
        )

    def date_text(self, column: str) -> str:
        return f"to_char({column}, 'YYYY-MM-DD')"

    def neutralised(self, column: str) -> str:
        return (
            f"CASE WHEN {column} ~ '^([-=+@\\t\\r]|''[-=+@\\t\\r''])' THEN '''' || {column}"
            f" ELSE NULLIF({column}, '') END"
        )

    def local_texts(self, session: Session, columns: d.Columns, exchanges: d.Zones) -> d.Texts:
        texts = {}
        for column in columns:
            local = f"({column} AT TIME ZONE e.timezone)"
            minutes = (
                f"CAST(extract(epoch FROM {local} - ({column} AT TIME ZONE 'UTC')) / 60 AS INTEGER)"
            )
            texts[column] = (
                f"to_char({local}, 'YYYY-MM-DD\"T\"HH24:MI:SS') ||"
                f" CASE WHEN {minutes} < 0 THEN '-' ELSE '+' END ||"
                f" to_char(abs({minutes}) / 60, 'FM00') || ':' ||"
                f" to_char(mod(abs({minutes}), 60), 'FM00')"
            )
        return texts, []

    def write_csv(self, connection: Connection, sql: str, params: d.Params, out: IO[bytes]) -> int:
        with self.cursor(connection) as cursor:
            with cursor.copy(f"COPY ({_named(sql)}) TO STDOUT WITH (FORMAT csv)", params) as copy:
                for block in copy:
                    out.write(block)
            return int(cursor.rowcount)

    # Stats ---------------------------------------------------------------------------

    def weekday(self, column: str) -> str:
        return f"CAST(extract(isodow FROM {column}) AS INTEGER) - 1"

    def hours_between(self, later: str, earlier: str) -> str:
        return f"extract(epoch FROM ({later} - {earlier})) / 3600.0"

    def microseconds_between(self, later: str, earlier: str) -> str:
        # extract() of an interval is numeric (exact) since PostgreSQL 14.
        return f"CAST(extract(epoch FROM ({later} - {earlier})) * 1000000 AS BIGINT)"

    def local_hour(
        self,
        exchanges: d.Zones,
        start: datetime,
        end: datetime,
        column: str = "s.starts_at",
        exchange: str = "s.exchange_id",
    ) -> d.LocalHour:
        hour = f"CAST(extract(hour FROM ({column} AT TIME ZONE e.timezone)) AS INTEGER)"
        return hour, [], f" JOIN exchanges e ON e.id = {exchange}"

    def medians(self, session: Session, leads: d.Leads) -> dict[int | None, float]:
        # Two sorts of every value: let them happen in memory (this transaction only).
        session.execute(text("SET LOCAL work_mem = '64MB'"))
        rows = session.execute(
            text(
                f"SELECT s.exchange_id, percentile_cont(0.5) WITHIN GROUP (ORDER BY {leads.lead})"
                f" {leads.source} GROUP BY GROUPING SETS ((s.exchange_id), ())"
            ),
            leads.params,
        )
        return {
            (None if key is None else int(key)): float(value)
            for key, value in rows
            if value is not None
        }


def _named(statement: str) -> str:
    """``:name`` placeholders as psycopg's ``%(name)s``."""
    return re.sub(r"(?<![:\w]):(\w+)", r"%(\1)s", statement)


def _partial_indexes() -> None:
    """Name PostgreSQL's predicates of the partial indexes on the models too (see
    :data:`slotctl.db.models.PARTIAL_INDEXES`)."""
    from slotctl.db.models import PARTIAL_INDEXES, Base

    for index in Base.metadata.tables["bookings"].indexes:
        where = PARTIAL_INDEXES.get(str(index.name))
        if where is not None and index.dialect_options["postgresql"]["where"] is None:
            index.dialect_options["postgresql"]["where"] = text(where)


_partial_indexes()


# The booking and its 'created' event in one statement (built once: it runs per booking).
_INSERT_BOOKING = _named(
    "WITH booked AS (INSERT INTO bookings (uuid, reference, time_slot_id, exchange_id,"
    " customer_name, customer_email, customer_phone, notes, status, confirmed_at, created_at,"
    " updated_at) VALUES (:uuid, :reference, :slot, :exchange, :name, :email, :phone, :notes,"
    " :status, :confirmed, :now, :now) ON CONFLICT (reference) DO NOTHING RETURNING id)"
    f" INSERT INTO booking_events ({d.EVENT_COLUMNS}) SELECT :event, id, :now, :actor, NULL,"
    " :status, :note, :now, :now FROM booked RETURNING booking_id"
)
