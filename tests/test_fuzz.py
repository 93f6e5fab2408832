"""Fuzzing every command and every import file against the contract of docs/cli.md.

Approach
--------
* **The command tree is walked, not listed.** :func:`leaf_commands` walks the real
  Click tree (:func:`slotctl.cli._root_command`, the lazily built root the console
  script runs), and every parameter of every command gets its values from
  :func:`value_strategies` by its name (an argument's metavar, an option's flag,
  optionally qualified by the command path) or, failing that, by its type (an int,
  a choice, a flag). ``test_every_command_is_fuzzed`` fails when a command has no
  :data:`PLANS` entry or a parameter has no strategy, so a new command is fuzzed
  (and must be classified) as soon as it exists.
* **A small, deterministic world.** The clock is frozen (``SLOTCTL_NOW``); the
  database holds three exchanges (Berlin, New York with notice and advance limits,
  an inactive Kolkata one), hours, a closure, ten slots (one blocked), six bookings
  in every status, all made through the CLI itself (:func:`seed`). It is built once
  per database kind and module, kept as a snapshot of every row, and written back
  before every test and after every example that changed it, so each example starts
  from the same state and a failure replays exactly.
* **Values at and beyond the bounds.** Each parameter has valid values (slugs, slot
  references, booking references, durations, day and hours specs; the data may still
  refuse them), hostile ones (numbers beyond every bound, dates at the calendar's ends,
  malformed specs and references, random Unicode, the surrogate-escaped bytes Python
  puts in ``argv`` for bytes that are not UTF-8) and a baseline (:class:`Values`).
* **Three tests per command.** ``test_extremes`` sweeps deterministically: the
  command with valid values, then each parameter in turn at each of its extremes, each
  flag once, under an extreme ``SLOTCTL_NOW`` and an extreme global option
  (``--config``, ``--database-url``, ``--actor``); it lists every failing command line
  at once. ``test_command`` lets Hypothesis generate command lines in three modes: all
  valid, one hostile value (or global option, or setting) among valid ones, anything
  goes. ``test_closed_stdout`` (SQLite only) runs the valid command line with standard
  output a pipe whose reader has gone, as ``slotctl ... | head`` does.
* **Import files.** Each ``X import FILE`` command and ``slotctl import DIR`` get
  files made from a real export and mutated: broken quoting, BOM, CRLF, missing and
  extra columns and cells, huge cells, binary and non-UTF-8 bytes, NUL, truncation,
  JSON (the ``--as json`` export, truncated, of the wrong shape), and cells at and
  beyond the bounds (capacity 2**63, dates 0001-01-01 and 9999-12-31, ...). An export
  only re-quoted, with CRLF or a BOM, must import with exit 0 and change nothing.
* **What every run must satisfy** (:func:`check`): the exit code is one of
  0, 2, 3, 4, 5, 6 (never 1, never an escaped exception); no traceback anywhere;
  a failure prints exactly one ``Error: ...`` line on stderr (or one JSON error
  object), an invalid import file adds ``  line N: ...`` lines for as many rows as
  its error line counts; the database is unchanged whenever the exit is not 0 (except
  the partial refusals the contract allows: ``slots capacity`` and ``slots delete``
  exit 4 having changed the others), and after a read-only command or a ``--dry-run``.
  ``--format json`` output parses as JSON.

Every failure message starts with a shell command line that reproduces it
(``SLOTCTL_NOW=... slotctl ...``, non-UTF-8 bytes as ``$'\\xNN'``) against the
seeded world (whose uuids and references are new on every run). To list every
failure rather than the first per test, replace :func:`report` (e.g. from a plugin)
with one that records the message.

Budgets: the default profile is derandomized (the same examples on every run), runs a
few examples per command (half on PostgreSQL, where a run costs twice as much) and
reports a failing example unshrunk; ``pytest --hypothesis-profile long
tests/test_fuzz.py`` multiplies every budget by the profile's ``max_examples`` / 100,
sweeps every extreme, every setting and two global options per command, and shrinks.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import itertools
import json
import os
import re
import shlex
import shutil
import sys
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from slotctl.cli import _root_command
from slotctl.db.engine import make_engine
from slotctl.db.models import Base
from tests.conftest import Database

SEED_NOW = "2027-02-26T08:00:00+00:00"  # Friday: every seeded slot is still ahead
NOW = "2027-03-01T12:00:00+00:00"  # Monday 13:00 in Berlin: Monday's slots have started
EXIT_CODES = frozenset({0, 2, 3, 4, 5, 6})
JSON_CODES = {2: "usage", 3: "not_found", 4: "conflict", 5: "invalid_file", 6: "unavailable"}
BAD_ROW = re.compile(r"^  line ([0-9]+): ")
SCALE = max(1, settings().max_examples // 100)  # the "long" profile: 2,000 -> x20
# CI reports the first failing example of a test as found (its command line reproduces it);
# a long run also shrinks it to a minimal one.
PHASES = tuple(Phase) if SCALE > 1 else (Phase.explicit, Phase.reuse, Phase.generate)


def examples(count: int) -> int:
    """A test's example budget in the loaded Hypothesis profile."""
    return count * SCALE


def fuzz_settings(count: int) -> settings:
    return settings(max_examples=examples(count), phases=PHASES)


# Running the CLI ------------------------------------------------------------------


@dataclass
class Outcome:
    argv: list[str]
    env: dict[str, str]
    stdin: bytes | None
    exit_code: int
    stdout: str
    stderr: str
    traceback: str = ""

    def command_line(self) -> str:
        """A shell command line that reproduces the run (given the seeded world)."""
        env = {"SLOTCTL_NOW": NOW, **self.env}
        words = [f"{key}={shell_word(value)}" for key, value in env.items()]
        line = " ".join([*words, "slotctl", *map(shell_word, self.argv)])
        if self.stdin is not None:
            line += f" < FILE({self.stdin[:60]!r}{'...' if len(self.stdin) > 60 else ''})"
        return line


def shell_word(arg: str) -> str:
    """``arg`` quoted for bash: bytes that are not printable ASCII as ``$'\\xNN'``, a long
    value as the Python expression that writes it (runs of a character as ``'x' * 201``)."""
    raw = arg.encode("utf-8", "surrogateescape")
    if len(raw) > 120:
        runs = [(char, len(list(group))) for char, group in itertools.groupby(arg)]
        expr = " + ".join(f"{c!r} * {n}" if n > 3 else repr(c * n) for c, n in runs)
        code = f"import sys; sys.stdout.buffer.write(({expr}).encode('utf-8', 'surrogateescape'))"
        return f'"$(python3 -c {shlex.quote(code)})"'
    if all(32 <= byte < 127 for byte in raw):
        return shlex.quote(arg)
    body = "".join(
        chr(byte) if 32 <= byte < 127 and chr(byte) not in "'\\" else f"\\x{byte:02x}"
        for byte in raw
    )
    return f"$'{body}'"


# The root the console script runs, built once: each group is built (from the signatures
# of its functions, the bulk of a short command's time) the first time a run needs it.
ROOT = _root_command()


def run_cli(
    argv: Sequence[str],
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    *,
    closed_stdout: bool = False,
) -> Outcome:
    """``slotctl ARGV`` in-process, as the console script's ``main`` runs it; with
    ``closed_stdout``, standard output is a pipe whose reader has gone (``| head``)."""
    runner = CliRunner()
    trace = ""
    with runner.isolation(input=stdin, env=dict(env or {})) as streams:
        captured = sys.stdout  # (kept: dropping it would close the captured output)
        if closed_stdout:
            reader, writer = os.pipe()
            os.close(reader)  # writes now fail with EPIPE, as after `| head` exits
            sys.stdout = open(writer, "w", encoding="utf-8")  # noqa: SIM115 - closed below
        try:
            code = ROOT.main(args=list(argv), prog_name="slotctl", standalone_mode=False)
        except SystemExit as exc:  # Click or Rich exiting on their own
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:  # an exception escaped the error map: a traceback
            code, trace = 1, traceback.format_exc()
        try:  # what the interpreter does on the way out
            sys.stdout.flush()
        except BrokenPipeError:
            code, trace = 120, "Exception ignored while flushing sys.stdout: BrokenPipeError"
        finally:
            if closed_stdout:
                with contextlib.suppress(OSError):
                    sys.stdout.close()
                sys.stdout = captured
            sys.stderr.flush()
        stdout = streams[0].getvalue().decode("utf-8", "replace")
        stderr = streams[1].getvalue().decode("utf-8", "replace")
    code = code if isinstance(code, int) else 0
    return Outcome(list(argv), dict(env or {}), stdin, code, stdout, stderr, trace)


def cli_ok(*argv: str, env: Mapping[str, str] | None = None) -> Outcome:
    """A run the seeding needs to succeed."""
    outcome = run_cli(argv, env)
    if outcome.exit_code != 0:
        raise RuntimeError(f"seeding failed: {outcome.command_line()}\n{outcome.stderr}")
    return outcome


# The database: every row, and writing a snapshot back ------------------------------

Snapshot = dict[str, tuple[tuple[str, ...], list[tuple[Any, ...]]]]


class Store:
    """Reads and restores every row of every table through one engine."""

    def __init__(self, db: Database) -> None:
        self.kind = db.kind
        self.engine: Engine = make_engine(db.url)

    def snapshot(self) -> Snapshot:
        rows: Snapshot = {}
        with self.engine.connect() as conn:
            for table in Base.metadata.sorted_tables:
                result = conn.execute(text(f"SELECT * FROM {table.name} ORDER BY id"))
                rows[table.name] = (tuple(result.keys()), [tuple(row) for row in result])
        return rows

    def restore(self, snapshot: Snapshot) -> None:
        tables = Base.metadata.sorted_tables
        with self.engine.begin() as conn:
            for table in reversed(tables):
                conn.execute(text(f"DELETE FROM {table.name}"))
            for table in tables:
                columns, rows = snapshot[table.name]
                if not rows:
                    continue
                names = ", ".join(f'"{column}"' for column in columns)
                params = ", ".join(f":c{index}" for index in range(len(columns)))
                conn.execute(
                    text(f"INSERT INTO {table.name} ({names}) VALUES ({params})"),
                    [{f"c{i}": value for i, value in enumerate(row)} for row in rows],
                )
            if self.kind == "postgres":  # the next id after the restored ones
                for table in tables:
                    conn.execute(
                        text(
                            "SELECT setval(pg_get_serial_sequence(:name, 'id'), "
                            f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"
                        ),
                        {"name": table.name},
                    )

    def dispose(self) -> None:
        self.engine.dispose()


def describe_change(before: Snapshot, after: Snapshot) -> str:
    changes = []
    for name, (_, rows) in before.items():
        new = after[name][1]
        if rows != new:
            gone = len(set(rows) - set(new))
            added = len(set(new) - set(rows))
            changes.append(f"{name}: {gone} rows changed or removed, {added} changed or added")
    return "; ".join(changes)


# The seeded world ------------------------------------------------------------------

KINDS = ("exchanges", "hours", "closures", "slots", "bookings", "tickets", "waitlist")
EXPORT_COMMANDS = {
    "exchanges": ("exchanges", "export"),
    "hours": ("hours", "export"),
    "closures": ("hours", "closures", "export"),
    "slots": ("slots", "export"),
    "bookings": ("bookings", "export"),
    "tickets": ("queue", "export"),
    "waitlist": ("waitlist", "export"),
}
IMPORT_COMMANDS = {kind: (*path[:-1], "import") for kind, path in EXPORT_COMMANDS.items()}


@dataclass
class World:
    snapshot: Snapshot
    slot_refs: list[str]
    slot_uuids: list[str]
    booking_refs: list[str]
    booking_uuids: list[str]
    shift_uuids: list[str]
    closure_uuids: list[str]
    pending_ref: str  # Dan's booking: pending, on a slot still ahead
    csv_exports: dict[str, bytes]
    json_exports: dict[str, bytes]


def seed(store: Store) -> World:
    """Build the world through the CLI (the clock at SEED_NOW, then at NOW).

    Monday 1 March has started at NOW: Ann (no_show) and Bob (pending: a stale pending
    booking, which ``doctor`` reports, exit 4) on 09:00, Cat (completed) on 10:00; ahead
    are Dan (pending, 2 March 09:00), Eve (cancelled) and Fay (confirmed, uptown)."""
    before = {"SLOTCTL_NOW": SEED_NOW}
    for args in (
        ("exchanges", "add", "downtown", "--name", "Downtown", "--timezone", "Europe/Berlin"),
        ("exchanges", "add", "uptown", "--name", "Uptown", "--timezone", "America/New_York",
         "--min-notice", "1h", "--max-advance", "30d"),
        ("exchanges", "add", "midtown", "--name", "Midtown", "--timezone", "Asia/Kolkata"),
        ("hours", "set", "downtown", "mon-fri 09:00-11:00"),
        ("hours", "add", "uptown", "tue,thu", "10:00-12:00"),
        ("hours", "add", "midtown", "sat", "10:00-11:00"),
        ("hours", "closures", "add", "uptown", "2027-03-04", "--reason", "Inventory"),
        ("slots", "generate", "downtown", "uptown", "--from", "2027-03-01", "--days", "4",
         "--duration", "60", "--capacity", "2"),
        ("slots", "update", "uptown@2027-03-02T11:00", "--capacity", "1"),
        ("slots", "block", "downtown@2027-03-04T10:00"),
        ("exchanges", "update", "midtown", "--inactive"),
    ):  # fmt: skip
        cli_ok(*args, env=before)

    def book(slot: str, name: str, *extra: str) -> str:
        email = f"{name.lower()}@example.com"
        created = cli_ok(
            "bookings", "create", slot, "--name", name, "--email", email, "-f", "json", *extra,
            env=before,
        )  # fmt: skip
        return str(json.loads(created.stdout)["reference"])

    ann = book("downtown@2027-03-01T09:00", "Ann", "--confirm")
    book("downtown@2027-03-01T09:00", "Bob")  # pending, its slot started: stale
    cat = book("downtown@2027-03-01T10:00", "Cat", "--confirm")
    dan = book("downtown@2027-03-02T09:00", "Dan")
    eve = book("downtown@2027-03-03T09:00", "Eve", "--confirm")
    book("uptown@2027-03-02T10:00", "Fay", "--confirm", "--phone", "+1 212 555", "--notes", "=1")
    cli_ok("bookings", "cancel", eve, "--reason", "changed plans")
    cli_ok("bookings", "complete", cat)
    cli_ok("bookings", "no-show", ann)
    # the front desk: a walk-in served on Friday, and a customer waiting for a seat on a
    # day without slots (so nothing is booked for her)
    cli_ok("queue", "walkin", "downtown", "--name", "Gus", "--phone", "030 1234", env=before)
    cli_ok("queue", "next", "downtown", "--counter", "2", env=before)
    cli_ok("waitlist", "add", "uptown", "--name", "Hal", "--email", "hal@example.com",
           "--date", "2027-03-12", env=before)  # fmt: skip

    slots = json.loads(cli_ok("slots", "list", "--from", "2027-01-01", "-f", "json").stdout)
    bookings = json.loads(cli_ok("bookings", "list", "--limit", "0", "-f", "json").stdout)
    shifts = json.loads(cli_ok("hours", "list", "-f", "json").stdout)
    closures = json.loads(cli_ok("hours", "closures", "list", "-f", "json").stdout)
    csv_exports, json_exports = {}, {}
    for kind, path in EXPORT_COMMANDS.items():
        csv_exports[kind] = cli_ok(*path).stdout.encode()
        json_exports[kind] = cli_ok(*path, "--as", "json").stdout.encode()
    return World(
        snapshot=store.snapshot(),
        slot_refs=[f"{s['exchange']}@{s['date']}T{s['start']}" for s in slots],
        slot_uuids=[s["uuid"] for s in slots],
        booking_refs=[b["reference"] for b in bookings],
        booking_uuids=[b["uuid"] for b in bookings],
        shift_uuids=[s["uuid"] for s in shifts],
        closure_uuids=[c["uuid"] for c in closures],
        pending_ref=dan,
        csv_exports=csv_exports,
        json_exports=json_exports,
    )


_WORLDS: dict[str, World] = {}  # one seeded world per database kind, for this module


class Harness:
    """A test's seeded world, its database and its folder (not a dataclass: Hypothesis
    prints its ``repr`` with every failing example, not the whole world)."""

    def __init__(self, world: World, store: Store, root: Path, database_url: str) -> None:
        self.world, self.store, self.root, self.database_url = world, store, root, database_url

    def __repr__(self) -> str:
        return f"<the seeded world on {self.store.kind}, in {self.root}>"


@pytest.fixture
def harness(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    """The seeded world in ``db``, the clock at NOW, exports and config files on disk."""
    monkeypatch.setenv("SLOTCTL_NOW", NOW)
    store = Store(db)
    world = _WORLDS.get(db.kind)
    if world is None:
        world = _WORLDS[db.kind] = seed(store)
    else:
        store.restore(world.snapshot)
        assert store.snapshot() == world.snapshot, "the seeded world was not written back"
    exports = tmp_path / "exports"
    exports.mkdir()
    for kind in KINDS:
        (exports / f"{kind}.csv").write_bytes(world.csv_exports[kind])
        (exports / f"{kind}.json").write_bytes(world.json_exports[kind])
    (tmp_path / "bad.toml").write_text("slot_minutes = [unclosed\n")
    (tmp_path / "range.toml").write_text("slot_capacity = 9223372036854775807\n")
    (tmp_path / "unknown.toml").write_text('colour = "blue"\n')
    (tmp_path / "good.toml").write_text('default_timezone = "Europe/Berlin"\nslot_minutes = 45\n')
    (tmp_path / "latin1.toml").write_bytes('actor = "Zo\xeb"\n'.encode("latin-1"))
    yield Harness(world, store, tmp_path, db.url)
    store.dispose()


# Checking one run ------------------------------------------------------------------


def report(message: str) -> NoReturn:
    """Fail the example (a collector may replace this to gather every failure)."""
    raise AssertionError(message)


@dataclass(frozen=True)
class Plan:
    """How a command is fuzzed and what its success may change."""

    readonly: bool = False  # exit 0 must leave the database as it was
    exits: frozenset[int] = EXIT_CODES  # the exit codes allowed
    partial_exit4: bool = False  # the contract lets exit 4 keep the changes it made
    skip: Callable[[Sequence[str]], bool] | None = None  # argv too slow to run
    baseline: Mapping[str, str] = field(default_factory=dict)  # more than the required


def _reset_and_yes(argv: Sequence[str]) -> bool:
    """``demo --reset --yes`` rebuilds the demo (seconds); a fresh --database-url too."""
    yes = "--yes" in argv or "-y" in argv
    return ("--reset" in argv and yes) or any(a.startswith("--database-url") for a in argv)


READ, WRITE = Plan(readonly=True), Plan()
LOSSLESS = Plan(readonly=True, exits=frozenset({0}))  # the database's own export, imported
RANGE = {"SLOT": "downtown", "--from": "2027-03-02", "--to": "2027-03-03"}  # one exchange, dates
PLANS: dict[str, Plan] = {
    "stats": READ,
    "doctor": Plan(baseline={"--repair": ""}),  # recounts (nothing to recount here)
    "demo": Plan(skip=_reset_and_yes),
    "export": READ,
    "import": WRITE,
    "exchanges add": WRITE,
    "exchanges list": READ,
    "exchanges show": READ,
    "exchanges update": WRITE,
    "exchanges remove": Plan(baseline={"--yes": ""}),
    "exchanges export": READ,
    "exchanges import": WRITE,
    "hours list": READ,
    "hours add": WRITE,
    "hours set": WRITE,
    "hours update": Plan(baseline={"--opens": "08:00"}),
    "hours remove": WRITE,
    "hours clear": WRITE,
    "hours holidays": WRITE,
    "hours export": READ,
    "hours import": WRITE,
    "hours closures add": WRITE,
    "hours closures list": READ,
    "hours closures remove": WRITE,
    "hours closures export": READ,
    "hours closures import": WRITE,
    "slots generate": Plan(baseline={"SLUG": "downtown", "--days": "2"}),
    "slots list": READ,
    "slots available": READ,
    "slots next": READ,
    "slots show": READ,
    "slots calendar": READ,
    "slots update": Plan(baseline={"--capacity": "3"}),
    "slots block": Plan(baseline=RANGE),
    "slots unblock": Plan(baseline=RANGE),
    "slots capacity": Plan(partial_exit4=True),
    "slots delete": Plan(partial_exit4=True, baseline={**RANGE, "--yes": ""}),
    "slots export": READ,
    "slots import": WRITE,
    "bookings create": WRITE,
    "bookings list": READ,
    "bookings upcoming": READ,
    "bookings history": READ,
    "bookings day": READ,
    "bookings show": READ,
    "bookings confirm": WRITE,
    "bookings complete": WRITE,
    "bookings no-show": WRITE,
    "bookings cancel": WRITE,
    "bookings move": WRITE,
    "bookings expire-pending": WRITE,
    "bookings export": READ,
    "bookings import": WRITE,
    "bookings checkin": WRITE,
    "queue walkin": WRITE,
    "queue list": READ,
    "queue next": WRITE,
    "queue done": WRITE,
    "queue no-show": WRITE,
    "queue requeue": WRITE,
    "queue cancel": WRITE,
    "queue export": READ,
    "queue import": WRITE,
    "waitlist add": WRITE,
    "waitlist list": READ,
    "waitlist remove": WRITE,
    "waitlist export": READ,
    "waitlist import": WRITE,
    "desk": READ,  # off a terminal: its options are checked, then exit 2 (no screen)
    "db upgrade": WRITE,  # at head already: changes nothing in the rows
    "db current": READ,
    "config show": READ,
}


def _stderr_problems(outcome: Outcome) -> list[str]:  # noqa: PLR0911 - one per rule
    """What is wrong with a failed run's stderr (docs/cli.md, Errors)."""
    lines = outcome.stderr.splitlines()
    if not lines:
        return ["no error message on stderr"]
    first, rest = lines[0], lines[1:]
    if first.startswith("{"):
        try:
            error = json.loads(first)["error"]
        except (ValueError, KeyError, TypeError):
            return [f"stderr starts with something that is not a JSON error: {first[:200]!r}"]
        problems = []
        if error.get("code") != JSON_CODES.get(outcome.exit_code):
            problems.append(f"JSON error code {error.get('code')!r} for exit {outcome.exit_code}")
        if rest:
            problems.append(f"{len(lines)} lines on stderr (one JSON error object expected)")
        return problems
    if not first.startswith("Error: "):
        return [f"first stderr line is not 'Error: ...': {first[:200]!r}"]
    if outcome.exit_code == 5:
        extra = [line for line in rest if not BAD_ROW.match(line)]
        if extra:
            return [f"stderr lines that are neither the error nor bad rows: {extra[:3]!r}"]
        counted = re.search(r"\b([0-9]+) bad rows?\b", first)
        listed = {match.group(1) for line in rest if (match := BAD_ROW.match(line))}
        if counted and int(counted.group(1)) != len(listed):  # a row may have several reasons
            return [f"{counted.group(0)} announced, {len(listed)} rows listed"]
        return []
    if rest:
        return [f"{len(lines)} lines on stderr, one expected: {lines[:4]!r}"]
    return []


def _wants_json(outcome: Outcome) -> bool:
    argv = outcome.argv
    if any(a in ("--help", "-h", "--version") for a in argv):
        return False
    for index, arg in enumerate(argv[:-1]):
        if arg in ("--format", "-f"):
            return argv[index + 1] == "json"
    if "--format=json" in argv:
        return True
    return outcome.env.get("SLOTCTL_FORMAT") == "json" and not any(
        a.startswith("--format") for a in argv
    )


def check(
    harness: Harness,
    outcome: Outcome,
    plan: Plan,
    *,
    has_format: bool = True,
    dry_run: bool = False,
    detail: str = "",
) -> None:
    """The contract every run keeps; the database is written back if the run changed it."""
    problems: list[str] = []
    code = outcome.exit_code
    if outcome.traceback:
        problems.append("an exception escaped the error map:\n" + outcome.traceback[-3000:])
    if code not in plan.exits:
        problems.append(f"exit code {code}, expected one of {sorted(plan.exits)}")
    for name, stream in (("stdout", outcome.stdout), ("stderr", outcome.stderr)):
        if "Traceback (most recent call last)" in stream:
            problems.append(f"a traceback on {name}")
    if code != 0:
        problems += _stderr_problems(outcome)
    elif has_format and _wants_json(outcome) and outcome.stdout.strip():
        try:
            json.loads(outcome.stdout)
        except ValueError as exc:
            problems.append(f"--format json printed something that is not JSON ({exc})")
    after = harness.store.snapshot()
    seeded = harness.world.snapshot
    if after != seeded:
        change = describe_change(seeded, after)
        if code != 0 and not (plan.partial_exit4 and code == 4):
            problems.append(f"exit {code} but the database changed: {change}")
        elif code == 0 and plan.readonly:
            problems.append(f"a read-only command changed the database: {change}")
        elif code == 0 and dry_run:
            problems.append(f"--dry-run changed the database: {change}")
        harness.store.restore(seeded)
    if problems:
        first = outcome.stderr.splitlines()[0][:300] if outcome.stderr.strip() else ""
        report(
            f"\n  command: {outcome.command_line()}\n  exit: {code}\n  stderr[0]: {first}\n"
            + (f"  {detail}\n" if detail else "")
            + "\n".join(f"  - {problem}" for problem in problems)
            + f"\n  stderr: {outcome.stderr[:1500]!r}"
        )


# Values ----------------------------------------------------------------------------

Strategy = st.SearchStrategy[str]
T = TypeVar("T")


def weighted(*options: tuple[int, st.SearchStrategy[T]]) -> st.SearchStrategy[T]:
    """One of the strategies, in proportion to the weights (``st.one_of`` gives every
    distinct strategy the same share, however often it is listed)."""
    total = sum(weight for weight, _ in options)

    def choose(number: int) -> st.SearchStrategy[T]:
        for weight, strategy in options:
            if number < weight:
                return strategy
            number -= weight
        raise AssertionError(number)

    return st.integers(0, total - 1).flatmap(choose)


NO_NUL = st.characters(exclude_characters="\x00")  # argv cannot hold NUL
RANDOM_TEXT = st.text(NO_NUL, max_size=24)
SURROGATE = "Z\udcffed"  # what Python puts in argv for the bytes b"Z\xffed"
SURROGATE_ESCAPED = st.one_of(
    st.just(SURROGATE),
    st.binary(min_size=1, max_size=6)
    .filter(lambda raw: b"\x00" not in raw)
    .map(lambda raw: raw.decode("utf-8", "surrogateescape")),
)
NOISE = weighted((3, RANDOM_TEXT), (1, SURROGATE_ESCAPED))

BIG = [str(n) for n in (2**31 - 1, 2**31, 2**63 - 1, 2**63, 10**22, -(2**63) - 1)]
BAD_INTS = [
    "0", "-1", "59", "60", "365", "366", "1440", "1441", "1830", "1831", "3660", "3661", "4999",
    "5000", "5001", "1000000000", "1000000001", *BIG, "1e3", "1.5", "", " 7 ", "abc", "0x10",
    "\u0663",
]  # fmt: skip
DATES = [
    "2027-03-01", "2027-03-02", "2027-03-03", "2027-03-04", "2027-02-26", "2027-03-31",
    "today", "tomorrow", "yesterday", "TODAY", " 2027-03-02 ", "+0d", "+1d", "+7d", "-1d",
    "-30d",
]  # fmt: skip
BAD_DATES = [
    "0001-01-01", "9999-12-31", "1899-12-31", "1900-01-01", "2200-12-31", "2201-01-01",
    "+99999999d", "-99999999d", "+3660d", "+3661d", "-3661d", "+99999999999999999999d",
    "2027-02-29", "2028-02-29", "2027-13-01", "2027-00-10", "2027-3-1", "20270301",
    "2027-03-01T09:00", "9999-12", "", " ", "+d", "1d", "-0d",
]  # fmt: skip
MONTHS = ["2027-03", "2027-02", "2028-02", "2027-04", "2026-12"]
BAD_MONTHS = [
    "9999-12", "0001-01", "1899-12", "1900-01", "2200-12", "2201-01", "2027-13", "2027-00",
    "2027-3", "27-03", "2027-03-01", "", "+1m",
]  # fmt: skip
DAYS = [
    "mon", "mon-fri", "sat", "sun", "fri-mon", "mon,wed,fri", "daily", "weekdays", "weekends",
    "Monday", "SAT", "tue-thu",
]  # fmt: skip
BAD_DAYS = ["mon-", "-fri", "mon--fri", "funday", "mon,,fri", "", ",", "mon-fri-sun", "0", "7"]
TIMES = [
    "09:00-12:00", "09:00-12:00,13:00-17:00", "9:00-9:30", "00:00-24:00", "23:00-24:00",
    "11:00-12:00", "12:00-13:00", "08:00-09:00",
]  # fmt: skip
BAD_TIMES = [
    "09:00-12:00,", "25:00-26:00", "12:00-09:00", "09:00-12:00,11:00-13:00", "24:00-24:00",
    "-", "09:00", "09:00-", "9-17", "09:60-10:00", "00:00-00:00", ",",
    "09:00\u201312:00", "99999999999999999999:00-1:00",
]  # fmt: skip
CLOCK = ["09:00", "10:30", "24:00", "23:59", "00:00", "9:00", "11:00", "08:00", "12:00"]
BAD_CLOCK = ["25:00", "24:01", "9:5", "09:60", "-1:00", "0900", "", "09:00:00", "\u0660\u0669:00"]
DURATIONS = ["30", "45m", "60", "2h", "1h30m", "90m", "1d", "7d", "1440", " 45M "]
BAD_DURATIONS = [
    "0", "0m", "1441", "1d1m", "25h", "365d", "366d", "1830d", "1831d", "3660d", str(2**63),
    f"{10**22}m", "99999999999999999999d", "-5", "+5", "5s", "1.5h", "h", "", "1m1h",
    "\u0664\u0665",
]  # fmt: skip
STATUSES = [
    "pending", "confirmed", "completed", "no_show", "no-show", "cancelled", "available", "full",
    "blocked", "past",
]  # fmt: skip
TIMEZONES = ["Europe/Berlin", "UTC", "America/New_York", "Asia/Kolkata", "Etc/GMT+14"]
BAD_TIMEZONES = [
    "Mars/Olympus", "../etc/passwd", "/etc/localtime", "Europe/../UTC", "", "utc",
    "Europe/Berlin ", "Europe", "zone.tab", "tzdata.zi", "posix/Europe/Berlin", "Factory",
]  # fmt: skip
TEXTS = ["Ann Lee", "Zo\u00eb", "\u540d\u524d", "=1+1", "'=x", "x" * 200, 'O\'Brien, "Jr"']
BAD_TEXTS = ["a\nb", "\t", " ", "", "x" * 201, "x" * 2000, "x" * 2001, "y" * 100_000, "a\rb"]
EMAILS = [
    "ann@example.com", "ANN@Example.COM", "new@example.com", "fay@example.com", "dan@example.com",
]  # fmt: skip
BAD_EMAILS = ["not-an-email", "a@b", "@example.com", "ann@", "a" * 320 + "@example.com", ""]
SLUGS = ["downtown", "uptown", "midtown", "DOWNTOWN", " uptown "]
BAD_SLUGS = ["nowhere", "", "a" * 65, "down town", "-x"]
NEW_SLUGS = ["eastside", "e", "a" * 64, "east_side-2", "downtown"]
BAD_NEW_SLUGS = ["a" * 65, "East", "-east", "_east", "east side", "east/side", ""]
SLOT_REFS_BAD = [
    "downtown@2027-03-04T09:00+05:00", "downtown@2027-03-02T09:00:00", "downtown@2027-03-02T09:00Z",
    "downtown@", "@2027-03-02T09:00", "downtown@9999-12-31T23:59", "downtown@0001-01-01T00:00",
    "downtown@2027-02-30T09:00", "downtown@2027-03-02T24:00", "downtown@2027-03-02T25:00",
    "nowhere@2027-03-02T09:00", "uptown@2027-03-14T02:30", "downtown@2027-03-28T02:30",
    "downtown@2027-10-31T02:30", "downtown@@2027", "downtown@+1d", "downtown@today",
    "00000000", "ffffffff-ffff-ffff-ffff-ffffffffffff", "0000000", "DOWNTOWN@2027-03-02T09:00",
    "downtown@2027-03-02 09:00", "downtown@0001-01-01T00:00+14:00", "downtown@9999-12-31T23:59-14:00",
]  # fmt: skip
BOOKING_REFS_BAD = [
    "BK-000000", "BK-", "bk-", "BK-ZZZZZZZ", "00000000-0000-0000-0000-000000000000", "0000000",
    "--", "BK-\u00c9\u00c9\u00c9\u00c9\u00c9\u00c9",
]  # fmt: skip
UUIDS_BAD = ["0000000", "zzzzzzzz", "00000000", "00000000-0000-0000-0000-000000000000", "-", ""]
AFTER = [
    "2027-03-02T09:00", "2027-03-02 09:00", "2027-03-02T09:00+01:00", "2027-03-02T09:00Z",
    "2027-03-14T02:30", "2027-03-02",
]  # fmt: skip
BAD_AFTER = [
    "9999-12-31T23:59", "0001-01-01T00:00", "0001-01-01T00:00+14:00", "9999-12-31T23:59-14:00",
    "today", "", "2027-03-02T25:00", "1899-12-31T23:59", "2201-01-01T00:00",
]  # fmt: skip
DATABASE_URLS = [
    "sqlite:////nonexistent-dir/slotctl.db", "sqlite://", "sqlite:///fresh.db",
    "postgresql+psycopg://nobody@127.0.0.1:1/none", "postgres://nobody@127.0.0.1:1/none",
    "postgresql+psycopg://postgres@127.0.0.1:5432/no_such_database_here", "mysql://u@h/db",
    "nonsense", "", "sqlite:///Z\udcffed.db", "postgresql+psycopg://:@127.0.0.1:99999/x",
]  # fmt: skip
ENV_CASES: list[dict[str, str]] = [
    {"SLOTCTL_FORMAT": "json"},
    {"SLOTCTL_FORMAT": "yaml"},
    {"SLOTCTL_NOW": "yesterday-ish"},
    {"SLOTCTL_NOW": "2027-03-01T12:00:00"},
    {"SLOTCTL_NOW": "9999-12-31T23:59:59+00:00"},
    {"SLOTCTL_NOW": "0001-01-01T00:00:00+00:00"},
    {"SLOTCTL_NOW": "2200-12-31T23:59:59-12:00"},
    {"SLOTCTL_SLOT_CAPACITY": str(2**63)},
    {"SLOTCTL_GENERATE_DAYS": "3661"},
    {"SLOTCTL_DEFAULT_TIMEZONE": "Mars/Olympus"},
    {"SLOTCTL_BUSY_TIMEOUT": "0"},
    {"SLOTCTL_ACTOR": "a" * 101},
    {"SLOTCTL_PENDING_EXPIRY_MINUTES": "0"},
    {"SLOTCTL_CONFIG": "missing.toml"},
]
NO_ENV: dict[str, str] = {}


@dataclass(frozen=True)
class Values:
    """A parameter's values: ``valid`` ones (which the data may still refuse), ``hostile``
    ones (out of range, malformed, noise), the ``extremes`` every command is swept with
    (numbers beyond the bounds, the calendar's ends), and a ``baseline`` valid value."""

    valid: Strategy
    hostile: Strategy
    baseline: str
    extremes: tuple[str, ...]

    @property
    def mixed(self) -> Strategy:
        return weighted((2, self.valid), (1, self.hostile))


def pick(
    valid: Sequence[str],
    hostile: Sequence[str] = (),
    extremes: Sequence[str] = (),
    baseline: str | None = None,
) -> Values:
    bad: list[tuple[int, Strategy]] = [(1, NOISE)]
    if extremes:
        bad.append((2, st.sampled_from(list(extremes))))
    if hostile:
        bad.append((1, st.sampled_from(list(hostile))))
    return Values(
        st.sampled_from(list(valid)),
        weighted(*bad),
        valid[0] if baseline is None else baseline,
        (*extremes, SURROGATE),
    )


def prefixes(uuids: Sequence[str]) -> list[str]:
    return [u[:8] for u in uuids] + [u.upper() for u in uuids[:1]]


def local_paths(valid: Sequence[str], hostile: Sequence[str] = ()) -> Values:
    """File or folder names under the test's directory (noise never makes an absolute path)."""
    names = {*valid, *hostile}
    values = pick(valid, hostile, hostile)
    return Values(
        values.valid,
        values.hostile.map(lambda p: p if p in names else "./junk-" + p.replace("/", "_")),
        values.baseline,
        values.extremes,
    )


EXTREME_DATES = ["9999-12-31", "0001-01-01", "+99999999d", "1899-12-31", "2201-01-01", "-99999999d"]
EXTREME_INTS = [str(2**63), "-1", str(10**22), str(-(2**63) - 1)]
EXTREME_DURATIONS = ["0", "99999999999999999999d", str(2**63)]


def value_strategies(world: World, database_url: str) -> dict[str, Values]:
    """Every parameter's values, by metavar or flag (``PATH KEY`` for one command)."""
    dates = pick(DATES, BAD_DATES, EXTREME_DATES, "2027-03-02")
    durations = pick(DURATIONS, BAD_DURATIONS, EXTREME_DURATIONS)
    slugs = pick(SLUGS, BAD_SLUGS)
    emails = pick(EMAILS, BAD_EMAILS, ["a" * 300 + "@example.com"], "new@example.com")
    texts = pick(TEXTS, BAD_TEXTS, ["x" * 201, "x" * 2001, "y" * 100_000])
    days, times = pick(DAYS, BAD_DAYS), pick(TIMES, BAD_TIMES, ["00:00-24:00,24:00-24:00"])
    csv_files = [f"exports/{kind}.csv" for kind in KINDS]

    def ints(valid: Sequence[str], *beyond: str) -> Values:
        return pick(valid, BAD_INTS, [*EXTREME_INTS[:2], *beyond, *EXTREME_INTS[2:]])

    return {
        "SLUG": slugs,
        "FROM": dates,
        "TO": dates,
        "DATE": dates,
        "SLOT": pick(world.slot_refs + world.slot_uuids + prefixes(world.slot_uuids),
                     SLOT_REFS_BAD + [u[:7] for u in world.slot_uuids[:1]],
                     ["downtown@9999-12-31T23:59", "downtown@0001-01-01T00:00",
                      "downtown@0001-01-01T00:00+14:00", "downtown@9999-12-31T23:59-14:00"],
                     "downtown@2027-03-02T10:00"),
        "BOOKING": pick(
            world.booking_refs + [ref.lower() for ref in world.booking_refs]
            + world.booking_uuids + prefixes(world.booking_uuids),
            BOOKING_REFS_BAD + world.slot_uuids[:2] + [u[:7] for u in world.booking_uuids[:1]],
            baseline=world.pending_ref,
        ),
        "UUID": pick(
            world.shift_uuids + world.closure_uuids + prefixes(world.shift_uuids),
            UUIDS_BAD + world.slot_uuids[:1] + world.booking_uuids[:1],
        ),
        "DAYS": days,
        "TIMES": times,
        "SPEC": Values(
            st.tuples(days.valid, times.valid).map(" ".join),
            st.one_of(
                st.tuples(days.mixed, times.hostile).map(" ".join),
                st.tuples(days.hostile, times.mixed).map(" ".join),
                st.sampled_from(["mon-fri", "mon-fri 09:00-12:00 extra", "", "09:00-10:00 mon"]),
            ),
            "mon-fri 09:00-12:00",
            ("mon-fri 00:00-24:00,24:00-24:00", "mon-fri", "Z\udcffed"),
        ),
        "FILE": local_paths(csv_files, ["exports/bookings.json", "missing.csv", ".", "-"]),
        "PATH": local_paths(
            ["exports", "out", "out/nested/deeper", "out/all.xlsx"], ["exports/exchanges.csv"]
        ),
        "--from": dates,
        "--to": dates,
        "--day": dates,
        "--week": dates,
        "--month": pick(MONTHS, BAD_MONTHS + BAD_DATES[:6], ["9999-12", "0001-01", "1899-12",
                                                             "2201-01"]),
        "--after": pick(AFTER, BAD_AFTER, ["9999-12-31T23:59", "0001-01-01T00:00+14:00",
                                           "9999-12-31T23:59-14:00", "1899-12-31T23:59"]),
        "--name": texts,
        "--reason": texts,
        "--notes": texts,
        "--phone": pick(["+49 30 1234567", "(030) 123-45.67/8", "1" * 50],
                        ["1" * 51, "abc", "", "\u0661\u0662"], ["1" * 51]),
        "--email": emails,
        "--customer": emails,
        "--exchange": slugs,
        "--status": pick(STATUSES, ["PENDING", "", "unknown", "no show"]),
        "--timezone": pick(TIMEZONES, BAD_TIMEZONES, ["Europe", "zone.tab", "../etc/passwd"]),
        "--min-notice": pick([*DURATIONS, "0"], BAD_DURATIONS, [*EXTREME_DURATIONS[1:], "366d"]),
        "--max-advance": pick(["30d", "60d", "1830d", "none", "unlimited", "NONE", "0d"],
                              [*BAD_DURATIONS, "45m", "1d1m"], [*EXTREME_DURATIONS, "1831d"]),
        "--older-than": pick(DURATIONS, BAD_DURATIONS, [*EXTREME_DURATIONS, "366d"]),
        "--duration": durations,
        "--buffer": pick(["0", "10m", "1h"], BAD_DURATIONS, [*EXTREME_DURATIONS[1:], "1441"]),
        "--opens": pick(CLOCK, BAD_CLOCK),
        "--closes": pick(CLOCK, BAD_CLOCK),
        "--country": pick(["DE", "US", "FR", "GB", "de"], ["XX", "", "D E", "DEU"]),
        "--subdiv": pick(["BE", "BY", "CA", "NY"], ["ZZ", ""]),
        "--output": local_paths(["out.csv", "out/x.csv"], ["missing/x.csv", "exports", ".", "-"]),
        "--days": ints(["1", "2", "7", "30"], "0", "3661"),
        "--capacity": ints(["1", "2", "3"], "0", "5001"),
        "--limit": ints(["0", "1", "5", "100"], "1000000001"),
        "--set": ints(["1", "2", "3"], "0", "5001"),
        "--seed": ints(["7", "1"]),
        "--year": pick(["2027", "2026", "1900", "2200"], ["9999", *BAD_INTS],
                       ["1899", "2201", *EXTREME_INTS]),
        "--config": local_paths(["good.toml"], ["bad.toml", "range.toml", "unknown.toml",
                                                "latin1.toml", "missing.toml", "."]),
        "--database-url": pick([database_url], DATABASE_URLS, ["Z\udcffed", "nonsense"]),
        "--actor": pick(["ops", "a" * 100, "Zo\u00eb"], ["", "a" * 101], ["a" * 101]),
        # The front desk:
        "TICKET": pick(["W001", "w1", "downtown/W001", "A001", "DOWNTOWN/w001", "W002"],
                       ["A000", "X001", "", "downtown/", "nowhere/W001", "W0000001", "/W001"],
                       ["W999999", "0000000", "00000000"]),
        "ID": pick(UUIDS_BAD[:3], UUIDS_BAD[3:]),
        "--counter": pick(["1", "2", "Counter 3", "x" * 50], ["", " ", "x" * 51, "a\nb"]),
        "--checkin-early": pick(["0", "30m", "1h", "24h"], BAD_DURATIONS, ["1441", "25h"]),
        "--late-after": pick(["0", "10m", "15", "24h"], BAD_DURATIONS, ["1441", "25h"]),
        "--between": pick(["09:00-12:00", "00:00-24:00", "10:00-10:30"],
                          ["12:00-09:00", "09:00-09:00", "9-10", "", "25:00-26:00"],
                          ["00:00-24:01", "24:00-24:00"]),
        "--date": dates,
        "--refresh": pick(["2", "0.5", "60", "1.5"], ["0", "61", "-1", "nan", "inf", "x"],
                          ["0.49", "1e309"]),
        # One command's own meaning of a name:
        "exchanges add SLUG": pick(NEW_SLUGS, BAD_NEW_SLUGS),
        "waitlist list --status": pick(["waiting", "booked", "removed", "expired", "all"],
                                       ["", "unknown", "WAITING "]),
        "hours clear --day": days,
        # Generation stays small when it succeeds: few days, no 1-minute slots, no far --to.
        "slots generate --days": pick(["1", "2", "3"], ["4000"], [*EXTREME_INTS, "0", "3661"]),
        "slots generate --to": pick(DATES, [d for d in BAD_DATES if d != "+3660d"],
                                    EXTREME_DATES, "2027-03-03"),
        "slots generate --duration": pick(["60", "45m", "2h", "1h30m"], BAD_DURATIONS,
                                          [*EXTREME_DURATIONS, "1441"]),
    }  # fmt: skip


# The command tree ------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """What the generator needs of a Click parameter."""

    key: str  # metavar of an argument, first long flag of an option
    is_option: bool
    opts: tuple[str, ...]
    secondary: tuple[str, ...]
    flag: bool
    required: bool
    many: bool  # an argument taking several values
    choices: tuple[str, ...]
    is_int: bool


def describe_param(param: Any) -> Param:
    annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
    click_type = getattr(param, "type", None)
    choices: tuple[str, ...] = ()
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        choices = tuple(str(member.value) for member in annotation)
    elif click_type is not None and getattr(click_type, "choices", None):
        choices = tuple(str(c) for c in click_type.choices)
    is_int = annotation is int or getattr(click_type, "name", "") == "integer"
    is_option = param.param_type_name == "option"
    opts = tuple(param.opts)
    longs = [o for o in opts if o.startswith("--")]
    key = (longs or list(opts))[0] if is_option else (param.metavar or param.name.upper())
    return Param(
        key=key,
        is_option=is_option,
        opts=opts,
        secondary=tuple(getattr(param, "secondary_opts", ()) or ()),
        flag=bool(getattr(param, "is_flag", False)),
        required=bool(param.required),
        many=param.nargs == -1 or bool(getattr(param, "multiple", False)),
        choices=choices,
        is_int=is_int,
    )


def leaf_commands() -> dict[str, Any]:
    """Every runnable command of the real tree, by path (``hours closures add``)."""
    found: dict[str, Any] = {}

    def walk(group: Any, path: tuple[str, ...]) -> None:
        for name in list(group.commands):
            command = group.commands[name]
            if hasattr(command, "commands"):
                walk(command, (*path, name))
            else:
                found[" ".join((*path, name))] = command

    walk(ROOT, ())
    return found


COMMANDS = leaf_commands()
PARAMS = {path: [describe_param(p) for p in command.params] for path, command in COMMANDS.items()}
GLOBAL_PARAMS = [describe_param(p) for p in ROOT.params]


def values_for(path: str, param: Param, values: Mapping[str, Values]) -> Values | None:
    """The values of one parameter, or None when the suite has none (a coverage gap)."""
    for key in (f"{path} {param.key}", param.key):
        if key in values:
            return values[key]
    if param.choices:
        return pick(list(param.choices), [*(c.upper() for c in param.choices), "", "xml"])
    if param.is_int:
        return pick(["0", "1", "2", "7"], BAD_INTS)
    return None


def _option_words(param: Param, value: str, equals: bool, alias: int) -> list[str]:
    name = param.opts[alias % len(param.opts)]
    if equals and name.startswith("--"):
        return [f"{name}={value}"]
    return [name, value]


Case = tuple[list[str], dict[str, str]]  # argv, environment
MODES = ("one hostile", "one hostile", "valid", "mixed")


@st.composite
def _param_words(
    draw: st.DrawFn, param: Param, choice: Values | None, mode: str, hostile: bool
) -> tuple[list[str], list[str]]:
    """One parameter's words: (option words, argument words); none when left out."""
    if param.is_option and param.flag:  # given one time in three (either of its names)
        given = draw(st.integers(0, 2)) == 0
        return ([draw(st.sampled_from(param.opts + param.secondary))] if given else []), []
    assert choice is not None, f"no values for {param.key}"
    if hostile:
        strategy, wanted = choice.hostile, True
    elif mode == "mixed":  # a required one left out one time in twenty, others half the time
        strategy, wanted = choice.mixed, draw(st.integers(0, 19 if param.required else 1)) != 0
    else:
        strategy, wanted = choice.valid, param.required or draw(st.integers(0, 2)) == 0
    if not wanted:
        return [], []
    if param.is_option:
        alias, equals = draw(st.integers(0, 3)), draw(st.booleans())
        return _option_words(param, draw(strategy), equals, alias), []
    if param.many:
        more = draw(st.lists(choice.valid, max_size=2))
        return [], draw(st.permutations([draw(strategy), *more]))
    return [], [draw(strategy)]


@st.composite
def _global_words(
    draw: st.DrawFn, mode: str, target: int | str | None, values: Mapping[str, Values]
) -> list[str]:
    """Global options before the command: in "mixed" mode, or the hostile one."""
    if mode != "mixed" and target != "global":
        return []
    words: list[str] = []
    for param in GLOBAL_PARAMS:
        if draw(st.integers(0, 5 if mode == "mixed" else len(GLOBAL_PARAMS) - 1)) != 0:
            continue
        if param.flag:
            words.append(param.opts[0])
            continue
        choice = values_for("", param, values)
        assert choice is not None, f"no values for the global option {param.key}"
        value = draw(choice.hostile if target == "global" else choice.mixed)
        words += _option_words(param, value, draw(st.booleans()), 0)
    return words


def case_strategy(path: str, values: Mapping[str, Values]) -> st.SearchStrategy[Case]:
    """Command lines for one command, in one of three modes: every value valid; one value
    (or a global option, or a setting) hostile and the rest valid; anything goes."""
    params = PARAMS[path]
    valued = [i for i, p in enumerate(params) if not (p.is_option and p.flag)]
    targets: list[int | str] = [*valued, "global", "env"]

    @st.composite
    def build(draw: st.DrawFn) -> Case:
        mode = draw(st.sampled_from(MODES))
        target = draw(st.sampled_from(targets)) if mode == "one hostile" else None
        options: list[list[str]] = []
        arguments: list[str] = []
        for index, param in enumerate(params):
            choice = values_for(path, param, values)
            option, argument = draw(_param_words(param, choice, mode, index == target))
            if option:
                options.append(option)
            arguments += argument
        words = [word for option in draw(st.permutations(options)) for word in option]
        if mode == "mixed" and draw(st.integers(0, 9)) == 0:
            junk = draw(st.sampled_from(["--bogus", "-z", "--help", "-h", "extra", "--"]))
            (words if junk.startswith("-") else arguments).append(junk)
        if any(arg.startswith("-") for arg in arguments) and (
            mode != "mixed" or draw(st.booleans())
        ):
            arguments.insert(0, "--")
        prefix = draw(_global_words(mode, target, values))
        env = NO_ENV
        if target == "env" or (mode == "mixed" and draw(st.integers(0, 5)) == 0):
            env = draw(st.sampled_from(ENV_CASES))
        return [*prefix, *path.split(), *words, *arguments], env

    strategy = build()
    skip = PLANS[path].skip
    if skip is not None:
        strategy = strategy.filter(lambda case: not skip(case[0]))
    return strategy


def budget(path: str, kind: str) -> int:
    """Examples for one command: more for more parameters; half on PostgreSQL, where a
    run costs twice as much (the sweep and the file tests run in full on both)."""
    valued = sum(not (p.is_option and p.flag) and not p.choices for p in PARAMS[path])
    count = min(8, 2 + 2 * valued)
    return max(2, count // 2) if kind == "postgres" else count


def has_format_option(path: str) -> bool:
    return any("--format" in param.opts for param in PARAMS[path])


# Tests: the command tree is covered ------------------------------------------------


def test_every_command_is_fuzzed() -> None:
    """Every command has a plan, every plan a command, every parameter its values."""
    ids = [str(uuid.uuid4()) for _ in range(5)]
    world = World({}, ["downtown@2027-03-02T09:00"], ids[:1], ["BK-AAAAAA"], ids[1:2],
                  ids[2:3], ids[3:4], "BK-AAAAAA", {}, {})  # fmt: skip
    values = value_strategies(world, "sqlite://")
    assert sorted(set(COMMANDS) - set(PLANS)) == [], "commands without a fuzz plan"
    assert sorted(set(PLANS) - set(COMMANDS)) == [], "plans for commands that do not exist"
    missing = [
        f"{path}: {param.key}"
        for path, params in PARAMS.items()
        for param in params
        if not (param.is_option and param.flag) and values_for(path, param, values) is None
    ]
    missing += [
        f"(global) {param.key}"
        for param in GLOBAL_PARAMS
        if not param.flag and values_for("", param, values) is None
    ]
    assert missing == [], "parameters without generated values"
    stale = [
        f"{path}: {key}"
        for path, plan in PLANS.items()
        for key in plan.baseline
        if key not in {param.key for param in PARAMS.get(path, [])}
    ]
    assert stale == [], "plan baselines naming parameters the command does not have"
    imports = {path for path in COMMANDS if path.endswith(" import")}
    assert imports == {" ".join(path) for path in IMPORT_COMMANDS.values()}, (
        "import commands without a file fuzzer"
    )
    assert "import" in COMMANDS, "slotctl import DIR"


# Tests: every command with generated values ---------------------------------------


def command_fuzzer(path: str, kind: str) -> Callable[[Harness], None]:
    """A Hypothesis test of one command (its own name: its own example database key)."""

    def fuzz(harness: Harness, data: st.DataObject) -> None:
        values = value_strategies(harness.world, harness.database_url)
        argv, env = data.draw(case_strategy(path, values), label="argv, env")
        outcome = run_cli(argv, env)
        dry_run = "--dry-run" in argv
        check(harness, outcome, PLANS[path], has_format=has_format_option(path), dry_run=dry_run)

    fuzz.__name__ = fuzz.__qualname__ = f"fuzz_{path.replace(' ', '_').replace('-', '_')}"
    return fuzz_settings(budget(path, kind))(given(data=st.data())(fuzz))


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=lambda path: path.replace(" ", "-"))
def test_command(harness: Harness, path: str) -> None:
    """Generated command lines of one command keep the contract."""
    command_fuzzer(path, harness.store.kind)(harness)


# Tests: every parameter of every command at its extremes -------------------------

SWEEP_EXTREMES = 3  # per parameter in the default profile: the first, most telling ones
EXTREME_ENVIRONMENTS = [
    {"SLOTCTL_NOW": "9999-12-31T23:59:59+00:00"},
    {"SLOTCTL_NOW": "0001-01-01T00:00:00+00:00"},
    {"SLOTCTL_NOW": "2027-03-01T12:00:00"},  # no offset: exit 2
]
EXTREME_GLOBALS = [
    ["--database-url", "Z\udcffed"],
    ["--database-url=nonsense"],
    ["--config", "bad.toml"],
    ["--database-url", "sqlite:////nonexistent-dir/slotctl.db"],
    ["--actor", "a" * 101],
    ["--config", "range.toml"],
    ["--database-url", "postgresql+psycopg://nobody@127.0.0.1:1/none"],
]


def extreme_cases(path: str, values: Mapping[str, Values]) -> list[Case]:
    """The command with valid values (its required parameters and its plan's baseline),
    then once per extreme value of each parameter in place of its baseline; then the
    baseline under extreme settings and two of the extreme global options."""
    params = PARAMS[path]
    baseline = PLANS[path].baseline

    def words(target: int | None, value: str) -> list[str]:
        options: list[str] = []
        arguments: list[str] = []
        for index, param in enumerate(params):
            if index == target:
                chosen = value
            elif param.key in baseline:
                chosen = baseline[param.key]
            elif param.required:
                choice = values_for(path, param, values)
                assert choice is not None, f"no values for {param.key} of {path}"
                chosen = choice.baseline
            else:
                continue
            if not param.is_option:
                arguments.append(chosen)
            elif param.flag:
                options.append(param.opts[0])
            else:
                options.append(f"{param.opts[0]}={chosen}")
        if any(argument.startswith("-") for argument in arguments):
            arguments.insert(0, "--")
        return [*path.split(), *options, *arguments]

    cases: list[Case] = [(words(None, ""), NO_ENV)]
    for index, param in enumerate(params):
        if param.flag:  # each flag once, with the baseline
            if param.key not in baseline:
                cases.append(([*words(None, ""), param.opts[0]], NO_ENV))
            continue
        choice = values_for(path, param, values)
        if choice is None or param.choices:
            continue
        extremes = choice.extremes
        if SCALE == 1:  # surrogates are left to the generated examples
            extremes = tuple(e for e in extremes[:SWEEP_EXTREMES] if e != SURROGATE)
        cases += [(words(index, extreme), NO_ENV) for extreme in extremes]
    # The settings and global options: all of them in a long run, else one of each in turn.
    number = sorted(COMMANDS).index(path)
    environments = EXTREME_ENVIRONMENTS if SCALE > 1 else [EXTREME_ENVIRONMENTS[number % 3]]
    cases += [(words(None, ""), env) for env in environments]
    for shift in (0, 3) if SCALE > 1 else (0,):
        cases.append(([*EXTREME_GLOBALS[(number + shift) % 7], *words(None, "")], NO_ENV))
    return cases


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=lambda path: path.replace(" ", "-"))
def test_extremes(harness: Harness, path: str) -> None:
    """Each parameter of the command at the ends of its range (and beyond), the others
    valid; every failing command line is listed."""
    values = value_strategies(harness.world, harness.database_url)
    failures = []
    for argv, env in extreme_cases(path, values):
        if (skip := PLANS[path].skip) is not None and skip(argv):
            continue
        outcome = run_cli(argv, env)
        try:
            check(
                harness, outcome, PLANS[path], has_format=has_format_option(path),
                dry_run="--dry-run" in argv,
            )  # fmt: skip
        except AssertionError as failure:
            failures.append(str(failure))
    if failures:
        report(f"{len(failures)} extreme command lines broke the contract:" + "".join(failures))


# Tests: a closed standard output ---------------------------------------------------


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)  # the pipe is the same on both
@pytest.mark.parametrize("path", sorted(COMMANDS), ids=lambda path: path.replace(" ", "-"))
def test_closed_stdout(harness: Harness, path: str) -> None:
    """``slotctl ... | head``: the reader went away before the output was written. The
    command exits as it would have (0 for its data) quietly: no exit 1 (Rich gives up
    with SystemExit(1)) or 120 (the interpreter's last flush fails), no traceback."""
    values = value_strategies(harness.world, harness.database_url)
    argv, _ = extreme_cases(path, values)[0]
    if has_format_option(path):
        argv = [*argv, "--format", ("table", "json", "csv")[sorted(COMMANDS).index(path) % 3]]
    outcome = run_cli(argv, closed_stdout=True)
    check(harness, outcome, PLANS[path], has_format=False, detail="standard output closed")


# Import files ----------------------------------------------------------------------

HUGE = ["x" * 100_000, "x" * 200_000]
CELLS = [
    "0", "-1", "1", "5000", "5001", *map(str, BIG), "1e3", "NaN", "", " ",
    "9999-12-31", "0001-01-01", "1899-12-31", "1900-01-01", "2200-12-31", "2201-01-01",
    "2027-02-29", "today", "9999-12-31T23:59:59+00:00", "0001-01-01T00:00:00+00:00",
    "0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-05:00", "2027-03-02T09:00:00",
    "2027-03-02T09:00:00+05:00", "2027-03-02T08:00:30+00:00", "2027-03-28T02:30:00+01:00",
    "25:00", "24:00", "23:59", "9:00", "09:00:00", "7", "mon", "monday", "yes", "no", "maybe",
    "TRUE", "pending", "confirmed", "completed", "no_show", "cancelled", "weird",
    "BK-XXXXXX", "x" * 17, "-lead", "ann@example.com", "not-an-email", "Mars/Olympus",
    "Europe/Berlin", "downtown", "nowhere", "=1+1", "'=x", "a\nb", "a\rb", "\x00", "\ufeff",
    "Zo\u00eb", "x" * 201, "x" * 2001,
]  # fmt: skip
CELLS_BY_COLUMN = {
    "max_capacity": ["0", "-1", "1", "5000", "5001", *map(str, BIG), "1.0", "x"],
    "current_bookings": ["0", "-1", str(2**63)],
    "min_notice_minutes": ["0", "-1", "525600", "525601", *map(str, BIG)],
    "max_advance_days": ["0", "-1", "1830", "1831", *map(str, BIG)],
    "weekday": ["0", "6", "7", "-1", str(2**63), "mon"],
    "starts_on": ["9999-12-31", "0001-01-01", "1899-12-31", "2201-01-01", "2027-03-05"],
    "ends_on": ["9999-12-31", "0001-01-01", "2027-03-03", ""],
    "date": ["9999-12-31", "0001-01-01", "2027-03-05", "2027-03-28"],
    "start": ["00:00", "23:59", "24:00", "02:30", "10:30"],
    "end": ["24:00", "00:00", "11:00", "23:59"],
    "starts_at": ["9999-12-31T23:00:00+00:00", "0001-01-01T00:00:00+00:00",
                  "0001-01-01T00:00:00+14:00", "2027-03-05T09:00:00+01:00"],
    "ends_at": ["9999-12-31T23:59:00+00:00", "0001-01-01T01:00:00+00:00",
                "2027-03-05T10:00:00+01:00", "9999-12-31T23:59:59-14:00"],
    "created_at": ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", ""],
    "confirmed_at": ["", "9999-12-31T23:59:59+00:00", "2027-02-26T08:00:00+00:00"],
    "status": ["pending", "confirmed", "completed", "no_show", "cancelled", "weird", ""],
    "uuid": ["", "not-a-uuid", "00000000-0000-0000-0000-000000000000"],
    "slot": ["", "00000000-0000-0000-0000-000000000000", "downtown@2027-03-02T09:00"],
    "reference": ["", "BK-NEW001", "x" * 17, "-lead", "BK-"],
    "timezone": ["", "Mars/Olympus", "Asia/Kolkata", "../etc/passwd"],
    "is_active": ["", "maybe", "no", "0"],
    "is_available": ["", "maybe", "no", "1"],
    "opens_at": ["00:00", "24:00", "25:00", "12:00"],
    "closes_at": ["24:00", "00:00", "25:00", "09:30"],
    "day": ["mon", "monday", "funday", "mon-fri", ""],
    "exchange": ["", "nowhere", "DOWNTOWN", "uptown"],
    "customer_email": ["", "NEW@EXAMPLE.COM", "not-an-email"],
}  # fmt: skip


@dataclass
class FileCase:
    content: bytes
    steps: list[str]
    suffix: str = "csv"
    lossless: bool = False  # the export as written, up to BOM, CRLF and quoting


def _rows(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8"), newline="")))


def _serialise(rows: list[list[str]], terminator: str, quote_all: bool) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=terminator, quoting=csv.QUOTE_MINIMAL)
    if quote_all:
        writer = csv.writer(buffer, lineterminator=terminator, quoting=csv.QUOTE_ALL)
    writer.writerows(rows)
    text = buffer.getvalue()
    try:  # lone surrogates \udc80-\udcff stand for raw bytes; any other, as CESU-8 garbage
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def _cell_value(column: str) -> Strategy:
    """Mostly the column's own edge values, else any edge value, noise or a huge cell."""
    own = st.sampled_from(CELLS_BY_COLUMN.get(column, CELLS))
    return weighted((6, own), (2, st.sampled_from(CELLS)), (1, NOISE), (1, st.sampled_from(HUGE)))


@st.composite
def _row_mutation(  # noqa: PLR0912 - one branch per mutation
    draw: st.DrawFn, rows: list[list[str]], steps: list[str]
) -> None:
    """Change ``rows`` in place by one structural mutation, noted in ``steps``."""
    header, body = rows[0], rows[1:]
    width = len(header)
    kind = draw(
        st.sampled_from(
            ["cell"] * 8 + ["blank uuid", "duplicate row"] * 2
            + ["drop column", "extra column", "duplicate column", "drop cell", "extra cell",
               "drop rows", "header"]
        )
    )  # fmt: skip
    row = draw(st.integers(0, max(0, len(body) - 1)))
    column = draw(st.integers(0, width - 1))
    if kind == "cell" and body and column < len(body[row]):
        value = draw(_cell_value(header[column]), label=f"cell {header[column]}")
        body[row][column] = value
        steps.append(f"line {row + 2} {header[column]}={value[:40]!r}")
    elif kind == "drop column":
        steps.append(f"without column {header[column]}")
        for cells in rows:
            if column < len(cells):
                del cells[column]
    elif kind == "extra column":
        name = draw(st.sampled_from(["bogus", "", " slug ", "Status", "notes\n"]))
        steps.append(f"extra column {name!r}")
        rows[0].append(name)
        for cells in body:
            cells.append(draw(_cell_value(name)))
    elif kind == "duplicate column":
        steps.append(f"column {header[column]} twice")
        for cells in rows:
            if column < len(cells):
                cells.append(cells[column])
    elif kind == "drop cell" and body:
        steps.append(f"line {row + 2} one cell short")
        body[row].pop()
    elif kind == "extra cell" and body:
        steps.append(f"line {row + 2} one cell more")
        body[row].append("extra")
    elif kind == "duplicate row" and body:
        steps.append(f"line {row + 2} twice")
        body.append(list(body[row]))
    elif kind == "drop rows":
        steps.append("header only")
        del rows[1:]
    elif kind == "blank uuid" and "uuid" in header:
        steps.append("uuid cells emptied (new records)")
        index = header.index("uuid")
        for cells in body:
            if index < len(cells):
                cells[index] = ""
    elif kind == "header":
        name = draw(NOISE)
        steps.append(f"header cell {column} = {name!r}")
        header[column] = name


@st.composite
def _byte_mutation(  # noqa: PLR0911 - one return per mutation
    draw: st.DrawFn, content: bytes, steps: list[str]
) -> bytes:
    kind = draw(
        st.sampled_from(
            ["bom", "crlf", "insert", "insert", "truncate", "binary", "latin-1", "blank lines",
             "unterminated quote"]
        )
    )  # fmt: skip
    at = draw(st.integers(0, len(content)))
    if kind == "bom":
        steps.append("BOM")
        return b"\xef\xbb\xbf" + content
    if kind == "crlf":
        steps.append("CRLF")
        return content.replace(b"\n", b"\r\n")
    if kind == "insert":
        piece = draw(
            st.one_of(
                st.sampled_from([b'"', b'""', b"\xff", b"\x00", b"\r", b"\n", b",", b"\xed\xa0\x80"]),
                st.binary(min_size=1, max_size=8),
            )
        )  # fmt: skip
        steps.append(f"{piece!r} at byte {at}")
        return content[:at] + piece + content[at:]
    if kind == "truncate":
        steps.append(f"cut at byte {at}")
        return content[:at]
    if kind == "binary":
        steps.append("random binary")
        return draw(st.binary(max_size=200))
    if kind == "latin-1":
        steps.append("re-encoded as Latin-1 with an \u00e9")
        text_ = content.decode("utf-8", "replace") + "\u00e9"
        return text_.encode("latin-1", "replace")
    if kind == "blank lines":
        steps.append("blank lines")
        return b"\n\n" + content.replace(b"\n", b"\n\n")
    steps.append(f"unterminated quote at byte {at}")
    return content[:at] + b'"' + content[at:].replace(b'"', b"")


@st.composite
def csv_case(draw: st.DrawFn, world: World, kind: str) -> FileCase:
    """An export of ``kind`` (or of another kind), mutated."""
    source = draw(st.sampled_from([kind] * 12 + list(KINDS)), label="export of")
    steps = [f"{source} export"]
    rows = _rows(world.csv_exports[source])
    for _ in range(draw(st.integers(1, 3))):
        draw(_row_mutation(rows, steps))
    terminator = draw(st.sampled_from(["\n", "\n", "\n", "\r\n", "\r\n", "\r"]))
    quote_all = draw(st.integers(0, 3)) == 0
    if terminator != "\n" or quote_all:
        steps.append(f"lines end {terminator!r}" + (", every cell quoted" if quote_all else ""))
    content = _serialise(rows, terminator, quote_all)
    for _ in range(draw(st.sampled_from([0, 0, 0, 0, 1, 2]))):  # bytes: the rarer damage
        content = draw(_byte_mutation(content, steps))
    return FileCase(content, steps)


@st.composite
def lossless_case(draw: st.DrawFn, world: World, kind: str) -> FileCase:
    """The export re-quoted, with CRLF line ends or a BOM: importing it must change nothing."""
    terminator, quote_all = draw(st.sampled_from(["\n", "\r\n"])), draw(st.booleans())
    content = _serialise(_rows(world.csv_exports[kind]), terminator, quote_all)
    steps = [f"{kind} export, lines end {terminator!r}" + (", cells quoted" if quote_all else "")]
    if draw(st.booleans()):
        content, steps = b"\xef\xbb\xbf" + content, [*steps, "BOM"]
    return FileCase(content, steps, lossless=True)


@st.composite
def json_case(draw: st.DrawFn, world: World, kind: str) -> FileCase:
    """JSON where CSV is expected: the ``--as json`` export, truncated, or the wrong shape."""
    exported = world.json_exports[kind]
    shape = draw(st.sampled_from(["export", "truncated", "object", "list", "scalar"]))
    if shape == "export":
        return FileCase(exported, ["the --as json export"], "json")
    if shape == "truncated":
        at = draw(st.integers(0, len(exported)))
        return FileCase(exported[:at], [f"the --as json export cut at byte {at}"], "json")
    value: Any = {
        "object": {"uuid": None, kind: [1, 2]},
        "list": [[1, 2], {"slug": 2**63}, None],
        "scalar": draw(st.sampled_from([None, 2**63, "text", 1.5e308])),
    }[shape]
    return FileCase(json.dumps(value).encode(), [f"JSON {shape}"], "json")


@st.composite
def synthetic_case(draw: st.DrawFn, world: World, kind: str) -> FileCase:
    """A header of known and unknown columns and rows of arbitrary cells."""
    known = _rows(world.csv_exports[kind])[0]
    header = draw(st.lists(st.sampled_from([*known, "bogus"]), min_size=1, max_size=len(known) + 1))
    body = draw(
        st.lists(
            st.tuples(*[_cell_value(column) for column in header]).map(list),
            max_size=3,
        )
    )
    return FileCase(_serialise([header, *body], "\n", False), [f"columns {header}"])


def file_case(world: World, kind: str) -> st.SearchStrategy[FileCase]:
    csv_file = csv_case(world, kind)
    return weighted(
        (5, csv_file),
        (1, lossless_case(world, kind)),
        (1, json_case(world, kind)),
        (1, synthetic_case(world, kind)),
    )


def write_case(harness: Harness, case: FileCase, name: str) -> Path:
    digest = hashlib.sha256(case.content).hexdigest()[:10]
    folder = harness.root / "cases"
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}-{digest}.{case.suffix}"
    path.write_bytes(case.content)
    return path


@st.composite
def _import_options(draw: st.DrawFn) -> list[str]:
    words = []
    if draw(st.integers(0, 3)) == 0:
        words.append("--dry-run")
    if draw(st.integers(0, 3)) == 0:
        words += ["--format", draw(st.sampled_from(["json", "csv", "table"]))]
    return words


@fuzz_settings(20)
@given(data=st.data())
@pytest.mark.parametrize("kind", KINDS)
def test_import_files(harness: Harness, kind: str, data: st.DataObject) -> None:
    """``X import FILE`` with mutated exports: exit 0 or 5 (or 3, 4), never 1, and a
    refused file writes nothing."""
    case = data.draw(file_case(harness.world, kind), label="file")
    options = data.draw(_import_options(), label="options")
    command = list(IMPORT_COMMANDS[kind])
    if data.draw(st.integers(0, 5), label="stdin") == 0:
        outcome = run_cli([*command, "-", *options], stdin=case.content)
        where = "standard input"
    else:
        path = write_case(harness, case, kind)
        outcome = run_cli([*command, str(path.relative_to(harness.root)), *options])
        where = str(path)
    check(
        harness,
        outcome,
        LOSSLESS if case.lossless else PLANS[" ".join(command)],
        dry_run="--dry-run" in options,
        detail=f"file ({where}): {'; '.join(case.steps)}",
    )


@fuzz_settings(20)
@given(data=st.data())
def test_import_folder(harness: Harness, data: st.DataObject) -> None:
    """``slotctl import DIR``: some of the files, one of them mutated, in one
    transaction: the first bad file stops it and nothing is written."""
    present = data.draw(
        st.lists(st.sampled_from(KINDS), min_size=0, max_size=5, unique=True), label="files"
    )
    bad = data.draw(st.sampled_from([*present, None]) if present else st.none(), label="mutated")
    folder = harness.root / "folder"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    steps = []
    for kind in present:
        content = harness.world.csv_exports[kind]
        if kind == bad:
            case = data.draw(
                weighted((4, csv_case(harness.world, kind)), (1, json_case(harness.world, kind)))
            )
            content = case.content
            steps.append(f"{kind}.csv: {'; '.join(case.steps)}")
        (folder / f"{kind}.csv").write_bytes(content)
    read = set(present)
    if data.draw(st.integers(0, 9), label="odd folder") == 0:
        (folder / "slots.csv").unlink(missing_ok=True)
        (folder / "slots.csv").mkdir()
        steps.append("slots.csv is a folder")
        read.discard("slots")
    options = data.draw(_import_options(), label="options")
    outcome = run_cli(["import", "folder", *options])
    plan = PLANS["import"]
    if bad is None:  # the exports as written change nothing; no file at all is exit 3
        plan = LOSSLESS if read else Plan(readonly=True, exits=frozenset({3}))
    check(
        harness,
        outcome,
        plan,
        dry_run="--dry-run" in options,
        detail=f"folder {folder} ({sorted(present)}): {'; '.join(steps) or 'exports as written'}",
    )
