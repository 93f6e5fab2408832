"""A bad row of an import is reported once, on its own line, with every reason it is bad
(issue 11, item 7), on SQLite and PostgreSQL.

``line N: REASON; REASON; ...``: the reasons of the row's cells in the order of the
record's columns (a rule over several cells after them), then those the whole-file
checks find (duplicates, overlaps, capacity...). The count of bad rows stays a count
of rows; the JSON error has one ``{"line", "message"}`` per row; nothing is written.

The expected reasons are derived independently of the code that joins them: each
broken cell's reason is what the import reports for a row with that one cell broken
(the behaviour before this change), and the explicit cases check the words.

The clock is frozen at Wednesday 2027-03-10 10:00 UTC; ``downtown`` (Europe/Berlin) is
open Mon-Fri 09:00-11:00 with 30-minute slots of 2 seats on Monday 15 and Tuesday 16
March.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Database

NOW = "2027-03-10T10:00:00+00:00"
PROBLEM = re.compile(r"^  line (\d+): (.+)$")
COMMANDS = {
    "exchanges": ("exchanges", "import"),
    "hours": ("hours", "import"),
    "closures": ("hours", "closures", "import"),
    "slots": ("slots", "import"),
    "bookings": ("bookings", "import"),
}


# Helpers --------------------------------------------------------------------------------


def ok(result: Any) -> Any:
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    return result


@pytest.fixture
def slots(cli: Any, db: Database, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The world of the module's docstring; the uuids of its 8 slots, by start."""
    monkeypatch.setenv("SLOTCTL_NOW", NOW)
    ok(cli("exchanges", "add", "downtown", "--name", "Downtown", "--timezone", "Europe/Berlin"))
    ok(cli("hours", "set", "downtown", "mon-fri 09:00-11:00"))
    ok(cli("slots", "generate", "downtown", "--from", "2027-03-15", "--days", "2"))
    listed = ok(cli("slots", "list", "downtown", "--limit", "0", "-f", "json")).json()
    assert len(listed) == 8
    return [slot["uuid"] for slot in sorted(listed, key=lambda slot: slot["starts_at"])]


def csv_text(header: list[str], rows: list[dict[str, str]]) -> str:
    """A CSV file (cells here never need quoting)."""
    lines = [",".join(header)]
    for row in rows:
        assert not any(c in v for v in row.values() for c in ',"\n'), row
        lines.append(",".join(row.get(column, "") for column in header))
    return "\n".join(lines) + "\n"


def listed(stderr: str) -> list[tuple[int, str]]:
    """The ``  line N: reason`` lines under the ``Error:`` line."""
    lines = stderr.splitlines()
    assert lines, stderr
    assert lines[0].startswith("Error: "), stderr
    found = [PROBLEM.match(line) for line in lines[1:]]
    assert all(found), stderr
    return [(int(m.group(1)), m.group(2)) for m in found if m]


def refused(
    cli: Any, db: Database, kind: str, path: Path, *, json_too: bool = True
) -> dict[int, str]:
    """Import ``path``: exit 5, one line per bad row, the count right, nothing written
    (as a table, as JSON with the same problems, and as a dry run). The reasons by line."""
    before = db.snapshot()
    result = cli(*COMMANDS[kind], str(path))
    assert result.exit_code == 5, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    found = listed(result.stderr)
    lines = [line for line, _ in found]
    assert lines == sorted(set(lines)), result.stderr  # one line per row, in line order
    count = len(lines)
    assert result.stderr.splitlines()[0] == (
        f"Error: {count} bad row{'' if count == 1 else 's'} in the {kind} file;"
        " nothing was imported"
    )
    assert db.snapshot() == before
    if json_too:
        as_json = cli(*COMMANDS[kind], str(path), "--format", "json")
        assert as_json.exit_code == 5, (as_json.exit_code, as_json.stderr)
        assert as_json.stdout == ""
        (text,) = as_json.stderr.splitlines()
        error = json.loads(text)["error"]
        assert error["code"] == "invalid_file"
        assert error["message"] == result.stderr.splitlines()[0].removeprefix("Error: ")
        assert [(p["line"], p["message"]) for p in error["problems"]] == found
        dry = cli(*COMMANDS[kind], str(path), "--dry-run")
        assert dry.exit_code == 5, dry.stderr
        assert dry.stderr == result.stderr
        assert db.snapshot() == before
    return dict(found)


# The record types: a good row, and a bad value for each cell -----------------------------


@dataclass
class Kind:
    header: list[str]
    good: Callable[[list[str]], dict[str, str]]  # slot uuids -> a good row
    broken: dict[str, str]  # column -> a value that breaks that cell alone


KINDS: dict[str, Kind] = {
    "exchanges": Kind(
        ["uuid", "slug", "name", "timezone", "is_active", "min_notice_minutes", "max_advance_days"],
        lambda _: {
            "slug": "harbour",
            "name": "Harbour",
            "timezone": "America/New_York",
            "is_active": "true",
            "min_notice_minutes": "30",
            "max_advance_days": "60",
        },
        {
            "uuid": "not-a-uuid",
            "slug": "Bad Slug",
            "name": " ",
            "timezone": "Mars/Base",
            "is_active": "perhaps",
            "min_notice_minutes": "-5",
            "max_advance_days": "soon",
        },
    ),
    "hours": Kind(
        ["uuid", "exchange", "weekday", "day", "opens_at", "closes_at"],
        lambda _: {
            "exchange": "downtown",
            "weekday": "5",
            "opens_at": "12:00",
            "closes_at": "13:00",
        },
        {
            "uuid": "nope",
            "exchange": "ghost",
            "weekday": "9",
            "opens_at": "25:00",
            "closes_at": "1pm",
        },
    ),
    "closures": Kind(
        ["uuid", "exchange", "starts_on", "ends_on", "reason"],
        lambda _: {
            "exchange": "downtown",
            "starts_on": "2027-05-01",
            "ends_on": "2027-05-02",
            "reason": "Holiday",
        },
        {
            "uuid": "nope",
            "exchange": "ghost",
            "starts_on": "2027-02-30",
            "ends_on": "someday",
            "reason": "r" * 201,
        },
    ),
    "slots": Kind(
        ["uuid", "exchange", "date", "start", "end", "max_capacity", "is_available"],
        lambda _: {
            "exchange": "downtown",
            "date": "2027-03-20",
            "start": "14:00",
            "end": "14:30",
            "max_capacity": "3",
            "is_available": "true",
        },
        {
            "uuid": "nope",
            "exchange": "ghost",
            "date": "2027-02-30",
            "start": "25:00",
            "end": "2:3",
            "max_capacity": "0",
            "is_available": "maybe",
        },
    ),
    "bookings": Kind(
        [
            "uuid",
            "reference",
            "slot",
            "customer_name",
            "customer_email",
            "customer_phone",
            "notes",
            "status",
            "created_at",
            "cancellation_reason",
        ],
        lambda slots: {
            "slot": slots[4],
            "customer_name": "Bob Baker",
            "customer_email": "bob@example.com",
            "customer_phone": "+49 30 1234",
            "notes": "call ahead",
            "status": "pending",
        },
        {
            "uuid": "nope",
            "reference": "bad ref!",
            "slot": "zz",
            "customer_name": " ",
            "customer_email": "x",
            "customer_phone": "12",
            "notes": "n" * 2001,
            "status": "confirmd",
            "created_at": "2027-13-01",
            "cancellation_reason": "r" * 201,
        },
    ),
}


def good_first_row(kind: str, slots: list[str]) -> dict[str, str]:
    """A good row other than the template (line 2 of every file here)."""
    row = KINDS[kind].good(slots)
    if kind == "exchanges":
        row["slug"], row["name"] = "uptown", "Uptown"
    elif kind == "hours":
        row["weekday"] = "6"
    elif kind == "closures":
        row["starts_on"] = row["ends_on"] = "2027-06-01"
    elif kind == "slots":
        row["start"], row["end"] = "12:00", "12:30"
    else:
        row["slot"], row["customer_email"] = slots[5], "ann@example.com"
    return row


def file_with(kind: str, slots: list[str], path: Path, broken: set[str]) -> Path:
    """A good row (line 2), then the template with the ``broken`` cells (line 3)."""
    spec = KINDS[kind]
    bad = {**spec.good(slots), **{column: spec.broken[column] for column in broken}}
    path.write_text(csv_text(spec.header, [good_first_row(kind, slots), bad]), encoding="utf-8")
    return path


def single_reasons(
    cli: Any, db: Database, kind: str, slots: list[str], tmp: Path
) -> dict[str, str]:
    """Each broken cell's reason, as an import of a row with that one cell broken gives it."""
    reasons = {}
    for column in KINDS[kind].broken:
        path = file_with(kind, slots, tmp / f"{kind}-{column}.csv", {column})
        found = refused(cli, db, kind, path, json_too=False)
        assert list(found) == [3], (column, found)
        reasons[column] = found[3]
    return reasons


# 1. Every record type: several broken cells, one line with every reason -----------------------


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_row_with_several_bad_cells_reports_them_all_on_its_line(
    cli: Any, db: Database, slots: list[str], tmp_path: Path, kind: str
) -> None:
    """Two rows with two and three bad cells between good rows: ``2 bad rows``, each row
    on one line with each of its reasons, in the order of the columns; JSON the same."""
    spec = KINDS[kind]
    columns = [c for c in spec.header if c in spec.broken]
    three, two = columns[-3:], columns[1:3]
    rows = [
        good_first_row(kind, slots),  # 2
        {**spec.good(slots), **{c: spec.broken[c] for c in three}},  # 3
        {**spec.good(slots), **{c: spec.broken[c] for c in two}},  # 4
    ]
    path = tmp_path / f"{kind}.csv"
    path.write_text(csv_text(spec.header, rows), encoding="utf-8")
    found = refused(cli, db, kind, path)
    assert sorted(found) == [3, 4]
    alone = single_reasons(cli, db, kind, slots, tmp_path)
    assert found[3] == "; ".join(alone[c] for c in three)
    assert found[4] == "; ".join(alone[c] for c in two)
    for line, columns in ((3, three), (4, two)):
        for column in columns:  # each broken value is named (free text: its rule)
            value = spec.broken[column].strip()
            assert (value if 0 < len(value) < 40 else column) in found[line], (column, found)

    # slotctl import DIR: the same lines under the file's name
    folder = tmp_path / "dir"
    folder.mkdir()
    (folder / f"{kind}.csv").write_bytes(path.read_bytes())
    before = db.snapshot()
    whole = cli("import", str(folder))
    assert whole.exit_code == 5, whole.stderr
    assert whole.stderr.splitlines()[0] == (
        f"Error: {folder / f'{kind}.csv'}: 2 bad rows in the {kind} file; nothing was imported"
    )
    assert listed(whole.stderr) == sorted(found.items())
    assert db.snapshot() == before


def test_the_issue_example_bad_email_phone_and_status(
    cli: Any, db: Database, slots: list[str], tmp_path: Path
) -> None:
    path = tmp_path / "bookings.csv"
    path.write_text(
        "slot,customer_name,customer_email,customer_phone,status\n"
        f"{slots[0]},Ann,ann@example.com,,pending\n"
        f"{slots[1]},Bo,bo@example.com,,pending\n"
        f"{slots[2]},Cy,cy@example.com,,pending\n"
        f"{slots[3]},Dee,x,12,confirmd\n",
        encoding="utf-8",
    )
    found = refused(cli, db, "bookings", path)
    assert list(found) == [5]
    reasons = found[5].split("; ")
    assert len(reasons) == 3, found
    assert reasons[0].startswith("invalid email 'x'")
    assert reasons[1] == "invalid phone '12': at least 3 digits"
    assert reasons[2].startswith("unknown status 'confirmd'")


def test_rules_over_several_cells_join_the_cells_reasons(
    cli: Any, db: Database, slots: list[str], tmp_path: Path
) -> None:
    """A rule over several cells is checked when those cells are good, after them."""
    cases = {
        "slots": (
            "exchange,starts_at,ends_at,max_capacity\n"
            "downtown,2027-05-01T10:00:30Z,2027-05-01T09:00:00Z,0\n",
            [
                "the slot must end after it starts",
                "slot times must be whole minutes",
                "max_capacity: 0 is out of range",
            ],
        ),
        "hours": (
            "uuid,exchange,weekday,day,opens_at,closes_at\nnope,downtown,5,mon,13:00,12:00\n",
            [
                "invalid uuid 'nope'",
                "weekday 5 is sat, but day is 'mon'",
                "opens_at must be before closes_at",
            ],
        ),
        "closures": (
            "exchange,starts_on,ends_on,reason\nghost,2027-05-02,2027-05-01," + "r" * 201 + "\n",
            ["no exchange 'ghost'", "ends_on is before starts_on", "reason is longer than 200"],
        ),
    }
    for kind, (content, expected) in cases.items():
        path = tmp_path / f"{kind}.csv"
        path.write_text(content, encoding="utf-8")
        found = refused(cli, db, kind, path)
        assert list(found) == [2], (kind, found)
        reasons = found[2].split("; ")
        assert len(reasons) == len(expected), (kind, found)
        for reason, start in zip(reasons, expected, strict=True):
            assert reason.startswith(start), (kind, found)


# 2. Any set of broken cells: exactly those reasons ----------------------------------------------


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
@pytest.mark.parametrize("kind", list(KINDS))
def test_any_set_of_broken_cells_reports_exactly_their_reasons(
    cli: Any, db: Database, slots: list[str], tmp_path: Path, kind: str, data: st.DataObject
) -> None:
    spec = KINDS[kind]
    alone_path = tmp_path / "alone.json"
    if not alone_path.exists():  # once per test (the world stays: every import fails)
        alone_path.write_text(json.dumps(single_reasons(cli, db, kind, slots, tmp_path)))
    alone = json.loads(alone_path.read_text())
    broken = data.draw(st.sets(st.sampled_from(sorted(spec.broken)), min_size=2))
    path = file_with(kind, slots, tmp_path / "bad.csv", broken)
    found = refused(cli, db, kind, path, json_too=False)
    assert found == {3: "; ".join(alone[c] for c in spec.header if c in broken)}


# 3. The whole-file checks join the row's line ------------------------------------------------


def test_later_checks_of_bookings_join_the_row_line(
    cli: Any, db: Database, slots: list[str], tmp_path: Path
) -> None:
    """A duplicate uuid, a second active booking of a customer and an overbooked slot (each
    its own pass over the staged rows), and a bad row's uuid repeated: one line each."""
    ok(cli("slots", "capacity", "downtown", "--from", "2027-03-15", "--to", "2027-03-15",
           "--set", "1"))  # fmt: skip
    same, other = str(uuid.uuid4()), str(uuid.uuid4())
    path = tmp_path / "bookings.csv"
    path.write_text(
        "uuid,slot,customer_name,customer_email,customer_phone,status\n"
        f"{same},{slots[0]},Ann,ann@example.com,,confirmed\n"  # 2: fine
        f"{same},{slots[0]},Ann,ann@example.com,,confirmed\n"  # 3: three passes
        f"{other},{slots[4]},Bo,bo@example,,pending\n"  # 4: bad email
        f"{other},{slots[5]},Bo,bo@example.com,12,pendng\n",  # 5: and the uuid of line 4
        encoding="utf-8",
    )
    found = refused(cli, db, "bookings", path)
    assert sorted(found) == [3, 4, 5]
    three = found[3].split("; ")
    assert f"duplicate uuid {same} (also on line 2)" in three
    assert "ann@example.com already holds an active booking for this slot (line 2)" in three
    assert any(reason.startswith(f"would overbook slot {slots[0]}") for reason in three)
    assert len(three) == 3, found
    assert found[4].startswith("invalid email 'bo@example'")
    assert "; " not in found[4]
    five = found[5].split("; ")
    assert five[0] == "invalid phone '12': at least 3 digits"
    assert five[1].startswith("unknown status 'pendng'")
    assert five[2] == f"duplicate uuid {other} (also on line 4)"
    assert len(five) == 3, found


def test_later_checks_of_slots_join_the_row_line(
    cli: Any, db: Database, slots: list[str], tmp_path: Path
) -> None:
    twice = str(uuid.uuid4())
    path = tmp_path / "slots.csv"
    path.write_text(
        "uuid,exchange,date,start,end,max_capacity\n"
        f"{twice},downtown,2027-03-20,12:00,13:00,1\n"  # 2: overlapped by line 3
        f"{twice},downtown,2027-03-20,12:00,12:30,1\n",  # 3: uuid, start and overlap
        encoding="utf-8",
    )
    found = refused(cli, db, "slots", path)
    assert sorted(found) == [2, 3]
    assert found[2] == "overlaps another slot of its exchange"
    assert sorted(found[3].split("; ")) == sorted(
        [
            f"duplicate uuid {twice} (also on line 2)",
            "another row starts at the same time (line 2)",
            "overlaps another slot of its exchange",
        ]
    )


def test_later_checks_of_exchanges_join_the_row_line(
    cli: Any, db: Database, slots: list[str], tmp_path: Path
) -> None:
    ok(cli("exchanges", "add", "harbour", "--name", "Harbour", "--timezone", "Europe/Berlin"))
    downtown = db.scalar("SELECT uuid FROM exchanges WHERE slug = 'downtown'")
    harbour = db.scalar("SELECT uuid FROM exchanges WHERE slug = 'harbour'")
    path = tmp_path / "exchanges.csv"
    path.write_text(
        f"uuid,slug,name,timezone\n{downtown},harbour,Downtown,America/New_York\n",
        encoding="utf-8",
    )
    found = refused(cli, db, "exchanges", path)
    assert found == {
        2: f"exchange 'harbour' exists with another uuid ({harbour});"
        " downtown has slots: its timezone cannot change"
    }


# 4. Many bad rows: the count is exact, the first are listed whole ------------------------------


def test_more_bad_rows_than_are_listed(
    cli: Any, db: Database, slots: list[str], tmp_path: Path
) -> None:
    rows = "".join(f"{slots[0]},C{n},c{n},pendng\n" for n in range(1_005))
    path = tmp_path / "bookings.csv"
    path.write_text("slot,customer_name,customer_email,status\n" + rows, encoding="utf-8")
    before = db.snapshot()
    result = cli("bookings", "import", str(path))
    assert result.exit_code == 5, result.stderr
    assert result.stderr.splitlines()[0] == (
        "Error: 1,005 bad rows in the bookings file; nothing was imported"
        " (the first 1,000 are listed)"
    )
    found = listed(result.stderr)
    assert [line for line, _ in found] == list(range(2, 1_002))
    for line, reason in found:
        email, status = reason.split("; ")
        assert email.startswith(f"invalid email 'c{line - 2}'")
        assert status.startswith("unknown status 'pendng'")
    assert db.snapshot() == before


# 5. The fast parse and the second look agree -------------------------------------------------


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_the_fast_parse_fails_exactly_when_the_second_look_finds_a_reason(
    db: Database, data: st.DataObject
) -> None:
    """The bookings and slots parsers stop at a row's first bad cell; ``reasons`` looks at
    every cell with the same methods: a row fails iff it has a reason, and the reason the
    fast parse gives is one of them. Checked for the drawn row, and for each of its cells
    alone in an otherwise good row (so that every cell's check is exercised)."""
    from sqlalchemy.orm import Session

    from slotctl.db.models import Exchange
    from slotctl.errors import InvalidValue
    from slotctl.tabular import Row
    from slotctl.transfer.booking_rows import STAGE, _Parser
    from slotctl.transfer.slots import _SLOT_STAGE, _SlotParser
    from slotctl.transfer.staging import Stage

    now = datetime(2027, 3, 10, 10, tzinfo=UTC)
    kind = data.draw(st.sampled_from(["bookings", "slots"]))
    spec = KINDS[kind]
    template = spec.good([str(uuid.UUID(int=n)) for n in range(8)])
    good = {column: template.get(column, "") for column in spec.header}
    extra = {  # more values, good and bad, for the cells the templates leave alone
        "uuid": ["", str(uuid.UUID(int=9)), "NOT-A-UUID", "{" + str(uuid.UUID(int=9)) + "}"],
        "start": ["02:30", "24:00", "09:00"],
        "end": ["24:00", "02:45", "13:59"],
        "date": ["2027-03-28", "9999-12-31", "1800-01-01"],
        "created_at": [
            "",
            "2027-03-01T10:00:00Z",
            "2027-03-01T10:00:00",
            "2027-03-01T10:00:00.5+00:00",
        ],
        "status": ["", "Confirmed", "no-show", "cancelled"],
        "reference": ["", "AB-12", "-nope"],
        "customer_email": ["ann@example.com", "Ann@Example.COM", "ann@", "ann@localhost"],
    }
    cells = {
        column: data.draw(
            st.sampled_from([good[column], spec.broken[column], *extra.get(column, [])]),
            label=column,
        )
        for column in spec.header
    }
    variants = [cells, *({**good, column: cells[column]} for column in spec.header)]
    engine = db.engine()
    try:
        with Session(engine) as session:
            if kind == "bookings":
                stage = Stage(session.connection(), "import_bookings", STAGE)
                booking = _Parser(spec.header, stage, now)

                def parse(values: dict[str, str]) -> Any:
                    return booking(2, [values[c] for c in spec.header])

                def reasons(values: dict[str, str]) -> list[str]:
                    return booking.reasons([values[c] for c in spec.header])

            else:
                exchanges = {"downtown": Exchange(id=1, slug="downtown", timezone="Europe/Berlin")}
                stage = Stage(session.connection(), "import_slots", _SLOT_STAGE)
                slot = _SlotParser(stage, exchanges, now)

                def parse(values: dict[str, str]) -> Any:
                    return slot(Row(2, values))

                def reasons(values: dict[str, str]) -> list[str]:
                    return slot.reasons(Row(2, values))

            for values in variants:
                found = reasons(values)
                if found:
                    with pytest.raises(InvalidValue) as raised:
                        parse(values)
                    assert raised.value.message in found, (values, raised.value.message, found)
                    assert len(found) == len(set(found))
                else:
                    parse(values)
            session.rollback()
    finally:
        engine.dispose()


def test_the_rows_listed_past_the_limit_are_the_first_of_the_file() -> None:
    """Whole-file checks report rows out of line order: past the limit, the rows listed
    are still the file's first bad rows, each with all of its reasons; the count is exact."""
    from slotctl.errors import InvalidFile
    from slotctl.transfer.cells import Problems

    problems = Problems("slots")
    for line in range(2_500, 1_000, -1):  # a later pass, last line first
        problems.add(line, "overlaps another slot of its exchange")
    for line in range(10, 20):
        problems.add(line, "invalid uuid 'x'")
        problems.add(line, "overlaps another slot of its exchange")
        problems.add(line, "invalid uuid 'x'")  # once only
    with pytest.raises(InvalidFile) as raised:
        problems.raise_if_any()
    assert raised.value.message == (
        "1,510 bad rows in the slots file; nothing was imported (the first 1,000 are listed)"
    )
    shown = raised.value.problems
    assert [line for line, _ in shown] == [*range(10, 20), *range(1_001, 1_991)]
    assert shown[0] == (10, "invalid uuid 'x'; overlaps another slot of its exchange")
    assert shown[-1] == (1_990, "overlaps another slot of its exchange")
