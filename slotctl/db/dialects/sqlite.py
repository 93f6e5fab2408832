"""SQLite's SQL (see :mod:`slotctl.db.dialects`).

Instants are stored as naive UTC text (``YYYY-MM-DD HH:MM:SS.ffffff``, the form
SQLAlchemy writes), which compares like time. Writers are serialised by the
database (transactions begin IMMEDIATE), so row locks are never needed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import islice
from pathlib import Path
from typing import IO, Any, ClassVar
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, bindparam, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from slotctl import clock
from slotctl.db import dialects as d
from slotctl.errors import Unavailable
from slotctl.localtime import offset_changes, offset_text
from slotctl.tabular import FORMULA_PREFIXES


class SQLite(d.Dialect):
    name = "sqlite"
    # A canonical version 4 uuid made by SQLite itself.
    random_uuid = (
        "lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' ||"
        " substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4),"
        " 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))"
    )
    temp_schema = "temp"
    temp_until = ""
    temp_types: ClassVar[dict[str, str]] = {"ts": "TEXT", "text": "TEXT", "int": "INTEGER"}

    alter_in_batches = True
    lock_on_first_write = True

    def create_engine(self, url: str, busy_timeout: float) -> Engine:
        """WAL journal, foreign keys on, a busy timeout, and write transactions that
        begin ``IMMEDIATE`` (SQLAlchemy's documented recipe: the driver's own BEGIN is
        disabled and ours is emitted on the ``begin`` event), so a transaction that
        reads and then writes never fails with "database is locked" while another
        writer holds the lock briefly. Read-only transactions begin DEFERRED and never
        wait for writers (WAL readers do not block)."""
        parsed = make_url(url)
        if parsed.database and parsed.database != ":memory:":
            folder = Path(parsed.database).expanduser().parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                reason = "a file is in the way" if folder.is_file() else exc.strerror
                raise Unavailable(f"cannot create the database folder {folder}: {reason}") from None
        engine = create_engine(url, connect_args={"timeout": busy_timeout})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
            cursor.execute("PRAGMA synchronous=NORMAL")  # durable in WAL mode
            cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB: bulk index inserts in memory
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            readonly = conn.get_execution_options().get(d.READONLY, False)
            conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

        return engine

    @contextmanager
    def migrating(self, connection: Connection) -> Iterator[None]:
        """Foreign keys off while a migration rebuilds tables (batch mode): with them
        on, dropping the old copy of a table would cascade into the rows that refer to
        it. SQLite's documented procedure; :meth:`check_references` checks them before
        the commit."""
        raw = self.raw(connection)  # outside SQLAlchemy's transaction: a PRAGMA in one is void
        raw.execute("PRAGMA foreign_keys=OFF")
        try:
            yield
        finally:
            raw.execute("PRAGMA foreign_keys=ON")

    def check_references(self, connection: Connection) -> None:
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"the migration broke {len(broken)} foreign key references")

    def stamp(self, value: datetime) -> Any:
        return d.sqlite_text(value)

    def bind_instant(self, value: datetime) -> datetime:
        return value.astimezone(UTC).replace(tzinfo=None)

    def instant(self, value: Any) -> datetime:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)

    def canonical_instant(self, text: str) -> Any:
        return text[:10] + " " + text[11:19] + (text[19:26] if len(text) == 32 else ".000000")

    def load(self, connection: Connection, table: str, columns: d.Columns, rows: d.Rows) -> int:
        marks = ", ".join("?" for _ in columns)
        insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
        count = 0
        iterator = iter(rows)
        with self.cursor(connection) as cursor:
            while batch := list(islice(iterator, d.BATCH)):
                cursor.executemany(insert, batch)
                count += len(batch)
        return count

    def limit_cache(self, connection: Connection, kib: int) -> None:
        self.run(connection, f"PRAGMA cache_size=-{int(kib)}")

    def distinct(self, a: str, b: str) -> str:
        return f"{a} IS NOT {b}"

    def sequential_uuid(self, prefix: str, number: str) -> str:
        return f"'{prefix}' || printf('%012x', {number})"

    def new_rows(self, before: int, stage: str) -> str:
        # The import holds the write lock: the new rows are exactly those above ``before``.
        return f"FROM bookings WHERE id > {int(before)}"

    def insert_booking(self, cursor: Any, values: dict[str, Any]) -> int | None:
        cursor.execute(
            "INSERT INTO bookings (uuid, reference, time_slot_id, exchange_id, customer_name,"
            " customer_email, customer_phone, notes, status, confirmed_at, created_at,"
            " updated_at) VALUES (:uuid, :reference, :slot, :exchange, :name, :email, :phone,"
            " :notes, :status, :confirmed, :now, :now)"
            " ON CONFLICT (reference) DO NOTHING RETURNING id",
            values,
        )
        inserted = cursor.fetchone()
        if inserted is None:
            return None
        cursor.execute(
            f"INSERT INTO booking_events ({d.EVENT_COLUMNS}) VALUES (:event, :id, :now, :actor,"
            " NULL, :status, :note, :now, :now)",
            {**values, "id": inserted[0]},
        )
        return int(inserted[0])

    def expire_statements(self, stale: str, change: str, event: str) -> tuple[str, ...]:
        # A few statements over a temporary table, inside the caller's IMMEDIATE
        # transaction (no other writer can interleave).
        return (
            "DROP TABLE IF EXISTS temp.expired",
            f"CREATE TEMP TABLE expired AS SELECT id, time_slot_id FROM bookings WHERE {stale}",
            f"UPDATE bookings SET {change} WHERE id IN (SELECT id FROM expired)",
            "DROP TABLE IF EXISTS temp.released",
            "CREATE TEMP TABLE released (time_slot_id INTEGER PRIMARY KEY, n INTEGER)",
            "INSERT INTO released SELECT time_slot_id, count(*) FROM expired GROUP BY time_slot_id",
            "UPDATE time_slots SET current_bookings = current_bookings - r.n, updated_at = :now"
            " FROM released r WHERE r.time_slot_id = time_slots.id",
            f"INSERT INTO booking_events ({d.EVENT_COLUMNS}) SELECT {self.random_uuid}, id,"
            f" {event} FROM expired",
        )

    # Slot generation -----------------------------------------------------------------

    key_suffix = ".000000"
    analyze = "PRAGMA optimize"

    def key_text(self, value: datetime) -> str:
        return d.sqlite_text(value)

    def slots_digest(self, where: str) -> str:
        return (
            "SELECT count(*), group_concat(starts_at || ' ' || ends_at, ';') FROM ("
            f" SELECT starts_at, ends_at FROM time_slots WHERE {where} ORDER BY starts_at)"
        )

    def insert_slots(self, connection: Connection, batch: d.SlotBatch, *, direct: bool) -> int:
        stamp = batch.stamp
        with self.cursor(connection) as cursor:
            cursor.executemany(
                f"INSERT INTO time_slots ({d.SLOT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, 0, 1, ?, ?)"
                " ON CONFLICT (exchange_id, starts_at) DO NOTHING",
                [
                    (
                        uid,
                        batch.exchange_id,
                        str(day),
                        start,
                        end,
                        batch.capacity,
                        stamp,
                        stamp,
                    )
                    for uid, (day, start, end) in zip(batch.uuids, batch.rows, strict=True)
                ],
            )
            return int(cursor.rowcount)

    @contextmanager
    def bulk_writes(self, connection: Connection) -> Iterator[None]:
        """Checkpoint the WAL rarely during bulk work, then once at the end.

        At the default (every 1,000 pages) each chunk commit copies the hot index
        pages back into the database file again; every 256 MiB writes most pages
        once while keeping the WAL file bounded. The file is truncated afterwards.
        Readers are not blocked either way (WAL).
        """
        raw = self.raw(connection)
        raw.execute(f"PRAGMA wal_autocheckpoint={BULK_CHECKPOINT_PAGES}")
        try:
            yield
        finally:
            raw.execute("PRAGMA wal_autocheckpoint=1000")
            if not raw.in_transaction:
                raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # Export: each row comes back as one finished CSV line ------------------------------

    csv_lines = True
    slug_order = "e.slug"

    def utc_text(self, column: str) -> str:
        # stored as 'YYYY-MM-DD HH:MM:SS.ffffff'; '.000000' only at its end
        return f"replace(replace({column}, '.000000', ''), ' ', 'T') || '+00:00'"

    def neutralised(self, column: str) -> str:
        codes = ", ".join(str(ord(c)) for c in FORMULA_PREFIXES)
        return (
            f"CASE WHEN unicode({column}) IN ({codes}) OR (unicode({column}) = 39"
            f" AND unicode(substr({column}, 2)) IN ({codes}, 39)) THEN '''' || {column}"
            f" ELSE NULLIF({column}, '') END"
        )

    def csv_cell(self, column: str, value: str) -> str:
        return (
            f"CASE WHEN instr({column}, ',') OR instr({column}, '\"')"
            f" OR instr({column}, char(10)) OR instr({column}, char(13))"
            f" THEN '\"' || replace({value}, '\"', '\"\"') || '\"' ELSE {value} END"
        )

    def local_texts(self, session: Session, columns: d.Columns, exchanges: d.Zones) -> d.Texts:
        # The offsets in force over the slots' whole span, as CASEs on the stored text.
        low, high = session.execute(
            text("SELECT min(starts_at), max(ends_at) FROM time_slots")
        ).one()
        now = clock.now()
        start = (self.instant(low) if low else now) - timedelta(days=1)
        end = (self.instant(high) if high else now) + timedelta(days=1)
        texts: dict[str, str] = {}
        binds: d.Binds = []
        for column in columns:
            texts[column], more = offsets(
                exchanges,
                start,
                end,
                partial(_local_text, column),
                column=column,
                prefix=column.replace(".", "_"),
            )
            binds.extend(more)
        return texts, binds

    def write_csv(self, connection: Connection, sql: str, params: d.Params, out: IO[bytes]) -> int:
        count = 0
        with self.cursor(connection) as cursor:
            cursor.execute(f"PRAGMA cache_size=-{EXPORT_CACHE_KIB}")  # flat memory
            cursor.execute(sql, params)
            while chunk := cursor.fetchmany(FETCH):
                out.write(("\n".join([row[0] for row in chunk]) + "\n").encode())
                count += len(chunk)
        return count

    # Stats ---------------------------------------------------------------------------

    def weekday(self, column: str) -> str:
        return f"(CAST(strftime('%w', {column}) AS INTEGER) + 6) % 7"

    def hours_between(self, later: str, earlier: str) -> str:
        return f"(julianday({later}) - julianday({earlier})) * 24.0"

    def microseconds_between(self, later: str, earlier: str) -> str:
        # Exact on the stored text 'YYYY-MM-DD HH:MM:SS.ffffff': whole seconds since the
        # epoch, then the six digits of microseconds (julianday() is a float).
        def micros(column: str) -> str:
            return (
                f"(CAST(strftime('%s', {column}) AS INTEGER) * 1000000"
                f" + CAST(substr({column}, 21, 6) AS INTEGER))"
            )

        return f"({micros(later)} - {micros(earlier)})"

    def local_hour(
        self,
        exchanges: d.Zones,
        start: datetime,
        end: datetime,
        column: str = "s.starts_at",
        exchange: str = "s.exchange_id",
    ) -> d.LocalHour:
        # SQLite has no time zones: the offsets in force become a CASE on the stored text.
        minutes, binds = offsets(
            exchanges, start, end, str, column=column, exchange_column=exchange
        )
        minute_of_day = (
            f"(CAST(substr({column}, 12, 2) AS INTEGER) * 60"
            f" + CAST(substr({column}, 15, 2) AS INTEGER)"
        )
        return f"(({minute_of_day} + {minutes} + 1440) % 1440) / 60)", binds, ""

    def medians(self, session: Session, leads: d.Leads) -> dict[int | None, float]:
        # No percentile function: the values are written once, sorted by exchange and
        # value, to a temporary table whose rowids are then the sorted positions; a
        # second, sorted by value alone, gives the overall median. Counts are known.
        session.execute(text("DROP TABLE IF EXISTS temp.slotctl_leads"))
        session.execute(text("DROP TABLE IF EXISTS temp.slotctl_all_leads"))
        session.execute(
            text(
                f"CREATE TEMP TABLE slotctl_leads AS SELECT s.exchange_id AS exchange_id,"
                f" {leads.lead} AS lead {leads.source} ORDER BY s.exchange_id, lead"
            ),
            leads.params,
        )
        counts = leads.counts
        medians: dict[int | None, float] = {}
        start = 1
        for exchange_id in sorted(k for k, n in counts.items() if n):
            medians[exchange_id] = _middle(session, "slotctl_leads", start, counts[exchange_id])
            start += counts[exchange_id]
        total = sum(counts.values())
        if len(medians) == 1:
            medians[None] = next(iter(medians.values()))
        elif total:
            everything = "SELECT lead FROM slotctl_leads ORDER BY lead"
            session.execute(text(f"CREATE TEMP TABLE slotctl_all_leads AS {everything}"))
            medians[None] = _middle(session, "slotctl_all_leads", 1, total)
            session.execute(text("DROP TABLE temp.slotctl_all_leads"))
        session.execute(text("DROP TABLE temp.slotctl_leads"))
        return medians


BULK_CHECKPOINT_PAGES = 65536  # 256 MiB of 4 KiB pages
EXPORT_CACHE_KIB = 8_192  # the page cache while exporting (its sort spills to disk beyond)
FETCH = 5000  # exported rows per fetch


def _local_text(column: str, minutes: int) -> str:
    offset = offset_text(minutes)  # also a valid SQLite date modifier
    return f"strftime('%Y-%m-%dT%H:%M:%S', {column}, '{offset}') || '{offset}'"


def _middle(session: Session, table: str, start: int, count: int) -> float:
    """The median of ``count`` sorted values stored from rowid ``start`` on."""
    low, high = start + (count - 1) // 2, start + count // 2
    value = session.execute(
        text(f"SELECT avg(lead) FROM {table} WHERE rowid IN (:low, :high)"),
        {"low": low, "high": high},
    ).scalar()
    return float(value or 0)


def offsets(
    exchanges: Iterable[d.Zoned],
    start: datetime,
    end: datetime,
    literal: Callable[[int], str],
    column: str = "s.starts_at",
    exchange_column: str = "s.exchange_id",
    prefix: str = "since",
) -> tuple[str, d.Binds]:
    """A ``CASE`` giving ``literal(offset_minutes)`` for each row's exchange and instant.

    SQLite has no time zones, but the UTC offsets in force over a span of time are few
    (two changes a year at most), so they become a ``CASE`` on the stored UTC text of
    ``column``, per exchange: exact, and evaluated in SQLite's engine rather than in
    Python for every row.
    """
    params: d.Binds = []
    branches = []
    for exchange in exchanges:
        changes = offset_changes(ZoneInfo(exchange.timezone), start, end)
        inner = []
        for index, (since, minutes) in enumerate(reversed(changes)):
            if index == len(changes) - 1:
                inner.append(f"ELSE {literal(minutes)}")
                continue
            name = f"{prefix}_{exchange.id}_{len(params)}"
            params.append(bindparam(name, d.sqlite_text(since)))
            inner.append(f"WHEN {column} >= :{name} THEN {literal(minutes)}")
        offset = (
            inner[0].removeprefix("ELSE ") if len(inner) == 1 else f"CASE {' '.join(inner)} END"
        )
        branches.append(f"WHEN {exchange.id} THEN {offset}")
    if not branches:
        return literal(0), params
    return f"CASE {exchange_column} {' '.join(branches)} ELSE {literal(0)} END", params
