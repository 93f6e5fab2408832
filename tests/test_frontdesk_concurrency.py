"""The front desk under load, in real OS processes, on SQLite and PostgreSQL.

1. Eight counters call ``queue next`` on one exchange as fast as they can while
   other processes add walk-ins and check customers in: every ticket is called
   exactly once, none is lost, and ``doctor`` is clean.
2. Bookers, cancellers and ``expire-pending`` run together on slots that have
   waitlist entries: no seat is oversold, every freed seat that a waiting entry
   matched went to the earliest such entry, and ``doctor`` is clean.

Each worker is a spawned process that runs slotctl's command line in-process
(Typer's runner: the same code path as the ``slotctl`` console script, with its own
engine and connections) and reports what it printed.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import time
import traceback
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

# Helpers shared by the workers ------------------------------------------------------


def _run(*args: str) -> tuple[int, str, str]:
    """One slotctl command in this process: (exit code, stdout, stderr)."""
    from typer.testing import CliRunner

    from slotctl.cli import app

    result = CliRunner().invoke(app, list(args), catch_exceptions=True)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(result.exception, limit=3))
    return result.exit_code, result.stdout, stderr


def _ok(result: Any) -> Any:
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    return result


def _spawn(target: Any, jobs: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """Run ``target(*job, go, reports)`` in one process per job; ``go`` is a barrier the
    workers pass together once each is ready (imported and connected); their reports."""
    context = multiprocessing.get_context("spawn")
    reports = context.Queue()
    go = context.Barrier(len(jobs))
    workers = [context.Process(target=target, args=(*job, go, reports)) for job in jobs]
    for worker in workers:
        worker.start()
    try:
        collected = [reports.get(timeout=180) for _ in workers]
    finally:
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.kill()
    return collected


# 1. Eight counters, one queue ------------------------------------------------------

QUEUE_NOW = "2027-03-22T09:50:00+00:00"  # Monday; check-in for 10:00 opened at 09:30
COUNTERS = 8
WALKIN_WORKERS = 1
WALKINS_EACH = 30
CHECKIN_WORKERS = 1
APPOINTMENTS = 30


def _call_until_done(number: int, producing: Any, report: dict[str, Any]) -> None:
    """A counter: call the next ticket until nobody waits and nobody produces."""
    counter = f"c{number}"
    deadline = time.monotonic() + 90
    empty = 0
    while time.monotonic() < deadline:
        still_producing = producing.value > 0  # read before the call that finds nobody
        code, out, err = _run("queue", "next", "busy", "--counter", counter, "-f", "json")
        if code == 0:
            ticket = json.loads(out)
            report["tickets"].append((ticket["uuid"], ticket["number"], ticket["counter"]))
        elif code == 3:
            empty += 1
            if not still_producing:
                break
            time.sleep(0.05)  # nobody waits yet: do not starve the producers of CPU
        else:
            report["errors"].append(f"queue next exit {code}: {err.strip()}")
    report["empty"] = empty


def _produce(role: str, payload: list[str], report: dict[str, Any]) -> None:
    """Issue tickets: walk-ins (``payload``: names) or check-ins (references)."""
    for item in payload:
        if role == "walkin":
            args: tuple[str, ...] = ("queue", "walkin", "busy", "--name", item, "-f", "json")
        else:
            args = ("bookings", "checkin", item, "-f", "json")
        code, out, err = _run(*args)
        if code != 0:
            report["errors"].append(f"{args[:2]} exit {code}: {err.strip()}")
            continue
        issued = json.loads(out)
        for ticket in issued if isinstance(issued, list) else [issued]:
            report["tickets"].append((ticket["uuid"], ticket["number"], ticket["kind"]))


def _queue_worker(
    url: str,
    role: str,
    number: int,
    payload: list[str],
    producing: Any,
    go: Any,
    reports: Any,
) -> None:
    """A counter (``role`` "counter") or a producer of tickets ("walkin", "checkin")."""
    os.environ["SLOTCTL_DATABASE_URL"] = url
    os.environ["SLOTCTL_NOW"] = QUEUE_NOW
    report: dict[str, Any] = {"role": role, "number": number, "tickets": [], "errors": []}
    try:
        _run("queue", "list", "busy", "-f", "json")  # imports and connects before the start
        go.wait(60)
        if role == "counter":
            _call_until_done(number, producing, report)
        else:
            _produce(role, payload, report)
    except Exception:
        report["errors"].append(traceback.format_exc(limit=5))
    finally:
        if role != "counter":
            with producing.get_lock():
                producing.value -= 1
        reports.put(report)


def test_counters_call_every_ticket_exactly_once(db: Any, cli: Any, monkeypatch: Any) -> None:
    from slotctl.db.engine import transaction
    from slotctl.services.bookings import NewBooking, create_booking

    monkeypatch.setenv("SLOTCTL_NOW", QUEUE_NOW)
    _ok(cli("exchanges", "add", "busy", "--name", "Busy", "--timezone", "UTC"))
    _ok(cli("hours", "set", "busy", "mon 10:00-12:00"))
    generate = "slots generate busy --from 2027-03-22 --days 1 --duration 60 --capacity 100"
    _ok(cli(*generate.split()))
    engine = db.engine()
    with transaction(engine) as session:
        references = [
            create_booking(
                session,
                "busy@2027-03-22T10:00",
                NewBooking(f"Customer {n}", f"c{n}@example.com"),
                "setup",
            )["reference"]
            for n in range(APPOINTMENTS)
        ]
    engine.dispose()

    context = multiprocessing.get_context("spawn")
    producing = context.Value("i", WALKIN_WORKERS + CHECKIN_WORKERS)
    jobs: list[tuple[Any, ...]] = [(db.url, "counter", n, [], producing) for n in range(COUNTERS)]
    jobs += [
        (db.url, "walkin", n, [f"Walk-in {n}.{k}" for k in range(WALKINS_EACH)], producing)
        for n in range(WALKIN_WORKERS)
    ]
    share = APPOINTMENTS // CHECKIN_WORKERS
    jobs += [
        (db.url, "checkin", n, references[n * share : (n + 1) * share], producing)
        for n in range(CHECKIN_WORKERS)
    ]
    started = time.monotonic()
    reports = _spawn(_queue_worker, jobs)
    elapsed = time.monotonic() - started

    errors = [e for r in reports for e in r["errors"]]
    assert errors == [], errors[:5]
    issued = [t for r in reports if r["role"] != "counter" for t in r["tickets"]]
    called = [
        (uuid, number, counter, f"c{r['number']}")
        for r in reports
        if r["role"] == "counter"
        for uuid, number, counter in r["tickets"]
    ]
    print(
        f"{db.kind}: {len(issued)} tickets issued and {len(called)} calls in {elapsed:.1f}s; "
        f"{sum(r.get('empty', 0) for r in reports)} empty calls; calls per counter "
        f"{sorted(len(r['tickets']) for r in reports if r['role'] == 'counter')}"
    )
    expected = APPOINTMENTS + WALKIN_WORKERS * WALKINS_EACH
    assert len(issued) == expected
    called_uuids = [uuid for uuid, *_ in called]
    duplicates = {u for u in called_uuids if called_uuids.count(u) > 1}
    assert duplicates == set(), f"{len(duplicates)} tickets called twice"
    assert set(called_uuids) == {uuid for uuid, *_ in issued}, "a ticket was never called"
    assert all(counter == mine for _, _, counter, mine in called)

    rows = db.query("SELECT uuid, status, counter, called_at, kind, seq FROM tickets")
    assert len(rows) == expected, "the tickets table lost or gained a ticket"
    assert {uuid for uuid, status, *_ in rows if status == "called"} == set(called_uuids)
    by_uuid = {uuid: counter for uuid, _, counter, *_ in called}
    for uuid, _, counter, called_at, _, _ in rows:
        assert counter == by_uuid[uuid]
        assert called_at is not None
    for kind, count in (("appointment", APPOINTMENTS), ("walkin", WALKIN_WORKERS * WALKINS_EACH)):
        seqs = sorted(seq for *_, k, seq in rows if k == kind)
        assert seqs == list(range(1, count + 1)), f"{kind} numbers are not 1..{count}"
    bookings = db.query(
        "SELECT b.status, b.counter, t.counter, b.called_at FROM bookings b "
        "JOIN tickets t ON t.booking_id = b.id"
    )
    assert len(bookings) == APPOINTMENTS
    for status, booking_counter, ticket_counter, called_at in bookings:
        assert status == "arrived"
        assert booking_counter == ticket_counter
        assert called_at is not None
    called_events = db.scalar("SELECT count(*) FROM booking_events WHERE note LIKE 'called to %'")
    assert called_events == APPOINTMENTS
    doctor = cli("doctor")
    assert doctor.exit_code == 0, doctor.stdout + doctor.stderr


# 2. Bookers, cancellers and expiry with a waitlist ----------------------------------

WL_BASE = datetime(2027, 3, 20, 12, 0, tzinfo=UTC)  # Saturday; the slots are on Monday
WL_DAY = date(2027, 3, 22)
WL_COMMANDS = 100  # the run ends after this many commands in all (or WL_SECONDS)
WL_SECONDS = 40.0
WL_TICK = timedelta(seconds=5)  # each command is 5 s after the one before: expiry happens
ENTRIES = 150
WL_TIMES = ("09:00", "09:30", "10:00", "10:30", "11:00", "11:30")
WINDOWS = {
    "A": ["--date", str(WL_DAY), "--between", "09:00-10:00"],
    "B": ["--date", str(WL_DAY), "--between", "10:00-11:00"],
    "C": ["--date", str(WL_DAY)],
}
WINDOW_SLOTS = {
    "A": {"09:00", "09:30"},
    "B": {"10:00", "10:30"},
    "C": set(WL_TIMES),
}  # 11:00 and 11:30 only C wants


def _tick(clock: Any) -> None:
    """Move the shared clock on and read it: every command sees a later time than any
    command that finished before it began."""
    with clock.get_lock():
        clock.value += 1
        ticks = clock.value
    os.environ["SLOTCTL_NOW"] = (WL_BASE + ticks * WL_TICK).isoformat()


def _command(role: str, number: int, count: int, rng: random.Random, engine: Any) -> list[str]:
    """The next command of a booker, a canceller or an expirer ([] for none now)."""
    from sqlalchemy import text

    if role == "booker":
        slot = f"wl@{WL_DAY}T{rng.choice(WL_TIMES)}"
        email = f"b{number}.{count}@bookers.example"
        confirm = ["--confirm"] if rng.random() < 0.3 else []
        return ["bookings", "create", slot, "--name", "Booker", "--email", email, *confirm]
    if role == "canceller":
        with engine.connect() as conn:
            live = list(
                conn.execute(
                    text(
                        "SELECT reference, status FROM bookings"
                        " WHERE status IN ('pending', 'confirmed')"
                    )
                )
            )
        if not live:
            return []
        reference, status = rng.choice(live)
        action = "confirm" if status == "pending" and rng.random() < 0.3 else "cancel"
        return ["bookings", action, reference]
    return ["bookings", "expire-pending", "--older-than", "1m"]


def _waitlist_worker(url: str, role: str, number: int, clock: Any, go: Any, reports: Any) -> None:
    from slotctl.db.engine import make_engine

    os.environ["SLOTCTL_DATABASE_URL"] = url
    rng = random.Random(number)
    engine = make_engine(url)
    report: dict[str, Any] = {"role": role, "codes": {}, "errors": [], "expired": 0, "log": []}
    try:
        os.environ["SLOTCTL_NOW"] = WL_BASE.isoformat()
        _run("waitlist", "list", "wl", "-f", "json")  # imports and connects before the start
        go.wait(60)
        deadline = time.monotonic() + WL_SECONDS
        count = 0
        while time.monotonic() < deadline and clock.value < WL_COMMANDS:
            count += 1
            args = _command(role, number, count, rng, engine)
            if not args:
                time.sleep(0.01)
                continue
            _tick(clock)
            began = time.monotonic()
            code, out, err = _run(*args, "-f", "json")
            report["codes"][code] = report["codes"].get(code, 0) + 1
            line = (os.environ["SLOTCTL_NOW"][11:19], role, " ".join(args[:3]), code)
            report["log"].append((*line, f"{time.monotonic() - began:.2f}s", (err or out)[:120]))
            if code == 0 and role == "expirer":
                report["expired"] += json.loads(out)["expired"]
            if code not in (0, 4) or "locked" in err:
                report["errors"].append(f"{args[:2]} exit {code}: {err.strip()}")
            if role == "expirer":
                time.sleep(0.05)
    except Exception:
        report["errors"].append(traceback.format_exc(limit=5))
    finally:
        engine.dispose()
        reports.put(report)


def _instant(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _waitlist_state(db: Any) -> tuple[list[dict[str, Any]], dict[int, dict[str, Any]]]:
    """Entries (by line order, each with its window and the slot time of its booking)
    and slots by id."""
    slots = {
        slot_id: {
            "time": f"{_instant(starts).hour:02d}:{_instant(starts).minute:02d}",
            "held": held,
            "capacity": capacity,
            "holding": holding,
        }
        for slot_id, starts, held, capacity, holding in db.query(
            "SELECT s.id, s.starts_at, s.current_bookings, s.max_capacity, (SELECT count(*)"
            " FROM bookings b WHERE b.time_slot_id = s.id AND b.status IN ('pending',"
            " 'confirmed', 'arrived', 'completed', 'no_show')) FROM time_slots s"
        )
    }
    entries = []
    for entry_id, email, status, booking_id, created, slot_id, start, end in db.query(
        "SELECT w.id, w.customer_email, w.status, w.booking_id, w.created_at, b.time_slot_id,"
        " w.between_start, w.between_end FROM waitlist_entries w"
        " LEFT JOIN bookings b ON b.id = w.booking_id ORDER BY w.created_at, w.id"
    ):
        window = "C" if start is None else {"09:00": "A", "10:00": "B"}[start]
        assert end in (None, {"A": "10:00", "B": "11:00"}.get(window))
        entries.append(
            {
                "id": entry_id,
                "email": email,
                "status": status,
                "booking": booking_id,
                "created": _instant(created),
                "window": window,
                "slot": None if slot_id is None else slots[slot_id]["time"],
            }
        )
    return entries, slots


def _wl_setup(cli: Any, db: Any, monkeypatch: Any) -> None:
    """Six slots of two seats on Monday, every seat taken (half confirmed, half pending
    and stale), and ENTRIES entries waiting in three windows, interleaved."""
    from slotctl.db.engine import transaction
    from slotctl.services.bookings import NewBooking, create_booking, transition

    monkeypatch.setenv("SLOTCTL_NOW", (WL_BASE - timedelta(hours=2)).isoformat())
    _ok(cli("exchanges", "add", "wl", "--name", "Waitlist", "--timezone", "UTC"))
    _ok(cli("hours", "set", "wl", "mon 09:00-12:00"))
    generate = f"slots generate wl --from {WL_DAY} --days 1 --duration 30 --capacity 2"
    _ok(cli(*generate.split()))
    engine = db.engine()
    with transaction(engine) as session:
        for hhmm in WL_TIMES:
            for n in range(2):
                email = f"seed{n}.{hhmm.replace(':', '')}@seed.example"
                booking = create_booking(
                    session, f"wl@{WL_DAY}T{hhmm}", NewBooking("Seed", email), "setup"
                )
                if n == 0:
                    transition(session, "confirm", [booking["reference"]], "setup")
    engine.dispose()
    from slotctl.services.waitlist import NewEntry, add_entry

    engine = db.engine()
    with transaction(engine) as session:
        for k in range(ENTRIES):
            window = "ABCAB"[k % 5]  # interleaved lines; C wants every slot
            stamp = WL_BASE - timedelta(hours=1) + timedelta(seconds=k)
            monkeypatch.setenv("SLOTCTL_NOW", stamp.isoformat())
            args = WINDOWS[window]
            new = NewEntry(
                f"Waiting {k}",
                f"w{k}.{window.lower()}@waitlist.example",
                on=args[1],
                between=args[3] if len(args) > 2 else None,
            )
            assert add_entry(session, "wl", new)["status"] == "waiting"
    engine.dispose()


def test_freed_seats_go_to_the_earliest_waiting_entry_under_load(
    db: Any, cli: Any, monkeypatch: Any
) -> None:
    _wl_setup(cli, db, monkeypatch)
    context = multiprocessing.get_context("spawn")
    clock = context.Value("q", 0)
    roles = ["booker"] * 3 + ["canceller"] * 3 + ["expirer"] * 2
    reports = _spawn(_waitlist_worker, [(db.url, role, n, clock) for n, role in enumerate(roles)])
    monkeypatch.setenv("SLOTCTL_NOW", (WL_BASE + (clock.value + 1) * WL_TICK).isoformat())

    errors = [e for r in reports for e in r["errors"]]
    assert errors == [], errors[:5]
    codes: dict[str, dict[int, int]] = {}
    for report in reports:
        for code, n in report["codes"].items():
            codes.setdefault(report["role"], {}).setdefault(code, 0)
            codes[report["role"]][code] += n
    entries, slots = _waitlist_state(db)
    booked = [e for e in entries if e["status"] == "booked"]
    promoted = db.scalar("SELECT count(*) FROM booking_events WHERE actor = 'waitlist'")
    print(
        f"{db.kind}: exit codes by role {codes}; {sum(r['expired'] for r in reports)} expired; "
        f"{len(booked)} of {len(entries)} entries booked; {clock.value} commands"
    )

    # No seat oversold; counters equal the seat-holding bookings.
    for slot in slots.values():
        assert slot["held"] <= slot["capacity"], slot
        assert slot["held"] == slot["holding"], slot

    # Every booked entry has a pending-at-birth waitlist booking on a slot of its window.
    assert promoted == len(booked)
    for e in booked:
        assert e["booking"] is not None
        assert e["slot"] in WINDOW_SLOTS[e["window"]], e
    assert all(e["status"] in ("waiting", "booked") for e in entries)

    # No free seat next to a waiting entry that wants it.
    free = {slot["time"] for slot in slots.values() if slot["held"] < slot["capacity"]}
    for e in entries:
        if e["status"] == "waiting":
            assert not (WINDOW_SLOTS[e["window"]] & free), (e, free)

    # First come, first served: no entry that wanted a seat given to a later entry
    # is still waiting; and within each window entries were booked in line order.
    for e in booked:
        for earlier in entries:
            if earlier["created"] >= e["created"] or earlier["status"] != "waiting":
                continue
            assert e["slot"] not in WINDOW_SLOTS[earlier["window"]], (
                f"{e['email']} got {e['slot']} while {earlier['email']} (earlier) waits"
            )
    for window in WINDOWS:
        line = [e for e in entries if e["window"] == window]
        statuses = [e["status"] for e in line]
        assert statuses == sorted(statuses, key=lambda s: s != "booked"), (window, statuses)
        ids = [e["booking"] for e in line if e["status"] == "booked"]
        # SQLite has one writer: the bookings were made in line order. (On PostgreSQL two
        # transactions each giving a seat to its line's first entries may commit in
        # either order, both fairly: only the final state above is the rule there.)
        if db.kind == "sqlite" and ids != sorted(ids):
            log = sorted(entry for r in reports for entry in r["log"])
            pytest.fail(
                f"window {window} was not booked in line order: {ids}\n"
                + "\n".join(" ".join(map(str, entry)) for entry in log)
            )

    # The run really exercised the paths it claims to.
    assert sum(r["expired"] for r in reports) > 0, "expiry never freed a seat"
    assert len(booked) >= 6, "the waitlist was hardly used"
    assert codes.get("booker", {}).get(4, 0) > 0, "the slots were never contended"
    waitlist_expired = db.scalar(
        "SELECT count(*) FROM bookings b JOIN waitlist_entries w ON w.booking_id = b.id"
        " WHERE b.cancellation_reason = 'expired'"
    )
    print(f"{db.kind}: {waitlist_expired} waitlist bookings expired")
    assert waitlist_expired > 0, "no waitlist booking expired: the hand-on was not exercised"
    doctor = cli("doctor")
    assert doctor.exit_code == 0, doctor.stdout + doctor.stderr


def test_the_earliest_entry_keeps_its_place_while_another_transaction_holds_it(
    db: Any, cli: Any, monkeypatch: Any
) -> None:
    """A transaction holds the first entry's row (as a concurrent promotion does before
    it fails to book it, or a batch that is then refused) and rolls back, while a
    cancel frees a seat that entry wants: the seat still goes to the first in line,
    not to the next one (first come, first served)."""
    import threading

    from sqlalchemy import text

    monkeypatch.setenv("SLOTCTL_NOW", WL_BASE.isoformat())
    _ok(cli("exchanges", "add", "hold", "--name", "Hold", "--timezone", "UTC"))
    _ok(cli("hours", "set", "hold", "mon 09:00-09:30"))
    _ok(cli("slots", "generate", "hold", "--from", str(WL_DAY), "--days", "1", "--capacity", "1"))
    create = ["bookings", "create", f"hold@{WL_DAY}T09:00", "--name", "Filler"]
    filler = _ok(cli(*create, "--email", "f@example.com", "--confirm", "-f", "json")).json()
    add = ["waitlist", "add", "hold", "--date", str(WL_DAY), "-f", "json"]
    first = _ok(cli(*add, "--name", "First", "--email", "first@example.com")).json()
    monkeypatch.setenv("SLOTCTL_NOW", (WL_BASE + timedelta(minutes=1)).isoformat())
    second = _ok(cli(*add, "--name", "Second", "--email", "second@example.com")).json()
    engine = db.engine()
    held = threading.Event()

    def hold_then_roll_back() -> None:
        with engine.connect() as conn:
            transaction = conn.begin()
            conn.execute(
                text("UPDATE waitlist_entries SET updated_at = updated_at WHERE uuid = :u"),
                {"u": first["uuid"]},
            )
            held.set()
            time.sleep(1.5)
            transaction.rollback()

    holder = threading.Thread(target=hold_then_roll_back)
    holder.start()
    try:
        assert held.wait(10)
        cancelled = cli("bookings", "cancel", filler["reference"])
    finally:
        holder.join()
        engine.dispose()
    _ok(cancelled)
    statuses = dict(db.query("SELECT customer_email, status FROM waitlist_entries"))
    assert statuses == {"first@example.com": "booked", "second@example.com": "waiting"}, (
        f"the freed seat went past the first entry (held by another transaction): {statuses}"
    )
    assert second["status"] == "waiting"


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__, "-q", "-s"])
