"""Schema, migrations and the engine's guarantees, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from slotctl.db.engine import make_engine
from slotctl.db.migrate import alembic_config, head_revision, upgrade
from slotctl.db.models import Base
from slotctl.migrations import HEAD, REVISIONS
from tests.conftest import drop_pg_schema, new_pg_schema, require_postgres


@pytest.fixture(params=["sqlite", "postgres"])
def blank_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no schema at all."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'blank.db'}"
        return
    require_postgres()
    schema, url = new_pg_schema()
    yield url
    drop_pg_schema(schema)


def test_head_constant_matches_alembic() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert head_revision() == HEAD
    revisions = [rev.revision for rev in reversed(list(script.walk_revisions()))]
    assert tuple(revisions) == REVISIONS


def test_migrated_blank_database_matches_the_models(blank_url: str) -> None:
    engine = make_engine(blank_url)
    upgrade(engine)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == []


def test_upgrade_is_idempotent(blank_url: str, cli: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("SLOTCTL_DATABASE_URL", blank_url)
    first = cli("db", "upgrade", "--format", "json")
    assert first.exit_code == 0, first.stderr
    assert first.json()["current"] == HEAD
    assert "upgraded from nothing" in first.stderr
    second = cli("db", "upgrade", "--format", "json")
    assert second.exit_code == 0
    assert "already at" in second.stderr
    current = cli("db", "current", "--format", "json").json()
    assert current["current"] == HEAD
    assert current["up_to_date"] is True


def test_non_default_database_must_be_upgraded_explicitly(
    blank_url: str, cli: Any, monkeypatch: Any
) -> None:
    monkeypatch.setenv("SLOTCTL_DATABASE_URL", blank_url)
    result = cli("exchanges", "list")
    assert result.exit_code == 6
    assert "run `slotctl db upgrade`" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    current = cli("db", "current", "--format", "json")
    assert current.exit_code == 0
    assert current.json()["current"] is None


def test_unknown_revision_exits_6(db: Any, cli: Any) -> None:
    db.execute("UPDATE alembic_version SET version_num = 'zzzz'")
    result = cli("exchanges", "list")
    assert result.exit_code == 6
    assert "does not know" in result.stderr


def test_default_sqlite_database_is_created_on_first_use(
    cli: Any, isolated_environment: Path
) -> None:
    result = cli(
        "exchanges", "add", "downtown", "--name", "Downtown", "--timezone", "Europe/Berlin"
    )
    assert result.exit_code == 0, result.stderr
    path = isolated_environment / "home" / "data" / "slotctl" / "slotctl.db"
    assert path.exists()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == (HEAD,)
        assert conn.execute("SELECT slug FROM exchanges").fetchall() == [("downtown",)]


def test_sqlite_connection_settings(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}", busy_timeout=7)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 7000
    engine.dispose()


def test_sqlite_write_transactions_begin_immediate(tmp_path: Path) -> None:
    """A second writer cannot even start while the first holds its transaction."""
    url = f"sqlite:///{tmp_path / 'x.db'}"
    first, second = make_engine(url, busy_timeout=0.2), make_engine(url, busy_timeout=0.2)
    with first.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    with first.begin() as conn:
        conn.exec_driver_sql(
            "SELECT count(*) FROM t"
        ).scalar()  # a read only, yet it holds the lock
        with pytest.raises(Exception, match="locked"), second.begin() as other:
            other.exec_driver_sql("SELECT 1")
    first.dispose()
    second.dispose()


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)  # SQLite's file lock
def test_locked_database_exits_6(db: Any, cli: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("SLOTCTL_BUSY_TIMEOUT", "0.2")
    before = db.snapshot()
    holder = sqlite3.connect(db.url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        result = cli("exchanges", "add", "downtown", "--name", "D", "--timezone", "UTC")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.exit_code == 6
    assert "locked" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert db.snapshot() == before


def test_unreachable_postgres_exits_6(cli: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("SLOTCTL_DATABASE_URL", "postgresql://ops:s3cret@127.0.0.1:1/nowhere")
    result = cli("exchanges", "list")
    assert result.exit_code == 6
    assert result.stderr.startswith("Error: cannot connect to database")
    assert "s3cret" not in result.stderr
    assert len(result.stderr.splitlines()) == 1


def _exchange_and_slot(conn: Any, capacity: int = 1) -> None:
    conn.execute(
        text(
            "INSERT INTO exchanges (uuid, slug, name, timezone, is_active, min_notice_minutes, "
            "created_at, updated_at) VALUES ('e', 'x', 'X', 'UTC', true, 0, :n, :n)"
        ),
        {"n": "2027-01-01 00:00:00"},
    )
    conn.execute(
        text(
            "INSERT INTO time_slots (uuid, exchange_id, date, starts_at, ends_at, max_capacity, "
            "current_bookings, is_available, created_at, updated_at) VALUES "
            "('s', 1, '2027-01-02', :a, :b, :c, 0, true, :n, :n)"
        ),
        {
            "a": "2027-01-02 09:00:00",
            "b": "2027-01-02 09:30:00",
            "c": capacity,
            "n": "2027-01-01 00:00:00",
        },
    )


def test_capacity_check_is_the_last_line_of_defence(db: Any) -> None:
    engine = db.engine()
    with engine.begin() as conn:
        _exchange_and_slot(conn)
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("UPDATE time_slots SET current_bookings = 2"))
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("UPDATE time_slots SET current_bookings = -1"))
    engine.dispose()


def test_one_active_booking_per_customer_and_slot(db: Any) -> None:
    engine = db.engine()
    insert = text(
        "INSERT INTO bookings (uuid, reference, time_slot_id, exchange_id, customer_name, "
        "customer_email, status, created_at, updated_at) VALUES "
        "(:u, :r, 1, 1, 'Ann', 'ann@example.com', :s, '2027-01-01 00:00:00', '2027-01-01 00:00:00')"
    )
    with engine.begin() as conn:
        _exchange_and_slot(conn, capacity=5)
        conn.execute(insert, {"u": "b1", "r": "BK-1", "s": "cancelled"})
        conn.execute(insert, {"u": "b2", "r": "BK-2", "s": "pending"})
        conn.execute(insert, {"u": "b3", "r": "BK-3", "s": "completed"})
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert, {"u": "b4", "r": "BK-4", "s": "confirmed"})
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert, {"u": "b5", "r": "BK-5", "s": "unknown"})
    engine.dispose()


def test_shift_checks_in_the_schema(db: Any) -> None:
    engine = db.engine()
    with engine.begin() as conn:
        _exchange_and_slot(conn)
    for opens, closes in (("12:00", "09:00"), ("09:00", "24:30"), ("9:00", "12:00")):
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO business_hours (uuid, exchange_id, weekday, opens_at, closes_at, "
                    "created_at, updated_at) VALUES (:u, 1, 0, :o, :c, :n, :n)"
                ),
                {"u": f"{opens}{closes}", "o": opens, "c": closes, "n": "2027-01-01 00:00:00"},
            )
    engine.dispose()


def test_instants_come_back_aware_utc(db: Any, cli: Any) -> None:
    result = cli("exchanges", "add", "x", "--name", "X", "--timezone", "Asia/Tokyo", "-f", "json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["created_at"].endswith("+00:00")
