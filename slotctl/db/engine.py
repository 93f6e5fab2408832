"""Engine and session factory, and the map from driver errors to domain errors.

Each database's connection settings live with its dialect
(:mod:`slotctl.db.dialects`): on SQLite, WAL and write transactions that begin
``IMMEDIATE`` (read-only sessions begin DEFERRED and never wait for writers); on
PostgreSQL, psycopg 3 in a UTC session.

This module knows nothing of migrations: :mod:`slotctl.db.migrate` (schema
check and upgrade) builds on it, never the other way round.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError, OperationalError, StatementError
from sqlalchemy.orm import Session

from slotctl.db import dialects
from slotctl.errors import Conflict, SlotctlError, Unavailable

READONLY = dialects.READONLY


def make_engine(url: str, busy_timeout: float = 10.0) -> Engine:
    """An engine for ``url`` with slotctl's connection settings (those of its database:
    :meth:`slotctl.db.dialects.Dialect.create_engine`)."""
    return dialects.create_engine(url, busy_timeout)


def describe(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def current_revision(engine: Engine) -> str | None:
    """The Alembic revision the database is at, or None for a blank database.

    A plain query: checking the schema on every command loads no Alembic
    (:mod:`slotctl.db.migrate` compares it with the shipped revisions)."""
    with engine.execution_options(**{READONLY: True}).connect() as conn:
        if not engine.dialect.has_table(conn, "alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


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
    except StatementError as exc:  # every driver error SQLAlchemy (or Dialect.cursor) wraps
        raise translated(engine, exc) from exc


def translated(engine: Engine, exc: StatementError) -> SlotctlError:  # noqa: PLR0911 - one per kind
    """The domain error of a wrapped driver error."""
    if isinstance(exc.orig, SlotctlError):  # raised while binding (a column default: the clock)
        return exc.orig
    message = first_line(exc)
    if isinstance(exc, IntegrityError):
        return Conflict(f"the change conflicts with the current data: {message}")
    if not isinstance(exc, OperationalError):
        return Unavailable(f"database {describe(engine)} error: {message}")
    if "locked" in message or "busy" in message:
        return Unavailable(
            f"database {describe(engine)} is locked by another process (waited past the "
            "busy timeout); try again"
        )
    if exc.connection_invalidated or "closed the connection" in message:
        return Unavailable(
            f"lost the connection to database {describe(engine)} ({message}); what was not "
            "committed was rolled back: run the command again"
        )
    if "connect" in message.lower() or "open" in message:
        return Unavailable(f"cannot connect to database {describe(engine)}: {message}")
    return Unavailable(f"database {describe(engine)} error: {message}")


@contextmanager
def chunked(engine: Engine) -> Iterator[Session]:
    """A session whose service commits as it goes (long bulk work); the rest is
    committed at the end, or rolled back on error."""
    with database_errors(engine), engine.connect() as connection:
        connection.commit()  # end the autobegun transaction: the session begins its own
        with (
            dialects.of(connection).bulk_writes(connection),
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
