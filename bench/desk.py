"""The desk screen: a refresh of a busy day, and a key that changes the database.

    python bench/desk.py [--postgres URL] [--rounds 30] [--update-readme]

A day of 20 half-hour slots with 50 seats each holds 500 bookings, and 200
walk-ins wait in the queue. Measured headless in Textual's own harness
(``App.run_test``), on SQLite and PostgreSQL:

1. refresh: :meth:`slotctl.desk.app.DeskApp.reload` — the read of the day
   (:func:`slotctl.services.desk.desk_view`) and the redraw of the three tables.
   Baseline in the same run: the same rows (slots, bookings, waiting tickets)
   read by the raw driver in one transaction. Target (issue 14): <= 50 ms.
2. key: press ``n`` and wait until the screen shows the call (the ticket left
   the queue table). Baseline: the service alone
   (:func:`slotctl.services.queue.call_next` in a unit of work). Target: <= 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import update_readme

NOW = "2027-03-01T13:00:00+00:00"  # a Monday afternoon in London (UTC in March)
BEFORE_OPENING = "2027-03-01T07:00:00+00:00"
SLUG = "busy"
BOOKINGS = 500
WAITING = 200


def prepare(url: str) -> None:
    """The busy day, through the services for the exchange and slots, rows for the rest."""
    os.environ["SLOTCTL_NOW"] = BEFORE_OPENING  # so the whole day is generated
    from sqlalchemy import text

    from slotctl.db.engine import make_engine, transaction
    from slotctl.db.migrate import upgrade
    from slotctl.parsing import parse_hours_spec
    from slotctl.services.exchanges import add_exchange
    from slotctl.services.generate import GenerateRequest, generate
    from slotctl.services.hours import set_hours

    engine = make_engine(url)
    upgrade(engine)
    with transaction(engine) as session:
        add_exchange(session, SLUG, name="Busy", timezone="Europe/London")
        set_hours(session, SLUG, [parse_hours_spec("mon-fri 08:00-18:00")])
    with transaction(engine) as session:
        generate(
            session,
            [SLUG],
            GenerateRequest("2027-03-01", "2027-03-01", days=1, duration=30, capacity=50),
        )
    now = datetime.fromisoformat(NOW)
    with transaction(engine) as session:
        slots = session.execute(
            text("SELECT id, exchange_id FROM time_slots ORDER BY starts_at")
        ).all()
        rows = []
        for n in range(BOOKINGS):
            slot_id, exchange_id = slots[n % len(slots)]
            rows.append(
                {
                    "uuid": str(uuid.uuid4()), "reference": f"BK-{n:06d}", "slot": slot_id,
                    "exchange": exchange_id, "name": f"Customer {n}",
                    "email": f"c{n}@example.com", "now": now,
                }
            )  # fmt: skip
        session.execute(
            text(
                "INSERT INTO bookings (uuid, reference, time_slot_id, exchange_id, customer_name,"
                " customer_email, status, confirmed_at, created_at, updated_at) VALUES (:uuid,"
                " :reference, :slot, :exchange, :name, :email, 'confirmed', :now, :now, :now)"
            ),
            rows,
        )
        session.execute(
            text(
                "UPDATE time_slots SET current_bookings = (SELECT count(*) FROM bookings b"
                " WHERE b.time_slot_id = time_slots.id)"
            )
        )
        session.execute(
            text(
                "INSERT INTO tickets (uuid, exchange_id, day, kind, seq, customer_name, status,"
                " arrived_at, on_time, created_at, updated_at) VALUES (:uuid, :exchange, :day,"
                " 'walkin', :seq, :name, 'waiting', :now, false, :now, :now)"
            ),
            [
                {
                    "uuid": str(uuid.uuid4()),
                    "exchange": slots[0][1],
                    "day": now.date(),
                    "seq": n + 1,
                    "name": f"Walk-in {n}",
                    "now": now,
                }
                for n in range(WAITING)
            ],
        )
    engine.dispose()
    os.environ["SLOTCTL_NOW"] = NOW


def raw_read(url: str) -> float:
    """The baseline: the screen's rows by the raw driver, one transaction (seconds)."""
    from slotctl.db import dialects
    from slotctl.db.engine import make_engine

    engine = make_engine(url)
    with engine.connect() as connection:
        sql = dialects.of(connection)
        start = time.perf_counter()
        sql.run(connection, "SELECT * FROM time_slots WHERE exchange_id = 1 ORDER BY starts_at", ())
        sql.run(connection, "SELECT * FROM bookings WHERE exchange_id = 1 ORDER BY created_at", ())
        sql.run(
            connection, "SELECT * FROM tickets WHERE exchange_id = 1 AND status = 'waiting'", ()
        )
        elapsed = time.perf_counter() - start
    engine.dispose()
    return elapsed


def measure(url: str, rounds: int) -> dict[str, list[float]]:
    from textual.widgets import DataTable

    from slotctl.db.engine import make_engine, transaction
    from slotctl.desk.app import DeskApp
    from slotctl.services.queue import act, call_next

    engine = make_engine(url)
    app = DeskApp(engine, SLUG, "1", "bench", refresh_seconds=3600)
    times: dict[str, list[float]] = {
        "refresh": [], "raw read": [], "key n": [], "press n": [], "press idle": [],
        "call_next": [],
    }  # fmt: skip

    def requeue() -> None:
        """Put the ticket just called back in the queue (untimed)."""
        assert app.view is not None
        with transaction(engine) as session:
            act(session, "requeue", app.view.counters[-1].uuid, "bench")
        app.reload()

    async def main() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            queue = app.query_one("#queue", DataTable)
            for _ in range(rounds):
                start = time.perf_counter()
                app.reload()
                times["refresh"].append(time.perf_counter() - start)
                times["raw read"].append(raw_read(url))
                before = queue.row_count
                start = time.perf_counter()
                app.action_call_next()  # what the key does: the change, the redraw
                assert queue.row_count == before - 1
                times["key n"].append(time.perf_counter() - start)
                requeue()
                start = time.perf_counter()
                await pilot.press("n")  # the same through the harness, to the screen
                while queue.row_count != before - 1:
                    await asyncio.sleep(0)
                times["press n"].append(time.perf_counter() - start)
                requeue()
                start = time.perf_counter()
                await pilot.press("f12")  # a key bound to nothing: the harness alone
                times["press idle"].append(time.perf_counter() - start)
                start = time.perf_counter()
                with transaction(engine) as session:
                    ticket = call_next(session, SLUG, "1", "bench")
                times["call_next"].append(time.perf_counter() - start)
                with transaction(engine) as session:
                    act(session, "requeue", ticket.uuid, "bench")
                app.reload()

    asyncio.run(main())
    engine.dispose()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", help="URL of an empty PostgreSQL schema")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--update-readme", action="store_true")
    args = parser.parse_args()
    databases = {"SQLite": f"sqlite:///{tempfile.mkdtemp()}/desk.db"}
    if args.postgres:
        databases["PostgreSQL"] = args.postgres
    lines = [
        "| database | refresh (500 bookings, 200 waiting) | raw read | key `n`: change and redraw"
        " | `call_next` alone | `n` through the test harness | a key bound to nothing |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, url in databases.items():
        prepare(url)
        times = measure(url, args.rounds)
        med = {k: statistics.median(v) * 1000 for k, v in times.items()}
        lines.append(
            f"| {name} | {med['refresh']:.1f} ms (target ≤ 50) | {med['raw read']:.1f} ms"
            f" ({med['refresh'] / med['raw read']:.1f}×) | {med['key n']:.1f} ms (target ≤ 100)"
            f" | {med['call_next']:.1f} ms | {med['press n']:.1f} ms | {med['press idle']:.1f} ms |"
        )
    lines.append("")
    lines.append(
        f"Medians of {args.rounds} rounds; {platform.python_version()},"
        f" {datetime.now(UTC):%Y-%m-%d}, {os.cpu_count()} cores."
    )
    table = "\n".join(lines)
    print(table)
    if args.update_readme:
        update_readme("desk", table)


if __name__ == "__main__":
    main()
