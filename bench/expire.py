"""``bookings expire-pending`` over 1,000,000 bookings of which 100,000 are stale.

    python bench/expire.py [--bookings 1000000] [--stale 100000] [--postgres URL] [--update-readme]

slotctl's service (one UPDATE ... RETURNING, the seats released per slot, the
events inserted) against the same work written as raw SQL (set-based statements
through the bare driver), on the same data, restored between the two. Also the
time of a run with nothing to expire (median of 21). Targets (issue 4): <= 1.5x
the raw SQL, and <= 50 ms with nothing to expire.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _common import update_readme

NOW = datetime(2027, 3, 20, 12, 0, tzinfo=UTC)
SLOTS = 10_000


def stamp(sqlite: bool, value: datetime) -> Any:
    return value.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else value


def build(url: str, bookings: int, stale: int) -> None:
    """Slots in the future (capacity 200) and bookings: the stale ones pending for a day."""
    from slotctl.db.engine import make_engine
    from slotctl.db.migrate import upgrade

    engine = make_engine(url)
    upgrade(engine)
    sqlite = engine.dialect.name == "sqlite"
    m = "?" if sqlite else "%s"
    with engine.begin() as conn:
        raw: Any = conn.connection.driver_connection
        cursor = raw.cursor()
        cursor.execute(
            "INSERT INTO exchanges (uuid, slug, name, timezone, is_active, min_notice_minutes,"
            f" created_at, updated_at) VALUES ('e', 'x', 'X', 'UTC', true, 0, {m}, {m})",
            (stamp(sqlite, NOW), stamp(sqlite, NOW)),
        )
        first = NOW + timedelta(days=1)
        cursor.executemany(
            "INSERT INTO time_slots (uuid, exchange_id, date, starts_at, ends_at, max_capacity,"
            f" current_bookings, is_available, created_at, updated_at) VALUES ({m}, 1, {m}, {m},"
            f" {m}, 200, 0, true, {m}, {m})",
            [
                (
                    f"s{n:035d}",
                    (first + timedelta(minutes=30 * n)).date(),
                    stamp(sqlite, first + timedelta(minutes=30 * n)),
                    stamp(sqlite, first + timedelta(minutes=30 * n + 30)),
                    stamp(sqlite, NOW),
                    stamp(sqlite, NOW),
                )
                for n in range(SLOTS)
            ],
        )
        old, fresh = (
            stamp(sqlite, NOW - timedelta(days=1)),
            stamp(sqlite, NOW - timedelta(minutes=5)),
        )
        batch = []
        for n in range(bookings):
            pending = n < stale
            batch.append(
                (
                    f"b{n:035d}",
                    f"R{n:09d}",
                    1 + n % SLOTS,
                    f"c{n}@example.com",
                    "pending" if pending else "confirmed",
                    old if pending else fresh,
                    old if pending else fresh,
                )
            )
            if len(batch) == 50_000:
                _insert_bookings(cursor, m, batch)
                batch.clear()
        _insert_bookings(cursor, m, batch)
        cursor.execute(
            "UPDATE time_slots SET current_bookings = (SELECT count(*) FROM bookings b"
            " WHERE b.time_slot_id = time_slots.id)"
        )
        cursor.execute("ANALYZE")
    engine.dispose()


def _insert_bookings(cursor: Any, m: str, rows: list[tuple[Any, ...]]) -> None:
    cursor.executemany(
        "INSERT INTO bookings (uuid, reference, time_slot_id, exchange_id, customer_name,"
        f" customer_email, status, created_at, updated_at) VALUES ({m}, {m}, {m}, 1, 'Bench',"
        f" {m}, {m}, {m}, {m})",
        rows,
    )


def restore(url: str) -> None:
    """Undo an expiry: the expired bookings pending again, counters and events as before."""
    from sqlalchemy import text

    from slotctl.db.engine import make_engine

    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM booking_events"))
        conn.execute(
            text(
                "UPDATE bookings SET status = 'pending', cancelled_at = NULL,"
                " cancellation_reason = NULL WHERE cancellation_reason = 'expired'"
            )
        )
        conn.execute(
            text(
                "UPDATE time_slots SET current_bookings = (SELECT count(*) FROM bookings b"
                " WHERE b.time_slot_id = time_slots.id)"
            )
        )
    engine.dispose()


UUID = (  # a canonical version 4 uuid, as slotctl writes them
    "lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' ||"
    " substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1)"
    " || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))"
)
RAW_SQLITE = [
    "CREATE TEMP TABLE expired AS SELECT id, time_slot_id FROM bookings"
    " WHERE status = 'pending' AND (created_at < :cutoff OR EXISTS (SELECT 1 FROM time_slots s"
    " WHERE s.id = bookings.time_slot_id AND s.starts_at <= :now))",
    "UPDATE bookings SET status = 'cancelled', cancelled_at = :now, cancellation_reason = 'expired',"
    " updated_at = :now WHERE id IN (SELECT id FROM expired)",
    "CREATE TEMP TABLE released (time_slot_id INTEGER PRIMARY KEY, n INTEGER)",
    "INSERT INTO released SELECT time_slot_id, count(*) FROM expired GROUP BY time_slot_id",
    "UPDATE time_slots SET current_bookings = current_bookings - r.n, updated_at = :now"
    " FROM released r WHERE r.time_slot_id = time_slots.id",
    "INSERT INTO booking_events (uuid, booking_id, at, actor, from_status, to_status, note,"
    " created_at, updated_at) SELECT " + UUID + ", id, :now, 'system', 'pending',"
    " 'cancelled', 'expired', :now, :now FROM expired",
    "DROP TABLE expired",
    "DROP TABLE released",
]
RAW_POSTGRES = (
    "WITH expired AS (UPDATE bookings SET status = 'cancelled', cancelled_at = %(now)s,"
    " cancellation_reason = 'expired', updated_at = %(now)s WHERE status = 'pending' AND"
    " (created_at < %(cutoff)s OR EXISTS (SELECT 1 FROM time_slots s WHERE s.id ="
    " bookings.time_slot_id AND s.starts_at <= %(now)s)) RETURNING id, time_slot_id),"
    " released AS (UPDATE time_slots t SET current_bookings = t.current_bookings - c.n,"
    " updated_at = %(now)s FROM (SELECT time_slot_id, count(*) AS n FROM expired GROUP BY"
    " time_slot_id) c WHERE t.id = c.time_slot_id)"
    " INSERT INTO booking_events (uuid, booking_id, at, actor, from_status, to_status, note,"
    " created_at, updated_at) SELECT gen_random_uuid()::text, id, %(now)s, 'system', 'pending',"
    " 'cancelled', 'expired', %(now)s, %(now)s FROM expired"
)


def raw_expire(url: str) -> float:
    cutoff = NOW - timedelta(minutes=30)
    if url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        params = {"now": stamp(True, NOW), "cutoff": stamp(True, cutoff)}
        start = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        for statement in RAW_SQLITE:
            conn.execute(statement, params)
        conn.execute("COMMIT")
        elapsed = time.perf_counter() - start
        conn.close()
        return elapsed
    import psycopg

    with psycopg.connect(
        url.split("?", maxsplit=1)[0].replace("postgresql+psycopg", "postgresql"),
        options=_pg_options(url),
    ) as conn:
        start = time.perf_counter()
        conn.execute(RAW_POSTGRES, {"now": NOW, "cutoff": cutoff})
        conn.commit()
        return time.perf_counter() - start


def _pg_options(url: str) -> str:
    from urllib.parse import parse_qs, unquote, urlsplit

    query = parse_qs(urlsplit(url).query)
    return unquote(query.get("options", [""])[0])


def slotctl_expire(url: str) -> tuple[float, int]:
    os.environ["SLOTCTL_NOW"] = NOW.isoformat()
    from slotctl.db.engine import make_engine, transaction
    from slotctl.services.bookings import expire_pending

    engine = make_engine(url)
    with transaction(engine, readonly=True):
        pass  # connect outside the timing
    start = time.perf_counter()
    with transaction(engine) as session:
        count = expire_pending(session, 30)
    elapsed = time.perf_counter() - start
    idle = []
    for _ in range(21):
        began = time.perf_counter()
        with transaction(engine) as session:
            assert expire_pending(session, 30) == 0
        idle.append(time.perf_counter() - began)
    engine.dispose()
    return elapsed, count, statistics.median(idle)  # type: ignore[return-value]


def count_expired(url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        n = int(
            conn.execute(
                text("SELECT count(*) FROM bookings WHERE status = 'cancelled'")
            ).scalar_one()
        )
    engine.dispose()
    return n


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bookings", type=int, default=1_000_000)
    parser.add_argument("--stale", type=int, default=100_000)
    parser.add_argument("--postgres", help="URL of an empty PostgreSQL schema")
    parser.add_argument("--update-readme", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="slotctl-expire-"))
    targets = [("SQLite", f"sqlite:///{work / 'expire.db'}")]
    if args.postgres:
        targets.append(("PostgreSQL", args.postgres))
    rows = []
    for label, url in targets:
        build(url, args.bookings, args.stale)
        ours, count, idle = slotctl_expire(url)  # type: ignore[misc]
        assert count == args.stale == count_expired(url), (count, args.stale)
        restore(url)
        raw = raw_expire(url)
        assert count_expired(url) == args.stale
        rows.append(
            f"| {label}: expire {args.stale:,} of {args.bookings:,} | {ours:.2f} s | {raw:.2f} s | {ours / raw:.2f}x | <= 1.5x |"
        )
        rows.append(
            f"| {label}: nothing to expire (median of 21) | {idle * 1000:.1f} ms | | | <= 50 ms |"
        )
    lines = [
        f"Python {platform.python_version()}, {os.cpu_count()} cores.",
        "",
        "| measurement | slotctl | raw SQL | ratio | target |",
        "|---|---:|---:|---:|---|",
        *rows,
    ]
    table = "\n".join(lines)
    print(table)
    if args.update_readme:
        update_readme("expire", table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
