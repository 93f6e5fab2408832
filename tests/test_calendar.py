"""``slots calendar`` and the demo's calendar, on SQLite and PostgreSQL (issue 11).

* every view (month grid, week, day roster) counts seats the same way, booked of
  capacity, and says so in a legend; the colours are explained only where shown;
* ``--format csv`` is flat in every view: a row per date, per slot, per booking;
* ``slotctl demo`` on a month's last days shows the weeks that hold the demo.

The fixture freezes the clock at Saturday 2027-03-20 12:00 UTC; ``downtown``
(Europe/Berlin) is open Mon-Fri 09:00-10:00 with two 30-minute slots of capacity
2 for the 14 days from Monday 2027-03-22: 4 seats a weekday.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta
from typing import Any

import pytest

from slotctl.records import BOOKING_FIELDS, SLOT_FIELDS

NOW = "2027-03-20T12:00:00+00:00"
LEGEND = "Seats: booked/capacity"
COLOURS = "green: under 40% booked"
MONTH_DAY_KEYS = [
    "date",
    "weekday",
    "slots",
    "seats",
    "booked",
    "free",
    "blocked",
    "closed",
    "past",
]
MONTHS = {"Mar": 3, "Apr": 4}


def ok(result: Any) -> Any:
    assert result.exit_code == 0, result.stderr
    return result


@pytest.fixture
def downtown(cli: Any, db: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SLOTCTL_NOW", NOW)
    ok(cli("exchanges", "add", "downtown", "--name", "Downtown", "--timezone", "Europe/Berlin"))
    ok(cli("hours", "set", "downtown", "mon-fri 09:00-10:00"))
    ok(
        cli(
            "slots",
            "generate",
            "downtown",
            "--from",
            "2027-03-22",
            "--days",
            "14",
            "--capacity",
            "2",
        )
    )
    return "downtown"


def booking(cli: Any, slot: str, name: str, email: str) -> str:
    made = ok(cli("bookings", "create", slot, "--name", name, "--email", email, "-f", "json"))
    return str(made.json()["reference"])


def grid(out: str) -> list[tuple[str, str]]:
    """The cells of a month grid drawn in ASCII, in order: (label, count), blanks left out."""
    blocks: list[list[str]] = [[]]
    for line in out.splitlines():
        if re.match(r"^\|-", line):
            blocks.append([])
        elif line.startswith("|"):
            blocks[-1].append(line)
    cells = []
    for block in blocks[1:]:  # the first is the header of weekdays
        assert len(block) == 2, block
        labels, counts = ([cell.strip() for cell in line.split("|")[1:-1]] for line in block)
        cells += [(label, count) for label, count in zip(labels, counts, strict=True) if label]
    return cells


def grid_dates(out: str, year: int, month: int) -> dict[date, str]:
    """The grid's counts by date: a label names its month (``1 Apr``) or follows on."""
    dates: dict[date, str] = {}
    previous = 0
    for label, count in grid(out):
        number, *name = label.split()
        if name:
            month = MONTHS[name[0]]
        elif int(number) < previous:
            month += 1
        previous = int(number)
        dates[date(year, month, int(number))] = count
    return dates


def expected_cell(day: dict[str, Any]) -> str:
    if not day["slots"]:
        return "closed" if day["closed"] else "-"
    return f"{day['booked']}/{day['seats']}{'*' if day['blocked'] else ''}"


def parsed_csv(text: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    rows = list(reader)
    assert reader.fieldnames is not None
    for row in rows:  # flat: no cell holds a JSON list or object
        assert not [v for v in row.values() if v[:1] in ("[", "{")], row
    return list(reader.fieldnames), rows


# One convention: booked/capacity ----------------------------------------------------


def test_every_view_counts_seats_booked_of_capacity(cli: Any, db: Any, downtown: str) -> None:
    booking(cli, "downtown@2027-03-23T09:00", "Ann Lee", "ann@example.com")
    booking(cli, "downtown@2027-03-23T09:30", "Bob Roe", "bob@example.com")
    booking(cli, "downtown@2027-03-23T09:30", "Cy Poe", "cy@example.com")
    ok(cli("slots", "block", "downtown@2027-03-24T09:00"))

    month = ok(cli("slots", "calendar", downtown, "--month", "2027-03")).stdout
    cells = grid_dates(month, 2027, 3)
    assert cells[date(2027, 3, 23)] == "3/4"  # three of four seats taken
    assert cells[date(2027, 3, 22)] == "0/4"  # nothing booked
    assert cells[date(2027, 3, 24)] == "0/4*"  # a slot blocked
    assert cells[date(2027, 3, 28)] == "closed"
    assert "3 of 32 seats booked." in month  # 8 weekdays left in March

    week = ok(cli("slots", "calendar", downtown, "--week", "2027-03-23")).stdout
    rows = {
        cells[0]: cells[1:]
        for cells in ([c.strip() for c in line.split("|")[1:-1]] for line in week.splitlines())
        if cells and re.fullmatch(r"\d\d:\d\d", cells[0])
    }
    assert rows["09:00"][:3] == ["0/2", "1/2", "blocked"]  # Mon, Tue, Wed
    assert rows["09:30"][:3] == ["0/2", "2/2", "0/2"]

    day = ok(cli("slots", "calendar", downtown, "--day", "2027-03-23")).stdout
    seats = re.findall(r"^\| (\d\d:\d\d)-\d\d:\d\d \|\s+(\S+) \|", day, flags=re.MULTILINE)
    assert seats == [("09:00", "1/2"), ("09:30", "2/2")]

    for out in (month, week, day):  # each says how it counts, once
        assert out.count(LEGEND) == 1, out
        assert COLOURS not in out  # no colour here: no colours to explain
    assert "*: some slots blocked" in month


def test_the_legend_explains_the_colours_where_they_are_shown(
    cli: Any, db: Any, downtown: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("TERM", "xterm-256color")
    for view in (["--month", "2027-03"], ["--week", "2027-03-23"], ["--day", "2027-03-23"]):
        out = ok(cli("slots", "calendar", downtown, *view)).stdout
        plain = re.sub(r"\x1b\[[0-9;]*m", "", out)
        flat = " ".join(plain.split())  # the legend wraps at the terminal's width
        assert "\x1b[" in out, view  # coloured
        assert f"{LEGEND};" in flat, view
        assert "green: under 40% booked, yellow: under 75%, red: 75% or more" in flat, view
        assert "dim: past or closed" in flat, view


def test_json_keeps_every_field(cli: Any, db: Any, downtown: str) -> None:
    month = ok(cli("slots", "calendar", downtown, "--month", "2027-03", "-f", "json")).json()
    assert list(month) == ["exchange", "timezone", "month", "days"]
    assert all(list(day) == MONTH_DAY_KEYS for day in month["days"])
    week = ok(cli("slots", "calendar", downtown, "--week", "2027-03-23", "-f", "json")).json()
    assert list(week) == ["exchange", "timezone", "week_start", "days", "slots"]
    assert all(list(slot) == list(SLOT_FIELDS) for slot in week["slots"])
    day = ok(cli("slots", "calendar", downtown, "--day", "2027-03-23", "-f", "json")).json()
    assert list(day) == ["exchange", "timezone", "date", "closed", "slots"]
    assert all(list(slot) == [*SLOT_FIELDS, "bookings"] for slot in day["slots"])


# CSV: flat tables -------------------------------------------------------------------


def test_week_csv_is_a_row_per_slot_as_slots_list(cli: Any, db: Any, downtown: str) -> None:
    booking(cli, "downtown@2027-03-23T09:00", "Ann Lee", "ann@example.com")
    out = ok(cli("slots", "calendar", downtown, "--week", "2027-03-24", "-f", "csv")).stdout
    header, rows = parsed_csv(out)
    assert header == list(SLOT_FIELDS)
    assert [(r["date"], r["start"]) for r in rows] == [
        (f"2027-03-{day}", start) for day in range(22, 27) for start in ("09:00", "09:30")
    ]
    tuesday = rows[2]
    assert (tuesday["current_bookings"], tuesday["max_capacity"]) == ("1", "2")
    assert tuesday["available_seats"] == "1"
    listed = ok(
        cli("slots", "list", downtown, "--from", "2027-03-22", "--to", "2027-03-28", "-f", "csv")
    ).stdout
    assert out == listed


def test_month_csv_is_a_row_per_date(cli: Any, db: Any, downtown: str) -> None:
    booking(cli, "downtown@2027-03-23T09:00", "Ann Lee", "ann@example.com")
    ok(cli("slots", "block", "downtown@2027-03-24T09:00"))
    out = ok(cli("slots", "calendar", downtown, "--month", "2027-03", "-f", "csv")).stdout
    header, rows = parsed_csv(out)
    assert header == ["exchange", *MONTH_DAY_KEYS]
    assert [r["date"] for r in rows] == [f"2027-03-{n:02d}" for n in range(1, 32)]
    by_date = {r["date"]: r for r in rows}
    pick = ("exchange", "slots", "seats", "booked", "free", "blocked", "closed", "past")
    assert tuple(by_date["2027-03-23"][k] for k in pick) == (
        "downtown", "2", "4", "1", "3", "0", "false", "false"
    )  # fmt: skip
    assert tuple(by_date["2027-03-24"][k] for k in pick)[1:6] == ("2", "4", "0", "2", "1")
    assert (by_date["2027-03-28"]["closed"], by_date["2027-03-19"]["past"]) == ("true", "true")
    data = ok(cli("slots", "calendar", downtown, "--month", "2027-04", "-f", "json")).json()
    april = parsed_csv(
        ok(cli("slots", "calendar", downtown, "--month", "2027-04", "-f", "csv")).stdout
    )[1]
    assert [r["booked"] for r in april] == [str(d["booked"]) for d in data["days"]]


def test_day_csv_is_a_row_per_booking_after_its_slot(cli: Any, db: Any, downtown: str) -> None:
    ann = booking(cli, "downtown@2027-03-23T09:00", "Ann Lee", "ann@example.com")
    bob = booking(cli, "downtown@2027-03-23T09:00", "Bob Roe", "bob@example.com")
    ok(cli("bookings", "cancel", bob, "--reason", "ill"))
    out = ok(cli("slots", "calendar", downtown, "--day", "2027-03-23", "-f", "csv")).stdout
    header, rows = parsed_csv(out)
    slot_holds = ("exchange", "slot", "starts_at", "ends_at")
    own = {"uuid": "booking", "status": "booking_status"}
    booking_columns = [own.get(f, f) for f in BOOKING_FIELDS if f not in slot_holds]
    assert header == [*SLOT_FIELDS, *booking_columns]
    assert len(header) == len(set(header))
    assert [(r["start"], r["reference"], r["booking_status"]) for r in rows] == [
        ("09:00", ann, "pending"),
        ("09:00", bob, "cancelled"),
        ("09:30", "", ""),  # a slot without bookings: one row, booking cells empty
    ]
    assert rows[0]["customer_name"] == "Ann Lee"
    assert (rows[0]["current_bookings"], rows[0]["max_capacity"]) == ("1", "2")
    assert rows[1]["cancellation_reason"] == "ill"
    assert rows[0]["status"] == "available"  # the slot's status
    data = ok(cli("slots", "calendar", downtown, "--day", "2027-03-23", "-f", "json")).json()
    assert rows[0]["booking"] == data["slots"][0]["bookings"][0]["uuid"]
    assert rows[0]["uuid"] == rows[1]["uuid"] == data["slots"][0]["uuid"]
    closed = ok(cli("slots", "calendar", downtown, "--day", "2027-03-28", "-f", "csv")).stdout
    assert parsed_csv(closed) == (header, [])


# The demo at a month's end ----------------------------------------------------------


def test_demo_at_a_months_end_shows_the_weeks_that_hold_it(
    cli: Any, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLOTCTL_NOW", "2027-03-30T09:00:00+00:00")  # Tuesday
    monkeypatch.setenv("COLUMNS", "80")
    out = ok(cli("demo")).stdout
    grid_text = out[: out.index("Demo (seed")]
    assert "downtown — " in grid_text
    assert not [line for line in grid_text.splitlines() if len(line) > 80]
    shown = grid_dates(grid_text, 2027, 3)
    days = [
        day
        for month in ("2027-03", "2027-04")
        for day in ok(cli("slots", "calendar", "downtown", "--month", month, "-f", "json")).json()[
            "days"
        ]
    ]
    today = date(2027, 3, 30)
    first, last = today - timedelta(days=14), today + timedelta(days=13)
    demo = [d for d in days if first.isoformat() <= d["date"] <= last.isoformat()]
    assert sum(d["slots"] for d in demo) == sum(d["slots"] for d in days)  # all of it
    missing = [d["date"] for d in demo if date.fromisoformat(d["date"]) not in shown]
    assert not missing  # every date of the demo is in the grid...
    for day in demo:  # ...counted as the month calendars count it
        assert shown.get(date.fromisoformat(day["date"])) == expected_cell(day), day
    past = sum(d["booked"] for d in demo if d["date"] < today.isoformat())
    coming = sum(d["booked"] for d in demo if d["date"] > today.isoformat())
    assert past > 0
    assert coming > 0
    assert max(shown) >= date(2027, 4, 12)  # the last demo week is April's second
    assert min(shown) <= date(2027, 3, 16)
