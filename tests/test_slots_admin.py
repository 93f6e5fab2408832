"""``slotctl slots``: listing, finding, calendars and administration of slots,
on SQLite and PostgreSQL.

Every test starts from the same fixture: the clock frozen at Saturday
2027-03-20 12:00 UTC and the exchange ``downtown`` (Europe/Berlin, open
Mon-Fri 09:00-12:00 and 13:00-17:00, Sat 10:00-14:00) with 30-minute slots of
capacity 2 for the 14 days from Monday 2027-03-22: 14 slots a weekday, 8 on
Saturday, none on Sunday, 156 in all. Berlin moves from +01:00 to +02:00 on
Sunday 2027-03-28.
"""

from __future__ import annotations

import itertools
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

NOW = "2027-03-20T12:00:00+00:00"
SLOT = "downtown@2027-03-22T09:00"  # Monday, the first slot
TOTAL = 156
SLOT_KEYS = [
    "uuid",
    "exchange",
    "date",
    "start",
    "end",
    "starts_at",
    "ends_at",
    "max_capacity",
    "current_bookings",
    "available_seats",
    "is_available",
    "status",
]
BOOKING_KEYS = [
    "uuid",
    "reference",
    "exchange",
    "slot",
    "starts_at",
    "ends_at",
    "customer_name",
    "customer_email",
    "customer_phone",
    "notes",
    "status",
    "created_at",
    "updated_at",
    "confirmed_at",
    "completed_at",
    "cancelled_at",
    "cancellation_reason",
    "arrived_at",
    "called_at",
    "counter",
]
SEAT_HOLDING = ("pending", "confirmed", "completed", "no_show")
WEEKDAY_TIMES = [
    f"{h:02d}:{m:02d}" for h in (9, 10, 11, 13, 14, 15, 16) for m in (0, 30)
]  # 14 starts on a weekday
_sequence = itertools.count(1)


def ok(result: Any) -> Any:
    assert result.exit_code == 0, result.stderr
    return result


def generate(cli: Any, slug: str, options: str) -> None:
    ok(cli("slots", "generate", slug, "--from", "2027-03-22", *options.split()))


@pytest.fixture
def downtown(cli: Any, db: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SLOTCTL_NOW", NOW)
    ok(cli("exchanges", "add", "downtown", "--name", "Downtown", "--timezone", "Europe/Berlin"))
    ok(cli("hours", "set", "downtown", "mon-fri 09:00-12:00,13:00-17:00", "sat 10:00-14:00"))
    generate(cli, "downtown", "--days 14 --duration 30 --capacity 2")
    assert db.scalar("SELECT count(*) FROM time_slots") == TOTAL
    return "downtown"


def listed(cli: Any, *args: str) -> list[dict[str, Any]]:
    return ok(cli("slots", "list", *args, "--limit", "0", "-f", "json")).json()


def slot_uuid(cli: Any, ident: str) -> str:
    return ok(cli("slots", "show", ident, "-f", "json")).json()["uuid"]


def slot_row(db: Any, ident: str) -> dict[str, Any]:
    """The slot's row by uuid (counters and flags as the database holds them)."""
    rows = db.query(
        "SELECT max_capacity, current_bookings, is_available, starts_at FROM time_slots "
        "WHERE uuid = :u",
        u=ident,
    )
    assert rows, f"slot {ident} is not in the database"
    capacity, booked, available, starts_at = rows[0]
    return {
        "max_capacity": capacity,
        "current_bookings": booked,
        "is_available": bool(available),
        "starts_at": utc_text(starts_at),
    }


def utc_text(value: Any) -> str:
    """A stored instant as 'YYYY-MM-DD HH:MM' in UTC, whichever database returned it."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return f"{value:%Y-%m-%d %H:%M}"
    return str(value)[:16]


def stamp(db: Any, text: str) -> str:
    """A UTC 'YYYY-MM-DD HH:MM:SS' instant as each database wants it in raw SQL."""
    return f"{text}+00:00" if db.kind == "postgres" else f"{text}.000000"


def book(
    cli: Any,
    db: Any,
    slot: str,
    status: str = "confirmed",
    name: str = "Ann Example",
    email: str | None = None,
) -> str:
    """Put a booking on ``slot`` with SQL (no bookings commands yet) and keep the
    slot's counter true; returns the booking's reference."""
    ident = slot_uuid(cli, slot)
    slot_id, exchange_id = db.query(
        "SELECT id, exchange_id FROM time_slots WHERE uuid = :u", u=ident
    )[0]
    number = next(_sequence)
    reference = f"BK-T{number:05d}"
    created = stamp(db, f"2027-03-19 10:{number % 60:02d}:{number // 60 % 60:02d}")
    db.execute(
        "INSERT INTO bookings (uuid, reference, time_slot_id, exchange_id, customer_name, "
        "customer_email, status, created_at, updated_at) VALUES "
        "(:u, :r, :s, :e, :name, :email, :status, :c, :c)",
        u=str(uuid.uuid4()),
        r=reference,
        s=slot_id,
        e=exchange_id,
        name=name,
        email=email or f"customer{number}@example.com",
        status=status,
        c=created,
    )
    if status in SEAT_HOLDING:
        db.execute(
            "UPDATE time_slots SET current_bookings = current_bookings + 1 WHERE id = :i",
            i=slot_id,
        )
    return reference


def fill(cli: Any, db: Any, slot: str) -> None:
    book(cli, db, slot, name="First Full")
    book(cli, db, slot, name="Second Full")


def blocked_count(db: Any) -> int:
    return sum(1 for (flag,) in db.query("SELECT is_available FROM time_slots") if not flag)


def starts(records: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(r["date"], r["start"]) for r in records]


# slots list -----------------------------------------------------------------------


def test_list_json_has_the_slot_fields_in_order(cli: Any, db: Any, downtown: str) -> None:
    records = listed(cli, downtown)
    assert len(records) == TOTAL
    assert all(list(r) == SLOT_KEYS for r in records)
    assert records[0] == {
        "uuid": records[0]["uuid"],
        "exchange": "downtown",
        "date": "2027-03-22",
        "start": "09:00",
        "end": "09:30",
        "starts_at": "2027-03-22T09:00:00+01:00",
        "ends_at": "2027-03-22T09:30:00+01:00",
        "max_capacity": 2,
        "current_bookings": 0,
        "available_seats": 2,
        "is_available": True,
        "status": "available",
    }
    assert len(records[0]["uuid"]) == 36
    instants = [datetime.fromisoformat(r["starts_at"]) for r in records]
    assert instants == sorted(instants)
    assert len(set(instants)) == TOTAL
    assert starts(records)[:15] == [("2027-03-22", t) for t in WEEKDAY_TIMES] + [
        ("2027-03-23", "09:00")
    ]
    assert starts(records)[-1] == ("2027-04-03", "13:30")


def test_list_csv_header_is_the_slot_fields(cli: Any, db: Any, downtown: str) -> None:
    result = ok(cli("slots", "list", downtown, "--limit", "3", "-f", "csv"))
    lines = result.stdout.splitlines()
    assert lines[0] == ",".join(SLOT_KEYS)
    assert len(lines) == 4
    assert ",downtown,2027-03-22,09:00,09:30,2027-03-22T09:00:00+01:00," in lines[1]


@pytest.mark.parametrize(
    ("day", "offset", "utc_start"),
    [
        ("2027-03-26", "+01:00", "2027-03-26 08:00"),
        ("2027-03-27", "+01:00", "2027-03-27 09:00"),
        ("2027-03-29", "+02:00", "2027-03-29 07:00"),
        ("2027-04-03", "+02:00", "2027-04-03 08:00"),
    ],
)
def test_list_starts_at_carries_the_exchange_offset(
    cli: Any, db: Any, downtown: str, day: str, offset: str, utc_start: str
) -> None:
    records = listed(cli, downtown, "--from", day, "--to", day)
    assert records
    assert all(r["starts_at"].endswith(offset) for r in records)
    assert all(r["ends_at"].endswith(offset) for r in records)
    first = records[0]
    assert first["starts_at"] == f"{day}T{first['start']}:00{offset}"
    assert slot_row(db, first["uuid"])["starts_at"] == utc_start


@pytest.mark.parametrize(
    ("from_", "to", "count", "first", "last"),
    [
        ("2027-03-24", "2027-03-24", 14, ("2027-03-24", "09:00"), ("2027-03-24", "16:30")),
        ("2027-03-27", "2027-03-29", 22, ("2027-03-27", "10:00"), ("2027-03-29", "16:30")),
        ("2027-03-28", "2027-03-28", 0, None, None),
        ("2027-04-02", "2027-04-30", 22, ("2027-04-02", "09:00"), ("2027-04-03", "13:30")),
        ("2027-03-01", "2027-03-22", 14, ("2027-03-22", "09:00"), ("2027-03-22", "16:30")),
    ],
)
def test_list_from_to_are_inclusive_local_dates(
    cli: Any,
    db: Any,
    downtown: str,
    from_: str,
    to: str,
    count: int,
    first: Any,
    last: Any,
) -> None:
    for slug in ([downtown], []):
        records = listed(cli, *slug, "--from", from_, "--to", to)
        assert len(records) == count, slug
        assert all(from_ <= r["date"] <= to for r in records)
        if count:
            assert starts(records)[0] == first
            assert starts(records)[-1] == last


@pytest.fixture
def mixed(cli: Any, db: Any, downtown: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """One full slot, one blocked slot, and the clock at Monday 11:00 local so the
    first five Monday slots (09:00-11:00 local) have started."""
    fill(cli, db, "downtown@2027-03-23T09:00")
    ok(cli("slots", "block", "downtown@2027-03-23T09:30"))
    monkeypatch.setenv("SLOTCTL_NOW", "2027-03-22T10:00:00+00:00")
    return {
        "full": slot_uuid(cli, "downtown@2027-03-23T09:00"),
        "blocked": slot_uuid(cli, "downtown@2027-03-23T09:30"),
    }


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("full", [("2027-03-23", "09:00")]),
        ("blocked", [("2027-03-23", "09:30")]),
        ("past", [("2027-03-22", t) for t in ("09:00", "09:30", "10:00", "10:30", "11:00")]),
        ("available", None),
    ],
)
def test_list_by_status(
    cli: Any, db: Any, mixed: dict[str, str], status: str, expected: Any
) -> None:
    records = listed(cli, "downtown", "--status", status)
    assert {r["status"] for r in records} == {status}
    if expected is not None:
        assert starts(records) == expected
    else:
        assert len(records) == TOTAL - 5 - 2
        assert not {mixed["full"], mixed["blocked"]} & {r["uuid"] for r in records}
        assert starts(records)[0] == ("2027-03-22", "11:30")
        assert all(r["available_seats"] == 2 and r["is_available"] for r in records)


def test_list_statuses_partition_the_slots(cli: Any, db: Any, mixed: dict[str, str]) -> None:
    everything = listed(cli, "downtown", "--from", "2027-03-01")
    by_status: dict[str, int] = {}
    for record in everything:
        by_status[record["status"]] = by_status.get(record["status"], 0) + 1
    assert by_status == {"past": 5, "full": 1, "blocked": 1, "available": TOTAL - 7}
    full = next(r for r in everything if r["uuid"] == mixed["full"])
    assert (full["current_bookings"], full["available_seats"], full["is_available"]) == (2, 0, True)


@pytest.mark.parametrize(
    "status",
    [
        "gone",
        "FULLY",
        "past,full",
        "",
    ],
)
def test_list_unknown_status_exits_2(cli: Any, db: Any, downtown: str, status: str) -> None:
    result = cli("slots", "list", downtown, "--status", status)
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ")
    assert "status" in result.stderr
    assert result.stdout == ""


def test_list_unknown_exchange_exits_3(cli: Any, db: Any, downtown: str) -> None:
    result = cli("slots", "list", "ghost")
    assert result.exit_code == 3
    assert "ghost" in result.stderr


@pytest.mark.parametrize(
    ("args", "count", "notice"),
    [
        (["--limit", "5"], 5, True),
        ([], 100, True),
        (["--limit", "155"], 155, True),
        (["--limit", str(TOTAL)], TOTAL, False),
        (["--limit", "0"], TOTAL, False),
    ],
)
def test_list_limit_truncates_with_a_notice(
    cli: Any, db: Any, downtown: str, args: list[str], count: int, notice: bool
) -> None:
    result = ok(cli("slots", "list", downtown, *args, "-f", "json"))
    records = result.json()
    assert len(records) == count
    assert starts(records)[0] == ("2027-03-22", "09:00")
    assert ("--limit" in result.stderr) is notice
    if notice:
        assert f"first {count}" in result.stderr


def test_list_negative_limit_exits_2(cli: Any, db: Any, downtown: str) -> None:
    assert cli("slots", "list", downtown, "--limit", "-1").exit_code == 2


def test_list_without_slug_spans_exchanges_in_start_order(cli: Any, db: Any, downtown: str) -> None:
    ok(cli("exchanges", "add", "airport", "--name", "Airport", "--timezone", "UTC"))
    ok(cli("hours", "set", "airport", "daily 08:15-09:15"))
    generate(cli, "airport", "--days 1 --duration 30 --capacity 1")
    records = listed(cli, "--from", "2027-03-22", "--to", "2027-03-22")
    assert len(records) == 14 + 2
    assert [(r["exchange"], r["start"]) for r in records[:6]] == [
        ("downtown", "09:00"),
        ("airport", "08:15"),
        ("downtown", "09:30"),
        ("airport", "08:45"),
        ("downtown", "10:00"),
        ("downtown", "10:30"),
    ]
    assert records[1]["starts_at"] == "2027-03-22T08:15:00+00:00"
    instants = [datetime.fromisoformat(r["starts_at"]) for r in records]
    assert instants == sorted(instants)
    assert len(listed(cli)) == TOTAL + 2
    assert {r["exchange"] for r in listed(cli, "airport")} == {"airport"}


@pytest.mark.parametrize(
    "args",
    [
        ["list", "westside"],
        ["list", "westside", "--from", "today"],
        ["available", "westside", "--from", "today"],
    ],
)
def test_today_is_the_exchange_local_date(
    cli: Any, db: Any, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.setenv("SLOTCTL_NOW", "2027-03-22T12:00:00+00:00")
    ok(cli("exchanges", "add", "westside", "--name", "West", "--timezone", "America/New_York"))
    ok(cli("hours", "set", "westside", "daily 20:00-24:00"))
    generate(cli, "westside", "--days 2 --duration 60")
    # 01:00 UTC on the 23rd is 21:00 on the 22nd in New York: 22:00 and 23:00 are ahead
    monkeypatch.setenv("SLOTCTL_NOW", "2027-03-23T01:00:00+00:00")
    records = ok(cli("slots", *args, "-f", "json")).json()
    assert ("2027-03-22", "22:00") in starts(records)
    assert ("2027-03-22", "23:00") in starts(records)
    assert len([r for r in records if r["status"] == "available"]) == 6


# slots available ------------------------------------------------------------------


def available(cli: Any, *args: str) -> list[dict[str, Any]]:
    return ok(cli("slots", "available", "downtown", *args, "--limit", "0", "-f", "json")).json()


def test_available_excludes_full_blocked_and_past(cli: Any, db: Any, mixed: dict[str, str]) -> None:
    records = available(cli)
    assert len(records) == TOTAL - 7
    assert not {mixed["full"], mixed["blocked"]} & {r["uuid"] for r in records}
    assert starts(records)[0] == ("2027-03-22", "11:30")
    assert ("2027-03-23", "10:00") in starts(records)
    assert {r["status"] for r in records} == {"available"}
    assert all(list(r) == SLOT_KEYS for r in records)


def test_available_with_one_free_seat_left(cli: Any, db: Any, downtown: str) -> None:
    book(cli, db, "downtown@2027-03-22T09:00")
    records = available(cli, "--from", "2027-03-22", "--to", "2027-03-22")
    assert len(records) == 14
    assert records[0]["available_seats"] == 1


def test_available_from_to(cli: Any, db: Any, downtown: str) -> None:
    records = available(cli, "--from", "2027-03-29", "--to", "2027-03-30")
    assert len(records) == 28
    assert {r["date"] for r in records} == {"2027-03-29", "2027-03-30"}
    assert records[0]["starts_at"] == "2027-03-29T09:00:00+02:00"


def test_available_respects_minimum_notice(
    cli: Any, db: Any, downtown: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLOTCTL_NOW", "2027-03-22T07:45:00+00:00")  # 08:45 in Berlin
    assert starts(available(cli))[0] == ("2027-03-22", "09:00")
    ok(cli("exchanges", "update", "downtown", "--min-notice", "2h"))
    records = available(cli)
    assert starts(records)[0] == ("2027-03-22", "11:00")  # 10:45 is the earliest
    assert len(records) == TOTAL - 4


def test_available_respects_maximum_advance(
    cli: Any, db: Any, downtown: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLOTCTL_NOW", "2027-03-20T12:10:00+00:00")
    ok(cli("exchanges", "update", "downtown", "--max-advance", "3d"))
    records = available(cli)
    # the horizon is 2027-03-23 12:10 UTC, 13:10 in Berlin
    assert len(records) == 14 + 7
    assert starts(records)[-1] == ("2027-03-23", "13:00")
    assert ("2027-03-23", "13:30") not in starts(records)


def test_available_on_an_inactive_exchange_is_empty(cli: Any, db: Any, downtown: str) -> None:
    ok(cli("exchanges", "update", "downtown", "--inactive"))
    result = ok(cli("slots", "available", "downtown", "-f", "json"))
    assert result.json() == []
    assert "inactive" in result.stderr
    assert len(listed(cli, "downtown")) == TOTAL  # still listed, just not bookable


def test_available_unknown_exchange_exits_3(cli: Any, db: Any, downtown: str) -> None:
    result = cli("slots", "available", "ghost")
    assert result.exit_code == 3
    assert result.stderr.startswith("Error: ")


# slots next -----------------------------------------------------------------------


def next_slot(cli: Any, *args: str) -> dict[str, Any]:
    record = ok(cli("slots", "next", "downtown", *args, "-f", "json")).json()
    assert list(record) == SLOT_KEYS
    return record


def test_next_is_the_first_bookable(cli: Any, db: Any, downtown: str) -> None:
    assert (next_slot(cli)["date"], next_slot(cli)["start"]) == ("2027-03-22", "09:00")
    ok(cli("slots", "block", "downtown@2027-03-22T09:00"))
    fill(cli, db, "downtown@2027-03-22T09:30")
    record = next_slot(cli)
    assert (record["date"], record["start"], record["status"]) == (
        "2027-03-22",
        "10:00",
        "available",
    )


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        ("2027-03-23T14:10", ("2027-03-23", "14:30")),
        ("2027-03-23T11:45", ("2027-03-23", "13:00")),
        ("2027-03-23T14:10+00:00", ("2027-03-23", "15:30")),
        ("2027-03-23T14:10+01:00", ("2027-03-23", "14:30")),
        ("2027-03-27T14:00", ("2027-03-29", "09:00")),
        ("2027-03-29T09:10", ("2027-03-29", "09:30")),
        ("2027-03-29T08:10+00:00", ("2027-03-29", "10:30")),
        ("2027-03-01T00:00", ("2027-03-22", "09:00")),
    ],
)
def test_next_after(
    cli: Any, db: Any, downtown: str, after: str, expected: tuple[str, str]
) -> None:
    record = next_slot(cli, "--after", after)
    assert (record["date"], record["start"]) == expected


def test_next_after_skips_full_slots(cli: Any, db: Any, downtown: str) -> None:
    fill(cli, db, "downtown@2027-03-23T14:30")
    record = next_slot(cli, "--after", "2027-03-23T14:10")
    assert record["start"] == "15:00"


@pytest.mark.parametrize("after", ["tomorrow-ish", "2027-03-23T25:00"])
def test_next_bad_after_exits_2(cli: Any, db: Any, downtown: str, after: str) -> None:
    assert cli("slots", "next", "downtown", "--after", after).exit_code == 2


def test_next_none_exits_3(cli: Any, db: Any, downtown: str) -> None:
    ok(cli("slots", "block", "downtown", "--from", "2027-03-22", "--to", "2027-04-04"))
    result = cli("slots", "next", "downtown")
    assert result.exit_code == 3
    assert result.stderr.startswith("Error: ")
    assert result.stdout == ""
    past_all = cli("slots", "next", "downtown", "--after", "2027-04-04T00:00")
    assert past_all.exit_code == 3
    assert cli("slots", "next", "ghost").exit_code == 3


# slots show -----------------------------------------------------------------------


@pytest.mark.parametrize("form", ["uuid", "prefix", "upper", "local"])
def test_show_by_any_identifier(cli: Any, db: Any, downtown: str, form: str) -> None:
    first = listed(cli, downtown)[0]
    ident = {
        "uuid": first["uuid"],
        "prefix": first["uuid"][:8],
        "upper": first["uuid"][:8].upper(),
        "local": "downtown@2027-03-22T09:00",
    }[form]
    result = ok(cli("slots", "show", ident, "-f", "json"))
    record = result.json()
    assert list(record) == [*SLOT_KEYS, "bookings"]
    assert {k: record[k] for k in SLOT_KEYS} == first
    assert record["bookings"] == []


def test_show_after_the_clock_change(cli: Any, db: Any, downtown: str) -> None:
    record = ok(cli("slots", "show", "downtown@2027-03-29T09:00", "-f", "json")).json()
    assert record["starts_at"] == "2027-03-29T09:00:00+02:00"
    assert slot_row(db, record["uuid"])["starts_at"] == "2027-03-29 07:00"


def test_show_lists_the_bookings(cli: Any, db: Any, downtown: str) -> None:
    ident = "downtown@2027-03-22T09:00"
    first = book(cli, db, ident, "confirmed", name="Ann Example", email="ann@example.com")
    second = book(cli, db, ident, "cancelled", name="Bob Example", email="bob@example.com")
    third = book(cli, db, ident, "pending", name="Cy Example", email="cy@example.com")
    record = ok(cli("slots", "show", ident, "-f", "json")).json()
    assert (record["current_bookings"], record["status"]) == (2, "full")
    bookings = record["bookings"]
    assert [b["reference"] for b in bookings] == [first, second, third]
    assert all(list(b) == BOOKING_KEYS for b in bookings)
    ann = bookings[0]
    assert ann["slot"] == record["uuid"]
    assert ann["exchange"] == "downtown"
    assert (ann["customer_name"], ann["customer_email"], ann["status"]) == (
        "Ann Example",
        "ann@example.com",
        "confirmed",
    )
    assert ann["starts_at"] == "2027-03-22T09:00:00+01:00"
    assert ann["ends_at"] == "2027-03-22T09:30:00+01:00"
    assert ann["customer_phone"] is None
    assert ann["cancelled_at"] is None
    assert datetime.fromisoformat(ann["created_at"]).utcoffset() is not None
    assert [b["status"] for b in bookings] == ["confirmed", "cancelled", "pending"]
    table = ok(cli("slots", "show", ident))
    assert "Ann Example" in table.stdout


def test_show_table_is_readable_at_80_columns(
    cli: Any, db: Any, downtown: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # Rich draws for an 80-column terminal
    reference = book(cli, db, SLOT, name="Ann Example")
    out = re.sub(r"\x1b\[[0-9;]*m", "", ok(cli("slots", "show", SLOT)).stdout)
    assert all(len(line) <= 80 for line in out.splitlines())
    assert "Ann Example" in out
    assert reference in out


@pytest.mark.parametrize(
    ("ident", "code"),
    [
        ("ffffffff-ffff-4fff-8fff-ffffffffffff", 3),
        ("ffffffff", 3),
        ("downtown@2027-03-22T08:00", 3),
        ("downtown@2027-03-28T10:00", 3),
        ("ghost@2027-03-22T09:00", 3),
        ("downtown@yesterday", 2),
        ("downtown@2027-03-22T25:00", 2),
        ("abc", 2),
    ],
)
def test_show_refusals(cli: Any, db: Any, downtown: str, ident: str, code: int) -> None:
    result = cli("slots", "show", ident)
    assert result.exit_code == code, result.stderr
    assert result.stderr.startswith("Error: ")
    assert len(result.stderr.splitlines()) == 1
    assert result.stdout == ""


def test_show_error_as_json(cli: Any, db: Any, downtown: str) -> None:
    result = cli("slots", "show", "downtown@2027-03-22T08:00", "-f", "json")
    assert result.exit_code == 3
    assert result.stdout == ""
    assert '"error"' in result.stderr


# slots update ---------------------------------------------------------------------


def test_update_capacity(cli: Any, db: Any, downtown: str) -> None:
    ident = slot_uuid(cli, SLOT)
    record = ok(cli("slots", "update", ident[:8], "--capacity", "5", "-f", "json")).json()
    assert list(record) == SLOT_KEYS
    assert (record["max_capacity"], record["available_seats"]) == (5, 5)
    assert slot_row(db, ident)["max_capacity"] == 5
    others = db.scalar("SELECT count(*) FROM time_slots WHERE max_capacity = 2")
    assert others == TOTAL - 1


def test_update_capacity_down_to_the_bookings(cli: Any, db: Any, downtown: str) -> None:
    book(cli, db, SLOT)
    record = ok(cli("slots", "update", SLOT, "--capacity", "1", "-f", "json")).json()
    assert (record["max_capacity"], record["current_bookings"], record["status"]) == (
        1,
        1,
        "full",
    )
    assert slot_row(db, record["uuid"])["max_capacity"] == 1


def test_update_capacity_below_bookings_exits_4(cli: Any, db: Any, downtown: str) -> None:
    fill(cli, db, SLOT)
    before = db.snapshot()
    result = cli("slots", "update", SLOT, "--capacity", "1")
    assert result.exit_code == 4
    assert result.stderr.startswith("Error: ")
    assert db.snapshot() == before
    assert slot_row(db, slot_uuid(cli, SLOT))["max_capacity"] == 2


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--capacity", "0"], 2),
        (["--capacity", "-3"], 2),
        (["--capacity", "many"], 2),
        ([], 2),
    ],
)
def test_update_refusals_change_nothing(
    cli: Any, db: Any, downtown: str, args: list[str], code: int
) -> None:
    before = db.snapshot()
    result = cli("slots", "update", SLOT, *args)
    assert result.exit_code == code
    assert db.snapshot() == before


def test_update_unknown_slot_exits_3(cli: Any, db: Any, downtown: str) -> None:
    assert cli("slots", "update", "downtown@2027-03-22T08:00", "--capacity", "3").exit_code == 3


# slots block / unblock -------------------------------------------------------------


def test_block_and_unblock_one_slot(cli: Any, db: Any, downtown: str) -> None:
    ident = slot_uuid(cli, SLOT)
    result = ok(cli("slots", "block", SLOT, "-f", "json"))
    records = result.json()
    assert [r["uuid"] for r in records] == [ident]
    assert (records[0]["status"], records[0]["is_available"]) == ("blocked", False)
    assert "Blocked 1 slot." in result.stderr
    assert slot_row(db, ident)["is_available"] is False
    assert blocked_count(db) == 1
    assert listed(cli, downtown, "--status", "blocked")[0]["uuid"] == ident
    unblocked = ok(cli("slots", "unblock", ident[:8], "-f", "json")).json()
    assert (unblocked[0]["status"], unblocked[0]["is_available"]) == ("available", True)
    assert blocked_count(db) == 0


def test_block_several_slots(cli: Any, db: Any, downtown: str) -> None:
    late = slot_uuid(cli, "downtown@2027-03-30T16:30")
    early = slot_uuid(cli, "downtown@2027-03-22T10:00")
    records = ok(
        cli("slots", "block", late, early[:8], "downtown@2027-03-27T10:00", "-f", "json")
    ).json()
    assert starts(records) == [
        ("2027-03-22", "10:00"),
        ("2027-03-27", "10:00"),
        ("2027-03-30", "16:30"),
    ]
    assert {r["status"] for r in records} == {"blocked"}
    assert blocked_count(db) == 3
    assert not slot_row(db, late)["is_available"]
    assert not slot_row(db, early)["is_available"]
    ok(cli("slots", "unblock", late, early))
    assert blocked_count(db) == 1
    assert listed(cli, downtown, "--status", "blocked")[0]["date"] == "2027-03-27"


def test_block_and_unblock_a_day_range(cli: Any, db: Any, downtown: str) -> None:
    result = ok(
        cli("slots", "block", downtown, "--from", "2027-03-24", "--to", "2027-03-24", "-f", "json")
    )
    records = result.json()
    assert len(records) == 14
    assert {r["date"] for r in records} == {"2027-03-24"}
    assert {r["status"] for r in records} == {"blocked"}
    assert "Blocked 14 slots" in result.stderr
    assert blocked_count(db) == 14
    wednesday = listed(cli, downtown, "--from", "2027-03-24", "--to", "2027-03-24")
    assert all(not r["is_available"] for r in wednesday)
    assert all(r["is_available"] for r in listed(cli, downtown, "--from", "2027-03-25"))
    assert len(available(cli)) == TOTAL - 14
    again = ok(cli("slots", "unblock", downtown, "--from", "2027-03-24", "--to", "2027-03-24"))
    assert "Unblocked 14 slots" in again.stderr
    assert blocked_count(db) == 0


def test_block_keeps_existing_bookings(cli: Any, db: Any, downtown: str) -> None:
    book(cli, db, SLOT)
    record = ok(cli("slots", "block", SLOT, "-f", "json")).json()[0]
    assert (record["current_bookings"], record["status"]) == (1, "blocked")
    assert db.scalar("SELECT count(*) FROM bookings") == 1


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ([SLOT, "downtown@2027-03-22T08:00"], 3),
        ([SLOT, "ffffffff-ffff-4fff-8fff-ffffffffffff"], 3),
        ([SLOT, "downtown@never"], 2),
        ([], 2),
        (["downtown", "--from", "2027-03-24"], 2),
        (["downtown", "--from", "2027-03-25", "--to", "2027-03-24"], 2),
        (["downtown", "uptown", "--from", "2027-03-24", "--to", "2027-03-24"], 2),
        (["ghost", "--from", "2027-03-24", "--to", "2027-03-24"], 3),
    ],
)
def test_block_refusals_change_nothing(
    cli: Any, db: Any, downtown: str, args: list[str], code: int
) -> None:
    before = db.snapshot()
    for command in ("block", "unblock"):
        result = cli("slots", command, *args)
        assert result.exit_code == code, (command, result.stderr)
        assert db.snapshot() == before


# slots capacity --------------------------------------------------------------------


def capacities(db: Any) -> dict[int, int]:
    counts: dict[int, int] = {}
    for (capacity,) in db.query("SELECT max_capacity FROM time_slots"):
        counts[capacity] = counts.get(capacity, 0) + 1
    return counts


def test_capacity_changes_every_slot_in_the_range(cli: Any, db: Any, downtown: str) -> None:
    args = ["--from", "2027-03-22", "--to", "2027-03-23", "--set", "3", "-f", "json"]
    result = ok(cli("slots", "capacity", downtown, *args))
    records = result.json()
    assert len(records) == 28
    assert {r["max_capacity"] for r in records} == {3}
    assert {r["date"] for r in records} == {"2027-03-22", "2027-03-23"}
    assert capacities(db) == {3: 28, 2: TOTAL - 28}
    assert "28" in result.stderr


def test_capacity_leaves_overbooked_slots_and_changes_the_rest(
    cli: Any, db: Any, downtown: str
) -> None:
    fill(cli, db, SLOT)
    book(cli, db, "downtown@2027-03-22T09:30")
    held = slot_uuid(cli, SLOT)
    args = ["--from", "2027-03-22", "--to", "2027-03-22", "--set", "1"]
    result = cli("slots", "capacity", downtown, *args, "-f", "json")
    assert result.exit_code == 4
    assert [r["uuid"] for r in result.json()] == [held]
    assert result.json()[0]["max_capacity"] == 2
    assert "1 slot has more than" in result.stderr
    assert slot_row(db, held)["max_capacity"] == 2
    assert slot_row(db, held)["current_bookings"] == 2
    assert capacities(db) == {1: 13, 2: TOTAL - 13}
    table = cli("slots", "capacity", downtown, *args)
    assert table.exit_code == 4
    assert held[:8] in table.stdout


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--from", "2027-03-22", "--to", "2027-03-23", "--set", "0"], 2),
        (["--from", "2027-03-22", "--to", "2027-03-23"], 2),
        (["--from", "2027-03-23", "--to", "2027-03-22", "--set", "3"], 2),
        (["--from", "2027-02-30", "--to", "2027-03-22", "--set", "3"], 2),
    ],
)
def test_capacity_refusals_change_nothing(
    cli: Any, db: Any, downtown: str, args: list[str], code: int
) -> None:
    before = db.snapshot()
    assert cli("slots", "capacity", downtown, *args).exit_code == code
    assert db.snapshot() == before


def test_capacity_unknown_exchange_exits_3(cli: Any, db: Any, downtown: str) -> None:
    result = cli(
        "slots", "capacity", "ghost", "--from", "2027-03-22", "--to", "2027-03-22", "--set", "3"
    )
    assert result.exit_code == 3


# slots delete -------------------------------------------------------------------


WEDNESDAY = ["downtown", "--from", "2027-03-24", "--to", "2027-03-24"]


def slot_count(db: Any) -> int:
    return db.scalar("SELECT count(*) FROM time_slots")


def test_delete_needs_yes_off_a_terminal(cli: Any, db: Any, downtown: str) -> None:
    before = db.snapshot()
    for args in (WEDNESDAY, [SLOT]):
        result = cli("slots", "delete", *args)
        assert result.exit_code == 2
        assert "--yes" in result.stderr
        assert db.snapshot() == before


def test_delete_dry_run_deletes_nothing(cli: Any, db: Any, downtown: str) -> None:
    before = db.snapshot()
    result = ok(cli("slots", "delete", *WEDNESDAY, "--dry-run", "-f", "json"))
    assert len(result.json()) == 14
    assert {r["date"] for r in result.json()} == {"2027-03-24"}
    assert "Would delete 14" in result.stderr
    assert db.snapshot() == before


def test_delete_a_range(cli: Any, db: Any, downtown: str) -> None:
    result = ok(cli("slots", "delete", *WEDNESDAY, "--yes", "-f", "json"))
    assert len(result.json()) == 14
    assert "Deleted 14" in result.stderr
    assert slot_count(db) == TOTAL - 14
    assert listed(cli, downtown, "--from", "2027-03-24", "--to", "2027-03-24") == []
    assert len(listed(cli, downtown, "--from", "2027-03-23", "--to", "2027-03-25")) == 28


def test_delete_by_identifiers(cli: Any, db: Any, downtown: str) -> None:
    doomed = [slot_uuid(cli, SLOT), slot_uuid(cli, "downtown@2027-03-27T13:30")]
    result = ok(cli("slots", "delete", doomed[1][:8], SLOT, "--yes", "-f", "json"))
    assert [r["uuid"] for r in result.json()] == doomed
    assert slot_count(db) == TOTAL - 2
    assert (
        db.scalar(
            "SELECT count(*) FROM time_slots WHERE uuid IN (:a, :b)", a=doomed[0], b=doomed[1]
        )
        == 0
    )


@pytest.mark.parametrize("status", SEAT_HOLDING)
def test_delete_refuses_slots_holding_seats(cli: Any, db: Any, downtown: str, status: str) -> None:
    kept = slot_uuid(cli, "downtown@2027-03-24T13:00")
    book(cli, db, "downtown@2027-03-24T13:00", status)
    result = cli("slots", "delete", *WEDNESDAY, "--yes", "-f", "json")
    assert result.exit_code == 4
    assert result.stderr.startswith("Error: ") or '"error"' in result.stderr
    assert kept not in {r["uuid"] for r in result.json()}
    assert len(result.json()) == 13
    assert slot_count(db) == TOTAL - 13
    remaining = listed(cli, downtown, "--from", "2027-03-24", "--to", "2027-03-24")
    assert [r["uuid"] for r in remaining] == [kept]
    assert db.scalar("SELECT count(*) FROM bookings") == 1


def test_delete_refused_single_slot_keeps_it(cli: Any, db: Any, downtown: str) -> None:
    book(cli, db, SLOT)
    before = db.snapshot()
    result = cli("slots", "delete", SLOT, "--yes")
    assert result.exit_code == 4
    assert slot_uuid(cli, SLOT)[:8] in result.stdout
    assert db.snapshot() == before


def test_delete_slot_with_only_a_cancelled_booking(cli: Any, db: Any, downtown: str) -> None:
    ident = slot_uuid(cli, SLOT)
    book(cli, db, SLOT, "cancelled")
    assert slot_row(db, ident)["current_bookings"] == 0
    result = ok(cli("slots", "delete", SLOT, "--yes", "-f", "json"))
    assert [r["uuid"] for r in result.json()] == [ident]
    assert db.scalar("SELECT count(*) FROM time_slots WHERE uuid = :u", u=ident) == 0
    assert db.scalar("SELECT count(*) FROM bookings") == 0  # no orphaned booking
    assert slot_count(db) == TOTAL - 1


def test_delete_dry_run_reports_refusals(cli: Any, db: Any, downtown: str) -> None:
    book(cli, db, "downtown@2027-03-24T13:00")
    before = db.snapshot()
    result = cli("slots", "delete", *WEDNESDAY, "--dry-run", "-f", "json")
    assert result.exit_code == 4
    assert len(result.json()) == 13
    assert db.snapshot() == before


# slots calendar -------------------------------------------------------------------


def test_calendar_month_table(cli: Any, db: Any, downtown: str) -> None:
    book(cli, db, "downtown@2027-03-23T09:00")
    ok(cli("slots", "block", "downtown@2027-03-24T09:00"))
    result = ok(cli("slots", "calendar", downtown, "--month", "2027-03"))
    out = result.stdout
    assert "2027-03" in out
    for number in range(1, 32):
        assert re.search(rf"(?<![\d/]){number}(?![\d/])", out), number
    # booked/capacity seats, as the week and the day count
    assert "1/28" in out  # Tuesday with one booking
    assert "0/28*" in out  # Wednesday with one blocked slot
    assert "0/16" in out  # Saturday
    assert "closed" in out  # Sundays
    untouched = re.findall(r"(?<![\d/])0/28(?![\d*])", out)
    assert len(untouched) == 6  # Mon 22, Thu 25, Fri 26, Mon 29, Tue 30, Wed 31


def test_calendar_month_fits_80_columns(
    cli: Any, db: Any, downtown: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # an 80-column terminal (piped tables are wider)
    book(cli, db, "downtown@2027-03-23T09:00", name="A Very Long Customer Name Indeed")
    for args in (
        ["--month", "2027-03"],
        ["--week", "2027-03-24"],
        ["--day", "2027-03-23"],
    ):
        result = ok(cli("slots", "calendar", downtown, *args))
        lines = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout).splitlines()
        assert lines, args
        too_wide = [line for line in lines if len(line) > 80]
        assert not too_wide, (args, too_wide)


def test_calendar_month_json(cli: Any, db: Any, downtown: str) -> None:
    book(cli, db, "downtown@2027-03-23T09:00")
    ok(cli("slots", "block", "downtown@2027-03-24T09:00"))
    data = ok(cli("slots", "calendar", downtown, "--month", "2027-03", "-f", "json")).json()
    days = {d["date"]: d for d in data["days"]}
    assert len(data["days"]) == 31
    assert next(d["date"] for d in data["days"]) == "2027-03-01"
    pick = ("slots", "seats", "booked", "free", "closed")

    def row(day: str) -> tuple[Any, ...]:
        return tuple(days[day][k] for k in pick)

    assert row("2027-03-22") == (14, 28, 0, 28, False)
    assert row("2027-03-23") == (14, 28, 1, 27, False)
    assert row("2027-03-24") == (14, 28, 0, 26, False)
    assert row("2027-03-27") == (8, 16, 0, 16, False)
    assert row("2027-03-28") == (0, 0, 0, 0, True)
    assert row("2027-03-21") == (0, 0, 0, 0, True)  # a Sunday before any slots
    assert row("2027-03-20")[:4] == (0, 0, 0, 0)  # an open Saturday without slots
    assert row("2027-03-20")[4] is False


def test_calendar_defaults_to_this_month(cli: Any, db: Any, downtown: str) -> None:
    data = ok(cli("slots", "calendar", downtown, "-f", "json")).json()
    assert len(data["days"]) == 31
    assert data["days"][21]["date"] == "2027-03-22"
    assert data["days"][21]["slots"] == 14


def test_calendar_month_after_the_range(cli: Any, db: Any, downtown: str) -> None:
    data = ok(cli("slots", "calendar", downtown, "--month", "2027-04", "-f", "json")).json()
    days = {d["date"]: d for d in data["days"]}
    assert len(days) == 30
    assert (days["2027-04-02"]["slots"], days["2027-04-03"]["slots"]) == (14, 8)
    assert days["2027-04-04"]["closed"] is True
    assert days["2027-04-05"]["slots"] == 0


def test_calendar_week(cli: Any, db: Any, downtown: str) -> None:
    book(cli, db, "downtown@2027-03-23T09:00")
    ok(cli("slots", "block", "downtown@2027-03-24T09:00"))
    out = ok(cli("slots", "calendar", downtown, "--week", "2027-03-24")).stdout
    headers = ["Mon 22", "Tue 23", "Wed 24", "Thu 25", "Fri 26", "Sat 27", "Sun 28"]
    positions = [out.index(h) for h in headers]
    assert positions == sorted(positions)
    times = re.findall(r"^\W*(\d\d:\d\d)\b", out, flags=re.MULTILINE)
    expected = sorted(set(WEEKDAY_TIMES) | {"10:00", "12:00", "12:30", "13:00", "13:30"})
    assert times == expected
    assert times[0] == "09:00"
    assert times[-1] == "16:30"
    assert "1/2" in out
    assert "0/2" in out
    assert "blocked" in out
    assert "closed" in out
    data = ok(cli("slots", "calendar", downtown, "--week", "2027-03-24", "-f", "json")).json()
    assert data["week_start"] == "2027-03-22"
    assert [d["date"] for d in data["days"]][-1] == "2027-03-28"
    assert data["days"][-1]["closed"] is True
    assert len(data["slots"]) == 5 * 14 + 8


def test_calendar_week_after_the_clock_change(cli: Any, db: Any, downtown: str) -> None:
    out = ok(cli("slots", "calendar", downtown, "--week", "2027-03-29")).stdout
    assert "Mon 29" in out
    assert "Sun 04" in out
    times = re.findall(r"^\W*(\d\d:\d\d)\b", out, flags=re.MULTILINE)
    assert times[0] == "09:00"
    assert times[-1] == "16:30"
    assert "08:00" not in times


def test_calendar_day(cli: Any, db: Any, downtown: str) -> None:
    first = book(cli, db, "downtown@2027-03-22T09:00", name="Ann Example")
    book(cli, db, "downtown@2027-03-22T09:00", "cancelled", name="Bob Gone")
    book(cli, db, "downtown@2027-03-22T14:30", "pending", name="Cy Waiting")
    out = ok(cli("slots", "calendar", downtown, "--day", "2027-03-22")).stdout
    assert "2027-03-22" in out
    for start in WEEKDAY_TIMES:
        end = datetime.strptime(start, "%H:%M") + timedelta(minutes=30)
        assert f"{start}-{end:%H:%M}" in out
    assert "Ann Example" in out
    assert first in out
    assert "Cy Waiting" in out
    assert "Bob Gone" not in out  # the roster shows who is coming
    assert out.index("Ann Example") < out.index("Cy Waiting")
    data = ok(cli("slots", "calendar", downtown, "--day", "2027-03-22", "-f", "json")).json()
    assert len(data["slots"]) == 14
    assert [b["customer_name"] for b in data["slots"][0]["bookings"]] == [
        "Ann Example",
        "Bob Gone",
    ]
    assert data["closed"] is False


def test_calendar_day_closed(cli: Any, db: Any, downtown: str) -> None:
    out = ok(cli("slots", "calendar", downtown, "--day", "2027-03-28")).stdout
    assert "closed" in out
    data = ok(cli("slots", "calendar", downtown, "--day", "2027-03-28", "-f", "json")).json()
    assert (data["slots"], data["closed"]) == ([], True)


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--month", "2027-03", "--week", "2027-03-24"], 2),
        (["--week", "2027-03-24", "--day", "2027-03-22"], 2),
        (["--month", "2027-03", "--day", "2027-03-22"], 2),
        (["--month", "2027-13"], 2),
        (["--month", "2027-00"], 2),
        (["--month", "march"], 2),
        (["--month", "2027-03-01"], 2),
        (["--week", "2027-02-30"], 2),
        (["--day", "someday"], 2),
    ],
)
def test_calendar_refusals(cli: Any, db: Any, downtown: str, args: list[str], code: int) -> None:
    result = cli("slots", "calendar", downtown, *args)
    assert result.exit_code == code, result.stderr
    assert result.stderr.startswith("Error: ")
    assert result.stdout == ""


def test_calendar_unknown_exchange_exits_3(cli: Any, db: Any, downtown: str) -> None:
    assert cli("slots", "calendar", "ghost", "--month", "2027-03").exit_code == 3
