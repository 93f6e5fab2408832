"""``slotctl demo``: a morning at the first exchange's front desk, and its waitlist.

The demo plays the morning through the real services, up to now: after it, the queue
is in fair order, every ticket status is there, the waitlist gave a freed seat away by
itself, nothing happened after now, and ``doctor`` is clean. On both databases.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

WEDNESDAY = "2027-03-10T10:00:00+00:00"  # 11:00 in Berlin: downtown's counters are open
SUNDAY = "2027-03-14T12:00:00+00:00"  # downtown is closed: its last day was Saturday
TICKET_STATUSES = {"waiting", "called", "served", "no_show", "left"}
ENTRY_STATUSES = {"waiting", "booked", "removed", "expired"}


def _utc(value: datetime | str) -> datetime:
    """An instant as the database returned it (SQLite: naive UTC text), aware."""
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _demo(cli: Any, monkeypatch: Any, now: str, *args: str) -> Any:
    monkeypatch.setenv("SLOTCTL_NOW", now)
    result = cli("demo", *args)
    assert result.exit_code == 0, result.stderr
    return result


def _fairness_class(ticket: dict[str, Any], now: datetime, late_after: int) -> int:
    """The contract's fairness class, worked out from the ticket's own fields."""
    arrived = datetime.fromisoformat(ticket["arrived_at"])
    if ticket["due_at"] is None:
        return 2
    due = datetime.fromisoformat(ticket["due_at"])
    if arrived > due + timedelta(minutes=late_after):
        return 2  # late: queues like a walk-in
    return 1 if due <= now else 3


def _queue_key(ticket: dict[str, Any], now: datetime, late_after: int) -> tuple[Any, ...]:
    rank = _fairness_class(ticket, now, late_after)
    arrived = datetime.fromisoformat(ticket["arrived_at"])
    due = datetime.fromisoformat(ticket["due_at"]) if rank != 2 else arrived
    return rank, due, arrived


def test_the_demo_leaves_a_fair_queue_and_tickets_of_every_status(
    cli: Any, db: Any, monkeypatch: Any
) -> None:
    shown = _demo(cli, monkeypatch, WEDNESDAY)
    assert "Queue at downtown now" in shown.stdout
    assert "Front desk at downtown: 14 tickets" in shown.stdout
    now = datetime.fromisoformat(WEDNESDAY)
    late_after = cli("exchanges", "show", "downtown", "-f", "json").json()["late_after_minutes"]

    queue = cli("queue", "list", "downtown", "-f", "json")
    assert queue.exit_code == 0, queue.stderr
    waiting = queue.json()
    assert [t["number"] for t in waiting] == ["A006", "W006", "A004", "W007", "A007"]
    keys = [_queue_key(t, now, late_after) for t in waiting]
    assert keys == sorted(keys)
    assert {key[0] for key in keys} == {1, 2, 3}  # on time, walk-ins and late, early
    assert all(t["status"] == "waiting" for t in waiting)
    for ticket in waiting:
        arrived = datetime.fromisoformat(ticket["arrived_at"])
        assert ticket["waited_minutes"] == (now - arrived) // timedelta(minutes=1)
    late = [t for t in waiting if t["kind"] == "appointment" and _fairness_class(t, now, 10) == 2]
    assert [t["customer_name"] for t in late] == ["Dmitri Rossi"]

    statuses = dict(db.query("SELECT status, count(*) FROM tickets GROUP BY status"))
    assert set(statuses) == TICKET_STATUSES, statuses
    assert statuses["waiting"] == len(waiting)
    assert db.scalar("SELECT count(DISTINCT kind) FROM tickets") == 2
    early = db.scalar(
        "SELECT count(*) FROM tickets WHERE kind = 'appointment' AND arrived_at < due_at"
    )
    assert early >= 2
    assert (
        db.scalar(
            "SELECT count(*) FROM tickets WHERE status = 'called' "
            "AND counter IS NOT NULL AND called_at IS NOT NULL"
        )
        == 1
    )
    # Every ticket of an appointment moved its booking along: served ones completed it.
    rows = db.query(
        "SELECT t.status, b.status FROM tickets t JOIN bookings b ON b.id = t.booking_id"
    )
    expected = {"waiting": "arrived", "called": "arrived", "served": "completed"}
    assert rows
    assert all(expected[ticket] == booking for ticket, booking in rows), rows

    # Ben was requeued (he fetched his passport), kept his place and was served.
    ben = db.scalar("SELECT reference FROM bookings WHERE customer_email = 'ben.novak@example.com'")
    shown_ben = cli("bookings", "show", ben, "-f", "json").json()
    notes = [entry["note"] for entry in shown_ben["history"]]
    assert notes[-4:] == ["called to 2", "back in the queue", "called to 1", None]
    assert shown_ben["status"] == "completed"

    # The next counter to call gets the on-time appointment first.
    called = cli("queue", "next", "downtown", "--counter", "2", "-f", "json")
    assert called.exit_code == 0, called.stderr
    assert called.json()["number"] == "A006"
    assert cli("doctor").exit_code == 0


def test_the_demo_waitlist_gave_a_freed_seat_to_the_earliest_entry(
    cli: Any, db: Any, monkeypatch: Any
) -> None:
    _demo(cli, monkeypatch, WEDNESDAY)
    entries = cli("waitlist", "list", "--status", "all", "-f", "json").json()
    assert {e["status"] for e in entries} == ENTRY_STATUSES
    booked = [e for e in entries if e["status"] == "booked"]
    assert len(booked) == 1
    entry = booked[0]
    rivals = [
        e
        for e in entries
        if e["status"] == "waiting"
        and (e["from"], e["between"]) == (entry["from"], entry["between"])
    ]
    assert len(rivals) >= 2
    assert all(entry["created_at"] < e["created_at"] for e in rivals)  # first come

    booking = cli("bookings", "show", entry["booking"], "-f", "json").json()
    assert booking["status"] == "pending"
    assert booking["customer_name"] == entry["customer_name"]
    assert [(h["actor"], h["to_status"]) for h in booking["history"]] == [("waitlist", "pending")]
    assert booking["starts_at"][:10] == entry["from"]
    start, end = entry["between"].split("-")
    assert start <= booking["starts_at"][11:16]
    assert booking["ends_at"][11:16] <= end
    # The seat was freed by a cancel on that slot, just before.
    freed = db.query(
        "SELECT b.cancellation_reason, b.cancelled_at FROM bookings b "
        "JOIN time_slots s ON s.id = b.time_slot_id "
        "WHERE s.uuid = :slot AND b.status = 'cancelled'",
        slot=booking["slot"],
    )
    assert len(freed) == 1
    assert freed[0][0] == "customer called"
    history = db.query(
        "SELECT e.actor FROM booking_events e JOIN bookings b ON b.id = e.booking_id "
        "WHERE b.reference = :r",
        r=entry["booking"],
    )
    assert history == [("waitlist",)]
    expired = [e for e in entries if e["status"] == "expired"]
    assert expired
    assert all(e["to"] < WEDNESDAY[:10] for e in expired)
    assert cli("doctor").exit_code == 0


def test_the_demo_is_deterministic_for_a_seed(cli: Any, db: Any, monkeypatch: Any) -> None:
    tickets = (
        "SELECT kind, seq, customer_name, status, arrived_at, called_at, served_at, counter, "
        "due_at, on_time FROM tickets ORDER BY kind, seq"
    )
    entries = (
        "SELECT customer_name, customer_email, from_date, to_date, between_start, status, "
        "created_at FROM waitlist_entries ORDER BY created_at"
    )
    bookings = "SELECT customer_email, status, created_at FROM bookings ORDER BY customer_email"
    first = _demo(cli, monkeypatch, WEDNESDAY, "--seed", "11", "-f", "json").json()
    assert first["seed"] == 11
    assert set(first["tickets"]) == TICKET_STATUSES
    assert all(first["tickets"].values()), first["tickets"]
    assert set(first["waitlist"]) == ENTRY_STATUSES
    assert all(first["waitlist"].values()), first["waitlist"]
    assert first["tickets"] == dict(
        db.query("SELECT status, count(*) FROM tickets GROUP BY status")
    )
    snapshot = [db.query(sql) for sql in (tickets, entries, bookings)]
    again = _demo(cli, monkeypatch, WEDNESDAY, "--reset", "--yes", "--seed", "11", "-f", "json")
    assert again.json() == first
    assert [db.query(sql) for sql in (tickets, entries, bookings)] == snapshot


def test_on_a_closed_day_the_demo_desk_has_served_everybody(
    cli: Any, db: Any, monkeypatch: Any
) -> None:
    summary = _demo(cli, monkeypatch, SUNDAY, "-f", "json").json()
    assert summary["tickets"]["waiting"] == summary["tickets"]["called"] == 0
    assert summary["tickets"]["served"] > 0
    assert summary["waitlist"]["booked"] == 1
    queue = cli("queue", "list", "downtown", "-f", "json")
    assert queue.exit_code == 0
    assert queue.json() == []
    days = db.query("SELECT DISTINCT day FROM tickets")
    assert [str(day[0])[:10] for day in days] == ["2027-03-13"]  # Saturday, its last day
    # Nothing of the demo happened after now, and every invariant holds.
    now = datetime.fromisoformat(SUNDAY)
    for sql in (
        "SELECT max(served_at) FROM tickets",
        "SELECT max(updated_at) FROM tickets",
        "SELECT max(at) FROM booking_events",
        "SELECT max(updated_at) FROM bookings",
        "SELECT max(updated_at) FROM waitlist_entries",
    ):
        assert _utc(db.scalar(sql)) <= now, sql
    assert cli("doctor").exit_code == 0
