"""``bookings import`` obeys the booking lifecycle, and ``doctor`` checks it.

* Updating a known booking (its uuid is in the database) to another status must be
  a transition the commands allow, or a chain of them (``pending -> completed`` is
  confirm + complete, once the slot has started). Any other change is a bad row:
  exit 5, every such line listed with a reason, nothing written. An applied change
  gets the timestamps and the audit events the commands would give it.
* A new booking (a uuid the database does not know: a backup being restored) may
  carry any status, but its timestamps must agree with that status.
* ``doctor`` reports a booking whose timestamps contradict its status, and one whose
  last audit event does not end in its status; bookings changed only through the
  commands leave it clean.

The clock: everything is set up on Wednesday 2027-03-10 10:00 UTC (``T0``). The
exchange ``downtown`` (Europe/Berlin, UTC+01:00) has 30-minute slots 09:00-11:00 on
Monday 15 and Tuesday 16 March. Completions and no-shows happen on Monday at 10:40
local (``T1``), when Monday's four slots have started and Tuesday's have not; the
imports run ten minutes later (``T2``).
"""

from __future__ import annotations

import csv
import json
import re
import uuid
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import Database

T0 = "2027-03-10T10:00:00+00:00"
T1 = "2027-03-15T10:40:00+01:00"
T2 = "2027-03-15T10:50:00+01:00"
T2_UTC = "2027-03-15T09:50:00+00:00"  # T2 as records and histories print it
ACTOR = "lifecycle-importer"
STARTED = [f"downtown@2027-03-15T{t}" for t in ("09:00", "09:30", "10:00", "10:30")]
NOT_STARTED = [f"downtown@2027-03-16T{t}" for t in ("09:00", "09:30", "10:00", "10:30")]
STATUSES = ("pending", "confirmed", "completed", "no_show", "cancelled")
STAMPS = ("confirmed_at", "completed_at", "cancelled_at")
BOOKING_COLUMNS = (
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
)  # the guide's bookings CSV columns
PROBLEM = re.compile(r"^  line (\d+): (.+)$")

# The oracle, written from the lifecycle in the guide (not from the code):
# (from, to) -> (the statuses passed through, whether the slot must have started).
CHAINS: dict[tuple[str, str], tuple[tuple[str, ...], bool]] = {
    ("pending", "confirmed"): (("confirmed",), False),
    ("pending", "cancelled"): (("cancelled",), False),
    ("pending", "completed"): (("confirmed", "completed"), True),
    ("pending", "no_show"): (("confirmed", "no_show"), True),
    ("confirmed", "completed"): (("completed",), True),
    ("confirmed", "no_show"): (("no_show",), True),
    ("confirmed", "cancelled"): (("cancelled",), False),
}
# The timestamp a command sets on entering a status.
STAMP_OF = {"confirmed": "confirmed_at", "completed": "completed_at", "cancelled": "cancelled_at"}


def chain(old: str, new: str, started: bool) -> tuple[str, ...] | None:
    """The statuses an import of ``old -> new`` passes through, or None if refused."""
    if old == new:
        return ()
    if (old, new) not in CHAINS:
        return None
    steps, needs_start = CHAINS[(old, new)]
    return steps if started or not needs_start else None


# Words a reason for refusing ``old -> new`` can hardly avoid: one of the two statuses
# (or the action entering the new one), or, for a slot that has not started, "start".
MENTIONS = {
    "pending": r"pending",
    "confirmed": r"confirm",
    "completed": r"complet",
    "no_show": r"no[_ -]?show",
    "cancelled": r"cancel",
}


# Helpers ----------------------------------------------------------------------------------


def ok(result: Any) -> Any:
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    return result


def at(monkeypatch: pytest.MonkeyPatch, instant: str) -> None:
    monkeypatch.setenv("SLOTCTL_NOW", instant)


def setup_exchange(cli: Any, monkeypatch: pytest.MonkeyPatch, capacity: int = 8) -> None:
    at(monkeypatch, T0)
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


def utc(value: Any) -> str:
    """An instant as records print it (SQLite returns naive UTC text)."""
    instant = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return instant.replace(tzinfo=instant.tzinfo or UTC).astimezone(UTC).isoformat()


def slot_uuids(db: Database) -> dict[str, str]:
    """Every slot's uuid by its ``downtown@YYYY-MM-DDTHH:MM`` name."""
    berlin = ZoneInfo("Europe/Berlin")
    return {
        "downtown@"
        + datetime.fromisoformat(utc(starts)).astimezone(berlin).strftime("%Y-%m-%dT%H:%M"): key
        for key, starts in db.query("SELECT uuid, starts_at FROM time_slots")
    }


def export(cli: Any, tmp_path: Path) -> tuple[list[str], dict[str, dict[str, str]]]:
    """Every booking as the CSV export has it: the header and the rows by uuid."""
    path = tmp_path / f"export-{uuid.uuid4().hex[:8]}.csv"
    ok(cli("bookings", "export", "-o", str(path)))
    with path.open(encoding="utf-8", newline="") as file:
        reader = csv.DictReader(file)
        rows = {row["uuid"]: row for row in reader}
        return list(reader.fieldnames or []), rows


def records(cli: Any, db: Database, tmp_path: Path) -> dict[str, dict[str, Any]]:
    """Every booking by uuid: its exported row (blank cells as None, like `bookings show`)
    and its ``history`` as (at, actor, from_status, to_status)."""
    _, rows = export(cli, tmp_path)
    found: dict[str, dict[str, Any]] = {
        key: {column: cell or None for column, cell in row.items()} | {"history": []}
        for key, row in rows.items()
    }
    for key, when, actor, old, new in db.query(
        "SELECT b.uuid, e.at, e.actor, e.from_status, e.to_status FROM booking_events e"
        " JOIN bookings b ON b.id = e.booking_id ORDER BY e.id"
    ):
        found[key]["history"].append((utc(when), actor, old, new))
    return found


def make_bookings(
    cli: Any,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    wanted: list[tuple[str, str]],
    *,
    create: bool = False,
) -> list[dict[str, Any]]:
    """One booking per ``(status, slot)``: new and pending at T0 (imported in one file,
    or with ``create`` one `bookings create` each), then brought to its status by the
    commands, in batches: confirm and cancel at T0, complete and no-show at T1. Leaves
    the clock at T2. Returns the bookings' records (see ``records``), in the order asked."""
    at(monkeypatch, T0)
    emails = [f"customer{index}@example.com" for index in range(len(wanted))]
    if create:
        for index, (_, slot) in enumerate(wanted):
            ok(
                cli(
                    "bookings",
                    "create",
                    slot,
                    f"--name=Customer {index}",
                    f"--email={emails[index]}",
                )
            )
    else:
        slots = slot_uuids(db)
        path = write(
            tmp_path / f"new-{uuid.uuid4().hex[:8]}.csv",
            ["slot", "customer_name", "customer_email"],
            [
                {"slot": slots[slot], "customer_name": f"Customer {i}", "customer_email": emails[i]}
                for i, (_, slot) in enumerate(wanted)
            ],
        )
        ok(cli("bookings", "import", str(path)))
    by_email = {b["customer_email"]: b for b in records(cli, db, tmp_path).values()}
    made = [by_email[email] for email in emails]

    def batch(action: str, *statuses: str) -> None:
        refs = [b["reference"] for b, (s, _) in zip(made, wanted, strict=True) if s in statuses]
        if refs:
            ok(cli("bookings", action, *refs))

    batch("confirm", "confirmed", "completed", "no_show")
    batch("cancel", "cancelled")
    at(monkeypatch, T1)
    batch("complete", "completed")
    batch("no-show", "no_show")
    at(monkeypatch, T2)
    now = records(cli, db, tmp_path)
    made = [now[b["uuid"]] for b in made]
    assert [b["status"] for b in made] == [s for s, _ in wanted]
    return made


def show(cli: Any, ident: str) -> dict[str, Any]:
    return dict(ok(cli("bookings", "show", ident, "-f", "json")).json())


def history(record: dict[str, Any]) -> list[tuple[Any, ...]]:
    """A shown booking's audit events as (at, actor, from_status, to_status); the note is
    left out: an import may say where a change came from."""
    return [(e["at"], e["actor"], e["from_status"], e["to_status"]) for e in record["history"]]


def write(path: Path, header: list[str], rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def problems(stderr: str) -> dict[int, str]:
    """The ``  line N: reason`` lines under the ``Error:`` line, reasons joined by line."""
    lines = stderr.splitlines()
    assert lines, stderr
    assert lines[0].startswith("Error: "), stderr
    found: dict[int, str] = {}
    for text in lines[1:]:
        match = PROBLEM.match(text)
        assert match, stderr
        line, reason = int(match.group(1)), match.group(2)
        found[line] = f"{found[line]}; {reason}" if line in found else reason
    return found


def json_problems(stderr: str) -> dict[int, str]:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    error = json.loads(lines[0])["error"]
    assert error["code"] == "invalid_file", error
    found: dict[int, str] = {}
    for problem in error["problems"]:
        line = int(problem["line"])
        found[line] = (
            f"{found[line]}; {problem['message']}" if line in found else problem["message"]
        )
    return found


def refused(cli: Any, db: Database, path: Path, lines: list[int]) -> dict[int, str]:
    """Import ``path`` (table, JSON, dry run): each time exit 5, exactly ``lines`` listed,
    nothing written. Returns the reasons by line."""
    before = db.snapshot()
    result = cli("bookings", "import", str(path))
    assert result.exit_code == 5, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    found = problems(result.stderr)
    assert sorted(found) == lines, result.stderr
    assert f"{len(lines)} bad rows" in result.stderr.splitlines()[0], result.stderr
    assert db.snapshot() == before
    as_json = cli("bookings", "import", str(path), "--format", "json")
    assert as_json.exit_code == 5, (as_json.exit_code, as_json.stdout, as_json.stderr)
    assert sorted(json_problems(as_json.stderr)) == lines
    dry = cli("bookings", "import", str(path), "--dry-run")
    assert dry.exit_code == 5, (dry.exit_code, dry.stdout, dry.stderr)
    assert sorted(problems(dry.stderr)) == lines
    assert db.snapshot() == before
    return found


def doctor(cli: Any) -> tuple[int, list[dict[str, Any]]]:
    result = cli("doctor", "--format", "json")
    assert result.exit_code in (0, 4), (result.exit_code, result.stdout, result.stderr)
    return result.exit_code, list(json.loads(result.stdout))


def names(violation: dict[str, Any], booking: dict[str, Any]) -> bool:
    text = json.dumps(violation)
    return booking["reference"] in text or booking["uuid"] in text


# 1. Updates obey the lifecycle ------------------------------------------------------------


def test_every_status_change_by_import_is_accepted_iff_the_lifecycle_reaches_it(
    cli: Any, db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Every (old status, new status, slot started or not) there can be, against the
    CHAINS table: one file with all of them lists exactly the unreachable ones and writes
    nothing; the file of the reachable ones applies them, with the commands' timestamps
    (the file leaves them blank) and one audit event per step of the chain."""
    setup_exchange(cli, monkeypatch)
    # Completed and no-show bookings exist only on slots that have started.
    cases = [(old, new, True) for old in STATUSES for new in STATUSES] + [
        (old, new, False) for old in ("pending", "confirmed", "cancelled") for new in STATUSES
    ]
    slots = [
        (STARTED if started else NOT_STARTED)[index % 4]
        for index, (_, _, started) in enumerate(cases)
    ]
    wanted = [(old, slot) for (old, _, _), slot in zip(cases, slots, strict=True)]
    made = make_bookings(cli, db, monkeypatch, tmp_path, wanted)
    header, exported = export(cli, tmp_path)
    # the exported rows with another status: the stamps they have not yet are blank
    rows = [
        exported[b["uuid"]] | {"status": new} for b, (_, new, _) in zip(made, cases, strict=True)
    ]

    expected = [chain(old, new, started) for old, new, started in cases]
    bad_lines = [index + 2 for index, steps in enumerate(expected) if steps is None]
    assert len(bad_lines) == 22  # the oracle's own count: 40 cases, 18 reachable
    found = refused(cli, db, write(tmp_path / "all.csv", header, rows), bad_lines)
    for index, (old, new, _) in enumerate(cases):
        line = index + 2
        if line in found:
            words = f"{MENTIONS[old]}|{MENTIONS[new]}|start"
            assert re.search(words, found[line].lower()), (old, new, found[line])

    good = [row for row, steps in zip(rows, expected, strict=True) if steps is not None]
    changed = sum(1 for steps in expected if steps)
    result = ok(
        cli("bookings", "import", str(write(tmp_path / "good.csv", header, good)), "-f", "json")
    )
    summary = result.json()
    listed = summary.pop("changes")
    assert summary == {
        "kind": "bookings",
        "created": 0,
        "updated": changed,
        "unchanged": len(good) - changed,
        "dry_run": False,
    }
    # each status change is listed, with its booking's reference, in the file's order
    assert [(c["record"], c["old"], c["new"]) for c in listed if c["field"] == "status"] == [
        (was["reference"], old, new)
        for was, (old, new, _), steps in zip(made, cases, expected, strict=True)
        if steps
    ]
    after = records(cli, db, tmp_path)
    for was, (old, new, started), steps in zip(made, cases, expected, strict=True):
        now, case = after[was["uuid"]], (old, new, started)
        if steps is None:
            assert now == was, case  # untouched, history included
            continue
        assert now["status"] == new, case
        for stamp in STAMPS:
            entered = any(STAMP_OF.get(step) == stamp for step in steps)
            assert now[stamp] == (T2_UTC if entered else was[stamp]), (case, stamp)
        trail = [old, *steps]
        assert now["history"] == was["history"] + [
            (T2_UTC, ACTOR, step_from, step_to) for step_from, step_to in pairwise(trail)
        ], case
    ok(cli("bookings", "expire-pending"))  # pending bookings on started slots are stale
    assert doctor(cli) == (0, [])


def test_the_named_lifecycle_violations_are_bad_rows_and_nothing_is_written(
    cli: Any, db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """completed -> pending, cancelled -> confirmed (the seat is free) and confirmed ->
    completed before the slot starts are listed by line; the good row after them is
    not written either."""
    setup_exchange(cli, monkeypatch)
    done, gone, early, fine = make_bookings(
        cli,
        db,
        monkeypatch,
        tmp_path,
        [
            ("completed", STARTED[0]),
            ("cancelled", NOT_STARTED[0]),
            ("confirmed", NOT_STARTED[1]),
            ("pending", NOT_STARTED[2]),
        ],
    )
    header, exported = export(cli, tmp_path)
    rows = [
        exported[done["uuid"]] | {"status": "pending", "confirmed_at": "", "completed_at": ""},
        exported[gone["uuid"]] | {"status": "confirmed", "cancelled_at": ""},
        exported[early["uuid"]] | {"status": "completed"},
        exported[fine["uuid"]] | {"status": "confirmed", "customer_name": "Fine Again"},
    ]
    found = refused(cli, db, write(tmp_path / "bad.csv", header, rows), [2, 3, 4])
    assert re.search(r"complet|pending", found[2].lower()), found[2]
    assert re.search(r"cancel|confirm", found[3].lower()), found[3]
    assert re.search(r"start|complet", found[4].lower()), found[4]

    # the commands refuse the same changes (exit 4): the oracle agrees with them
    assert cli("bookings", "confirm", gone["reference"]).exit_code == 4
    assert cli("bookings", "complete", early["reference"]).exit_code == 4
    # without the bad rows the good one goes in, and nothing else changes
    ok(cli("bookings", "import", str(write(tmp_path / "good.csv", header, rows[3:]))))
    after = records(cli, db, tmp_path)
    assert (after[fine["uuid"]]["status"], after[fine["uuid"]]["customer_name"]) == (
        "confirmed",
        "Fine Again",
    )
    assert [after[b["uuid"]] for b in (done, gone, early)] == [done, gone, early]


def test_pending_to_completed_in_a_file_is_confirm_then_complete(
    cli: Any, db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """On a slot that has started, a pending booking the file marks completed (stamps
    left blank) ends as its twin does after `confirm` then `complete` at the same moment:
    both stamps now, and two events, pending->confirmed and confirmed->completed."""
    setup_exchange(cli, monkeypatch)
    by_file, by_command = make_bookings(
        cli, db, monkeypatch, tmp_path, [("pending", STARTED[1]), ("pending", STARTED[1])]
    )
    header, exported = export(cli, tmp_path)
    row = exported[by_file["uuid"]] | {"status": "completed"}
    assert (row["confirmed_at"], row["completed_at"]) == ("", "")
    path = write(tmp_path / "b.csv", header, [row])
    result = ok(cli("bookings", "import", str(path), "-f", "json"))
    assert (result.json()["updated"], result.json()["unchanged"]) == (1, 0)
    ok(cli("bookings", "confirm", by_command["reference"]))
    ok(cli("bookings", "complete", by_command["reference"]))

    imported, commanded = show(cli, by_file["reference"]), show(cli, by_command["reference"])
    assert imported["status"] == commanded["status"] == "completed"
    assert (imported["confirmed_at"], imported["completed_at"]) == (T2_UTC, T2_UTC)
    assert [imported[s] for s in STAMPS] == [commanded[s] for s in STAMPS]
    assert history(imported)[1:] == [
        (T2_UTC, ACTOR, "pending", "confirmed"),
        (T2_UTC, ACTOR, "confirmed", "completed"),
    ]
    assert history(imported)[1:] == history(commanded)[1:]
    assert doctor(cli) == (0, [])

    # a fresh export imported again: the status is unchanged, so no new event
    again = tmp_path / "again.csv"
    ok(cli("bookings", "export", "-o", str(again)))
    result = ok(cli("bookings", "import", str(again), "-f", "json"))
    assert (result.json()["updated"], result.json()["unchanged"]) == (0, 2)
    assert history(show(cli, by_file["reference"])) == history(imported)


def test_a_status_change_in_a_file_gets_the_stamps_and_events_of_the_command(
    cli: Any, db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Each single transition made by a file with its stamp left blank leaves the booking
    as the command leaves a twin at the same moment: the same stamps (confirmed_at kept
    when it was set), the same status, one new event. A row whose status does not change
    (another field does) writes no event."""
    setup_exchange(cli, monkeypatch)
    moves = [
        ("pending", "confirmed", NOT_STARTED[0], "confirm"),
        ("pending", "cancelled", NOT_STARTED[1], "cancel"),
        ("confirmed", "cancelled", NOT_STARTED[2], "cancel"),
        ("confirmed", "no_show", STARTED[2], "no-show"),
        ("confirmed", "completed", STARTED[3], "complete"),
    ]
    wanted = [(old, slot) for old, _, slot, _ in moves]
    made = make_bookings(
        cli, db, monkeypatch, tmp_path, [*wanted, *wanted, ("confirmed", NOT_STARTED[3])]
    )
    by_file, by_command, same = made[: len(moves)], made[len(moves) : -1], made[-1]
    header, exported = export(cli, tmp_path)
    rows = [
        exported[b["uuid"]] | {"status": new}
        for b, (_, new, _, _) in zip(by_file, moves, strict=True)
    ]
    rows.append(exported[same["uuid"]] | {"customer_name": "Renamed"})
    result = ok(
        cli("bookings", "import", str(write(tmp_path / "b.csv", header, rows)), "-f", "json")
    )
    assert (result.json()["updated"], result.json()["unchanged"]) == (len(moves) + 1, 0)
    for twin, (_, _, _, action) in zip(by_command, moves, strict=True):
        ok(cli("bookings", action, twin["reference"]))

    after = records(cli, db, tmp_path)
    for before, twin, (old, new, _, _) in zip(by_file, by_command, moves, strict=True):
        imported, commanded, case = after[before["uuid"]], after[twin["uuid"]], (old, new)
        assert imported["status"] == commanded["status"] == new, case
        for stamp in STAMPS:
            expected = T2_UTC if STAMP_OF.get(new) == stamp else before[stamp]
            assert imported[stamp] == expected, (case, stamp)
        # the twin was made at the same moments: the same stamps, the same new event
        assert [imported[s] for s in STAMPS] == [commanded[s] for s in STAMPS], case
        # the change happened now, whatever the exported updated_at cell still says
        assert imported["updated_at"] == commanded["updated_at"] == T2_UTC, case
        assert imported["history"] == [*before["history"], (T2_UTC, ACTOR, old, new)], case
        assert imported["history"][-1] == commanded["history"][-1], case

    renamed = after[same["uuid"]]
    assert (renamed["customer_name"], renamed["status"]) == ("Renamed", "confirmed")
    assert renamed["history"] == same["history"]
    assert [renamed[s] for s in STAMPS] == [same[s] for s in STAMPS]
    assert doctor(cli) == (0, [])


# 2. New bookings: any status, with timestamps that agree ---------------------------------


def new_row(header: list[str], slot: str, index: int, status: str, **cells: str) -> dict[str, str]:
    return dict.fromkeys(header, "") | {
        "uuid": str(uuid.uuid4()),
        "slot": slot,
        "customer_name": f"Restored {index}",
        "customer_email": f"restored{index}@example.com",
        "status": status,
        "created_at": T0,
        "updated_at": T0,
        **cells,
    }


def test_new_bookings_of_every_status_are_restored_when_their_timestamps_agree(
    cli: Any, db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A backup's bookings may be in any status, final ones included (completed and
    no-show ones on a slot that has started)."""
    setup_exchange(cli, monkeypatch)
    at(monkeypatch, T2)
    slots = slot_uuids(db)
    past, ahead = slots[STARTED[0]], slots[NOT_STARTED[0]]
    header = list(BOOKING_COLUMNS)
    later = "2027-03-15T08:05:00+00:00"
    rows = [
        new_row(header, ahead, 1, "pending"),
        new_row(header, ahead, 2, "confirmed", confirmed_at=T0),
        new_row(header, past, 3, "completed", confirmed_at=T0, completed_at=later),
        new_row(header, past, 4, "no_show", confirmed_at=T0),
        new_row(header, ahead, 5, "cancelled", cancelled_at=T0, cancellation_reason="called"),
        new_row(header, ahead, 6, "cancelled", confirmed_at=T0, cancelled_at=later),
    ]
    path = write(tmp_path / "b.csv", header, rows)
    result = ok(cli("bookings", "import", str(path), "-f", "json"))
    assert (result.json()["created"], result.json()["updated"]) == (len(rows), 0)
    restored = records(cli, db, tmp_path)
    for row in rows:
        got = restored[row["uuid"]]
        assert got["status"] == row["status"]
        assert [got[s] for s in STAMPS] == [row[s] or None for s in STAMPS], row["status"]
    assert doctor(cli) == (0, [])


def test_new_bookings_whose_timestamps_contradict_their_status_are_bad_rows(
    cli: Any, db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    setup_exchange(cli, monkeypatch)
    at(monkeypatch, T2)
    slots = slot_uuids(db)
    past, ahead = slots[STARTED[0]], slots[NOT_STARTED[0]]
    header = list(BOOKING_COLUMNS)
    rows = [
        new_row(header, past, 1, "completed", confirmed_at=T0),  # 2: no completed_at
        new_row(header, ahead, 2, "pending", completed_at=T0),  # 3
        new_row(header, ahead, 3, "confirmed", confirmed_at=T0, cancelled_at=T0),  # 4
        new_row(header, ahead, 4, "pending", confirmed_at=T0),  # 5
        new_row(header, ahead, 5, "pending", cancelled_at=T0),  # 6
        new_row(header, past, 6, "no_show", confirmed_at=T0, completed_at=T0),  # 7
        new_row(header, ahead, 7, "cancelled", cancelled_at=T0, completed_at=T0),  # 8
        new_row(header, past, 8, "completed", confirmed_at=T0, completed_at=T0, cancelled_at=T0),
        new_row(header, ahead, 9, "confirmed", confirmed_at=T0),  # 10: fine
        new_row(header, past, 10, "completed", confirmed_at=T0, completed_at=T0),  # 11: fine
    ]
    path = write(tmp_path / "bad.csv", header, rows)
    found = refused(cli, db, path, [2, 3, 4, 5, 6, 7, 8, 9])
    for line, stamp in {2: "completed", 3: "completed", 4: "cancelled"}.items():
        assert stamp in found[line].lower(), (line, found[line])
    assert db.scalar("SELECT count(*) FROM bookings") == 0


# 3. doctor --------------------------------------------------------------------------------

# (status made through the commands, its slot, the raw SQL that makes a stamp lie)
LYING_STAMPS = [
    ("pending", NOT_STARTED[0], "completed_at = created_at"),
    ("completed", STARTED[0], "completed_at = NULL"),
    ("confirmed", NOT_STARTED[0], "cancelled_at = created_at"),
    ("no_show", STARTED[0], "completed_at = confirmed_at"),
]
# (status made through the commands, its slot, the raw SQL that changes the status with
# stamps that agree, the seat still held, and so only the history tells)
UNRECORDED_CHANGES = [
    ("pending", NOT_STARTED[1], "status = 'confirmed', confirmed_at = created_at"),
    ("confirmed", STARTED[1], "status = 'completed', completed_at = confirmed_at"),
    ("confirmed", STARTED[2], "status = 'no_show'"),
]


@pytest.mark.parametrize(
    "corruptions",
    [LYING_STAMPS, UNRECORDED_CHANGES],
    ids=["stamps-contradict-status", "status-differs-from-last-event"],
)
def test_doctor_names_each_booking_whose_record_contradicts_itself(
    cli: Any,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    corruptions: list[tuple[str, str, str]],
) -> None:
    """Each booking changed by raw SQL is named (by reference or uuid) by a violation, and
    doctor exits 4; a booking of every status left alone is named by none."""
    setup_exchange(cli, monkeypatch)
    wanted = [(status, slot) for status, slot, _ in corruptions]
    controls = [
        (status, NOT_STARTED[3] if status in ("pending", "confirmed", "cancelled") else STARTED[3])
        for status in STATUSES
    ]
    made = make_bookings(cli, db, monkeypatch, tmp_path, wanted + controls)
    broken, clean = made[: len(wanted)], made[len(wanted) :]
    assert doctor(cli) == (0, [])
    for booking, (_, _, change) in zip(broken, corruptions, strict=True):
        db.execute(f"UPDATE bookings SET {change} WHERE uuid = :u", u=booking["uuid"])
        shown = show(cli, booking["reference"])
        assert shown["history"][-1]["to_status"] == booking["status"]  # not rewritten
    code, violations = doctor(cli)
    assert code == 4
    for booking, corruption in zip(broken, corruptions, strict=True):
        assert any(names(v, booking) for v in violations), (corruption, violations)
    for booking in clean:
        assert not any(names(v, booking) for v in violations), (booking["status"], violations)
    # recounting the seats does not hide them
    repaired = cli("doctor", "--repair", "--format", "json")
    assert repaired.exit_code == 4, (repaired.stdout, repaired.stderr)
    assert len(json.loads(repaired.stdout)) == len(violations)


def test_doctor_is_clean_after_every_transition_through_the_commands(
    cli: Any, db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Bookings created by `bookings create` and taken through every transition (a move
    and the system's expiry of a stale pending booking too) break no invariant."""
    setup_exchange(cli, monkeypatch)
    made = make_bookings(
        cli,
        db,
        monkeypatch,
        tmp_path,
        [
            ("pending", NOT_STARTED[0]),
            ("confirmed", NOT_STARTED[0]),
            ("cancelled", NOT_STARTED[1]),
            ("completed", STARTED[0]),
            ("no_show", STARTED[1]),
            ("confirmed", NOT_STARTED[2]),
            ("pending", STARTED[2]),
        ],
        create=True,
    )
    ok(cli("bookings", "confirm", made[0]["reference"]))
    ok(cli("bookings", "cancel", made[1]["reference"], "--reason", "customer called"))
    ok(cli("bookings", "move", made[5]["reference"], NOT_STARTED[3]))
    ok(cli("bookings", "expire-pending"))  # made[6]: pending on a started slot
    ok(cli("bookings", "create", NOT_STARTED[1], "--name=Late", "--email=late@example.com"))
    ok(
        cli(
            "bookings",
            "create",
            NOT_STARTED[2],
            "--name=Now",
            "--email=now@example.com",
            "--confirm",
        )
    )
    after = records(cli, db, tmp_path)
    assert after[made[6]["uuid"]]["status"] == "cancelled"
    assert {b["status"] for b in after.values()} == set(STATUSES)
    assert doctor(cli) == (0, [])
    assert ok(cli("doctor")).stdout == "All invariants hold.\n"
