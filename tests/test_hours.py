"""``slotctl hours``: weekly shifts, closures and holidays, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

HOURS_KEYS = ["uuid", "exchange", "weekday", "day", "opens_at", "closes_at"]
CLOSURE_KEYS = ["uuid", "exchange", "starts_on", "ends_on", "reason"]


@pytest.fixture
def downtown(cli: Any, db: Any) -> str:
    result = cli(
        "exchanges", "add", "downtown", "--name", "Downtown", "--timezone", "Europe/Berlin"
    )
    assert result.exit_code == 0, result.stderr
    return "downtown"


def shifts(cli: Any, slug: str | None = None) -> list[tuple[str, str, str]]:
    args = ["hours", "list"] + ([slug] if slug else []) + ["--format", "json"]
    result = cli(*args)
    assert result.exit_code == 0, result.stderr
    return [(r["day"], r["opens_at"], r["closes_at"]) for r in result.json()]


def test_set_week_gives_the_eleven_shifts(cli: Any, db: Any, downtown: str) -> None:
    result = cli(
        "hours",
        "set",
        downtown,
        "mon-fri 09:00-12:00,13:00-17:00",
        "sat 10:00-14:00",
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.stderr
    listed = cli("hours", "list", downtown, "--format", "json").json()
    assert len(listed) == 11
    assert all(list(row) == HOURS_KEYS for row in listed)
    assert listed[0]["exchange"] == "downtown"
    assert [(r["weekday"], r["day"], r["opens_at"], r["closes_at"]) for r in listed[:2]] == [
        (0, "mon", "09:00", "12:00"),
        (0, "mon", "13:00", "17:00"),
    ]
    assert listed[-1] == {
        **listed[-1],
        "weekday": 5,
        "day": "sat",
        "opens_at": "10:00",
        "closes_at": "14:00",
    }
    assert result.json() == listed


def test_set_replaces_the_whole_week(cli: Any, db: Any, downtown: str) -> None:
    cli("hours", "set", downtown, "daily 08:00-20:00")
    assert len(shifts(cli, downtown)) == 7
    cli("hours", "set", downtown, "weekends 10:00-24:00")
    assert shifts(cli, downtown) == [("sat", "10:00", "24:00"), ("sun", "10:00", "24:00")]


def test_set_with_overlap_in_input_changes_nothing(cli: Any, db: Any, downtown: str) -> None:
    cli("hours", "set", downtown, "mon-fri 09:00-17:00")
    before = db.snapshot()
    result = cli("hours", "set", downtown, "mon-fri 09:00-17:00", "mon 16:00-18:00")
    assert result.exit_code == 2
    assert "overlap on mon" in result.stderr
    assert db.snapshot() == before


def test_add_and_order(cli: Any, db: Any, downtown: str) -> None:
    assert cli("hours", "add", downtown, "mon,wed", "13:00-17:00").exit_code == 0
    result = cli("hours", "add", downtown, "mon", "08:00-12:00", "--format", "json")
    assert result.exit_code == 0
    assert [r["opens_at"] for r in result.json()] == ["08:00"]
    assert shifts(cli, downtown) == [
        ("mon", "08:00", "12:00"),
        ("mon", "13:00", "17:00"),
        ("wed", "13:00", "17:00"),
    ]


def test_touching_shifts_are_fine(cli: Any, db: Any, downtown: str) -> None:
    assert cli("hours", "add", downtown, "tue", "09:00-12:00").exit_code == 0
    assert cli("hours", "add", downtown, "tue", "12:00-15:00").exit_code == 0
    assert len(shifts(cli, downtown)) == 2


@pytest.mark.parametrize(
    ("days", "times", "code", "needle"),
    [
        ("mon", "11:00-13:00", 4, "overlaps the existing shift mon 09:00-12:00"),
        ("mon", "08:00-18:00", 4, "overlaps"),
        ("mon", "18:00-09:00", 2, "opening must be before closing"),
        ("mon", "25:00-26:00", 2, "invalid time '25:00'"),
        ("mon", "09:00-24:30", 2, "invalid time"),
        ("funday", "10:00-11:00", 2, "unknown day 'funday'"),
        ("mon", "10:00-11:00,10:30-12:00", 2, "overlap"),
        ("mon", "nine-five", 2, "invalid time"),
    ],
)
def test_add_refusals_leave_database_unchanged(
    cli: Any, db: Any, downtown: str, days: str, times: str, code: int, needle: str
) -> None:
    cli("hours", "add", downtown, "mon-fri", "09:00-12:00")
    before = db.snapshot()
    result = cli("hours", "add", downtown, days, times)
    assert result.exit_code == code, result.stderr
    assert result.stderr.startswith("Error: ")
    assert needle in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert db.snapshot() == before


def test_unknown_slug_exits_3_everywhere(cli: Any, db: Any) -> None:
    for args in (
        ["hours", "list", "ghost"],
        ["hours", "add", "ghost", "mon", "09:00-10:00"],
        ["hours", "set", "ghost", "mon 09:00-10:00"],
        ["hours", "clear", "ghost"],
        ["hours", "closures", "add", "ghost", "2027-01-01"],
        ["hours", "closures", "list", "ghost"],
        ["hours", "holidays", "ghost", "--country", "DE", "--year", "2027"],
    ):
        result = cli(*args)
        assert result.exit_code == 3, args
        assert "no exchange 'ghost'" in result.stderr


def test_update_by_prefix(cli: Any, db: Any, downtown: str) -> None:
    cli("hours", "set", downtown, "mon 09:00-12:00,13:00-17:00")
    first = cli("hours", "list", downtown, "-f", "json").json()[0]
    result = cli("hours", "update", first["uuid"][:8], "--closes", "12:30", "-f", "json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["closes_at"] == "12:30"
    assert shifts(cli, downtown) == [("mon", "09:00", "12:30"), ("mon", "13:00", "17:00")]


def test_update_refusals(cli: Any, db: Any, downtown: str) -> None:
    cli("hours", "set", downtown, "mon 09:00-12:00,13:00-17:00")
    first = cli("hours", "list", downtown, "-f", "json").json()[0]["uuid"]
    before = db.snapshot()
    overlap = cli("hours", "update", first, "--closes", "14:00")
    assert overlap.exit_code == 4
    reversed_ = cli("hours", "update", first, "--opens", "12:30")
    assert reversed_.exit_code == 2
    assert cli("hours", "update", "0000000000", "--opens", "08:00").exit_code == 3
    assert cli("hours", "update", "abc", "--opens", "08:00").exit_code == 2
    assert db.snapshot() == before


def test_remove_and_clear(cli: Any, db: Any, downtown: str) -> None:
    cli("hours", "set", downtown, "mon-sat 09:00-12:00")
    listed = cli("hours", "list", downtown, "-f", "json").json()
    removed = cli("hours", "remove", listed[0]["uuid"], listed[1]["uuid"][:8], "-f", "json")
    assert removed.exit_code == 0, removed.stderr
    assert [r["day"] for r in removed.json()] == ["mon", "tue"]
    cleared = cli("hours", "clear", downtown, "--day", "sat", "-f", "json")
    assert [r["day"] for r in cleared.json()] == ["sat"]
    assert [d for d, _, _ in shifts(cli, downtown)] == ["wed", "thu", "fri"]
    cli("hours", "clear", downtown)
    assert shifts(cli, downtown) == []


def test_remove_is_all_or_nothing(cli: Any, db: Any, downtown: str) -> None:
    cli("hours", "set", downtown, "mon 09:00-12:00")
    existing = cli("hours", "list", downtown, "-f", "json").json()[0]["uuid"]
    result = cli("hours", "remove", existing, "ffffffff-ffff-4fff-8fff-ffffffffffff")
    assert result.exit_code == 3
    assert len(shifts(cli, downtown)) == 1


def test_list_all_exchanges_sorted(cli: Any, db: Any, downtown: str) -> None:
    cli("exchanges", "add", "airport", "--name", "Airport", "--timezone", "UTC")
    cli("hours", "set", downtown, "mon 09:00-10:00")
    cli("hours", "set", "airport", "sun 00:00-24:00")
    rows = cli("hours", "list", "-f", "json").json()
    assert [(r["exchange"], r["day"]) for r in rows] == [("airport", "sun"), ("downtown", "mon")]


def test_csv_output_has_header_of_fields(cli: Any, db: Any, downtown: str) -> None:
    cli("hours", "set", downtown, "mon 09:00-10:00")
    lines = cli("hours", "list", "-f", "csv").stdout.splitlines()
    assert lines[0] == ",".join(HOURS_KEYS)
    assert lines[1].endswith(",downtown,0,mon,09:00,10:00")


# Closures -----------------------------------------------------------------------


def test_closures_add_list_remove(cli: Any, db: Any, downtown: str) -> None:
    added = cli(
        "hours",
        "closures",
        "add",
        downtown,
        "2027-08-02",
        "2027-08-13",
        "--reason",
        "Renovation",
        "-f",
        "json",
    )
    assert added.exit_code == 0, added.stderr
    record = added.json()
    assert list(record) == CLOSURE_KEYS
    assert (record["starts_on"], record["ends_on"], record["reason"]) == (
        "2027-08-02",
        "2027-08-13",
        "Renovation",
    )
    single = cli("hours", "closures", "add", downtown, "2027-12-24", "-f", "json").json()
    assert single["ends_on"] == "2027-12-24"
    listed = cli("hours", "closures", "list", downtown, "-f", "json").json()
    assert [c["starts_on"] for c in listed] == ["2027-08-02", "2027-12-24"]
    window = cli(
        "hours", "closures", "list", "--from", "2027-08-10", "--to", "2027-09-01", "-f", "json"
    )
    assert [c["uuid"] for c in window.json()] == [record["uuid"]]
    removed = cli("hours", "closures", "remove", record["uuid"][:8], "-f", "json")
    assert removed.exit_code == 0
    assert db.scalar("SELECT count(*) FROM closures") == 1


def test_closure_refusals(cli: Any, db: Any, downtown: str) -> None:
    cli("hours", "closures", "add", downtown, "2027-08-02")
    before = db.snapshot()
    assert cli("hours", "closures", "add", downtown, "2027-08-10", "2027-08-01").exit_code == 2
    assert cli("hours", "closures", "add", downtown, "2027-13-01").exit_code == 2
    assert cli("hours", "closures", "add", downtown, "2027-08-02").exit_code == 4
    assert cli("hours", "closures", "remove", "deadbeef").exit_code == 3
    assert db.snapshot() == before


def test_closure_relative_dates_use_the_clock(
    cli: Any, db: Any, downtown: str, monkeypatch: Any
) -> None:
    monkeypatch.setenv("SLOTCTL_NOW", "2027-03-01T12:00:00+00:00")
    result = cli("hours", "closures", "add", downtown, "tomorrow", "+7d", "-f", "json")
    assert result.exit_code == 0, result.stderr
    assert (result.json()["starts_on"], result.json()["ends_on"]) == ("2027-03-02", "2027-03-08")


# Holidays ------------------------------------------------------------------------


def test_holidays_dry_run_writes_nothing(cli: Any, db: Any, downtown: str) -> None:
    result = cli(
        "hours",
        "holidays",
        downtown,
        "--country",
        "DE",
        "--year",
        "2027",
        "--dry-run",
        "-f",
        "json",
    )
    assert result.exit_code == 0, result.stderr
    days = [c["starts_on"] for c in result.json()]
    assert "2027-10-03" in days  # German Unity Day
    assert "2027-12-25" in days
    assert all(c["uuid"] is None for c in result.json())
    assert db.scalar("SELECT count(*) FROM closures") == 0


def test_holidays_add_and_skip_existing(cli: Any, db: Any, downtown: str) -> None:
    cli(
        "hours", "closures", "add", downtown, "2027-12-24", "2027-12-31", "--reason", "Winter break"
    )
    first = cli(
        "hours",
        "holidays",
        downtown,
        "--country",
        "de",
        "--subdiv",
        "BE",
        "--year",
        "2027",
        "-f",
        "json",
    )
    assert first.exit_code == 0, first.stderr
    added = {c["starts_on"]: c["reason"] for c in first.json()}
    assert "2027-03-08" in added  # International Women's Day, Berlin only
    assert "2027-12-25" not in added  # already closed by the winter break
    again = cli(
        "hours",
        "holidays",
        downtown,
        "--country",
        "DE",
        "--subdiv",
        "BE",
        "--year",
        "2027",
        "-f",
        "json",
    )
    assert again.json() == []
    assert db.scalar("SELECT count(*) FROM closures") == len(added) + 1


@pytest.mark.parametrize(
    "args",
    [
        ["--country", "XX", "--year", "2027"],
        ["--country", "DE", "--subdiv", "ZZ", "--year", "2027"],
        ["--country", "DE", "--year", "20270"],
        ["--country", "DE", "--year", "next"],
    ],
)
def test_holidays_bad_input(cli: Any, db: Any, downtown: str, args: list[str]) -> None:
    result = cli("hours", "holidays", downtown, *args)
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith("Error: ")
    assert db.scalar("SELECT count(*) FROM closures") == 0


def test_table_shows_short_ids_that_address_the_shift(cli: Any, db: Any, downtown: str) -> None:
    cli("hours", "set", downtown, "mon 09:00-12:00")
    full = cli("hours", "list", downtown, "-f", "json").json()[0]["uuid"]
    table = cli("hours", "list", downtown).stdout
    assert full[:8] in table
    assert full not in table
    assert cli("hours", "remove", full[:8]).exit_code == 0
