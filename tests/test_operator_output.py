"""What a new operator reads (issue 11, part 2): times that say their zone, tables that
never wrap an identifier when piped, dry runs that say what they would change, and a
top-level help whose summaries are whole sentences. On SQLite and PostgreSQL.

The clock is frozen at Monday 2027-03-01 08:00 UTC: Berlin is at +01:00, New York at
-05:00 and Tokyo at +09:00.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from typing import Any

import pytest
import typer

from slotctl.cli import app

NOW = "2027-03-01T08:00:00+00:00"
LONG_NAME = "The Grand Central Terminal Currency Exchange and Travel Money Counter"


def ok(result: Any) -> Any:
    assert result.exit_code == 0, result.stderr
    return result


@pytest.fixture
def two_zones(cli: Any, db: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """berlin (09:00-10:00) and nyc (08:00-09:00) open on 2027-03-02, one 60-minute
    slot each, one booking each: berlin 09:00 +01:00 = 08:00 UTC, nyc 08:00 -05:00 =
    13:00 UTC."""
    monkeypatch.setenv("SLOTCTL_NOW", NOW)
    ok(cli("exchanges", "add", "berlin", "--name", "Berlin", "--timezone", "Europe/Berlin"))
    ok(cli("exchanges", "add", "nyc", "--name", LONG_NAME, "--timezone", "America/New_York"))
    ok(cli("hours", "set", "berlin", "tue 09:00-10:00"))
    ok(cli("hours", "set", "nyc", "tue 08:00-09:00"))
    for slug in ("berlin", "nyc"):
        ok(
            cli(
                "slots", "generate", slug, "--from", "2027-03-02", "--days", "1", "--duration", "60"
            )
        )
    ok(cli("bookings", "create", "berlin@2027-03-02T09:00", "--name", "Ann", "--email", "a@x.org"))
    ok(cli("bookings", "create", "nyc@2027-03-02T08:00", "--name", "Bob", "--email", "b@x.org"))
    return cli


def _row(stdout: str, *fragments: str) -> str:
    rows = [line for line in stdout.splitlines() if all(f in line for f in fragments)]
    assert len(rows) == 1, (fragments, stdout)
    return rows[0]


# 2. Times without a zone -----------------------------------------------------------


def test_bookings_across_exchanges_show_each_start_with_its_offset(two_zones: Any) -> None:
    out = ok(two_zones("bookings", "list")).stdout
    assert "2027-03-02 09:00 +01:00" in _row(out, "berlin")
    assert "2027-03-02 08:00 -05:00" in _row(out, "nyc")
    # ordered by instant: 09:00 +01:00 (08:00 UTC) comes before 08:00 -05:00 (13:00 UTC)
    assert out.index("berlin") < out.index("nyc")


def test_booking_history_is_in_the_exchange_local_time(two_zones: Any) -> None:
    reference = two_zones("bookings", "list", "--exchange", "nyc", "-f", "json").json()[0]
    out = ok(two_zones("bookings", "show", reference["reference"])).stdout
    # created at 08:00 UTC = 03:00 in New York
    assert "2027-03-01 03:00 -05:00" in _row(out, "pending", "created")
    assert "2027-03-01T03:00-05:00" in _row(out, "created_at")
    # JSON keeps the instant in UTC, as the record contract says
    data = ok(two_zones("bookings", "show", reference["reference"], "-f", "json")).json()
    assert data["history"][0]["at"].startswith("2027-03-01T08:00:00+00:00")


def test_exchange_and_slot_instants_in_the_exchange_local_time(two_zones: Any) -> None:
    out = ok(two_zones("exchanges", "show", "berlin")).stdout
    assert "2027-03-01T09:00+01:00" in _row(out, "created_at")
    out = ok(two_zones("slots", "show", "nyc@2027-03-02T08:00")).stdout
    assert "2027-03-01 03:00 -05:00" in _row(out, "Bob")


# 3. Piped tables never wrap identifiers ------------------------------------------


def _piped(*args: str) -> str:
    """stdout of a real process whose stdout is a pipe, with an 80-column COLUMNS."""
    env = {**os.environ, "COLUMNS": "80"}
    done = subprocess.run(
        [sys.executable, "-m", "slotctl", *args],
        check=False,
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_piped_table_is_as_wide_as_its_content(two_zones: Any) -> None:
    out = _piped("exchanges", "list")
    row = _row(out, "nyc")
    assert LONG_NAME in row
    assert "America/New_York" in row
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 5, out  # title, header, rule, one line per exchange
    assert max(len(line.rstrip()) for line in out.splitlines()) > 80


def test_a_piped_database_url_stays_on_one_line(db: Any, tmp_path: Any) -> None:
    deep = tmp_path / ("a-long-directory-name-" * 4) / "and-another-long-one"
    deep.mkdir(parents=True)
    url = f"sqlite:///{deep}/slotctl.db"
    out = _piped("--database-url", url, "config", "show")
    assert url in _row(out, "database_url")


# 4. Dry runs say what ----------------------------------------------------------


def test_generate_dry_run_lists_the_slots_it_would_create(two_zones: Any, db: Any) -> None:
    before = db.scalar("SELECT count(*) FROM time_slots")
    args = ("slots", "generate", "berlin", "--from", "2027-03-09", "--days", "1", "--dry-run")
    result = ok(two_zones(*args, "--duration", "30"))
    assert "Would create 2 slots" in result.stdout
    _row(result.stdout, "berlin", "2027-03-09", "09:00  09:30")
    _row(result.stdout, "berlin", "2027-03-09", "09:30  10:00")
    data = ok(two_zones(*args, "--duration", "30", "-f", "json")).json()
    assert data["created"] == 2
    assert [(s["start"], s["end"], s["uuid"]) for s in data["slots"]] == [
        ("09:00", "09:30", None),
        ("09:30", "10:00", None),
    ]
    assert data["slots"][0]["starts_at"] == "2027-03-09T09:00:00+01:00"
    rows = list(csv.DictReader(io.StringIO(ok(two_zones(*args, "-f", "csv")).stdout)))
    assert [(r["action"], r["start"]) for r in rows] == [("create", "09:00"), ("create", "09:30")]
    assert db.scalar("SELECT count(*) FROM time_slots") == before


def test_generate_prune_dry_run_lists_the_slots_it_would_prune(two_zones: Any, db: Any) -> None:
    ok(two_zones("slots", "generate", "berlin", "--from", "2027-03-09", "--days", "1"))
    ok(two_zones("hours", "set", "berlin", "tue 09:00-09:30"))
    args = ("slots", "generate", "berlin", "--from", "2027-03-09", "--days", "1", "--prune")
    result = ok(two_zones(*args, "--duration", "30", "--dry-run"))
    assert "would prune 1" in result.stdout
    pruned = result.stdout[result.stdout.index("Would prune") :]
    _row(pruned, "berlin", "2027-03-09", "09:30  10:00")
    data = ok(two_zones(*args, "--duration", "30", "--dry-run", "-f", "json")).json()
    assert [(s["date"], s["start"]) for s in data["pruned_slots"]] == [("2027-03-09", "09:30")]
    assert db.scalar("SELECT count(*) FROM time_slots") == 4  # two on 03-02, two on 03-09
    real = ok(two_zones(*args, "--duration", "30", "-f", "json")).json()
    assert real["pruned"] == 1
    assert "slots" not in real
    assert "pruned_slots" not in real


# 8. Top-level and group help: whole summaries -----------------------------------


def _groups() -> list[tuple[str, ...]]:
    """The path of every command group of the real tree (``()`` for slotctl itself)."""
    found: list[tuple[str, ...]] = []

    def walk(group: Any, path: tuple[str, ...]) -> None:
        found.append(path)
        for name, command in group.commands.items():
            if hasattr(command, "commands"):
                walk(command, (*path, name))

    walk(typer.main.get_command(app), ())
    assert len(found) > 5
    return found


@pytest.mark.parametrize("width", [80, 120])
def test_help_summaries_are_not_cut(cli: Any, width: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every command summary in every --help listing is a whole sentence at 80 columns."""
    monkeypatch.setenv("COLUMNS", str(width))
    for path in _groups():
        out = ok(cli(*path, "--help")).stdout
        listing = out[out.index("Commands:") :]
        cut = [line for line in listing.splitlines() if line.rstrip().endswith("...")]
        assert not cut, (path, cut)
