"""The front desk in ``stats`` and ``doctor``, on SQLite and PostgreSQL.

A morning is built through the commands (check-ins, walk-ins, calls, service, a
cancellation that the waitlist fills) with the clock set at every step; ``stats``
must give the waiting and service figures worked out by hand below, to the last
decimal on both databases, and ``doctor`` must find nothing. Then each front-desk
invariant is broken with one SQL statement, and ``doctor`` must name it (exit 4).

"desk" (Europe/Berlin, UTC+01:00 in early March 2027) opens Mon-Tue 09:00-12:00 with
60-minute slots of 2 seats; "airport" (UTC) only takes walk-ins. Times in UTC; local
Berlin time is one hour later. Monday is 2027-03-01.

  ticket        arrived   local h  called        served    wait (min)   service (min)
  desk A001 Ann 07:50     8        08:00 c1      08:20     10           20
  desk W001 Wal 07:55     8        08:20 c1      08:40     25           20
  desk A002 Bob 08:05     9        08:05:30 c2   08:30     0.5          24.5
  desk A003 Cat 08:40     9        09:00 c1      09:10     20           10
  desk A004 Eve 08:50     9        09:02:00.5 c2 09:20     12.00833     17.99167
  desk W002 Wim 08:55     9        09:10 c1      no-show   15           -
  desk W003 Xia 09:25     10       -             left      -            -
  desk W004 Yul 09:40     10       -             (waits)   -            -
  desk A005 Fay 09:45     10       -             (waits)   -            -
  airport W001  10:00     10       10:03 a1      10:10     3            7
  Tue desk W001 09:15     10       09:45 c1      10:00     30           15
  Wed desk W001 08:00     9        08:07 c1      (called)  7 (outside the period)

Waits over Mon-Tue (called tickets): 0.5, 3, 10, 12.00833, 15, 20, 25, 30 (n = 8):
  median (12.00833 + 15) / 2 = 13.50417 -> 13.5;
  p90 at rank 1 + 0.9 * 7 = 7.3: 25 + 0.3 * (30 - 25) = 26.5.
  desk alone 0.5, 10, 12.00833, 15, 20, 25, 30: median 15.0, p90 at rank 6.4:
  25 + 0.4 * 5 = 27.0; airport alone: 3.0 and 3.0.
Service (called and served): 7, 10, 15, 17.99167, 20, 20, 24.5: median 17.99;
  desk alone 10, 15, 17.99167, 20, 20, 24.5: (17.99167 + 20) / 2 = 18.99583 -> 19.0;
  airport 7.0.
Walk-ins served: desk W001 (Mon), W001 (Tue); airport W001: 3 (desk 2, airport 1).
Waitlist bookings: Eve's (Dan cancelled the 10:00 seat she waited for): 1.
The map (local weekday and hour of arrival, both exchanges):
  mon: 0.5, 3, 10, 12.00833, 15, 20, 25 -> 12.01 (n 7); 8h: 10, 25 -> 17.5;
  9h: 0.5, 12.00833, 15, 20 -> 13.5; 10h: 3 -> 3.0;  tue: 30 (n 1), 10h: 30.0.
Bookings on desk's Mon-Tue slots: Ann, Bob, Cat, Eve completed; Fay arrived; Dan
cancelled.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

MON = "2027-03-01"
STATUSES = ["pending", "confirmed", "arrived", "completed", "no_show", "cancelled"]


def ok(result: Any) -> Any:
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    return result


def at(monkeypatch: pytest.MonkeyPatch, instant: str) -> None:
    """The clock: ``2027-03-01T08:05:30`` and the like, in UTC."""
    monkeypatch.setenv("SLOTCTL_NOW", f"{instant}+00:00")


def stats(cli: Any, *args: str) -> dict[str, Any]:
    return ok(cli("stats", *args, "--format", "json")).json()


def book(cli: Any, slot: str, who: str, *extra: str) -> str:
    made = ok(
        cli(
            "bookings", "create", slot, "--name", who.title(), "--email", f"{who}@example.com",
            *extra, "--format", "json",
        )
    )  # fmt: skip
    return str(made.json()["reference"])


def checkin(cli: Any, reference: str) -> str:
    tickets = ok(cli("bookings", "checkin", reference, "--format", "json")).json()
    return str(tickets[0]["number"])


def walkin(cli: Any, slug: str, name: str) -> str:
    return str(
        ok(cli("queue", "walkin", slug, "--name", name, "--format", "json")).json()["number"]
    )


def call(cli: Any, slug: str, counter: str) -> str:
    called = ok(cli("queue", "next", slug, "--counter", counter, "--format", "json")).json()
    return str(called["number"])


def ticket(cli: Any, action: str, ident: str) -> None:
    ok(cli("queue", action, ident))


@pytest.fixture
def morning(cli: Any, db: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The morning of the module docstring; the booking references by first name."""
    at(monkeypatch, "2027-02-25T12:00:00")
    ok(cli("exchanges", "add", "desk", "--name", "Desk", "--timezone", "Europe/Berlin"))
    ok(cli("exchanges", "add", "airport", "--name", "Airport", "--timezone", "UTC"))
    ok(cli("hours", "set", "desk", "mon-tue 09:00-12:00"))
    ok(
        cli(
            "slots",
            "generate",
            "desk",
            "--from",
            MON,
            "--to",
            "2027-03-02",
            "--capacity",
            "2",
            "--duration",
            "60",
        )
    )
    refs = {
        "ann": book(cli, "desk@2027-03-01T09:00", "ann", "--confirm"),
        "bob": book(cli, "desk@2027-03-01T09:00", "bob", "--confirm"),
        "cat": book(cli, "desk@2027-03-01T10:00", "cat"),  # pending: arriving confirms it
        "dan": book(cli, "desk@2027-03-01T10:00", "dan", "--confirm"),
        "fay": book(cli, "desk@2027-03-01T11:00", "fay", "--confirm"),
    }
    # Monday's 10:00 slot is full: Eve waits for a seat in it; Gil for an afternoon
    # seat, which desk never has (his entry waits all along).
    for who, window in (("eve", "10:00-11:00"), ("gil", "13:00-14:00")):
        ok(
            cli(
                "waitlist", "add", "desk", "--name", who.title(), "--email",
                f"{who}@example.com", "--date", MON, "--between", window,
            )
        )  # fmt: skip
    assert db.scalar("SELECT count(*) FROM waitlist_entries WHERE status = 'waiting'") == 2

    steps: list[tuple[str, Any]] = [
        ("2027-03-01T07:50:00", lambda: checkin(cli, refs["ann"])),  # A001
        ("2027-03-01T07:55:00", lambda: walkin(cli, "desk", "Wal")),  # W001
        ("2027-03-01T08:00:00", lambda: call(cli, "desk", "c1")),  # A001 (on time, started)
        ("2027-03-01T08:05:00", lambda: checkin(cli, refs["bob"])),  # A002
        ("2027-03-01T08:05:30", lambda: call(cli, "desk", "c2")),  # A002 before W001
        ("2027-03-01T08:20:00", lambda: ticket(cli, "done", "desk/A001")),
        ("2027-03-01T08:20:00", lambda: call(cli, "desk", "c1")),  # W001
        ("2027-03-01T08:30:00", lambda: ticket(cli, "done", "desk/A002")),
        ("2027-03-01T08:40:00", lambda: ticket(cli, "done", "desk/W001")),
        ("2027-03-01T08:40:00", lambda: checkin(cli, refs["cat"])),  # A003, early
        ("2027-03-01T08:45:00", lambda: ok(cli("bookings", "cancel", refs["dan"]))),
    ]
    expected = ["A001", "W001", "A001", "A002", "A002", None, "W001", None, None, "A003", None]
    for (instant, step), want in zip(steps, expected, strict=True):
        at(monkeypatch, instant)
        got = step()
        if want is not None:
            assert got == want, (instant, got)
    # Dan's seat went to Eve, the earliest matching entry, as a pending booking.
    rows = db.query(
        "SELECT b.reference, b.status FROM waitlist_entries w JOIN bookings b"
        " ON b.id = w.booking_id WHERE w.customer_email = 'eve@example.com'"
    )
    [(eve, status)] = rows
    assert status == "pending"
    refs["eve"] = str(eve)
    steps = [
        ("2027-03-01T08:50:00", lambda: checkin(cli, refs["eve"])),  # A004
        ("2027-03-01T08:55:00", lambda: walkin(cli, "desk", "Wim")),  # W002
        ("2027-03-01T09:00:00", lambda: call(cli, "desk", "c1")),  # A003 (slot started)
        ("2027-03-01T09:02:00.500000", lambda: call(cli, "desk", "c2")),  # A004
        ("2027-03-01T09:10:00", lambda: ticket(cli, "done", "desk/A003")),
        ("2027-03-01T09:10:00", lambda: call(cli, "desk", "c1")),  # W002
        ("2027-03-01T09:20:00", lambda: ticket(cli, "done", "desk/A004")),
        ("2027-03-01T09:25:00", lambda: walkin(cli, "desk", "Xia")),  # W003
        ("2027-03-01T09:30:00", lambda: ticket(cli, "no-show", "desk/W002")),
        ("2027-03-01T09:35:00", lambda: ticket(cli, "cancel", "desk/W003")),
        ("2027-03-01T09:40:00", lambda: walkin(cli, "desk", "Yul")),  # W004, still waiting
        ("2027-03-01T09:45:00", lambda: checkin(cli, refs["fay"])),  # A005, still waiting
        ("2027-03-01T10:00:00", lambda: walkin(cli, "airport", "Abe")),  # airport W001
        ("2027-03-01T10:03:00", lambda: call(cli, "airport", "a1")),
        ("2027-03-01T10:10:00", lambda: ticket(cli, "done", "airport/W001")),
        ("2027-03-02T09:15:00", lambda: walkin(cli, "desk", "Tia")),  # Tuesday's W001
        ("2027-03-02T09:45:00", lambda: call(cli, "desk", "c1")),
        ("2027-03-02T10:00:00", lambda: ticket(cli, "done", "desk/W001")),
        ("2027-03-03T08:00:00", lambda: walkin(cli, "desk", "Wes")),  # Wednesday: outside
        ("2027-03-03T08:07:00", lambda: call(cli, "desk", "c1")),
    ]
    expected = [
        "A004", "W002", "A003", "A004", None, "W002", None, "W003", None, None, "W004", "A005",
        "W001", "W001", None, "W001", "W001", None, "W001", "W001",
    ]  # fmt: skip
    for (instant, step), want in zip(steps, expected, strict=True):
        at(monkeypatch, instant)
        got = step()
        if want is not None:
            assert got == want, (instant, got)
    at(monkeypatch, "2027-03-03T12:00:00")
    return refs


PERIOD = ("--from", MON, "--to", "2027-03-02")
DESK = {
    "wait_minutes_median": 15.0,
    "wait_minutes_p90": 27.0,
    "service_minutes_median": 19.0,
    "walkins_served": 2,
    "waitlist_bookings": 1,
}
AIRPORT = {
    "wait_minutes_median": 3.0,
    "wait_minutes_p90": 3.0,
    "service_minutes_median": 7.0,
    "walkins_served": 1,
    "waitlist_bookings": 0,
}
FRONT_DESK_KEYS = list(DESK)


def _cell(hour: int, tickets: int, median: float) -> dict[str, Any]:
    return {"hour": hour, "tickets": tickets, "wait_minutes_median": median}


def _day(index: int, name: str, tickets: int, median: float | None, hours: Any) -> dict[str, Any]:
    return {
        "weekday": index,
        "day": name,
        "tickets": tickets,
        "wait_minutes_median": median,
        "by_hour": hours,
    }


QUIET_DAYS = [(3, "thu"), (4, "fri"), (5, "sat"), (6, "sun")]
WAIT_MAP = [
    _day(0, "mon", 7, 12.01, [_cell(8, 2, 17.5), _cell(9, 4, 13.5), _cell(10, 1, 3.0)]),
    _day(1, "tue", 1, 30.0, [_cell(10, 1, 30.0)]),
    _day(2, "wed", 0, None, []),
    *[_day(i, name, 0, None, []) for i, name in QUIET_DAYS],
]


def test_front_desk_figures_of_a_morning(cli: Any, db: Any, morning: dict[str, str]) -> None:
    figures = stats(cli, *PERIOD)
    assert {key: figures[key] for key in FRONT_DESK_KEYS} == {
        "wait_minutes_median": 13.5,
        "wait_minutes_p90": 26.5,
        "service_minutes_median": 17.99,
        "walkins_served": 3,
        "waitlist_bookings": 1,
    }
    assert figures["wait_by_weekday"] == WAIT_MAP
    rows = {row["exchange"]: row for row in figures["exchanges"]}
    assert {key: rows["desk"][key] for key in FRONT_DESK_KEYS} == DESK
    assert {key: rows["airport"][key] for key in FRONT_DESK_KEYS} == AIRPORT
    # The bookings of desk's slots, by status in the lifecycle's order: Fay has arrived.
    assert list(figures["bookings"]) == STATUSES
    assert figures["bookings"] == {
        "pending": 0,
        "confirmed": 0,
        "arrived": 1,
        "completed": 4,
        "no_show": 0,
        "cancelled": 1,
    }
    assert (figures["booked_seats"], figures["cancellation_rate"]) == (5, 0.1667)

    # One exchange: its own figures, and a map of its own tickets.
    desk = stats(cli, "desk", *PERIOD)
    assert {key: desk[key] for key in FRONT_DESK_KEYS} == DESK
    assert [row["exchange"] for row in desk["exchanges"]] == ["desk"]
    # desk on Monday: 10, 25 | 0.5, 20, 12.00833, 15 -> (12.00833 + 15) / 2.
    assert [d["wait_minutes_median"] for d in desk["wait_by_weekday"][:2]] == [13.5, 30.0]
    airport = stats(cli, "airport", *PERIOD)
    assert {key: airport[key] for key in FRONT_DESK_KEYS} == AIRPORT
    assert airport["wait_by_weekday"][0]["by_hour"] == [_cell(10, 1, 3.0)]
    # Tuesday alone: one walk-in, served; no booking on Tuesday's slots.
    tuesday = stats(cli, "desk", "--from", "2027-03-02", "--to", "2027-03-02")
    assert {key: tuesday[key] for key in FRONT_DESK_KEYS} == {
        "wait_minutes_median": 30.0,
        "wait_minutes_p90": 30.0,
        "service_minutes_median": 15.0,
        "walkins_served": 1,
        "waitlist_bookings": 0,
    }
    # Wednesday: a ticket called after 7 minutes, not served yet; no slots at all.
    wednesday = stats(cli, "--from", "2027-03-03", "--to", "2027-03-03")
    assert {key: wednesday[key] for key in FRONT_DESK_KEYS} == {
        "wait_minutes_median": 7.0,
        "wait_minutes_p90": 7.0,
        "service_minutes_median": None,
        "walkins_served": 0,
        "waitlist_bookings": 0,
    }
    assert wednesday["wait_by_weekday"][2] == _day(2, "wed", 1, 7.0, [_cell(9, 1, 7.0)])
    # Days without tickets: every figure is empty, the map has no cell.
    empty = stats(cli, "--from", "2027-03-04", "--to", "2027-03-10")
    assert {key: empty[key] for key in FRONT_DESK_KEYS} == {
        "wait_minutes_median": None,
        "wait_minutes_p90": None,
        "service_minutes_median": None,
        "walkins_served": 0,
        "waitlist_bookings": 0,
    }
    assert all(day["tickets"] == 0 and day["by_hour"] == [] for day in empty["wait_by_weekday"])


def test_front_desk_figures_in_csv_and_table(cli: Any, db: Any, morning: dict[str, str]) -> None:
    rows = list(csv.DictReader(io.StringIO(ok(cli("stats", *PERIOD, "-f", "csv")).stdout)))
    assert [row["exchange"] for row in rows] == ["airport", "desk"]
    desk = rows[1]
    assert {key: desk[key] for key in FRONT_DESK_KEYS} == {
        key: str(value) for key, value in DESK.items()
    }
    assert rows[0]["service_minutes_median"] == "7.0"
    assert (desk["arrived"], desk["completed"]) == ("1", "4")
    assert list(rows[0])[-6:] == STATUSES

    out = ok(cli("stats", *PERIOD)).stdout
    lines = [line.split() for line in out.splitlines()]
    for words in (
        ["Median", "wait", "13.5", "min"],
        ["Wait,", "90th", "percentile", "26.5", "min"],
        ["Median", "service", "18.0", "min"],
        ["Walk-ins", "served", "3"],
        ["Waitlist", "bookings", "1"],
        ["arrived", "1"],  # the bookings by status
    ):
        assert any(line[: len(words)] == words for line in lines), words
    title = "Median wait by weekday and local hour of arrival"
    assert any(" ".join(line) == title for line in lines), out
    # The wait map: hours of arrival 8, 9 and 10; Monday has all three, Tuesday only 10
    # (the longest wait, the darkest shade). Its rows come after the utilisation map's.
    assert any(line == ["08", "09", "10"] for line in lines), out
    mon = [line for line in lines if line[:1] == ["mon"]]
    tue = [line for line in lines if line[:1] == ["tue"]]
    assert mon[-1][1:] == ["▓▓", "▒▒", "░░"], out  # 17.5, 13.5 and 3.0 of 30
    assert tue[-1][1:] == ["██"], out
    # The exchange table gives each exchange's median wait.
    assert any(line[:1] == ["desk"] and line[-1] == "15.0" for line in lines), out
    assert any(line[:1] == ["airport"] and line[-1] == "3.0" for line in lines), out


def test_a_waitlist_booking_counts_whatever_became_of_it(
    cli: Any, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Waitlist bookings are those the waitlist created (the actor of their first
    event), cancelled or not: one seat, freed twice, went to Ivy and then to Jo."""
    at(monkeypatch, "2027-02-25T12:00:00")
    ok(cli("exchanges", "add", "desk", "--name", "Desk", "--timezone", "UTC"))
    ok(cli("hours", "set", "desk", "mon 09:00-10:00"))
    ok(
        cli(
            "slots",
            "generate",
            "desk",
            "--from",
            MON,
            "--to",
            MON,
            "--capacity",
            "1",
            "--duration",
            "60",
        )
    )
    hal = book(cli, "desk@2027-03-01T09:00", "hal", "--confirm")
    for who in ("ivy", "jo"):
        ok(
            cli(
                "waitlist", "add", "desk", "--name", who.title(), "--email",
                f"{who}@example.com", "--date", MON,
            )
        )  # fmt: skip
    assert stats(cli, "desk", *PERIOD)["waitlist_bookings"] == 0
    ok(cli("bookings", "cancel", hal))  # the seat goes to Ivy
    ivy = db.scalar("SELECT reference FROM bookings WHERE customer_email = 'ivy@example.com'")
    ok(cli("bookings", "cancel", ivy))  # and then to Jo
    figures = stats(cli, "desk", *PERIOD)
    assert figures["waitlist_bookings"] == 2
    assert figures["exchanges"][0]["waitlist_bookings"] == 2
    assert figures["bookings"] == {
        "pending": 1,  # Jo's
        "confirmed": 0,
        "arrived": 0,
        "completed": 0,
        "no_show": 0,
        "cancelled": 2,  # Hal's and Ivy's
    }


# doctor ---------------------------------------------------------------------------------


def doctor(cli: Any) -> tuple[int, list[dict[str, str]]]:
    result = cli("doctor", "--format", "json")
    return result.exit_code, result.json()


def _ticket_uuid(db: Any, slug: str, day: str, number: str) -> str:
    rows = db.query(
        "SELECT t.uuid, t.day, t.kind, t.seq FROM tickets t"
        " JOIN exchanges e ON e.id = t.exchange_id WHERE e.slug = :slug",
        slug=slug,
    )
    kind = "appointment" if number[0] == "A" else "walkin"
    wanted = (day, kind, int(number[1:]))
    (found,) = [uuid for uuid, d, k, q in rows if (str(d)[:10], k, q) == wanted]
    return str(found)


@contextmanager
def broken(db: Any, table: str, uuid: str, change: str, columns: list[str]) -> Iterator[None]:
    """``change`` applied to one row (by uuid) for the block; its ``columns`` as they were
    afterwards."""
    [before] = db.query(f"SELECT {', '.join(columns)} FROM {table} WHERE uuid = :u", u=uuid)
    db.execute(f"UPDATE {table} SET {change} WHERE uuid = :u", u=uuid)
    try:
        yield
    finally:
        restore = ", ".join(f"{column} = :{column}" for column in columns)
        values = dict(zip(columns, before, strict=True))
        db.execute(f"UPDATE {table} SET {restore} WHERE uuid = :u", u=uuid, **values)


TICKET_COLUMNS = ["status", "called_at", "counter", "served_at"]
ENTRY_COLUMNS = ["booking_id"]

# (ticket: exchange, day, number), the change, the check and its detail ({name}: the
# reference of that customer's booking).
TICKET_BREAKS = [
    # W004 waits: no call, no counter, no service.
    ("W004", MON, "called_at = arrived_at, counter = 'c9'", "ticket_call",
     "a waiting ticket has no called_at"),
    ("W004", MON, "served_at = arrived_at", "ticket_call", "a waiting ticket has no served_at"),
    # Wednesday's W001 is called: it needs its call and its counter, together.
    ("W001", "2027-03-03", "counter = NULL", "ticket_call",
     "a ticket has called_at and counter together or neither"),
    ("W001", "2027-03-03", "called_at = NULL, counter = NULL", "ticket_call",
     "a called ticket needs called_at"),
    ("W001", "2027-03-03", "served_at = called_at", "ticket_call",
     "a called ticket has no served_at"),
    # W002 was missed: served, it would need its service time.
    ("W002", MON, "status = 'served'", "ticket_call", "a served ticket needs served_at"),
    # Ann's A001 was served (her booking completed): waiting or called again, she
    # would be waiting and served at once.
    ("A001", MON, "status = 'waiting', called_at = NULL, counter = NULL, served_at = NULL",
     "ticket_booking", "ticket A001 is waiting, but its booking {ann} is completed"),
    ("A001", MON, "status = 'called', served_at = NULL", "ticket_booking",
     "ticket A001 is called, but its booking {ann} is completed"),
    # Fay's A005 waits (her booking arrived): served, or gone, while she is still here.
    ("A005", MON, "status = 'served', called_at = arrived_at, counter = 'c1',"
     " served_at = arrived_at", "ticket_booking",
     "ticket A005 is served, but its booking {fay} is arrived"),
    ("A005", MON, "status = 'left'", "ticket_booking",
     "ticket A005 is left, but its booking {fay} is arrived"),
    # Cat's A003 was served: as a no-show it would contradict her completed booking.
    ("A003", MON, "status = 'no_show', served_at = NULL", "ticket_booking",
     "ticket A003 is no_show, but its booking {cat} is completed"),
]  # fmt: skip


def test_doctor_checks_the_front_desk(cli: Any, db: Any, morning: dict[str, str]) -> None:
    """A morning at the counter keeps every invariant; each broken one (one statement,
    undone afterwards) is reported under its own check, with exit 4."""
    assert doctor(cli) == (0, [])
    assert ok(cli("doctor")).stdout == "All invariants hold.\n"
    # Every ticket status and every waitlist state of interest is there.
    statuses = {status for (status,) in db.query("SELECT DISTINCT status FROM tickets")}
    assert statuses == {"waiting", "called", "served", "no_show", "left"}
    entries = dict(db.query("SELECT customer_email, status FROM waitlist_entries"))
    assert entries == {"eve@example.com": "booked", "gil@example.com": "waiting"}

    def expect(*violations: tuple[str, str, str]) -> None:
        code, found = doctor(cli)
        assert code == 4, found
        want = [
            {"check": check, "record": record, "exchange": "desk", "detail": detail}
            for check, record, detail in violations
        ]
        assert sorted(found, key=str) == sorted(want, key=str)

    for number, day, change, check, detail in TICKET_BREAKS:
        uuid = _ticket_uuid(db, "desk", day, number)
        with broken(db, "tickets", uuid, change, TICKET_COLUMNS):
            expect((check, uuid, detail.format(**morning)))
    assert doctor(cli) == (0, [])

    # The booking side: Fay's booking completed (timestamps and audit trail in order)
    # while her ticket still waits.
    fay = morning["fay"]
    db.execute(
        "UPDATE bookings SET status = 'completed', completed_at = confirmed_at"
        " WHERE reference = :r",
        r=fay,
    )
    db.execute(
        "INSERT INTO booking_events (uuid, booking_id, at, actor, from_status, to_status,"
        " created_at, updated_at) SELECT 'e0000000-0000-4000-8000-000000000001', id,"
        " completed_at, 'x', 'arrived', 'completed', completed_at, completed_at"
        " FROM bookings WHERE reference = :r",
        r=fay,
    )
    fay_ticket = _ticket_uuid(db, "desk", MON, "A005")
    expect(
        (
            "ticket_booking",
            fay_ticket,
            f"ticket A005 is waiting, but its booking {fay} is completed",
        )
    )
    db.execute("DELETE FROM booking_events WHERE uuid = 'e0000000-0000-4000-8000-000000000001'")
    db.execute(
        "UPDATE bookings SET status = 'arrived', completed_at = NULL WHERE reference = :r", r=fay
    )
    assert doctor(cli) == (0, [])

    # The waitlist: Eve's entry holds her booking, Gil's waits with none.
    eve = str(
        db.scalar("SELECT uuid FROM waitlist_entries WHERE customer_email = 'eve@example.com'")
    )
    gil = str(
        db.scalar("SELECT uuid FROM waitlist_entries WHERE customer_email = 'gil@example.com'")
    )
    ann_id = db.scalar("SELECT id FROM bookings WHERE reference = :r", r=morning["ann"])
    with broken(db, "waitlist_entries", eve, f"booking_id = {ann_id}", ENTRY_COLUMNS):
        expect(
            ("waitlist", eve,
             f"booked for eve@example.com, but its booking {morning['ann']} is for ann@example.com")
        )  # fmt: skip
    with broken(db, "waitlist_entries", eve, "booking_id = NULL", ENTRY_COLUMNS):
        expect(("waitlist", eve, "booked, but it has no booking"))
    with broken(db, "waitlist_entries", gil, f"booking_id = {ann_id}", ENTRY_COLUMNS):
        expect(("waitlist", gil, f"waiting, but it has booking {morning['ann']}"))
    eve_booking = str(db.scalar("SELECT uuid FROM bookings WHERE reference = :r", r=morning["eve"]))
    airport = "(SELECT id FROM exchanges WHERE slug = 'airport')"
    with broken(db, "bookings", eve_booking, f"exchange_id = {airport}", ["exchange_id"]):
        expect(("waitlist", eve, f"booked, but its booking {morning['eve']} is at airport"))
    assert doctor(cli) == (0, [])

    # Counters: Fay has arrived, so her 11:00 seat is held; a counter that forgot her
    # is wrong, and --repair counts her back.
    slot = str(
        db.scalar(
            "SELECT s.uuid FROM time_slots s JOIN bookings b ON b.time_slot_id = s.id"
            " WHERE b.reference = :r",
            r=fay,
        )
    )
    db.execute("UPDATE time_slots SET current_bookings = 0 WHERE uuid = :u", u=slot)
    expect(("counter", slot, "current_bookings is 0 but 1 booking holds seats"))
    repaired = cli("doctor", "--repair")
    assert repaired.exit_code == 0, repaired.stderr
    assert db.scalar("SELECT current_bookings FROM time_slots WHERE uuid = :u", u=slot) == 1
    assert doctor(cli) == (0, [])
