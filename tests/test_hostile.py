"""Hostile input and failing infrastructure: one named test for each case the issue
"every one a clean error" lists, on SQLite and PostgreSQL.

Each refusal is one ``Error:`` line on stderr with the exit code of docs/cli.md
(2 for a value, 5 for an import file, 6 for the database and configuration) and
leaves the database as it was. The bounds are those of :mod:`slotctl.bounds`;
the oracle here writes them out again as literals, independently.

The fixture: the clock frozen at Monday 2027-03-01 08:00 UTC, the exchange
``downtown`` (Europe/Berlin, +01:00 until 2027-03-28) open Mon-Fri 09:00-12:00
with 30-minute slots of capacity 2 for the week, and one confirmed booking on
``downtown@2027-03-02T09:00``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

NOW = "2027-03-01T08:00:00+00:00"
SLOT = "downtown@2027-03-02T09:00"
INT64_PLUS_ONE = str(2**63)
HUGE = "9999999999999999999999"


def ok(result: Any) -> Any:
    assert result.exit_code == 0, result.stderr
    return result


def refused(result: Any, code: int, *fragments: str) -> Any:
    """Exit ``code``, one ``Error:`` line on stderr (with ``--format json``, one JSON
    error object) that holds each fragment."""
    assert result.exit_code == code, (result.exit_code, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    if line.startswith("{"):
        line = "Error: " + json.loads(line)["error"]["message"]
    assert line.startswith("Error: "), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    return result


@pytest.fixture
def downtown(cli: Any, db: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SLOTCTL_NOW", NOW)
    ok(cli("exchanges", "add", "downtown", "--name", "Downtown", "--timezone", "Europe/Berlin"))
    ok(cli("hours", "set", "downtown", "mon-fri 09:00-12:00"))
    ok(cli("slots", "generate", "downtown", "--days", "5", "--capacity", "2"))
    ok(cli("bookings", "create", SLOT, "--name", "Ann Example", "--email", "ann@example.com"))
    return "downtown"


def unchanged(db: Any, before: Any) -> None:
    assert db.snapshot() == before


# Numbers out of range: exit 2, nothing written -------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("slots", "generate", "downtown", "--capacity", INT64_PLUS_ONE),
        ("slots", "generate", "downtown", "--capacity", "2147483648"),
        ("slots", "generate", "downtown", "--capacity", "5001"),
        ("slots", "generate", "downtown", "--capacity", "0"),
        ("slots", "update", SLOT, "--capacity", INT64_PLUS_ONE),
        ("slots", "capacity", "downtown", "--from", "2027-03-01", "--to", "+5d", "--set", HUGE),
        ("slots", "list", "--limit", HUGE),
        ("bookings", "list", "--limit", HUGE),
        ("slots", "list", "--limit", "-1"),
        ("exchanges", "update", "downtown", "--min-notice", HUGE),
        ("exchanges", "update", "downtown", "--min-notice", "99999999d"),
        ("exchanges", "update", "downtown", "--min-notice", "366d"),
        ("exchanges", "update", "downtown", "--max-advance", "2147483648d"),
        ("exchanges", "update", "downtown", "--max-advance", "1831d"),
        ("exchanges", "add", "uptown", "--name", "Up", "--max-advance", "99999d"),
        ("bookings", "expire-pending", "--older-than", HUGE),
        ("bookings", "expire-pending", "--older-than", "366d"),
        ("slots", "generate", "downtown", "--days", "3661"),
        ("slots", "generate", "downtown", "--duration", "1441"),
        ("slots", "generate", "downtown", "--buffer", "99999999999d"),
        ("hours", "holidays", "downtown", "--country", "DE", "--year", HUGE),
        ("demo", "--reset", "--yes", "--seed", HUGE),
    ],
    ids=lambda args: " ".join(args)[:60],
)
def test_numbers_beyond_their_bounds_exit_2(
    cli: Any, db: Any, downtown: str, args: tuple[str, ...]
) -> None:
    before = db.snapshot()
    refused(cli(*args), 2, "out of range")
    unchanged(db, before)


@pytest.mark.parametrize(
    ("args", "column", "value"),
    [
        (("slots", "update", SLOT, "--capacity", "5000"), "max_capacity", 5000),
        (("exchanges", "update", "downtown", "--min-notice", "365d"), "min_notice_minutes", 525600),
        (("exchanges", "update", "downtown", "--max-advance", "1830d"), "max_advance_days", 1830),
    ],
    ids=["capacity 5000", "notice 365d", "advance 1830d"],
)
def test_numbers_at_their_bounds_are_taken(
    cli: Any, db: Any, downtown: str, args: tuple[str, ...], column: str, value: int
) -> None:
    ok(cli(*args))
    table = "time_slots" if column == "max_capacity" else "exchanges"
    assert value in {row[0] for row in db.query(f"SELECT {column} FROM {table}")}


def test_largest_limit_is_taken(cli: Any, db: Any, downtown: str) -> None:
    every = ok(cli("slots", "list", "--limit", "0", "-f", "json")).json()
    assert ok(cli("slots", "list", "--limit", "1000000000", "-f", "json")).json() == every


def test_capacity_setting_beyond_bound_is_a_configuration_error(
    cli: Any, db: Any, downtown: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLOTCTL_SLOT_CAPACITY", INT64_PLUS_ONE)
    before = db.snapshot()
    refused(cli("slots", "generate", "downtown"), 6, "slot_capacity", "SLOTCTL_SLOT_CAPACITY")
    unchanged(db, before)


def test_csv_capacity_beyond_bound_is_a_bad_row(
    cli: Any, db: Any, downtown: str, tmp_path: Path
) -> None:
    ok(cli("slots", "export", "--output", str(tmp_path / "slots.csv")))
    lines = (tmp_path / "slots.csv").read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[1].split(",")
    cells[header.index("max_capacity")] = INT64_PLUS_ONE
    (tmp_path / "slots.csv").write_text("\n".join([lines[0], ",".join(cells), *lines[2:]]) + "\n")
    before = db.snapshot()
    result = cli("slots", "import", str(tmp_path / "slots.csv"))
    assert result.exit_code == 5, result.stderr
    assert "max_capacity" in result.stderr
    assert "out of range" in result.stderr
    assert "Traceback" not in result.stderr
    unchanged(db, before)


# Dates at the ends of the calendar: exit 2 -----------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("slots", "generate", "downtown", "--from", "9999-12-31", "--days", "2"),
        ("slots", "generate", "downtown", "--from", "2200-12-31", "--days", "2"),
        ("slots", "generate", "downtown", "--from", "+99999999999d"),
        ("slots", "calendar", "downtown", "--month", "9999-12"),
        ("slots", "calendar", "downtown", "--month", "0001-01"),
        ("slots", "calendar", "downtown", "--day", "0001-01-01"),
        ("slots", "calendar", "downtown", "--week", "9999-12-31"),
        ("slots", "list", "--to", "9999-12-31"),
        ("slots", "list", "--from", "1899-12-31"),
        ("slots", "available", "downtown", "--from", "9999-12-31"),
        ("slots", "next", "downtown", "--after", "9999-12-31T23:59"),
        ("stats", "--from", "0001-01-01"),
        ("bookings", "list", "--from", "-999999d"),
        ("hours", "closures", "add", "downtown", "9999-12-31"),
        ("slots", "show", "downtown@9999-12-31T09:00"),
    ],
    ids=lambda args: " ".join(args)[:60],
)
def test_dates_beyond_the_calendar_exit_2(
    cli: Any, db: Any, downtown: str, args: tuple[str, ...]
) -> None:
    before = db.snapshot()
    refused(cli(*args), 2, "out of range", "1900-01-01 to 2200-12-31")
    unchanged(db, before)


@pytest.mark.parametrize("now", ["0001-01-01T00:00:00+00:00", "9999-12-31T00:00:00+00:00"])
@pytest.mark.parametrize("command", [("slots", "list"), ("stats",), ("bookings", "upcoming")])
def test_a_clock_beyond_the_calendar_exits_2(
    cli: Any, db: Any, downtown: str, monkeypatch: pytest.MonkeyPatch, now: str, command: Any
) -> None:
    monkeypatch.setenv("SLOTCTL_NOW", now)
    refused(cli(*command), 2, "SLOTCTL_NOW", "out of range")


def test_the_last_dates_of_the_calendar_work(cli: Any, db: Any, downtown: str) -> None:
    ok(cli("hours", "closures", "add", "downtown", "2200-12-30", "2200-12-31"))
    ok(cli("slots", "calendar", "downtown", "--month", "2200-12"))
    ok(cli("slots", "calendar", "downtown", "--day", "2200-12-31"))
    ok(cli("slots", "calendar", "downtown", "--month", "1900-01"))
    ok(cli("slots", "generate", "downtown", "--from", "2200-12-29", "--days", "3"))
    assert ok(cli("stats", "--from", "2200-12-01", "-f", "json")).json()


def test_import_row_at_the_end_of_the_calendar_is_a_bad_row(
    cli: Any, db: Any, downtown: str, tmp_path: Path
) -> None:
    path = tmp_path / "slots.csv"
    path.write_text(
        "exchange,date,start,end,max_capacity\ndowntown,9999-12-31,23:30,24:00,1\n",
        encoding="utf-8",
    )
    before = db.snapshot()
    result = cli("slots", "import", str(path))
    assert result.exit_code == 5, result.stderr
    assert "line 2" in result.stderr
    assert "out of range" in result.stderr
    unchanged(db, before)


# Bytes that are not UTF-8: exit 2 ---------------------------------------------------

SURROGATE_ARGS = [
    ("exchanges", "add", "zed", "--name", "Z\udcffed"),
    ("exchanges", "show", "\udcff"),
    ("bookings", "cancel", "BK-AAAAAA", "--reason", "\udcff"),
    ("slots", "list", "--from", "2027\udcff"),
    ("--actor", "\udcffnobody", "exchanges", "list"),
]


@pytest.mark.parametrize("args", SURROGATE_ARGS, ids=lambda args: " ".join(args[:2]))
def test_arguments_that_are_not_utf8_exit_2(
    cli: Any, db: Any, downtown: str, args: tuple[str, ...]
) -> None:
    before = db.snapshot()
    refused(cli(*args), 2, "is not UTF-8 text", "\\xff")
    unchanged(db, before)


def _slotctl(*args: str | bytes, env: dict[str, str], **kwargs: Any) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "slotctl", *args],
        check=False,
        env=env,
        capture_output=True,
        **kwargs,
    )


def _env(db: Any, **extra: str) -> dict[str, str]:
    return {**os.environ, "SLOTCTL_DATABASE_URL": db.url, "SLOTCTL_NOW": NOW, **extra}


def test_non_utf8_bytes_from_a_real_shell(db: Any, downtown: str) -> None:
    """The bytes exactly as a shell passes ``--name $'Z\\xffed'`` to a real process."""
    result = _slotctl(b"exchanges", b"add", b"zed", b"--name", b"Z\xffed", env=_env(db))
    assert result.returncode == 2
    assert (
        result.stderr
        == b"Error: argument 'Z\\xffed' is not UTF-8 text (check the terminal's or the script's encoding)\n"
    )
    assert db.scalar("SELECT count(*) FROM exchanges") == 1


# Database URLs: exit 6 --------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("frobdb://", "not 'frobdb'"),
        ("mysql://root@127.0.0.1/test", "not 'mysql'"),
        ("postgresql+psycopg2://postgres@127.0.0.1/test", "not 'psycopg2'"),
        ("sqlite+aiosqlite:///x.db", "not 'aiosqlite'"),
        ("not a url", "is not a database URL"),
        ("", "the database URL is empty"),
        ("   ", "the database URL is empty"),
    ],
)
def test_database_urls_slotctl_cannot_use_exit_6(cli: Any, url: str, fragment: str) -> None:
    refused(cli("--database-url", url, "exchanges", "list"), 6, fragment)


def test_sqlite_path_below_a_regular_file_exits_6(cli: Any, tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("a file\n")
    url = f"sqlite:///{tmp_path / 'plain' / 'slotctl.db'}"
    refused(cli("--database-url", url, "exchanges", "list"), 6, "a file is in the way")


def test_postgresql_driver_not_installed_exits_6(tmp_path: Path) -> None:
    """A Python where ``import psycopg`` fails, as without the ``postgres`` extra."""
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "psycopg.py").write_text("raise ImportError(\"No module named 'psycopg'\")\n")
    env = {**os.environ, "PYTHONPATH": str(shim)}
    url = "postgresql+psycopg://postgres@127.0.0.1/test"
    result = _slotctl("--database-url", url, "exchanges", "list", env=env, text=True)
    assert result.returncode == 6, result.stderr
    assert result.stderr.startswith("Error: the postgresql driver is not installed")
    assert "pip install 'slotctl[postgres]'" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_config_file_with_wrong_types_exits_6(cli: Any, tmp_path: Path) -> None:
    for text, key in (
        ("slot_minutes = true\n", "slot_minutes"),
        ("database_url = 5\n", "database_url"),
    ):
        path = tmp_path / "slotctl.toml"
        path.write_text(text)
        refused(cli("--config", str(path), "config", "show"), 6, f"invalid setting {key}")


# A locked SQLite database: exit 6 ---------------------------------------------------


def test_bookings_create_on_a_locked_sqlite_database_exits_6(
    cli: Any, db: Any, downtown: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if db.kind != "sqlite":
        pytest.skip("a file lock is SQLite's")
    monkeypatch.setenv("SLOTCTL_BUSY_TIMEOUT", "0.2")
    before = db.snapshot()
    holder = sqlite3.connect(db.url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        result = cli(
            "bookings", "create", "downtown@2027-03-02T09:30", "--name", "Bo", "--email", "b@x.de"
        )
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    refused(result, 6, "is locked by another process")
    unchanged(db, before)


# A closed pipe: exit 0 --------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [("slots", "export"), ("bookings", "export", "--as", "json"), ("slots", "list", "-f", "csv")],
    ids=" ".join,
)
def test_a_reader_that_goes_away_is_not_an_error(
    cli: Any, db: Any, downtown: str, args: tuple[str, ...]
) -> None:
    ok(cli("slots", "generate", "downtown", "--days", "400", "--capacity", "2"))
    command = " ".join([f"'{sys.executable}'", "-m", "slotctl", *args])
    result = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {command} | head -c 100 >/dev/null"],
        check=False,
        env=_env(db),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "Error" not in result.stderr
    assert "Traceback" not in result.stderr


# Accepted but wrong: refused now ----------------------------------------------------


def test_slot_reference_with_another_zones_offset_exits_2(cli: Any, db: Any, downtown: str) -> None:
    before = db.snapshot()
    result = cli(
        "bookings", "create", "downtown@2027-03-04T09:00+05:00", "--name", "Cy", "--email", "c@x.de"
    )
    refused(result, 2, "Europe/Berlin is at +01:00 then, not +05:00")
    unchanged(db, before)


def test_slot_reference_with_the_zones_own_offset_is_taken(
    cli: Any, db: Any, downtown: str
) -> None:
    shown = ok(cli("slots", "show", "downtown@2027-03-04T09:00+01:00", "-f", "json")).json()
    assert shown["starts_at"] == "2027-03-04T09:00:00+01:00"


def test_slot_reference_with_seconds_exits_2(cli: Any, db: Any, downtown: str) -> None:
    refused(cli("slots", "show", "downtown@2027-03-02T09:00:00"), 2, "use YYYY-MM-DDTHH:MM")


def test_hours_row_whose_weekday_and_day_disagree_is_a_bad_row(
    cli: Any, db: Any, downtown: str, tmp_path: Path
) -> None:
    path = tmp_path / "hours.csv"
    path.write_text("exchange,weekday,day,opens_at,closes_at\ndowntown,5,mon,18:00,19:00\n")
    before = db.snapshot()
    result = cli("hours", "import", str(path))
    assert result.exit_code == 5, result.stderr
    assert "weekday 5 is sat, but day is 'mon'" in result.stderr
    unchanged(db, before)


def test_time_spec_with_a_trailing_comma_exits_2(cli: Any, db: Any, downtown: str) -> None:
    before = db.snapshot()
    refused(cli("hours", "add", "downtown", "sat", "09:00-12:00,"), 2, "invalid time spec")
    refused(cli("hours", "add", "downtown", "sat", ",09:00-12:00"), 2, "invalid time spec")
    unchanged(db, before)


def test_empty_timezone_exits_2(cli: Any, db: Any, downtown: str) -> None:
    before = db.snapshot()
    refused(cli("exchanges", "add", "tz", "--name", "T", "--timezone", ""), 2, "unknown timezone")
    unchanged(db, before)


# Partial refusals: one error line, the listings on stdout ---------------------------


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_partial_delete_prints_one_error_line(cli: Any, db: Any, downtown: str, fmt: str) -> None:
    result = cli("slots", "delete", SLOT, "--yes", "-f", fmt)
    refused(result, 4, "Deleted 0 slots; 1 slot has bookings holding seats and was kept")
    if fmt == "json":
        assert result.json() == []
    else:
        assert "Refused" in result.stdout


def test_partial_capacity_prints_one_error_line(cli: Any, db: Any, downtown: str) -> None:
    ok(cli("bookings", "create", SLOT, "--name", "Bo Example", "--email", "bo@example.com"))
    result = cli("slots", "capacity", "downtown", "--from", "2027-03-02", "--to", "2027-03-02",
                 "--set", "1", "-f", "json")  # fmt: skip
    refused(result, 4, "Set capacity 1 on 5 slots; 1 slot has more than 1 booking and was left")
    assert [slot["start"] for slot in result.json()] == ["09:00"]


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_an_error_stays_one_line_whatever_the_value_holds(cli: Any, db: Any, fmt: str) -> None:
    """NEL and the Unicode line separators end a line for str.splitlines: escaped."""
    for value in ("junk-\x85", "a\u2028b", "a\u2029b", "a\nb"):
        result = cli("hours", "closures", "import", f"./{value}", "-f", fmt)
        refused(result, 3, "no such file")
