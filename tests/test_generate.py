"""``slotctl slots generate``: counts, idempotency, closures, buffers, prune, DST."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slotctl.services.generate import day_slots

NOW = "2027-03-20T12:00:00+00:00"


@pytest.fixture
def downtown(cli: Any, db: Any, monkeypatch: Any) -> str:
    monkeypatch.setenv("SLOTCTL_NOW", NOW)
    assert (
        cli("exchanges", "add", "downtown", "--name", "D", "--timezone", "Europe/Berlin").exit_code
        == 0
    )
    result = cli("hours", "set", "downtown", "mon-fri 09:00-12:00,13:00-17:00", "sat 10:00-14:00")
    assert result.exit_code == 0, result.stderr
    return "downtown"


def generate(cli: Any, *args: str) -> dict[str, Any]:
    result = cli("slots", "generate", *args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""  # no progress bar off a terminal
    data: dict[str, Any] = result.json()
    keys = ["created", "skipped", "pruned", "orphaned"]
    if "--dry-run" in args:  # and the slots themselves: which would be created and pruned
        keys += ["slots", "pruned_slots"]
        assert len(data["slots"]) == data["created"]
        assert len(data["pruned_slots"]) == data["pruned"]
    assert list(data) == keys
    return data


def local_starts(db: Any, timezone: str, day: str | None = None) -> list[str]:
    zone = ZoneInfo(timezone)
    rows = db.query("SELECT starts_at, date FROM time_slots ORDER BY starts_at")
    out = []
    for starts_at, slot_date in rows:
        instant = _aware(starts_at)
        if day is None or str(slot_date) == day:
            out.append(instant.astimezone(zone).strftime("%Y-%m-%d %H:%M"))
    return out


def _aware(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def test_two_weeks_then_nothing_the_second_time(cli: Any, db: Any, downtown: str) -> None:
    first = generate(
        cli, downtown, "--from", "2027-03-22", "--days", "14", "--duration", "30", "--capacity", "2"
    )
    # 10 weekdays x 14 slots + 2 Saturdays x 8 slots
    assert first == {"created": 156, "skipped": 0, "pruned": 0, "orphaned": []}
    assert db.scalar("SELECT count(*) FROM time_slots") == 156
    assert db.scalar("SELECT count(DISTINCT max_capacity) FROM time_slots") == 1
    assert db.scalar("SELECT max(max_capacity) FROM time_slots") == 2
    before = db.snapshot()
    second = generate(
        cli, downtown, "--from", "2027-03-22", "--days", "14", "--duration", "30", "--capacity", "2"
    )
    assert second == {"created": 0, "skipped": 156, "pruned": 0, "orphaned": []}
    assert db.snapshot() == before


def test_summary_line_in_table_format(cli: Any, db: Any, downtown: str) -> None:
    result = cli("slots", "generate", downtown, "--from", "2027-03-22", "--days", "1")
    assert result.exit_code == 0
    assert result.stdout.startswith("Created 14 slots; skipped 0")
    again = cli("slots", "generate", downtown, "--from", "2027-03-22", "--days", "1")
    assert again.stdout.startswith("Created 0 slots; skipped 14")


def test_local_times_and_dates(cli: Any, db: Any, downtown: str) -> None:
    generate(cli, downtown, "--from", "2027-03-22", "--to", "2027-03-22", "--duration", "60")
    assert local_starts(db, "Europe/Berlin") == [
        "2027-03-22 09:00",
        "2027-03-22 10:00",
        "2027-03-22 11:00",
        "2027-03-22 13:00",
        "2027-03-22 14:00",
        "2027-03-22 15:00",
        "2027-03-22 16:00",
    ]
    assert {str(d) for (d,) in db.query("SELECT date FROM time_slots")} == {"2027-03-22"}
    first = db.query("SELECT starts_at, ends_at FROM time_slots ORDER BY starts_at")[0]
    assert _aware(first[0]) == datetime(2027, 3, 22, 8, 0, tzinfo=UTC)
    assert _aware(first[1]) == datetime(2027, 3, 22, 9, 0, tzinfo=UTC)


def test_defaults_come_from_settings(cli: Any, db: Any, downtown: str, monkeypatch: Any) -> None:
    monkeypatch.setenv("SLOTCTL_SLOT_MINUTES", "60")
    monkeypatch.setenv("SLOTCTL_SLOT_CAPACITY", "3")
    monkeypatch.setenv("SLOTCTL_GENERATE_DAYS", "2")
    monkeypatch.setenv("SLOTCTL_NOW", "2027-03-20T09:30:00+00:00")  # Saturday 10:30 in Berlin
    data = generate(cli, downtown)  # from today for 2 days
    assert data["created"] == 3  # Saturday 11:00, 12:00, 13:00; Sunday is closed
    assert db.scalar("SELECT min(max_capacity) FROM time_slots") == 3


def test_closures_are_skipped(cli: Any, db: Any, downtown: str) -> None:
    cli("hours", "closures", "add", downtown, "2027-03-23", "2027-03-24", "--reason", "x")
    data = generate(cli, downtown, "--from", "2027-03-22", "--to", "2027-03-26")
    assert data["created"] == 3 * 14
    days = {s[:10] for s in local_starts(db, "Europe/Berlin")}
    assert days == {"2027-03-22", "2027-03-25", "2027-03-26"}


def test_buffer_and_midnight_close(cli: Any, db: Any, downtown: str) -> None:
    cli("hours", "set", downtown, "mon 09:00-12:00,22:00-24:00")
    data = generate(
        cli,
        downtown,
        "--from",
        "2027-03-22",
        "--to",
        "2027-03-22",
        "--duration",
        "30",
        "--buffer",
        "15m",
    )
    starts = [s[11:] for s in local_starts(db, "Europe/Berlin")]
    assert starts == ["09:00", "09:45", "10:30", "11:15", "22:00", "22:45", "23:30"]
    assert data["created"] == 7
    last_end = _aware(db.query("SELECT max(ends_at) FROM time_slots")[0][0])
    assert last_end.astimezone(ZoneInfo("Europe/Berlin")) == datetime(
        2027, 3, 23, 0, 0, tzinfo=ZoneInfo("Europe/Berlin")
    )
    generate(cli, downtown, "--from", "2027-03-29", "--to", "2027-03-29", "--duration", "60")
    end = _aware(db.query("SELECT max(ends_at) FROM time_slots")[0][0])
    assert end.astimezone(ZoneInfo("Europe/Berlin")) == datetime(
        2027, 3, 30, 0, 0, tzinfo=ZoneInfo("Europe/Berlin")
    )


def test_changed_duration_never_overlaps(cli: Any, db: Any, downtown: str) -> None:
    generate(cli, downtown, "--from", "2027-03-22", "--to", "2027-03-22", "--duration", "30")
    data = generate(cli, downtown, "--from", "2027-03-22", "--to", "2027-03-23", "--duration", "45")
    # Monday: every 45-minute slot would overlap a 30-minute one; Tuesday is free
    assert data["skipped"] == 4 + 5
    assert data["created"] == 4 + 5
    rows = [
        (_aware(a), _aware(b))
        for a, b in db.query("SELECT starts_at, ends_at FROM time_slots ORDER BY starts_at")
    ]
    for (s1, e1), (s2, _) in itertools.pairwise(rows):
        assert e1 <= s2, (s1, e1, s2)


def test_no_slots_in_the_past(cli: Any, db: Any, downtown: str, monkeypatch: Any) -> None:
    monkeypatch.setenv("SLOTCTL_NOW", "2027-03-22T10:10:00+00:00")  # 11:10 in Berlin
    data = generate(cli, downtown, "--from", "2027-03-22", "--to", "2027-03-22")
    assert local_starts(db, "Europe/Berlin")[0] == "2027-03-22 11:30"
    assert data["created"] == 9


def test_long_horizon_commits_in_chunks(cli: Any, db: Any, downtown: str) -> None:
    data = generate(cli, downtown, "--from", "2027-04-01", "--days", "75", "--duration", "60")
    expected = 0
    day = date(2027, 4, 1)
    for _ in range(75):
        expected += 7 if day.weekday() < 5 else 4 if day.weekday() == 5 else 0
        day += timedelta(days=1)
    assert data["created"] == expected
    assert db.scalar("SELECT count(*) FROM time_slots") == expected


def test_dry_run_writes_nothing(cli: Any, db: Any, downtown: str) -> None:
    data = generate(cli, downtown, "--from", "2027-03-22", "--days", "7", "--dry-run")
    assert data["created"] == 5 * 14 + 8
    assert db.scalar("SELECT count(*) FROM time_slots") == 0
    table = cli("slots", "generate", downtown, "--from", "2027-03-22", "--days", "7", "--dry-run")
    assert table.stdout.startswith("Would create 78 slots")


def _book(db: Any, starts_local: str) -> None:
    instant = (
        datetime.fromisoformat(starts_local)
        .replace(tzinfo=ZoneInfo("Europe/Berlin"))
        .astimezone(UTC)
    )
    value: Any = instant if db.kind == "postgres" else instant.strftime("%Y-%m-%d %H:%M:%S.%f")
    slot_id = db.scalar("SELECT id FROM time_slots WHERE starts_at = :s", s=value)
    assert slot_id is not None
    db.execute("UPDATE time_slots SET current_bookings = 1 WHERE id = :i", i=slot_id)
    stamp: Any = (
        "2027-03-20 00:00:00+00:00" if db.kind == "postgres" else "2027-03-20 00:00:00.000000"
    )
    db.execute(
        "INSERT INTO bookings (uuid, reference, time_slot_id, exchange_id, customer_name, customer_email, "
        "status, created_at, updated_at) VALUES (:u, :r, :i, 1, 'Ann', 'ann@example.com', 'confirmed', :n, :n)",
        u=f"00000000-0000-4000-8000-{slot_id:012d}",
        r=f"BK-{slot_id:06d}",
        i=slot_id,
        n=stamp,
    )


def test_prune_removes_unbooked_and_reports_orphans(cli: Any, db: Any, downtown: str) -> None:
    generate(cli, downtown, "--from", "2027-03-22", "--to", "2027-03-27")
    _book(db, "2027-03-22T16:30")
    cli("hours", "set", downtown, "mon-fri 09:00-12:00")
    dry = generate(
        cli, downtown, "--from", "2027-03-22", "--to", "2027-03-27", "--prune", "--dry-run"
    )
    assert dry["pruned"] == 5 * 8 - 1 + 8
    assert db.scalar("SELECT count(*) FROM time_slots") == 5 * 14 + 8
    data = generate(cli, downtown, "--from", "2027-03-22", "--to", "2027-03-27", "--prune")
    assert data["pruned"] == 5 * 8 - 1 + 8
    assert data["created"] == 0
    assert [o["start"] for o in data["orphaned"]] == ["16:30"]
    assert data["orphaned"][0]["current_bookings"] == 1
    assert db.scalar("SELECT count(*) FROM time_slots") == 5 * 6 + 1
    assert db.scalar("SELECT count(*) FROM bookings") == 1


def test_prune_then_regenerate_with_new_duration(cli: Any, db: Any, downtown: str) -> None:
    generate(cli, downtown, "--from", "2027-03-22", "--to", "2027-03-22", "--duration", "30")
    data = generate(
        cli, downtown, "--from", "2027-03-22", "--to", "2027-03-22", "--duration", "60", "--prune"
    )
    assert data == {"created": 7, "skipped": 0, "pruned": 14, "orphaned": []}


def test_all_and_several_exchanges(cli: Any, db: Any, downtown: str) -> None:
    cli("exchanges", "add", "uptown", "--name", "U", "--timezone", "America/New_York")
    cli("hours", "set", "uptown", "daily 10:00-11:00")
    cli("exchanges", "add", "closed", "--name", "C", "--timezone", "UTC")
    cli("hours", "set", "closed", "daily 10:00-11:00")
    cli("exchanges", "update", "closed", "--inactive")
    data = generate(cli, "--all", "--from", "2027-03-22", "--to", "2027-03-22")
    assert data["created"] == 14 + 2
    assert db.scalar("SELECT count(DISTINCT exchange_id) FROM time_slots") == 2
    explicit = generate(cli, "closed", "uptown", "--from", "2027-03-23", "--to", "2027-03-23")
    assert explicit["created"] == 4


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["ghost"], 3),
        ([], 2),
        (["downtown", "--all"], 2),
        (["downtown", "--duration", "0"], 2),
        (["downtown", "--duration", "soon"], 2),
        (["downtown", "--capacity", "0"], 2),
        (["downtown", "--days", "0"], 2),
        (["downtown", "--from", "2027-03-25", "--to", "2027-03-22"], 2),
        (["downtown", "--to", "2027-03-25", "--days", "3"], 2),
        (["downtown", "--from", "2027-02-30"], 2),
    ],
)
def test_bad_requests(cli: Any, db: Any, downtown: str, args: list[str], code: int) -> None:
    result = cli("slots", "generate", *args)
    assert result.exit_code == code, result.stderr
    assert result.stderr.startswith("Error: ")
    assert db.scalar("SELECT count(*) FROM time_slots") == 0


# Daylight saving time ---------------------------------------------------------------

# The rule (docs/design.md, Time): a shift [o, c) of local date D covers the real time
# [T(D, o), T(D, c)), T(D, x) the first instant at which the clock reads (D, x) or later
# (24:00 = 00:00 of D + 1); slots tile it from its start in real minutes.

DST_CASES = [
    # zone, date, local starts (by instant) before 04:00, count for 00:00-24:00 by 30 min
    ("Europe/Berlin", "2027-03-28", ["00:00", "00:30", "01:00", "01:30", "03:00", "03:30"], 46),
    (
        "Europe/Berlin",
        "2027-10-31",
        ["00:00", "00:30", "01:00", "01:30", "02:00", "02:30", "02:00", "02:30", "03:00", "03:30"],
        50,
    ),
    ("America/New_York", "2027-03-14", ["00:00", "00:30", "01:00", "01:30", "03:00", "03:30"], 46),
    (
        "America/New_York",
        "2027-11-07",
        ["00:00", "00:30", "01:00", "01:30", "01:00", "01:30", "02:00", "02:30", "03:00", "03:30"],
        50,
    ),
    (  # back 30 minutes at 02:00: 24.5 real hours
        "Australia/Lord_Howe",
        "2027-04-04",
        ["00:00", "00:30", "01:00", "01:30", "01:30", "02:00", "02:30", "03:00", "03:30"],
        49,
    ),
    (  # forward 30 minutes at 02:00: 23.5 real hours
        "Australia/Lord_Howe",
        "2027-10-03",
        ["00:00", "00:30", "01:00", "01:30", "02:30", "03:00", "03:30"],
        47,
    ),
    (  # midnight does not exist: the day starts at the change, 01:00
        "America/Havana",
        "2027-03-14",
        ["01:00", "01:30", "02:00", "02:30", "03:00", "03:30"],
        46,
    ),
    (
        "Asia/Tokyo",
        "2027-03-28",
        ["00:00", "00:30", "01:00", "01:30", "02:00", "02:30", "03:00", "03:30"],
        48,
    ),
]


@pytest.mark.parametrize(("zone", "day", "early", "count"), DST_CASES)
def test_transition_days(
    cli: Any, db: Any, monkeypatch: Any, zone: str, day: str, early: list[str], count: int
) -> None:
    monkeypatch.setenv("SLOTCTL_NOW", "2027-01-01T00:00:00+00:00")
    cli("exchanges", "add", "x", "--name", "X", "--timezone", zone)
    cli("hours", "set", "x", "daily 00:00-24:00")
    data = generate(cli, "x", "--from", day, "--to", day, "--duration", "30")
    assert data["created"] == count
    rows = [
        (_aware(a), _aware(b))
        for a, b in db.query("SELECT starts_at, ends_at FROM time_slots ORDER BY starts_at")
    ]
    tz = ZoneInfo(zone)
    starts = [a.astimezone(tz).strftime("%H:%M") for a, _ in rows]
    assert starts[: len(early)] == early
    for (start, end), (following, _) in itertools.pairwise(rows):
        assert end - start == timedelta(minutes=30)  # exactly 30 real minutes
        assert following == end  # round the clock: back to back, no gap, no overlap
    assert rows[-1][1] - rows[0][0] == timedelta(minutes=30 * count)
    # idempotent on the transition day too
    assert generate(cli, "x", "--from", day, "--to", day, "--duration", "30")["created"] == 0


def test_new_york_fall_back_hour_holds_slots(cli: Any, db: Any, monkeypatch: Any) -> None:
    """00:00-03:00 local on 2027-11-07 is four real hours: four 60-minute slots."""
    monkeypatch.setenv("SLOTCTL_NOW", "2027-01-01T00:00:00+00:00")
    cli("exchanges", "add", "jfk", "--name", "JFK", "--timezone", "America/New_York")
    cli("hours", "set", "jfk", "daily 00:00-03:00")
    made = generate(cli, "jfk", "--from", "2027-11-07", "--to", "2027-11-07", "--duration", "60")
    assert made["created"] == 4
    listed = cli("slots", "list", "jfk", "--from", "2027-11-07", "-f", "json").json()
    assert [(s["starts_at"], s["ends_at"]) for s in listed] == [
        ("2027-11-07T00:00:00-04:00", "2027-11-07T01:00:00-04:00"),
        ("2027-11-07T01:00:00-04:00", "2027-11-07T01:00:00-05:00"),
        ("2027-11-07T01:00:00-05:00", "2027-11-07T02:00:00-05:00"),
        ("2027-11-07T02:00:00-05:00", "2027-11-07T03:00:00-05:00"),
    ]
    assert [s["date"] for s in listed] == ["2027-11-07"] * 4


# The oracle, written from the rule alone: T(D, x) by scanning real minutes.

ORACLE_ZONES = [
    "America/New_York",
    "Europe/Berlin",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Antarctica/Troll",
    "America/Havana",
    "Asia/Beirut",
    "Europe/Dublin",
    "Asia/Tokyo",
]


def _transition_days(zone: str, year: int) -> list[date]:
    """Local dates of ``year`` on which the zone's offset is not the same all day."""
    tz = ZoneInfo(zone)
    days = []
    day = date(year, 1, 1)
    while day.year == year:
        start = datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(hours=14)
        offsets = {(start + timedelta(hours=h)).astimezone(tz).utcoffset() for h in range(54)}
        if len(offsets) > 1:
            days.append(day)
        day += timedelta(days=1)
    return days


TRANSITION_DAYS = [(zone, day) for zone in ORACLE_ZONES for day in _transition_days(zone, 2027)]


def oracle_first_instant(tz: ZoneInfo, day: date, minute: int) -> datetime:
    """The first whole-minute instant at which the clock reads (day, minute) or later."""
    wanted = datetime(day.year, day.month, day.day) + timedelta(minutes=minute)
    instant = wanted.replace(tzinfo=UTC) - timedelta(hours=15)
    while instant.astimezone(tz).replace(tzinfo=None) < wanted:
        instant += timedelta(minutes=1)
    return instant


def oracle_slots(
    tz: ZoneInfo, day: date, shift: tuple[int, int], duration: int, buffer: int
) -> list[tuple[datetime, datetime]]:
    start, close = (oracle_first_instant(tz, day, minute) for minute in shift)
    slots = []
    while start + timedelta(minutes=duration) <= close:
        slots.append((start, start + timedelta(minutes=duration)))
        start += timedelta(minutes=duration + buffer)
    return slots


def test_the_oracle_sees_every_zone_change() -> None:
    zones = {zone for zone, _ in TRANSITION_DAYS}
    assert zones == set(ORACLE_ZONES) - {"Asia/Tokyo"}  # Tokyo keeps one offset
    assert ("America/Havana", date(2027, 3, 14)) in TRANSITION_DAYS


SHIFTS = st.tuples(
    st.integers(min_value=0, max_value=24 * 60 - 1), st.integers(min_value=1, max_value=24 * 60)
).map(lambda pair: (pair[0], min(24 * 60, pair[0] + pair[1])))


@settings(max_examples=300, deadline=None)
@given(
    case=st.one_of(
        st.sampled_from(TRANSITION_DAYS),
        st.tuples(
            st.sampled_from(ORACLE_ZONES),
            st.dates(min_value=date(2000, 1, 1), max_value=date(2037, 12, 31)),
        ),
    ),
    shift=SHIFTS,
    duration=st.sampled_from([5, 15, 20, 30, 45, 60, 90, 1440]),
    buffer=st.sampled_from([0, 5, 15]),
)
def test_day_slots_match_the_oracle(
    case: tuple[str, date], shift: tuple[int, int], duration: int, buffer: int
) -> None:
    zone, day = case
    tz = ZoneInfo(zone)
    rows = day_slots(day, [shift], tz, duration, buffer)
    assert [(start, end) for _, start, end in rows] == oracle_slots(
        tz, day, shift, duration, buffer
    )
    assert all(slot_day == day for slot_day, _, _ in rows)


_slugs = itertools.count(1)


@settings(max_examples=20, deadline=None)
@given(
    case=st.sampled_from(TRANSITION_DAYS),
    shift=SHIFTS,
    timing=st.sampled_from([(30, 0), (45, 15), (60, 0), (20, 5), (90, 30)]),
)
def test_generated_slots_match_the_oracle_in_the_database(
    cli: Any, db: Any, monkeypatch: Any, case: tuple[str, date], shift: tuple[int, int], timing: Any
) -> None:
    """Through the command and the database (both), on real clock changes."""
    zone, day = case
    duration, buffer = timing
    monkeypatch.setenv("SLOTCTL_NOW", "2026-12-01T00:00:00+00:00")
    slug = f"x{next(_slugs)}"
    assert cli("exchanges", "add", slug, "--name", "X", "--timezone", zone).exit_code == 0
    times = f"{shift[0] // 60:02d}:{shift[0] % 60:02d}-{shift[1] // 60:02d}:{shift[1] % 60:02d}"
    assert cli("hours", "set", slug, f"daily {times}").exit_code == 0
    options = ["--from", day.isoformat(), "--to", day.isoformat()]
    generate(cli, slug, *options, "--duration", str(duration), "--buffer", str(buffer))
    rows = db.query(
        "SELECT s.date, s.starts_at, s.ends_at FROM time_slots s JOIN exchanges e"
        " ON e.id = s.exchange_id WHERE e.slug = :slug ORDER BY s.starts_at",
        slug=slug,
    )
    expected = oracle_slots(ZoneInfo(zone), day, shift, duration, buffer)
    assert [(_aware(start), _aware(end)) for _, start, end in rows] == expected
    assert {str(slot_date) for slot_date, _, _ in rows} <= {day.isoformat()}
    # re-running creates nothing and moves nothing
    again = generate(cli, slug, *options, "--duration", str(duration), "--buffer", str(buffer))
    assert again["created"] == 0


def test_offsets_to_the_minute_around_transitions(cli: Any, db: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("SLOTCTL_NOW", "2027-01-01T00:00:00+00:00")
    cli("exchanges", "add", "berlin", "--name", "B", "--timezone", "Europe/Berlin")
    cli("exchanges", "add", "nyc", "--name", "N", "--timezone", "America/New_York")
    for slug in ("berlin", "nyc"):
        cli("hours", "set", slug, "daily 09:00-10:00")
    generate(cli, "berlin", "--from", "2027-03-27", "--to", "2027-03-29", "--duration", "60")
    generate(cli, "nyc", "--from", "2027-11-06", "--to", "2027-11-08", "--duration", "60")
    listed = {
        s["uuid"]: s
        for slug in ("berlin", "nyc")
        for s in cli(
            "slots", "list", slug, "--from", "2027-01-01", "--limit", "0", "-f", "json"
        ).json()
    }
    got = sorted((s["exchange"], s["starts_at"], s["ends_at"]) for s in listed.values())
    assert got == [
        ("berlin", "2027-03-27T09:00:00+01:00", "2027-03-27T10:00:00+01:00"),
        ("berlin", "2027-03-28T09:00:00+02:00", "2027-03-28T10:00:00+02:00"),
        ("berlin", "2027-03-29T09:00:00+02:00", "2027-03-29T10:00:00+02:00"),
        ("nyc", "2027-11-06T09:00:00-04:00", "2027-11-06T10:00:00-04:00"),
        ("nyc", "2027-11-07T09:00:00-05:00", "2027-11-07T10:00:00-05:00"),
        ("nyc", "2027-11-08T09:00:00-05:00", "2027-11-08T10:00:00-05:00"),
    ]
    utc = sorted(_aware(a) for (a,) in db.query("SELECT starts_at FROM time_slots"))
    assert utc[:3] == [
        datetime(2027, 3, 27, 8, 0, tzinfo=UTC),
        datetime(2027, 3, 28, 7, 0, tzinfo=UTC),
        datetime(2027, 3, 29, 7, 0, tzinfo=UTC),
    ]
    assert utc[3:] == [
        datetime(2027, 11, 6, 13, 0, tzinfo=UTC),
        datetime(2027, 11, 7, 14, 0, tzinfo=UTC),
        datetime(2027, 11, 8, 14, 0, tzinfo=UTC),
    ]


def test_concurrent_generation_never_duplicates(
    db: Any, cli: Any, downtown: str, tmp_path: Any
) -> None:
    """Four processes generating the same horizon at once create each slot exactly once."""
    env = {**os.environ, "SLOTCTL_DATABASE_URL": db.url, "SLOTCTL_NOW": NOW}
    command = [
        sys.executable,
        "-m",
        "slotctl",
        "slots",
        "generate",
        "downtown",
        "--from",
        "2027-03-22",
        "--days",
        "60",
        "--duration",
        "15",
        "--format",
        "json",
    ]
    procs = [
        subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    import json

    assert all(p.returncode == 0 for p in procs), outputs
    created = sum(json.loads(out)["created"] for out, _ in outputs)
    total = db.scalar("SELECT count(*) FROM time_slots")
    assert created == total
    assert (
        db.scalar(
            "SELECT count(*) FROM (SELECT DISTINCT exchange_id, starts_at FROM time_slots) AS d"
        )
        == total
    )
    expected = generate(cli, downtown, "--from", "2027-03-22", "--days", "60", "--duration", "15")
    assert expected["created"] == 0
    assert expected["skipped"] == total


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)  # a terminal matter, not a database one
def test_progress_bar_on_a_terminal_only(db: Any, cli: Any, downtown: str) -> None:
    import pty
    import select

    env = {**os.environ, "SLOTCTL_DATABASE_URL": db.url, "TERM": "xterm", "COLUMNS": "100"}
    env.pop("NO_COLOR", None)
    command = [
        sys.executable,
        "-m",
        "slotctl",
        "slots",
        "generate",
        downtown,
        "--from",
        "2027-03-22",
        "--days",
        "30",
    ]
    master, slave = pty.openpty()
    process = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    seen = b""
    while select.select([master], [], [], 60)[0]:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    assert process.wait(timeout=60) == 0
    text = seen.decode(errors="replace")
    assert "Generating slots" in text
    assert "100%" in text
    assert "Created " in text
    quiet = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    assert quiet.stderr == ""  # not a terminal: no bar
    assert quiet.stdout.startswith("Created 0 slots")
