"""What a plain command loads, seen from a real process (``python -X importtime``).

The rules keep commands fast to start (bench/startup.py measures the time):

* a command on SQLite loads neither Alembic (the schema check reads the
  revision with plain SQL) nor anything of PostgreSQL (psycopg, SQLAlchemy's
  PostgreSQL dialects, among them asyncpg's), nor the libraries of other
  commands (holidays, icalendar; email_validator outside bookings);
* the engine, which every command loads, knows nothing of migrations.

asyncio is no rule: SQLAlchemy 2.1 imports it itself (``sqlalchemy.util``), so
the bare library imports the benchmark compares with load it too.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import slotctl.db.engine
from tests.conftest import invoke

OTHER_DATABASES = ("alembic", "psycopg", "psycopg2", "asyncpg")
OTHER_COMMANDS = ("holidays", "icalendar", "textual", "openpyxl", "xlsxwriter")
POSTGRESQL_DIALECTS = ("sqlalchemy.dialects.postgresql", "sqlalchemy.dialects.postgresql.asyncpg")

COMMANDS = {
    "exchanges list": ("exchanges", "list"),
    "slots available": ("slots", "available", "x", "--from", "today", "--to", "+7d"),
    "bookings create": ("bookings", "create", "{slot}", "--name", "Ann", "--email", "a@b.org"),
}


def _environment(home: Path, database_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLOTCTL_")}
    env.update(
        HOME=str(home),
        XDG_DATA_HOME=str(home / "data"),
        XDG_CONFIG_HOME=str(home / "config"),
        NO_COLOR="1",
        COLUMNS="200",
    )
    if database_url is not None:
        env["SLOTCTL_DATABASE_URL"] = database_url
    return env


def modules_loaded(env: dict[str, str], *args: str) -> set[str]:
    """Every module ``python -m slotctl ARGS`` imports; the command must succeed."""
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "slotctl", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    lines = [line for line in run.stderr.splitlines() if line.startswith("import time:")]
    assert run.returncode == 0, "\n".join(
        line for line in run.stderr.splitlines() if not line.startswith("import time:")
    )
    return {line.rsplit("|", 1)[1].strip() for line in lines[1:]}  # the first is the header


@pytest.fixture(scope="module")
def sqlite_env(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], str]:
    """The environment of a migrated SQLite database with an exchange ``x``, daily
    hours and their slots; and the uuid of a bookable slot."""
    home = tmp_path_factory.mktemp("startup")
    env = _environment(home, f"sqlite:///{home / 'slotctl.db'}")
    with pytest.MonkeyPatch.context() as patch:
        for name in [name for name in os.environ if name.startswith("SLOTCTL_")]:
            patch.delenv(name)
        for name, value in env.items():
            patch.setenv(name, value)
        for args in (
            ("db", "upgrade"),
            ("exchanges", "add", "x", "--name", "X", "--timezone", "Europe/Berlin"),
            ("hours", "add", "x", "daily", "08:00-20:00"),
            ("slots", "generate", "x"),
        ):
            run = invoke(*args)
            assert run.exit_code == 0, run.stderr
        run = invoke("slots", "available", "x", "--format", "json")
        assert run.exit_code == 0, run.stderr
    return env, run.json()[0]["uuid"]


@pytest.fixture(scope="module")
def loaded(sqlite_env: tuple[dict[str, str], str]) -> dict[str, set[str]]:
    """The modules each plain command loads, one real process each."""
    env, slot = sqlite_env
    return {
        name: modules_loaded(env, *(arg.format(slot=slot) for arg in args))
        for name, args in COMMANDS.items()
    }


@pytest.mark.parametrize("command", COMMANDS)
def test_a_sqlite_command_loads_no_migration_or_postgresql_driver(
    loaded: dict[str, set[str]], command: str
) -> None:
    modules = loaded[command]
    assert {"sqlalchemy.orm", "sqlalchemy.dialects.sqlite", "slotctl.db.engine"} <= modules
    top_level = {name.split(".")[0] for name in modules}
    assert top_level.isdisjoint(OTHER_DATABASES + OTHER_COMMANDS), sorted(
        top_level & set(OTHER_DATABASES + OTHER_COMMANDS)
    )


@pytest.mark.parametrize("command", ["exchanges list", "slots available"])
def test_only_bookings_load_email_validation(loaded: dict[str, set[str]], command: str) -> None:
    assert "email_validator" not in loaded[command]


@pytest.mark.parametrize("command", COMMANDS)
def test_a_sqlite_command_loads_no_postgresql_dialect(
    loaded: dict[str, set[str]], command: str
) -> None:
    assert loaded[command].isdisjoint(POSTGRESQL_DIALECTS)


def test_the_default_database_is_still_upgraded_on_first_use(tmp_path: Path) -> None:
    """The control: Alembic does load, and shows in the list, when there is work for it."""
    home = tmp_path / "first-use"
    home.mkdir()
    env = _environment(home, None)
    modules = modules_loaded(env, "exchanges", "list", "--format", "json")
    assert "alembic" in modules
    assert (home / "data" / "slotctl" / "slotctl.db").is_file()
    again = subprocess.run(
        [sys.executable, "-m", "slotctl", "exchanges", "list", "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert json.loads(again.stdout) == []


def test_the_engine_knows_nothing_of_migrations() -> None:
    """slotctl.db.migrate builds on the engine; the engine imports no migration code,
    not even inside a function (the import cycle this replaced)."""
    tree = ast.parse(Path(slotctl.db.engine.__file__).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
            imported.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    assert not {
        name
        for name in imported
        if name.startswith(("slotctl.db.migrate", "slotctl.migrations", "alembic"))
    }


@pytest.mark.parametrize(
    "args", [("--help",), ("desk", "--help"), ("queue", "--help"), ("queue", "next", "--help")]
)
def test_help_never_loads_textual(tmp_path: Path, args: tuple[str, ...]) -> None:
    """Only the desk screen itself imports Textual: help, even the desk's, stays fast."""
    env = {**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data")}
    assert not any(name.split(".")[0] == "textual" for name in modules_loaded(env, *args))
