"""``slotctl stats`` on SQLite and PostgreSQL: exact figures over hand-built periods,
local dates and local hours (DST, half-hour offsets, evenings past UTC midnight),
the SLUG scope, the empty case, errors, and the table, JSON and CSV outputs.

Expected figures are worked out by hand in the comments; the demo's figures are
checked against an independent computation in Python over the raw rows.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

STATS_KEYS = [
    "from",
    "to",
    "slots",
    "seats",
    "booked_seats",
    "utilization",
    "bookings",
    "no_show_rate",
    "cancellation_rate",
    "expired",
    "lead_time_hours_median",
    "wait_minutes_median",
    "wait_minutes_p90",
    "service_minutes_median",
    "walkins_served",
    "waitlist_bookings",
    "by_weekday",
    "by_hour",
    "wait_by_weekday",
    "exchanges",
]
EXCHANGE_KEYS = [
    "exchange",
    "name",
    "timezone",
    "slots",
    "seats",
    "booked_seats",
    "utilization",
    "bookings",
    "no_show_rate",
    "cancellation_rate",
    "expired",
    "lead_time_hours_median",
    "wait_minutes_median",
    "wait_minutes_p90",
    "service_minutes_median",
    "walkins_served",
    "waitlist_bookings",
]
USAGE_KEYS = ["slots", "seats", "booked_seats", "utilization"]
# The lifecycle's order (domain.BOOKING_STATUSES): every status, `arrived` included.
STATUSES = ["pending", "confirmed", "arrived", "completed", "no_show", "cancelled"]
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
CSV_HEADER = [k for k in EXCHANGE_KEYS if k != "bookings"] + STATUSES
NO_BOOKINGS = dict.fromkeys(STATUSES, 0)
# The front-desk figures of a period without tickets or waitlist bookings (they are
# worked out in tests/test_frontdesk_figures.py).
NO_QUEUE = {
    "wait_minutes_median": None,
    "wait_minutes_p90": None,
    "service_minutes_median": None,
    "walkins_served": 0,
    "waitlist_bookings": 0,
}
NO_WAITS = [
    {"weekday": i, "day": day, "tickets": 0, "wait_minutes_median": None, "by_hour": []}
    for i, day in enumerate(["mon", "tue", "wed", "thu", "fri", "sat", "sun"])
]


# Helpers -------------------------------------------------------------------------


def ok(result: Any) -> Any:
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    return result


def at(monkeypatch: pytest.MonkeyPatch, instant: str) -> None:
    monkeypatch.setenv("SLOTCTL_NOW", instant)


def stats(cli: Any, *args: str) -> dict[str, Any]:
    return ok(cli("stats", *args, "--format", "json")).json()


def exchange(cli: Any, slug: str, timezone: str, hours: str, name: str | None = None) -> None:
    ok(cli("exchanges", "add", slug, "--name", name or slug.title(), "--timezone", timezone))
    ok(cli("hours", "set", slug, hours))


def generate(
    cli: Any, slug: str, first: str, last: str, *, capacity: int, duration: int = 60
) -> None:
    ok(
        cli(
            "slots",
            "generate",
            slug,
            "--from",
            first,
            "--to",
            last,
            "--capacity",
            str(capacity),
            "--duration",
            str(duration),
        )
    )


def book(cli: Any, slot: str, who: str, *extra: str) -> str:
    result = ok(
        cli(
            "bookings",
            "create",
            slot,
            "--name",
            who.title(),
            "--email",
            f"{who}@example.com",
            *extra,
            "--format",
            "json",
        )
    )
    return str(result.json()["reference"])


def usage(slots: int, seats: int, booked: int, utilization: float | None) -> dict[str, Any]:
    return {"slots": slots, "seats": seats, "booked_seats": booked, "utilization": utilization}


def hour(h: int, slots: int, seats: int, booked: int, utilization: float | None) -> dict[str, Any]:
    return {"hour": h, **usage(slots, seats, booked, utilization)}


def weekday(index: int, totals: dict[str, Any], hours: list[dict[str, Any]]) -> dict[str, Any]:
    return {"weekday": index, "day": DAYS[index], **totals, "by_hour": hours}


def empty_weekday(index: int) -> dict[str, Any]:
    return weekday(index, usage(0, 0, 0, None), [])


def hour_counts(rows: list[dict[str, Any]]) -> dict[int, int]:
    return {row["hour"]: row["slots"] for row in rows}


# 1. Exact figures of a hand-built period -------------------------------------------
#
# "alpha" (Europe/Berlin, UTC+01:00 in mid-March) opens Mon-Fri 09:00-11:00 with
# 60-minute slots of 3 seats on Mon 15, Tue 16 and Wed 17 March 2027: 6 slots, 18
# seats. Local 09:00 is 08:00 UTC, 10:00 is 09:00 UTC.
#
#   booking  created (UTC)      slot (local)  lead (h)  final status
#   E        03-10 10:00        Tue 10:00      143.00   cancelled (expired)
#   B1       03-10 10:00        Mon 09:00      118.00   completed
#   B2       03-10 10:00        Mon 10:00      119.00   no_show
#   C        03-11 12:10        Tue 09:00      115.83   cancelled (by hand)
#   B3       03-11 12:10        Mon 09:00       91.83   confirmed
#   P        03-14 09:00        Tue 10:00       48.00   pending
#   K        03-14 09:00        Tue 10:00       48.00   confirmed
#   Q        03-14 09:00        Mon 10:00       24.00   completed
#
# Leads sorted: 24, 48, 48, 91 5/6 | 115 5/6, 118, 119, 143 -> median 103 5/6 = 103.83.
# Seats held (all but cancelled): Mon 09 2, Mon 10 2, Tue 09 0, Tue 10 2 -> 6 of 18.
# no_show_rate 1 / (2 + 1) = 0.3333; cancellation_rate 2 / 8 = 0.25; expired 1.

T0 = "2027-03-10T10:00:00+00:00"
T1 = "2027-03-11T12:10:00+00:00"
T2 = "2027-03-14T09:00:00+00:00"
T3 = "2027-03-15T09:30:00+00:00"  # Mon 10:30 in Berlin: both Monday slots have started


@pytest.fixture
def alpha(cli: Any, db: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    at(monkeypatch, T0)
    exchange(cli, "alpha", "Europe/Berlin", "mon-fri 09:00-11:00", name="Alpha Office")
    generate(cli, "alpha", "2027-03-15", "2027-03-17", capacity=3)
    assert db.scalar("SELECT count(*) FROM time_slots") == 6
    refs = {
        "E": book(cli, "alpha@2027-03-16T10:00", "erin"),
        "B1": book(cli, "alpha@2027-03-15T09:00", "bert", "--confirm"),
        "B2": book(cli, "alpha@2027-03-15T10:00", "bea", "--confirm"),
    }
    at(monkeypatch, T1)
    assert "Expired 1 pending booking." in ok(cli("bookings", "expire-pending")).stdout
    refs["C"] = book(cli, "alpha@2027-03-16T09:00", "carl", "--confirm")
    refs["B3"] = book(cli, "alpha@2027-03-15T09:00", "bill", "--confirm")
    ok(cli("bookings", "cancel", refs["C"], "--reason", "customer called"))
    at(monkeypatch, T2)
    refs["P"] = book(cli, "alpha@2027-03-16T10:00", "pia")
    refs["K"] = book(cli, "alpha@2027-03-16T10:00", "kim", "--confirm")
    refs["Q"] = book(cli, "alpha@2027-03-15T10:00", "quinn", "--confirm")
    at(monkeypatch, T3)
    ok(cli("bookings", "complete", refs["B1"], refs["Q"]))
    ok(cli("bookings", "no-show", refs["B2"]))
    statuses = dict(db.query("SELECT reference, status FROM bookings"))
    assert statuses == {
        refs["E"]: "cancelled",
        refs["B1"]: "completed",
        refs["B2"]: "no_show",
        refs["C"]: "cancelled",
        refs["B3"]: "confirmed",
        refs["P"]: "pending",
        refs["K"]: "confirmed",
        refs["Q"]: "completed",
    }
    return refs


ALPHA_BOOKINGS = {
    "pending": 1,
    "confirmed": 2,
    "arrived": 0,
    "completed": 2,
    "no_show": 1,
    "cancelled": 2,
}
ALPHA_OUTCOMES = {
    "bookings": ALPHA_BOOKINGS,
    "no_show_rate": 0.3333,
    "cancellation_rate": 0.25,
    "expired": 1,
    "lead_time_hours_median": 103.83,
    **NO_QUEUE,
}
ALPHA_FIGURES = {
    "from": "2027-03-15",
    "to": "2027-03-17",
    **usage(6, 18, 6, 0.3333),
    **ALPHA_OUTCOMES,
    "by_weekday": [
        weekday(0, usage(2, 6, 4, 0.6667), [hour(9, 1, 3, 2, 0.6667), hour(10, 1, 3, 2, 0.6667)]),
        weekday(1, usage(2, 6, 2, 0.3333), [hour(9, 1, 3, 0, 0.0), hour(10, 1, 3, 2, 0.6667)]),
        weekday(2, usage(2, 6, 0, 0.0), [hour(9, 1, 3, 0, 0.0), hour(10, 1, 3, 0, 0.0)]),
        *[empty_weekday(i) for i in range(3, 7)],
    ],
    "by_hour": [hour(9, 3, 9, 2, 0.2222), hour(10, 3, 9, 4, 0.4444)],
    "wait_by_weekday": NO_WAITS,
    "exchanges": [
        {
            "exchange": "alpha",
            "name": "Alpha Office",
            "timezone": "Europe/Berlin",
            **usage(6, 18, 6, 0.3333),
            **ALPHA_OUTCOMES,
        }
    ],
}


def test_exact_figures_of_a_hand_built_period(cli: Any, db: Any, alpha: dict[str, str]) -> None:
    figures = stats(cli, "alpha", "--from", "2027-03-15", "--to", "2027-03-17")
    assert figures == ALPHA_FIGURES
    # Without a SLUG and with the default period (2027-02-13 .. 2027-04-14 from T3):
    # the same figures, the only exchange being alpha.
    everything = stats(cli)
    assert (everything["from"], everything["to"]) == ("2027-02-13", "2027-04-14")
    assert {k: v for k, v in everything.items() if k not in ("from", "to")} == {
        k: v for k, v in ALPHA_FIGURES.items() if k not in ("from", "to")
    }


def test_booked_seats_follow_the_slot_counters(cli: Any, db: Any, alpha: dict[str, str]) -> None:
    """booked_seats is the sum of the slots' counters; a cancellation releases its seat."""
    ok(cli("bookings", "cancel", alpha["K"]))
    figures = stats(cli, "alpha", "--from", "2027-03-15", "--to", "2027-03-17")
    assert (figures["booked_seats"], figures["utilization"]) == (5, 0.2778)  # 5 / 18
    assert figures["bookings"] == {**ALPHA_BOOKINGS, "confirmed": 1, "cancelled": 3}
    assert figures["cancellation_rate"] == 0.375  # 3 / 8
    assert figures["expired"] == 1
    assert figures["lead_time_hours_median"] == 103.83  # cancelled bookings still count
    assert figures["by_hour"] == [hour(9, 3, 9, 2, 0.2222), hour(10, 3, 9, 3, 0.3333)]


def test_period_boundaries_cut_slots_and_their_bookings(
    cli: Any, db: Any, alpha: dict[str, str]
) -> None:
    # Tuesday alone: slots Tue 09 (C, cancelled) and Tue 10 (E expired, P, K).
    # Leads 143, 115 5/6, 48, 48 -> median (48 + 115 5/6) / 2 = 81 11/12 -> 81.92.
    tuesday = stats(cli, "alpha", "--from", "2027-03-16", "--to", "2027-03-16")
    assert tuesday["from"] == tuesday["to"] == "2027-03-16"
    assert usage(*[tuesday[k] for k in ("slots", "seats", "booked_seats")], None) == usage(
        2, 6, 2, None
    )
    assert tuesday["utilization"] == 0.3333
    assert tuesday["bookings"] == {
        "pending": 1,
        "confirmed": 1,
        "arrived": 0,
        "completed": 0,
        "no_show": 0,
        "cancelled": 2,
    }
    assert tuesday["no_show_rate"] is None  # nothing settled on Tuesday
    assert tuesday["cancellation_rate"] == 0.5
    assert tuesday["expired"] == 1
    assert tuesday["lead_time_hours_median"] == 81.92
    assert [d["slots"] for d in tuesday["by_weekday"]] == [0, 2, 0, 0, 0, 0, 0]
    # Monday and Tuesday: 4 slots; Wednesday alone: 2 slots and no booking.
    assert stats(cli, "alpha", "--from", "2027-03-15", "--to", "2027-03-16")["slots"] == 4
    wednesday = stats(cli, "alpha", "--from", "2027-03-17", "--to", "2027-03-17")
    assert (wednesday["slots"], wednesday["seats"], wednesday["utilization"]) == (2, 6, 0.0)
    assert wednesday["bookings"] == NO_BOOKINGS
    assert wednesday["lead_time_hours_median"] is None
    # Days either side hold nothing.
    before = stats(cli, "alpha", "--from", "2027-03-01", "--to", "2027-03-14")
    after = stats(cli, "alpha", "--from", "2027-03-18", "--to", "2027-03-31")
    for empty in (before, after):
        assert (empty["slots"], empty["seats"], empty["utilization"]) == (0, 0, None)
        assert empty["bookings"] == NO_BOOKINGS


# 2. The JSON record's shape ----------------------------------------------------------


def test_json_keys_are_the_contract_in_order(cli: Any, db: Any, two: None) -> None:
    """(The two-exchange period of section 5; its JSON also has no extra keys.)"""
    figures = stats(cli)
    assert list(figures) == STATS_KEYS
    assert list(figures["bookings"]) == STATUSES
    assert len(figures["by_weekday"]) == 7
    assert [(d["weekday"], d["day"]) for d in figures["by_weekday"]] == list(enumerate(DAYS))
    for day in figures["by_weekday"]:
        assert list(day) == ["weekday", "day", *USAGE_KEYS, "by_hour"]
        for cell in day["by_hour"]:
            assert list(cell) == ["hour", *USAGE_KEYS]
    assert [list(row) for row in figures["by_hour"]] == [["hour", *USAGE_KEYS]] * 3
    assert [list(row) for row in figures["exchanges"]] == [EXCHANGE_KEYS] * 2
    assert [list(row["bookings"]) for row in figures["exchanges"]] == [STATUSES] * 2
    assert [(d["weekday"], d["day"]) for d in figures["wait_by_weekday"]] == list(enumerate(DAYS))
    for day in figures["wait_by_weekday"]:
        assert list(day) == ["weekday", "day", "tickets", "wait_minutes_median", "by_hour"]


# 3. Local hours: DST and half-hour offsets ---------------------------------------------


@pytest.mark.parametrize(
    ("first", "last", "change"),
    [
        ("2027-03-22", "2027-04-04", "2027-03-28"),  # spring forward: +01:00 -> +02:00
        ("2027-10-25", "2027-11-07", "2027-10-31"),  # fall back: +02:00 -> +01:00
    ],
)
def test_local_hours_across_a_dst_change(
    cli: Any, db: Any, monkeypatch: pytest.MonkeyPatch, first: str, last: str, change: str
) -> None:
    """Berlin, daily 09:00-11:00, 14 days around a change: every slot is at local 9 or
    10 (an offset fixed for the whole period would put a week of them at 8 or 11)."""
    at(monkeypatch, "2027-03-01T00:00:00+00:00")
    exchange(cli, "berlin", "Europe/Berlin", "daily 09:00-11:00")
    generate(cli, "berlin", first, last, capacity=2)
    # One seat booked on the first day (hour 10) and one on the day after the change (hour 9).
    day_after = date.fromisoformat(change) + timedelta(days=1)
    book(cli, f"berlin@{first}T10:00", "ann")
    book(cli, f"berlin@{day_after.isoformat()}T09:00", "bob")
    figures = stats(cli, "berlin", "--from", first, "--to", last)
    assert (figures["slots"], figures["seats"], figures["booked_seats"]) == (28, 56, 2)
    assert figures["by_hour"] == [hour(9, 14, 28, 1, 0.0357), hour(10, 14, 28, 1, 0.0357)]
    first_day = date.fromisoformat(first).weekday()
    for day in figures["by_weekday"]:
        booked_9 = 1 if day["weekday"] == day_after.weekday() else 0
        booked_10 = 1 if day["weekday"] == first_day else 0
        assert day["slots"] == 4, day
        assert day["by_hour"] == [
            hour(9, 2, 4, booked_9, booked_9 / 4),
            hour(10, 2, 4, booked_10, booked_10 / 4),
        ], day


def test_fall_back_night_slots_count_at_their_wall_clock_hour(
    cli: Any, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sun 2027-10-31 01:00-04:00 in Berlin, 30-minute slots: the clocks go back from
    03:00 to 02:00 at 01:00 UTC. Whatever slots the generator keeps around the change,
    each counts at the local hour its start shows on the wall."""
    at(monkeypatch, "2027-10-01T00:00:00+00:00")
    exchange(cli, "berlin", "Europe/Berlin", "sun 01:00-04:00")
    generate(cli, "berlin", "2027-10-31", "2027-10-31", capacity=1, duration=30)
    starts = sorted(
        str(v)[:16].replace(" ", "T") for (v,) in db.query("SELECT starts_at FROM time_slots")
    )
    local_hours = [
        datetime.fromisoformat(s).replace(tzinfo=UTC).astimezone(ZoneInfo("Europe/Berlin")).hour
        for s in starts
    ]
    figures = stats(cli, "berlin", "--from", "2027-10-31", "--to", "2027-10-31")
    assert figures["slots"] == len(starts)
    expected: dict[int, int] = defaultdict(int)
    for h in local_hours:
        expected[h] += 1
    assert hour_counts(figures["by_hour"]) == dict(expected)
    assert set(expected) == {1, 2, 3}
    assert expected[2] >= 1


def test_local_hours_of_a_half_hour_offset(
    cli: Any, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Asia/Kolkata is UTC+05:30: local 09:00 is 03:30 UTC. 30-minute slots from 09:00
    to 11:00 on five weekdays: 10 slots at local hour 9 and 10 at hour 10."""
    at(monkeypatch, "2027-03-01T00:00:00+00:00")
    exchange(cli, "mumbai", "Asia/Kolkata", "mon-fri 09:00-11:00")
    generate(cli, "mumbai", "2027-03-22", "2027-03-26", capacity=1, duration=30)
    book(cli, "mumbai@2027-03-24T10:30", "ann")
    figures = stats(cli, "mumbai", "--from", "2027-03-22", "--to", "2027-03-26")
    assert figures["by_hour"] == [hour(9, 10, 10, 0, 0.0), hour(10, 10, 10, 1, 0.1)]
    wednesday = figures["by_weekday"][2]
    assert wednesday["by_hour"] == [hour(9, 2, 2, 0, 0.0), hour(10, 2, 2, 1, 0.5)]
    assert [d["slots"] for d in figures["by_weekday"]] == [4, 4, 4, 4, 4, 0, 0]
    # Together with a Berlin exchange (same local hours, across the spring change),
    # the hours add up by local hour.
    exchange(cli, "berlin", "Europe/Berlin", "daily 09:00-11:00")
    generate(cli, "berlin", "2027-03-22", "2027-04-04", capacity=2)
    both = stats(cli, "--from", "2027-03-22", "--to", "2027-04-04")
    assert both["by_hour"] == [hour(9, 24, 38, 0, 0.0), hour(10, 24, 38, 1, 0.0263)]
    assert [row["exchange"] for row in both["exchanges"]] == ["berlin", "mumbai"]


# 4. The period is a range of local dates ---------------------------------------------


@pytest.fixture
def evening(cli: Any, db: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """New York, Mon-Fri 22:00-23:00 (EST, UTC-05:00): each slot starts at 03:00 UTC
    on the *next* UTC date. Slots Mon 2027-02-01 .. Fri 2027-02-05, 2 seats each."""
    at(monkeypatch, "2027-01-10T12:00:00+00:00")
    exchange(cli, "ny", "America/New_York", "mon-fri 22:00-23:00")
    generate(cli, "ny", "2027-02-01", "2027-02-05", capacity=2)
    book(cli, "ny@2027-02-01T22:00", "ann")  # Monday's slot: 2027-02-02 03:00 UTC
    return "ny"


LOCAL_DATE_CASES = [
    # (from, to, slots, slots per weekday)
    ("2027-02-01", "2027-02-01", 1, [1, 0, 0, 0, 0, 0, 0]),  # UTC date 02-02, local 02-01
    ("2027-02-02", "2027-02-02", 1, [0, 1, 0, 0, 0, 0, 0]),
    ("2027-02-02", "2027-02-04", 3, [0, 1, 1, 1, 0, 0, 0]),  # both bounds inclusive
    ("2027-02-05", "2027-02-06", 1, [0, 0, 0, 0, 1, 0, 0]),  # Friday's slot is 02-06 UTC
    ("2027-02-06", "2027-02-07", 0, [0] * 7),
    ("2027-01-25", "2027-01-31", 0, [0] * 7),
    ("2027-01-25", "2027-02-05", 5, [1, 1, 1, 1, 1, 0, 0]),
]


def test_slots_count_on_their_local_date(cli: Any, db: Any, evening: str) -> None:
    for first, last, slots, per_weekday in LOCAL_DATE_CASES:
        case = (first, last)
        figures = stats(cli, "ny", "--from", first, "--to", last)
        assert (figures["from"], figures["to"]) == (first, last)
        assert figures["slots"] == slots, case
        assert figures["seats"] == 2 * slots, case
        assert [d["slots"] for d in figures["by_weekday"]] == per_weekday, case
        booked = 1 if first <= "2027-02-01" <= last else 0  # Monday's seat
        if slots:
            expected = [hour(22, slots, 2 * slots, booked, round(booked / (2 * slots), 4))]
            assert figures["by_hour"] == expected, case
        else:
            assert figures["by_hour"] == [], case
        assert figures["booked_seats"] == booked, case
        assert sum(figures["bookings"].values()) == booked, case
        # Without a SLUG the same local dates apply.
        assert stats(cli, "--from", first, "--to", last)["slots"] == slots, case


def test_monday_evening_booking_lead_and_hour(cli: Any, db: Any, evening: str) -> None:
    figures = stats(cli, "ny", "--from", "2027-02-01", "--to", "2027-02-01")
    assert figures["by_hour"] == [hour(22, 1, 2, 1, 0.5)]
    assert figures["by_weekday"][0]["by_hour"] == [hour(22, 1, 2, 1, 0.5)]
    # Booked 2027-01-10 12:00 UTC for 2027-02-02 03:00 UTC: 22 days 15 hours = 543 h.
    assert figures["lead_time_hours_median"] == 543.0
    assert figures["bookings"] == {**NO_BOOKINGS, "pending": 1}


@pytest.mark.parametrize(
    ("now", "slug", "setting", "first", "last"),
    [
        # 20:00 UTC on 03-10: still 03-10 in UTC and New York (15:00), 03-11 in Tokyo.
        ("2027-03-10T20:00:00+00:00", None, None, "2027-02-08", "2027-04-09"),
        ("2027-03-10T20:00:00+00:00", None, "Asia/Tokyo", "2027-02-09", "2027-04-10"),
        ("2027-03-10T20:00:00+00:00", "ny", "Asia/Tokyo", "2027-02-08", "2027-04-09"),
        # 02:00 UTC on 03-10 is 21:00 on 03-09 in New York.
        ("2027-03-10T02:00:00+00:00", "ny", None, "2027-02-07", "2027-04-08"),
        ("2027-03-10T02:00:00+00:00", None, None, "2027-02-08", "2027-04-09"),
    ],
)
def test_default_period_is_30_days_either_side_of_local_today(
    cli: Any,
    db: Any,
    monkeypatch: pytest.MonkeyPatch,
    now: str,
    slug: str | None,
    setting: str | None,
    first: str,
    last: str,
) -> None:
    at(monkeypatch, "2027-01-01T00:00:00+00:00")
    ok(cli("exchanges", "add", "ny", "--name", "NY", "--timezone", "America/New_York"))
    if setting is not None:
        monkeypatch.setenv("SLOTCTL_DEFAULT_TIMEZONE", setting)
    at(monkeypatch, now)
    figures = stats(cli, *([slug] if slug else []))
    assert (figures["from"], figures["to"]) == (first, last)


def test_default_period_includes_its_first_and_last_day(
    cli: Any, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Today 2027-03-10 (UTC): the period is 02-08 .. 04-09; daily slots 02-07 .. 04-10
    at 12:00 contribute 61 (the two outside days do not count)."""
    at(monkeypatch, "2027-01-01T00:00:00+00:00")
    exchange(cli, "utc", "UTC", "daily 12:00-13:00")
    generate(cli, "utc", "2027-02-07", "2027-04-10", capacity=1)
    assert db.scalar("SELECT count(*) FROM time_slots") == 63
    at(monkeypatch, "2027-03-10T20:00:00+00:00")
    figures = stats(cli)
    assert (figures["from"], figures["to"], figures["slots"]) == ("2027-02-08", "2027-04-09", 61)
    assert stats(cli, "utc")["slots"] == 61
    # Relative bounds count from the same today.
    relative = stats(cli, "utc", "--from", "today", "--to", "+2d")
    assert (relative["from"], relative["to"], relative["slots"]) == (
        "2027-03-10",
        "2027-03-12",
        3,
    )


# 5. SLUG scope and the per-exchange rows -------------------------------------------------
#
# Clock 2027-03-10 00:00 UTC. "beta" (UTC) is added first: Mon 09:00-10:00, 2 seats,
# slot 03-15 09:00 UTC (lead 129 h). "alpha" (Asia/Tokyo, UTC+09:00): Mon 09:00-12:00,
# 3 seats, slots at 00:00, 01:00, 02:00 UTC on 03-15 (leads 120, 121, 122 h).
# One booking per slot; alpha's 11:00 is cancelled.
#   alpha: 3 slots, 9 seats, 2 booked (0.2222); cancel 1/3; leads 120, 121, 122 -> 121.
#   beta: 1 slot, 2 seats, 1 booked (0.5); leads 129 -> 129.
#   all: 4 slots, 11 seats, 3 booked (0.2727); cancel 1/4; median (121 + 122) / 2 = 121.5
#   (not the mean of the exchanges' medians, 125).


@pytest.fixture
def two(cli: Any, db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    at(monkeypatch, "2027-03-10T00:00:00+00:00")
    exchange(cli, "beta", "UTC", "mon 09:00-10:00", name="Beta Hall")
    exchange(cli, "alpha", "Asia/Tokyo", "mon 09:00-12:00", name="Alpha Tower")
    generate(cli, "beta", "2027-03-15", "2027-03-15", capacity=2)
    generate(cli, "alpha", "2027-03-15", "2027-03-15", capacity=3)
    book(cli, "beta@2027-03-15T09:00", "ann")
    book(cli, "alpha@2027-03-15T09:00", "bob")
    book(cli, "alpha@2027-03-15T10:00", "cat")
    ok(cli("bookings", "cancel", book(cli, "alpha@2027-03-15T11:00", "dan")))


def _row(slug: str, name: str, timezone: str, figures: dict[str, Any]) -> dict[str, Any]:
    return {"exchange": slug, "name": name, "timezone": timezone, **figures}


ALPHA_ROW = _row(
    "alpha",
    "Alpha Tower",
    "Asia/Tokyo",
    {
        **usage(3, 9, 2, 0.2222),
        "bookings": {**NO_BOOKINGS, "pending": 2, "cancelled": 1},
        "no_show_rate": None,
        "cancellation_rate": 0.3333,
        "expired": 0,
        "lead_time_hours_median": 121.0,
        **NO_QUEUE,
    },
)
BETA_ROW = _row(
    "beta",
    "Beta Hall",
    "UTC",
    {
        **usage(1, 2, 1, 0.5),
        "bookings": {**NO_BOOKINGS, "pending": 1},
        "no_show_rate": None,
        "cancellation_rate": 0.0,
        "expired": 0,
        "lead_time_hours_median": 129.0,
        **NO_QUEUE,
    },
)


def test_without_slug_one_row_per_exchange_summing_to_the_totals(
    cli: Any, db: Any, two: None
) -> None:
    figures = stats(cli, "--from", "2027-03-15", "--to", "2027-03-15")
    assert figures["exchanges"] == [ALPHA_ROW, BETA_ROW]  # sorted by slug
    assert usage(*[figures[k] for k in USAGE_KEYS]) == usage(4, 11, 3, 0.2727)
    assert figures["bookings"] == {**NO_BOOKINGS, "pending": 3, "cancelled": 1}
    assert figures["cancellation_rate"] == 0.25
    assert figures["lead_time_hours_median"] == 121.5
    for key in ("slots", "seats", "booked_seats"):
        assert sum(row[key] for row in figures["exchanges"]) == figures[key]
    for status in STATUSES:
        per_exchange = [row["bookings"][status] for row in figures["exchanges"]]
        assert sum(per_exchange) == figures["bookings"][status], status
    # Local hours: alpha 9, 10, 11 and beta 9.
    assert figures["by_hour"] == [
        hour(9, 2, 5, 2, 0.4),
        hour(10, 1, 3, 1, 0.3333),
        hour(11, 1, 3, 0, 0.0),
    ]
    assert figures["by_weekday"][0] == weekday(0, usage(4, 11, 3, 0.2727), figures["by_hour"])


@pytest.mark.parametrize(
    ("slug", "row", "hours", "median", "cancellation"),
    [
        (
            "alpha",
            ALPHA_ROW,
            [hour(9, 1, 3, 1, 0.3333), hour(10, 1, 3, 1, 0.3333), hour(11, 1, 3, 0, 0.0)],
            121.0,
            0.3333,
        ),
        ("beta", BETA_ROW, [hour(9, 1, 2, 1, 0.5)], 129.0, 0.0),
    ],
)
def test_slug_restricts_every_figure(
    cli: Any,
    db: Any,
    two: None,
    slug: str,
    row: dict[str, Any],
    hours: list[dict[str, Any]],
    median: float,
    cancellation: float,
) -> None:
    figures = stats(cli, slug, "--from", "2027-03-15", "--to", "2027-03-15")
    assert figures["exchanges"] == [row]
    assert {k: figures[k] for k in EXCHANGE_KEYS[3:]} == {k: row[k] for k in EXCHANGE_KEYS[3:]}
    assert figures["by_hour"] == hours
    assert figures["by_weekday"][0]["by_hour"] == hours
    assert figures["lead_time_hours_median"] == median
    assert figures["cancellation_rate"] == cancellation


# 6. Nothing to count -----------------------------------------------------------------------


EMPTY_FIGURES = {
    "from": "2027-02-08",
    "to": "2027-04-09",
    **usage(0, 0, 0, None),
    "bookings": NO_BOOKINGS,
    "no_show_rate": None,
    "cancellation_rate": None,
    "expired": 0,
    "lead_time_hours_median": None,
    **NO_QUEUE,
    "by_weekday": [empty_weekday(i) for i in range(7)],
    "by_hour": [],
    "wait_by_weekday": NO_WAITS,
}


def test_empty_database(cli: Any, db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    at(monkeypatch, "2027-03-10T10:00:00+00:00")
    result = ok(cli("stats", "--format", "json"))
    assert result.stderr == ""
    assert result.json() == {**EMPTY_FIGURES, "exchanges": []}
    table = ok(cli("stats"))
    assert "Stats for all exchanges, 2027-02-08 to 2027-04-09" in table.stdout
    assert "No slots in this period." in table.stdout
    assert "By exchange" not in table.stdout


def test_an_exchange_without_slots(cli: Any, db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    at(monkeypatch, "2027-03-10T10:00:00+00:00")
    ok(cli("exchanges", "add", "quiet", "--name", "Quiet", "--timezone", "UTC"))
    row = {
        "exchange": "quiet",
        "name": "Quiet",
        "timezone": "UTC",
        **usage(0, 0, 0, None),
        "bookings": NO_BOOKINGS,
        "no_show_rate": None,
        "cancellation_rate": None,
        "expired": 0,
        "lead_time_hours_median": None,
        **NO_QUEUE,
    }
    assert stats(cli, "quiet") == {**EMPTY_FIGURES, "exchanges": [row]}
    assert stats(cli) == {**EMPTY_FIGURES, "exchanges": [row]}
    table = ok(cli("stats", "quiet"))
    assert "Stats for quiet, 2027-02-08 to 2027-04-09" in table.stdout
    assert "No slots in this period." in table.stdout


def test_csv_of_an_empty_database_still_has_its_header(
    cli: Any, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    at(monkeypatch, "2027-03-10T10:00:00+00:00")
    result = ok(cli("stats", "--format", "csv"))
    assert result.stdout.splitlines() == [",".join(CSV_HEADER)]


# 7. Errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "code", "word"),
    [
        (["nowhere"], 3, "nowhere"),
        (["--from", "notadate"], 2, "notadate"),
        (["--to", "notadate"], 2, "notadate"),
        (["alpha", "--from", "2027-02-30"], 2, "2027-02-30"),
        (["--from", "2027-03-10", "--to", "2027-03-09"], 2, "2027-03-09"),
        (["alpha", "--from", "2027-03-10", "--to", "2027-03-09"], 2, "2027-03-09"),
    ],
)
def test_errors(
    cli: Any,
    db: Any,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    code: int,
    word: str,
) -> None:
    at(monkeypatch, "2027-03-10T10:00:00+00:00")
    ok(cli("exchanges", "add", "alpha", "--name", "A", "--timezone", "UTC"))
    result = cli("stats", *args)
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error:"), result.stderr
    assert word in lines[0]


# 8. Table output ---------------------------------------------------------------------------


DEMO_NOW = "2027-03-20T12:00:00+00:00"


def _instant(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _ratio(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)


def _quantile(values: list[float], fraction: float) -> float | None:
    """Linear interpolation between the two nearest ranks (PostgreSQL's percentile_cont)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (position - low), 2)


def expected_queue(db: Any, first: date, last: date) -> dict[str, Any]:
    """The front-desk figures of docs/cli.md from the raw ticket and event rows."""
    waits: list[float] = []
    services: list[float] = []
    walkins = 0
    for day, kind, status, arrived, called, served in db.query(
        "SELECT day, kind, status, arrived_at, called_at, served_at FROM tickets"
    ):
        if not first.isoformat() <= str(day)[:10] <= last.isoformat():
            continue
        walkins += kind == "walkin" and status == "served"
        if called is not None:
            waits.append((_instant(called) - _instant(arrived)).total_seconds() / 60)
            if served is not None:
                services.append((_instant(served) - _instant(called)).total_seconds() / 60)
    made = 0
    for (slot_date,) in db.query(
        "SELECT s.date FROM bookings b JOIN time_slots s ON s.id = b.time_slot_id"
        " JOIN booking_events ev ON ev.booking_id = b.id"
        " WHERE ev.from_status IS NULL AND ev.actor = 'waitlist'"
    ):
        made += first.isoformat() <= str(slot_date)[:10] <= last.isoformat()
    return {
        "wait_minutes_median": _quantile(waits, 0.5),
        "wait_minutes_p90": _quantile(waits, 0.9),
        "service_minutes_median": _quantile(services, 0.5),
        "walkins_served": walkins,
        "waitlist_bookings": made,
    }


def expected_figures(db: Any, first: date, last: date) -> dict[str, Any]:
    """The figures of docs/cli.md computed in Python from the raw rows (an oracle)."""
    slot_rows = db.query(
        "SELECT s.id, e.slug, e.timezone, s.starts_at, s.max_capacity, s.current_bookings"
        " FROM time_slots s JOIN exchanges e ON e.id = s.exchange_id"
    )
    booking_rows = db.query(
        "SELECT time_slot_id, status, cancellation_reason, created_at FROM bookings"
    )
    starts: dict[int, tuple[str, datetime]] = {}
    totals = [0, 0, 0]
    per_exchange: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    per_hour: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    per_day = [[0, 0, 0] for _ in range(7)]
    for slot_id, slug, timezone, starts_at, capacity, booked in slot_rows:
        local = _instant(starts_at).astimezone(ZoneInfo(timezone))
        if not first <= local.date() <= last:
            continue
        starts[slot_id] = (slug, _instant(starts_at))
        for target in (totals, per_exchange[slug], per_hour[local.hour], per_day[local.weekday()]):
            target[0] += 1
            target[1] += capacity
            target[2] += booked
    counts = dict.fromkeys(STATUSES, 0)
    per_exchange_counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(STATUSES, 0))
    expired = 0
    leads: list[float] = []
    per_exchange_leads: dict[str, list[float]] = defaultdict(list)
    for slot_id, status, reason, created_at in booking_rows:
        if slot_id not in starts:
            continue
        slug, start = starts[slot_id]
        counts[status] += 1
        per_exchange_counts[slug][status] += 1
        expired += reason == "expired"
        lead = (start - _instant(created_at)).total_seconds() / 3600
        leads.append(lead)
        per_exchange_leads[slug].append(lead)
    return {
        "slots": totals[0],
        "seats": totals[1],
        "booked_seats": totals[2],
        "utilization": _ratio(totals[2], totals[1]),
        "bookings": counts,
        "no_show_rate": _ratio(counts["no_show"], counts["completed"] + counts["no_show"]),
        "cancellation_rate": _ratio(counts["cancelled"], sum(counts.values())),
        "expired": expired,
        "lead_time_hours_median": round(statistics.median(leads), 2) if leads else None,
        "per_day": [(d[0], d[1], d[2], _ratio(d[2], d[1])) for d in per_day],
        "per_hour": {
            h: (v[0], v[1], v[2], _ratio(v[2], v[1])) for h, v in sorted(per_hour.items())
        },
        "per_exchange": {
            slug: (
                v[0],
                v[1],
                v[2],
                per_exchange_counts[slug],
                round(statistics.median(per_exchange_leads[slug]), 2),
            )
            for slug, v in per_exchange.items()
        },
    }


@pytest.fixture
def demo(cli: Any, db: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    at(monkeypatch, DEMO_NOW)
    return str(ok(cli("demo")).stdout)


def test_demo_figures_match_a_computation_from_the_rows(cli: Any, db: Any, demo: str) -> None:
    figures = stats(cli)
    assert (figures["from"], figures["to"]) == ("2027-02-18", "2027-04-19")
    want = expected_figures(db, date(2027, 2, 18), date(2027, 4, 19))
    assert figures["slots"] > 1000
    # Every status but `arrived`: the demo's customers at the counter may all be served.
    assert all(figures["bookings"][status] > 0 for status in STATUSES if status != "arrived")
    assert figures["expired"] > 0
    for key in (
        "slots",
        "seats",
        "booked_seats",
        "utilization",
        "bookings",
        "no_show_rate",
        "cancellation_rate",
        "expired",
    ):
        assert figures[key] == want[key], key
    # Medians may differ by one in the last decimal: the true median can end in 5 in
    # the third decimal (e.g. 89.975 h), where float noise decides the rounding.
    assert figures["lead_time_hours_median"] == pytest.approx(
        want["lead_time_hours_median"], abs=0.011
    )
    queue = expected_queue(db, date(2027, 2, 18), date(2027, 4, 19))
    for key, value in queue.items():
        assert figures[key] == (value if value is None else pytest.approx(value, abs=0.011)), key
    assert sum(day["tickets"] for day in figures["wait_by_weekday"]) == sum(
        cell["tickets"] for day in figures["wait_by_weekday"] for cell in day["by_hour"]
    )
    assert [
        (d["slots"], d["seats"], d["booked_seats"], d["utilization"]) for d in figures["by_weekday"]
    ] == want["per_day"]
    assert {
        h["hour"]: (h["slots"], h["seats"], h["booked_seats"], h["utilization"])
        for h in figures["by_hour"]
    } == want["per_hour"]
    assert [h["hour"] for h in figures["by_hour"]] == sorted(want["per_hour"])
    # The weekday x hour cells add up to the hours and to the weekdays.
    for h in figures["by_hour"]:
        cells = [c for d in figures["by_weekday"] for c in d["by_hour"] if c["hour"] == h["hour"]]
        assert sum(c["slots"] for c in cells) == h["slots"]
        assert sum(c["booked_seats"] for c in cells) == h["booked_seats"]
    for d in figures["by_weekday"]:
        assert sum(c["seats"] for c in d["by_hour"]) == d["seats"]
    rows = {row["exchange"]: row for row in figures["exchanges"]}
    assert list(rows) == sorted(want["per_exchange"]) == ["airport", "downtown", "harbour"]
    for slug, (slots, seats, booked, counts, median) in want["per_exchange"].items():
        row = rows[slug]
        assert (row["slots"], row["seats"], row["booked_seats"]) == (slots, seats, booked)
        assert row["bookings"] == counts
        assert row["lead_time_hours_median"] == pytest.approx(median, abs=0.011)
        alone = stats(cli, slug, "--from", "2027-02-18", "--to", "2027-04-19")
        assert alone["exchanges"] == [row]
        assert (alone["slots"], alone["booked_seats"], alone["bookings"]) == (
            slots,
            booked,
            counts,
        )


def test_demo_table(cli: Any, db: Any, demo: str) -> None:
    result = ok(cli("stats"))
    assert result.stderr == ""
    out = result.stdout
    figures = stats(cli)
    lines = out.splitlines()
    assert "Stats for all exchanges, 2027-02-18 to 2027-04-19" in out
    for label, value in (
        ("Slots", f"{figures['slots']:,}"),
        ("Seats", f"{figures['seats']:,}"),
        ("Booked seats", f"{figures['booked_seats']:,}"),
        ("Bookings", f"{sum(figures['bookings'].values()):,}"),
        ("Expired", f"{figures['expired']:,}"),
        ("Utilisation", f"{figures['utilization'] * 100:.1f}%"),
        ("No-show rate", f"{figures['no_show_rate'] * 100:.1f}%"),
        ("Cancellation rate", f"{figures['cancellation_rate'] * 100:.1f}%"),
        ("Median lead time", f"{figures['lead_time_hours_median']:,.1f} h"),
    ):
        words = [*label.split(), *value.split()]
        assert any(line.split()[: len(words)] == words for line in lines), (label, value)
    for title in (
        "Bookings by status",
        "Utilisation by weekday",
        "Utilisation by weekday and local hour",
        "By exchange",
    ):
        assert any(line.strip() == title for line in lines), title
    for status in STATUSES:
        assert any(
            line.split()[:2] == [status, f"{figures['bookings'][status]:,}"] for line in lines
        ), status
    # Weekday labels, once in the bar chart and once in each heat map (utilisation, and
    # waiting time when tickets were called).
    maps = 2 if any(day["tickets"] for day in figures["wait_by_weekday"]) else 1
    for day in DAYS:
        assert sum(1 for line in lines if line.split()[:1] == [day]) == 1 + maps, day
    # The heat map's header row is the local hours with slots.
    header = " ".join(f"{row['hour']:02d}" for row in figures["by_hour"])
    assert any(" ".join(line.split()) == header for line in lines)
    for slug in ("airport", "downtown", "harbour"):
        assert any(line.split()[:1] == [slug] for line in lines), slug
    assert "No slots in this period." not in out


def test_table_of_a_small_period(cli: Any, db: Any, alpha: dict[str, str]) -> None:
    """One exchange with two opening hours: a narrow heat map, but the same titles."""
    out = ok(cli("stats", "alpha", "--from", "2027-03-15", "--to", "2027-03-17")).stdout
    lines = [line.strip() for line in out.splitlines()]
    assert "Stats for alpha, 2027-03-15 to 2027-03-17" in lines
    assert "Bookings by status" in lines
    assert "Utilisation by weekday" in lines
    assert "By exchange" not in out  # one exchange only
    assert any(line.split()[:5] == ["Median", "lead", "time", "103.8", "h"] for line in lines)
    assert [line.split()[:3] for line in lines if line.split()[:1] == ["mon"]] == [
        ["mon", "66.7%", "████████████████████"],  # the weekday bar chart
        ["mon", "██", "██"],  # the heat map: both Monday hours are the busiest cells
    ]
    # The heat map's title stays one line, however few hour columns the map has.
    assert "Utilisation by weekday and local hour" in lines


# 9. CSV output ----------------------------------------------------------------------------


def _csv_cell(value: Any) -> str:
    return "" if value is None else str(value)


def test_csv_one_row_per_exchange_matching_json(cli: Any, db: Any, two: None) -> None:
    args = ("--from", "2027-03-15", "--to", "2027-03-15")
    result = ok(cli("stats", *args, "--format", "csv"))
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == CSV_HEADER
    figures = stats(cli, *args)
    expected = [
        [_csv_cell(row[key]) for key in CSV_HEADER[: -len(STATUSES)]]
        + [str(row["bookings"][status]) for status in STATUSES]
        for row in figures["exchanges"]
    ]
    assert rows[1:] == expected
    assert [row[0] for row in rows[1:]] == ["alpha", "beta"]
    assert rows[1] == [
        "alpha",
        "Alpha Tower",
        "Asia/Tokyo",
        "3",
        "9",
        "2",
        "0.2222",
        "",
        "0.3333",
        "0",
        "121.0",
        "",  # no ticket: no wait, no service
        "",
        "",
        "0",
        "0",
        "2",  # pending, confirmed, arrived, completed, no_show, cancelled
        "0",
        "0",
        "0",
        "0",
        "1",
    ]
    one = list(csv.reader(io.StringIO(ok(cli("stats", "beta", *args, "-f", "csv")).stdout)))
    assert one == [CSV_HEADER, expected[1]]
