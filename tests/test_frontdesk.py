"""The front desk (issue 13): check-in, tickets, the one fair queue and the
waitlist, on SQLite and PostgreSQL, through the command line.

Written from the contract (docs/cli.md: ``bookings checkin``, ``slotctl queue``,
``slotctl waitlist`` and the booking lifecycle), not from the implementation: the
fairness property test orders tickets with its own oracle of the contract's
three classes.

Most tests start from ``desk``: the clock at Saturday 2027-03-20 12:00 UTC, the
exchange ``desk`` in Europe/Berlin (UTC+01:00 that whole week), open Mon-Fri
09:00-17:00, with 30-minute slots of capacity 3 on Monday 2027-03-22 and Tuesday
2027-03-23. The waitlist tests use ``wait``: the same exchange open 09:00-10:00
only, capacity 1, every seat of Monday and Tuesday taken by a confirmed filler.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

SETUP = "2027-03-20T12:00:00+00:00"
MON = "2027-03-22"
TUE = "2027-03-23"
WED = "2027-03-24"
BERLIN = ZoneInfo("Europe/Berlin")

TICKET_KEYS = [
    "uuid",
    "number",
    "exchange",
    "kind",
    "booking",
    "customer_name",
    "status",
    "arrived_at",
    "called_at",
    "served_at",
    "counter",
    "due_at",
    "waited_minutes",
]
ENTRY_KEYS = [
    "uuid",
    "exchange",
    "customer_name",
    "customer_email",
    "customer_phone",
    "from",
    "to",
    "between",
    "status",
    "booking",
    "created_at",
]


# Helpers -------------------------------------------------------------------------


def ok(result: Any) -> Any:
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    return result


def fails(result: Any, code: int, *words: str) -> Any:
    """A refusal: the exit code and one error line on stderr naming the cause."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    if lines[0].startswith("{"):
        message = json.loads(lines[0])["error"]["message"]
    else:
        assert lines[0].startswith("Error: "), result.stderr
        message = lines[0]
    for word in words:
        assert word.lower() in message.lower(), (word, message)
    return result


def at(monkeypatch: pytest.MonkeyPatch, instant: str) -> None:
    monkeypatch.setenv("SLOTCTL_NOW", instant)


def berlin(hhmm: str, day: str = MON) -> str:
    """A wall-clock time of ``desk`` (UTC+01:00 that week) as an instant."""
    return f"{day}T{hhmm}:00+01:00"


def when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def stamp(value: Any) -> datetime:
    """A stored instant as an aware UTC datetime, whichever database returned it."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def book(cli: Any, hhmm: str, email: str, *extra: str, day: str = MON, slug: str = "desk") -> str:
    """A booking on ``slug@day Thh:mm``; its reference."""
    args = ["bookings", "create", f"{slug}@{day}T{hhmm}", "--name", email.split("@", maxsplit=1)[0]]
    result = ok(cli(*args, "--email", email, *extra, "-f", "json"))
    return str(result.json()["reference"])


def show(cli: Any, reference: str) -> dict[str, Any]:
    return ok(cli("bookings", "show", reference, "-f", "json")).json()  # type: ignore[no-any-return]


def checkin(cli: Any, *references: str) -> list[dict[str, Any]]:
    return ok(cli("bookings", "checkin", *references, "-f", "json")).json()  # type: ignore[no-any-return]


def walkin(cli: Any, name: str, *extra: str, slug: str = "desk") -> dict[str, Any]:
    return ok(cli("queue", "walkin", slug, "--name", name, *extra, "-f", "json")).json()  # type: ignore[no-any-return]


def queue(cli: Any, slug: str = "desk") -> list[dict[str, Any]]:
    return ok(cli("queue", "list", slug, "-f", "json")).json()  # type: ignore[no-any-return]


def numbers(tickets: list[dict[str, Any]]) -> list[str]:
    return [t["number"] for t in tickets]


def call(cli: Any, counter: str = "1", slug: str = "desk") -> dict[str, Any]:
    return ok(cli("queue", "next", slug, "--counter", counter, "-f", "json")).json()  # type: ignore[no-any-return]


def act(cli: Any, action: str, ticket: str) -> dict[str, Any]:
    return ok(cli("queue", action, ticket, "-f", "json")).json()  # type: ignore[no-any-return]


def ticket_status(db: Any, uuid: str) -> str:
    return str(db.scalar("SELECT status FROM tickets WHERE uuid = :u", u=uuid))


def seats_held(db: Any, slug: str, hhmm: str, day: str = MON) -> int:
    starts = datetime.fromisoformat(berlin(hhmm, day)).astimezone(UTC)
    rows = db.query(
        "SELECT t.starts_at, t.current_bookings FROM time_slots t "
        "JOIN exchanges e ON e.id = t.exchange_id WHERE e.slug = :s",
        s=slug,
    )
    return next(count for start, count in rows if stamp(start) == starts)


@pytest.fixture
def desk(cli: Any, db: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    at(monkeypatch, SETUP)
    ok(cli("exchanges", "add", "desk", "--name", "Desk", "--timezone", "Europe/Berlin"))
    ok(cli("hours", "set", "desk", "mon-fri 09:00-17:00"))
    generate = f"slots generate desk --from {MON} --days 2 --duration 30 --capacity 3"
    ok(cli(*generate.split()))
    return "desk"


# Check-in ------------------------------------------------------------------------


def test_checkin_confirms_a_pending_booking_and_issues_a_ticket(
    cli: Any, db: Any, desk: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = book(cli, "10:00", "ann@example.com")
    at(monkeypatch, berlin("09:45"))
    tickets = checkin(cli, reference)
    assert len(tickets) == 1
    ticket = tickets[0]
    assert list(ticket) == TICKET_KEYS
    assert ticket["number"] == "A001"
    assert ticket["exchange"] == "desk"
    assert ticket["kind"] == "appointment"
    assert ticket["booking"] == reference
    assert ticket["customer_name"] == "ann"
    assert ticket["status"] == "waiting"
    assert ticket["arrived_at"] == "2027-03-22T09:45:00+01:00"  # the exchange's offset
    assert ticket["due_at"] == "2027-03-22T10:00:00+01:00"
    assert ticket["called_at"] is None
    assert ticket["served_at"] is None
    assert ticket["counter"] is None
    assert ticket["waited_minutes"] == 0
    booking = show(cli, reference)
    assert booking["status"] == "arrived"
    assert when(booking["confirmed_at"]) == when(berlin("09:45"))  # confirmed by arriving
    assert when(booking["arrived_at"]) == when(berlin("09:45"))
    assert booking["completed_at"] is None
    assert booking["cancelled_at"] is None
    assert booking["called_at"] is None
    assert booking["counter"] is None
    last = booking["history"][-1]
    assert (last["from_status"], last["to_status"]) == ("pending", "arrived")
    assert seats_held(db, "desk", "10:00") == 1  # arrived holds its seat
    arrived = ok(cli("bookings", "list", "--status", "arrived", "-f", "json")).json()
    assert [b["reference"] for b in arrived] == [reference]
    assert ok(cli("doctor")).exit_code == 0


def test_checkin_of_a_confirmed_booking_keeps_its_confirmation(
    cli: Any, desk: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = book(cli, "10:00", "ann@example.com", "--confirm")
    at(monkeypatch, berlin("10:05"))
    assert numbers(checkin(cli, reference)) == ["A001"]
    booking = show(cli, reference)
    assert booking["status"] == "arrived"
    assert when(booking["confirmed_at"]) == when(SETUP)
    assert when(booking["arrived_at"]) == when(berlin("10:05"))
    last = booking["history"][-1]
    assert (last["from_status"], last["to_status"]) == ("confirmed", "arrived")


@pytest.mark.parametrize(
    ("clock", "allowed"),
    [
        ("09:30", True),  # exactly checkin_early (30 minutes) before the start
        ("09:29", False),  # one minute earlier
        ("10:29", True),  # the slot's last minute
        ("10:30", False),  # the slot has ended: a walk-in now
    ],
)
def test_checkin_window_boundaries(
    cli: Any, db: Any, desk: str, monkeypatch: pytest.MonkeyPatch, clock: str, allowed: bool
) -> None:
    reference = book(cli, "10:00", "ann@example.com")
    at(monkeypatch, berlin(clock))
    before = db.snapshot()
    result = cli("bookings", "checkin", reference)
    if allowed:
        ok(result)
        assert show(cli, reference)["status"] == "arrived"
        return
    fails(result, 4, reference)
    assert db.snapshot() == before
    if clock == "10:30":
        assert "walk" in result.stderr.lower(), result.stderr  # points to queue walkin
    outcome = cli("bookings", "checkin", reference, "-f", "json")
    assert outcome.exit_code == 4
    assert json.loads(outcome.stderr)["error"]["code"] == "conflict"
    [row] = outcome.json()
    assert (row["booking"], row["from_status"], row["to_status"], row["result"]) == (
        reference,
        "pending",
        "arrived",
        "refused",
    )


def test_checkin_refuses_bookings_that_are_not_pending_or_confirmed(
    cli: Any, db: Any, desk: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    arrived = book(cli, "10:00", "ann@example.com")
    cancelled = book(cli, "10:00", "bo@example.com")
    ok(cli("bookings", "cancel", cancelled))
    at(monkeypatch, berlin("10:00"))
    checkin(cli, arrived)
    before = db.snapshot()
    fails(cli("bookings", "checkin", arrived), 4, arrived)  # already here
    fails(cli("bookings", "checkin", cancelled), 4, cancelled)
    fails(cli("bookings", "checkin", "BK-ZZZZZZ"), 3)
    assert db.snapshot() == before
    at(monkeypatch, berlin("10:10"))
    ok(cli("bookings", "complete", arrived))
    fails(cli("bookings", "checkin", arrived), 4, arrived)


def test_checkin_batch_is_all_or_nothing(
    cli: Any, db: Any, desk: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    soon = book(cli, "10:00", "ann@example.com")
    later = book(cli, "13:00", "bo@example.com")  # check-in opens 12:30
    other = book(cli, "10:00", "cy@example.com", "--confirm")
    at(monkeypatch, berlin("09:45"))
    before = db.snapshot()
    refused = cli("bookings", "checkin", soon, later, "-f", "json")
    assert refused.exit_code == 4, refused.stderr
    outcomes = {row["booking"]: row["result"] for row in refused.json()}
    assert outcomes == {soon: "not_applied", later: "refused"}
    assert db.snapshot() == before
    assert db.scalar("SELECT count(*) FROM tickets") == 0
    tickets = checkin(cli, soon, other)
    assert sorted(numbers(tickets)) == ["A001", "A002"]
    assert {t["booking"] for t in tickets} == {soon, other}
    assert show(cli, soon)["status"] == show(cli, other)["status"] == "arrived"


def test_appointment_numbers_count_per_exchange_and_day(
    cli: Any, db: Any, desk: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok(cli("exchanges", "add", "annex", "--name", "Annex", "--timezone", "Europe/Berlin"))
    ok(cli("hours", "set", "annex", "mon-fri 09:00-17:00"))
    ok(cli("slots", "generate", "annex", "--from", MON, "--days", "1"))
    first = book(cli, "10:00", "ann@example.com")
    second = book(cli, "10:00", "bo@example.com")
    elsewhere = book(cli, "10:00", "cy@example.com", slug="annex")
    tuesday = book(cli, "10:00", "di@example.com", day=TUE)
    at(monkeypatch, berlin("09:50"))
    assert numbers(checkin(cli, first)) == ["A001"]
    assert numbers(checkin(cli, elsewhere)) == ["A001"]  # another exchange counts apart
    assert numbers(checkin(cli, second)) == ["A002"]
    assert walkin(cli, "Walk")["number"] == "W001"  # walk-ins count apart
    assert walkin(cli, "Walk 2")["number"] == "W002"
    at(monkeypatch, berlin("09:50", TUE))
    [ticket] = checkin(cli, tuesday)
    assert ticket["number"] == "A001"  # a new day restarts
    assert numbers(queue(cli)) == ["A001"]  # Monday's waiting tickets are not today's queue
    assert [t["uuid"] for t in queue(cli)] == [ticket["uuid"]]


@pytest.mark.parametrize(
    ("zone", "last_minute", "midnight"),
    [
        # UTC+14: local midnight is 10:00 UTC of the same UTC date
        ("Pacific/Kiritimati", "2027-03-22T09:59:00+00:00", "2027-03-22T10:00:00+00:00"),
        # UTC-11: local midnight is 11:00 UTC of the same UTC date
        ("Pacific/Pago_Pago", "2027-03-23T10:59:00+00:00", "2027-03-23T11:00:00+00:00"),
    ],
)
def test_ticket_numbers_restart_at_local_midnight(
    cli: Any,
    db: Any,
    monkeypatch: pytest.MonkeyPatch,
    zone: str,
    last_minute: str,
    midnight: str,
) -> None:
    """Numbers count per local day of arrival, in an exchange far from UTC (where the
    local midnight falls inside one UTC date)."""
    at(monkeypatch, SETUP)
    ok(cli("exchanges", "add", "far", "--name", "Far", "--timezone", zone))
    ok(cli("hours", "set", "far", "daily 00:00-01:00"))
    ok(cli("slots", "generate", "far", "--from", TUE, "--days", "1", "--capacity", "2"))
    early_bird = book(cli, "00:00", "ann@example.com", day=TUE, slug="far")
    on_time = book(cli, "00:00", "bo@example.com", day=TUE, slug="far")
    next_slot = book(cli, "00:30", "cy@example.com", day=TUE, slug="far")
    at(monkeypatch, (when(last_minute) - timedelta(minutes=5)).isoformat())
    assert walkin(cli, "One", slug="far")["number"] == "W001"
    at(monkeypatch, last_minute)  # 23:59 on Monday, local time
    late = walkin(cli, "Two", slug="far")
    assert late["number"] == "W002"
    assert late["arrived_at"][:19] == f"{MON}T23:59:00"  # the exchange's wall clock
    [monday] = checkin(cli, early_bird)  # for Tuesday 00:00, arriving on Monday
    assert monday["number"] == "A001"
    at(monkeypatch, midnight)
    fresh = walkin(cli, "Three", slug="far")
    assert fresh["number"] == "W001", "a new local day restarts the numbers"
    assert fresh["arrived_at"][:19] == f"{TUE}T00:00:00"
    [first] = checkin(cli, on_time)
    assert first["number"] == "A001", "a new local day restarts the numbers"
    at(monkeypatch, (when(midnight) + timedelta(minutes=1)).isoformat())
    [second] = checkin(cli, next_slot)
    assert second["number"] == "A002"
    # The queue of a day holds the tickets issued that local day: on time, walk-in, early.
    expected = [first["uuid"], fresh["uuid"], second["uuid"]]
    assert [t["uuid"] for t in queue(cli, "far")] == expected
    for uuid in expected:
        assert call(cli, "1", "far")["uuid"] == uuid
    fails(cli("queue", "next", "far", "--counter", "1"), 3)


def test_exchange_settings_default_and_change_the_window(
    cli: Any, db: Any, desk: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown = ok(cli("exchanges", "show", "desk", "-f", "json")).json()
    assert (shown["checkin_early_minutes"], shown["late_after_minutes"]) == (30, 10)
    keys = list(shown)
    assert keys.index("checkin_early_minutes") == keys.index("max_advance_days") + 1
    assert keys.index("late_after_minutes") == keys.index("checkin_early_minutes") + 1
    reference = book(cli, "10:00", "ann@example.com")
    at(monkeypatch, berlin("09:00"))
    fails(cli("bookings", "checkin", reference), 4)
    updated = ok(
        cli(
            "exchanges",
            "update",
            "desk",
            "--checkin-early",
            "1h",
            "--late-after",
            "0",
            "-f",
            "json",
        )
    ).json()
    assert (updated["checkin_early_minutes"], updated["late_after_minutes"]) == (60, 0)
    assert numbers(checkin(cli, reference)) == ["A001"]
    ok(cli("exchanges", "update", "desk", "--checkin-early", "0"))
    exact = book(cli, "11:00", "bo@example.com")
    at(monkeypatch, berlin("10:59"))
    fails(cli("bookings", "checkin", exact), 4)
    at(monkeypatch, berlin("11:00"))
    checkin(cli, exact)
    ok(cli("exchanges", "update", "desk", "--checkin-early", "24h", "--late-after", "1d"))
    shown = ok(cli("exchanges", "show", "desk", "-f", "json")).json()
    assert (shown["checkin_early_minutes"], shown["late_after_minutes"]) == (1440, 1440)


@pytest.mark.parametrize(
    "args",
    [
        ["--checkin-early", "25h"],
        ["--checkin-early", "1d1m"],
        ["--late-after", "1441"],
        ["--late-after", "soon"],
        ["--checkin-early", ""],
        ["--late-after=-5"],
        ["--checkin-early", "-1m"],
    ],
)
def test_bad_checkin_durations_exit_2(cli: Any, db: Any, desk: str, args: list[str]) -> None:
    before = db.snapshot()
    fails(cli("exchanges", "update", "desk", *args), 2)
    assert db.snapshot() == before


# Tickets and the queue -------------------------------------------------------------


def test_walkin_tickets(cli: Any, db: Any, desk: str, monkeypatch: pytest.MonkeyPatch) -> None:
    at(monkeypatch, berlin("09:00"))
    first = walkin(cli, "Bo Chen", "--phone", "+44 20 7946 0000", "--email", "Bo@Example.com")
    assert list(first) == TICKET_KEYS
    assert first["number"] == "W001"
    assert (first["kind"], first["booking"], first["due_at"]) == ("walkin", None, None)
    assert (first["status"], first["customer_name"]) == ("waiting", "Bo Chen")
    assert first["arrived_at"] == "2027-03-22T09:00:00+01:00"
    assert walkin(cli, "Cy")["number"] == "W002"
    before = db.snapshot()
    fails(cli("queue", "walkin", "desk", "--name", "X", "--email", "not-an-email"), 2)
    fails(cli("queue", "walkin", "desk", "--name", "X", "--phone", "12"), 2)
    fails(cli("queue", "walkin", "desk", "--name", "  "), 2)
    fails(cli("queue", "walkin", "desk", "--name", "x" * 201), 2)
    fails(cli("queue", "walkin", "nowhere", "--name", "X"), 3)
    assert db.snapshot() == before


def test_queue_list_order_and_waited_minutes(
    cli: Any, desk: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    at(monkeypatch, berlin("09:00"))
    first = walkin(cli, "One")
    at(monkeypatch, berlin("09:10"))
    second = walkin(cli, "Two")
    at(monkeypatch, berlin("09:25"))
    listed = queue(cli)
    assert [t["uuid"] for t in listed] == [first["uuid"], second["uuid"]]
    assert [t["waited_minutes"] for t in listed] == [25, 15]
    assert all(list(t) == TICKET_KEYS for t in listed)
    rows = list(csv.reader(io.StringIO(ok(cli("queue", "list", "desk", "-f", "csv")).stdout)))
    assert rows[0] == TICKET_KEYS
    assert [row[1] for row in rows[1:]] == ["W001", "W002"]
    at(monkeypatch, "2027-03-22T08:25:30+00:00")  # 09:25:30: whole minutes
    assert [t["waited_minutes"] for t in queue(cli)] == [25, 15]
    called = call(cli, "3")
    assert called["uuid"] == first["uuid"]
    assert numbers(queue(cli)) == ["W002"]  # a called ticket no longer waits
    fails(cli("queue", "list", "nowhere"), 3)


def test_queue_next_on_an_empty_queue_exits_3(
    cli: Any, db: Any, desk: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    at(monkeypatch, berlin("09:00"))
    assert queue(cli) == []
    fails(cli("queue", "next", "desk", "--counter", "1"), 3)
    walkin(cli, "One")
    call(cli)
    fails(cli("queue", "next", "desk", "--counter", "1"), 3)  # everyone was called
    fails(cli("queue", "next", "nowhere", "--counter", "1"), 3)
    walkin(cli, "Two")
    before = db.snapshot()
    fails(cli("queue", "next", "desk", "--counter", ""), 2)
    fails(cli("queue", "next", "desk", "--counter", "c" * 51), 2)
    fails(cli("queue", "next", "desk"), 2)  # --counter is required
    assert db.snapshot() == before
    assert call(cli, "c" * 50)["counter"] == "c" * 50


def test_queue_next_calls_an_appointment_to_a_counter(
    cli: Any, desk: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = book(cli, "10:00", "ann@example.com")
    at(monkeypatch, berlin("09:55"))
    [ticket] = checkin(cli, reference)
    at(monkeypatch, berlin("10:00"))
    called = call(cli, "2")
    assert called["uuid"] == ticket["uuid"]
    assert called["status"] == "called"
    assert called["counter"] == "2"
    assert called["called_at"] == "2027-03-22T10:00:00+01:00"
    assert called["waited_minutes"] == 5
    at(monkeypatch, berlin("10:20"))
    booking = show(cli, reference)
    assert booking["status"] == "arrived"
    assert when(booking["called_at"]) == when(berlin("10:00"))
    assert booking["counter"] == "2"
    last = booking["history"][-1]
    assert (last["from_status"], last["to_status"], last["note"]) == (
        "arrived",
        "arrived",
        "called to 2",
    )


def test_queue_done_serves_and_completes(
    cli: Any, db: Any, desk: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = book(cli, "10:00", "ann@example.com")
    at(monkeypatch, berlin("10:00"))
    checkin(cli, reference)
    walker = walkin(cli, "Bo")
    call(cli, "1")
    at(monkeypatch, berlin("10:12"))
    served = act(cli, "done", "A001")
    assert served["status"] == "served"
    assert served["served_at"] == "2027-03-22T10:12:00+01:00"
    assert served["waited_minutes"] == 0  # arrival to the call
    booking = show(cli, reference)
    assert booking["status"] == "completed"
    assert when(booking["completed_at"]) == when(berlin("10:12"))
    assert when(booking["arrived_at"]) == when(berlin("10:00"))  # kept
    assert booking["confirmed_at"] is not None
    assert seats_held(db, "desk", "10:00") == 1  # completed holds its seat
    assert call(cli, "2")["uuid"] == walker["uuid"]
    assert act(cli, "done", "W001")["status"] == "served"
    assert ok(cli("doctor")).exit_code == 0


def test_an_early_arrival_called_before_its_slot_can_be_served(
    cli: Any, desk: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counters never idle: an early customer is called, and served, before the slot."""
    reference = book(cli, "10:00", "ann@example.com", "--confirm")
    at(monkeypatch, berlin("09:40"))
    checkin(cli, reference)
    at(monkeypatch, berlin("09:41"))
    assert call(cli)["number"] == "A001"
    assert act(cli, "done", "A001")["status"] == "served"
    assert show(cli, reference)["status"] == "completed"


def test_queue_no_show(cli: Any, db: Any, desk: str, monkeypatch: pytest.MonkeyPatch) -> None:
    reference = book(cli, "10:00", "ann@example.com")
    at(monkeypatch, berlin("10:00"))
    checkin(cli, reference)
    walkin(cli, "Bo")
    call(cli)
    missed = act(cli, "no-show", "A001")
    assert missed["status"] == "no_show"
    booking = show(cli, reference)
    assert booking["status"] == "no_show"
    assert booking["completed_at"] is None
    assert booking["confirmed_at"] is not None
    assert seats_held(db, "desk", "10:00") == 1
    call(cli)
    assert act(cli, "no-show", "W001")["status"] == "no_show"
    assert ok(cli("doctor")).exit_code == 0


def test_queue_cancel_lets_the_customer_leave_and_frees_the_seat(
    cli: Any, db: Any, desk: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    waiting = book(cli, "10:00", "ann@example.com")
    called = book(cli, "10:00", "bo@example.com")
    at(monkeypatch, berlin("10:00"))
    checkin(cli, waiting)
    checkin(cli, called)
    walker = walkin(cli, "Cy")
    assert seats_held(db, "desk", "10:00") == 2
    assert call(cli)["number"] == "A001"
    at(monkeypatch, berlin("10:05"))
    left = act(cli, "cancel", "A002")  # still waiting
    assert left["status"] == "left"
    assert left["waited_minutes"] is None  # left before a call
    booking = show(cli, waiting if left["booking"] == waiting else called)
    assert booking["status"] == "cancelled"
    assert booking["cancellation_reason"] == "left without service"
    assert when(booking["cancelled_at"]) == when(berlin("10:05"))
    assert booking["history"][-1]["note"] == "left without service"
    assert seats_held(db, "desk", "10:00") == 1
    gone = act(cli, "cancel", "A001")  # called, then left
    assert gone["status"] == "left"
    assert gone["waited_minutes"] == 0
    assert show(cli, gone["booking"])["cancellation_reason"] == "left without service"
    assert seats_held(db, "desk", "10:00") == 0
    assert act(cli, "cancel", "W001")["status"] == "left"
    assert ticket_status(db, walker["uuid"]) == "left"
    assert queue(cli) == []
    assert ok(cli("doctor")).exit_code == 0


def test_queue_requeue_keeps_the_place(
    cli: Any, db: Any, desk: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = book(cli, "10:00", "ann@example.com")
    at(monkeypatch, berlin("09:00"))
    first = walkin(cli, "One")
    at(monkeypatch, berlin("09:05"))
    second = walkin(cli, "Two")
    at(monkeypatch, berlin("09:10"))
    assert call(cli, "1")["uuid"] == first["uuid"]
    back = act(cli, "requeue", "W001")
    assert back["status"] == "waiting"
    assert back["called_at"] is None
    assert back["counter"] is None
    assert [t["uuid"] for t in queue(cli)] == [first["uuid"], second["uuid"]]
    assert call(cli, "2")["uuid"] == first["uuid"]
    act(cli, "done", "W001")
    act(cli, "done", call(cli)["number"])
    at(monkeypatch, berlin("10:00"))
    checkin(cli, reference)
    call(cli, "4")
    assert show(cli, reference)["counter"] == "4"
    act(cli, "requeue", "A001")
    booking = show(cli, reference)
    assert booking["status"] == "arrived"
    assert booking["called_at"] is None
    assert booking["counter"] is None
    assert booking["history"][-1]["note"] == "back in the queue"
    assert numbers(queue(cli)) == ["A001"]


@pytest.mark.parametrize(
    ("action", "state"),
    [
        ("done", "waiting"),
        ("no-show", "waiting"),
        ("requeue", "waiting"),
        ("done", "served"),
        ("no-show", "served"),
        ("cancel", "served"),
        ("requeue", "served"),
        ("cancel", "left"),
        ("done", "left"),
        ("requeue", "no_show"),
        ("cancel", "no_show"),
    ],
)
def test_refused_ticket_transitions_exit_4_and_change_nothing(
    cli: Any, db: Any, desk: str, monkeypatch: pytest.MonkeyPatch, action: str, state: str
) -> None:
    reference = book(cli, "10:00", "ann@example.com")
    at(monkeypatch, berlin("10:00"))
    checkin(cli, reference)
    if state != "waiting":
        call(cli)
        act(cli, {"served": "done", "left": "cancel", "no_show": "no-show"}[state], "A001")
    before = db.snapshot()
    fails(cli("queue", action, "A001"), 4)
    assert db.snapshot() == before


def test_ticket_identifiers(cli: Any, db: Any, desk: str, monkeypatch: pytest.MonkeyPatch) -> None:
    at(monkeypatch, berlin("09:00"))
    tickets = [walkin(cli, f"N{n}") for n in range(4)]
    call(cli)
    call(cli)
    call(cli)
    assert act(cli, "requeue", "w001")["uuid"] == tickets[0]["uuid"]  # any case
    assert act(cli, "cancel", "desk/W002")["uuid"] == tickets[1]["uuid"]
    assert act(cli, "cancel", tickets[2]["uuid"])["uuid"] == tickets[2]["uuid"]
    assert act(cli, "cancel", tickets[3]["uuid"][:8])["uuid"] == tickets[3]["uuid"]
    before = db.snapshot()
    fails(cli("queue", "done", "W005"), 3)
    fails(cli("queue", "done", "A001"), 3)
    fails(cli("queue", "done", "desk/W009"), 3)
    fails(cli("queue", "done", "nowhere/W001"), 3)
    fails(cli("queue", "done", "00000000-0000-4000-8000-000000000000"), 3)
    fails(cli("queue", "done", "abcdef12"), 3)  # a prefix nothing has
    fails(cli("queue", "done", "abc"), 2)  # too short for a prefix, not a number
    assert db.snapshot() == before
    # an exchange's slug is given in any case (Identifiers)
    assert act(cli, "cancel", "DESK/w001")["uuid"] == tickets[0]["uuid"]


def test_a_number_two_exchanges_issued_today_is_ambiguous(
    cli: Any, db: Any, desk: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok(cli("exchanges", "add", "annex", "--name", "Annex", "--timezone", "Europe/Berlin"))
    ok(cli("exchanges", "add", "east", "--name", "East", "--timezone", "Asia/Tokyo"))
    at(monkeypatch, "2027-03-22T14:30:00+00:00")  # Tokyo's Monday ends at 15:00 UTC
    walkin(cli, "Tokyo Monday", slug="east")
    at(monkeypatch, berlin("16:00"))  # 15:00 UTC: Tuesday in Tokyo
    here = walkin(cli, "Here")
    there = walkin(cli, "There", slug="annex")
    before = db.snapshot()
    fails(cli("queue", "cancel", "W001"), 2, "/W001")
    fails(cli("queue", "cancel", "w001"), 2)
    assert db.snapshot() == before
    assert act(cli, "cancel", "annex/W001")["uuid"] == there["uuid"]
    assert ticket_status(db, here["uuid"]) == "waiting"
    assert act(cli, "cancel", "desk/W001")["uuid"] == here["uuid"]


def test_bookings_lifecycle_takes_the_ticket_out_of_the_queue(
    cli: Any, db: Any, desk: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    done = book(cli, "10:00", "ann@example.com")
    gone = book(cli, "10:00", "bo@example.com")
    missed = book(cli, "10:00", "cy@example.com")
    called = book(cli, "10:30", "di@example.com")
    at(monkeypatch, berlin("10:00"))
    tickets = {t["booking"]: t for t in checkin(cli, done, gone, missed, called)}
    at(monkeypatch, berlin("10:30"))
    assert call(cli)["booking"] == done  # 10:00 slot, issued first
    before = db.snapshot()
    fails(cli("bookings", "move", called, f"desk@{MON}T11:00"), 4)  # at the counter: stays
    assert db.snapshot() == before
    ok(cli("bookings", "complete", done))
    assert ticket_status(db, tickets[done]["uuid"]) == "served"
    ok(cli("bookings", "cancel", gone, "--reason", "changed mind"))
    assert ticket_status(db, tickets[gone]["uuid"]) == "left"
    assert seats_held(db, "desk", "10:00") == 2
    ok(cli("bookings", "no-show", missed))
    assert ticket_status(db, tickets[missed]["uuid"]) == "no_show"
    assert [t["booking"] for t in queue(cli)] == [called]
    assert call(cli)["booking"] == called
    ok(cli("bookings", "complete", called))
    assert ticket_status(db, tickets[called]["uuid"]) == "served"
    assert queue(cli) == []
    fails(cli("queue", "next", "desk", "--counter", "1"), 3)
    assert ok(cli("doctor")).exit_code == 0


# Fairness ----------------------------------------------------------------------------


def test_arriving_exactly_late_after_is_on_time(
    cli: Any, desk: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_time = book(cli, "10:00", "ann@example.com")
    late = book(cli, "10:00", "bo@example.com")
    at(monkeypatch, berlin("09:50"))
    early_walker = walkin(cli, "Early walker")
    at(monkeypatch, berlin("10:10"))  # exactly late_after (10 minutes) after the start
    [a] = checkin(cli, on_time)
    at(monkeypatch, berlin("10:11"))  # one minute later
    [b] = checkin(cli, late)
    at(monkeypatch, berlin("10:12"))
    late_walker = walkin(cli, "Late walker")
    order = [t["uuid"] for t in queue(cli)]
    # class 1 first; then walk-ins and the late appointment by arrival
    assert order == [a["uuid"], early_walker["uuid"], b["uuid"], late_walker["uuid"]]
    assert call(cli)["uuid"] == a["uuid"]
    assert call(cli)["uuid"] == early_walker["uuid"]
    assert call(cli)["uuid"] == b["uuid"]


def test_late_after_zero_and_lateness_decided_at_checkin(
    cli: Any, desk: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    exact = book(cli, "10:00", "ann@example.com")
    late = book(cli, "10:00", "bo@example.com")
    later = book(cli, "10:00", "cy@example.com")
    ok(cli("exchanges", "update", "desk", "--late-after", "0"))
    at(monkeypatch, berlin("09:30"))
    walker = walkin(cli, "Walker")
    at(monkeypatch, berlin("10:00"))
    [a] = checkin(cli, exact)  # at the start: on time even with late_after 0
    at(monkeypatch, berlin("10:01"))
    [b] = checkin(cli, late)  # late
    ok(cli("exchanges", "update", "desk", "--late-after", "30m"))
    at(monkeypatch, berlin("10:02"))
    [c] = checkin(cli, later)  # on time under the new setting
    at(monkeypatch, berlin("10:05"))
    # b stays late although it would be on time now: decided when it checked in
    assert [t["uuid"] for t in queue(cli)] == [a["uuid"], c["uuid"], walker["uuid"], b["uuid"]]


def test_an_early_arrival_waits_behind_walkins_until_its_slot_starts(
    cli: Any, desk: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = book(cli, "10:30", "ann@example.com")
    at(monkeypatch, berlin("10:00"))
    [early] = checkin(cli, reference)
    at(monkeypatch, berlin("10:05"))
    walker = walkin(cli, "Walker")
    at(monkeypatch, berlin("10:29"))
    assert [t["uuid"] for t in queue(cli)] == [walker["uuid"], early["uuid"]]
    at(monkeypatch, berlin("10:30"))  # its slot starts: ahead of walk-ins
    assert [t["uuid"] for t in queue(cli)] == [early["uuid"], walker["uuid"]]
    assert call(cli)["uuid"] == early["uuid"]


def test_counters_never_idle_while_an_early_arrival_waits(
    cli: Any, desk: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = book(cli, "11:00", "ann@example.com")
    at(monkeypatch, berlin("10:30"))
    [early] = checkin(cli, reference)
    assert [t["uuid"] for t in queue(cli)] == [early["uuid"]]
    called = call(cli)
    assert called["uuid"] == early["uuid"]
    assert called["waited_minutes"] == 0
    fails(cli("queue", "next", "desk", "--counter", "1"), 3)


def test_ties_by_slot_start_then_arrival(
    cli: Any, desk: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ten_a = book(cli, "10:00", "ann@example.com")
    ten_b = book(cli, "10:00", "bo@example.com")
    half = book(cli, "10:30", "cy@example.com")
    eleven = book(cli, "11:00", "di@example.com")
    eleven_b = book(cli, "11:00", "ed@example.com")
    ok(cli("exchanges", "update", "desk", "--checkin-early", "2h"))
    at(monkeypatch, berlin("09:58"))
    [a] = checkin(cli, ten_a)
    at(monkeypatch, berlin("10:01"))
    [c] = checkin(cli, half)  # arrives before b, for a later slot
    at(monkeypatch, berlin("10:04"))
    [d] = checkin(cli, eleven)
    [e] = checkin(cli, eleven_b)  # same slot, same minute: order of issue
    at(monkeypatch, berlin("10:05"))
    [b] = checkin(cli, ten_b)
    w1 = walkin(cli, "W one")
    w2 = walkin(cli, "W two")  # same minute as w1: order of issue
    at(monkeypatch, berlin("10:06"))
    # class 1 by slot start then arrival; class 2 by arrival; class 3 by slot start
    expected = [a, b, w1, w2, c, d, e]
    assert [t["uuid"] for t in queue(cli)] == [t["uuid"] for t in expected]
    at(monkeypatch, berlin("10:30"))
    expected = [a, b, c, w1, w2, d, e]
    assert [t["uuid"] for t in queue(cli)] == [t["uuid"] for t in expected]
    at(monkeypatch, berlin("11:00"))
    expected = [a, b, c, d, e, w1, w2]
    assert [t["uuid"] for t in queue(cli)] == [t["uuid"] for t in expected]
    for ticket in expected:
        assert call(cli)["uuid"] == ticket["uuid"]


def test_early_arrivals_are_ordered_by_slot_start_not_arrival(
    cli: Any, desk: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    eleven = book(cli, "11:00", "ann@example.com")
    half = book(cli, "10:30", "bo@example.com")
    ok(cli("exchanges", "update", "desk", "--checkin-early", "2h"))
    at(monkeypatch, berlin("10:00"))
    [late_slot] = checkin(cli, eleven)
    at(monkeypatch, berlin("10:02"))
    [soon_slot] = checkin(cli, half)
    assert [t["uuid"] for t in queue(cli)] == [soon_slot["uuid"], late_slot["uuid"]]


# The fairness oracle, from the contract's text alone -------------------------------

PROP_ZONE = ZoneInfo("Asia/Kolkata")  # UTC+05:30, no daylight saving
PROP_FIRST_DAY = date(2027, 4, 1)
PROP_DAYS = 30  # days of slots per exchange; each example uses a day of its own
PROP_SETUP = "2027-03-25T00:00:00+00:00"


def oracle(tickets: list[dict[str, Any]], now: datetime) -> list[str]:
    """The order of the contract: 1. appointments whose slot started, arrived no later
    than late_after after it, by slot start then arrival; 2. walk-ins and late
    appointments by arrival; 3. early appointments by slot start then arrival; ties
    by the order of issue."""

    def key(t: dict[str, Any]) -> tuple[Any, ...]:
        if t["due"] is None or t["arrived"] > t["due"] + timedelta(minutes=t["late_after"]):
            return (2, t["arrived"], t["issue"])
        if t["due"] <= now:
            return (1, t["due"], t["arrived"], t["issue"])
        return (3, t["due"], t["arrived"], t["issue"])

    return [t["uuid"] for t in sorted(tickets, key=key)]


def _prop_setup(cli: Any, db: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[str, date]:
    """An exchange and a day no earlier example used (slots 06:00-20:00, 60 minutes)."""
    state = db.__dict__.setdefault("prop_examples", [0])
    n = state[0]
    state[0] += 1
    slug = f"prop{n // PROP_DAYS}"
    if n % PROP_DAYS == 0:
        at(monkeypatch, PROP_SETUP)
        ok(cli("exchanges", "add", slug, "--name", "Prop", "--timezone", "Asia/Kolkata"))
        ok(cli("exchanges", "update", slug, "--checkin-early", "3h"))
        ok(cli("hours", "set", slug, "daily 06:00-20:00"))
        generate = f"slots generate {slug} --from {PROP_FIRST_DAY} --days {PROP_DAYS}"
        ok(cli(*generate.split(), "--duration", "60", "--capacity", "20"))
    return slug, PROP_FIRST_DAY + timedelta(days=n % PROP_DAYS)


def _local(day: date, minutes: int) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=PROP_ZONE) + timedelta(minutes=minutes)


# An appointment: (slot: 06:00 + n hours, how its arrival is chosen, a number). The
# arrival lies anywhere from 2 hours before the slot to its last minute ("any"), or
# one minute either side of (or exactly at) the slot start + late_after ("late_after")
# or the slot start ("start"): the boundaries of the three classes.
APPOINTMENT = st.tuples(
    st.integers(0, 13),
    st.sampled_from(["any", "late_after", "late_after", "start"]),
    st.integers(-120, 59),
)
# A walk-in arrives at a minute of the day, or (negative) in the same minute as the
# k-th appointment (-1 - k: a tie, decided by the order of issue) or one minute
# before it (-5 - k).
WALKIN = st.one_of(st.integers(240, 1200), st.integers(-8, -1))
# "Now" is some minutes after the last arrival, or (negative: -1 - k) exactly the k-th
# appointment's slot start when no one arrives after it.
NOW = st.one_of(st.integers(0, 240), st.integers(-4, -1))


def _offset(kind: str, value: int, late_after: int) -> int:
    """An appointment's arrival, in minutes from its slot's start."""
    if kind == "any":
        return value
    nudge = value % 3 - 1  # -1, 0 or 1
    return nudge + (late_after if kind == "late_after" else 0)


@settings(max_examples=8)
@given(
    appointments=st.lists(APPOINTMENT, max_size=4),
    walkins=st.lists(WALKIN, max_size=4),
    late_after=st.integers(0, 30),
    wait=NOW,
)
def test_queue_order_matches_the_contract(
    cli: Any,
    db: Any,
    monkeypatch: pytest.MonkeyPatch,
    appointments: list[tuple[int, str, int]],
    walkins: list[int],
    late_after: int,
    wait: int,
) -> None:
    from slotctl.db.engine import transaction
    from slotctl.services.bookings import NewBooking, create_booking

    slug, day = _prop_setup(cli, db, monkeypatch)
    at(monkeypatch, PROP_SETUP)
    ok(cli("exchanges", "update", slug, "--late-after", str(late_after)))
    arrivals: list[tuple[int, str | None, datetime | None]] = []  # (minute, reference, due)
    engine = db.engine()
    try:
        with transaction(engine) as session:
            for k, (hour, kind, value) in enumerate(appointments):
                due = _local(day, (6 + hour) * 60)
                slot = f"{slug}@{day}T{6 + hour:02d}:00"
                email = f"{slug}.{day:%m%d}.{k}@example.com"
                new = NewBooking(f"Appointment {k}", email)
                reference = create_booking(session, slot, new, "test")["reference"]
                minute = (6 + hour) * 60 + _offset(kind, value, late_after)
                arrivals.append((minute, reference, due))
    finally:
        engine.dispose()
    walkins = [
        m if m >= 0 else arrivals[(-1 - m) % 4 % len(arrivals)][0] - (m < -4) if arrivals else 600
        for m in walkins
    ]
    arrivals += [(minute, None, None) for minute in walkins]
    arrivals.sort(key=lambda a: a[0])  # time only moves forward; ties keep this order
    issued: list[dict[str, Any]] = []
    for issue, (minute, reference, due) in enumerate(arrivals):
        arrived = _local(day, minute)
        at(monkeypatch, arrived.isoformat())
        if reference is None:
            ticket = walkin(cli, f"Walk-in {issue}", slug=slug)
        else:
            [ticket] = checkin(cli, reference)
            assert ticket["due_at"] == due.isoformat()  # type: ignore[union-attr]
        assert ticket["arrived_at"] == arrived.isoformat()
        issued.append(
            {"uuid": ticket["uuid"], "arrived": arrived, "due": due, "issue": issue}
            | {"late_after": late_after}
        )
    last = max((a[0] for a in arrivals), default=600)
    starts = [(due - _local(day, 0)).seconds // 60 for _, _, due in arrivals if due is not None]
    if wait < 0 and starts and starts[(-1 - wait) % len(starts)] >= last:
        now = _local(day, starts[(-1 - wait) % len(starts)])  # exactly a slot's start
    else:
        now = _local(day, min(last + abs(wait), 23 * 60 + 59))
    at(monkeypatch, now.isoformat())
    listed = queue(cli, slug)
    expected = oracle(issued, now)
    assert [t["uuid"] for t in listed] == expected
    arrived_at = {t["uuid"]: t["arrived"] for t in issued}
    for t in listed:
        assert t["waited_minutes"] == int((now - arrived_at[t["uuid"]]).total_seconds() // 60)
    result = cli("queue", "next", slug, "--counter", "1", "-f", "json")
    if expected:
        assert ok(result).json()["uuid"] == expected[0]
        assert [t["uuid"] for t in queue(cli, slug)] == expected[1:]
    else:
        fails(result, 3)


def test_the_oracle_is_not_blind() -> None:
    """The oracle itself tells the three classes apart (so the property can fail)."""
    t0 = datetime(2027, 4, 1, 10, 0, tzinfo=UTC)
    tickets = [
        {"uuid": "walk", "arrived": t0, "due": None, "issue": 0, "late_after": 10},
        {"uuid": "early", "arrived": t0, "due": t0 + timedelta(hours=1), "issue": 1},
        {"uuid": "on", "arrived": t0 + timedelta(minutes=10), "due": t0, "issue": 2},
        {"uuid": "late", "arrived": t0 + timedelta(minutes=11), "due": t0, "issue": 3},
    ]
    for t in tickets:
        t["late_after"] = 10
    assert oracle(tickets, t0 + timedelta(minutes=20)) == ["on", "walk", "late", "early"]
    assert oracle(tickets, t0 + timedelta(hours=1)) == ["on", "early", "walk", "late"]


# The waitlist ------------------------------------------------------------------------

WAIT_SLOTS = [(MON, "09:00"), (MON, "09:30"), (TUE, "09:00"), (TUE, "09:30")]


@pytest.fixture
def wait(cli: Any, db: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """``wait``: four one-seat slots (Monday and Tuesday 09:00 and 09:30, Berlin), each
    taken by a confirmed filler; returns ``day Thh:mm`` -> the filler's reference."""
    at(monkeypatch, SETUP)
    ok(cli("exchanges", "add", "wait", "--name", "Wait", "--timezone", "Europe/Berlin"))
    ok(cli("hours", "set", "wait", "mon-fri 09:00-10:00"))
    ok(cli("slots", "generate", "wait", "--from", MON, "--days", "2", "--capacity", "1"))
    assert db.scalar("SELECT count(*) FROM time_slots") == 4
    return {
        f"{day}T{hhmm}": book(
            cli, hhmm, f"filler{n}@example.com", "--confirm", day=day, slug="wait"
        )
        for n, (day, hhmm) in enumerate(WAIT_SLOTS)
    }


def add(cli: Any, email: str, *window: str, slug: str = "wait") -> dict[str, Any]:
    args = [
        "waitlist",
        "add",
        slug,
        "--name",
        email.split("@", maxsplit=1)[0],
        "--email",
        email,
        *window,
    ]
    return ok(cli(*args, "-f", "json")).json()  # type: ignore[no-any-return]


def entries(cli: Any, *args: str) -> list[dict[str, Any]]:
    return ok(cli("waitlist", "list", *args, "-f", "json")).json()  # type: ignore[no-any-return]


def entry(cli: Any, uuid: str) -> dict[str, Any]:
    return next(e for e in entries(cli, "--status", "all") if e["uuid"] == uuid)


def booking_slot(cli: Any, reference: str) -> str:
    """``day Thh:mm`` (Berlin) of the booking's slot."""
    starts = when(show(cli, reference)["starts_at"]).astimezone(BERLIN)
    return f"{starts:%Y-%m-%dT%H:%M}"


def assert_promoted(cli: Any, uuid: str, slot: str) -> str:
    """The entry is booked: a pending booking on ``slot`` made by the waitlist."""
    record = entry(cli, uuid)
    assert record["status"] == "booked", record
    reference = record["booking"]
    assert reference is not None
    booking = show(cli, reference)
    assert booking["status"] == "pending"
    assert booking["customer_email"] == record["customer_email"]
    assert booking_slot(cli, reference) == slot
    [created] = booking["history"]
    assert created["actor"] == "waitlist"
    assert (created["from_status"], created["to_status"]) == (None, "pending")
    return str(reference)


def waiting(cli: Any, uuid: str) -> None:
    record = entry(cli, uuid)
    assert (record["status"], record["booking"]) == ("waiting", None), record


def test_waitlist_add_list_and_remove(
    cli: Any, db: Any, wait: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    record = add(
        cli, "Ann@Example.com", "--date", MON, "--between", "9:00-10:00", "--phone", "+49 30 1"
    )
    assert list(record) == ENTRY_KEYS
    assert record["exchange"] == "wait"
    assert record["customer_email"] == "ann@example.com"
    assert record["customer_phone"] == "+49 30 1"
    assert (record["from"], record["to"], record["between"]) == (MON, MON, "09:00-10:00")
    assert (record["status"], record["booking"]) == ("waiting", None)
    assert when(record["created_at"]) == when(SETUP)
    at(monkeypatch, "2027-03-20T12:01:00+00:00")
    default = add(cli, "bo@example.com")  # from today, 30 days
    assert (default["from"], default["to"], default["between"]) == (
        "2027-03-20",
        "2027-04-18",
        None,
    )
    at(monkeypatch, "2027-03-20T12:02:00+00:00")
    only_from = add(cli, "cy@example.com", "--from", TUE)
    assert (only_from["from"], only_from["to"]) == (TUE, "2027-04-21")
    only_to = add(cli, "di@example.com", "--to", "2027-03-25")
    assert (only_to["from"], only_to["to"]) == ("2027-03-20", "2027-03-25")
    uuids = [record["uuid"], default["uuid"], only_from["uuid"], only_to["uuid"]]
    assert [e["uuid"] for e in entries(cli, "wait")] == uuids  # first come first
    assert [e["uuid"] for e in entries(cli)] == uuids
    rows = list(csv.reader(io.StringIO(ok(cli("waitlist", "list", "-f", "csv")).stdout)))
    assert rows[0] == ENTRY_KEYS
    assert len(rows) == 5
    removed = ok(cli("waitlist", "remove", default["uuid"][:8], "-f", "json")).json()
    assert removed["status"] == "removed"
    assert [e["uuid"] for e in entries(cli, "wait")] == [uuids[0], uuids[2], uuids[3]]
    assert [e["uuid"] for e in entries(cli, "--status", "removed")] == [default["uuid"]]
    assert len(entries(cli, "--status", "all")) == 4
    assert entries(cli, "--status", "booked") == []
    before = db.snapshot()
    fails(cli("waitlist", "remove", default["uuid"]), 4)  # not waiting any more
    fails(cli("waitlist", "remove", "00000000-0000-4000-8000-000000000000"), 3)
    fails(cli("waitlist", "remove", "abc"), 2)
    fails(cli("waitlist", "list", "--status", "sleeping"), 2)
    fails(cli("waitlist", "list", "nowhere"), 3)
    assert db.snapshot() == before
    again = add(cli, "bo@example.com", "--date", TUE)  # removed: may wait again
    assert again["status"] == "waiting"


@pytest.mark.parametrize(
    ("window", "code"),
    [
        (["--date", MON, "--from", MON], 2),
        (["--date", MON, "--to", TUE], 2),
        (["--from", TUE, "--to", MON], 2),
        (["--date", "2027-03-19"], 2),  # yesterday: the window ended
        (["--from", "2027-03-01", "--to", "2027-03-19"], 2),
        (["--date", "someday"], 2),
        (["--between", "10:00-09:00"], 2),
        (["--between", "09:00-09:00"], 2),
        (["--between", "25:00-26:00"], 2),
        (["--between", "09:00"], 2),
        (["--between", "9-10"], 2),
        (["--between", ""], 2),
        (["--email", "nope"], 2),
    ],
)
def test_waitlist_add_refuses_bad_input(
    cli: Any, db: Any, wait: dict[str, str], window: list[str], code: int
) -> None:
    before = db.snapshot()
    args = ["waitlist", "add", "wait", "--name", "Ann", "--email", "ann@example.com"]
    if "--email" in window:
        args = ["waitlist", "add", "wait", "--name", "Ann"]
    fails(cli(*args, *window), code)
    assert db.snapshot() == before


def test_waitlist_add_conflicts(
    cli: Any, db: Any, wait: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    add(cli, "ann@example.com", "--from", MON, "--to", TUE)
    today = add(cli, "cy@example.com", "--date", "2027-03-20")  # a window ending today is fine
    assert today["status"] == "waiting"
    before = db.snapshot()
    fails(cli("waitlist", "add", "wait", "--name", "A", "--email", "ANN@example.com"), 4)
    fails(
        cli("waitlist", "add", "wait", "--name", "A", "--email", "ann@example.com", "--date", TUE),
        4,
    )
    fails(cli("waitlist", "add", "nowhere", "--name", "A", "--email", "x@example.com"), 3)
    assert db.snapshot() == before
    later = add(cli, "ann@example.com", "--date", WED)  # not overlapping: fine
    assert later["status"] == "waiting"
    ok(cli("exchanges", "update", "wait", "--inactive"))
    before = db.snapshot()
    fails(cli("waitlist", "add", "wait", "--name", "B", "--email", "bo@example.com"), 4)
    assert db.snapshot() == before


def test_a_cancel_books_the_earliest_matching_entry(
    cli: Any, db: Any, wait: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = add(cli, "ann@example.com", "--date", MON)
    at(monkeypatch, "2027-03-20T12:01:00+00:00")
    second = add(cli, "bo@example.com", "--date", MON)
    at(monkeypatch, "2027-03-20T12:02:00+00:00")
    third = add(cli, "cy@example.com", "--date", MON)
    at(monkeypatch, "2027-03-20T13:00:00+00:00")
    ok(cli("bookings", "cancel", wait[f"{MON}T09:30"]))
    reference = assert_promoted(cli, first["uuid"], f"{MON}T09:30")
    assert seats_held(db, "wait", "09:30") == 1  # the freed seat was taken at once
    assert when(show(cli, reference)["created_at"]) == when("2027-03-20T13:00:00+00:00")
    waiting(cli, second["uuid"])
    assert [e["uuid"] for e in entries(cli, "wait")] == [second["uuid"], third["uuid"]]
    assert [e["booking"] for e in entries(cli, "--status", "booked")] == [reference]
    ok(cli("bookings", "cancel", wait[f"{MON}T09:00"]))
    assert_promoted(cli, second["uuid"], f"{MON}T09:00")
    waiting(cli, third["uuid"])
    ok(cli("bookings", "cancel", reference))  # the waitlist's own booking, cancelled
    assert_promoted(cli, third["uuid"], f"{MON}T09:30")
    assert entry(cli, first["uuid"])["status"] == "booked"  # keeps its (cancelled) booking
    assert ok(cli("doctor")).exit_code == 0


def test_entries_outside_the_dates_or_hours_are_skipped(
    cli: Any, wait: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    tuesday = add(cli, "ann@example.com", "--date", TUE)
    at(monkeypatch, "2027-03-20T12:01:00+00:00")
    half_past = add(cli, "bo@example.com", "--date", MON, "--between", "09:30-10:00")
    at(monkeypatch, "2027-03-20T12:02:00+00:00")
    too_short = add(cli, "cy@example.com", "--date", MON, "--between", "09:00-09:29")
    at(monkeypatch, "2027-03-20T12:03:00+00:00")
    exact = add(cli, "di@example.com", "--from", MON, "--to", MON, "--between", "09:00-09:30")
    ok(cli("bookings", "cancel", wait[f"{MON}T09:00"]))
    assert_promoted(cli, exact["uuid"], f"{MON}T09:00")  # the whole slot fits exactly
    for uuid in (tuesday["uuid"], half_past["uuid"], too_short["uuid"]):
        waiting(cli, uuid)
    ok(cli("bookings", "cancel", wait[f"{MON}T09:30"]))
    assert_promoted(cli, half_past["uuid"], f"{MON}T09:30")
    waiting(cli, tuesday["uuid"])
    ok(cli("bookings", "cancel", wait[f"{TUE}T09:30"]))
    assert_promoted(cli, tuesday["uuid"], f"{TUE}T09:30")
    waiting(cli, too_short["uuid"])


def test_expire_pending_gives_the_seat_to_the_next_entry_in_turn(
    cli: Any, db: Any, wait: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ok(cli("bookings", "cancel", wait[f"{MON}T09:00"]))
    stale = book(cli, "09:00", "stale@example.com", slug="wait")  # pending, created 12:00
    first = add(cli, "ann@example.com", "--date", MON, "--between", "09:00-09:30")
    at(monkeypatch, "2027-03-20T12:01:00+00:00")
    second = add(cli, "bo@example.com", "--date", MON, "--between", "09:00-09:30")
    at(monkeypatch, "2027-03-20T12:31:00+00:00")
    result = ok(cli("bookings", "expire-pending", "-f", "json")).json()
    assert result == {"expired": 1, "waitlist_expired": 0}
    assert show(cli, stale)["status"] == "cancelled"
    given = assert_promoted(cli, first["uuid"], f"{MON}T09:00")
    waiting(cli, second["uuid"])
    at(monkeypatch, "2027-03-20T12:45:00+00:00")
    assert ok(cli("bookings", "expire-pending", "-f", "json")).json()["expired"] == 0
    at(monkeypatch, "2027-03-20T13:02:00+00:00")  # the waitlist's booking is 31 minutes old
    assert ok(cli("bookings", "expire-pending", "-f", "json")).json()["expired"] == 1
    expired = show(cli, given)
    assert (expired["status"], expired["cancellation_reason"]) == ("cancelled", "expired")
    assert expired["history"][-1]["actor"] == "system"
    last = assert_promoted(cli, second["uuid"], f"{MON}T09:00")
    assert seats_held(db, "wait", "09:00") == 1
    at(monkeypatch, "2027-03-20T14:00:00+00:00")
    ok(cli("bookings", "expire-pending"))
    assert show(cli, last)["status"] == "cancelled"
    assert seats_held(db, "wait", "09:00") == 0  # nobody left waiting
    assert ok(cli("doctor")).exit_code == 0


def test_a_seat_of_a_started_slot_is_not_given(
    cli: Any, db: Any, wait: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    at(monkeypatch, "2027-03-23T08:20:00+00:00")  # Tuesday 09:20: Tuesday's 09:00 slot started
    late = add(cli, "ann@example.com", "--date", TUE, "--between", "09:00-09:30")
    waiting(cli, late["uuid"])
    ok(cli("bookings", "cancel", wait[f"{TUE}T09:00"]))  # freed after its start
    waiting(cli, late["uuid"])
    assert seats_held(db, "wait", "09:00", TUE) == 0


def test_moving_a_booking_away_frees_its_seat_for_the_waitlist(
    cli: Any, db: Any, wait: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monday = add(cli, "ann@example.com", "--date", MON, "--between", "09:00-09:30")
    ok(cli("slots", "update", f"wait@{TUE}T09:00", "--capacity", "2"))  # nobody waits there
    waiting(cli, monday["uuid"])
    ok(cli("bookings", "move", wait[f"{MON}T09:00"], f"wait@{TUE}T09:00"))
    assert_promoted(cli, monday["uuid"], f"{MON}T09:00")
    assert seats_held(db, "wait", "09:00") == 1
    assert seats_held(db, "wait", "09:00", TUE) == 2


def test_a_capacity_raise_books_waiting_entries(
    cli: Any, db: Any, wait: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = add(cli, "ann@example.com", "--date", MON)
    at(monkeypatch, "2027-03-20T12:01:00+00:00")
    second = add(cli, "bo@example.com", "--date", MON)
    at(monkeypatch, "2027-03-20T12:02:00+00:00")
    third = add(cli, "cy@example.com", "--date", MON)
    at(monkeypatch, "2027-03-20T12:03:00+00:00")
    add(cli, "di@example.com", "--date", TUE)
    raised = ok(cli("slots", "update", f"wait@{MON}T09:30", "--capacity", "2", "-f", "json"))
    assert raised.json()["max_capacity"] == 2
    assert_promoted(cli, first["uuid"], f"{MON}T09:30")
    assert seats_held(db, "wait", "09:30") == 2
    waiting(cli, second["uuid"])
    bulk = cli("slots", "capacity", "wait", "--from", MON, "--to", TUE, "--set", "2")
    ok(bulk)
    booked = {e["customer_email"]: e for e in entries(cli, "--status", "booked")}
    assert set(booked) == {"ann@example.com", "bo@example.com", "di@example.com"}
    assert booking_slot(cli, booked["bo@example.com"]["booking"]) == f"{MON}T09:00"
    assert booking_slot(cli, booked["di@example.com"]["booking"]) in (
        f"{TUE}T09:00",
        f"{TUE}T09:30",
    )
    waiting(cli, third["uuid"])  # Monday has no seat left
    assert ok(cli("doctor")).exit_code == 0


def test_an_unblock_books_waiting_entries(
    cli: Any, db: Any, wait: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = add(cli, "ann@example.com", "--date", MON, "--between", "09:00-09:30")
    at(monkeypatch, "2027-03-20T12:01:00+00:00")
    second = add(cli, "bo@example.com", "--date", TUE)
    ok(cli("slots", "block", f"wait@{MON}T09:00"))
    ok(cli("slots", "block", "wait", "--from", TUE, "--to", TUE))
    ok(cli("bookings", "cancel", wait[f"{MON}T09:00"], wait[f"{TUE}T09:30"]))
    waiting(cli, first["uuid"])  # a blocked slot takes no bookings, the waitlist's either
    waiting(cli, second["uuid"])
    assert seats_held(db, "wait", "09:00") == 0
    ok(cli("slots", "unblock", f"wait@{MON}T09:00"))
    assert_promoted(cli, first["uuid"], f"{MON}T09:00")
    waiting(cli, second["uuid"])
    ok(cli("slots", "unblock", "wait", "--from", TUE, "--to", TUE))
    assert_promoted(cli, second["uuid"], f"{TUE}T09:30")


def test_generated_slots_book_waiting_entries(
    cli: Any, db: Any, wait: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    wednesday = add(cli, "ann@example.com", "--date", WED, "--between", "09:30-10:00")
    at(monkeypatch, "2027-03-20T12:01:00+00:00")
    other = add(cli, "bo@example.com", "--date", WED)
    dry = ok(cli("slots", "generate", "wait", "--from", WED, "--days", "1", "--dry-run"))
    assert dry.exit_code == 0
    waiting(cli, wednesday["uuid"])  # a dry run books nobody
    ok(cli("slots", "generate", "wait", "--from", WED, "--days", "1", "--capacity", "1"))
    assert_promoted(cli, wednesday["uuid"], f"{WED}T09:30")
    assert_promoted(cli, other["uuid"], f"{WED}T09:00")
    assert ok(cli("doctor")).exit_code == 0


def test_a_new_entry_takes_a_seat_free_now(
    cli: Any, db: Any, wait: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ok(cli("bookings", "cancel", wait[f"{TUE}T09:30"]))
    elsewhere = add(cli, "ann@example.com", "--date", MON)  # the free seat is on Tuesday
    assert (elsewhere["status"], elsewhere["booking"]) == ("waiting", None)
    record = add(cli, "bo@example.com", "--from", MON, "--to", TUE)
    assert record["status"] == "booked"
    assert record["booking"] is not None
    assert_promoted(cli, record["uuid"], f"{TUE}T09:30")
    assert seats_held(db, "wait", "09:30", TUE) == 1


def test_an_exchange_made_active_books_waiting_entries(
    cli: Any, db: Any, wait: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    record = add(cli, "ann@example.com", "--date", MON)
    ok(cli("exchanges", "update", "wait", "--inactive"))
    ok(cli("bookings", "cancel", wait[f"{MON}T09:00"]))
    waiting(cli, record["uuid"])  # an inactive exchange takes no bookings
    ok(cli("exchanges", "update", "wait", "--active"))
    assert_promoted(cli, record["uuid"], f"{MON}T09:00")


def test_a_customer_with_an_overlapping_booking_is_passed_over(
    cli: Any, db: Any, wait: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ok(cli("exchanges", "add", "annex", "--name", "Annex", "--timezone", "Europe/Berlin"))
    ok(cli("hours", "set", "annex", "mon-fri 09:00-10:00"))
    ok(cli("slots", "generate", "annex", "--from", MON, "--days", "1"))
    book(cli, "09:00", "ann@example.com", slug="annex")  # Ann is busy 09:00-09:30 Monday
    busy = add(cli, "ann@example.com", "--date", MON)
    at(monkeypatch, "2027-03-20T12:01:00+00:00")
    free = add(cli, "bo@example.com", "--date", MON)
    ok(cli("bookings", "cancel", wait[f"{MON}T09:00"]))
    assert_promoted(cli, free["uuid"], f"{MON}T09:00")
    waiting(cli, busy["uuid"])  # passed over, still first in line
    ok(cli("bookings", "cancel", wait[f"{MON}T09:30"]))  # touches 09:30: no overlap
    assert_promoted(cli, busy["uuid"], f"{MON}T09:30")


def test_the_minimum_notice_holds_for_the_waitlist(
    cli: Any, db: Any, wait: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ok(cli("exchanges", "update", "wait", "--min-notice", "2d"))  # Monday 08:00 UTC is 44h away
    monday = add(cli, "ann@example.com", "--date", MON)
    at(monkeypatch, "2027-03-20T12:01:00+00:00")
    tuesday = add(cli, "bo@example.com", "--date", TUE)
    ok(cli("bookings", "cancel", wait[f"{MON}T09:00"], wait[f"{TUE}T09:00"]))
    waiting(cli, monday["uuid"])
    assert seats_held(db, "wait", "09:00") == 0
    assert_promoted(cli, tuesday["uuid"], f"{TUE}T09:00")


def test_entries_whose_window_passed_expire(
    cli: Any, db: Any, wait: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monday = add(cli, "ann@example.com", "--date", MON)
    longer = add(cli, "bo@example.com", "--from", MON, "--to", TUE)
    ok(cli("bookings", "cancel", wait[f"{MON}T09:00"]))
    booked = entry(cli, monday["uuid"])
    assert booked["status"] == "booked"
    other = add(cli, "cy@example.com", "--date", MON)
    at(monkeypatch, "2027-03-22T22:59:00+00:00")  # 23:59 Monday in Berlin
    result = ok(cli("bookings", "expire-pending", "-f", "json")).json()
    assert result["waitlist_expired"] == 0
    waiting(cli, other["uuid"])
    at(monkeypatch, "2027-03-22T23:00:00+00:00")  # Tuesday in Berlin, still Monday in UTC
    result = ok(cli("bookings", "expire-pending", "-f", "json")).json()
    assert result["waitlist_expired"] == 1
    assert entry(cli, other["uuid"])["status"] == "expired"
    assert entry(cli, monday["uuid"])["status"] == "booked"  # booked entries stay booked
    waiting(cli, longer["uuid"])  # its window runs to Tuesday
    assert [e["uuid"] for e in entries(cli, "--status", "expired")] == [other["uuid"]]
    table = ok(cli("bookings", "expire-pending"))
    assert "Expired 0 pending bookings." in table.stdout
    fails(cli("waitlist", "remove", other["uuid"]), 4)
    at(monkeypatch, "2027-03-24T12:00:00+00:00")
    assert ok(cli("bookings", "expire-pending", "-f", "json")).json()["waitlist_expired"] == 1
    assert entry(cli, longer["uuid"])["status"] == "expired"


# The migration ---------------------------------------------------------------------

OLD_TABLES = ("exchanges", "business_hours", "closures", "time_slots", "bookings", "booking_events")


def _old_data(cli: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Data revision 0001 could hold, made through the commands on a current database:
    an exchange, hours, a closure, slots, bookings in every old status with events."""
    at(monkeypatch, SETUP)
    ok(cli("exchanges", "add", "old", "--name", "Old", "--timezone", "Europe/Berlin"))
    ok(cli("hours", "set", "old", "mon-fri 09:00-12:00"))
    ok(cli("hours", "closures", "add", "old", "2027-03-26", "--reason", "Holiday"))
    ok(cli("slots", "generate", "old", "--from", MON, "--days", "5", "--capacity", "2"))
    refs = [book(cli, "09:00", f"c{n}@example.com", slug="old") for n in range(2)]
    refs += [book(cli, "10:00", f"d{n}@example.com", "--confirm", slug="old") for n in range(2)]
    ok(cli("bookings", "confirm", refs[0]))
    ok(cli("bookings", "cancel", refs[1], "--reason", "ill"))
    ok(cli("bookings", "move", refs[2], f"old@{TUE}T10:00"))
    at(monkeypatch, "2027-03-22T09:05:00+00:00")
    ok(cli("bookings", "complete", refs[0]))
    ok(cli("bookings", "no-show", refs[3]))
    at(monkeypatch, SETUP)
    return refs


def _rows(conn: Any, name: str, columns: list[str] | None = None) -> list[dict[str, Any]]:
    """Every row of a table (those columns), by id."""
    from sqlalchemy import MetaData, Table, select

    table = Table(name, MetaData(), autoload_with=conn)
    names = columns or [c.name for c in table.columns]
    query = select(*[table.c[c] for c in names]).order_by(table.c.id)
    return [dict(zip(names, row, strict=True)) for row in conn.execute(query)]


def _copy_old_columns(source: Any, target: Any) -> dict[str, list[dict[str, Any]]]:
    """Copy the rows of the 0001 tables, in the columns 0001 has, from ``source`` to
    the database ``target`` at revision 0001; the rows copied."""
    from sqlalchemy import MetaData, Table, insert, text

    copied = {}
    with source.connect() as src, target.begin() as dst:
        for name in OLD_TABLES:
            table = Table(name, MetaData(), autoload_with=dst)
            rows = _rows(src, name, [c.name for c in table.columns])
            if rows:
                dst.execute(insert(table), rows)
            copied[name] = rows
            if dst.dialect.name == "postgresql":  # as if the rows had been inserted there
                dst.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'),"
                        f" (SELECT coalesce(max(id), 0) + 1 FROM {name}), false)"
                    )
                )
    return copied


def test_upgrading_from_0001_keeps_every_row(
    cli: Any, db: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """A database at revision 0001 upgrades to 0002 keeping every row (on SQLite the
    rebuilt bookings table must not cascade its booking events away)."""
    from slotctl.db.engine import make_engine
    from slotctl.db.migrate import upgrade
    from tests.conftest import drop_pg_schema, new_pg_schema

    refs = _old_data(cli, monkeypatch)
    source = make_engine(db.url)
    if db.kind == "sqlite":
        target_url, schema = f"sqlite:///{tmp_path / 'old.db'}", None
    else:
        schema, target_url = new_pg_schema()
    target = make_engine(target_url)
    try:
        upgrade(target, "0001")
        copied = _copy_old_columns(source, target)
        assert len(copied["booking_events"]) >= 9
        upgrade(target)
        with target.connect() as conn:
            for name, rows in copied.items():
                assert _rows(conn, name, list(rows[0])) == rows, f"{name} changed"
            assert {
                (r["checkin_early_minutes"], r["late_after_minutes"])
                for r in _rows(conn, "exchanges")
            } == {(30, 10)}
            new_columns = ["arrived_at", "called_at", "counter"]
            assert {tuple(r.values()) for r in _rows(conn, "bookings", new_columns)} == {
                (None, None, None)
            }
        monkeypatch.setenv("SLOTCTL_DATABASE_URL", target_url)
        current = ok(cli("db", "current", "-f", "json")).json()
        assert (current["current"], current["up_to_date"]) == ("0002", True)
        assert ok(cli("doctor")).exit_code == 0
        history = show(cli, refs[0])["history"]
        assert [h["to_status"] for h in history] == ["pending", "confirmed", "completed"]
        at(monkeypatch, "2027-03-23T08:50:00+00:00")  # Tuesday 09:50 in Berlin
        [ticket] = checkin(cli, refs[2])  # the moved booking, now at Tuesday 10:00
        assert ticket["number"] == "A001"
        assert add(cli, "late@example.com", "--date", TUE, slug="old")["status"] == "booked"
    finally:
        target.dispose()
        source.dispose()
        if schema is not None:
            drop_pg_schema(schema)
