"""Everything that differs between SQLite and PostgreSQL, and the raw driver.

:func:`of` is the one place that asks which database a connection talks to; it
returns a :class:`Dialect` whose methods and attributes are the SQL fragments,
statements and driver calls that differ (:mod:`.sqlite`, :mod:`.postgresql`).
Every other module writes SQL that both databases understand and asks its
dialect for the rest, so no other module branches on the database.

Raw driver access (bulk loads with ``executemany`` or ``COPY``, the booking hot
path, exports) goes through :meth:`Dialect.cursor` and :meth:`Dialect.run`,
which take ``?`` placeholders on both databases.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any, ClassVar, Protocol

from sqlalchemy.sql.elements import BindParameter

from slotctl.errors import Unavailable

Binds = list[BindParameter[Any]]
Columns = Sequence[str]
Rows = Iterable[Sequence[Any]]
Params = dict[str, Any]
Texts = tuple[dict[str, str], Binds]  # SQL per column, and the parameters they need
LocalHour = tuple[str, Binds, str]  # SQL, its parameters, the join it needs


class Zoned(Protocol):
    """What the local-time SQL needs of an exchange."""

    id: int
    timezone: str


Zones = Sequence[Zoned]


@dataclass(frozen=True)
class SlotBatch:
    """Free slots of one exchange to insert: ``rows`` of (local date, starts key, ends
    key), their ``uuids``, and ``stamp``, now as SQLite's text."""

    exchange_id: int
    capacity: int
    rows: Sequence[tuple[Any, str, str]]
    uuids: Sequence[str]
    stamp: str


@dataclass(frozen=True)
class Leads:
    """The values of a median: ``lead`` over ``source`` (``FROM ... WHERE`` with its
    ``params``), per ``s.exchange_id``, whose row ``counts`` are known."""

    lead: str
    source: str
    params: Params
    counts: dict[int, int]


if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine
    from sqlalchemy.orm import Session

EVENT_COLUMNS = "uuid, booking_id, at, actor, from_status, to_status, note, created_at, updated_at"
SLOT_COLUMNS = (
    "uuid, exchange_id, date, starts_at, ends_at, max_capacity, current_bookings,"
    " is_available, created_at, updated_at"
)
READONLY = "slotctl_readonly"  # execution option: a transaction that only reads
BATCH = 2_000  # rows per executemany when loading (memory stays flat)


def sqlite_text(value: datetime) -> str:
    """An instant as SQLite stores it (SQLAlchemy's form: ``YYYY-MM-DD HH:MM:SS.ffffff``
    in UTC), so that comparisons on the stored text stay exact."""
    if value.tzinfo is not None and value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    text = value.isoformat(" ")  # 'YYYY-MM-DD HH:MM:SS[.ffffff][+00:00]'
    return text[:26] if value.microsecond else text[:19] + ".000000"


class Dialect:
    """The SQL of one database. Subclasses fill in what differs."""

    name: ClassVar[str]
    random_uuid: ClassVar[str]  # an SQL expression: a fresh version 4 uuid as text
    temp_types: ClassVar[dict[str, str]]  # staging column kinds: ts, text, int

    alter_in_batches: ClassVar[bool] = False  # migrations rebuild tables to alter them
    # A transaction's first write takes the whole database's write lock (SQLite): a
    # service that reads and then writes ends its reads first, so the lock is held
    # only for the writes.
    lock_on_first_write: ClassVar[bool] = False

    def create_engine(self, url: str, busy_timeout: float) -> Engine:
        """An engine with this database's connection settings."""
        raise NotImplementedError

    @contextmanager
    def migrating(self, connection: Connection) -> Iterator[None]:
        """Around the transaction of a migration, on a connection not yet in one."""
        yield

    def check_references(self, connection: Connection) -> None:
        """Inside a migration's transaction, before it commits: every foreign key holds."""

    # Instants ------------------------------------------------------------------------

    def stamp(self, value: datetime) -> Any:
        """An aware instant as a raw-driver parameter."""
        raise NotImplementedError

    def bind_instant(self, value: datetime) -> datetime:
        """An aware instant as the ORM binds it (UTC; naive on SQLite)."""
        raise NotImplementedError

    def instant(self, value: Any) -> datetime:
        """A raw-driver value of an instant column, as an aware UTC datetime."""
        raise NotImplementedError

    def canonical_instant(self, text: str) -> Any:
        """A checked ``YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00`` as a raw-driver parameter,
        without datetime arithmetic (imports of millions of rows go through here)."""
        raise NotImplementedError

    # The raw driver ------------------------------------------------------------------

    @staticmethod
    def raw(connection: Connection) -> Any:
        return connection.connection.driver_connection

    @contextmanager
    def cursor(self, connection: Connection) -> Iterator[Any]:
        """A raw-driver cursor, the one way to the raw driver. A driver error raised
        while it is open is wrapped as SQLAlchemy wraps its own (``OperationalError``,
        ``IntegrityError``...), so the one error map
        (:func:`slotctl.db.engine.database_errors`) sees both paths alike."""
        from sqlalchemy.exc import DBAPIError

        base = connection.dialect.loaded_dbapi.Error
        cursor = self.raw(connection).cursor()
        try:
            yield cursor
        except base as exc:
            raise DBAPIError.instance(None, None, exc, base, dialect=connection.dialect) from exc
        finally:
            cursor.close()

    def placeholders(self, statement: str) -> str:
        """``?`` placeholders as the driver spells them."""
        return statement

    def run(
        self, connection: Connection, statement: str, params: Sequence[Any] = ()
    ) -> list[tuple[Any, ...]]:
        """One statement with ``?`` placeholders through the raw driver; its rows."""
        with self.cursor(connection) as cursor:
            if params:
                cursor.execute(self.placeholders(statement), tuple(params))
            else:
                cursor.execute(statement)
            return list(cursor.fetchall()) if cursor.description else []

    def load(self, connection: Connection, table: str, columns: Columns, rows: Rows) -> int:
        """Insert many rows into ``table`` (bulk: ``executemany`` or ``COPY``)."""
        raise NotImplementedError

    temp_schema: ClassVar[str]  # where temporary tables live
    temp_until: ClassVar[str]  # how long a temporary table lives, after its columns

    def temp_table(
        self, connection: Connection, name: str, columns: Sequence[tuple[str, str]]
    ) -> None:
        """A fresh temporary table of ``(column, kind)`` (kinds: ts, text, int), gone at
        the end of the transaction at the latest."""
        ddl = ", ".join(f"{column} {self.temp_types[kind]}" for column, kind in columns)
        self.run(connection, f"DROP TABLE IF EXISTS {self.temp_schema}.{name}")
        self.run(connection, f"CREATE TEMP TABLE {name} ({ddl}){self.temp_until}")

    def limit_cache(self, connection: Connection, kib: int) -> None:
        """Bound the database's page cache of this connection (bulk transfers)."""

    # SQL fragments -------------------------------------------------------------------

    def distinct(self, a: str, b: str) -> str:
        """``a`` and ``b`` differ, nulls compared as values."""
        raise NotImplementedError

    def text_date(self, column: str) -> str:
        """A ``YYYY-MM-DD`` text column as a date column's value."""
        return column

    def int_flag(self, column: str) -> str:
        """A 0/1 integer column as a boolean column's value."""
        return column

    def sequential_uuid(self, prefix: str, number: str) -> str:
        """An SQL expression: the text ``prefix`` followed by the integer expression
        ``number`` as 12 hexadecimal digits."""
        raise NotImplementedError

    def lock_rows(self, table: str, ids: str) -> str | None:
        """A statement locking the rows of ``table`` whose id is in the subquery ``ids``
        (in id order) until commit, or None where the transaction's lock is enough."""
        return None

    def begin_snapshot(self, session: Session) -> None:
        """Make the rest of this read transaction see one consistent state."""

    def new_rows(self, before: int, stage: str) -> str:
        """FROM/WHERE selecting the bookings an import just inserted above id ``before``."""
        raise NotImplementedError

    # Bookings ------------------------------------------------------------------------

    def insert_booking(self, cursor: Any, values: dict[str, Any]) -> int | None:
        """Insert a booking and its 'created' event (``values`` by column name, plus
        ``event`` and ``actor``); its id, or None when the reference is taken."""
        raise NotImplementedError

    def expire_statements(self, stale: str, change: str, event: str) -> tuple[str, ...]:
        """Change the bookings matching ``stale`` (``SET change``), release their seats and
        write their events (``event``: the columns after uuid and booking id); the last
        statement's row count is how many expired."""
        raise NotImplementedError

    # Slot generation: instants as "keys", the text the database itself compares -----

    key_suffix: ClassVar[str]  # what follows HH:MM:SS in a whole-minute key

    def key_text(self, value: datetime) -> str:
        """Any instant as its key (the slow path for keys of whole minutes)."""
        raise NotImplementedError

    def key_instant(self, key: str) -> datetime:
        """The aware UTC instant of a whole-second key (both spell it from
        ``YYYY-MM-DD HH:MM:SS``)."""
        return datetime.fromisoformat(key[:19]).replace(tzinfo=UTC)

    def as_key(self, column: str) -> str:
        """SQL: an instant column as its key text."""
        return column

    def slots_digest(self, where: str) -> str:
        """SQL: (count, digest) of the keys ``starts ends`` of the slots ``where``, joined
        by ``;`` in start order; compare with :meth:`digest`."""
        raise NotImplementedError

    def digest(self, joined: str) -> str:
        return joined

    def insert_slots(self, connection: Connection, batch: SlotBatch, *, direct: bool) -> int:
        """Insert free slots ``(local date, starts key, ends key)`` of an exchange (with
        ``uuids``, and ``stamp`` as SQLite's text of now), skipping those that exist
        (none do when ``direct``); how many were inserted."""
        raise NotImplementedError

    analyze: ClassVar[str]  # refresh the planner's statistics after a bulk load

    @contextmanager
    def bulk_writes(self, connection: Connection) -> Iterator[None]:
        """Long bulk work on this connection (generation): what makes it cheaper."""
        yield

    def refresh_statistics(self, connection: Connection, tables: Sequence[str]) -> None:
        """After a bulk load: statistics for the planner, so the next queries (doctor's
        history check) do not plan for empty tables."""

    # Export: each field rendered as text by the database ------------------------------

    csv_lines: ClassVar[bool]  # rows come back as finished CSV lines (else COPY)
    slug_order: ClassVar[str]  # the slug in byte order, whatever the collation

    def utc_text(self, column: str) -> str:
        """SQL: an instant as ``YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00``."""
        raise NotImplementedError

    def date_text(self, column: str) -> str:
        return column

    def neutralised(self, column: str) -> str:
        """SQL: free text with spreadsheet formulas neutralised, empty as null."""
        raise NotImplementedError

    def csv_cell(self, column: str, value: str) -> str:
        """SQL: ``value``, an expression of the text ``column`` that adds no character
        needing quotes, quoted as ``csv.writer`` would quote the column (for
        :attr:`csv_lines`); the tests read the column itself, which is cheaper."""
        return value

    def local_texts(self, session: Session, columns: Columns, exchanges: Zones) -> Texts:
        """SQL: each instant column of a slot as ``YYYY-MM-DDTHH:MM:SS+HH:MM`` in its
        exchange's time (``e`` is the exchange), and the parameters they need."""
        raise NotImplementedError

    def write_csv(self, connection: Connection, sql: str, params: Params, out: IO[bytes]) -> int:
        """Stream the rows of ``statement`` (``:name`` parameters) to ``out`` as CSV; how
        many rows."""
        raise NotImplementedError

    # Stats ---------------------------------------------------------------------------

    def weekday(self, column: str) -> str:
        """SQL: a date's weekday, 0 = Monday."""
        raise NotImplementedError

    def hours_between(self, later: str, earlier: str) -> str:
        """SQL: the hours from instant ``earlier`` to instant ``later``, fractional."""
        raise NotImplementedError

    def microseconds_between(self, later: str, earlier: str) -> str:
        """SQL: the whole microseconds from instant ``earlier`` to instant ``later``, an
        exact integer (the same number on both databases)."""
        raise NotImplementedError

    def local_hour(
        self,
        exchanges: Zones,
        start: datetime,
        end: datetime,
        column: str = "s.starts_at",
        exchange: str = "s.exchange_id",
    ) -> LocalHour:
        """SQL: the local hour of the instant ``column`` (default ``s.starts_at``) in the
        time of the exchange whose id is ``exchange``, between ``start`` and ``end``;
        its parameters; the join it needs."""
        raise NotImplementedError

    def medians(self, session: Session, leads: Leads) -> dict[int | None, float]:
        """The median of ``lead`` over ``source`` (``FROM ... WHERE``), per
        ``s.exchange_id`` and overall (key None); ``counts``: rows per exchange."""
        raise NotImplementedError


DRIVERS = {"sqlite": "pysqlite", "postgresql": "psycopg"}
URL_FORMS = "give sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"


def create_engine(url: str, busy_timeout: float) -> Engine:
    """An engine for ``url`` with its dialect's settings; a URL slotctl cannot use (not
    a URL, another database, a driver that is not installed) is
    :class:`~slotctl.errors.Unavailable`, saying which and what to give instead."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    if not url.strip():
        raise Unavailable(f"the database URL is empty: {URL_FORMS}")
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise Unavailable(f"{url!r} is not a database URL: {URL_FORMS}") from None
    name = parsed.get_backend_name()
    if name not in DRIVERS:
        raise Unavailable(f"slotctl works with SQLite and PostgreSQL, not {name!r}: {URL_FORMS}")
    driver = parsed.get_driver_name()
    if driver != DRIVERS[name]:
        raise Unavailable(
            f"slotctl talks to {name} through {DRIVERS[name]}, not {driver!r}: use {name}+{DRIVERS[name]}://"
        )
    try:
        parsed.get_dialect().import_dbapi()
    except ImportError as exc:
        raise Unavailable(
            f"the {name} driver is not installed ({exc}): pip install 'slotctl[postgres]'"
        ) from None
    return of(name).create_engine(url, busy_timeout)


_LOADED: dict[str, Dialect] = {}


def of(bind: Any) -> Dialect:
    """The dialect of a connection, session, engine or SQLAlchemy dialect (by name)."""
    name = _name(bind)
    loaded = _LOADED.get(name)
    if loaded is not None:
        return loaded
    if name == "sqlite":
        from slotctl.db.dialects.sqlite import SQLite

        loaded = SQLite()
    elif name == "postgresql":
        from slotctl.db.dialects.postgresql import PostgreSQL

        loaded = PostgreSQL()
    else:
        raise ValueError(f"slotctl does not support the {name!r} database")
    _LOADED[name] = loaded
    return loaded


def _name(bind: Any) -> str:
    if isinstance(bind, str):
        return bind
    if hasattr(bind, "get_bind"):  # a Session
        bind = bind.get_bind()
    dialect = getattr(bind, "dialect", bind)
    return str(dialect.name)
