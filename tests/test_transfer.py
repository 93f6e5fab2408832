"""CSV, JSON and iCalendar export and CSV import of every record type
(``exchanges|hours|slots|bookings export|import``, ``hours closures export|import``,
``slotctl export DIR`` / ``slotctl import DIR``), on SQLite and PostgreSQL.

The clock is frozen at Wednesday 2027-03-10 10:00 UTC. Most tests build a small
exchange by hand (``downtown``, Europe/Berlin, open Mon-Fri 09:00-11:00, 30-minute
slots on Monday 15 and Tuesday 16 March); the round trips use ``slotctl demo``.
A "fresh" database is a second, empty, migrated database of the same kind (a
SQLite file, or a PostgreSQL schema of this module emptied on every use).
"""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text

from slotctl.db.engine import make_engine
from slotctl.db.migrate import upgrade
from slotctl.db.models import Base
from slotctl.tabular import FORMULA_PREFIXES, decode_cell, encode_cell
from tests.conftest import Database, drop_pg_schema, new_pg_schema, require_postgres

NOW = "2027-03-10T10:00:00+00:00"
LATER = "2027-03-10T11:00:00+00:00"  # the same export imported again, an hour later
ACTOR = "importer"
FILES = ("exchanges", "hours", "closures", "slots", "bookings", "tickets", "waitlist")
BOOKING_FIELDS = [
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
SLOT_FIELDS = [
    "uuid",
    "exchange",
    "date",
    "start",
    "end",
    "starts_at",
    "ends_at",
    "max_capacity",
    "current_bookings",
    "available_seats",
    "is_available",
    "status",
]
PROBLEM = re.compile(r"^  line (\d+): (.+)$")


# Helpers --------------------------------------------------------------------------------


def ok(result: Any) -> Any:
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    return result


def rows_of(path: Path) -> list[dict[str, str]]:
    """The raw cells of a CSV file (neutralising apostrophes left in place)."""
    with path.open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


def rows_of_text(content: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content, newline="")))


def header_of(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as file:
        return next(csv.reader(file))


def write_rows(path: Path, header: list[str], rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def reasons_by_line(found: list[tuple[int, str]]) -> dict[int, str]:
    """Every reason given for each line, joined (a line may break several rules)."""
    joined: dict[int, str] = {}
    for line, reason in found:
        joined[line] = f"{joined[line]}; {reason}" if line in joined else reason
    return joined


def problems(stderr: str) -> list[tuple[int, str]]:
    """The ``  line N: reason`` lines under the ``Error:`` line."""
    lines = stderr.splitlines()
    assert lines[0].startswith("Error: "), stderr
    found = [PROBLEM.match(line) for line in lines[1:]]
    assert all(found), stderr
    return [(int(m.group(1)), m.group(2)) for m in found if m]


def json_error(stderr: str) -> dict[str, Any]:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    error = json.loads(lines[0])["error"]
    assert error["code"] == "invalid_file"
    return dict(error)


def counts(db: Database) -> dict[str, int]:
    return {
        table.name: db.scalar(f"SELECT count(*) FROM {table.name}")
        for table in Base.metadata.sorted_tables
    }


def small(cli: Any, monkeypatch: pytest.MonkeyPatch, capacity: int = 2) -> None:
    """``downtown`` (Europe/Berlin, UTC+01:00 in March), Mon-Fri 09:00-11:00, 30-minute
    slots of ``capacity`` seats on Monday 2027-03-15 and Tuesday 2027-03-16 (8 slots)."""
    monkeypatch.setenv("SLOTCTL_NOW", NOW)
    monkeypatch.setenv("SLOTCTL_ACTOR", ACTOR)
    ok(cli("exchanges", "add", "downtown", "--name", "Downtown", "--timezone", "Europe/Berlin"))
    ok(cli("hours", "set", "downtown", "mon-fri 09:00-11:00"))
    ok(
        cli(
            "slots",
            "generate",
            "downtown",
            "--from",
            "2027-03-15",
            "--days",
            "2",
            "--capacity",
            str(capacity),
        )
    )


def book(cli: Any, slot: str, name: str, email: str, *extra: str) -> dict[str, Any]:
    made = ok(
        cli("bookings", "create", slot, f"--name={name}", f"--email={email}", *extra, "-f", "json")
    )
    return dict(made.json())


def slot_uuid(db: Database, local: str) -> str:
    """The uuid of downtown's slot starting at ``local`` (Europe/Berlin, UTC+01:00)."""
    instant = datetime.fromisoformat(local + "+01:00").astimezone(UTC)
    rows = db.query(
        "SELECT s.uuid, s.starts_at FROM time_slots s JOIN exchanges e ON e.id = s.exchange_id"
        " WHERE e.slug = 'downtown'"
    )
    for uuid_, starts in rows:
        value = starts if isinstance(starts, datetime) else datetime.fromisoformat(starts)
        if value.replace(tzinfo=value.tzinfo or UTC) == instant:
            return str(uuid_)
    raise AssertionError(f"no slot at {local}")


def seats(db: Database, slot: str) -> int:
    return int(db.scalar("SELECT current_bookings FROM time_slots WHERE uuid = :u", u=slot))


def events(db: Database, booking: str) -> list[tuple[Any, ...]]:
    return db.query(
        "SELECT e.from_status, e.to_status, e.actor, e.note FROM booking_events e"
        " JOIN bookings b ON b.id = e.booking_id WHERE b.uuid = :u ORDER BY e.id",
        u=booking,
    )


def same_files(first: Path, second: Path) -> None:
    for kind in FILES:
        a, b = (first / f"{kind}.csv").read_bytes(), (second / f"{kind}.csv").read_bytes()
        assert a == b, f"{kind}.csv differs"


# Fresh databases --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg_other_url() -> Iterator[str]:
    """A second PostgreSQL schema for this module (the ``db`` fixture has the first)."""
    require_postgres()
    schema, url = new_pg_schema()
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    drop_pg_schema(schema)


def _empty_pg(url: str) -> None:
    engine = create_engine(url)
    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def fresh(db: Database, request: pytest.FixtureRequest, tmp_path: Path) -> Callable[..., Database]:
    """``fresh(kind=db.kind)``: an empty migrated database (PostgreSQL: the module's other
    schema, emptied, so only one fresh PostgreSQL database exists at a time)."""
    made = iter(range(1_000_000))

    def make(kind: str | None = None) -> Database:
        kind = kind or db.kind
        if kind == "postgres":
            url = request.getfixturevalue("pg_other_url")
            _empty_pg(url)
            return Database("postgres", url)
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / f"fresh-{next(made)}.db"
        path.write_bytes(template.read_bytes())
        return Database("sqlite", f"sqlite:///{path}")

    return make


def on(target: Database, *args: str) -> tuple[str, ...]:
    return ("--database-url", target.url, *args)


# 1, 2. Round trips and idempotence ----------------------------------------------------------


def test_export_import_export_is_byte_identical_for_every_record_type(
    cli: Any, db: Database, fresh: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SLOTCTL_NOW", NOW)
    monkeypatch.setenv("SLOTCTL_ACTOR", ACTOR)
    ok(cli("demo", "-f", "json"))
    source = counts(db)
    exported = ok(cli("export", str(tmp_path / "A")))
    assert exported.stdout == ""
    assert sorted(p.name for p in (tmp_path / "A").iterdir()) == sorted(f"{k}.csv" for k in FILES)
    tables = {  # file, table, the record in a notice (one, many)
        "exchanges": ("exchanges", "exchange", "exchanges"),
        "hours": ("business_hours", "shift", "shifts"),
        "closures": ("closures", "closure", "closures"),
        "slots": ("time_slots", "slot", "slots"),
        "bookings": ("bookings", "booking", "bookings"),
        "tickets": ("tickets", "ticket", "tickets"),
        "waitlist": ("waitlist_entries", "waitlist entry", "waitlist entries"),
    }
    for kind, (table, one, many) in tables.items():
        count = source[table]
        assert len(rows_of(tmp_path / "A" / f"{kind}.csv")) == count, kind
        records = f"{count:,} {one if count == 1 else many}"
        assert f"Wrote {records} to {tmp_path / 'A' / f'{kind}.csv'}." in exported.stderr
    assert header_of(tmp_path / "A" / "bookings.csv") == BOOKING_FIELDS
    assert header_of(tmp_path / "A" / "slots.csv") == SLOT_FIELDS
    statuses = {row["status"] for row in rows_of(tmp_path / "A" / "bookings.csv")}
    assert statuses >= {"pending", "confirmed", "completed", "no_show", "cancelled"}

    target = fresh()
    imported = ok(cli(*on(target, "import", str(tmp_path / "A"), "-f", "json")))
    assert imported.json() == [
        {
            "kind": kind,
            "created": source[table],
            "updated": 0,
            "unchanged": 0,
            "dry_run": False,
            "changes": [],
        }
        for kind, (table, _, _) in tables.items()
    ]
    ok(cli(*on(target, "export", str(tmp_path / "B"))))
    same_files(tmp_path / "A", tmp_path / "B")
    # one 'imported' event per created booking, by the configured actor, into its status
    bookings = source["bookings"]
    assert target.scalar("SELECT count(*) FROM booking_events") == bookings
    assert (
        target.scalar(
            "SELECT count(*) FROM booking_events e JOIN bookings b ON b.id = e.booking_id"
            " WHERE e.actor = :a AND e.note = 'imported' AND e.from_status IS NULL"
            " AND e.to_status = b.status",
            a=ACTOR,
        )
        == bookings
    )
    assert ok(cli(*on(target, "doctor"))).stdout == "All invariants hold.\n"


def test_an_export_moves_between_sqlite_and_postgresql_unchanged(
    cli: Any, db: Database, fresh: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Demo data made on one database, imported into the other kind, exports the same bytes."""
    monkeypatch.setenv("SLOTCTL_NOW", NOW)
    ok(cli("demo", "-f", "json"))
    ok(cli("export", str(tmp_path / "A")))
    target = fresh("sqlite" if db.kind == "postgres" else "postgres")
    ok(cli(*on(target, "import", str(tmp_path / "A"))))
    ok(cli(*on(target, "export", str(tmp_path / "B"))))
    same_files(tmp_path / "A", tmp_path / "B")


def test_importing_an_export_twice_changes_nothing(
    cli: Any, db: Database, fresh: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SLOTCTL_NOW", NOW)
    ok(cli("demo", "-f", "json"))
    ok(cli("export", str(tmp_path / "A")))
    source = counts(db)
    sizes = {
        "exchanges": source["exchanges"],
        "hours": source["business_hours"],
        "closures": source["closures"],
        "slots": source["time_slots"],
        "bookings": source["bookings"],
        "tickets": source["tickets"],
        "waitlist": source["waitlist_entries"],
    }
    unchanged = [
        {"kind": kind, "created": 0, "updated": 0, "unchanged": n, "dry_run": False, "changes": []}
        for kind, n in sizes.items()
    ]

    # into a fresh database, then again an hour later: the second run changes nothing
    target = fresh()
    ok(cli(*on(target, "import", str(tmp_path / "A"))))
    first = target.snapshot()
    monkeypatch.setenv("SLOTCTL_NOW", LATER)
    again = ok(cli(*on(target, "import", str(tmp_path / "A"), "-f", "json")))
    assert again.json() == unchanged
    assert target.snapshot() == first  # counts, updated_at values, counters, events

    # back into the database it came from: every record is already there, as it is
    before = db.snapshot()
    assert ok(cli("import", str(tmp_path / "A"), "-f", "json")).json() == unchanged
    assert db.snapshot() == before

    # one file at a time: a single result object
    for kind, command in {
        "exchanges": ("exchanges",),
        "hours": ("hours",),
        "closures": ("hours", "closures"),
        "slots": ("slots",),
        "bookings": ("bookings",),
        "tickets": ("queue",),
        "waitlist": ("waitlist",),
    }.items():
        path = str(tmp_path / "A" / f"{kind}.csv")
        result = ok(cli(*on(target, *command, "import", path, "-f", "json")))
        assert result.json() == {
            "kind": kind,
            "created": 0,
            "updated": 0,
            "unchanged": sizes[kind],
            "dry_run": False,
            "changes": [],
        }
        table = ok(cli(*on(target, *command, "import", path)))
        assert (
            table.stdout == f"Imported {kind}: 0 created, 0 updated, {sizes[kind]:,} unchanged.\n"
        )
    assert target.snapshot() == first


def test_a_file_without_the_optional_timestamps_imported_twice_changes_nothing(
    cli: Any, db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Columns left out are not differences: the second run, an hour later, finds every
    record as the first left it (and keeps its created_at)."""
    small(cli, monkeypatch)
    slot = slot_uuid(db, "2027-03-15T09:00")
    booking, exchange = str(uuid.uuid4()), str(uuid.uuid4())
    files = {
        "bookings": f"uuid,slot,customer_name,customer_email\n{booking},{slot},Ann,ann@example.com\n",
        "exchanges": f"uuid,slug,name\n{exchange},harbour,Harbour\n",
    }
    for kind, content in files.items():
        (tmp_path / f"{kind}.csv").write_text(content, encoding="utf-8")
        assert (
            ok(cli(kind, "import", str(tmp_path / f"{kind}.csv"), "-f", "json")).json()["created"]
            == 1
        )
    before = db.snapshot()
    monkeypatch.setenv("SLOTCTL_NOW", LATER)
    results = {
        kind: ok(cli(kind, "import", str(tmp_path / f"{kind}.csv"), "-f", "json")).json()
        for kind in files
    }
    assert results == {
        kind: {
            "kind": kind,
            "created": 0,
            "updated": 0,
            "unchanged": 1,
            "dry_run": False,
            "changes": [],
        }
        for kind in files
    }
    assert db.snapshot() == before


# 3. Updates by uuid ---------------------------------------------------------------------------


def test_an_edited_export_updates_the_bookings_by_uuid(
    cli: Any, db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    small(cli, monkeypatch)
    ann = book(cli, "downtown@2027-03-15T09:00", "Ann", "ann@example.com", "--confirm")
    bob = book(cli, "downtown@2027-03-15T09:00", "Bob", "bob@example.com")
    cy = book(cli, "downtown@2027-03-15T09:30", "Cy", "cy@example.com")
    first, second = ann["slot"], slot_uuid(db, "2027-03-16T10:30")
    assert seats(db, first) == 2
    ok(cli("bookings", "export", "-o", str(tmp_path / "b.csv")))
    header, rows = header_of(tmp_path / "b.csv"), rows_of(tmp_path / "b.csv")
    # by slot start, then creation time (the same here: the clock is frozen), then uuid
    assert [r["uuid"] for r in rows] == [*sorted([ann["uuid"], bob["uuid"]]), cy["uuid"]]
    by_uuid = {r["uuid"]: r for r in rows}

    # a new name only: one update, no event (the status did not change)
    by_uuid[bob["uuid"]]["customer_name"] = "Robert Smith"
    edited = write_rows(tmp_path / "name.csv", header, rows)
    result = ok(cli("bookings", "import", str(edited), "-f", "json"))
    assert result.json() == {
        "kind": "bookings",
        "created": 0,
        "updated": 1,
        "unchanged": 2,
        "dry_run": False,
        "changes": [
            {
                "record": bob["reference"],
                "field": "customer_name",
                "old": "Bob",
                "new": "Robert Smith",
            }
        ],
    }
    assert db.query("SELECT customer_name FROM bookings WHERE uuid = :u", u=bob["uuid"]) == [
        ("Robert Smith",)
    ]
    assert db.query(
        "SELECT uuid, customer_name FROM bookings WHERE uuid <> :u ORDER BY uuid", u=bob["uuid"]
    ) == sorted([(ann["uuid"], "Ann"), (cy["uuid"], "Cy")])
    assert [e[:2] for e in events(db, bob["uuid"])] == [(None, "pending")]

    # Ann cancelled: her seat is released and the change is in her history
    by_uuid[ann["uuid"]] |= {
        "status": "cancelled",
        "cancelled_at": "2027-03-10T10:00:00+00:00",
        "cancellation_reason": "called to cancel",
    }
    edited = write_rows(tmp_path / "status.csv", header, rows)
    result = ok(cli("bookings", "import", str(edited), "-f", "json"))
    assert result.json()["updated"] == 1
    assert result.json()["unchanged"] == 2
    assert db.query(
        "SELECT status, cancellation_reason FROM bookings WHERE uuid = :u", u=ann["uuid"]
    ) == [("cancelled", "called to cancel")]
    assert events(db, ann["uuid"])[-1] == ("confirmed", "cancelled", ACTOR, "imported")
    assert len(events(db, ann["uuid"])) == 2
    assert seats(db, first) == 1
    shown = ok(cli("slots", "show", first, "-f", "json")).json()
    assert (shown["current_bookings"], shown["available_seats"]) == (1, 1)

    # Bob moved to another slot: both counters follow
    by_uuid[bob["uuid"]]["slot"] = second
    edited = write_rows(tmp_path / "move.csv", header, rows)
    result = ok(cli("bookings", "import", str(edited), "-f", "json"))
    assert (result.json()["updated"], result.json()["unchanged"]) == (1, 2)
    assert (seats(db, first), seats(db, second)) == (0, 1)
    # two status changes of one booking by two imports (the clock still frozen)
    by_uuid[cy["uuid"]] |= {"status": "confirmed", "confirmed_at": NOW}
    ok(cli("bookings", "import", str(write_rows(tmp_path / "cy1.csv", header, rows))))
    by_uuid[cy["uuid"]] |= {"status": "cancelled", "cancelled_at": NOW}
    ok(cli("bookings", "import", str(write_rows(tmp_path / "cy2.csv", header, rows))))
    assert events(db, cy["uuid"]) == [
        (None, "pending", ACTOR, "created"),
        ("pending", "confirmed", ACTOR, "imported"),
        ("confirmed", "cancelled", ACTOR, "imported"),
    ]
    assert seats(db, cy["slot"]) == 0
    moved = ok(cli("bookings", "show", bob["uuid"], "-f", "json")).json()
    assert moved["slot"] == second
    assert moved["starts_at"].startswith("2027-03-16T10:30:00+01:00")
    assert ok(cli("doctor")).exit_code == 0


def test_bookings_import_counts_the_seats_the_file_frees_and_takes(
    cli: Any, db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    small(cli, monkeypatch, capacity=1)
    ann = book(cli, "downtown@2027-03-15T09:00", "Ann", "ann@example.com", "--confirm")
    slot = ann["slot"]
    ok(cli("bookings", "export", "-o", str(tmp_path / "b.csv")))
    header, rows = header_of(tmp_path / "b.csv"), rows_of(tmp_path / "b.csv")
    bob = dict.fromkeys(header, "") | {
        "slot": slot,
        "customer_name": "Bob",
        "customer_email": "bob@example.com",
    }

    # the slot is full: a new row on it is refused, naming the slot
    before = db.snapshot()
    result = cli("bookings", "import", str(write_rows(tmp_path / "full.csv", header, [bob])))
    assert result.exit_code == 5
    found = problems(result.stderr)
    assert [line for line, _ in found] == [2]
    assert slot in found[0][1]
    assert db.snapshot() == before

    # Ann cancelled in the same file: her seat goes to Bob
    rows[0] |= {"status": "cancelled", "cancelled_at": NOW}
    swap = write_rows(tmp_path / "swap.csv", header, [*rows, bob])
    assert ok(cli("bookings", "import", str(swap), "-f", "json")).json() == {
        "kind": "bookings",
        "created": 1,
        "updated": 1,
        "unchanged": 0,
        "dry_run": False,
        "changes": [  # Bob is created: counted, not listed
            {"record": ann["reference"], "field": "status", "old": "confirmed", "new": "cancelled"},
            {"record": ann["reference"], "field": "cancelled_at", "old": None, "new": NOW},
        ],
    }
    assert seats(db, slot) == 1
    assert db.query("SELECT customer_name, status FROM bookings ORDER BY customer_name") == [
        ("Ann", "cancelled"),
        ("Bob", "pending"),
    ]

    # Ann confirmed again while Bob holds the only seat: refused twice over, by the
    # lifecycle (a cancelled booking stays cancelled) and for the seat
    rows[0] |= {"status": "confirmed", "cancelled_at": ""}
    back = write_rows(tmp_path / "back.csv", header, rows)
    before = db.snapshot()
    result = cli("bookings", "import", str(back))
    assert result.exit_code == 5
    found = problems(result.stderr)
    assert {line for line, _ in found} == {2}
    reasons = " | ".join(reason for _, reason in found)
    assert "cannot go from cancelled to confirmed" in reasons
    assert "overbook" in reasons
    assert db.snapshot() == before


# 4. Encodings and quoting ---------------------------------------------------------------------


def test_a_bookings_file_with_bom_crlf_and_a_multiline_quoted_note_imports(
    cli: Any, db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    small(cli, monkeypatch)
    slot = slot_uuid(db, "2027-03-15T10:00")
    content = (
        "\ufeffslot,customer_name,customer_email,notes\r\n"
        f'{slot},Zoë Ångström,zoe@example.com,"Bring ID, please\nand the ""old"" form"\r\n'
        f"{slot},Max,max@example.com,\r\n"
    )
    # a bad row after the two-line record: line 4 (the record is counted by its lines)
    bad = content.replace("max@example.com", "max-at-example")
    (tmp_path / "bad.csv").write_bytes(bad.encode("utf-8"))
    before = db.snapshot()
    result = cli("bookings", "import", str(tmp_path / "bad.csv"))
    assert result.exit_code == 5
    found = problems(result.stderr)
    assert [line for line, _ in found] == [4]
    assert "max-at-example" in found[0][1]
    assert db.snapshot() == before

    path = tmp_path / "bom.csv"
    path.write_bytes(content.encode("utf-8"))
    result = ok(cli("bookings", "import", str(path), "-f", "json"))
    assert result.json() == {
        "kind": "bookings",
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "dry_run": False,
        "changes": [],
    }
    rows = db.query(
        "SELECT customer_name, customer_email, notes, status FROM bookings ORDER BY customer_email"
    )
    assert rows == [
        ("Max", "max@example.com", None, "pending"),
        ("Zoë Ångström", "zoe@example.com", 'Bring ID, please\nand the "old" form', "pending"),
    ]
    assert seats(db, slot) == 2
    assert db.query("SELECT from_status, to_status, actor, note FROM booking_events") == [
        (None, "pending", ACTOR, "imported"),
        (None, "pending", ACTOR, "imported"),
    ]
    listed = ok(cli("bookings", "list", "-f", "json")).json()
    assert {b["exchange"] for b in listed} == {"downtown"}
    assert {b["starts_at"] for b in listed} == {"2027-03-15T10:00:00+01:00"}


# 5, 6. Bad rows and bad headers ----------------------------------------------------------------


def test_every_bad_booking_row_is_reported_and_nothing_is_written(
    cli: Any, db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    small(cli, monkeypatch, capacity=1)
    s1, s2, s3, s4 = (
        slot_uuid(db, "2027-03-15T09:00"),
        slot_uuid(db, "2027-03-15T09:30"),
        slot_uuid(db, "2027-03-15T10:00"),
        slot_uuid(db, "2027-03-15T10:30"),
    )
    nowhere, twice = str(uuid.uuid4()), str(uuid.uuid4())
    content = (
        "uuid,slot,customer_name,customer_email,notes,status,created_at\n"
        f',{s1},Ann,ann@example.com,"two\nlines",confirmed,\n'  # lines 2-3: fine
        f",{s2},Bad Date,bd@example.com,,pending,2027-13-45\n"  # 4
        f",{nowhere},Lost,lost@example.com,,pending,\n"  # 5
        f",{s3},Bad Mail,not-an-email,,pending,\n"  # 6
        f"{twice},{s3},Twin A,twa@example.com,,pending,\n"  # 7: fine
        f"{twice},{s4},Twin B,twb@example.com,,pending,\n"  # 8: same uuid as line 7
        f",{s1},Extra,extra@example.com,,pending,\n"  # 9: s1 has 1 seat, line 2 took it
        f",{s1},Gone,gone@example.com,,cancelled,\n"  # 10: fine, holds no seat
    )
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    before = db.snapshot()

    result = cli("bookings", "import", str(path))
    assert result.exit_code == 5, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert result.stderr.splitlines()[0] == (
        "Error: 5 bad rows in the bookings file; nothing was imported"
    )
    found = problems(result.stderr)
    assert [line for line, _ in found] == [4, 5, 6, 8, 9]
    reasons = reasons_by_line(found)
    assert "created_at" in reasons[4]
    assert "2027-13-45" in reasons[4]
    assert nowhere in reasons[5]
    assert "not-an-email" in reasons[6]
    assert "duplicate uuid" in reasons[8]
    assert "line 7" in reasons[8]
    assert "overbook" in reasons[9]
    assert s1 in reasons[9]
    assert db.snapshot() == before

    as_json = cli("bookings", "import", str(path), "--format", "json")
    assert as_json.exit_code == 5
    assert as_json.stdout == ""
    error = json_error(as_json.stderr)
    assert error["message"] == "5 bad rows in the bookings file; nothing was imported"
    assert [(p["line"], p["message"]) for p in error["problems"]] == found
    assert db.snapshot() == before

    # the same file inside a directory import: nothing of the earlier files is kept either
    folder = tmp_path / "dir"
    folder.mkdir()
    (folder / "exchanges.csv").write_text(
        "slug,name,timezone\nharbour,Harbour,America/New_York\n", encoding="utf-8"
    )
    (folder / "bookings.csv").write_bytes(path.read_bytes())
    whole = cli("import", str(folder))
    assert whole.exit_code == 5
    assert str(folder / "bookings.csv") in whole.stderr.splitlines()[0]
    assert [line for line, _ in problems(whole.stderr)] == [4, 5, 6, 8, 9]
    assert db.snapshot() == before


def test_a_missing_file_is_not_found(cli: Any, db: Database, tmp_path: Path) -> None:
    for command in (("bookings",), ("slots",), ("hours",), ("hours", "closures"), ("exchanges",)):
        result = cli(*command, "import", str(tmp_path / "nope.csv"))
        assert result.exit_code == 3, (command, result.stderr)
        assert result.stderr.startswith("Error: ")
        assert "nope.csv" in result.stderr
    (tmp_path / "empty").mkdir()
    assert cli("import", str(tmp_path / "empty")).exit_code == 3


@pytest.mark.parametrize(
    ("command", "header", "named"),
    [
        (
            ("bookings",),
            "slot,customer_name,colour,notes",
            ["unknown columns: colour", "missing required columns: customer_email"],
        ),
        (
            ("bookings",),
            "slot,customer_name,customer_email,notes,notes",
            ["duplicate columns: notes"],
        ),
        (
            ("slots",),
            "exchange,date,start,capacity",
            ["unknown columns: capacity", "max_capacity", "end"],
        ),
        (("hours",), "exchange,opens_at,closes_at,shift", ["shift", "weekday or day"]),
        (("hours", "closures"), "exchange,reason", ["starts_on"]),
        (("exchanges",), "slug,title", ["title", "name"]),
    ],
)
def test_a_bad_header_names_the_columns(
    cli: Any,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    command: tuple[str, ...],
    header: str,
    named: list[str],
) -> None:
    small(cli, monkeypatch)
    cells = len(header.split(","))
    path = tmp_path / "head.csv"
    path.write_text(f"{header}\n" + ",".join(["x"] * cells) + "\n", encoding="utf-8")
    before = db.snapshot()
    result = cli(*command, "import", str(path))
    assert result.exit_code == 5, (result.stdout, result.stderr)
    assert len(result.stderr.splitlines()) == 1
    for words in named:
        assert words in result.stderr, (words, result.stderr)
    error = json_error(cli(*command, "import", str(path), "-f", "json").stderr)
    for words in named:
        assert words in error["message"]
    assert db.snapshot() == before


# 7. Formula neutralisation ----------------------------------------------------------------------

FORMULAS = {
    "+1 call": "'+1 call",
    "-5": "'-5",
    "@x": "'@x",
    "'=already": "''=already",
    "'plain": "'plain",
    "plain": "plain",
}


def test_formula_cells_are_neutralised_on_export_and_restored_on_import(
    cli: Any, db: Database, fresh: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    small(cli, monkeypatch, capacity=10)
    name = '=HYPERLINK("x")'
    made = {
        notes: book(cli, "downtown@2027-03-15T09:00", name, f"c{i}@example.com", f"--notes={notes}")
        for i, notes in enumerate(FORMULAS)
    }
    ok(cli("hours", "closures", "add", "downtown", "2027-03-17", "--reason", "=1+1"))
    ok(cli("export", str(tmp_path / "A")))

    raw = {row["uuid"]: row for row in rows_of(tmp_path / "A" / "bookings.csv")}
    for notes, encoded in FORMULAS.items():
        row = raw[made[notes]["uuid"]]
        assert row["customer_name"] == "'" + name
        assert row["notes"] == encoded
    text_ = (tmp_path / "A" / "bookings.csv").read_text(encoding="utf-8")
    assert ',"\'=HYPERLINK(""x"")",' in text_  # the raw cell, quoted as CSV quotes
    assert [r["reason"] for r in rows_of(tmp_path / "A" / "closures.csv")] == ["'=1+1"]

    # JSON is not for spreadsheets: the values as they are
    listed = ok(cli("bookings", "export", "--as", "json")).json()
    assert {b["notes"] for b in listed} == set(FORMULAS)
    assert {b["customer_name"] for b in listed} == {name}

    # back into the same database: nothing differs
    again = ok(cli("bookings", "import", str(tmp_path / "A" / "bookings.csv"), "-f", "json"))
    assert (again.json()["updated"], again.json()["unchanged"]) == (0, len(FORMULAS))

    # into a fresh one: the original values
    target = fresh()
    ok(cli(*on(target, "import", str(tmp_path / "A"))))
    stored = dict(target.query("SELECT notes, customer_name FROM bookings"))
    assert stored == dict.fromkeys(FORMULAS, name)
    assert target.query("SELECT reason FROM closures") == [("=1+1",)]


@settings(max_examples=300)
@given(
    st.one_of(
        st.text(),
        st.lists(st.sampled_from(["=", "+", "-", "@", "\t", "\r", "'", "a", " ", "\n"])).map(
            "".join
        ),
    )
)
def test_encode_cell_is_reversible_and_never_starts_a_formula(value: str) -> None:
    encoded = encode_cell(value)
    assert decode_cell(encoded) == value
    assert not encoded.startswith(FORMULA_PREFIXES)
    if not value.startswith((*FORMULA_PREFIXES, "'")):
        assert encoded == value  # ordinary text is left alone


# 8. Arbitrary text survives the round trip --------------------------------------------------------

_TRICKY = st.sampled_from(
    ["=", "+", "-", "@", "'", "\t", "\r", "\n", "\r\n", ",", '"', " ", "é", "漢字", "🙂", "\\."]
)
_ANY = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=12)
_TEXT = st.lists(st.one_of(_TRICKY, _ANY), min_size=1, max_size=6).map("".join)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(name=_TEXT.filter(lambda s: s.strip()), notes=_TEXT)
def test_any_name_and_notes_survive_export_import_export(
    cli: Any,
    db: Database,
    fresh: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    name: str,
    notes: str,
) -> None:
    if not db.scalar("SELECT count(*) FROM exchanges"):
        small(cli, monkeypatch, capacity=200)
    n = db.scalar("SELECT count(*) FROM bookings")
    slot = ["downtown@2027-03-15T09:00", "downtown@2027-03-16T10:30"][n % 2]
    made = book(cli, slot, name, f"c{n}@example.com", f"--notes={notes}")
    stored_name, stored_notes = db.query(
        "SELECT customer_name, notes FROM bookings WHERE uuid = :u", u=made["uuid"]
    )[0]
    first, second = tmp_path / f"a{n}", tmp_path / f"b{n}"
    ok(cli("export", str(first)))
    raw = {row["uuid"]: row for row in rows_of(first / "bookings.csv")}[made["uuid"]]
    assert raw["customer_name"] == encode_cell(stored_name)
    assert raw["notes"] == encode_cell(stored_notes or "")

    target = fresh()
    ok(cli(*on(target, "import", str(first))))
    ok(cli(*on(target, "export", str(second))))
    same_files(first, second)
    assert target.query(
        "SELECT customer_name, notes FROM bookings WHERE uuid = :u", u=made["uuid"]
    ) == [(stored_name, stored_notes)]


# 9. Dry runs -----------------------------------------------------------------------------------


def test_a_dry_run_reports_the_counts_and_writes_nothing(
    cli: Any, db: Database, fresh: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    small(cli, monkeypatch)
    ann = book(cli, "downtown@2027-03-15T09:00", "Ann", "ann@example.com")
    book(cli, "downtown@2027-03-15T09:30", "Bob", "bob@example.com")
    ok(cli("hours", "closures", "add", "downtown", "2027-03-17", "--reason", "Inventory"))
    ok(cli("export", str(tmp_path / "A")))

    target = fresh()
    before = target.snapshot()
    result = ok(cli(*on(target, "import", str(tmp_path / "A"), "--dry-run", "-f", "json")))
    assert result.json() == [
        {
            "kind": "exchanges",
            "created": 1,
            "updated": 0,
            "unchanged": 0,
            "dry_run": True,
            "changes": [],
        },
        {
            "kind": "hours",
            "created": 5,
            "updated": 0,
            "unchanged": 0,
            "dry_run": True,
            "changes": [],
        },
        {
            "kind": "closures",
            "created": 1,
            "updated": 0,
            "unchanged": 0,
            "dry_run": True,
            "changes": [],
        },
        {
            "kind": "slots",
            "created": 8,
            "updated": 0,
            "unchanged": 0,
            "dry_run": True,
            "changes": [],
        },
        {
            "kind": "bookings",
            "created": 2,
            "updated": 0,
            "unchanged": 0,
            "dry_run": True,
            "changes": [],
        },
        *(
            {
                "kind": kind,
                "created": 0,
                "updated": 0,
                "unchanged": 0,
                "dry_run": True,
                "changes": [],
            }
            for kind in ("tickets", "waitlist")
        ),
    ]
    assert target.snapshot() == before
    table = ok(cli(*on(target, "import", str(tmp_path / "A"), "--dry-run")))
    assert table.stdout.splitlines() == [
        "Would import exchanges: 1 created, 0 updated, 0 unchanged.",
        "Would import hours: 5 created, 0 updated, 0 unchanged.",
        "Would import closures: 1 created, 0 updated, 0 unchanged.",
        "Would import slots: 8 created, 0 updated, 0 unchanged.",
        "Would import bookings: 2 created, 0 updated, 0 unchanged.",
        "Would import tickets: 0 created, 0 updated, 0 unchanged.",
        "Would import waitlist: 0 created, 0 updated, 0 unchanged.",
        "Dry run: nothing was written.",
    ]
    assert target.snapshot() == before

    # an update and an insert on the source, dry
    path = tmp_path / "A" / "bookings.csv"
    header, rows = header_of(path), rows_of(path)
    rows[0]["status"] = "cancelled"
    first = rows[0]["reference"]
    rows.append(
        dict.fromkeys(header, "")
        | {"slot": ann["slot"], "customer_name": "Cy", "customer_email": "cy@example.com"}
    )
    edited = write_rows(tmp_path / "edited.csv", header, rows)
    before = db.snapshot()
    result = ok(cli("bookings", "import", str(edited), "--dry-run", "-f", "json"))
    assert result.json() == {
        "kind": "bookings",
        "created": 1,
        "updated": 1,
        "unchanged": 1,
        "dry_run": True,
        "changes": [
            {"record": first, "field": "status", "old": "pending", "new": "cancelled"},
            {"record": first, "field": "cancelled_at", "old": None, "new": NOW},
        ],
    }
    assert db.snapshot() == before
    for command, file in (
        (("slots",), "slots.csv"),
        (("hours",), "hours.csv"),
        (("hours", "closures"), "closures.csv"),
        (("exchanges",), "exchanges.csv"),
    ):
        dry = ok(cli(*command, "import", str(tmp_path / "A" / file), "--dry-run", "-f", "json"))
        assert dry.json()["dry_run"] is True
        assert dry.json()["created"] == dry.json()["updated"] == 0
    assert db.snapshot() == before


# 10. Slots -------------------------------------------------------------------------------------


def test_slots_import_places_local_times_across_dst_and_ignores_derived_columns(
    cli: Any, db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    small(cli, monkeypatch)
    # Europe/Berlin moves from UTC+01:00 to UTC+02:00 on Sunday 2027-03-28 at 02:00
    good = tmp_path / "local.csv"
    good.write_text(
        "exchange,date,start,end,max_capacity\n"
        "downtown,2027-03-27,09:00,09:30,3\n"
        "downtown,2027-03-28,09:00,09:30,3\n"
        "downtown,2027-03-28,23:30,24:00,1\n",
        encoding="utf-8",
    )
    result = ok(cli("slots", "import", str(good), "-f", "json"))
    assert result.json() == {
        "kind": "slots",
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "dry_run": False,
        "changes": [],
    }
    out = tmp_path / "dst.csv"
    ok(
        cli(
            "slots",
            "export",
            "downtown",
            "--from",
            "2027-03-27",
            "--to",
            "2027-03-28",
            "-o",
            str(out),
        )
    )
    exported = rows_of(out)
    assert [
        (r["date"], r["start"], r["end"], r["starts_at"], r["ends_at"], r["max_capacity"])
        for r in exported
    ] == [
        ("2027-03-27", "09:00", "09:30", "2027-03-27T09:00:00+01:00", "2027-03-27T09:30:00+01:00", "3"),
        ("2027-03-28", "09:00", "09:30", "2027-03-28T09:00:00+02:00", "2027-03-28T09:30:00+02:00", "3"),
        ("2027-03-28", "23:30", "00:00", "2027-03-28T23:30:00+02:00", "2027-03-29T00:00:00+02:00", "1"),
    ]  # fmt: skip
    assert [datetime.fromisoformat(r["starts_at"]).astimezone(UTC) for r in exported] == [
        datetime(2027, 3, 27, 8, 0, tzinfo=UTC),
        datetime(2027, 3, 28, 7, 0, tzinfo=UTC),
        datetime(2027, 3, 28, 21, 30, tzinfo=UTC),
    ]
    assert {(r["current_bookings"], r["status"]) for r in exported} == {("0", "available")}

    # derived columns are ignored: bogus counters, seats, status and date change nothing
    rows, header = rows_of(out), header_of(out)
    rows[0] |= {"current_bookings": "7", "available_seats": "0", "status": "full"}
    rows[1] |= {"date": "1999-01-01", "start": "01:00", "end": "02:00"}
    bogus = write_rows(tmp_path / "bogus.csv", header, rows)
    assert ok(cli("slots", "import", str(bogus), "-f", "json")).json()["unchanged"] == 3


def test_slots_import_reports_overlaps_duplicate_starts_and_skipped_times(
    cli: Any, db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An overlap with an existing slot, a second row at the same start, a local time
    that DST skips; the good row before them is not reported."""
    small(cli, monkeypatch)
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "exchange,date,start,end,max_capacity\n"
        "downtown,2027-03-18,18:00,18:30,1\n"  # 2: fine
        "downtown,2027-03-15,09:15,09:45,1\n"  # 3: overlaps the 09:00 and 09:30 slots
        "downtown,2027-03-19,18:00,18:30,1\n"  # 4
        "downtown,2027-03-19,18:00,18:30,2\n"  # 5: the same start as line 4
        "downtown,2027-03-28,02:30,03:00,1\n",  # 6: no 02:30 that night
        encoding="utf-8",
    )
    before = db.snapshot()
    result = cli("slots", "import", str(bad))
    assert result.exit_code == 5, result.stderr
    reasons = reasons_by_line(problems(result.stderr))
    assert 2 not in reasons
    assert {3, 5, 6} <= set(reasons)
    assert set(reasons) <= {3, 4, 5, 6}
    assert "overlaps" in reasons[3]
    assert "line 4" in reasons[5]
    assert "same time" in reasons[5]
    assert "02:30" in reasons[6]
    assert "does not exist" in reasons[6]
    assert db.snapshot() == before


def test_slots_import_refuses_a_capacity_below_the_bookings(
    cli: Any, db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    small(cli, monkeypatch)
    existing = slot_uuid(db, "2027-03-15T09:00")
    book(cli, "downtown@2027-03-15T09:00", "Ann", "ann@example.com")
    book(cli, "downtown@2027-03-15T09:00", "Bob", "bob@example.com")
    ok(cli("slots", "export", "downtown", "-o", str(tmp_path / "all.csv")))
    rows, header = rows_of(tmp_path / "all.csv"), header_of(tmp_path / "all.csv")
    line = next(i for i, r in enumerate(rows) if r["uuid"] == existing) + 2
    assert rows[line - 2]["current_bookings"] == "2"
    rows[line - 2]["max_capacity"] = "1"
    lower = write_rows(tmp_path / "lower.csv", header, rows)
    before = db.snapshot()
    result = cli("slots", "import", str(lower))
    assert result.exit_code == 5, result.stderr
    found = problems(result.stderr)
    assert [n for n, _ in found] == [line]
    assert "capacity 1" in found[0][1]
    assert "2 bookings" in found[0][1]
    assert db.snapshot() == before
    # raising it is fine, and keeps the counter
    rows[line - 2]["max_capacity"] = "4"
    raised = write_rows(tmp_path / "raise.csv", header, rows)
    assert ok(cli("slots", "import", str(raised), "-f", "json")).json()["updated"] == 1
    shown = ok(cli("slots", "show", existing, "-f", "json")).json()
    assert (shown["max_capacity"], shown["current_bookings"], shown["available_seats"]) == (
        4,
        2,
        2,
    )


# 11. Hours and closures -------------------------------------------------------------------------


def test_hours_import_refuses_overlaps_and_closures_default_their_end(
    cli: Any, db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SLOTCTL_NOW", NOW)
    ok(cli("exchanges", "add", "harbour", "--name", "Harbour", "--timezone", "America/New_York"))
    bad = tmp_path / "hours.csv"
    bad.write_text(
        "exchange,day,opens_at,closes_at\n"
        "harbour,mon,09:00,12:00\n"  # 2
        "harbour,tue,09:00,10:00\n"  # 3
        "harbour,mon,11:00,13:00\n",  # 4: overlaps line 2
        encoding="utf-8",
    )
    before = db.snapshot()
    result = cli("hours", "import", str(bad))
    assert result.exit_code == 5, result.stderr
    found = problems(result.stderr)
    assert [line for line, _ in found] == [4]
    assert "line 2" in found[0][1]
    assert db.snapshot() == before
    error = json_error(cli("hours", "import", str(bad), "-f", "json").stderr)
    assert error["problems"] == [{"line": 4, "message": found[0][1]}]

    good = tmp_path / "good.csv"
    good.write_text(
        "exchange,weekday,opens_at,closes_at\nharbour,0,09:00,12:00\nharbour,0,13:00,17:00\n"
        "harbour,4,10:00,24:00\n",
        encoding="utf-8",
    )
    assert ok(cli("hours", "import", str(good), "-f", "json")).json()["created"] == 3
    listed = ok(cli("hours", "list", "harbour", "-f", "json")).json()
    assert [(h["weekday"], h["day"], h["opens_at"], h["closes_at"]) for h in listed] == [
        (0, "mon", "09:00", "12:00"),
        (0, "mon", "13:00", "17:00"),
        (4, "fri", "10:00", "24:00"),
    ]
    # a new shift overlapping one already in the database
    clash = tmp_path / "clash.csv"
    clash.write_text("exchange,day,opens_at,closes_at\nharbour,fri,08:00,11:00\n", encoding="utf-8")
    before = db.snapshot()
    result = cli("hours", "import", str(clash))
    assert result.exit_code == 5
    assert [line for line, _ in problems(result.stderr)] == [2]
    assert db.snapshot() == before

    closures = tmp_path / "closures.csv"
    closures.write_text(
        "exchange,starts_on,reason\nharbour,2027-07-05,Independence Day (observed)\n",
        encoding="utf-8",
    )
    assert ok(cli("hours", "closures", "import", str(closures), "-f", "json")).json() == {
        "kind": "closures",
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "dry_run": False,
        "changes": [],
    }
    with_column = tmp_path / "closures2.csv"
    with_column.write_text(
        "exchange,starts_on,ends_on,reason\nharbour,2027-12-24,,Holidays\n"
        "harbour,2027-12-30,2027-12-31,\n",
        encoding="utf-8",
    )
    assert (
        ok(cli("hours", "closures", "import", str(with_column), "-f", "json")).json()["created"]
        == 2
    )
    listed = ok(cli("hours", "closures", "list", "harbour", "-f", "json")).json()
    assert [(c["starts_on"], c["ends_on"], c["reason"]) for c in listed] == [
        ("2027-07-05", "2027-07-05", "Independence Day (observed)"),
        ("2027-12-24", "2027-12-24", "Holidays"),
        ("2027-12-30", "2027-12-31", ""),
    ]
    backwards = tmp_path / "backwards.csv"
    backwards.write_text(
        "exchange,starts_on,ends_on\nharbour,2027-05-02,2027-05-01\nnowhere,2027-05-01,\n",
        encoding="utf-8",
    )
    result = cli("hours", "closures", "import", str(backwards))
    assert result.exit_code == 5
    assert [line for line, _ in problems(result.stderr)] == [2, 3]


# 12. iCalendar ------------------------------------------------------------------------------------


def test_bookings_export_as_icalendar(
    cli: Any, db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from icalendar import Calendar

    monkeypatch.setenv("SLOTCTL_NOW", NOW)
    ok(cli("demo", "-f", "json"))
    result = ok(cli("bookings", "export", "--as", "ics", "-o", str(tmp_path / "f.ics")))
    assert result.stdout == ""
    ok(cli("bookings", "export", "-o", str(tmp_path / "f.csv")))
    bookings = {row["uuid"]: row for row in rows_of(tmp_path / "f.csv")}
    zones = {e["slug"]: e["timezone"] for e in ok(cli("exchanges", "list", "-f", "json")).json()}

    calendar = Calendar.from_ical((tmp_path / "f.ics").read_bytes())
    vevents = [c for c in calendar.walk() if c.name == "VEVENT"]
    assert len(vevents) == len(bookings) > 200
    seen = set()
    used_zones = set()
    for event in vevents:
        uid = str(event["UID"])
        assert uid.endswith("@slotctl")
        booking = bookings[uid.removesuffix("@slotctl")]
        seen.add(uid)
        start, end = event["DTSTART"], event["DTEND"]
        assert start.dt.tzinfo is not None
        assert start.dt == datetime.fromisoformat(booking["starts_at"])
        assert end.dt == datetime.fromisoformat(booking["ends_at"])
        zone = zones[booking["exchange"]]
        assert start.params["TZID"] == zone
        assert end.params["TZID"] == zone
        used_zones.add(zone)
        assert str(event["STATUS"]) == (
            "CANCELLED"
            if booking["status"] == "cancelled"
            else ("TENTATIVE" if booking["status"] == "pending" else "CONFIRMED")
        )
    assert len(seen) == len(bookings)
    assert used_zones == set(zones.values())
    timezones = {str(c["TZID"]) for c in calendar.walk() if c.name == "VTIMEZONE"}
    assert used_zones <= timezones
    assert (
        sum(str(e["STATUS"]) == "CANCELLED" for e in vevents)
        == sum(b["status"] == "cancelled" for b in bookings.values())
        > 0
    )

    # filtered, to stdout: the same events as the CSV of the same filter
    harbour = ok(cli("bookings", "export", "--exchange", "harbour", "--as", "ics"))
    parsed = Calendar.from_ical(harbour.stdout.encode())
    uids = {str(e["UID"]) for e in parsed.walk() if e.name == "VEVENT"}
    assert uids == {f"{u}@slotctl" for u, b in bookings.items() if b["exchange"] == "harbour"}


# 13. Output files and filters -----------------------------------------------------------------------


def test_output_writes_the_file_only_when_the_export_succeeds(
    cli: Any, db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    small(cli, monkeypatch)
    book(cli, "downtown@2027-03-15T09:00", "Ann", "ann@example.com")
    book(cli, "downtown@2027-03-16T09:00", "Bob", "bob@example.com")
    to_stdout = ok(cli("bookings", "export"))
    assert len(rows_of_text(to_stdout.stdout)) == 2
    written = ok(cli("bookings", "export", "--output", str(tmp_path / "out.csv")))
    assert written.stdout == ""
    assert written.stderr == f"Wrote 2 bookings to {tmp_path / 'out.csv'}.\n"
    assert (tmp_path / "out.csv").read_text(encoding="utf-8") == to_stdout.stdout
    # replaced whole
    ok(cli("slots", "export", "-o", str(tmp_path / "out.csv")))
    assert len(rows_of(tmp_path / "out.csv")) == 8
    assert header_of(tmp_path / "out.csv") == SLOT_FIELDS

    # a failing export leaves no file (and no temporary file) and keeps an old one
    missing = cli("slots", "export", "nowhere", "-o", str(tmp_path / "bad.csv"))
    assert missing.exit_code == 3
    assert "nowhere" in missing.stderr
    assert not (tmp_path / "bad.csv").exists()
    (tmp_path / "keep.csv").write_text("old\n", encoding="utf-8")
    missing = cli("bookings", "export", "--exchange", "nowhere", "-o", str(tmp_path / "keep.csv"))
    assert missing.exit_code == 3
    assert (tmp_path / "keep.csv").read_text(encoding="utf-8") == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".csv" or "csv." in p.name) == [
        "keep.csv",
        "out.csv",
    ]
    nowhere = cli("bookings", "export", "-o", str(tmp_path / "no" / "such" / "dir.csv"))
    assert nowhere.exit_code == 3
    assert not (tmp_path / "no").exists()


def test_export_filters_and_json(
    cli: Any, db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SLOTCTL_NOW", NOW)
    ok(cli("demo", "-f", "json"))
    total = db.scalar("SELECT count(*) FROM bookings")
    ok(cli("bookings", "export", "--output", str(tmp_path / "out.csv")))

    # exchanges as JSON: typed values, the exchange fields exactly
    exchanges = ok(cli("exchanges", "export", "--as", "json")).json()
    assert [e["slug"] for e in exchanges] == ["airport", "downtown", "harbour"]
    assert list(exchanges[0]) == [
        "uuid",
        "slug",
        "name",
        "timezone",
        "is_active",
        "min_notice_minutes",
        "max_advance_days",
        "checkin_early_minutes",
        "late_after_minutes",
        "created_at",
        "updated_at",
    ]
    assert [
        exchanges[0][key] for key in ("is_active", "checkin_early_minutes", "late_after_minutes")
    ] == [True, 30, 10]
    assert isinstance(exchanges[0]["min_notice_minutes"], int)
    hours = ok(cli("hours", "export", "harbour", "--as", "json")).json()
    assert hours
    assert {h["exchange"] for h in hours} == {"harbour"}
    assert list(hours[0]) == ["uuid", "exchange", "weekday", "day", "opens_at", "closes_at"]

    # slots of one exchange and dates (local)
    ok(
        cli(
            "slots",
            "export",
            "harbour",
            "--from",
            "2027-03-15",
            "--to",
            "2027-03-16",
            "-o",
            str(tmp_path / "s.csv"),
        )
    )
    slots = rows_of(tmp_path / "s.csv")
    expected = db.scalar(
        "SELECT count(*) FROM time_slots s JOIN exchanges e ON e.id = s.exchange_id"
        " WHERE e.slug = 'harbour' AND s.date >= :a AND s.date <= :b",
        a=date(2027, 3, 15),
        b=date(2027, 3, 16),
    )
    assert len(slots) == expected > 0
    assert {s["exchange"] for s in slots} == {"harbour"}
    assert {s["date"] for s in slots} == {"2027-03-15", "2027-03-16"}
    assert all(s["starts_at"][:10] == s["date"] for s in slots)
    assert all(s["starts_at"].endswith("-04:00") for s in slots)  # New York, after 14 March
    starts = [datetime.fromisoformat(s["starts_at"]) for s in slots]
    assert starts == sorted(starts)

    # slots as JSON: numbers and booleans typed, the slot fields exactly
    as_json = ok(
        cli(
            "slots",
            "export",
            "harbour",
            "--from",
            "2027-03-15",
            "--to",
            "2027-03-16",
            "--as",
            "json",
        )
    ).json()
    assert [list(s) for s in as_json] == [SLOT_FIELDS] * len(slots)
    assert [s["uuid"] for s in as_json] == [s["uuid"] for s in slots]
    first = as_json[0]
    assert isinstance(first["max_capacity"], int)
    assert isinstance(first["current_bookings"], int)
    assert isinstance(first["is_available"], bool)

    # bookings as JSON: a list of exactly the booking fields, the CSV's values un-neutralised
    listed = ok(cli("bookings", "export", "--as", "json")).json()
    assert isinstance(listed, list)
    assert [list(b) for b in listed] == [BOOKING_FIELDS] * total
    csv_rows = rows_of(tmp_path / "out.csv")
    for record, row in zip(listed, csv_rows, strict=True):
        for key in BOOKING_FIELDS:
            assert ("" if record[key] is None else record[key]) == decode_cell(row[key]), key

    # bookings of one exchange and dates
    some = ok(
        cli(
            "bookings",
            "export",
            "--exchange",
            "airport",
            "--from",
            "2027-03-01",
            "--to",
            "2027-03-05",
            "--as",
            "json",
        )
    ).json()
    assert some
    assert {b["exchange"] for b in some} == {"airport"}
    assert {b["starts_at"][:10] for b in some} <= {f"2027-03-0{d}" for d in range(1, 6)}
    assert len(some) == sum(
        1
        for row in csv_rows
        if row["exchange"] == "airport" and "2027-03-01" <= row["starts_at"][:10] <= "2027-03-05"
    )

    # every exchange, by each one's local dates
    window = ok(
        cli("bookings", "export", "--from", "2027-03-14", "--to", "2027-03-15", "--as", "json")
    ).json()
    assert [b["uuid"] for b in window] == [
        row["uuid"] for row in csv_rows if "2027-03-14" <= row["starts_at"][:10] <= "2027-03-15"
    ]
    assert {b["exchange"] for b in window} == {"airport", "downtown", "harbour"}
    all_slots = rows_of_text(
        ok(cli("slots", "export", "--from", "2027-03-14", "--to", "2027-03-15")).stdout
    )
    assert {s["date"] for s in all_slots} == {"2027-03-14", "2027-03-15"}
    assert len(all_slots) == db.scalar(
        "SELECT count(*) FROM time_slots WHERE date >= :a AND date <= :b",
        a=date(2027, 3, 14),
        b=date(2027, 3, 15),
    )

    # closures by date
    inside = ok(
        cli("hours", "closures", "export", "--from", "2027-03-01", "--to", "2027-03-31")
    ).stdout
    outside = ok(cli("hours", "closures", "export", "--from", "2027-06-01")).stdout
    assert len(rows_of_text(inside)) == db.scalar("SELECT count(*) FROM closures")
    assert outside == "uuid,exchange,starts_on,ends_on,reason\n"


# 14. Standard input ---------------------------------------------------------------------------------


def test_import_reads_standard_input(
    cli: Any, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    small(cli, monkeypatch)
    slot = slot_uuid(db, "2027-03-16T09:00")
    content = (
        "slot,customer_name,customer_email,status\n"
        f"{slot},Ann,ann@example.com,confirmed\n"
        f"{slot},Bob,bob@example.com,\n"
    )
    result = ok(cli("bookings", "import", "-", "-f", "json", input=content))
    assert result.json() == {
        "kind": "bookings",
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "dry_run": False,
        "changes": [],
    }
    assert db.query("SELECT customer_name, status FROM bookings ORDER BY customer_name") == [
        ("Ann", "confirmed"),
        ("Bob", "pending"),
    ]
    assert seats(db, slot) == 2
    ok(
        cli(
            "exchanges",
            "import",
            "-",
            input="slug,name,timezone\nharbour,Harbour,America/New_York\n",
        )
    )
    assert db.query("SELECT slug, timezone FROM exchanges ORDER BY slug") == [
        ("downtown", "Europe/Berlin"),
        ("harbour", "America/New_York"),
    ]


def test_a_good_row_repeating_the_uuid_of_a_bad_row_is_reported_too(
    cli: Any, db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Duplicates are found even when the other copy of the uuid failed for another reason."""
    small(cli, monkeypatch)
    slot = slot_uuid(db, "2027-03-15T09:00")
    same, other = str(uuid.uuid4()), str(uuid.uuid4())
    path = tmp_path / "bookings.csv"
    path.write_text(
        "uuid,slot,customer_name,customer_email\n"
        f"{same},{slot},Ann,not-an-email\n"  # line 2: bad email
        f"{same},{slot},Bob,bob@example.com\n"  # line 3: otherwise good
        f"{other},{uuid.uuid4()},Cy,cy@example.com\n"  # line 4: unknown slot
        f"{other},{slot},Dee,dee@example.com\n",  # line 5: otherwise good
        encoding="utf-8",
    )
    before = db.snapshot()
    result = cli("bookings", "import", str(path))
    assert result.exit_code == 5, result.stderr
    found = reasons_by_line(problems(result.stderr))
    assert sorted(found) == [2, 3, 4, 5]
    assert "email" in found[2]
    assert f"duplicate uuid {same} (also on line 2)" in found[3]
    assert "no slot" in found[4]
    assert f"duplicate uuid {other} (also on line 4)" in found[5]
    assert db.snapshot() == before


def test_blank_reference_and_status_cells_keep_what_the_booking_has(
    cli: Any, db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An empty cell is not an instruction: a booking keeps its reference and its (final)
    status, and importing the file twice changes nothing."""
    small(cli, monkeypatch)
    made = book(cli, "downtown@2027-03-15T09:00", "Ann", "ann@example.com", "--confirm")
    ok(cli("bookings", "cancel", made["reference"]))
    exported = tmp_path / "bookings.csv"
    ok(cli("bookings", "export", "-o", str(exported)))
    rows = rows_of(exported)
    rows[0]["reference"] = ""
    rows[0]["status"] = ""
    edited = write_rows(tmp_path / "edited.csv", header_of(exported), rows)
    before = db.snapshot()
    for _ in range(2):
        result = ok(cli("bookings", "import", str(edited), "-f", "json")).json()
        assert (result["updated"], result["unchanged"]) == (0, 1), result
    assert db.snapshot() == before
    assert db.query("SELECT reference, status FROM bookings") == [(made["reference"], "cancelled")]


def test_a_new_booking_with_a_blank_status_is_pending(
    cli: Any, db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    small(cli, monkeypatch)
    slot = slot_uuid(db, "2027-03-15T09:00")
    path = tmp_path / "bookings.csv"
    path.write_text(
        f"slot,customer_name,customer_email,status\n{slot},Ann,ann@example.com,\n",
        encoding="utf-8",
    )
    ok(cli("bookings", "import", str(path)))
    assert db.query("SELECT status FROM bookings") == [("pending",)]
    assert seats(db, slot) == 1


def test_a_nul_character_is_a_bad_row_not_a_crash(
    cli: Any, db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    small(cli, monkeypatch)
    slot = slot_uuid(db, "2027-03-15T09:00")
    path = tmp_path / "bookings.csv"
    path.write_text(
        f'slot,customer_name,customer_email,notes\n{slot},Ann,ann@example.com,"a\x00b"\n',
        encoding="utf-8",
    )
    result = cli("bookings", "import", str(path))
    assert result.exit_code == 5, result.stderr
    assert problems(result.stderr) == [(2, "contains a NUL character")]
    assert db.scalar("SELECT count(*) FROM bookings") == 0


def test_swapping_two_slots_in_one_file_is_a_conflict_not_a_crash(
    cli: Any, db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The final state is valid but the database checks uniqueness row by row: exit 4,
    with the database's reason, and nothing changes."""
    small(cli, monkeypatch)
    exported = tmp_path / "slots.csv"
    ok(cli("slots", "export", "-o", str(exported)))
    rows = rows_of(exported)[:2]
    for key in ("starts_at", "ends_at"):
        rows[0][key], rows[1][key] = rows[1][key], rows[0][key]
    columns = ["uuid", "exchange", "starts_at", "ends_at", "max_capacity"]
    edited = write_rows(
        tmp_path / "swap.csv", columns, [{c: row[c] for c in columns} for row in rows]
    )
    before = db.snapshot()
    result = cli("slots", "import", str(edited))
    assert result.exit_code == 4, (result.exit_code, result.stderr)
    assert result.stderr.startswith("Error: the file conflicts with the current data")
    assert db.snapshot() == before


def test_csv_listings_quote_a_carriage_return(
    cli: Any, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    small(cli, monkeypatch)
    book(cli, "downtown@2027-03-15T09:00", "Ann", "ann@example.com", "--notes=cr\rx")
    listed = ok(cli("bookings", "list", "-f", "csv")).stdout
    rows = list(csv.reader(io.StringIO(listed, newline="")))
    assert len(rows) == 2
    assert len(rows[1]) == len(rows[0])
    assert rows[1][rows[0].index("notes")] == "cr\rx"


def test_whole_database_commands_refuse_a_bad_folder(
    cli: Any, db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    small(cli, monkeypatch)
    a_file = tmp_path / "afile"
    a_file.write_text("x", encoding="utf-8")
    result = cli("export", str(a_file))
    assert result.exit_code == 2, result.stderr
    assert result.stderr == f"Error: {a_file} is a file, not a folder\n"
    assert a_file.read_text(encoding="utf-8") == "x"
    (tmp_path / "empty").mkdir()
    for folder in ("empty", "missing"):
        result = cli("import", str(tmp_path / folder))
        assert result.exit_code == 3, result.stderr
        assert "exchanges.csv" in result.stderr


def test_hours_import_takes_one_day_by_name_and_refuses_the_rest(
    cli: Any, db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    small(cli, monkeypatch)
    ok(cli("hours", "clear", "downtown"))
    path = tmp_path / "hours.csv"
    path.write_text(
        "exchange,day,opens_at,closes_at\n"
        "downtown,monday,09:00,12:00\n"
        "downtown,Sat,10:00,14:00\n"
        "downtown,monkey,09:00,12:00\n"
        "downtown,mon-fri,13:00,17:00\n",
        encoding="utf-8",
    )
    result = cli("hours", "import", str(path))
    assert result.exit_code == 5, result.stderr
    assert [line for line, _ in problems(result.stderr)] == [4, 5]
    assert db.scalar("SELECT count(*) FROM business_hours") == 0
    path.write_text(
        "exchange,day,opens_at,closes_at\ndowntown,monday,09:00,12:00\ndowntown,Sat,10:00,14:00\n",
        encoding="utf-8",
    )
    ok(cli("hours", "import", str(path)))
    assert sorted(db.query("SELECT weekday, opens_at FROM business_hours")) == [
        (0, "09:00"),
        (5, "10:00"),
    ]


def test_a_file_over_more_slots_than_the_slot_cache_holds_imports_whole(
    cli: Any, db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The cache of slot ids is emptied when full; a batch still finds every slot."""
    from slotctl.transfer import booking_rows

    small(cli, monkeypatch)
    # in slot order A, B, B, C: the second batch (B, C) holds a slot the cache knows
    for n, local in enumerate(("09:00", "09:30", "09:30", "10:00")):
        book(cli, f"downtown@2027-03-15T{local}", "Ann Lee", f"ann{n}@example.com")
    path = tmp_path / "bookings.csv"
    ok(cli("bookings", "export", "-o", str(path)))
    db.execute("DELETE FROM booking_events")
    db.execute("DELETE FROM bookings")
    db.execute("UPDATE time_slots SET current_bookings = 0")
    monkeypatch.setattr(booking_rows, "SLOT_CACHE", 1)
    monkeypatch.setattr(booking_rows, "BATCH", 2)
    result = ok(cli("bookings", "import", str(path)))
    assert "4 created" in result.stdout
    assert db.scalar("SELECT count(*) FROM bookings") == 4
