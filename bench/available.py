"""``slots available`` must not grow with the table.

    python bench/available.py [--slots 10000000] [--small 100000] [--postgres URL] [--update-readme]

Builds two SQLite databases with slotctl's own generator (weekday 09:00-17:00,
15-minute slots, Europe/Berlin): one of ``--small`` slots and one of ``--slots``
slots. Then times the service behind ``slotctl slots available SLUG --from D
--to D+6`` (the command's default ``--limit 100``), one read-only transaction per
call as the CLI runs it, 300 calls each over exchanges and weeks spread through
the data, and reports medians. With ``--postgres`` (an empty schema's URL) the
large case is repeated on PostgreSQL. Targets (issue 3): median <= 2 ms, and the
large database <= 1.5x the small one.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import update_readme
from generate import prepare

SLOTS_PER_EXCHANGE_YEAR = 261 * 32  # weekdays x 15-minute slots in 8 hours
FIRST = date(2027, 1, 4)
CALLS = 300


def build(url: str, slots: int) -> tuple[int, int]:
    """Exchanges and days holding about ``slots`` slots; returns (exchanges, days)."""
    from slotctl.db.engine import chunked, make_engine
    from slotctl.services.generate import GenerateRequest, generate

    years = 3 if slots >= 1_000_000 else 1
    days = 365 * years
    exchanges = max(1, round(slots / (SLOTS_PER_EXCHANGE_YEAR * years)))
    prepare(url, exchanges, {})
    engine = make_engine(url)
    request = GenerateRequest(
        from_date=FIRST.isoformat(), to_date=None, days=days, duration=15, capacity=2
    )
    with chunked(engine) as session:
        generate(session, None, request)
    engine.dispose()
    return exchanges, days


def measure(url: str, exchanges: int, days: int) -> float:
    """Median milliseconds of one ``slots available`` service call."""
    from slotctl.db.engine import make_engine, transaction
    from slotctl.services.slots import available_slots

    engine = make_engine(url)
    times = []
    for call in range(CALLS + 20):
        slug = f"ex{(call * 37) % exchanges:03d}"
        start_day = FIRST + timedelta(days=(call * 53) % max(1, days - 7))
        begin = time.perf_counter()
        with transaction(engine, readonly=True) as session:
            page = available_slots(
                session,
                slug,
                from_date=start_day.isoformat(),
                to_date=(start_day + timedelta(days=6)).isoformat(),
                limit=100,
            )
        elapsed = time.perf_counter() - begin
        assert page.records, "the window should hold bookable slots"
        if call >= 20:  # warm-up
            times.append(elapsed)
    engine.dispose()
    return statistics.median(times) * 1000


def count(url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        total = int(conn.execute(text("SELECT count(*) FROM time_slots")).scalar_one())
    engine.dispose()
    return total


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--slots", type=int, default=10_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--postgres", help="URL of an empty PostgreSQL schema for the large case")
    parser.add_argument("--workdir", help="keep the databases here (reused when present)")
    parser.add_argument("--update-readme", action="store_true")
    args = parser.parse_args()
    os.environ["SLOTCTL_NOW"] = "2027-01-01T00:00:00+00:00"
    work = Path(args.workdir or tempfile.mkdtemp(prefix="slotctl-avail-"))
    work.mkdir(parents=True, exist_ok=True)

    rows = []
    results: dict[str, float] = {}
    for label, target in (("small", args.small), ("large", args.slots)):
        path = work / f"{label}-{target}.db"
        url = f"sqlite:///{path}"
        shape_file = path.with_suffix(".shape")
        if not path.exists():
            started = time.perf_counter()
            shape = build(url, target)
            shape_file.write_text(f"{shape[0]} {shape[1]}")
            print(f"built {label}: {count(url):,} slots in {time.perf_counter() - started:.0f} s")
        exchanges, days = (int(x) for x in shape_file.read_text().split())
        total = count(url)
        results[label] = measure(url, exchanges, days)
        rows.append((f"SQLite, {total:,} slots ({exchanges} exchanges)", results[label], total))
    if args.postgres:
        shape_file = work / f"postgres-{args.slots}.shape"
        if not shape_file.exists():
            shape_file.write_text("{} {}".format(*build(args.postgres, args.slots)))
        exchanges, days = (int(x) for x in shape_file.read_text().split())
        total = count(args.postgres)
        rows.append(
            (
                f"PostgreSQL, {total:,} slots ({exchanges} exchanges)",
                measure(args.postgres, exchanges, days),
                total,
            )
        )

    ratio = results["large"] / results["small"]
    lines = [
        f"Median of {CALLS} calls of the service behind `slotctl slots available SLUG --from D "
        f"--to D+6` (limit 100, one read-only transaction each). Python "
        f"{platform.python_version()}, {os.cpu_count()} cores.",
        "",
        "| database | median service time | target |",
        "|---|---:|---|",
        *[f"| {label} | {ms:.2f} ms | <= 2 ms |" for label, ms, _ in rows],
        f"| ratio, large / small SQLite | {ratio:.2f}x | <= 1.5x |",
    ]
    table = "\n".join(lines)
    print(table)
    if args.update_readme:
        update_readme("available", table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
