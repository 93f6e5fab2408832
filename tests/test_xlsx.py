"""XLSX both ways (issue 12): typed cells a spreadsheet never reinterprets, a round trip
through a real LibreOffice Calc that changes nothing, workbooks as a user saves them after
editing, and bad rows named by sheet and row. On SQLite and PostgreSQL.

LibreOffice runs headless (``soffice --headless --convert-to xlsx``): the real program,
never a stand-in. Without it these tests skip, saying why; with ``CI=true`` they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook

from tests.conftest import IN_CI

NOW = "2027-03-10T08:00:00+00:00"
PEOPLE = [  # (slot, name, email, phone, notes)
    ("downtown@2027-03-15T09:00", "Zoë Müller", "zoe@example.com", "030123456", "0012"),
    ("downtown@2027-03-15T09:00", "Łukasz Nowak", "lukasz@example.com", "+4930123", "=SUM(A1)"),
    (
        "downtown@2027-03-15T09:30",
        "山田 太郎",
        "taro@example.jp",
        "00493012345",
        "line one\nline two",
    ),
]


def ok(result: Any) -> Any:
    assert result.exit_code == 0, result.stderr
    return result


def soffice() -> str:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found is None:
        reason = "LibreOffice (soffice) is not installed: apt-get install libreoffice-calc-nogui"
        if IN_CI:
            pytest.fail(f"{reason}; CI=true requires it", pytrace=False)
        pytest.skip(reason)
    return found


def resave(path: Path, tmp_path: Path) -> Path:
    """``path`` opened and saved again by LibreOffice Calc, headless, as XLSX."""
    out = tmp_path / "resaved"
    profile = tmp_path / "lo-profile"  # its own profile: runs never share or lock one
    done = subprocess.run(
        [
            soffice(),
            f"-env:UserInstallation=file://{profile}",
            "--headless",
            "--convert-to",
            "xlsx:Calc MS Excel 2007 XML",
            "--outdir",
            str(out),
            str(path),
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=180,
    )
    saved = out / path.name
    assert done.returncode == 0, done.stderr
    assert saved.is_file(), (done.stdout, done.stderr)
    return saved


@pytest.fixture
def office(cli: Any, db: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """downtown (Europe/Berlin), Mon-Fri 09:00-11:00, 30-minute slots of 2 seats on
    2027-03-15 and 16, and the three bookings of PEOPLE (one cancelled)."""
    monkeypatch.setenv("SLOTCTL_NOW", NOW)
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
            "2",
        )
    )
    for slot, name, email, phone, notes in PEOPLE:
        ok(cli("bookings", "create", slot, f"--name={name}", f"--email={email}",
               f"--phone={phone}", f"--notes={notes}", "--confirm"))  # fmt: skip
    reference = cli("bookings", "list", "-f", "json").json()[2]["reference"]
    ok(cli("bookings", "cancel", reference, "--reason", "called"))
    return cli


# Writing: typed cells -------------------------------------------------------------


def test_a_bookings_workbook_has_typed_cells_a_frozen_header_and_a_filter(
    office: Any, tmp_path: Path
) -> None:
    path = tmp_path / "bookings.xlsx"
    result = ok(office("bookings", "export", "--output", str(path)))  # the suffix says xlsx
    assert "Wrote 3 bookings to" in result.stderr
    sheet = load_workbook(path)["bookings"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:T4"  # 20 columns (to counter), 3 bookings
    rows = list(sheet.iter_rows(values_only=True))
    header, data = rows[0], [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    assert header[:4] == ("uuid", "reference", "exchange", "slot")
    by_name = {r["customer_name"]: r for r in data}
    assert sorted(by_name) == sorted(p[1] for p in PEOPLE)
    for _, name, _, phone, notes in PEOPLE:  # text cells exactly as typed
        assert (by_name[name]["customer_phone"], by_name[name]["notes"]) == (phone, notes)
    assert by_name["Zoë Müller"]["starts_at"] == "2027-03-15T09:00:00+01:00"  # ISO text
    assert by_name["山田 太郎"]["starts_at"] == "2027-03-15T09:30:00+01:00"
    cells = {c.column_letter: c for c in sheet[2]}
    assert cells["H"].data_type == "s"  # text cells, never numbers or formulas
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    widths = sheet.column_dimensions
    assert widths["A"].width >= 36  # a uuid fits
    assert widths["G"].width >= len("customer_name")


def test_slots_and_hours_cells_are_numbers_booleans_and_dates(office: Any, tmp_path: Path) -> None:
    ok(office("slots", "export", "--as", "xlsx", "--output", str(tmp_path / "slots.xlsx")))
    row = next(
        load_workbook(tmp_path / "slots.xlsx")["slots"].iter_rows(min_row=2, values_only=True)
    )
    (_, slug, day, start, end, starts_at, _, cap, booked, free, is_open, status) = row
    assert day == datetime(2027, 3, 15)  # a date cell
    assert (start, end, cap, booked, free, is_open) == ("09:00", "09:30", 2, 2, 0, True)
    assert isinstance(cap, int)
    assert (slug, status, starts_at) == ("downtown", "full", "2027-03-15T09:00:00+01:00")
    ok(office("hours", "export", "--output", str(tmp_path / "hours.xlsx")))
    hours = list(load_workbook(tmp_path / "hours.xlsx")["hours"].iter_rows(values_only=True))
    assert hours[1][1:] == ("downtown", 0, "mon", "09:00", "11:00")


def test_the_whole_database_is_one_workbook_with_a_sheet_per_record_type(
    office: Any, tmp_path: Path
) -> None:
    result = ok(office("export", str(tmp_path / "all.xlsx")))
    assert "3 bookings" in result.stderr
    book = load_workbook(tmp_path / "all.xlsx")
    assert book.sheetnames == [
        "exchanges",
        "hours",
        "closures",
        "slots",
        "bookings",
        "tickets",
        "waitlist",
    ]
    assert book["slots"].max_row == 1 + 8
    ok(office("export", str(tmp_path / "backup"), "--as", "xlsx"))
    assert sorted(p.name for p in (tmp_path / "backup").iterdir()) == ["slotctl.xlsx"]


def test_an_export_format_that_contradicts_the_file_name_is_refused(
    office: Any, tmp_path: Path
) -> None:
    path = tmp_path / "bookings.xlsx"
    result = office("bookings", "export", "--as", "csv", "--output", str(path))
    assert result.exit_code == 2
    assert "--as csv does not match" in result.stderr
    assert not path.exists()


# Reading: a real spreadsheet program's round trip ------------------------------------


def test_a_workbook_resaved_by_libreoffice_imports_with_no_change(
    office: Any, db: Any, tmp_path: Path
) -> None:
    exported = tmp_path / "bookings.xlsx"
    ok(office("bookings", "export", "--output", str(exported)))
    before = db.snapshot()
    csv_before = ok(office("bookings", "export")).stdout
    resaved = resave(exported, tmp_path)
    assert resaved.read_bytes() != exported.read_bytes()  # Calc wrote its own file
    result = ok(office("bookings", "import", str(resaved)))
    assert "0 created, 0 updated, 3 unchanged" in result.stdout
    assert db.snapshot() == before
    assert ok(office("bookings", "export")).stdout == csv_before
    again = tmp_path / "again.xlsx"
    ok(office("bookings", "export", "--output", str(again)))
    assert _values(again) == _values(exported)


def test_the_whole_workbook_resaved_by_libreoffice_imports_with_no_change(
    office: Any, db: Any, tmp_path: Path
) -> None:
    exported = tmp_path / "all.xlsx"
    ok(office("export", str(exported)))
    before = db.snapshot()
    result = ok(office("import", str(resave(exported, tmp_path))))
    assert "Imported bookings: 0 created, 0 updated, 3 unchanged." in result.stdout
    assert db.snapshot() == before


def _values(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    book = load_workbook(path)
    return {name: list(book[name].iter_rows(values_only=True)) for name in book.sheetnames}


# Reading: what a user's edits leave ------------------------------------------------


def test_a_workbook_edited_as_users_do_imports(office: Any, db: Any, tmp_path: Path) -> None:
    """A date column re-typed as dates, a number typed into a text column, a time typed as
    a time, empty rows at the end and an extra sheet: all read as what they show."""
    exported = tmp_path / "closures.xlsx"
    ok(office("hours", "closures", "add", "downtown", "2027-04-01", "--reason", "inventory"))
    ok(office("hours", "closures", "export", "--output", str(exported)))
    book = load_workbook(exported)
    sheet = book["closures"]
    sheet["C2"] = datetime(2027, 4, 2)  # starts_on re-typed as a date (with a time of 0:00)
    sheet["D2"] = date(2027, 4, 3)
    sheet["E2"] = 2027  # a number typed into the reason (text) column
    sheet.append([None, "downtown", date(2027, 5, 1), None, "Labour Day"])
    for _ in range(3):
        sheet.append([None, None, None, None, None])
    book.create_sheet("my notes")["A1"] = "call the landlord"
    book.save(exported)
    result = ok(office("hours", "closures", "import", str(exported)))
    assert "1 created, 1 updated" in result.stdout
    rows = ok(office("hours", "closures", "list", "-f", "json")).json()
    assert [(r["starts_on"], r["ends_on"], r["reason"]) for r in rows] == [
        ("2027-04-02", "2027-04-03", "2027"),
        ("2027-05-01", "2027-05-01", "Labour Day"),
    ]


def test_bad_workbook_rows_are_named_by_sheet_and_row_and_nothing_is_written(
    office: Any, db: Any, tmp_path: Path
) -> None:
    exported = tmp_path / "bookings.xlsx"
    ok(office("bookings", "export", "--output", str(exported)))
    book = load_workbook(exported)
    sheet = book["bookings"]
    sheet["H3"] = "not an email"
    sheet["K4"] = "confirmd"
    book.save(exported)
    before = db.snapshot()
    result = office("bookings", "import", str(exported))
    assert result.exit_code == 5, result.stderr
    lines = result.stderr.splitlines()
    assert "2 bad rows" in lines[0]
    assert "sheet bookings" in lines[0]
    assert lines[1].startswith("  row 3: ")
    assert "email" in lines[1]
    assert lines[2].startswith("  row 4: ")
    assert "confirmd" in lines[2]
    assert db.snapshot() == before
    data = json.loads(office("bookings", "import", str(exported), "-f", "json").stderr)
    assert [(p["sheet"], p["row"]) for p in data["error"]["problems"]] == [
        ("bookings", 3),
        ("bookings", 4),
    ]


def test_a_file_that_only_claims_to_be_a_workbook_is_refused(office: Any, tmp_path: Path) -> None:
    fake = tmp_path / "bookings.xlsx"
    fake.write_bytes(b"PK\x03\x04 not really a zip")
    result = office("bookings", "import", str(fake))
    assert result.exit_code == 5, result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert "not a workbook" in result.stderr


def test_a_workbook_is_recognised_by_content_not_by_name(
    office: Any, db: Any, tmp_path: Path
) -> None:
    exported = tmp_path / "bookings.xlsx"
    ok(office("bookings", "export", "--output", str(exported)))
    renamed = tmp_path / "bookings.csv"
    os.replace(exported, renamed)
    result = ok(office("bookings", "import", str(renamed), "--dry-run"))
    assert "0 created, 0 updated, 3 unchanged" in result.stdout


def test_a_workbook_built_by_hand_with_one_unnamed_sheet_imports(
    office: Any, db: Any, tmp_path: Path
) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Sheet1"
    sheet.append(["slug", "name", "timezone"])
    sheet.append(["airport", "Airport", "Asia/Tokyo"])
    book.save(tmp_path / "new.xlsx")
    ok(office("exchanges", "import", str(tmp_path / "new.xlsx")))
    assert db.scalar("SELECT timezone FROM exchanges WHERE slug = 'airport'") == "Asia/Tokyo"


# JSON lists, as `--as json` exports them, are read the same way ------------------


@pytest.mark.parametrize(
    ("group", "kind"),
    [(("bookings",), "bookings"), (("slots",), "slots"), (("hours", "closures"), "closures")],
)
def test_a_json_export_imports_back_unchanged_in_any_layout(
    office: Any, db: Any, tmp_path: Path, group: tuple[str, ...], kind: str
) -> None:
    ok(office("hours", "closures", "add", "downtown", "2027-04-01", "--reason", "inventory"))
    exported = tmp_path / f"{kind}.json"
    ok(office(*group, "export", "--output", str(exported)))  # the suffix says JSON
    records = json.loads(exported.read_text(encoding="utf-8"))
    before = db.snapshot()
    pretty = tmp_path / "pretty.txt"  # any layout, any name: told by content
    pretty.write_text(json.dumps(records, indent=4, ensure_ascii=False), encoding="utf-8")
    for path in (exported, pretty):
        result = ok(office(*group, "import", str(path)))
        assert f"0 created, 0 updated, {len(records)} unchanged" in result.stdout
    assert db.snapshot() == before


def test_bad_json_records_are_named_by_line_and_nothing_is_written(
    office: Any, db: Any, tmp_path: Path
) -> None:
    path = tmp_path / "bookings.json"
    ok(office("bookings", "export", "--as", "json", "--output", str(path)))
    records = json.loads(path.read_text(encoding="utf-8"))
    records[1]["customer_email"] = "nope"
    del records[2]["notes"]
    path.write_text(json.dumps(records, indent=1), encoding="utf-8")
    lines = path.read_text(encoding="utf-8").splitlines()
    starts = [number for number, text in enumerate(lines, start=1) if text == " {"]
    before = db.snapshot()
    result = office("bookings", "import", str(path))
    assert result.exit_code == 5, result.stderr
    assert result.stderr.splitlines()[1:] == [
        f"  line {starts[1]}: invalid email 'nope': An email address must have an @-sign.",
        f"  line {starts[2]}: lacks notes (unlike the first record)",
    ]
    assert db.snapshot() == before


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[\n", "the list is not closed with ]"),
        ('[{"slug": "a", "name": "A"}\n{"slug": "b"}]', "a , or ] is missing on line 2"),
        ('[{"slug": "a", "name": "A"},\n {"slug": "b", }]', "line 2: Expecting property name"),
        ("[]", "is an empty list"),
    ],
)
def test_broken_json_is_one_clear_error(
    office: Any, db: Any, tmp_path: Path, text: str, reason: str
) -> None:
    path = tmp_path / "exchanges.json"
    path.write_text(text, encoding="utf-8")
    before = db.snapshot()
    result = office("exchanges", "import", str(path))
    assert result.exit_code == 5, result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert reason in result.stderr
    assert db.snapshot() == before
