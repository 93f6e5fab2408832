"""Slot generation at bulk speed, against baselines measured in the same run.

    python bench/generate.py [--exchanges 100] [--days 365] [--postgres URL] [--update-readme]

Workload (issue 3): one year of 15-minute slots, Mon-Fri 09:00-17:00, for 100
exchanges in Europe/Berlin (about 835,000 slots).

* slotctl: ``slotctl slots generate --all`` as a fresh process (start-up included),
  then the same command again (everything exists);
* raw sqlite3: a plain loop computing the same rows (zoneinfo, uuid4) and
  ``executemany`` into the same migrated table and indexes;
* Django: ``bulk_create(batch_size=1000, ignore_conflicts=True)`` on an equivalent
  model with the same unique constraint and index (the approach slotctl replaces);
* PostgreSQL (with --postgres): slotctl against psycopg ``COPY`` of the same rows.

Peak memory is the child's maximum resident set size.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).parent))
from _common import update_readme

ZONE = "Europe/Berlin"
FIRST_DAY = date(2027, 1, 4)


def slotctl_bin() -> str:
    found = shutil.which("slotctl", path=str(Path(sys.executable).parent)) or shutil.which(
        "slotctl"
    )
    if found is None:
        raise SystemExit("slotctl is not installed next to this Python (pip install .)")
    return found


def run(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one child process."""
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{command} failed")
    return elapsed, usage.ru_maxrss / 1024


def prepare(url: str, exchanges: int, env: dict[str, str]) -> None:
    """A migrated database with the exchanges and their weekday hours."""
    from slotctl.db.engine import make_engine, transaction
    from slotctl.db.migrate import upgrade
    from slotctl.services.exchanges import add_exchange
    from slotctl.services.hours import set_hours

    engine = make_engine(url)
    upgrade(engine)
    with transaction(engine) as session:
        for number in range(exchanges):
            slug = f"ex{number:03d}"
            add_exchange(session, slug, name=slug, timezone=ZONE)
            set_hours(session, slug, [([0, 1, 2, 3, 4], [(9 * 60, 17 * 60)])])
    engine.dispose()


def rows(exchanges: int, days: int) -> Iterator[tuple[int, date, datetime, datetime]]:
    """The same slots, computed the plain way: one zoneinfo conversion per slot."""
    zone = ZoneInfo(ZONE)
    length = timedelta(minutes=15)
    for exchange_id in range(1, exchanges + 1):
        for offset in range(days):
            day = FIRST_DAY + timedelta(days=offset)
            if day.weekday() >= 5:
                continue
            for minute in range(9 * 60, 17 * 60, 15):
                local = datetime(
                    day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=zone
                )
                start = local.astimezone(UTC)
                yield exchange_id, day, start, start + length


def sqlite_text(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


def raw_sqlite(path: Path, exchanges: int, days: int) -> float:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    stamp = sqlite_text(datetime.now(UTC))
    sql = (
        "INSERT INTO time_slots (uuid, exchange_id, date, starts_at, ends_at, max_capacity, "
        "current_bookings, is_available, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, 1, 0, 1, ?, ?)"
    )
    start = time.perf_counter()
    connection.execute("BEGIN")
    batch: list[tuple[object, ...]] = []
    for exchange_id, day, begins, ends in rows(exchanges, days):
        batch.append(
            (
                str(uuid.uuid4()),
                exchange_id,
                day.isoformat(),
                sqlite_text(begins),
                sqlite_text(ends),
                stamp,
                stamp,
            )
        )
        if len(batch) >= 10_000:
            connection.executemany(sql, batch)
            batch.clear()
    connection.executemany(sql, batch)
    connection.execute("COMMIT")
    elapsed = time.perf_counter() - start
    connection.close()
    return elapsed


def raw_copy_postgres(url: str, exchanges: int, days: int) -> float:
    import psycopg

    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    stamp = datetime.now(UTC)
    with psycopg.connect(conninfo) as connection:
        start = time.perf_counter()
        with (
            connection.cursor() as cursor,
            cursor.copy(
                "COPY time_slots (uuid, exchange_id, date, starts_at, ends_at, max_capacity, "
                "current_bookings, is_available, created_at, updated_at) FROM STDIN"
            ) as copy,
        ):
            for exchange_id, day, begins, ends in rows(exchanges, days):
                copy.write_row(
                    (str(uuid.uuid4()), exchange_id, day, begins, ends, 1, 0, True, stamp, stamp)
                )
        connection.commit()
        return time.perf_counter() - start


DJANGO_SCRIPT = r"""
import sys, time, uuid
from datetime import UTC, datetime
import django
from django.conf import settings
settings.configure(
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": sys.argv[1]}},
    INSTALLED_APPS=[], USE_TZ=True, TIME_ZONE="UTC",
)
django.setup()
from django.db import connection, models

class Exchange(models.Model):
    slug = models.CharField(max_length=64, unique=True)
    class Meta:
        app_label = "bench"

class TimeSlot(models.Model):
    uuid = models.CharField(max_length=36, unique=True)
    exchange = models.ForeignKey(Exchange, on_delete=models.CASCADE)
    date = models.DateField()
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    max_capacity = models.IntegerField()
    current_bookings = models.IntegerField(default=0)
    is_available = models.BooleanField(default=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    class Meta:
        app_label = "bench"
        constraints = [models.UniqueConstraint(fields=["exchange", "starts_at"], name="uq_slot")]
        indexes = [models.Index(fields=["starts_at"])]

with connection.schema_editor() as editor:
    editor.create_model(Exchange)
    editor.create_model(TimeSlot)
exchanges, days = int(sys.argv[2]), int(sys.argv[3])
Exchange.objects.bulk_create([Exchange(slug=f"ex{i:03d}") for i in range(exchanges)])
sys.path.insert(0, sys.argv[4])
from generate import rows
stamp = datetime.now(UTC)
start = time.perf_counter()
TimeSlot.objects.bulk_create(
    (TimeSlot(uuid=str(uuid.uuid4()), exchange_id=e, date=d, starts_at=s, ends_at=t,
              max_capacity=1, created_at=stamp, updated_at=stamp)
     for e, d, s, t in rows(exchanges, days)),
    batch_size=1000, ignore_conflicts=True,
)
print(time.perf_counter() - start)
assert TimeSlot.objects.count() > 0
"""


def django_bulk_create(path: Path, exchanges: int, days: int) -> float | None:
    try:
        import django  # noqa: F401
    except ImportError:
        return None
    script = path.with_name("django_baseline.py")
    script.write_text(DJANGO_SCRIPT)
    out = subprocess.run(
        [
            sys.executable,
            str(script),
            str(path),
            str(exchanges),
            str(days),
            str(Path(__file__).parent),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def count(url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        n = int(conn.execute(text("SELECT count(*) FROM time_slots")).scalar_one())
    engine.dispose()
    return n


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--exchanges", type=int, default=100)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--postgres", help="PostgreSQL URL of an empty scratch database or schema")
    parser.add_argument("--update-readme", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="slotctl-bench-"))
    env = {**os.environ, "SLOTCTL_NOW": "2027-01-01T00:00:00+00:00", "HOME": str(work)}
    command = [
        slotctl_bin(),
        "slots",
        "generate",
        "--all",
        "--from",
        FIRST_DAY.isoformat(),
        "--days",
        str(args.days),
        "--duration",
        "15",
        "--capacity",
        "1",
        "--format",
        "json",
    ]

    results: list[tuple[str, str, str, str]] = []
    sqlite_url = f"sqlite:///{work / 'slotctl.db'}"
    prepare(sqlite_url, args.exchanges, env)
    first, peak = run(command, {**env, "SLOTCTL_DATABASE_URL": sqlite_url})
    total = count(sqlite_url)
    again, _ = run(command, {**env, "SLOTCTL_DATABASE_URL": sqlite_url})

    raw_path = work / "raw.db"
    prepare(f"sqlite:///{raw_path}", args.exchanges, env)
    raw = raw_sqlite(raw_path, args.exchanges, args.days)
    assert count(f"sqlite:///{raw_path}") == total, "the baseline wrote other rows"
    django = django_bulk_create(work / "django.db", args.exchanges, args.days)

    results.append(
        ("SQLite: slotctl slots generate (process, start-up included)", f"{first:.2f} s", "", "—")
    )
    results.append(
        (
            "SQLite: raw sqlite3 executemany loop (baseline)",
            f"{raw:.2f} s",
            f"{first / raw:.2f}x",
            "<= 1.0x",
        )
    )
    if django is not None:
        results.append(
            (
                "SQLite: Django bulk_create(batch_size=1000, ignore_conflicts=True)",
                f"{django:.2f} s",
                f"{django / first:.1f}x faster",
                ">= 4x faster",
            )
        )
    results.append(
        (
            "SQLite: second identical run (everything exists)",
            f"{again:.2f} s",
            f"{again / first:.2f}x",
            "<= 0.2x",
        )
    )
    results.append(("SQLite: peak memory of slotctl", f"{peak:.0f} MB", "", "<= 200 MB"))

    if args.postgres:
        from sqlalchemy import create_engine, text

        prepare(args.postgres, args.exchanges, env)
        pg_first, pg_peak = run(command, {**env, "SLOTCTL_DATABASE_URL": args.postgres})
        pg_total = count(args.postgres)
        pg_again, _ = run(command, {**env, "SLOTCTL_DATABASE_URL": args.postgres})
        engine = create_engine(args.postgres)
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM time_slots"))
        engine.dispose()
        copy = raw_copy_postgres(args.postgres, args.exchanges, args.days)
        assert count(args.postgres) == pg_total
        results.append(("PostgreSQL: slotctl slots generate", f"{pg_first:.2f} s", "", "—"))
        results.append(
            (
                "PostgreSQL: psycopg COPY of the same rows (baseline)",
                f"{copy:.2f} s",
                f"{pg_first / copy:.2f}x",
                "<= 1.3x",
            )
        )
        results.append(
            (
                "PostgreSQL: second identical run",
                f"{pg_again:.2f} s",
                f"{pg_again / pg_first:.2f}x",
                "<= 0.2x",
            )
        )
        results.append(("PostgreSQL: peak memory of slotctl", f"{pg_peak:.0f} MB", "", "<= 200 MB"))

    lines = [
        f"{total:,} slots ({args.exchanges} exchanges x {args.days} days, 15-minute slots Mon-Fri "
        f"09:00-17:00). Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"{os.cpu_count()} cores.",
        "",
        "| measurement | time / memory | ratio | target |",
        "|---|---:|---:|---|",
        *[f"| {a} | {b} | {c} | {d} |" for a, b, c, d in results],
    ]
    table = "\n".join(lines)
    print(table)
    if args.update_readme:
        update_readme("generate", table)
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
