"""CSV and XLSX export and import of 1,000,000 bookings, their memory, and ``stats`` over them.

    python bench/transfer.py [--bookings 1000000] [--small 10000] [--postgres URL]
        [--update-readme [--block transfer]]

Data: 10 exchanges in 10 timezones, a year of 30-minute slots 09:00-17:00
(capacity 20), and the bookings spread over them in every status, with
names, emails, phones and notes (some with commas and leading '+').

* Export: ``slotctl bookings export -o FILE`` as a fresh process (start-up
  included) against a raw baseline, also a fresh process: on SQLite a
  ``sqlite3`` cursor over the same join feeding ``csv.writer`` (stored values
  as they are, no formatting); on PostgreSQL ``COPY (SELECT ...) TO STDOUT``
  of the same join.
* Import: ``slotctl bookings import FILE`` of that export into the same
  database emptied of bookings, against a raw baseline: on SQLite ``csv`` +
  ``sqlite3`` ``executemany`` of the rows (slot ids looked up by a subquery)
  and one counter recount; on PostgreSQL ``COPY`` into a staging table, one
  ``INSERT ... SELECT`` and the same recount. The baselines validate nothing.
* Memory: peak RSS of the export and import processes for the full file and
  for a ``--small`` one (target: the large <= 1.3x the small).
* XLSX: the same export and import as a workbook (``-o FILE.xlsx``), against the CSV
  figures of the same run, and their peak memory for the full and the small file.
* Stats: ``slotctl stats --from --to`` over the whole year (process time), and
  ``slotctl stats`` with its default window on the same database.

Targets (issue 5): export and import <= 1.5x their baseline; memory <= 1.3x;
stats <= 1 s.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).parent))
from _common import update_readme

ZONES = [
    "Europe/Berlin", "America/New_York", "Asia/Tokyo", "Europe/London", "Australia/Sydney",
    "America/Los_Angeles", "Asia/Kolkata", "America/Sao_Paulo", "Africa/Nairobi", "Asia/Dubai",
]  # fmt: skip
FIRST_DAY = date(2027, 1, 1)
DAYS = 365
CAPACITY = 20
NOW = datetime(2027, 7, 1, 12, 0, tzinfo=UTC)
STATUSES = ["confirmed"] * 12 + ["completed"] * 3 + ["no_show"] + ["cancelled"] * 3 + ["pending"]
NAMES = ["Ann Lee", "Jon Jensen", "Mei Okafor", "Chloé Tanaka", "Pablo Smith", "Ines Rossi"]
NOTES = [None, None, None, "Euros to dollars", "Large amount, call ahead", "+ bring ID"]
SLOTCTL = [sys.executable, "-m", "slotctl"]


def stamp(sqlite: bool, value: datetime | None) -> Any:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else value


def build(url: str, bookings: int) -> None:
    """A migrated database with the exchanges, slots and bookings described above."""
    from slotctl.db.engine import make_engine
    from slotctl.db.migrate import upgrade
    from slotctl.db.models import new_uuids

    engine = make_engine(url)
    upgrade(engine)
    sqlite = engine.dialect.name == "sqlite"
    m = "?" if sqlite else "%s"
    rng = random.Random(5)
    with engine.begin() as conn:
        cursor: Any = conn.connection.driver_connection.cursor()
        created = stamp(sqlite, NOW - timedelta(days=400))
        for n, zone in enumerate(ZONES):
            cursor.execute(
                "INSERT INTO exchanges (uuid, slug, name, timezone, is_active, min_notice_minutes,"
                f" created_at, updated_at) VALUES ({m}, {m}, {m}, {m}, true, 0, {m}, {m})",
                (new_uuids(1)[0], f"ex{n:02d}", f"Exchange {n}", zone, created, created),
            )
        slots: list[tuple[Any, ...]] = []
        for n, zone in enumerate(ZONES):
            tz = ZoneInfo(zone)
            for d in range(DAYS):
                day = FIRST_DAY + timedelta(days=d)
                for k in range(16):
                    start = datetime(day.year, day.month, day.day, 9, tzinfo=tz) + timedelta(
                        minutes=30 * k
                    )
                    slots.append(
                        (
                            n + 1,
                            day,
                            stamp(sqlite, start),
                            stamp(sqlite, start + timedelta(minutes=30)),
                        )
                    )
        uuids = new_uuids(len(slots))
        cursor.executemany(
            "INSERT INTO time_slots (uuid, exchange_id, date, starts_at, ends_at, max_capacity,"
            f" current_bookings, is_available, created_at, updated_at) VALUES ({m}, {m}, {m}, {m},"
            f" {m}, {CAPACITY}, 0, true, {m}, {m})",
            [(u, *row, created, created) for u, row in zip(uuids, slots, strict=True)],
        )
        per_slot = -(-bookings // len(slots))
        assert per_slot <= CAPACITY, "more bookings than seats"
        batch: list[tuple[Any, ...]] = []
        booking_uuids = new_uuids(bookings)
        for n in range(bookings):
            slot = n % len(slots)
            exchange_id, _, starts, _ = slots[slot]
            start = datetime.fromisoformat(starts) if sqlite else starts
            start = start.replace(tzinfo=UTC)
            made = start - timedelta(
                minutes=rng.randint(60, 60 * 24 * 20), microseconds=rng.randint(0, 999_999)
            )
            status = STATUSES[n % len(STATUSES)]
            changed = made + timedelta(minutes=5)
            batch.append(
                (
                    booking_uuids[n], f"BK-{n:07d}", slot + 1, exchange_id, NAMES[n % len(NAMES)],
                    f"customer{n}@example.com", f"+49 30 {n:07d}" if n % 3 else None,
                    NOTES[n % len(NOTES)], status, stamp(sqlite, made), stamp(sqlite, changed),
                    stamp(sqlite, changed) if status not in {"pending", "cancelled"} else None,
                    stamp(sqlite, start) if status == "completed" else None,
                    stamp(sqlite, changed) if status == "cancelled" else None,
                    "expired" if status == "cancelled" and n % 2 else None,
                )
            )  # fmt: skip
            if len(batch) == 50_000:
                _insert(cursor, m, batch)
                batch.clear()
        _insert(cursor, m, batch)
        cursor.execute(RECOUNT)
        cursor.execute("ANALYZE")
    engine.dispose()


RECOUNT = (
    "UPDATE time_slots SET current_bookings = (SELECT count(*) FROM bookings b"
    " WHERE b.time_slot_id = time_slots.id AND b.status IN"
    " ('pending', 'confirmed', 'completed', 'no_show'))"
)


def _insert(cursor: Any, m: str, rows: list[tuple[Any, ...]]) -> None:
    cursor.executemany(
        "INSERT INTO bookings (uuid, reference, time_slot_id, exchange_id, customer_name,"
        " customer_email, customer_phone, notes, status, created_at, updated_at, confirmed_at,"
        f" completed_at, cancelled_at, cancellation_reason) VALUES ({', '.join([m] * 15)})",
        rows,
    )


def empty_bookings(url: str) -> None:
    from sqlalchemy import text

    from slotctl.db.engine import make_engine

    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM booking_events"))
        conn.execute(text("DELETE FROM bookings"))
        conn.execute(text("UPDATE time_slots SET current_bookings = 0"))
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE bookings"))
    engine.dispose()


def count_bookings(url: str) -> tuple[int, int]:
    from sqlalchemy import text

    from slotctl.db.engine import make_engine

    engine = make_engine(url)
    with engine.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM bookings")).scalar_one()
        seats = conn.execute(text("SELECT sum(current_bookings) FROM time_slots")).scalar_one()
    engine.dispose()
    return int(n), int(seats or 0)


# Measuring processes -------------------------------------------------------------------------

WRAPPER = (
    "import resource, subprocess, sys, time\n"
    "start = time.perf_counter()\n"
    "done = subprocess.run(sys.argv[1:], capture_output=True)\n"
    "elapsed = time.perf_counter() - start\n"
    "if done.returncode:\n"
    "    sys.stderr.write(done.stderr.decode()); raise SystemExit(done.returncode)\n"
    "print(elapsed, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)


def run(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of ``command`` as a fresh process."""
    done = subprocess.run(
        [sys.executable, "-c", WRAPPER, *command],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed: {done.stderr}")
    seconds, kilobytes = done.stdout.split()
    return float(seconds), int(kilobytes) / 1024


RAW_SELECT = (
    "SELECT b.uuid, b.reference, e.slug, s.uuid, s.starts_at, s.ends_at, b.customer_name,"
    " b.customer_email, b.customer_phone, b.notes, b.status, b.created_at, b.updated_at,"
    " b.confirmed_at, b.completed_at, b.cancelled_at, b.cancellation_reason"
    " FROM bookings b JOIN time_slots s ON s.id = b.time_slot_id"
    " JOIN exchanges e ON e.id = s.exchange_id ORDER BY s.starts_at, b.created_at, b.uuid"
)
RAW_EXPORT_SQLITE = f"""
import csv, sqlite3, sys
conn = sqlite3.connect(sys.argv[1])
with open(sys.argv[2], "w", newline="", encoding="utf-8") as out:
    writer = csv.writer(out, lineterminator="\\n")
    writer.writerow([c for c in "uuid reference exchange slot starts_at ends_at customer_name customer_email customer_phone notes status created_at updated_at confirmed_at completed_at cancelled_at cancellation_reason".split()])
    cursor = conn.execute({RAW_SELECT!r})
    while rows := cursor.fetchmany(5000):
        writer.writerows(rows)
"""
RAW_EXPORT_POSTGRES = f"""
import psycopg, sys
with psycopg.connect(sys.argv[1], options=sys.argv[3]) as conn, open(sys.argv[2], "wb") as out:
    with conn.cursor().copy("COPY ({RAW_SELECT}) TO STDOUT WITH (FORMAT csv, HEADER)") as copy:
        for block in copy:
            out.write(block)
"""
BOOKING_COLUMNS = (
    "uuid, reference, customer_name, customer_email, customer_phone, notes, status, created_at,"
    " updated_at, confirmed_at, completed_at, cancelled_at, cancellation_reason"
)
RAW_IMPORT_SQLITE = f"""
import csv, sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
insert = ("INSERT INTO bookings ({BOOKING_COLUMNS}, time_slot_id, exchange_id) VALUES"
          " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, (SELECT id FROM time_slots WHERE uuid = ?),"
          " (SELECT exchange_id FROM time_slots WHERE uuid = ?))")
with open(sys.argv[2], newline="", encoding="utf-8") as file:
    reader = csv.reader(file)
    next(reader)
    batch = []
    for r in reader:
        batch.append((r[0], r[1], r[6], r[7], r[8] or None, r[9] or None, r[10], r[11], r[12],
                      r[13] or None, r[14] or None, r[15] or None, r[16] or None, r[3], r[3]))
        if len(batch) == 10000:
            conn.executemany(insert, batch)
            batch.clear()
    conn.executemany(insert, batch)
conn.execute({RECOUNT!r})
conn.execute("COMMIT")
"""
RAW_IMPORT_POSTGRES = f"""
import psycopg, sys
with psycopg.connect(sys.argv[1], options=sys.argv[3]) as conn:
    conn.execute("CREATE TEMP TABLE stage (uuid text, reference text, exchange text, slot text,"
                 " starts_at text, ends_at text, customer_name text, customer_email text,"
                 " customer_phone text, notes text, status text, created_at timestamptz,"
                 " updated_at timestamptz, confirmed_at timestamptz, completed_at timestamptz,"
                 " cancelled_at timestamptz, cancellation_reason text)")
    with open(sys.argv[2], "rb") as file, conn.cursor().copy(
            "COPY stage FROM STDIN WITH (FORMAT csv, HEADER)") as copy:
        while data := file.read(1 << 20):
            copy.write(data)
    conn.execute("INSERT INTO bookings ({BOOKING_COLUMNS}, time_slot_id, exchange_id)"
                 " SELECT st.uuid, st.reference, st.customer_name, st.customer_email,"
                 " st.customer_phone, st.notes, st.status, st.created_at, st.updated_at,"
                 " st.confirmed_at, st.completed_at, st.cancelled_at, st.cancellation_reason,"
                 " s.id, s.exchange_id FROM stage st JOIN time_slots s ON s.uuid = st.slot")
    conn.execute({RECOUNT!r})
"""


def _pg(url: str) -> tuple[str, str]:
    from urllib.parse import parse_qs, unquote, urlsplit

    query = parse_qs(urlsplit(url).query)
    plain = url.split("?", maxsplit=1)[0].replace("postgresql+psycopg", "postgresql")
    return plain, unquote(query.get("options", [""])[0])


def raw_export(url: str, path: Path) -> float:
    if url.startswith("sqlite"):
        return run(
            [sys.executable, "-c", RAW_EXPORT_SQLITE, url.removeprefix("sqlite:///"), str(path)]
        )[0]
    plain, options = _pg(url)
    return run([sys.executable, "-c", RAW_EXPORT_POSTGRES, plain, str(path), options])[0]


def raw_import(url: str, path: Path) -> float:
    if url.startswith("sqlite"):
        return run(
            [sys.executable, "-c", RAW_IMPORT_SQLITE, url.removeprefix("sqlite:///"), str(path)]
        )[0]
    plain, options = _pg(url)
    return run([sys.executable, "-c", RAW_IMPORT_POSTGRES, plain, str(path), options])[0]


def slotctl(url: str, *args: str) -> tuple[float, float]:
    return run([*SLOTCTL, "--database-url", url, *args], env={"SLOTCTL_NOW": NOW.isoformat()})


def measure(label: str, url: str, small_url: str, bookings: int, work: Path) -> list[str]:
    rows = []
    ours_file, raw_file = work / f"{label}-ours.csv", work / f"{label}-raw.csv"
    raw = raw_export(url, raw_file)
    ours, ours_mb = slotctl(url, "bookings", "export", "-o", str(ours_file))
    rows.append(
        f"| {label}: export {bookings:,} bookings | {ours:.2f} s | {raw:.2f} s | {ours / raw:.2f}x | <= 1.5x |"
    )
    _, small_export_mb = slotctl(small_url, "bookings", "export", "-o", str(work / "small.csv"))
    # XLSX: the same bookings as a workbook, against this run's CSV figures
    book_file, small_book = work / f"{label}-ours.xlsx", work / "small.xlsx"
    book, book_mb = slotctl(url, "bookings", "export", "-o", str(book_file))
    _, small_book_mb = slotctl(small_url, "bookings", "export", "-o", str(small_book))
    xlsx_rows = [
        f"| {label}: export {bookings:,} bookings as XLSX, vs CSV | {book:.2f} s | {ours:.2f} s"
        f" | {book / ours:.2f}x | |"
    ]
    stats, _ = slotctl(
        url,
        "stats",
        "--from",
        str(FIRST_DAY),
        "--to",
        str(FIRST_DAY + timedelta(days=DAYS - 1)),
        "-f",
        "json",
    )
    default_stats, _ = slotctl(url, "stats", "-f", "json")

    empty_bookings(url)
    raw = raw_import(url, raw_file)
    assert count_bookings(url)[0] == bookings
    empty_bookings(url)
    ours, import_mb = slotctl(url, "bookings", "import", str(ours_file))
    counted = count_bookings(url)
    assert counted[0] == bookings, counted
    rows.append(
        f"| {label}: import {bookings:,} bookings | {ours:.2f} s | {raw:.2f} s | {ours / raw:.2f}x | <= 1.5x |"
    )
    empty_bookings(url)
    book, book_import_mb = slotctl(url, "bookings", "import", str(book_file))
    assert count_bookings(url)[0] == bookings
    xlsx_rows.append(
        f"| {label}: import {bookings:,} bookings from XLSX, vs CSV | {book:.2f} s | {ours:.2f} s"
        f" | {book / ours:.2f}x | |"
    )
    empty_bookings(small_url)
    _, small_book_import_mb = slotctl(small_url, "bookings", "import", str(small_book))
    xlsx_rows.append(
        f"| {label}: XLSX export peak memory, {bookings:,} vs small file | {book_mb:.0f} MB"
        f" | {small_book_mb:.0f} MB | {book_mb / small_book_mb:.2f}x | <= 1.3x |"
    )
    xlsx_rows.append(
        f"| {label}: XLSX import peak memory, {bookings:,} vs small file | {book_import_mb:.0f} MB"
        f" | {small_book_import_mb:.0f} MB | {book_import_mb / small_book_import_mb:.2f}x | <= 1.3x |"
    )
    empty_bookings(small_url)
    _, small_import_mb = slotctl(small_url, "bookings", "import", str(work / "small.csv"))
    rows.append(
        f"| {label}: export peak memory, {bookings:,} vs small file | {ours_mb:.0f} MB | {small_export_mb:.0f} MB"
        f" | {ours_mb / small_export_mb:.2f}x | <= 1.3x |"
    )
    rows.append(
        f"| {label}: import peak memory, {bookings:,} vs small file | {import_mb:.0f} MB | {small_import_mb:.0f} MB"
        f" | {import_mb / small_import_mb:.2f}x | <= 1.3x |"
    )
    rows.append(
        f"| {label}: `slotctl stats --from --to`, the whole year: all {bookings:,} bookings | {stats:.2f} s | | | <= 1 s |"
    )
    rows.append(
        f"| {label}: `slotctl stats`, default window (30 days back and ahead), same database | {default_stats:.2f} s | | | |"
    )
    return rows + xlsx_rows


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bookings", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--postgres", help="URL of an empty PostgreSQL schema")
    parser.add_argument("--postgres-small", help="URL of a second empty schema (the small file)")
    parser.add_argument("--update-readme", action="store_true")
    parser.add_argument(
        "--block", default="transfer", help="the README's table to replace (bench:BLOCK)"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="slotctl-transfer-"))
    targets = [("SQLite", f"sqlite:///{work / 'big.db'}", f"sqlite:///{work / 'small.db'}")]
    if args.postgres:
        if not args.postgres_small:
            raise SystemExit("--postgres needs --postgres-small too")
        targets.append(("PostgreSQL", args.postgres, args.postgres_small))
    rows = []
    for label, url, small_url in targets:
        began = time.perf_counter()
        build(url, args.bookings)
        build(small_url, args.small)
        print(f"{label}: built in {time.perf_counter() - began:.0f} s", file=sys.stderr)
        rows += measure(label, url, small_url, args.bookings, work)
    import sqlite3

    lines = [
        f"{args.bookings:,} bookings on {len(ZONES) * DAYS * 16:,} slots of {len(ZONES)} exchanges;"
        f" small file {args.small:,}. Python {platform.python_version()}, SQLite {sqlite3.sqlite_version},"
        f" {os.cpu_count()} cores. Times are fresh processes, start-up included.",
        "",
        "| measurement | slotctl | baseline | ratio | target |",
        "|---|---:|---:|---:|---|",
        *rows,
    ]
    table = "\n".join(lines)
    print(table)
    if args.update_readme:
        update_readme(args.block, table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
