"""Shared fixtures.

* Every test runs with its own config and data directories (never the user's).
* ``db`` is parametrised over SQLite and PostgreSQL: a migrated SQLite file per
  test, and a fresh PostgreSQL schema per module, emptied before every test.
  Without PostgreSQL the PostgreSQL half skips, saying why; with ``CI=true`` a
  missing PostgreSQL fails instead.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from slotctl.cli import app
from slotctl.db.engine import make_engine
from slotctl.db.migrate import upgrade
from slotctl.db.models import Base
from slotctl.migrations import HEAD

PG_ADMIN_URL = os.environ.get(
    "SLOTCTL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# Hypothesis: the default profile is deterministic (a fixed seed: CI finds the same
# examples every run) and bounded; `pytest --hypothesis-profile long` searches far wider.
_FIXTURE_HEALTH = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
settings.register_profile(
    "default", derandomize=True, deadline=None, suppress_health_check=_FIXTURE_HEALTH
)
settings.register_profile(
    "long",
    max_examples=2_000,
    derandomize=False,
    deadline=None,
    suppress_health_check=_FIXTURE_HEALTH,
)
settings.load_profile("default")


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test sees the user's config, data, clock or format settings."""
    for name in list(os.environ):
        if name.startswith("SLOTCTL_") and name != "SLOTCTL_TEST_PG_URL":
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)
    return tmp_path


# PostgreSQL -----------------------------------------------------------------------


def _postgres_available() -> str | None:
    """None when PostgreSQL answers, else the reason it does not."""
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        return f"PostgreSQL at {PG_ADMIN_URL} is not reachable ({type(exc).__name__})"
    return None


_PG_REASON: list[str | None] = []


def require_postgres() -> None:
    if not _PG_REASON:
        _PG_REASON.append(_postgres_available())
    reason = _PG_REASON[0]
    if reason is None:
        return
    if IN_CI:
        pytest.fail(f"{reason}; CI=true requires PostgreSQL", pytrace=False)
    pytest.skip(f"{reason}; set SLOTCTL_TEST_PG_URL or start PostgreSQL to run these tests")


def pg_schema_url(schema: str) -> str:
    return f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}"


def new_pg_schema() -> tuple[str, str]:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = create_engine(PG_ADMIN_URL)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    return schema, pg_schema_url(schema)


def drop_pg_schema(schema: str) -> None:
    engine = create_engine(PG_ADMIN_URL)
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


@pytest.fixture(scope="module")
def pg_module_url() -> Iterator[str]:
    require_postgres()
    schema, url = new_pg_schema()
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    drop_pg_schema(schema)


def _truncate_pg(url: str) -> None:
    engine = create_engine(url)
    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        conn.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": HEAD})
    engine.dispose()


# SQLite ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # the last connection to close checkpoints the WAL into the file
    assert not path.with_name(path.name + "-wal").exists()
    return path


# The parametrised database --------------------------------------------------------


@dataclass
class Database:
    kind: str
    url: str

    def engine(self):  # type: ignore[no-untyped-def]
        return make_engine(self.url)

    def query(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        engine = make_engine(self.url)
        try:
            with engine.connect() as conn:
                return [tuple(row) for row in conn.execute(text(sql), params)]
        finally:
            engine.dispose()

    def scalar(self, sql: str, **params: Any) -> Any:
        rows = self.query(sql, **params)
        return rows[0][0] if rows else None

    def execute(self, sql: str, **params: Any) -> None:
        engine = make_engine(self.url)
        try:
            with engine.begin() as conn:
                conn.execute(text(sql), params)
        finally:
            engine.dispose()

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table, to prove a refused command changed nothing."""
        return {
            table.name: self.query(f"SELECT * FROM {table.name} ORDER BY id")
            for table in Base.metadata.sorted_tables
        }


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Database:
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "slotctl.db"
        shutil.copy(template, path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("pg_module_url")
        _truncate_pg(url)
    monkeypatch.setenv("SLOTCTL_DATABASE_URL", url)
    return Database(request.param, url)


# Running the CLI ------------------------------------------------------------------


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def invoke(*args: str, input: str | None = None) -> Run:
    runner = CliRunner()
    result = runner.invoke(app, list(args), input=input, catch_exceptions=False)
    return Run(result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def cli() -> Any:
    return invoke
