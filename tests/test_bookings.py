"""``slotctl bookings``: taking seats, the lifecycle, moves, queries and expiry,
on SQLite and PostgreSQL.

Every test starts from the same fixture: the clock frozen at Saturday
2027-03-20 12:00 UTC and the exchange ``downtown`` (Europe/Berlin, UTC+01:00
all week, open Mon-Fri 09:00-12:00 and 13:00-17:00) with 30-minute slots of
capacity 2 for the 7 days from Monday 2027-03-22 (14 slots a weekday). The
clock is moved with ``SLOTCTL_NOW`` between commands where a rule depends on it.
"""

from __future__ import annotations

import csv
import getpass
import io
import json
import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

NOW = "2027-03-20T12:00:00+00:00"
SLOT = "downtown@2027-03-22T09:00"  # Monday, the first slot: 08:00 UTC
LATER = "downtown@2027-03-22T10:00"  # 09:00 UTC
TUESDAY = "downtown@2027-03-23T09:00"
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
HISTORY_KEYS = ["at", "actor", "from_status", "to_status", "note"]
OUTCOME_KEYS = ["booking", "from_status", "to_status", "result", "reason"]
REFERENCE = re.compile(r"^BK-[0-9A-Z]{6}$")
BERLIN = ZoneInfo("Europe/Berlin")


# Helpers -------------------------------------------------------------------------


def ok(result: Any) -> Any:
    assert result.exit_code == 0, result.stderr
    return result


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def fails(result: Any, code: int, *words: str) -> Any:
    """A refusal: the exit code and one error line on stderr naming the cause
    (``Error: ...``, or the JSON error object when ``--format json``)."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    if lines[0].startswith("{"):
        error = json.loads(lines[0])["error"]
        assert list(error) == ["code", "message"]
        message = error["message"]
    else:
        assert lines[0].startswith("Error: "), result.stderr
        message = lines[0]
    for word in words:
        assert word in message, (word, message)
    return result


def at(monkeypatch: pytest.MonkeyPatch, instant: str) -> None:
    monkeypatch.setenv("SLOTCTL_NOW", instant)


@pytest.fixture
def downtown(cli: Any, db: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    at(monkeypatch, NOW)
    ok(cli("exchanges", "add", "downtown", "--name", "Downtown", "--timezone", "Europe/Berlin"))
    ok(cli("hours", "set", "downtown", "mon-fri 09:00-12:00,13:00-17:00"))
    generate = "slots generate downtown --from 2027-03-22 --days 7 --duration 30 --capacity 2"
    ok(cli(*generate.split()))
    assert db.scalar("SELECT count(*) FROM time_slots") == 70
    return "downtown"


@pytest.fixture
def uptown(cli: Any, db: Any, downtown: str) -> str:
    """A second exchange with the same hours and Monday's slots (capacity 1)."""
    ok(cli("exchanges", "add", "uptown", "--name", "Uptown", "--timezone", "Europe/Berlin"))
    ok(cli("hours", "set", "uptown", "mon-fri 09:00-12:00,13:00-17:00"))
    ok(cli("slots", "generate", "uptown", "--from", "2027-03-22", "--days", "1"))
    return "uptown"


def create(
    cli: Any,
    slot: str = SLOT,
    email: str = "ann@example.com",
    *extra: str,
    name: str = "Ann Example",
) -> dict[str, Any]:
    args = ["bookings", "create", slot, "--name", name, "--email", email, *extra]
    return ok(cli(*args, "-f", "json")).json()


def instant(value: Any) -> datetime:
    """A stored instant as an aware UTC datetime, whichever database returned it."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def seats(db: Any) -> dict[str, int]:
    """``SLUG@local start`` -> current_bookings, for every slot holding a seat."""
    rows = db.query(
        "SELECT e.slug, t.starts_at, t.current_bookings FROM time_slots t "
        "JOIN exchanges e ON e.id = t.exchange_id WHERE t.current_bookings <> 0"
    )
    return {
        f"{slug}@{instant(starts).astimezone(BERLIN):%Y-%m-%dT%H:%M}": count
        for slug, starts, count in rows
    }


def stored(db: Any, reference: str) -> dict[str, Any]:
    """The booking's row as the database holds it."""
    rows = db.query(
        "SELECT b.status, b.customer_email, b.cancellation_reason, t.uuid, e.slug, "
        "b.confirmed_at, b.completed_at, b.cancelled_at FROM bookings b "
        "JOIN time_slots t ON t.id = b.time_slot_id JOIN exchanges e ON e.id = b.exchange_id "
        "WHERE b.reference = :r",
        r=reference,
    )
    assert rows, f"no booking {reference} in the database"
    status, email, reason, slot, slug, confirmed, completed, cancelled = rows[0]
    return {
        "status": status,
        "customer_email": email,
        "cancellation_reason": reason,
        "slot": slot,
        "exchange": slug,
        "confirmed_at": confirmed and instant(confirmed),
        "completed_at": completed and instant(completed),
        "cancelled_at": cancelled and instant(cancelled),
    }


def events(db: Any, reference: str) -> list[tuple[Any, ...]]:
    """(actor, from_status, to_status, note) of the booking's events, in insertion order."""
    return db.query(
        "SELECT e.actor, e.from_status, e.to_status, e.note FROM booking_events e "
        "JOIN bookings b ON b.id = e.booking_id WHERE b.reference = :r ORDER BY e.id",
        r=reference,
    )


def count(db: Any, table: str) -> int:
    return int(db.scalar(f"SELECT count(*) FROM {table}"))


def refs(records: list[dict[str, Any]]) -> list[str]:
    return [r["reference"] for r in records]


# create ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "status", "confirmed_at"),
    [([], "pending", None), (["--confirm"], "confirmed", NOW)],
)
def test_create_takes_a_seat(
    cli: Any, db: Any, downtown: str, extra: list[str], status: str, confirmed_at: str | None
) -> None:
    result = cli(
        "--actor",
        "alice",
        "bookings",
        "create",
        SLOT,
        "--name",
        "  Ann   Example ",
        "--email",
        "Ann.Example@Example.COM",
        "--phone",
        "+49 30 1234567",
        "--notes",
        "wants euros",
        *extra,
        "-f",
        "json",
    )
    record = ok(result).json()
    assert list(record) == BOOKING_KEYS
    slot = ok(cli("slots", "show", SLOT, "-f", "json")).json()
    assert REFERENCE.match(record["reference"])
    assert len(record["uuid"]) == 36
    assert record == {
        "uuid": record["uuid"],
        "reference": record["reference"],
        "exchange": "downtown",
        "slot": slot["uuid"],
        "starts_at": "2027-03-22T09:00:00+01:00",
        "ends_at": "2027-03-22T09:30:00+01:00",
        "customer_name": "Ann Example",
        "customer_email": "ann.example@example.com",
        "customer_phone": "+49 30 1234567",
        "notes": "wants euros",
        "status": status,
        "created_at": NOW,
        "updated_at": NOW,
        "confirmed_at": confirmed_at,
        "completed_at": None,
        "cancelled_at": None,
        "cancellation_reason": None,
        "arrived_at": None,
        "called_at": None,
        "counter": None,
    }
    assert slot["current_bookings"] == 1
    assert seats(db) == {SLOT: 1}
    row = stored(db, record["reference"])
    assert (row["status"], row["customer_email"], row["slot"]) == (
        status,
        "ann.example@example.com",
        slot["uuid"],
    )
    assert row["confirmed_at"] == (confirmed_at and datetime.fromisoformat(confirmed_at))
    assert events(db, record["reference"]) == [("alice", None, status, "created")]
    assert count(db, "bookings") == 1


def test_create_references_are_unique_and_seats_count_up(cli: Any, db: Any, downtown: str) -> None:
    first = create(cli, SLOT, "ann@example.com")
    assert seats(db) == {SLOT: 1}
    second = create(cli, SLOT, "bob@example.com")
    assert seats(db) == {SLOT: 2}
    table = ok(
        cli("bookings", "create", LATER, "--name", "Ann Example", "--email", "ann@x.example")
    )
    assert seats(db) == {SLOT: 2, LATER: 1}
    third = db.scalar("SELECT reference FROM bookings WHERE customer_email = 'ann@x.example'")
    assert third in table.stdout
    assert "Ann Example" in table.stdout
    assert "pending" in table.stdout
    references = [first["reference"], second["reference"], third]
    assert all(REFERENCE.match(r) for r in references)
    assert len(set(references)) == 3
    assert db.scalar("SELECT count(DISTINCT reference) FROM bookings") == 3
    assert sorted(r for (r,) in db.query("SELECT reference FROM bookings")) == sorted(references)


INVALID_INPUT = [
    ("--email", "not-an-email", "email"),
    ("--email", "ann@", "email"),
    ("--email", "", "email"),
    ("--name", "", "name"),
    ("--name", "   ", "name"),
    ("--phone", "call me", "phone"),
]


def test_create_invalid_input_exits_2_and_writes_nothing(cli: Any, db: Any, downtown: str) -> None:
    before = db.snapshot()
    for option, value, word in INVALID_INPUT:
        values = {"--name": "Ann Example", "--email": "ann@example.com", option: value}
        args = [part for pair in values.items() for part in pair]
        result = fails(cli("bookings", "create", SLOT, *args), 2, word)
        assert result.stdout == "", (option, value)
    assert db.snapshot() == before
    assert count(db, "bookings") == 0


def _prepare_refusal(cli: Any, monkeypatch: pytest.MonkeyPatch, case: str) -> str:
    """Set up ``case``; return the slot the customer ann@example.com then tries."""
    if case == "full":
        create(cli, SLOT, "bob@example.com")
        create(cli, SLOT, "cy@example.com")
    elif case == "blocked":
        ok(cli("slots", "block", SLOT))
    elif case == "past":
        at(monkeypatch, "2027-03-22T08:10:00+00:00")
    elif case == "min-notice":
        ok(cli("exchanges", "update", "downtown", "--min-notice", "2h"))
        at(monkeypatch, "2027-03-22T06:30:00+00:00")  # the slot starts in 1h30m
    elif case == "max-advance":
        ok(cli("exchanges", "update", "downtown", "--max-advance", "1d"))
    elif case in ("duplicate", "duplicate-case"):
        create(cli, SLOT, "ann@example.com")
    elif case == "overlap":
        create(cli, SLOT, "ann@example.com")
        return "uptown@2027-03-22T09:00"
    elif case == "inactive":
        ok(cli("exchanges", "update", "downtown", "--inactive"))
    return SLOT


@pytest.mark.parametrize(
    ("case", "email", "word"),
    [
        ("full", "ann@example.com", "full"),
        ("blocked", "ann@example.com", "blocked"),
        ("past", "ann@example.com", "past"),
        ("min-notice", "ann@example.com", "notice"),
        ("max-advance", "ann@example.com", "advance"),
        ("duplicate", "ann@example.com", "already holds"),
        ("duplicate-case", "ANN@Example.com", "already holds"),
        ("overlap", "ann@example.com", "overlapping"),
        ("inactive", "ann@example.com", "inactive"),
    ],
)
def test_create_refusals_exit_4_and_write_nothing(
    cli: Any,
    db: Any,
    downtown: str,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    case: str,
    email: str,
    word: str,
) -> None:
    if case == "overlap":
        request.getfixturevalue("uptown")
    slot = _prepare_refusal(cli, monkeypatch, case)
    before = db.snapshot()
    result = cli("bookings", "create", slot, "--name", "Ann Example", "--email", email)
    fails(result, 4, word)
    assert result.stdout == ""
    assert db.snapshot() == before
    json_result = cli("bookings", "create", slot, "--name", "A", "--email", email, "-f", "json")
    assert json_result.exit_code == 4
    assert '"code": "conflict"' in json_result.stderr
    assert db.snapshot() == before


def test_min_notice_and_max_advance_allow_slots_inside_the_window(
    cli: Any, db: Any, downtown: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok(cli("exchanges", "update", "downtown", "--min-notice", "2h", "--max-advance", "1d"))
    at(monkeypatch, "2027-03-22T06:30:00+00:00")  # 07:30 in Berlin
    for slot, email, code in (
        (SLOT, "a@x.example", 4),  # starts in 1h30m
        (LATER, "a@x.example", 0),  # starts in 2h30m
        ("downtown@2027-03-22T16:30", "b@x.example", 0),
        ("downtown@2027-03-23T09:00", "c@x.example", 4),  # starts in 25h30m: beyond one day
    ):
        result = cli("bookings", "create", slot, "--name", "A", "--email", email)
        assert result.exit_code == code, (slot, result.stderr)
    assert seats(db) == {LATER: 1, "downtown@2027-03-22T16:30": 1}


def test_overlap_is_allowed_with_the_flag_or_without_overlap(
    cli: Any, db: Any, downtown: str, uptown: str
) -> None:
    create(cli, SLOT, "ann@example.com")
    create(cli, "uptown@2027-03-22T09:30", "ann@example.com")  # adjacent, not overlapping
    record = create(cli, "uptown@2027-03-22T09:00", "ANN@example.com", "--allow-overlap")
    assert record["exchange"] == "uptown"
    assert record["customer_email"] == "ann@example.com"
    assert seats(db) == {SLOT: 1, "uptown@2027-03-22T09:00": 1, "uptown@2027-03-22T09:30": 1}
    # the same slot twice stays refused, flag or not
    before = db.snapshot()
    again = cli(
        "bookings", "create", SLOT, "--name", "A", "--email", "ann@example.com", "--allow-overlap"
    )
    fails(again, 4, "already holds")
    assert db.snapshot() == before


def test_create_on_an_unknown_slot_exits_3(cli: Any, db: Any, downtown: str) -> None:
    before = db.snapshot()
    for slot, code in (
        ("downtown@2027-03-22T08:00", 3),
        ("downtown@2027-03-22T09:15", 3),
        ("ffffffff-ffff-4fff-8fff-ffffffffffff", 3),
        ("ffffffff", 3),
        ("ghost@2027-03-22T09:00", 3),
        ("downtown@soon", 2),
    ):
        fails(cli("bookings", "create", slot, "--name", "A", "--email", "a@x.example"), code)
    assert db.snapshot() == before


def test_a_cancelled_booking_frees_the_customer_to_book_again(
    cli: Any, db: Any, downtown: str
) -> None:
    first = create(cli, SLOT, "ann@example.com")
    ok(cli("bookings", "cancel", first["reference"]))
    assert seats(db) == {}
    second = create(cli, SLOT, "Ann@Example.com")
    assert second["reference"] != first["reference"]
    assert seats(db) == {SLOT: 1}
    assert stored(db, first["reference"])["status"] == "cancelled"
    assert stored(db, second["reference"])["status"] == "pending"


# lifecycle -------------------------------------------------------------------------


def test_confirm(cli: Any, db: Any, downtown: str, monkeypatch: pytest.MonkeyPatch) -> None:
    booking = create(cli)
    at(monkeypatch, "2027-03-20T13:00:00+00:00")
    result = ok(cli("--actor", "alice", "bookings", "confirm", booking["reference"], "-f", "json"))
    [record] = result.json()
    assert list(record) == BOOKING_KEYS
    assert record["uuid"] == booking["uuid"]
    assert record["status"] == "confirmed"
    assert record["confirmed_at"] == "2027-03-20T13:00:00+00:00"
    assert record["updated_at"] == "2027-03-20T13:00:00+00:00"
    assert record["created_at"] == NOW
    assert "1 booking: confirm done." in result.stderr
    row = stored(db, booking["reference"])
    assert row["status"] == "confirmed"
    assert row["confirmed_at"] == datetime(2027, 3, 20, 13, tzinfo=UTC)
    assert seats(db) == {SLOT: 1}
    assert events(db, booking["reference"]) == [
        (getpass.getuser(), None, "pending", "created"),
        ("alice", "pending", "confirmed", None),
    ]


@pytest.mark.parametrize(
    ("action", "status", "stamp"),
    [("complete", "completed", "completed_at"), ("no-show", "no_show", None)],
)
def test_complete_and_no_show_need_the_slot_to_have_started(
    cli: Any,
    db: Any,
    downtown: str,
    monkeypatch: pytest.MonkeyPatch,
    action: str,
    status: str,
    stamp: str | None,
) -> None:
    reference = create(cli, SLOT, "ann@example.com", "--confirm")["reference"]
    at(monkeypatch, "2027-03-22T07:59:00+00:00")  # a minute before the slot
    before = db.snapshot()
    fails(cli("bookings", action, reference), 4, "before the slot starts")
    assert db.snapshot() == before
    at(monkeypatch, "2027-03-22T08:05:00+00:00")
    [record] = ok(cli("--actor", "alice", "bookings", action, reference, "-f", "json")).json()
    assert record["status"] == status
    assert record["completed_at"] == ("2027-03-22T08:05:00+00:00" if stamp else None)
    assert record["cancelled_at"] is None
    assert stored(db, reference)["status"] == status
    assert seats(db) == {SLOT: 1}  # completed and no_show keep their seat
    assert events(db, reference)[-1] == ("alice", "confirmed", status, None)
    assert len(events(db, reference)) == 2


@pytest.mark.parametrize("confirm", [False, True])
def test_cancel_releases_the_seat_and_keeps_the_reason(
    cli: Any, db: Any, downtown: str, monkeypatch: pytest.MonkeyPatch, confirm: bool
) -> None:
    booking = create(cli, SLOT, "ann@example.com", *(["--confirm"] if confirm else []))
    create(cli, SLOT, "bob@example.com")
    assert seats(db) == {SLOT: 2}
    at(monkeypatch, "2027-03-21T09:00:00+00:00")
    args = ["bookings", "cancel", booking["reference"], "--reason", "customer called"]
    [record] = ok(cli("--actor", "alice", *args, "-f", "json")).json()
    assert record["status"] == "cancelled"
    assert record["cancellation_reason"] == "customer called"
    assert record["cancelled_at"] == "2027-03-21T09:00:00+00:00"
    assert seats(db) == {SLOT: 1}
    row = stored(db, booking["reference"])
    assert (row["status"], row["cancellation_reason"]) == ("cancelled", "customer called")
    assert row["cancelled_at"] == datetime(2027, 3, 21, 9, tzinfo=UTC)
    source = "confirmed" if confirm else "pending"
    assert events(db, booking["reference"])[-1] == (
        "alice",
        source,
        "cancelled",
        "customer called",
    )


@pytest.mark.parametrize("final", ["completed", "no_show", "cancelled"])
def test_final_statuses_refuse_every_action(
    cli: Any, db: Any, downtown: str, monkeypatch: pytest.MonkeyPatch, final: str
) -> None:
    reference = create(cli, SLOT, "ann@example.com", "--confirm")["reference"]
    at(monkeypatch, "2027-03-22T08:05:00+00:00")
    action = {"completed": "complete", "no_show": "no-show", "cancelled": "cancel"}[final]
    ok(cli("bookings", action, reference))
    before = db.snapshot()
    for command in (
        ["confirm", reference],
        ["complete", reference],
        ["no-show", reference],
        ["cancel", reference, "--reason", "again"],
        ["move", reference, TUESDAY],
    ):
        fails(cli("bookings", *command), 4, final)
    assert db.snapshot() == before


def test_transitions_from_the_wrong_status_are_refused(
    cli: Any, db: Any, downtown: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pending = create(cli, SLOT, "ann@example.com")["reference"]
    confirmed = create(cli, SLOT, "bob@example.com", "--confirm")["reference"]
    at(monkeypatch, "2027-03-22T08:05:00+00:00")  # the slot has started
    before = db.snapshot()
    for action, reference, word in (
        ("complete", pending, "pending"),
        ("no-show", pending, "pending"),
        ("confirm", confirmed, "confirmed"),
    ):
        fails(cli("bookings", action, reference), 4, word)
    assert db.snapshot() == before


def test_batch_confirm(cli: Any, db: Any, downtown: str) -> None:
    first = create(cli, SLOT, "ann@example.com")["reference"]
    second = create(cli, LATER, "bob@example.com")["reference"]
    result = ok(cli("bookings", "confirm", first, second, "-f", "json"))
    assert refs(result.json()) == [first, second]
    assert [r["status"] for r in result.json()] == ["confirmed", "confirmed"]
    assert "2 bookings" in result.stderr
    assert stored(db, first)["status"] == stored(db, second)["status"] == "confirmed"
    assert count(db, "booking_events") == 4


@pytest.mark.parametrize(
    ("action", "good_first"),
    [("confirm", True), ("confirm", False), ("cancel", True)],
)
def test_a_refused_batch_changes_nothing(
    cli: Any, db: Any, downtown: str, action: str, good_first: bool
) -> None:
    good = create(cli, SLOT, "ann@example.com")["reference"]
    bad = create(cli, LATER, "bob@example.com")["reference"]
    ok(cli("bookings", "cancel", bad))
    before = db.snapshot()
    order = [good, bad] if good_first else [bad, good]
    result = fails(cli("bookings", action, *order, "-f", "json"), 4, "nothing was changed")
    outcomes = result.json()
    assert all(list(o) == OUTCOME_KEYS for o in outcomes)
    target = "confirmed" if action == "confirm" else "cancelled"
    expected = {
        good: {
            "booking": good,
            "from_status": "pending",
            "to_status": target,
            "result": "not_applied",
            "reason": "would apply, but the batch is all or nothing and another booking was "
            "refused",
        },
        bad: {
            "booking": bad,
            "from_status": "cancelled",
            "to_status": target,
            "result": "refused",
            "reason": f"cannot {action} a cancelled booking",
        },
    }
    assert outcomes == [expected[r] for r in order]
    assert db.snapshot() == before
    assert stored(db, good)["status"] == "pending"
    assert seats(db) == {SLOT: 1}
    assert len(events(db, good)) == 1
    table = fails(cli("bookings", action, *order), 4)
    assert good in table.stdout
    assert bad in table.stdout
    assert "refused" in table.stdout
    assert db.snapshot() == before


def test_bookings_are_found_by_reference_uuid_or_prefix(cli: Any, db: Any, downtown: str) -> None:
    bookings = [
        create(cli, slot, f"c{i}@example.com")
        for i, slot in enumerate((SLOT, LATER, TUESDAY, "downtown@2027-03-24T09:00"))
    ]
    for ident in (
        bookings[0]["reference"],
        bookings[0]["reference"].lower(),
        bookings[0]["uuid"],
        bookings[0]["uuid"][:8],
        bookings[0]["uuid"].upper(),
    ):
        shown = ok(cli("bookings", "show", ident, "-f", "json")).json()
        assert shown["reference"] == bookings[0]["reference"], ident
    idents = [
        bookings[0]["reference"].lower(),
        bookings[1]["uuid"],
        bookings[2]["uuid"][:8],
        bookings[3]["reference"],
    ]
    result = ok(cli("bookings", "confirm", *idents, "-f", "json"))
    assert refs(result.json()) == refs(bookings)
    assert {row[0] for row in db.query("SELECT status FROM bookings")} == {"confirmed"}


def test_unknown_booking_exits_3(cli: Any, db: Any, downtown: str) -> None:
    known = create(cli)["reference"]
    before = db.snapshot()
    for ident, code in (
        ("BK-ZZZZZZ", 3),
        ("bk-zzzzzz", 3),
        ("ffffffff-ffff-4fff-8fff-ffffffffffff", 3),
        ("ffffffff", 3),
        ("BK-1", 2),
        ("fff", 2),
    ):
        fails(cli("bookings", "show", ident), code)
    fails(cli("bookings", "confirm", known, "ffffffff"), 3)  # the known one stays pending
    for command in ("cancel", "complete", "no-show"):
        fails(cli("bookings", command, "BK-ZZZZZZ"), 3, "BK-ZZZZZZ")
    fails(cli("bookings", "move", "BK-ZZZZZZ", LATER), 3, "BK-ZZZZZZ")
    assert db.snapshot() == before


def test_show_has_the_history_oldest_first_with_actors(
    cli: Any, db: Any, downtown: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = create(cli, SLOT, "ann@example.com", "--notes", "first visit")["reference"]
    monkeypatch.setenv("SLOTCTL_ACTOR", "bob")
    at(monkeypatch, "2027-03-20T13:00:00+00:00")
    ok(cli("bookings", "confirm", reference))
    at(monkeypatch, "2027-03-21T10:00:00+00:00")
    ok(cli("--actor", "carol", "bookings", "move", reference, LATER))
    at(monkeypatch, "2027-03-22T09:10:00+00:00")
    ok(cli("--actor", "dave", "bookings", "complete", reference))
    shown = ok(cli("bookings", "show", reference, "-f", "json")).json()
    assert list(shown) == [*BOOKING_KEYS, "history"]
    assert shown["status"] == "completed"
    assert shown["notes"] == "first visit"
    assert all(list(entry) == HISTORY_KEYS for entry in shown["history"])
    assert shown["history"] == [
        {
            "at": NOW,
            "actor": getpass.getuser(),
            "from_status": None,
            "to_status": "pending",
            "note": "created",
        },
        {
            "at": "2027-03-20T13:00:00+00:00",
            "actor": "bob",
            "from_status": "pending",
            "to_status": "confirmed",
            "note": None,
        },
        {
            "at": "2027-03-21T10:00:00+00:00",
            "actor": "carol",
            "from_status": "confirmed",
            "to_status": "confirmed",
            "note": f"moved from {SLOT} to {LATER}",
        },
        {
            "at": "2027-03-22T09:10:00+00:00",
            "actor": "dave",
            "from_status": "confirmed",
            "to_status": "completed",
            "note": None,
        },
    ]
    assert [e[0] for e in events(db, reference)] == [getpass.getuser(), "bob", "carol", "dave"]
    table = ok(cli("bookings", "show", reference)).stdout
    assert reference in table
    assert "carol" in table
    assert table.index("bob") < table.index("carol") < table.index("dave")


# move ------------------------------------------------------------------------------


def test_move_takes_the_new_seat_and_releases_the_old(
    cli: Any, db: Any, downtown: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    booking = create(cli, SLOT, "ann@example.com", "--confirm")
    create(cli, LATER, "bob@example.com")
    at(monkeypatch, "2027-03-20T14:00:00+00:00")
    record = ok(
        cli("--actor", "alice", "bookings", "move", booking["reference"], LATER, "-f", "json")
    ).json()
    target = ok(cli("slots", "show", LATER, "-f", "json")).json()
    assert list(record) == BOOKING_KEYS
    assert record["uuid"] == booking["uuid"]
    assert record["slot"] == target["uuid"]
    assert record["starts_at"] == "2027-03-22T10:00:00+01:00"
    assert record["ends_at"] == "2027-03-22T10:30:00+01:00"
    assert record["status"] == "confirmed"
    assert record["updated_at"] == "2027-03-20T14:00:00+00:00"
    assert seats(db) == {LATER: 2}
    assert target["current_bookings"] == 2
    assert stored(db, booking["reference"])["slot"] == target["uuid"]
    last = events(db, booking["reference"])[-1]
    assert last[:3] == ("alice", "confirmed", "confirmed")
    assert SLOT in last[3]
    assert LATER in last[3]


def _prepare_move(cli: Any, monkeypatch: pytest.MonkeyPatch, case: str) -> tuple[str, str]:
    """Set up ``case``; return (booking reference, target slot)."""
    if case == "past-target":
        reference = create(cli, TUESDAY, "ann@example.com")["reference"]
        at(monkeypatch, "2027-03-22T09:05:00+00:00")  # LATER started five minutes ago
        return reference, LATER
    reference = create(cli, SLOT, "ann@example.com")["reference"]
    if case == "full-target":
        create(cli, LATER, "bob@example.com")
        create(cli, LATER, "cy@example.com")
    elif case == "blocked-target":
        ok(cli("slots", "block", LATER))
    elif case == "same-slot":
        return reference, SLOT
    elif case == "cancelled":
        ok(cli("bookings", "cancel", reference))
    elif case == "customer-on-target":
        create(cli, LATER, "ANN@example.com")
    elif case == "unknown-target":
        return reference, "downtown@2027-03-22T08:00"
    elif case == "unknown-exchange":
        return reference, "ghost@2027-03-22T09:00"
    return reference, LATER


@pytest.mark.parametrize(
    ("case", "word"),
    [
        ("full-target", "full"),
        ("past-target", "past"),
        ("blocked-target", "blocked"),
        ("same-slot", "already on that slot"),
        ("cancelled", "cancelled"),
        ("customer-on-target", "already holds"),
        ("unknown-target", "no slot"),
        ("unknown-exchange", "ghost"),
    ],
)
def test_move_refusals_change_nothing(
    cli: Any, db: Any, downtown: str, monkeypatch: pytest.MonkeyPatch, case: str, word: str
) -> None:
    reference, target = _prepare_move(cli, monkeypatch, case)
    before = db.snapshot()
    code = 3 if case.startswith("unknown") else 4
    fails(cli("bookings", "move", reference, target), code, word)
    assert db.snapshot() == before


def test_move_to_another_exchange(cli: Any, db: Any, downtown: str, uptown: str) -> None:
    booking = create(cli)
    record = ok(
        cli("bookings", "move", booking["reference"], "uptown@2027-03-22T09:00", "-f", "json")
    ).json()
    assert record["exchange"] == "uptown"
    assert record["starts_at"] == "2027-03-22T09:00:00+01:00"
    assert seats(db) == {"uptown@2027-03-22T09:00": 1}
    assert stored(db, booking["reference"])["exchange"] == "uptown"
    listed = ok(cli("bookings", "list", "--exchange", "uptown", "-f", "json")).json()
    assert refs(listed) == [booking["reference"]]
    assert ok(cli("bookings", "list", "--exchange", "downtown", "-f", "json")).json() == []


# queries ---------------------------------------------------------------------------


@pytest.fixture
def booked(cli: Any, db: Any, uptown: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Five bookings, created in an order that differs from their slots' order."""
    made: dict[str, str] = {}
    plan = [
        ("tuesday", TUESDAY, "ann@example.com", []),
        ("later", LATER, "bob@example.com", ["--confirm"]),
        ("slot-bob", SLOT, "bob@example.com", []),
        ("slot-ann", SLOT, "ann@example.com", []),
        ("uptown", "uptown@2027-03-22T11:00", "Ann@Example.com", ["--confirm"]),
    ]
    for minute, (name, slot, email, extra) in enumerate(plan):
        at(monkeypatch, f"2027-03-20T12:{minute:02d}:00+00:00")
        made[name] = create(cli, slot, email, *extra)["reference"]
    ok(cli("bookings", "cancel", made["tuesday"]))
    at(monkeypatch, NOW)
    return made


def listing(cli: Any, *args: str) -> list[str]:
    return refs(ok(cli("bookings", *args, "-f", "json")).json())


def test_list_is_ordered_by_slot_start_then_creation(
    cli: Any, db: Any, booked: dict[str, str]
) -> None:
    records = ok(cli("bookings", "list", "-f", "json")).json()
    assert all(list(r) == BOOKING_KEYS for r in records)
    names = {v: k for k, v in booked.items()}
    assert [names[r] for r in refs(records)] == [
        "slot-bob",
        "slot-ann",
        "later",
        "uptown",
        "tuesday",
    ]
    csv = ok(cli("bookings", "list", "-f", "csv")).stdout.splitlines()
    assert csv[0] == ",".join(BOOKING_KEYS)
    assert len(csv) == 6
    table = ok(cli("bookings", "list")).stdout
    positions = [table.index(booked[k]) for k in ("slot-bob", "slot-ann", "later", "uptown")]
    assert positions == sorted(positions)
    limited = ok(cli("bookings", "list", "--limit", "2", "-f", "json"))
    assert refs(limited.json()) == [booked["slot-bob"], booked["slot-ann"]]
    assert "first 2" in limited.stderr
    assert "--limit" in limited.stderr
    exact = ok(cli("bookings", "list", "--limit", "5", "-f", "json"))
    assert len(exact.json()) == 5
    assert exact.stderr == ""


LIST_FILTERS = [
    (["--exchange", "uptown"], ["uptown"]),
    (["--exchange", "downtown"], ["slot-bob", "slot-ann", "later", "tuesday"]),
    (["--customer", "ANN@example.COM"], ["slot-ann", "uptown", "tuesday"]),
    (["--customer", "nobody@example.com"], []),
    (["--status", "pending"], ["slot-bob", "slot-ann"]),
    (["--status", "CONFIRMED"], ["later", "uptown"]),
    (["--status", "cancelled"], ["tuesday"]),
    (["--status", "no-show"], []),
    (["--from", "2027-03-23"], ["tuesday"]),
    (["--to", "2027-03-22"], ["slot-bob", "slot-ann", "later", "uptown"]),
    (["--from", "2027-03-23", "--to", "2027-03-23"], ["tuesday"]),
    (
        ["--exchange", "downtown", "--customer", "ann@example.com", "--status", "pending"],
        ["slot-ann"],
    ),
]


def test_list_filters(cli: Any, db: Any, booked: dict[str, str]) -> None:
    for args, expected in LIST_FILTERS:
        assert listing(cli, "list", *args) == [booked[k] for k in expected], args


def test_list_refusals(cli: Any, db: Any, downtown: str) -> None:
    for args, code in (
        (["--status", "done"], 2),
        (["--limit", "-1"], 2),
        (["--from", "someday"], 2),
        (["--exchange", "ghost"], 3),
    ):
        result = fails(cli("bookings", "list", *args), code)
        assert result.stdout == "", args
    for command in ("upcoming", "history"):
        fails(cli("bookings", command, "--status", "done"), 2, "done")
        fails(cli("bookings", command, "--exchange", "ghost"), 3, "ghost")


def test_upcoming_and_history(
    cli: Any, db: Any, booked: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert listing(cli, "history") == []
    assert len(listing(cli, "upcoming")) == 5
    at(monkeypatch, "2027-03-22T09:00:00+00:00")  # LATER starts now
    names = {v: k for k, v in booked.items()}
    assert [names[r] for r in listing(cli, "upcoming")] == ["uptown", "tuesday"]
    history = [names[r] for r in listing(cli, "history")]
    assert history[-1] == "later"  # slot order, as every listing
    assert sorted(history[:-1]) == ["slot-ann", "slot-bob"]
    assert [names[r] for r in listing(cli, "history", "--customer", "ann@example.com")] == [
        "slot-ann"
    ]
    assert [names[r] for r in listing(cli, "upcoming", "--status", "confirmed")] == ["uptown"]
    assert [names[r] for r in listing(cli, "history", "--limit", "1")] == ["later"]


def test_day_roster(
    cli: Any, db: Any, booked: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    names = {v: k for k, v in booked.items()}
    records = ok(cli("bookings", "day", "downtown", "2027-03-22", "-f", "json")).json()
    assert all(list(r) == BOOKING_KEYS for r in records)
    assert [names[r] for r in refs(records)] == ["slot-bob", "slot-ann", "later"]
    assert listing(cli, "day", "uptown", "2027-03-22") == [booked["uptown"]]
    assert listing(cli, "day", "downtown") == []  # today, Saturday 2027-03-20
    assert [names[r] for r in listing(cli, "day", "downtown", "+2d")] == [
        "slot-bob",
        "slot-ann",
        "later",
    ]
    tuesday = create(cli, "downtown@2027-03-23T10:00", "dan@example.com")["reference"]
    # 23:30 UTC on Monday is already Tuesday in Berlin
    at(monkeypatch, "2027-03-22T23:30:00+00:00")
    for date in ([], ["today"]):
        roster = listing(cli, "day", "downtown", *date)
        # whether the cancelled booking is on the roster is not specified
        assert [r for r in roster if r != booked["tuesday"]] == [tuesday], date
    assert listing(cli, "day", "downtown", "yesterday") == refs(records)
    table = ok(cli("bookings", "day", "downtown", "2027-03-22")).stdout
    assert table.index(booked["slot-bob"]) < table.index(booked["later"])
    fails(cli("bookings", "day", "ghost"), 3)
    fails(cli("bookings", "day", "downtown", "2027-02-30"), 2)


# expire-pending --------------------------------------------------------------------


def test_expire_pending_cancels_stale_pending_bookings(
    cli: Any, db: Any, downtown: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    stale = create(cli, SLOT, "ann@example.com")["reference"]
    kept = create(cli, SLOT, "bob@example.com", "--confirm")["reference"]
    at(monkeypatch, "2027-03-20T12:20:00+00:00")
    fresh = create(cli, LATER, "cy@example.com")["reference"]
    assert seats(db) == {SLOT: 2, LATER: 1}
    at(monkeypatch, "2027-03-20T12:45:00+00:00")
    args = ["--actor", "alice", "bookings", "expire-pending", "--older-than", "30m"]
    result = ok(cli(*args, "-f", "json"))
    assert result.json() == {"expired": 1, "waitlist_expired": 0}
    row = stored(db, stale)
    assert (row["status"], row["cancellation_reason"]) == ("cancelled", "expired")
    assert row["cancelled_at"] == datetime(2027, 3, 20, 12, 45, tzinfo=UTC)
    assert events(db, stale) == [
        (getpass.getuser(), None, "pending", "created"),
        ("system", "pending", "cancelled", "expired"),
    ]
    assert stored(db, kept)["status"] == "confirmed"
    assert stored(db, fresh)["status"] == "pending"
    assert len(events(db, kept)) == len(events(db, fresh)) == 1
    assert seats(db) == {SLOT: 1, LATER: 1}
    shown = ok(cli("bookings", "show", stale, "-f", "json")).json()
    assert shown["history"][-1]["actor"] == "system"
    before = db.snapshot()
    assert ok(cli(*args, "-f", "json")).json() == {"expired": 0, "waitlist_expired": 0}
    again = ok(cli(*args))
    assert re.search(r"\b0\b", again.stdout)
    assert db.snapshot() == before


def test_expire_pending_expires_started_slots_regardless_of_age(
    cli: Any, db: Any, downtown: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    at(monkeypatch, "2027-03-22T07:50:00+00:00")
    started = create(cli, SLOT, "ann@example.com")["reference"]
    waiting = create(cli, LATER, "bob@example.com")["reference"]
    confirmed = create(cli, SLOT, "cy@example.com", "--confirm")["reference"]
    at(monkeypatch, "2027-03-22T08:05:00+00:00")  # SLOT started; all are 15 minutes old
    result = ok(cli("bookings", "expire-pending", "--older-than", "1h", "-f", "json"))
    assert result.json() == {"expired": 1, "waitlist_expired": 0}
    assert stored(db, started)["status"] == "cancelled"
    assert stored(db, started)["cancellation_reason"] == "expired"
    assert stored(db, waiting)["status"] == "pending"
    assert stored(db, confirmed)["status"] == "confirmed"
    assert seats(db) == {SLOT: 1, LATER: 1}


def test_expire_pending_dry_run_writes_nothing(
    cli: Any, db: Any, downtown: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ann = create(cli, SLOT, "ann@example.com")["reference"]
    bob = create(cli, LATER, "bob@example.com")["reference"]
    at(monkeypatch, "2027-03-20T12:45:00+00:00")
    before = db.snapshot()
    args = ["bookings", "expire-pending", "--older-than", "30m", "--dry-run"]
    shown = ok(cli(*args, "-f", "json")).json()
    assert shown["expired"] == 2
    assert [(b["reference"], b["status"]) for b in shown["bookings"]] == [
        (ann, "pending"),
        (bob, "pending"),
    ]  # which ones, by slot start: not only how many
    assert [row["reference"] for row in csv_rows(ok(cli(*args, "-f", "csv")).stdout)] == [ann, bob]
    table = ok(cli(*args)).stdout
    assert "Would expire 2" in table
    assert ann in table
    assert bob in table
    for value in ("0m", "soon", "-5m"):
        fails(cli("bookings", "expire-pending", f"--older-than={value}"), 2)
    assert db.snapshot() == before


@pytest.mark.parametrize(("setting", "expired"), [(None, 2), ("60", 0), ("40", 2)])
def test_expire_pending_default_limit_is_the_setting(
    cli: Any,
    db: Any,
    downtown: str,
    monkeypatch: pytest.MonkeyPatch,
    setting: str | None,
    expired: int,
) -> None:
    create(cli, SLOT, "ann@example.com")
    create(cli, LATER, "bob@example.com")
    if setting is not None:
        monkeypatch.setenv("SLOTCTL_PENDING_EXPIRY_MINUTES", setting)
    at(monkeypatch, "2027-03-20T12:45:00+00:00")
    assert ok(cli("bookings", "expire-pending", "-f", "json")).json() == {
        "expired": expired,
        "waitlist_expired": 0,
    }
    assert count(db, "booking_events") == 2 + expired
    assert sum(seats(db).values()) == 2 - expired


@pytest.mark.parametrize(
    ("phone", "reason"),
    [
        ("12", "invalid phone '12': at least 3 digits"),
        ("(-)", "invalid phone '(-)': at least 3 digits"),
        ("12a", "invalid phone '12a': digits, spaces and + ( ) - . / only"),
    ],
)
def test_a_bad_phone_says_what_is_wrong(
    cli: Any, db: Any, downtown: str, phone: str, reason: str
) -> None:
    before = db.snapshot()
    result = cli("bookings", "create", SLOT, "--name", "Ann", "--email", "a@x.de", "--phone", phone)
    fails(result, 2, reason)
    assert db.snapshot() == before


def test_counts_agree_with_their_nouns(cli: Any, db: Any, downtown: str, tmp_path: Any) -> None:
    ann = create(cli, SLOT, "ann@example.com")["reference"]
    bob = create(cli, LATER, "bob@example.com")["reference"]
    assert ok(cli("bookings", "confirm", ann)).stderr == "1 booking: confirm done.\n"
    assert ok(cli("bookings", "cancel", ann, bob)).stderr == "2 bookings: cancel done.\n"
    path = tmp_path / "one-bad.csv"
    path.write_text("slot,customer_name,customer_email\n,Cy,cy@example.com\n")
    result = cli("bookings", "import", str(path))
    assert result.exit_code == 5
    assert result.stderr.startswith("Error: 1 bad row in the bookings file;")
    refused = fails(cli("bookings", "complete", ann), 4)
    assert "1 of 1 booking refused" in refused.stderr
