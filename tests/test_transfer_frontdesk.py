"""Export and import of the front desk (issue 13), on SQLite and PostgreSQL: tickets
(``queue export|import``) and waitlist entries (``waitlist export|import``), the new
columns of exchanges (``checkin_early_minutes``, ``late_after_minutes``) and bookings
(``arrived_at``, ``called_at``, ``counter``, status ``arrived``), and the whole
database with ``tickets.csv`` and ``waitlist.csv`` (sheets ``tickets``, ``waitlist``).

The morning (Europe/Berlin, UTC+01:00; 30-minute slots of 2 seats, 09:00-11:00 on
Monday 15 and Tuesday 16 March 2027). At 09:50 (``T0``): Ann (pending) and Bob
(confirmed) hold the 10:00 slot, Cy and Dan (confirmed) the 10:30 one, so Monday is
full; Eve waits for 10:30-11:00 on Monday, Fay for Saturday 20 (no slots), Gus waited
and was removed. Ann and Bob check in (A001, A002), Hal walks in (W001, his phone
given), counter 1 calls and serves him; Dan cancels, and his seat goes to Eve (a
pending booking, actor ``waitlist``). At 10:05 (``T1``), counter ``02`` calls Ann
(A001) and Cy checks in (A003).
"""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import create_engine, text

from slotctl.db.engine import make_engine
from slotctl.db.migrate import upgrade
from slotctl.db.models import Base
from tests.conftest import Database, drop_pg_schema, new_pg_schema, require_postgres
from tests.test_xlsx import resave

T0 = "2027-03-15T08:50:00+00:00"  # 09:50 in Berlin
T1 = "2027-03-15T09:05:00+00:00"  # 10:05 in Berlin
T1_LOCAL = "2027-03-15T10:05:00+01:00"
ACTOR = "desk-importer"
FILES = ("exchanges", "hours", "closures", "slots", "bookings", "tickets", "waitlist")
TICKET_FIELDS = [
    "uuid", "number", "exchange", "kind", "booking", "customer_name", "status",
    "arrived_at", "called_at", "served_at", "counter", "due_at", "waited_minutes",
]  # fmt: skip
ENTRY_FIELDS = [
    "uuid", "exchange", "customer_name", "customer_email", "customer_phone", "from", "to",
    "between", "status", "booking", "created_at",
]  # fmt: skip
# The bookings export before the front desk: a file written then still imports.
OLD_BOOKING_FIELDS = [
    "uuid", "reference", "exchange", "slot", "starts_at", "ends_at", "customer_name",
    "customer_email", "customer_phone", "notes", "status", "created_at", "updated_at",
    "confirmed_at", "completed_at", "cancelled_at", "cancellation_reason",
]  # fmt: skip
PROBLEM = re.compile(r"^  line (\d+): (.+)$")


# Helpers ----------------------------------------------------------------------------------


def ok(result: Any) -> Any:
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    return result


def at(monkeypatch: pytest.MonkeyPatch, instant: str) -> None:
    monkeypatch.setenv("SLOTCTL_NOW", instant)


def rows_of(text: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


def write(path: Path, header: list[str], rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def problems(stderr: str) -> dict[int, str]:
    """The ``  line N: reason`` lines under the ``Error:`` line, by line."""
    lines = stderr.splitlines()
    assert lines, stderr
    assert lines[0].startswith("Error: "), stderr
    found = {}
    for shown in lines[1:]:
        match = PROBLEM.match(shown)
        assert match, stderr
        found[int(match.group(1))] = match.group(2)
    return found


def refused(cli: Any, db: Database, command: tuple[str, ...], path: Path) -> dict[int, str]:
    """``command FILE`` as a table, as JSON and dry: exit 5 each time, the same lines,
    nothing written. The reasons by line."""
    before = db.snapshot()
    result = cli(*command, str(path))
    assert result.exit_code == 5, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    found = problems(result.stderr)
    assert f"{len(found)} bad row" in result.stderr.splitlines()[0], result.stderr
    as_json = cli(*command, str(path), "-f", "json")
    assert as_json.exit_code == 5
    error = json.loads(as_json.stderr)["error"]
    assert error["code"] == "invalid_file"
    assert sorted({p["line"] for p in error["problems"]}) == sorted(found)
    assert cli(*command, str(path), "--dry-run").exit_code == 5
    assert db.snapshot() == before
    return found


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


@pytest.fixture
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str], Database]:
    """``fresh(kind)``: an empty migrated database (PostgreSQL: the module's other schema,
    emptied)."""
    made = iter(range(1_000_000))

    def make(kind: str) -> Database:
        if kind == "postgres":
            url = request.getfixturevalue("pg_other_url")
            engine = create_engine(url)
            tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
            with engine.begin() as conn:
                conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            engine.dispose()
            return Database("postgres", url)
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / f"fresh-{next(made)}.db"
        path.write_bytes(template.read_bytes())
        return Database("sqlite", f"sqlite:///{path}")

    return make


def on(target: Database, *args: str) -> tuple[str, ...]:
    return ("--database-url", target.url, *args)


def reference(cli: Any, slot: str, name: str, *extra: str) -> str:
    email = f"{name.lower()}@example.com"
    made = ok(cli("bookings", "create", slot, f"--name={name}", f"--email={email}", *extra,
                  "-f", "json"))  # fmt: skip
    return str(made.json()["reference"])


@pytest.fixture
def desk(cli: Any, db: Database, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The morning of the module's docstring; the clock left at T1. Returns the
    bookings' references and the waitlist entries' uuids by first name."""
    at(monkeypatch, T0)
    monkeypatch.setenv("SLOTCTL_ACTOR", ACTOR)
    ok(cli("exchanges", "add", "downtown", "--name", "Downtown", "--timezone", "Europe/Berlin"))
    ok(cli("hours", "set", "downtown", "mon-fri 09:00-11:00"))
    ok(cli("slots", "generate", "downtown", "--from", "2027-03-15", "--days", "2",
           "--capacity", "2"))  # fmt: skip
    names = {
        "ann": reference(cli, "downtown@2027-03-15T10:00", "Ann", "--phone", "030123"),
        "bob": reference(cli, "downtown@2027-03-15T10:00", "Bob", "--confirm"),
        "cy": reference(cli, "downtown@2027-03-15T10:30", "Cy", "--confirm"),
        "dan": reference(cli, "downtown@2027-03-15T10:30", "Dan", "--confirm"),
    }

    def wait(name: str, *window: str) -> str:
        added = ok(cli("waitlist", "add", "downtown", "--name", name.title(),
                       "--email", f"{name}@example.com", *window, "-f", "json"))  # fmt: skip
        return str(added.json()["uuid"])

    names["eve"] = wait("eve", "--date", "2027-03-15", "--between", "10:30-11:00")
    names["fay"] = wait("fay", "--date", "2027-03-20")
    names["gus"] = wait("gus", "--date", "2027-03-21")
    ok(cli("waitlist", "remove", names["gus"]))
    ok(cli("bookings", "checkin", names["ann"], names["bob"]))
    ok(cli("queue", "walkin", "downtown", "--name", "Hal", "--phone", "030 1234"))
    assert (
        ok(cli("queue", "next", "downtown", "--counter", "1", "-f", "json")).json()["number"]
        == "W001"
    )
    ok(cli("queue", "done", "W001"))
    ok(cli("bookings", "cancel", names["dan"], "--reason", "called"))
    eve = ok(cli("waitlist", "list", "--status", "all", "-f", "json")).json()[0]
    assert (eve["customer_name"], eve["status"]) == ("Eve", "booked")
    names["eve_booking"] = eve["booking"]
    at(monkeypatch, T1)
    assert (
        ok(cli("queue", "next", "downtown", "--counter", "02", "-f", "json")).json()["number"]
        == "A001"
    )
    ok(cli("bookings", "checkin", names["cy"]))
    return names


def tickets_by_number(cli: Any) -> dict[str, dict[str, Any]]:
    exported = ok(cli("queue", "export", "--as", "json")).json()
    return {t["number"]: t for t in exported}


# 1. Round trips -----------------------------------------------------------------------------


def test_the_whole_database_with_the_front_desk_round_trips_unchanged(
    cli: Any, db: Database, fresh: Any, desk: dict[str, str], tmp_path: Path
) -> None:
    """Checked-in bookings, served, called and waiting tickets, a walk-in, booked, waiting
    and removed waitlist entries: exported, imported into an empty database of each kind,
    exported again, byte for byte; imported twice, nothing changes; doctor is clean."""
    exported = ok(cli("export", str(tmp_path / "A")))
    assert sorted(p.name for p in (tmp_path / "A").iterdir()) == sorted(f"{k}.csv" for k in FILES)
    assert f"Wrote 4 tickets to {tmp_path / 'A' / 'tickets.csv'}." in exported.stderr
    assert f"Wrote 3 waitlist entries to {tmp_path / 'A' / 'waitlist.csv'}." in exported.stderr
    header, tickets = rows_of((tmp_path / "A" / "tickets.csv").read_text(encoding="utf-8"))
    assert header == TICKET_FIELDS
    assert [(t["number"], t["status"], t["counter"]) for t in tickets] == [
        ("A001", "called", "02"),
        ("A002", "waiting", ""),
        ("W001", "served", "1"),
        ("A003", "waiting", ""),
    ]
    assert tickets[0]["arrived_at"] == "2027-03-15T09:50:00+01:00"  # the exchange's offset
    assert tickets[0]["called_at"] == T1_LOCAL
    assert tickets[0]["due_at"] == "2027-03-15T10:00:00+01:00"
    assert [t["waited_minutes"] for t in tickets] == ["15", "15", "0", "0"]
    header, entries = rows_of((tmp_path / "A" / "waitlist.csv").read_text(encoding="utf-8"))
    assert header == ENTRY_FIELDS
    assert [(e["customer_name"], e["status"], e["booking"], e["between"]) for e in entries] == [
        ("Eve", "booked", desk["eve_booking"], "10:30-11:00"),
        ("Fay", "waiting", "", ""),
        ("Gus", "removed", "", ""),
    ]
    header, bookings = rows_of((tmp_path / "A" / "bookings.csv").read_text(encoding="utf-8"))
    assert header[-3:] == ["arrived_at", "called_at", "counter"]
    ann = next(b for b in bookings if b["reference"] == desk["ann"])
    assert (ann["status"], ann["arrived_at"], ann["called_at"], ann["counter"]) == (
        "arrived",
        T0,
        T1,
        "02",
    )

    for kind in (db.kind, "sqlite" if db.kind == "postgres" else "postgres"):
        target = fresh(kind)
        imported = ok(cli(*on(target, "import", str(tmp_path / "A"), "-f", "json"))).json()
        assert [(r["kind"], r["created"], r["updated"]) for r in imported][-2:] == [
            ("tickets", 4, 0),
            ("waitlist", 3, 0),
        ]
        ok(cli(*on(target, "export", str(tmp_path / f"B-{kind}"))))
        for name in FILES:
            assert (tmp_path / "A" / f"{name}.csv").read_bytes() == (
                tmp_path / f"B-{kind}" / f"{name}.csv"
            ).read_bytes(), (kind, name)
        # what the records derive is derived again: days, fairness, an appointment's contact
        derived = (
            "SELECT t.uuid, t.day, t.kind, t.seq, t.on_time, t.customer_email FROM tickets t"
            " ORDER BY t.uuid"
        )

        def plain(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
            return [(u, str(day), k, q, bool(t), e) for u, day, k, q, t, e in rows]

        assert plain(target.query(derived)) == plain(db.query(derived))
        again = ok(cli(*on(target, "import", str(tmp_path / "A"), "-f", "json"))).json()
        assert all(r["created"] == r["updated"] == 0 for r in again), again
        assert ok(cli(*on(target, "doctor"))).stdout == "All invariants hold.\n"
        # the served ticket's customer called again: the restored queue calls the same
        queue = ok(cli(*on(target, "queue", "list", "downtown", "-f", "json"))).json()
        assert [t["number"] for t in queue] == ["A002", "A003"]


def test_the_workbook_has_the_front_desk_sheets_typed_and_round_trips(
    cli: Any, db: Database, fresh: Any, desk: dict[str, str], tmp_path: Path
) -> None:
    ok(cli("export", str(tmp_path / "all.xlsx")))
    ok(cli("export", str(tmp_path / "A")))
    book = load_workbook(tmp_path / "all.xlsx")
    assert book.sheetnames == list(FILES)
    tickets = list(book["tickets"].iter_rows(values_only=True))
    assert list(tickets[0]) == TICKET_FIELDS
    first = dict(zip(TICKET_FIELDS, tickets[1], strict=True))
    assert first["waited_minutes"] == 15  # a number
    assert first["arrived_at"] == "2027-03-15T09:50:00+01:00"  # an instant is text
    assert first["counter"] == "02"  # text stays text
    entries = list(book["waitlist"].iter_rows(values_only=True))
    eve = dict(zip(ENTRY_FIELDS, entries[1], strict=True))
    assert eve["from"] == datetime(2027, 3, 15)  # a date cell
    exchange = dict(zip(*list(book["exchanges"].iter_rows(values_only=True))[:2], strict=True))
    assert (exchange["checkin_early_minutes"], exchange["late_after_minutes"]) == (30, 10)

    target = fresh(db.kind)
    ok(cli(*on(target, "import", str(tmp_path / "all.xlsx"))))
    ok(cli(*on(target, "export", str(tmp_path / "B"))))
    for name in FILES:
        assert (tmp_path / "A" / f"{name}.csv").read_bytes() == (
            tmp_path / "B" / f"{name}.csv"
        ).read_bytes(), name


def test_the_front_desk_sheets_resaved_by_libreoffice_import_with_no_change(
    cli: Any, db: Database, desk: dict[str, str], tmp_path: Path
) -> None:
    exported = tmp_path / "all.xlsx"
    ok(cli("export", str(exported)))
    before = db.snapshot()
    result = ok(cli("import", str(resave(exported, tmp_path))))
    assert "Imported tickets: 0 created, 0 updated, 4 unchanged." in result.stdout
    assert "Imported waitlist: 0 created, 0 updated, 3 unchanged." in result.stdout
    assert db.snapshot() == before


def test_each_export_format_imports_back_unchanged_and_filters_select(
    cli: Any, db: Database, desk: dict[str, str], tmp_path: Path
) -> None:
    ok(cli("exchanges", "add", "uptown", "--name", "Uptown"))
    for group, count in (("queue", 4), ("waitlist", 3)):
        for fmt in ("csv", "json", "xlsx"):
            path = tmp_path / f"{group}.{fmt}"
            ok(cli(group, "export", "--as", fmt, "-o", str(path)))
            before = db.snapshot()
            result = ok(cli(group, "import", str(path), "-f", "json")).json()
            assert (result["created"], result["updated"], result["unchanged"]) == (0, 0, count)
            assert db.snapshot() == before
    as_json = ok(cli("queue", "export", "--as", "json")).json()
    assert isinstance(as_json[0]["waited_minutes"], int)
    assert as_json[2]["booking"] is None  # the walk-in
    # tickets by the local day of arrival, entries by a window overlapping the dates
    assert ok(cli("queue", "export", "downtown", "--from", "2027-03-16")).stdout == (
        ",".join(TICKET_FIELDS) + "\n"
    )
    assert len(rows_of(ok(cli("queue", "export", "downtown", "--to", "2027-03-15")).stdout)[1]) == 4
    assert rows_of(ok(cli("queue", "export", "uptown")).stdout)[1] == []
    chosen = ok(cli("waitlist", "export", "--from", "2027-03-16", "--to", "2027-03-20")).stdout
    assert [e["customer_name"] for e in rows_of(chosen)[1]] == ["Fay"]
    assert [
        e["customer_name"] for e in rows_of(ok(cli("waitlist", "export", "uptown")).stdout)[1]
    ] == []


# 2. Updates, listed field by field ---------------------------------------------------------


def test_edited_exports_update_tickets_and_entries_and_list_each_change(
    cli: Any, db: Database, desk: dict[str, str], tmp_path: Path
) -> None:
    header, tickets = rows_of(ok(cli("queue", "export")).stdout)
    by_number = {t["number"]: t for t in tickets}
    by_number["A002"] |= {"status": "called", "called_at": T1_LOCAL, "counter": "3"}
    by_number["W001"]["customer_name"] = "Hal Jones"
    by_number["A003"]["waited_minutes"] = "999"  # derived: ignored
    tickets_file = write(tmp_path / "tickets.csv", header, tickets)
    entries_header, entries = rows_of(ok(cli("waitlist", "export")).stdout)
    entries[1] |= {"between": "09:00-12:00", "status": "removed"}  # Fay
    entries_file = write(tmp_path / "waitlist.csv", entries_header, entries)

    before = db.snapshot()
    dry = ok(cli("queue", "import", str(tickets_file), "--dry-run", "-f", "json")).json()
    assert (dry["updated"], dry["unchanged"], dry["dry_run"]) == (2, 2, True)
    assert dry["changes"] == [
        {"record": "downtown/A002 2027-03-15", "field": "status", "old": "waiting",
         "new": "called"},
        {"record": "downtown/A002 2027-03-15", "field": "called_at", "old": None,
         "new": T1_LOCAL},
        {"record": "downtown/A002 2027-03-15", "field": "counter", "old": None, "new": "3"},
        {"record": "downtown/W001 2027-03-15", "field": "customer_name", "old": "Hal",
         "new": "Hal Jones"},
    ]  # fmt: skip
    entries_dry = ok(cli("waitlist", "import", str(entries_file), "--dry-run", "-f", "json"))
    assert entries_dry.json()["changes"] == [
        {"record": desk["fay"], "field": "between", "old": None, "new": "09:00-12:00"},
        {"record": desk["fay"], "field": "status", "old": "waiting", "new": "removed"},
    ]
    assert db.snapshot() == before

    table = ok(cli("queue", "import", str(tickets_file)))
    assert table.stdout.startswith("Imported tickets: 0 created, 2 updated, 2 unchanged.\n")
    ok(cli("waitlist", "import", str(entries_file)))
    after = tickets_by_number(cli)
    assert (after["A002"]["status"], after["A002"]["counter"]) == ("called", "3")
    assert after["W001"]["customer_name"] == "Hal Jones"
    fay = next(e for e in ok(cli("waitlist", "list", "--status", "all", "-f", "json")).json()
               if e["uuid"] == desk["fay"])  # fmt: skip
    assert (fay["between"], fay["status"]) == ("09:00-12:00", "removed")
    again = ok(cli("queue", "import", str(tickets_file), "-f", "json")).json()
    assert (again["updated"], again["unchanged"]) == (0, 4)
    # the called ticket is no longer waiting: the queue has only Cy's
    queue = ok(cli("queue", "list", "downtown", "-f", "json")).json()
    assert [t["number"] for t in queue] == ["A003"]


def test_new_rows_without_uuid_or_optional_columns_are_inserted_and_derived(
    cli: Any, db: Database, desk: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A ticket file of the required columns and a booking: the kind from the number, the
    day from the arrival in the exchange's time, on time from the slot's start and the
    exchange's late_after, an appointment's due_at and contact from its booking."""
    ok(cli("exchanges", "update", "downtown", "--late-after", "5m"))
    header = ["number", "exchange", "customer_name", "arrived_at", "booking", "status"]
    rows = [
        {"number": "w2", "exchange": "downtown", "customer_name": "Ida",
         "arrived_at": "2027-03-15T23:30:00+00:00", "booking": "", "status": ""},
        {"number": "A004", "exchange": "downtown", "customer_name": "Eve",
         "arrived_at": "2027-03-15T09:36:00+00:00", "booking": desk["eve_booking"],
         "status": "left"},
    ]  # fmt: skip
    result = ok(cli("queue", "import", str(write(tmp_path / "t.csv", header, rows)), "-f", "json"))
    assert (result.json()["created"], result.json()["changes"]) == (2, [])
    stored = db.query(
        "SELECT kind, seq, day, status, on_time, due_at IS NULL, customer_email FROM tickets"
        " WHERE customer_name IN ('Ida', 'Eve') ORDER BY seq"
    )
    day = {str(row[2]) for row in stored}
    assert day == {"2027-03-16", "2027-03-15"}  # 23:30 UTC is Tuesday in Berlin
    assert [(r[0], r[1], r[3], bool(r[4]), bool(r[5]), r[6]) for r in stored] == [
        ("walkin", 2, "waiting", False, True, None),
        ("appointment", 4, "left", False, False, "eve@example.com"),  # 6 min late at 10:30
    ]
    exported = tickets_by_number(cli)
    assert exported["A004"]["due_at"] == "2027-03-15T10:30:00+01:00"
    assert exported["W002"]["waited_minutes"] == 0  # it has not arrived yet at T1


# 3. Bad rows -------------------------------------------------------------------------------


def ticket_row(**cells: str) -> dict[str, str]:
    return dict.fromkeys(TICKET_FIELDS, "") | {
        "exchange": "downtown",
        "customer_name": "Someone",
        "status": "waiting",
        "arrived_at": "2027-03-15T09:00:00+00:00",
        **cells,
    }


def test_every_bad_ticket_row_is_reported_with_its_line_and_nothing_is_written(
    cli: Any, db: Database, desk: dict[str, str], tmp_path: Path
) -> None:
    ok(cli("exchanges", "add", "uptown", "--name", "Uptown"))
    ann, dan = desk["ann"], desk["dan"]
    rows = [
        ticket_row(number="X1", arrived_at="soon"),  # 2
        ticket_row(number="A005", kind="walkin", booking=ann),  # 3
        ticket_row(number="W003", exchange="nowhere"),  # 4
        ticket_row(number="A006", booking="BK-NOPE"),  # 5
        ticket_row(number="W004", booking=ann),  # 6
        ticket_row(number="A007"),  # 7
        ticket_row(number="A001", exchange="uptown", booking=ann),  # 8
        ticket_row(number="W005", status="gone"),  # 9
        ticket_row(number="W006", status="called", called_at=T1),  # 10
        ticket_row(number="W007", served_at=T1),  # 11
        ticket_row(number="W008"),  # 12: fine
        ticket_row(number="W008"),  # 13
        ticket_row(number="A001", booking=desk["bob"], status="served", served_at=T1),  # 14
        ticket_row(number="A008", booking=dan),  # 15
        ticket_row(number="W009", customer_name=" "),  # 16
        ticket_row(number="W010", status="left", counter="x" * 51),  # 17
        ticket_row(number="W011", due_at=T1),  # 18
        ticket_row(number="W012"),  # 19: fine
    ]
    found = refused(cli, db, ("queue", "import"), write(tmp_path / "t.csv", TICKET_FIELDS, rows))
    assert sorted(found) == [n for n in range(2, 19) if n != 12]
    expected = {
        2: r"number: 'X1' is not a ticket number.*; arrived_at.*ISO 8601",
        3: r"kind walkin does not match number A005",
        4: r"no exchange 'nowhere'",
        5: r"no booking 'BK-NOPE'",
        6: r"a walk-in ticket has no booking",
        7: r"an appointment ticket needs its booking",
        8: rf"booking {ann} is at another exchange",
        9: r"unknown status 'gone'",
        10: r"a called ticket needs counter",
        11: r"a waiting ticket has no served_at",
        13: r"duplicate ticket downtown/W008 2027-03-15 \(also on line 12\)",
        14: r"ticket downtown/A001 2027-03-15 exists with another uuid",
        15: rf"a waiting ticket's booking must be arrived \({dan} is cancelled\)",
        16: r"customer_name cannot be empty",
        17: r"counter is longer than 50 characters",
        18: r"a walk-in ticket has no due_at",
    }
    for line, pattern in expected.items():
        assert re.search(pattern, found[line]), (line, found[line])


def test_every_bad_waitlist_row_is_reported_with_its_line_and_nothing_is_written(
    cli: Any, db: Database, desk: dict[str, str], tmp_path: Path
) -> None:
    def entry(**cells: str) -> dict[str, str]:
        return dict.fromkeys(ENTRY_FIELDS, "") | {
            "exchange": "downtown",
            "customer_name": "Jo",
            "customer_email": "jo@example.com",
            "from": "2027-03-16",
            "to": "2027-03-16",
            **cells,
        }

    kept = str(uuid.uuid4())
    rows = [
        entry(customer_email="not-an-email"),  # 2
        entry(**{"from": "2027-03-20", "to": "2027-03-19"}),  # 3
        entry(between="11:00-10:00"),  # 4
        entry(exchange="nowhere"),  # 5
        entry(status="booked"),  # 6
        entry(status="waiting", booking=desk["eve_booking"]),  # 7
        entry(status="booked", booking="BK-NOPE"),  # 8
        entry(status="pending"),  # 9
        entry(created_at="later"),  # 10
        entry(customer_phone="call me"),  # 11
        entry(uuid=kept),  # 12: fine
        entry(uuid=kept, customer_name="Jo Again"),  # 13
        entry(**{"to": ""}),  # 14
    ]
    found = refused(cli, db, ("waitlist", "import"), write(tmp_path / "w.csv", ENTRY_FIELDS, rows))
    assert sorted(found) == [n for n in range(2, 15) if n != 12]
    expected = {
        2: r"invalid email 'not-an-email'",
        3: r"to is before from",
        4: r"between: invalid time range '11:00-10:00'",
        5: r"no exchange 'nowhere'",
        6: r"a booked entry needs its booking",
        7: r"a waiting entry has no booking",
        8: r"no booking 'BK-NOPE'",
        9: r"unknown status 'pending'",
        10: r"created_at.*ISO 8601",
        11: r"invalid phone 'call me'",
        13: rf"duplicate uuid {kept} \(also on line 12\)",
        14: r"to: invalid date ''",
    }
    for line, pattern in expected.items():
        assert re.search(pattern, found[line]), (line, found[line])


@pytest.mark.parametrize(
    ("group", "columns", "missing"),
    [
        ("queue", ["number", "exchange", "status"], "customer_name; arrived_at"),
        ("waitlist", ["exchange", "customer_name", "from", "colour"], "customer_email; to"),
    ],
)
def test_a_front_desk_file_without_its_required_columns_names_them(
    cli: Any, db: Database, tmp_path: Path, group: str, columns: list[str], missing: str
) -> None:
    path = write(tmp_path / "f.csv", columns, [])
    result = cli(group, "import", str(path))
    assert result.exit_code == 5, result.stderr
    assert f"missing required columns: {missing}" in result.stderr
    if "colour" in columns:
        assert "unknown columns: colour" in result.stderr


def test_a_counter_that_lost_its_leading_zero_is_refused_unless_accepted(
    cli: Any, db: Database, desk: dict[str, str], tmp_path: Path
) -> None:
    header, tickets = rows_of(ok(cli("queue", "export")).stdout)
    tickets[0]["counter"] = "2"  # A001's "02", as a spreadsheet reads it
    path = write(tmp_path / "t.csv", header, tickets)
    found = refused(cli, db, ("queue", "import"), path)
    assert re.search(r"counter 02 → 2 lost its leading zeros", found[2]), found
    ok(cli("queue", "import", str(path), "--accept-changes"))
    assert tickets_by_number(cli)["A001"]["counter"] == "2"


# 4. The new columns of exchanges and bookings -------------------------------------------------


def test_exchanges_carry_their_front_desk_settings_and_old_files_keep_them(
    cli: Any, db: Database, desk: dict[str, str], tmp_path: Path
) -> None:
    header, rows = rows_of(ok(cli("exchanges", "export")).stdout)
    assert header[6:9] == ["max_advance_days", "checkin_early_minutes", "late_after_minutes"]
    rows[0] |= {"checkin_early_minutes": "45", "late_after_minutes": "0"}
    path = write(tmp_path / "e.csv", header, rows)
    result = ok(cli("exchanges", "import", str(path), "-f", "json")).json()
    assert result["changes"] == [
        {"record": "downtown", "field": "checkin_early_minutes", "old": 30, "new": 45},
        {"record": "downtown", "field": "late_after_minutes", "old": 10, "new": 0},
    ]
    _, rows = rows_of(ok(cli("exchanges", "export")).stdout)
    old = [c for c in header if c not in ("checkin_early_minutes", "late_after_minutes")]
    path = write(tmp_path / "old.csv", old, [{c: rows[0][c] for c in old}])
    assert ok(cli("exchanges", "import", str(path), "-f", "json")).json()["unchanged"] == 1
    new = write(tmp_path / "new.csv", ["slug", "name"], [{"slug": "harbour", "name": "Harbour"}])
    ok(cli("exchanges", "import", str(new)))
    shown = ok(cli("exchanges", "show", "harbour", "-f", "json")).json()
    assert (shown["checkin_early_minutes"], shown["late_after_minutes"]) == (30, 10)
    bad = [rows[0] | {"checkin_early_minutes": "-1", "late_after_minutes": "1441"}]
    found = refused(cli, db, ("exchanges", "import"), write(tmp_path / "bad.csv", header, bad))
    assert re.search(r"checkin_early_minutes.*; late_after_minutes", found[2]), found


def test_bookings_carry_check_ins_and_an_old_file_keeps_them(
    cli: Any, db: Database, desk: dict[str, str], tmp_path: Path
) -> None:
    before = db.snapshot()
    header, rows = rows_of(ok(cli("bookings", "export")).stdout)
    old = write(tmp_path / "old.csv", OLD_BOOKING_FIELDS,
                [{c: row[c] for c in OLD_BOOKING_FIELDS} for row in rows])  # fmt: skip
    result = ok(cli("bookings", "import", str(old), "-f", "json")).json()
    assert (result["updated"], result["unchanged"]) == (0, len(rows))
    assert db.snapshot() == before
    by_reference = {row["reference"]: row for row in rows}
    by_reference[desk["ann"]]["counter"] = "3"
    path = write(tmp_path / "b.csv", header, rows)
    result = ok(cli("bookings", "import", str(path), "-f", "json")).json()
    assert result["changes"] == [
        {"record": desk["ann"], "field": "counter", "old": "02", "new": "3"}
    ]


def test_status_changes_by_import_check_in_and_take_the_ticket_along(
    cli: Any, db: Database, desk: dict[str, str], tmp_path: Path
) -> None:
    """Bob (arrived, waiting A002) completed and Cy (arrived, waiting A003) cancelled by a
    file: their tickets leave the queue as with the commands (served, left). Eve
    (pending) arrives by the file: confirmed and arrived now, two events, no ticket.
    Ann (arrived) back to confirmed is a bad row."""
    header, rows = rows_of(ok(cli("bookings", "export")).stdout)
    by_reference = {row["reference"]: row for row in rows}
    by_reference[desk["bob"]]["status"] = "completed"
    by_reference[desk["cy"]]["status"] = "cancelled"
    by_reference[desk["eve_booking"]]["status"] = "arrived"
    path = write(tmp_path / "b.csv", header, rows)
    bad = write(tmp_path / "bad.csv", header,
                [row | {"status": "confirmed"} if row["reference"] == desk["ann"] else row
                 for row in rows])  # fmt: skip
    found = refused(cli, db, ("bookings", "import"), bad)
    assert list(found) == [2 + [r["reference"] for r in rows].index(desk["ann"])]
    assert next(iter(found.values())).startswith("cannot go from arrived to confirmed")
    ok(cli("bookings", "import", str(path)))

    def show(ref: str) -> dict[str, Any]:
        return dict(ok(cli("bookings", "show", ref, "-f", "json")).json())

    bob, cy, eve = show(desk["bob"]), show(desk["cy"]), show(desk["eve_booking"])
    assert (bob["status"], bob["completed_at"]) == ("completed", T1)
    assert (cy["status"], cy["cancelled_at"]) == ("cancelled", T1)
    assert (eve["status"], eve["confirmed_at"], eve["arrived_at"]) == ("arrived", T1, T1)
    assert [(e["from_status"], e["to_status"], e["actor"]) for e in eve["history"][1:]] == [
        ("pending", "arrived", ACTOR)
    ]
    tickets = tickets_by_number(cli)
    assert (tickets["A002"]["status"], tickets["A002"]["served_at"]) == ("served", T1_LOCAL)
    assert tickets["A003"]["status"] == "left"
    assert "A004" not in tickets  # an import issues no ticket
    assert ok(cli("queue", "list", "downtown", "-f", "json")).json() == []
    assert ok(cli("doctor")).stdout == "All invariants hold.\n"


def test_a_new_arrived_booking_needs_its_arrival_when_the_file_has_the_column(
    cli: Any, db: Database, desk: dict[str, str], tmp_path: Path
) -> None:
    slot = json.loads(ok(cli("slots", "list", "downtown", "--from", "2027-03-16", "-f",
                             "json")).stdout)[0]["uuid"]  # fmt: skip
    base = {"slot": slot, "customer_name": "Kim", "customer_email": "kim@example.com",
            "status": "arrived", "confirmed_at": T0}  # fmt: skip
    header = [*base, "arrived_at"]
    found = refused(cli, db, ("bookings", "import"),
                    write(tmp_path / "a.csv", header, [base | {"arrived_at": ""}]))  # fmt: skip
    assert found == {
        2: "a arrived booking needs arrived_at (its timestamps must agree with its status)"
    }
    ok(cli("bookings", "import", str(write(tmp_path / "b.csv", list(base), [base]))))
    kim = next(b for b in ok(cli("bookings", "list", "-f", "json")).json()
               if b["customer_name"] == "Kim")  # fmt: skip
    assert (kim["status"], kim["confirmed_at"], kim["arrived_at"]) == ("arrived", T0, T1)
