"""Proof under load: 8 OS processes book, cancel and move on the same few slots.

Afterwards no slot is over capacity, every counter equals its seat-holding
bookings, no booking is lost or duplicated, and no "database is locked" error
reached anyone. The same harness run with a read-then-write booking function
breaks those guarantees, which shows the test can tell the difference.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

PROCESSES = 8
SECONDS = 3.0
SLOTS = ("hot@2027-03-22T09:00", "hot@2027-03-22T09:30", "hot@2027-03-22T10:00")
CAPACITY = 3
NOW = "2027-03-20T12:00:00+00:00"


def _setup(cli: Any) -> None:
    assert (
        cli("exchanges", "add", "hot", "--name", "Hot", "--timezone", "Europe/Berlin").exit_code
        == 0
    )
    assert cli("hours", "set", "hot", "mon 09:00-10:30").exit_code == 0
    result = cli(
        "slots",
        "generate",
        "hot",
        "--from",
        "2027-03-22",
        "--to",
        "2027-03-22",
        "--duration",
        "30",
        "--capacity",
        str(CAPACITY),
    )
    assert result.exit_code == 0, result.stderr


def _correct_create(session: Any, slot: str, email: str) -> str:
    from slotctl.services.bookings import NewBooking, create_booking

    return str(create_booking(session, slot, NewBooking("Load Test", email), "load")["reference"])


def _read_then_write_create(session: Any, slot_ident: str, email: str) -> str:
    """What the design forbids: read the counter, decide in Python, write it back."""
    import secrets

    from sqlalchemy import text

    from slotctl.errors import Conflict
    from slotctl.services.slots import resolve_slot

    slot, exchange = resolve_slot(session, slot_ident)
    current, capacity = session.execute(
        text("SELECT current_bookings, max_capacity FROM time_slots WHERE id = :id"),
        {"id": slot.id},
    ).one()
    if current >= capacity:
        raise Conflict("full")
    time.sleep(0.002)  # the window any real work between read and write opens
    session.execute(
        text("UPDATE time_slots SET current_bookings = :n WHERE id = :id"),
        {"n": current + 1, "id": slot.id},
    )
    reference = "BK-" + secrets.token_hex(3).upper()
    session.execute(
        text(
            "INSERT INTO bookings (uuid, reference, time_slot_id, exchange_id, customer_name, "
            "customer_email, status, created_at, updated_at) VALUES "
            "(:u, :r, :s, :e, 'Load Test', :m, 'pending', :t, :t)"
        ),
        {
            "u": f"{os.getpid():08d}-{reference}",
            "r": reference,
            "s": slot.id,
            "e": exchange.id,
            "m": email,
            "t": "2027-03-20 12:00:00.000000"
            if session.get_bind().dialect.name == "sqlite"
            else NOW,
        },
    )
    return reference


def _plain_engine(url: str) -> Any:
    """An engine without slotctl's BEGIN IMMEDIATE: how a naive implementation connects."""
    from sqlalchemy import create_engine

    return create_engine(url, connect_args={"timeout": 10} if url.startswith("sqlite") else {})


@contextmanager
def _session(engine: Any, broken: bool, creating: bool) -> Iterator[Any]:
    """The sessions the CLI opens: staged for a create, a write transaction otherwise."""
    from sqlalchemy.orm import Session

    from slotctl.db.engine import staged, transaction

    if not broken:
        with (staged if creating else transaction)(engine) as session:
            yield session
        return
    with Session(engine) as session, session.begin():
        yield session


def _worker(url: str, number: int, broken: bool, queue: Any) -> None:
    """Book, cancel and move as fast as possible; report what happened."""
    os.environ["SLOTCTL_NOW"] = NOW
    from slotctl.db.engine import make_engine
    from slotctl.errors import Conflict, SlotctlError
    from slotctl.services.bookings import move_booking, transition

    create: Callable[[Any, str, str], str] = _read_then_write_create if broken else _correct_create
    engine = _plain_engine(url) if broken else make_engine(url)
    rng = random.Random(number)
    created: list[str] = []
    live: list[str] = []
    errors: list[str] = []
    refused = 0
    deadline = time.monotonic() + SECONDS
    counter = 0
    while time.monotonic() < deadline:
        counter += 1
        action = rng.random()
        try:
            creating = action < 0.6 or not live
            with _session(engine, broken, creating) as session:
                if creating:
                    reference = create(
                        session, rng.choice(SLOTS), f"w{number}.{counter}@example.com"
                    )
                    created.append(reference)
                    live.append(reference)
                elif action < 0.8:
                    transition(session, "cancel", [live.pop(rng.randrange(len(live)))], "load")
                else:
                    move_booking(session, rng.choice(live), rng.choice(SLOTS), "load")
        except Conflict:
            refused += 1
        except SlotctlError as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0]}")
            if len(errors) == 1:
                errors.append(traceback.format_exc(limit=3))
    engine.dispose()
    queue.put({"created": created, "errors": errors, "refused": refused, "attempts": counter})


def _hammer(url: str, broken: bool) -> list[dict[str, Any]]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [
        context.Process(target=_worker, args=(url, n, broken, queue)) for n in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    reports = [queue.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    return reports


def _violations(db: Any, reports: list[dict[str, Any]]) -> list[str]:
    problems = [error for report in reports for error in report["errors"]]
    holding = "('pending', 'confirmed', 'completed', 'no_show')"
    rows = db.query(
        "SELECT s.id, s.current_bookings, s.max_capacity, "
        f"(SELECT count(*) FROM bookings b WHERE b.time_slot_id = s.id AND b.status IN {holding}) "
        "FROM time_slots s"
    )
    for slot_id, counter, capacity, actual in rows:
        if actual > capacity:
            problems.append(f"slot {slot_id} overbooked: {actual} > {capacity}")
        if counter != actual:
            problems.append(f"slot {slot_id} counter {counter} != {actual} seat-holding bookings")
    created = [ref for report in reports for ref in report["created"]]
    stored = [ref for (ref,) in db.query("SELECT reference FROM bookings")]
    if sorted(created) != sorted(stored):
        problems.append(f"{len(created)} bookings reported created, {len(stored)} stored")
    return problems


def test_no_overbooking_under_load(db: Any, cli: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("SLOTCTL_NOW", NOW)
    _setup(cli)
    reports = _hammer(db.url, broken=False)
    assert _violations(db, reports) == []
    attempts = sum(r["attempts"] for r in reports)
    created = sum(len(r["created"]) for r in reports)
    print(
        f"{db.kind}: {attempts} operations, {created} bookings created, "
        f"{sum(r['refused'] for r in reports)} refused as conflicts"
    )
    assert attempts > 100, "the workers did not get going"
    assert created >= CAPACITY * len(SLOTS)  # seats were filled, freed and refilled
    assert sum(r["refused"] for r in reports) > 0  # and the slots really were contended
    events = db.scalar("SELECT count(*) FROM booking_events")
    assert events >= created
    assert cli("doctor").exit_code == 0


def test_read_then_write_is_caught(db: Any, cli: Any, monkeypatch: Any) -> None:
    """The harness is not blind: a read-then-write booker breaks the invariants."""
    monkeypatch.setenv("SLOTCTL_NOW", NOW)
    _setup(cli)
    reports = _hammer(db.url, broken=True)
    problems = _violations(db, reports)
    print(f"{db.kind}: read-then-write broke {len(problems)} checks, e.g. {problems[:2]}")
    assert problems, "a read-then-write implementation went unnoticed"
    if db.kind == "postgres":  # lost updates: more bookings than the counter says
        assert any("overbooked" in p or "counter" in p for p in problems), problems
    else:  # SQLite refuses the lock upgrade: 'database is locked' reaches the user
        assert any("locked" in p or "counter" in p or "overbooked" in p for p in problems), problems


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__, "-q"])


def test_overlapping_expiry_runs_expire_each_booking_once(
    db: Any, cli: Any, monkeypatch: Any
) -> None:
    """Cron runs that overlap cancel every stale booking exactly once and free each seat once."""
    import json
    import subprocess
    import sys

    monkeypatch.setenv("SLOTCTL_NOW", NOW)
    assert cli("exchanges", "add", "busy", "--name", "Busy", "--timezone", "UTC").exit_code == 0
    assert cli("hours", "set", "busy", "mon-fri 08:00-18:00").exit_code == 0
    generated = cli(
        "slots", "generate", "busy", "--from", "2027-03-22", "--days", "5", "--capacity", "50"
    )
    assert generated.exit_code == 0
    engine = db.engine()
    from slotctl.db.engine import transaction
    from slotctl.services.bookings import NewBooking, create_booking

    with transaction(engine) as session:
        for n in range(200):
            slot = f"busy@2027-03-2{2 + n % 5}T{8 + n % 10:02d}:00"
            create_booking(session, slot, NewBooking("Stale", f"s{n}@example.com"), "load")
    engine.dispose()
    env = {**os.environ, "SLOTCTL_DATABASE_URL": db.url, "SLOTCTL_NOW": "2027-03-20T13:00:00+00:00"}
    command = [
        sys.executable,
        "-m",
        "slotctl",
        "bookings",
        "expire-pending",
        "--older-than",
        "30m",
        "--format",
        "json",
    ]
    runs = [
        subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert all(run.returncode == 0 for run in runs), outputs
    assert sum(json.loads(out)["expired"] for out, _ in outputs) == 200
    assert db.scalar("SELECT count(*) FROM bookings WHERE status = 'cancelled'") == 200
    assert db.scalar("SELECT sum(current_bookings) FROM time_slots") == 0
    assert db.scalar("SELECT count(*) FROM booking_events WHERE actor = 'system'") == 200


def test_imports_racing_bookers_never_overbook(
    db: Any, cli: Any, monkeypatch: Any, tmp_path: Any
) -> None:
    """Booking imports land while 8 processes book, cancel and move on the same slots:
    capacity holds and counters stay exact; each import is applied whole (exit 0) or
    refused whole as overbooking (exit 5), never half, never 'locked'."""
    import subprocess
    import sys
    import threading
    import uuid

    monkeypatch.setenv("SLOTCTL_NOW", NOW)
    _setup(cli)
    slots = [uuid_ for (uuid_,) in db.query("SELECT uuid FROM time_slots ORDER BY starts_at")]
    files: dict[str, list[tuple[str, str]]] = {}
    for n in range(3):
        rows = [(str(uuid.uuid4()), f"BK-IMP{n}{k}") for k in range(len(slots))]
        lines = ["uuid,reference,slot,customer_name,customer_email,status"]
        lines += [
            f"{u},{ref},{slot},Imported,imp{n}.{k}@example.com,confirmed"
            for k, ((u, ref), slot) in enumerate(zip(rows, slots, strict=True))
        ]
        path = tmp_path / f"import{n}.csv"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        files[str(path)] = rows
    env = {**os.environ, "SLOTCTL_DATABASE_URL": db.url, "SLOTCTL_NOW": NOW}
    outcomes: dict[str, subprocess.CompletedProcess[str]] = {}

    def run_imports() -> None:
        time.sleep(1.5)  # the bookers are under way
        runs = {
            path: subprocess.Popen(
                [sys.executable, "-m", "slotctl", "bookings", "import", path],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for path in files
        }
        for path, run in runs.items():
            out, err = run.communicate(timeout=120)
            outcomes[path] = subprocess.CompletedProcess(run.args, run.returncode, out, err)

    importer = threading.Thread(target=run_imports)
    importer.start()
    reports = _hammer(db.url, broken=False)
    importer.join()
    stored = {ref for (ref,) in db.query("SELECT reference FROM bookings")}
    imported = []
    for path, result in outcomes.items():
        assert result.returncode in (0, 5), (result.returncode, result.stderr)
        present = {ref for _, ref in files[path]} & stored
        if result.returncode == 0:
            assert present == {ref for _, ref in files[path]}, result.stderr
            imported.extend(ref for _, ref in files[path])
        else:
            assert "overbook" in result.stderr, result.stderr
            assert present == set(), "a refused import wrote something"
    for report in reports:  # the imported bookings count as created for the checks
        report["created"] = [*report["created"]]
    reports.append({"created": imported, "errors": [], "refused": 0, "attempts": 0})
    assert _violations(db, reports) == []
    assert cli("doctor").exit_code == 0
