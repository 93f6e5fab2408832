"""Engine and session factory.

SQLite: WAL journal, foreign keys on, a busy timeout, and write transactions
that begin ``IMMEDIATE`` (SQLAlchemy's documented recipe: the driver's own
BEGIN is disabled and ours is emitted on the ``begin`` event), so a
transaction that reads and then writes never fails with "database is locked"
while another writer holds the lock briefly. Read-only sessions begin
DEFERRED and never wait for writers (WAL readers do not block).

PostgreSQL: psycopg 3.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from slotctl.errors import Conflict, SlotctlError, Unavailable
from slotctl.migrations import HEAD

READONLY = "slotctl_readonly"


def _sqlite_engine(url: str, busy_timeout: float) -> Engine:
    parsed = make_url(url)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": busy_timeout})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable in WAL mode, fsync at checkpoints
        cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB: bulk index inserts stay in memory
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        readonly = conn.get_execution_options().get(READONLY, False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

    return engine


def make_engine(url: str, busy_timeout: float = 10.0) -> Engine:
    """An engine for ``url`` with slotctl's connection settings."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url, busy_timeout)
    connect_args: dict[str, Any] = {}
    if url.startswith("postgresql") and "connect_timeout" not in url:
        connect_args["connect_timeout"] = max(1, int(busy_timeout))
    engine = create_engine(url, connect_args=connect_args)
    if engine.dialect.name == "postgresql":

        @event.listens_for(engine, "connect")
        def _utc_session(dbapi_connection: Any, _record: Any) -> None:
            # Instants are read and compared in UTC, whatever the server's TimeZone.
            dbapi_connection.execute("SET TIME ZONE 'UTC'")
            dbapi_connection.commit()

    return engine


def describe(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def current_revision(engine: Engine) -> str | None:
    """The Alembic revision the database is at, or None for a blank database."""
    with engine.execution_options(**{READONLY: True}).connect() as conn:
        if not engine.dialect.has_table(conn, "alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def ensure_schema(engine: Engine, *, auto_upgrade: bool) -> None:
    """Check the schema is at HEAD; migrate it when ``auto_upgrade`` (default database)."""
    with database_errors(engine):
        revision = current_revision(engine)
        if revision == HEAD:
            return
        if auto_upgrade and revision in (None, *_known_revisions()):
            from slotctl.db.migrate import upgrade

            upgrade(engine)
            return
    if revision is None:
        raise Unavailable(
            f"database {describe(engine)} has no slotctl schema: run `slotctl db upgrade`"
        )
    if revision not in _known_revisions():
        raise Unavailable(
            f"database schema is at revision {revision}, which this slotctl does not know: "
            "upgrade slotctl"
        )
    raise Unavailable(
        f"database schema is at revision {revision}, this slotctl needs {HEAD}: "
        "run `slotctl db upgrade`"
    )


def _known_revisions() -> tuple[str, ...]:
    from slotctl.migrations import REVISIONS

    return REVISIONS


def first_line(exc: BaseException) -> str:
    """The first line of a driver error's message (SQLAlchemy's wrapper or the raw one)."""
    orig = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(orig).splitlines() if line.strip()]
    return lines[0] if lines else type(orig).__name__


@contextmanager
def database_errors(engine: Engine) -> Iterator[None]:
    """Translate driver errors into domain errors with one clear line."""
    try:
        yield
    except SlotctlError:
        raise
    except IntegrityError as exc:
        raise Conflict(f"the change conflicts with the current data: {first_line(exc)}") from exc
    except OperationalError as exc:
        message = first_line(exc)
        if "locked" in message or "busy" in message:
            raise Unavailable(
                f"database {describe(engine)} is locked by another process (waited past the "
                "busy timeout); try again"
            ) from exc
        if exc.connection_invalidated or "connect" in message.lower() or "open" in message:
            raise Unavailable(f"cannot connect to database {describe(engine)}: {message}") from exc
        raise Unavailable(f"database {describe(engine)} error: {message}") from exc
    except DBAPIError as exc:
        raise Unavailable(f"database {describe(engine)} error: {first_line(exc)}") from exc


@contextmanager
def chunked(engine: Engine) -> Iterator[Session]:
    """A session whose service commits as it goes (long bulk work); the rest is
    committed at the end, or rolled back on error."""
    from slotctl.db.bulk import deferred_checkpoints

    with database_errors(engine), engine.connect() as connection:
        connection.commit()  # end the autobegun transaction: the session begins its own
        with (
            deferred_checkpoints(connection),
            Session(bind=connection, expire_on_commit=False) as session,
        ):
            yield session
            session.commit()


@contextmanager
def staged(engine: Engine) -> Iterator[Session]:
    """A session for work that reads first and writes last (taking a seat).

    Its transactions begin DEFERRED on SQLite: the service reads without the
    write lock, commits that read, and then writes in a fresh transaction whose
    first statement is the write, so the lock is held only for the writes and
    the busy timeout still applies. Committed at the end, rolled back on error.
    """
    with (
        database_errors(engine),
        Session(engine.execution_options(**{READONLY: True}), expire_on_commit=False) as session,
    ):
        yield session
        session.commit()


@contextmanager
def transaction(engine: Engine, *, readonly: bool = False) -> Iterator[Session]:
    """One unit of work: a session in a transaction, committed on success and rolled
    back on error. (A service may commit midway, e.g. between a booking's read
    and write phases; the session then begins its next transaction by itself.)"""
    bind = engine.execution_options(**{READONLY: True}) if readonly else engine
    with database_errors(engine), Session(bind, expire_on_commit=False) as session:
        yield session
        session.commit()
