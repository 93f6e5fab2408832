"""Fault injection: slotctl stays correct when processes die, locks are held and
connections drop.

Three tests, each on SQLite and PostgreSQL where it applies:

* **Kill at random moments** (``test_kill_at_random_moments``): ``slots generate``,
  ``bookings import FILE``, ``bookings expire-pending`` and ``import DIR`` run as real
  ``python -m slotctl`` processes on data sized so each takes about a second, and are
  SIGKILLed after a seeded random delay spread over the command's measured runtime.
  Afterwards ``doctor`` holds; an import or an expiry left either nothing (the database
  equals its state before, row for row) or everything (the state of an uninterrupted
  run); generation left a subset of an uninterrupted run's slots, and re-running it
  completes to exactly that set.
* **Locked SQLite** (``test_locked_sqlite_refuses_writing_command``): every writing
  command of docs/cli.md runs while another connection holds ``BEGIN EXCLUSIVE``, with
  ``SLOTCTL_BUSY_TIMEOUT=0.2``: exit 6, one ``Error:`` line saying the database is
  locked, no traceback, nothing changed; released, the same command succeeds.
* **PostgreSQL backends terminated** (``test_terminated_backends_while_booking``): 8
  processes book seats through the CLI while the test keeps terminating their server
  connections (only theirs: they carry their own ``application_name``). Every run exits
  0, 4 (slot full) or 6, never 1; every booking reported made exists; no slot is over
  capacity, counters are exact and ``doctor`` holds.

``SLOTCTL_FAULT_TRIALS`` (default 2) sets the kills per command and database (and
stretches the booking race to 2.5 s per trial), ``SLOTCTL_FAULT_SEED`` (default 1) the
seed. The long run: ``SLOTCTL_FAULT_TRIALS=30 SLOTCTL_FAULT_SEED=$RANDOM pytest -s
tests/test_faults.py -k "kill or terminated"``; ``-s`` prints every trial.
"""

from __future__ import annotations

import csv
import io
import multiprocessing
import os
import random
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from slotctl.db.migrate import upgrade
from slotctl.db.models import Base
from tests.conftest import (
    PG_ADMIN_URL,
    Database,
    Run,
    drop_pg_schema,
    invoke,
    new_pg_schema,
    require_postgres,
)

TRIALS = int(os.environ.get("SLOTCTL_FAULT_TRIALS", "2"))
SEED = os.environ.get("SLOTCTL_FAULT_SEED", "1")
NOW = "2027-03-20T12:00:00+00:00"
LATER = "2027-03-20T13:00:00+00:00"  # an hour on: every pending booking made at NOW is stale
TABLES = [table.name for table in Base.metadata.sorted_tables]

# Data sizes: each killed command takes about a second on a 2-core machine.
GEN_DAYS = 160  # ~29,000 slots
IMPORT_ROWS = 6_000  # bookings in the file of `bookings import`
EXPIRE_ROWS = 10_000  # bookings behind `expire-pending` (3 of 4 pending) and `import DIR`
# Generation commits every COMMIT_ROWS (100,000) rows, more than a run here writes, so
# a real run commits once, at its end. Every other trial lowers it so that each 92-day
# chunk commits and a kill can land between commits; otherwise the same `python -m
# slotctl`.
LOW_COMMIT = (
    "-c",
    "import runpy, slotctl.services.generate as g; g.COMMIT_ROWS = 1; "
    "runpy.run_module('slotctl', run_name='__main__')",
)


def _ok(result: Run) -> Run:
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    return result


def _doctor_holds(cli: Any) -> None:
    result = cli("doctor")
    assert result.exit_code == 0, ("doctor", result.exit_code, result.stdout, result.stderr)


def _sh(cli: Any, line: str, *more: str) -> Run:
    """Run a command line in this process (shell quoting), more arguments appended;
    it must succeed."""
    return _ok(cli(*shlex.split(line), *more))


# The working database and saved states of it ------------------------------------------


class Lab:
    """The test's database (the ``db`` fixture) and named copies of its states.

    SQLite: copies of the file (and its WAL). PostgreSQL: each state is a schema of
    plain copies of the tables, restored with TRUNCATE and INSERT ... SELECT; the
    subprocesses' connections carry an ``application_name`` of their own so the test
    can wait until the server has let go of a killed client.
    """

    def __init__(self, db: Database, tmp: Path) -> None:
        self.db = db
        self.tmp = tmp
        self.app = f"slotctl_fault_{uuid.uuid4().hex[:10]}"
        self.saved: list[str] = []
        if db.kind == "sqlite":
            self.path = Path(db.url.removeprefix("sqlite:///"))
            self.schema = ""
            self.url = db.url
        else:
            self.schema = str(db.scalar("SELECT current_schema()"))
            self.url = f"{db.url}&application_name={self.app}"
            self.admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")

    def env(self, now: str = NOW) -> dict[str, str]:
        return {**os.environ, "SLOTCTL_DATABASE_URL": self.url, "SLOTCTL_NOW": now}

    def save(self, name: str) -> None:
        if self.db.kind == "sqlite":
            for suffix in ("", "-wal"):
                source = Path(f"{self.path}{suffix}")
                target = self.tmp / f"state-{name}.db{suffix}"
                target.unlink(missing_ok=True)
                if source.exists():
                    shutil.copy(source, target)
            return
        copy = f"{self.schema}_{name.replace('-', '_')}"
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{copy}" CASCADE'))
            conn.execute(text(f'CREATE SCHEMA "{copy}"'))
            for table in TABLES:
                conn.execute(
                    text(f'CREATE TABLE "{copy}".{table} AS SELECT * FROM "{self.schema}".{table}')
                )
        self.saved.append(copy)

    def restore(self, name: str) -> None:
        if self.db.kind == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
                source = self.tmp / f"state-{name}.db{suffix}"
                if source.exists():
                    shutil.copy(source, f"{self.path}{suffix}")
            return
        copy = f"{self.schema}_{name.replace('-', '_')}"
        work = f'"{self.schema}"'
        with self.admin.begin() as conn:
            listed = ", ".join(f"{work}.{table}" for table in TABLES)
            conn.execute(text(f"TRUNCATE {listed} RESTART IDENTITY CASCADE"))
            for table in TABLES:
                conn.execute(text(f'INSERT INTO {work}.{table} SELECT * FROM "{copy}".{table}'))
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{work}.{table}', 'id'), "
                        f"COALESCE(MAX(id), 0) + 1, false) FROM {work}.{table}"
                    )
                )
        self.analyze()

    def analyze(self) -> None:
        """Refresh PostgreSQL's planner statistics of the working tables after the
        test restored a copy with INSERT ... SELECT (as an import does itself)."""
        if self.db.kind == "postgres":
            with self.admin.connect() as conn:
                for table in TABLES:
                    conn.execute(text(f'ANALYZE "{self.schema}".{table}'))

    def doctor(self, cli: Any) -> None:
        """`slotctl doctor` exits 0: every invariant holds."""
        _doctor_holds(cli)

    def settle(self) -> None:
        """Wait until the server has ended the backends of killed clients (PostgreSQL)."""
        if self.db.kind == "sqlite":
            return
        query = text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :app")
        deadline = time.monotonic() + 20
        with self.admin.connect() as conn:
            while conn.execute(query, {"app": self.app}).scalar():
                assert time.monotonic() < deadline, "a killed client's backend did not end"
                time.sleep(0.05)

    def close(self) -> None:
        if self.db.kind == "postgres":
            with self.admin.connect() as conn:
                for copy in self.saved:
                    conn.execute(text(f'DROP SCHEMA IF EXISTS "{copy}" CASCADE'))
            self.admin.dispose()


@pytest.fixture
def lab(db: Database, tmp_path: Path) -> Iterator[Lab]:
    work = Lab(db, tmp_path)
    try:
        yield work
    finally:
        work.close()


# Running a command and killing it ------------------------------------------------------


@dataclass
class Outcome:
    killed: bool
    returncode: int
    stderr: str
    seconds: float


def _run(argv: list[str], env: dict[str, str], stop_after: float | None, log: Path) -> Outcome:
    """Run ``argv``; SIGKILL it after ``stop_after`` seconds unless it ended before."""
    with log.open("w+", encoding="utf-8") as err:
        started = time.monotonic()
        process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=err)
        killed = False
        try:
            process.wait(timeout=stop_after if stop_after is not None else 300)
        except subprocess.TimeoutExpired:
            if stop_after is None:
                process.kill()
                process.wait()
                raise
            process.send_signal(signal.SIGKILL)
            process.wait()
            killed = True
        seconds = time.monotonic() - started
        err.seek(0)
        return Outcome(killed, process.returncode, err.read(), seconds)


def _slotctl(*args: str) -> list[str]:
    return [sys.executable, "-m", "slotctl", *args]


# What a state looks like -----------------------------------------------------------------


def _fingerprint(db: Database) -> dict[str, Any]:
    """Id-independent content: row counts, every booking and every slot."""
    return {
        "counts": {table: db.scalar(f"SELECT count(*) FROM {table}") for table in TABLES},
        "bookings": db.query(
            "SELECT b.reference, b.status, b.cancellation_reason, s.uuid, b.customer_email "
            "FROM bookings b JOIN time_slots s ON s.id = b.time_slot_id ORDER BY b.reference"
        ),
        "slots": db.query(
            "SELECT uuid, current_bookings, max_capacity, is_available FROM time_slots "
            "ORDER BY uuid"
        ),
    }


def _slot_set(db: Database) -> set[tuple[Any, ...]]:
    rows = db.query(
        "SELECT e.slug, s.starts_at, s.ends_at, s.date, s.max_capacity, s.is_available, "
        "s.current_bookings FROM time_slots s JOIN exchanges e ON e.id = s.exchange_id"
    )
    return {tuple(str(value) for value in row) for row in rows}


# The scenarios -------------------------------------------------------------------------


@dataclass
class Plan:
    args: tuple[str, ...]
    now: str = NOW
    resumable: bool = False  # generation: check a subset, re-run, compare the slot set


def _slots_for_bookings(cli: Any, db: Database) -> list[str]:
    """One exchange, 1,000 slots of 20 seats, two bookings already there."""
    _sh(cli, "exchanges add imp --name Imports --timezone UTC")
    _sh(cli, "hours set imp 'daily 08:00-18:00'")
    _sh(cli, "slots generate imp --from 2027-03-21 --days 50 --duration 30 --capacity 20")
    _sh(cli, "bookings create imp@2027-03-21T08:00 --name Ann --email a@x.org")
    _sh(cli, "bookings create imp@2027-03-22T08:00 --name Bo --email b@x.org")
    return [slot for (slot,) in db.query("SELECT uuid FROM time_slots ORDER BY starts_at")]


def _bookings_file(
    path: Path, slots: list[str], rows: int, prefix: str, statuses: list[str]
) -> Path:
    """A bookings file in the columns of `bookings export` (the derivable ones left out)."""
    lines = ["uuid,reference,slot,customer_name,customer_email,customer_phone,notes,status"]
    for n in range(rows):
        status = statuses[n % len(statuses)]
        lines.append(
            f"{uuid.uuid4()},{prefix}{n},{slots[n % len(slots)]},Customer {n},"
            f'{prefix.lower()}{n}@example.com,030 {n:05d},"row {n}, filed",{status}'
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _plan_generate(lab: Lab, cli: Any) -> Plan:
    _sh(cli, "exchanges add gen-berlin --name Berlin --timezone Europe/Berlin")
    _sh(cli, "exchanges add gen-utc --name UTC --timezone UTC")
    _sh(cli, "hours set gen-berlin 'daily 00:00-24:00'")
    _sh(cli, "hours set gen-utc 'mon-fri 08:00-12:00,13:00-18:00'")
    _sh(cli, "hours closures add gen-berlin 2027-05-01 2027-05-03")
    # Slots of another length already there (generation skips what they overlap), booked.
    _sh(cli, "slots generate gen-utc --from 2027-04-05 --to 2027-04-06 --duration 45")
    _sh(cli, "bookings create gen-utc@2027-04-05T08:00 --name Early --email e@x.org")
    args = f"slots generate --all --from 2027-03-21 --days {GEN_DAYS} --duration 10 --capacity 2"
    return Plan(tuple(args.split()), resumable=True)


def _plan_bookings_import(lab: Lab, cli: Any) -> Plan:
    slots = _slots_for_bookings(cli, lab.db)
    statuses = ["pending", "confirmed", "pending", "cancelled"]
    path = _bookings_file(lab.tmp / "bookings.csv", slots, IMPORT_ROWS, "FI", statuses)
    return Plan(("bookings", "import", str(path)))


def _plan_expire(lab: Lab, cli: Any) -> Plan:
    slots = _slots_for_bookings(cli, lab.db)
    statuses = ["pending", "pending", "confirmed", "pending"]
    path = _bookings_file(lab.tmp / "pending.csv", slots, EXPIRE_ROWS, "EX", statuses)
    _sh(cli, "bookings import", str(path))
    return Plan(("bookings", "expire-pending", "--older-than", "30m"), now=LATER)


def _plan_import_dir(lab: Lab, cli: Any) -> Plan:
    lab.save("empty")
    _plan_expire(lab, cli)
    _sh(cli, "hours closures add imp 2027-06-01 --reason inventory")
    _sh(cli, "export", str(lab.tmp / "dump"))
    lab.restore("empty")
    return Plan(("import", str(lab.tmp / "dump")))


SCENARIOS: dict[str, Callable[[Lab, Any], Plan]] = {
    "slots-generate": _plan_generate,
    "bookings-import": _plan_bookings_import,
    "expire-pending": _plan_expire,
    "import-dir": _plan_import_dir,
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_kill_at_random_moments(
    scenario: str, db: Database, lab: Lab, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGKILL a bulk command at random moments: doctor holds, the command's work is all
    or nothing (generation: whole chunks, and a re-run completes it)."""
    monkeypatch.setenv("SLOTCTL_NOW", NOW)
    plan = SCENARIOS[scenario](lab, cli)
    lab.save("start")
    base = _fingerprint(db)
    base_rows = db.snapshot()
    base_slots = _slot_set(db)
    env = lab.env(plan.now)
    argv = _slotctl(*plan.args)
    # The uninterrupted run: the state every complete run must reach, and the runtime.
    full_run = _run(argv, env, None, lab.tmp / "full.log")
    assert full_run.returncode == 0, full_run.stderr
    full = _fingerprint(db)
    full_slots = _slot_set(db)
    assert full != base, "the command changed nothing: the test would prove nothing"
    lab.doctor(cli)
    runtime = full_run.seconds
    rng = random.Random(f"{SEED}/{scenario}/{db.kind}")
    report = [f"{db.kind} {scenario}: seed {SEED}, uninterrupted run {runtime:.2f}s"]
    for trial in range(TRIALS):
        lab.restore("start")
        # Stratified over the runtime past the first fifth (the interpreter's start-up);
        # a run that ends before its kill (runtimes vary) must have succeeded.
        delay = runtime * (0.2 + 0.8 * (trial + rng.random()) / TRIALS)
        trial_argv = argv
        if plan.resumable and trial % 2 == 1:
            trial_argv = [sys.executable, *LOW_COMMIT, *plan.args]
        outcome = _run(trial_argv, env, delay, lab.tmp / f"trial{trial}.log")
        where = f"trial {trial}: SIGKILL after {delay:.3f}s (SLOTCTL_FAULT_SEED={SEED})"
        if not outcome.killed:
            assert outcome.returncode == 0, (where, outcome.returncode, outcome.stderr)
        lab.settle()
        lab.doctor(cli)
        if plan.resumable:
            slots = _slot_set(db)
            assert base_slots <= slots <= full_slots, f"{where}: slots outside the full run's"
            state = f"{len(slots - base_slots)} of {len(full_slots - base_slots)} new slots"
            resumed = _run(argv, env, None, lab.tmp / f"resume{trial}.log")
            assert resumed.returncode == 0, (where, "re-run", resumed.stderr)
            lab.doctor(cli)
            assert _slot_set(db) == full_slots, f"{where}: the re-run did not complete the set"
        else:
            now = _fingerprint(db)
            if now == base:
                assert db.snapshot() == base_rows, f"{where}: rows changed without a trace"
                state = "nothing written"
            else:
                assert now == full, f"{where}: a partial state ({now['counts']})"
                state = "everything written"
        fate = "killed" if outcome.killed else f"ended first (exit {outcome.returncode})"
        report.append(f"  {where}: {fate}; {state}")
    print("\n".join(report))


# Locked SQLite --------------------------------------------------------------------------

BASE_NOW = "2027-03-01T12:00:00+00:00"  # when the locked database's data was made
LOCK_NOW = NOW  # when the commands run: the 2027-03-10 slots have started

# Every command of docs/cli.md that writes (dry runs, listings and exports do not).
# `db upgrade` is left out: on a database at head it has nothing to write.
WRITING_COMMANDS: dict[str, str] = {
    "exchanges-add": "exchanges add fresh --name Fresh",
    "exchanges-update": "exchanges update lk --name Renamed",
    "exchanges-remove": "exchanges remove spare --yes",
    "exchanges-import": "exchanges import {files}/exchanges.csv",
    "hours-add": "hours add lk sat 13:00-14:00",
    "hours-set": "hours set lk 'mon-fri 09:00-12:00'",
    "hours-update": "hours update {shift} --closes 12:30",
    "hours-remove": "hours remove {shift}",
    "hours-clear": "hours clear lk",
    "hours-holidays": "hours holidays lk --country DE --year 2027",
    "hours-import": "hours import {files}/hours.csv",
    "closures-add": "hours closures add lk 2027-05-01",
    "closures-remove": "hours closures remove {closure}",
    "closures-import": "hours closures import {files}/closures.csv",
    "slots-generate": "slots generate lk --from 2027-04-01 --days 3",
    "slots-update": "slots update lk@2027-03-26T09:00 --capacity 7",
    "slots-block": "slots block lk@2027-03-26T09:00",
    "slots-block-range": "slots block lk --from 2027-03-26 --to 2027-03-27",
    "slots-unblock": "slots unblock lk@2027-03-28T09:00",
    "slots-unblock-range": "slots unblock lk --from 2027-03-28 --to 2027-03-28",
    "slots-capacity": "slots capacity lk --from 2027-03-26 --to 2027-03-27 --set 8",
    "slots-delete": "slots delete lk@2027-03-29T09:00 --yes",
    "slots-delete-range": "slots delete lk --from 2027-03-29 --to 2027-03-29 --yes",
    "slots-import": "slots import {files}/slots.csv",
    "bookings-create": "bookings create lk@2027-03-26T10:00 --name Lee --email lee@x.org",
    "bookings-confirm": "bookings confirm {pending}",
    "bookings-complete": "bookings complete {past}",
    "bookings-no-show": "bookings no-show {past}",
    "bookings-cancel": "bookings cancel {pending} --reason 'locked out'",
    "bookings-move": "bookings move {pending} lk@2027-03-26T11:00",
    "bookings-expire-pending": "bookings expire-pending",
    "bookings-import": "bookings import {files}/bookings.csv",
    "import-dir": "import {files}/dir",
    "demo": "demo --reset --yes",
    "doctor-repair": "doctor --repair",
}


@dataclass(frozen=True)
class LockedBase:
    path: Path
    ids: dict[str, str]


@pytest.fixture(scope="module")
def locked_base(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> LockedBase:
    """A small SQLite database with something for every writing command to change."""
    root = tmp_path_factory.mktemp("locked")
    path = root / "base.db"
    shutil.copy(sqlite_template, path)
    files = root / "files"
    (files / "dir").mkdir(parents=True)
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith("SLOTCTL_") and name != "SLOTCTL_TEST_PG_URL":
                mp.delenv(name)
        mp.setenv("XDG_CONFIG_HOME", str(root / "config"))
        mp.setenv("XDG_DATA_HOME", str(root / "data"))
        mp.chdir(root)
        mp.setenv("SLOTCTL_DATABASE_URL", f"sqlite:///{path}")
        mp.setenv("SLOTCTL_NOW", BASE_NOW)
        _sh(invoke, "exchanges add lk --name Locked --timezone UTC")
        _sh(invoke, "exchanges add spare --name Spare --timezone UTC")
        _sh(invoke, "hours set lk 'daily 09:00-12:00'")
        closure = _sh(invoke, "hours closures add lk 2027-04-20 -f json").json()
        _sh(invoke, "slots generate lk --from 2027-03-10 --to 2027-03-30 --capacity 5")
        create = "bookings create -f json"
        past = _sh(invoke, f"{create} lk@2027-03-10T09:00 --name Pat --email p@x.org --confirm")
        pending = _sh(invoke, f"{create} lk@2027-03-25T09:00 --name Pen --email q@x.org")
        _sh(invoke, "slots block lk@2027-03-28T09:00")
        shift = _sh(invoke, "hours list lk -f json").json()[0]["uuid"]
        slot = _sh(invoke, "slots show lk@2027-03-26T09:30 -f json").json()["uuid"]
    (files / "exchanges.csv").write_text("slug,name\nimpx,Imported X\n", encoding="utf-8")
    (files / "hours.csv").write_text(
        "exchange,day,opens_at,closes_at\nlk,sat,14:00,15:00\n", encoding="utf-8"
    )
    (files / "closures.csv").write_text("exchange,starts_on\nlk,2027-06-01\n", encoding="utf-8")
    (files / "slots.csv").write_text(
        "exchange,starts_at,ends_at,max_capacity\n"
        "lk,2027-04-10T15:00:00+00:00,2027-04-10T15:30:00+00:00,3\n",
        encoding="utf-8",
    )
    (files / "bookings.csv").write_text(
        f"slot,customer_name,customer_email\n{slot},Imported,imported@x.org\n", encoding="utf-8"
    )
    (files / "dir" / "exchanges.csv").write_text("slug,name\nimpdir,Dir\n", encoding="utf-8")
    ids = {
        "files": str(files),
        "closure": closure["uuid"],
        "past": past.json()["reference"],
        "pending": pending.json()["reference"],
        "shift": shift,
    }
    return LockedBase(path, ids)


@contextmanager
def _exclusive_lock(path: Path) -> Iterator[None]:
    """Another connection holds the database's write lock meanwhile."""
    holder = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        yield
        holder.execute("ROLLBACK")
    finally:
        holder.close()


@pytest.mark.parametrize("command", list(WRITING_COMMANDS))
def test_locked_sqlite_refuses_writing_command(
    command: str,
    locked_base: LockedBase,
    tmp_path: Path,
    cli: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A writing command on a locked SQLite file: exit 6 past the busy timeout, one
    `Error:` line that says so, no traceback, nothing written; unlocked, it works."""
    path = tmp_path / "locked.db"
    shutil.copy(locked_base.path, path)
    db = Database("sqlite", f"sqlite:///{path}")
    monkeypatch.setenv("SLOTCTL_DATABASE_URL", db.url)
    monkeypatch.setenv("SLOTCTL_NOW", LOCK_NOW)
    monkeypatch.setenv("SLOTCTL_BUSY_TIMEOUT", "0.2")
    if command == "doctor-repair":  # a wrong counter, so the repair has something to write
        db.execute(
            "UPDATE time_slots SET current_bookings = 1 "
            "WHERE id = (SELECT min(id) FROM time_slots WHERE current_bookings = 0)"
        )
    args = [arg.format(**locked_base.ids) for arg in shlex.split(WRITING_COMMANDS[command])]
    before = db.snapshot()
    with _exclusive_lock(path):
        started = time.monotonic()
        result = cli(*args)
        seconds = time.monotonic() - started
    shown = f"slotctl {' '.join(args)}: exit {result.exit_code}, stderr {result.stderr!r}"
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert result.exit_code == 6, shown
    assert len(errors) == 1, shown
    assert "locked" in errors[0], shown
    assert "Traceback" not in result.stderr, shown
    assert seconds < 5, f"{shown}: waited {seconds:.1f}s, not the 0.2s busy timeout"
    assert db.snapshot() == before, f"{shown}: the database changed"
    unlocked = cli(*args)
    assert unlocked.exit_code == 0, ("unlocked", args, unlocked.stdout, unlocked.stderr)
    assert db.snapshot() != before, f"slotctl {' '.join(args)} wrote nothing even unlocked"


# PostgreSQL backends terminated while 8 processes book ----------------------------------

BOOKERS = 8
BOOKING_SECONDS = 2.5 * TRIALS  # 5 s by default; longer with SLOTCTL_FAULT_TRIALS
RUSH_SLOTS = [
    f"rush@2027-03-22T{hour:02d}:{minute:02d}" for hour in range(9, 17) for minute in (0, 30)
]
RUSH_CAPACITY = 2 * TRIALS - 1  # 48 seats by default: they run out part of the way through


BOOKER_PRELOAD = [
    "tests.test_faults",
    "slotctl.config",
    "slotctl.db.engine",
    "slotctl.db.dialects.postgresql",
    "slotctl.services.bookings",
    "psycopg",
]


def _slotctl_here(*args: str) -> dict[str, Any]:
    """One call of the console script's entry point (`slotctl.cli.main`) in this process,
    its output captured: the whole CLI without an interpreter's start-up."""
    from typer.testing import CliRunner

    from slotctl.cli import main

    with CliRunner().isolation() as (stdout, stderr, _):
        try:
            code: Any = main(list(args))
        except BaseException as exc:  # the entry point must not raise: report it
            code = f"raised {exc!r}"
        sys.stdout.flush()
        sys.stderr.flush()
        return {
            "code": code,
            "stdout": stdout.getvalue().decode(),
            "stderr": stderr.getvalue().decode(),
        }


def _booker(
    url: str, number: int, seconds: float, seed: str, ready: Any, go: Any, queue: Any
) -> None:
    """Book seats through the CLI, one entry-point call per booking, and report every
    run: the email it booked for, its exit code, the reference it printed."""
    for name in [name for name in os.environ if name.startswith("SLOTCTL_")]:
        del os.environ[name]  # the fork server's environment is another test's
    os.environ["SLOTCTL_DATABASE_URL"] = url
    os.environ["SLOTCTL_NOW"] = NOW
    runs: list[dict[str, Any]] = []
    try:
        warm_up = _slotctl_here("slots", "list", "rush", "--from", "2027-03-22")
        ready.put((number, warm_up["code"], warm_up["stderr"]))  # imports done, database seen
        go.wait(60)
        rng = random.Random(f"{seed}/{number}")
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            email = f"w{number}.{len(runs)}@example.com"
            args = ["bookings", "create", rng.choice(RUSH_SLOTS), "--name", "Booker"]
            result = _slotctl_here(*args, "--email", email, "--format", "csv")
            run: dict[str, Any] = {"email": email, "code": result["code"]}
            if result["code"] == 0:
                run["reference"] = next(csv.DictReader(io.StringIO(result["stdout"])))["reference"]
            else:
                run["stderr"] = result["stderr"]
            runs.append(run)
    except BaseException:
        ready.put((number, "booker crashed", traceback.format_exc()))
        runs.append({"email": "", "code": "booker crashed", "stderr": traceback.format_exc()})
    queue.put(runs)


def _terminator(app_name: str, stop: threading.Event, tally: list[int]) -> None:
    """Terminate the bookers' server connections (and no one else's) at random moments."""
    rng = random.Random(f"{SEED}/terminator")
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    kill = text(
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM ("
        "  SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        "  AND pid <> pg_backend_pid() AND application_name = :app"
        "  ORDER BY random() LIMIT 1) one"
    )
    with engine.connect() as conn:
        conn.execute(text("SELECT setseed(:seed)"), {"seed": rng.random() * 2 - 1})
        while not stop.wait(rng.uniform(0.1, 0.5)):
            tally.append(int(conn.execute(kill, {"app": app_name}).scalar() or 0))
    engine.dispose()


def test_terminated_backends_while_booking(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """8 processes book while their PostgreSQL backends are terminated: each run exits
    0, 4 (full) or 6; what was reported made is there; capacity and counters hold."""
    require_postgres()
    schema, url = new_pg_schema()
    try:
        engine = create_engine(url)
        upgrade(engine)
        engine.dispose()
        db = Database("postgres", url)
        monkeypatch.setenv("SLOTCTL_DATABASE_URL", url)
        monkeypatch.setenv("SLOTCTL_NOW", NOW)
        _sh(cli, "exchanges add rush --name Rush --timezone UTC")
        _sh(cli, "hours set rush 'mon 09:00-17:00'")
        generate = "slots generate rush --from 2027-03-22 --to 2027-03-22 --duration 30"
        _sh(cli, generate, "--capacity", str(RUSH_CAPACITY))
        app_name = f"slotctl_fault_{uuid.uuid4().hex[:10]}"
        booker_url = f"{url}&application_name={app_name}"
        # Fresh interpreters (no state of this one), forked from a server that has
        # imported slotctl once: 8 cold starts would take ~10 s on 2 cores.
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(BOOKER_PRELOAD)
        ready, go, queue = context.Queue(), context.Event(), context.Queue()
        bookers = [
            context.Process(
                target=_booker, args=(booker_url, n, BOOKING_SECONDS, SEED, ready, go, queue)
            )
            for n in range(BOOKERS)
        ]
        stop = threading.Event()
        tally: list[int] = []
        terminator = threading.Thread(target=_terminator, args=(app_name, stop, tally))
        started = time.monotonic()
        for booker in bookers:
            booker.start()
        try:
            warm = [ready.get(timeout=120) for _ in bookers]
            assert all(code == 0 for _, code, _ in warm), warm
            go.set()
            booking = time.monotonic()
            terminator.start()
            runs = [run for _ in bookers for run in queue.get(timeout=120)]
            print(
                f"postgres: bookers started in {booking - started:.1f}s, "
                f"booked for {time.monotonic() - booking:.1f}s"
            )
        finally:
            go.set()
            stop.set()
            if terminator.is_alive():
                terminator.join()
            for booker in bookers:
                booker.join(timeout=30)
        _check_runs(db, runs, sum(tally))
        _doctor_holds(cli)
    finally:
        drop_pg_schema(schema)


def _clean_exit(run: dict[str, Any]) -> bool:
    """0; or 4 (the slot is full) or 6, as one `Error:` line and no traceback."""
    code, stderr = run["code"], run.get("stderr", "")
    if code == 0:
        return True
    lines = [line for line in stderr.splitlines() if line.strip()]
    if code not in (4, 6) or "Traceback" in stderr or len(lines) != 1:
        return False
    return lines[0].startswith("Error:") and (code == 6 or "is full" in lines[0])


def _check_runs(db: Database, runs: list[dict[str, Any]], terminated: int) -> None:
    codes: dict[Any, int] = {}
    for run in runs:
        codes[run["code"]] = codes.get(run["code"], 0) + 1
    print(f"postgres: {len(runs)} bookings tried, exit codes {codes}, {terminated} terminated")
    bad = [run for run in runs if not _clean_exit(run)]
    assert not bad, f"{len(bad)} runs failed badly, e.g. {bad[:5]}"
    assert terminated > 0, "no backend was terminated: the test proved nothing"
    assert codes.get(6, 0) > 0, "no run saw its connection end: the test proved nothing"
    made = {run["reference"]: run["email"] for run in runs if run["code"] == 0}
    stored = dict(db.query("SELECT reference, customer_email FROM bookings"))
    missing = {ref: email for ref, email in made.items() if stored.get(ref) != email}
    assert not missing, f"bookings reported made but not stored: {missing}"
    unsure = {run["email"] for run in runs if run["code"] == 6}
    unexplained = {
        ref: email for ref, email in stored.items() if ref not in made and email not in unsure
    }
    assert not unexplained, f"bookings stored that no run made: {unexplained}"
    holding = "('pending', 'confirmed', 'completed', 'no_show')"
    slots = db.query(
        "SELECT s.uuid, s.current_bookings, s.max_capacity, (SELECT count(*) FROM bookings b "
        f"WHERE b.time_slot_id = s.id AND b.status IN {holding}) FROM time_slots s"
    )
    for slot, counter, capacity, actual in slots:
        assert counter <= capacity, f"slot {slot}: {counter} > {capacity}"
        assert counter == actual, f"slot {slot}: counter {counter}, {actual} seat-holding"
    events = db.scalar("SELECT count(*) FROM booking_events")
    assert events == len(stored), f"{events} events for {len(stored)} bookings"
