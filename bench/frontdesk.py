"""The front desk: ``queue next`` with 10,000 waiting tickets, and a cancel with a long waitlist.

    python bench/frontdesk.py [--postgres URL] [--calls 300] [--rounds 10] [--only queue|cancel]
                              [--update-readme]

1. ``queue next``: the service behind ``slotctl queue next SLUG --counter NAME``
   (:func:`slotctl.services.queue.call_next` in one unit of work, committed, as
   the CLI's ``write`` runs it), timed per call. Each exchange's queue holds one
   appointment that arrived on time for the slot that has started (called first,
   so every call marks its booking and writes its audit event), walk-ins, early
   and late appointments. Three layouts of the ``tickets`` table, loaded in
   turns into the same database: 10,000 waiting tickets across 100 exchanges
   (100 each); 100 on one exchange (the same queue, a table 100 times smaller);
   100 across the 100 exchanges, one each (the same exchanges, a queue 100
   times shorter). Between two calls the called ticket is put back to
   waiting (untimed), so every call sees the same queue. The floor: one
   conditional UPDATE of a ticket by id, committed, through the raw driver.
   Targets (issue 13): median <= 2 ms, and <= 1.5x the time with 100 tickets.
2. Cancel: :func:`slotctl.services.bookings.transition` ``cancel`` of one booking
   of a full slot (capacity 2) of an exchange with 10,000 waitlist entries,
   against the same cancel with no entries: entries for other dates, entries
   for that date but other hours, entries all booked already, and 10,000 that do
   not match plus one (the newest) that does, so the cancel books it. The
   cancel is undone between two calls (untimed). Target: <= 1.5x the cancel
   with no entries (a promotion against one promotion with a single entry).

The layouts take turns in ``--rounds`` rounds, so a burst of load on the machine
lands on all of them alike. ``--postgres``: the URL of an empty schema.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _common import update_readme

NOW = datetime(2027, 3, 1, 10, 5, tzinfo=UTC)  # a Monday, 10:05 at the exchanges (UTC)
TODAY = NOW.date()
WAITLIST_DAY = TODAY + timedelta(days=7)
EXCHANGES = 100
PER_EXCHANGE = 100
ENTRIES = 10_000
WL_SLOTS = 16  # 09:00-17:00, 30 minutes, capacity 2, all full
WARM_UP = 5  # untimed calls after each load
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def stamp(sqlite: bool, value: datetime) -> Any:
    return value.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else value


def day(sqlite: bool, value: date) -> Any:
    return value.isoformat() if sqlite else value


def reference(n: int) -> str:
    digits = []
    for _ in range(6):
        n, r = divmod(n, 32)
        digits.append(ALPHABET[r])
    return "BK-" + "".join(reversed(digits))


def at(hour: int, minute: int = 0, when: date = TODAY) -> datetime:
    return datetime(when.year, when.month, when.day, hour, minute, tzinfo=UTC)


@dataclass
class Data:
    """What the measurements need to know of the database built by :func:`build`."""

    url: str
    sqlite: bool
    tickets: list[tuple[Any, ...]]  # every ticket row of the 10,000 layout, exchange-major
    slugs: list[str]
    victims: list[tuple[int, str, int]]  # (booking id, reference, slot id) to cancel
    holders: list[int]  # the other booking of each waitlist slot
    wl_exchange: int


def build(url: str) -> Data:
    """100 queue exchanges with today's slots and the bookings of their appointment
    tickets (arrived), and one waitlist exchange whose 16 slots a week ahead are full."""
    os.environ["SLOTCTL_NOW"] = NOW.isoformat()
    from slotctl.db.engine import make_engine, transaction
    from slotctl.db.migrate import upgrade
    from slotctl.services.exchanges import add_exchange

    engine = make_engine(url)
    upgrade(engine)
    sqlite = engine.dialect.name == "sqlite"
    slugs = [f"fd{n:03d}" for n in range(EXCHANGES)]
    with transaction(engine) as session:
        for slug in [*slugs, "wl"]:
            add_exchange(session, slug, name=slug.upper(), timezone="UTC")
    m = "?" if sqlite else "%s"
    now = stamp(sqlite, NOW)
    with engine.begin() as conn:
        cursor: Any = conn.connection.driver_connection.cursor()
        cursor.execute("SELECT slug, id FROM exchanges")
        ids = dict(cursor.fetchall())
        slots = []  # today 08:00-18:00 every 30 minutes at the queue exchanges
        for slug in slugs:
            for k in range(20):
                start = at(8) + timedelta(minutes=30 * k)
                slots.append((ids[slug], TODAY, start, 1000))
        for k in range(WL_SLOTS):
            start = at(9, when=WAITLIST_DAY) + timedelta(minutes=30 * k)
            slots.append((ids["wl"], WAITLIST_DAY, start, 2))
        cursor.executemany(
            "INSERT INTO time_slots (uuid, exchange_id, date, starts_at, ends_at, max_capacity,"
            f" current_bookings, is_available, created_at, updated_at) VALUES ({m}, {m}, {m},"
            f" {m}, {m}, {m}, 0, true, {m}, {m})",
            [
                (
                    str(uuid.uuid4()),
                    exchange,
                    day(sqlite, when),
                    stamp(sqlite, start),
                    stamp(sqlite, start + timedelta(minutes=30)),
                    capacity,
                    now,
                    now,
                )
                for exchange, when, start, capacity in slots
            ],
        )
        cursor.execute("SELECT exchange_id, starts_at, id FROM time_slots")
        slot_id = {
            (e, s if isinstance(s, str) else stamp(True, s.astimezone(UTC))): i
            for e, s, i in cursor.fetchall()
        }

        def slot_of(exchange: int, start: datetime) -> int:
            return int(slot_id[(exchange, stamp(True, start))])

        bookings, plan = [], []
        for slug in slugs:
            exchange = ids[slug]
            for j in range(PER_EXCHANGE):
                ticket = queue_ticket(j)
                ref = None
                if ticket["due"] is not None:
                    n = len(bookings)
                    ref = reference(n)
                    bookings.append(
                        (
                            str(uuid.uuid4()),
                            ref,
                            slot_of(exchange, ticket["due"]),
                            exchange,
                            f"Customer {slug}-{j}",
                            f"c{n}@example.com",
                            "arrived",
                            stamp(sqlite, ticket["arrived"] - timedelta(days=2)),
                            stamp(sqlite, ticket["arrived"]),
                            stamp(sqlite, ticket["arrived"] - timedelta(days=3)),
                            now,
                        )
                    )
                plan.append((exchange, j, ticket, ref))
        victims, holders = [], []
        for k in range(WL_SLOTS):
            slot = slot_of(ids["wl"], at(9, when=WAITLIST_DAY) + timedelta(minutes=30 * k))
            for role in ("victim", "holder"):
                n = len(bookings)
                bookings.append(
                    (
                        str(uuid.uuid4()),
                        reference(n),
                        slot,
                        ids["wl"],
                        f"Waitlist {role} {k}",
                        f"w{n}@example.com",
                        "confirmed",
                        now,
                        None,
                        now,
                        now,
                    )
                )
                (victims if role == "victim" else holders).append((n, reference(n), slot))
        cursor.executemany(
            "INSERT INTO bookings (uuid, reference, time_slot_id, exchange_id, customer_name,"
            " customer_email, status, confirmed_at, arrived_at, created_at, updated_at)"
            f" VALUES ({m}, {m}, {m}, {m}, {m}, {m}, {m}, {m}, {m}, {m}, {m})",
            bookings,
        )
        cursor.execute("SELECT reference, id FROM bookings")
        booking_id = dict(cursor.fetchall())
        cursor.execute(
            "UPDATE time_slots SET current_bookings = (SELECT count(*) FROM bookings b"
            " WHERE b.time_slot_id = time_slots.id)"
        )
        cursor.execute("ANALYZE")
    engine.dispose()
    tickets = []
    for exchange, j, ticket, ref in plan:
        tickets.append(
            (
                exchange,
                day(sqlite, TODAY),
                "walkin" if ref is None else "appointment",
                ticket["seq"],
                None if ref is None else booking_id[ref],
                f"Customer {exchange}-{j}",
                stamp(sqlite, ticket["arrived"]),
                None if ticket["due"] is None else stamp(sqlite, ticket["due"]),
                ticket["on_time"],
            )
        )
    return Data(
        url=url,
        sqlite=sqlite,
        tickets=tickets,
        slugs=slugs,
        victims=[(booking_id[r], r, s) for _, r, s in victims],
        holders=[booking_id[r] for _, r, _ in holders],
        wl_exchange=ids["wl"],
    )


def queue_ticket(j: int) -> dict[str, Any]:
    """The j-th ticket of a queue at 10:05: the first an appointment at 10:00 that
    arrived on time (the one called: fairness class 1); then walk-ins (class 2), and
    every third an appointment, alternately early for a later slot (class 3) and late
    for an earlier one (class 2). Numbered per kind."""
    appointments = 1 + (j - 1) // 3 if j else 0
    if j == 0:
        return {"due": at(10), "arrived": at(9, 55), "on_time": True, "seq": 1}
    arrived = at(8) + timedelta(seconds=70 * j)  # 08:00 to 09:55
    if j % 3:
        return {"due": None, "arrived": arrived, "on_time": False, "seq": j - appointments + 1}
    if j % 2:  # early for the 10:30 slot (check-in opens 30 minutes before)
        return {
            "due": at(10, 30),
            "arrived": at(10) + timedelta(seconds=j),
            "on_time": True,
            "seq": j // 3 + 1,
        }
    due = at(8) + timedelta(minutes=30 * (j % 4))  # 08:00 or 09:00, arrived 40 minutes late
    return {"due": due, "arrived": due + timedelta(minutes=40), "on_time": False, "seq": j // 3 + 1}


# Loading the layouts -------------------------------------------------------------------


def load(engine: Any, table: str, columns: str, rows: list[tuple[Any, ...]]) -> None:
    """Empty ``table`` and insert ``rows`` (with a fresh uuid each), then ANALYZE it."""
    sqlite = engine.dialect.name == "sqlite"
    m = "?" if sqlite else "%s"
    marks = ", ".join([m] * (columns.count(",") + 1))
    with engine.begin() as conn:
        cursor: Any = conn.connection.driver_connection.cursor()
        cursor.execute(f"DELETE FROM {table}")
        if rows:
            cursor.executemany(
                f"INSERT INTO {table} (uuid, {columns}) VALUES ({m}, {marks})",
                [(str(uuid.uuid4()), *row) for row in rows],
            )
    raw = engine.raw_connection()
    try:
        if sqlite:
            raw.driver_connection.execute(f"ANALYZE {table}")
        else:
            raw.driver_connection.autocommit = True
            raw.driver_connection.execute(f"VACUUM ANALYZE {table}")
            raw.driver_connection.autocommit = False
    finally:
        raw.close()


TICKET_COLUMNS = (
    "exchange_id, day, kind, seq, booking_id, customer_name, arrived_at, due_at, on_time,"
    " status, created_at, updated_at"
)


def load_tickets(engine: Any, data: Data, rows: list[tuple[Any, ...]]) -> None:
    now = stamp(data.sqlite, NOW)
    load(engine, "tickets", TICKET_COLUMNS, [(*row, "waiting", now, now) for row in rows])


ENTRY_COLUMNS = (
    "exchange_id, customer_name, customer_email, from_date, to_date, between_start,"
    " between_end, status, booking_id, created_at, updated_at"
)


def entry_rows(data: Data, variant: str) -> tuple[list[tuple[Any, ...]], bool]:
    """The waitlist of one variant, oldest first, and whether the cancel promotes."""
    s = data.sqlite
    rows = []

    def entry(
        n: int, first: date, last: date, between: tuple[str, str] | None, status: str
    ) -> None:
        created = NOW - timedelta(days=10) + timedelta(seconds=60 * n)
        rows.append(
            (
                data.wl_exchange,
                f"Entry {n}",
                f"e{n}@example.com",
                day(s, first),
                day(s, last),
                None if between is None else between[0],
                None if between is None else between[1],
                status,
                data.holders[n % WL_SLOTS] if status == "booked" else None,
                stamp(s, created),
                stamp(s, created),
            )
        )

    bulk = variant.removeprefix("promote-")
    for n in range(ENTRIES if bulk in ("dates", "hours", "booked") else 0):
        if bulk == "dates":  # the days before the slot's, or after it
            first = (
                TODAY + timedelta(days=n % 6)
                if n % 2
                else WAITLIST_DAY + timedelta(days=1 + n % 20)
            )
            entry(n, first, first + timedelta(days=n % 3 if n % 2 == 0 else 0), None, "waiting")
        elif bulk == "hours":  # that day, but after the last slot
            entry(n, WAITLIST_DAY, WAITLIST_DAY, ("17:00", "20:00"), "waiting")
        else:  # a match for every slot, but booked already
            entry(n, WAITLIST_DAY, WAITLIST_DAY, None, "booked")
    promotes = variant.startswith("promote")
    if promotes:
        entry(len(rows), WAITLIST_DAY, WAITLIST_DAY, ("09:00", "17:00"), "waiting")
    return rows, promotes


# Timing -----------------------------------------------------------------------------------


def timed(call: Callable[[int], Any], undo: Callable[[int, Any], None], calls: int) -> list[float]:
    """Seconds of each of ``calls`` calls, after ``WARM_UP`` untimed ones; ``undo`` runs
    (untimed) after every call."""
    times = []
    for n in range(WARM_UP + calls):
        start = time.perf_counter()
        result = call(n)
        elapsed = time.perf_counter() - start
        undo(n, result)
        if n >= WARM_UP:
            times.append(elapsed)
    return times


def run_sql(engine: Any, statements: list[tuple[str, dict[str, Any]]]) -> None:
    from sqlalchemy import text

    with engine.begin() as conn:
        for statement, params in statements:
            conn.execute(text(statement), params)


def queue_cases(engine: Any, data: Data) -> dict[str, Callable[[int], list[float]]]:
    """The ``queue next`` measurements, each loading its layout first."""
    from slotctl.db.engine import transaction
    from slotctl.services.queue import call_next

    def call(slugs: list[str]) -> Callable[[int], Any]:
        def one(n: int) -> Any:
            with transaction(engine) as session:
                return call_next(session, slugs[(n * 37) % len(slugs)], "Counter 1", "bench")

        return one

    def requeue(_n: int, record: Any) -> None:
        assert (record.kind, record.number) == ("appointment", "A001"), record
        run_sql(
            engine,
            [
                (
                    "UPDATE tickets SET status = 'waiting', called_at = NULL, counter = NULL"
                    " WHERE uuid = :uuid",
                    {"uuid": record.uuid},
                ),
                (
                    "UPDATE bookings SET called_at = NULL, counter = NULL WHERE reference = :ref",
                    {"ref": record.booking},
                ),
            ],
        )

    first = data.slugs[0]
    one_exchange = [t for t in data.tickets if t[0] == data.tickets[0][0]]
    heads = [t for t in data.tickets if t[2] == "appointment" and t[3] == 1]

    def case(rows: list[tuple[Any, ...]], slugs: list[str]) -> Callable[[int], list[float]]:
        def measure(calls: int) -> list[float]:
            load_tickets(engine, data, rows)
            return timed(call(slugs), requeue, calls)

        return measure

    def raw(calls: int) -> list[float]:
        load_tickets(engine, data, data.tickets)
        connection = engine.raw_connection()
        driver = connection.driver_connection
        m = "?" if data.sqlite else "%s"
        cursor = driver.cursor()
        cursor.execute("SELECT id FROM tickets WHERE kind = 'appointment' AND seq = 1")
        ids = [row[0] for row in cursor.fetchall()]
        update = (
            f"UPDATE tickets SET status = 'called', called_at = {m}, counter = {m},"
            f" updated_at = {m} WHERE id = {m} AND status = 'waiting'"
        )
        now = stamp(data.sqlite, NOW)

        def one(n: int) -> None:
            if data.sqlite:
                driver.execute("BEGIN IMMEDIATE")
            cursor.execute(update, (now, "Counter 1", now, ids[(n * 37) % len(ids)]))
            assert cursor.rowcount == 1
            commit()

        def commit() -> None:
            if data.sqlite:
                driver.execute("COMMIT")
            else:
                driver.commit()

        def undo(n: int, _result: Any) -> None:
            if data.sqlite:
                driver.execute("BEGIN IMMEDIATE")
            cursor.execute(
                f"UPDATE tickets SET status = 'waiting', called_at = NULL, counter = NULL WHERE id = {m}",
                (ids[(n * 37) % len(ids)],),
            )
            commit()

        try:
            return timed(one, undo, calls)
        finally:
            cursor.close()
            connection.close()

    return {
        "large": case(data.tickets, data.slugs),
        "one": case(one_exchange, [first]),
        "spread": case(heads, data.slugs),
        "raw": raw,
    }


CANCEL_VARIANTS = ("none", "dates", "hours", "booked", "promote-one", "promote-hours")


def cancel_cases(engine: Any, data: Data) -> dict[str, Callable[[int], list[float]]]:
    from slotctl.db.engine import transaction
    from slotctl.services.bookings import transition

    def cancel(n: int) -> Any:
        _, ref, _ = data.victims[n % WL_SLOTS]
        with transaction(engine) as session:
            return transition(session, "cancel", [ref], "bench")

    def case(variant: str) -> Callable[[int], list[float]]:
        rows, promotes = entry_rows(data, variant)

        def measure(calls: int) -> list[float]:
            load(engine, "waitlist_entries", ENTRY_COLUMNS, rows)
            match = None
            if promotes:
                with engine.connect() as conn:
                    match = conn.exec_driver_sql(
                        "SELECT max(id) FROM waitlist_entries WHERE status = 'waiting'"
                    ).scalar_one()

            def undo(n: int, records: Any) -> None:
                booking, _, slot = data.victims[n % WL_SLOTS]
                assert records[0].status == "cancelled"
                from sqlalchemy import text

                with engine.begin() as conn:
                    given = conn.execute(
                        text(
                            "SELECT id FROM bookings WHERE exchange_id = :e AND status = 'pending'"
                        ),
                        {"e": data.wl_exchange},
                    ).all()
                    assert len(given) == (1 if promotes else 0), (variant, given)
                    if promotes:
                        conn.execute(
                            text(
                                "UPDATE waitlist_entries SET status = 'waiting', booking_id = NULL"
                                " WHERE id = :id AND status = 'booked' AND booking_id = :b"
                            ),
                            {"id": match, "b": given[0][0]},
                        )
                        conn.execute(text("DELETE FROM bookings WHERE id = :b"), {"b": given[0][0]})
                    conn.execute(
                        text(
                            "UPDATE bookings SET status = 'confirmed', cancelled_at = NULL,"
                            " cancellation_reason = NULL WHERE id = :b"
                        ),
                        {"b": booking},
                    )
                    conn.execute(
                        text(
                            "UPDATE time_slots SET current_bookings = (SELECT count(*) FROM"
                            " bookings b WHERE b.time_slot_id = time_slots.id AND b.status IN"
                            " ('pending', 'confirmed', 'arrived')) WHERE id = :s"
                        ),
                        {"s": slot},
                    )

            return timed(cancel, undo, calls)

        return measure

    return {variant: case(variant) for variant in CANCEL_VARIANTS}


def interleaved(
    cases: dict[str, Callable[[int], list[float]]], calls: int, rounds: int
) -> dict[str, list[float]]:
    """Each case ``calls`` times in all, in ``rounds`` rounds taking turns."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    per_round = max(1, calls // rounds)
    for _ in range(rounds):
        for name, measure in cases.items():
            times[name] += measure(per_round)
    return times


# Report -------------------------------------------------------------------------------


def ms(times: list[float], q: float = 0.5) -> float:
    """The median (or the ``q`` quantile, in tenths) of ``times``, in milliseconds."""
    if q == 0.5:
        return statistics.median(times) * 1000
    return statistics.quantiles(times, n=10)[round(q * 10) - 1] * 1000


def queue_rows(label: str, t: dict[str, list[float]]) -> list[str]:
    large = ms(t["large"])
    return [
        f"| {label}: 10,000 waiting tickets across 100 exchanges | {large:.2f} ms | {ms(t['large'], 0.9):.2f} ms | | <= 2 ms |",
        f"| {label}: 100 waiting tickets on 1 exchange (baseline: same queue) | {ms(t['one']):.2f} ms | {ms(t['one'], 0.9):.2f} ms | {large / ms(t['one']):.2f}x | <= 1.5x |",
        f"| {label}: 100 waiting tickets across 100 exchanges, 1 each (baseline: same exchanges) | {ms(t['spread']):.2f} ms | {ms(t['spread'], 0.9):.2f} ms | {large / ms(t['spread']):.2f}x | <= 1.5x |",
        f"| {label}: raw driver, one conditional UPDATE of a ticket by id, committed (floor) | {ms(t['raw']):.2f} ms | {ms(t['raw'], 0.9):.2f} ms | {large / ms(t['raw']):.1f}x | |",
    ]


CANCEL_LABELS = {
    "none": "no waitlist entries (baseline)",
    "dates": "10,000 waiting entries for other dates",
    "hours": "10,000 waiting entries for that date, other hours",
    "booked": "10,000 entries for that slot, all booked",
    "promote-one": "1 matching entry: the cancel books it (baseline of the next)",
    "promote-hours": "10,000 for other hours + 1 matching (the newest): books it",
}


def cancel_rows(label: str, t: dict[str, list[float]]) -> list[str]:
    rows = []
    for variant in CANCEL_VARIANTS:
        base = "promote-one" if variant == "promote-hours" else "none"
        ratio = "" if variant in ("none", "promote-one") else f"{ms(t[variant]) / ms(t[base]):.2f}x"
        target = "<= 1.5x" if ratio else ""
        rows.append(
            f"| {label}: {CANCEL_LABELS[variant]} | {ms(t[variant]):.2f} ms | {ms(t[variant], 0.9):.2f} ms | {ratio} | {target} |"
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--postgres", help="URL of an empty PostgreSQL schema")
    parser.add_argument("--calls", type=int, default=300, help="timed calls per case")
    parser.add_argument("--rounds", type=int, default=10, help="turns the cases take")
    parser.add_argument("--only", choices=["queue", "cancel"], help="one of the two parts")
    parser.add_argument("--update-readme", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="slotctl-frontdesk-"))
    targets = [("SQLite", f"sqlite:///{work / 'frontdesk.db'}")]
    if args.postgres:
        targets.append(("PostgreSQL", args.postgres))
    queue, cancel = [], []
    load_before = os.getloadavg()[0]
    for label, url in targets:
        from slotctl.db.engine import make_engine

        data = build(url)
        engine = make_engine(url)
        if args.only != "cancel":
            times = interleaved(queue_cases(engine, data), args.calls, args.rounds)
            queue += queue_rows(label, times)
        if args.only != "queue":
            times = interleaved(cancel_cases(engine, data), args.calls, args.rounds)
            cancel += cancel_rows(label, times)
        engine.dispose()
    lines = [
        f"{args.calls} timed calls per case in {args.rounds} rounds taking turns, one committed"
        f" unit of work each. Python {platform.python_version()}, {os.cpu_count()} cores; load"
        f" average {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end.",
    ]
    if queue:
        lines += [
            "",
            "| `queue next` (service time) | median | p90 | ratio of 10,000 to this | target |",
            "|---|---:|---:|---:|---|",
            *queue,
        ]
    if cancel:
        lines += [
            "",
            "| cancel a booking of a full slot, waitlist on its exchange | median | p90 | ratio to baseline | target |",
            "|---|---:|---:|---:|---|",
            *cancel,
        ]
    table = "\n".join(lines)
    print(table)
    if args.update_readme:
        update_readme("frontdesk", table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
