"""``slotctl stats`` over 1,000,000 bookings: service time and process time.

    python bench/stats.py [--bookings 1000000] [--postgres URL] [--update-readme]

The data of bench/transfer.py (10 exchanges, a year of slots, the bookings in
every status). Service time: the service behind ``slotctl stats --from --to``
over the whole year, in one read-only transaction (median of 5, after a
warm-up). Process time: ``slotctl stats --from --to -f json`` as a fresh
process, start-up included. Target (issue 5): <= 1 s.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import update_readme
from transfer import DAYS, FIRST_DAY, NOW, build, slotctl

LAST_DAY = FIRST_DAY + timedelta(days=DAYS - 1)


def service_times(url: str) -> tuple[float, dict[str, float]]:
    """Median service time over the year, and the time of each of its three queries."""
    os.environ["SLOTCTL_NOW"] = NOW.isoformat()
    from slotctl.db.engine import make_engine, transaction
    from slotctl.services import stats as service

    parts: dict[str, list[float]] = {}
    for name in ("_slot_groups", "_booking_groups", "_medians"):
        original = getattr(service, name)

        def timed(*args: object, _f: object = original, _n: str = name, **kwargs: object) -> object:
            began = time.perf_counter()
            result = _f(*args, **kwargs)  # type: ignore[operator]
            if hasattr(result, "__next__"):
                result = list(result)
            parts.setdefault(_n, []).append(time.perf_counter() - began)
            return result

        setattr(service, name, timed)
    engine = make_engine(url)
    times = []
    for _ in range(6):
        began = time.perf_counter()
        with transaction(engine, readonly=True) as session:
            service.stats(session, None, from_date=str(FIRST_DAY), to_date=str(LAST_DAY))
        times.append(time.perf_counter() - began)
    engine.dispose()
    return statistics.median(times[1:]), {k: statistics.median(v[1:]) for k, v in parts.items()}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bookings", type=int, default=1_000_000)
    parser.add_argument("--postgres", help="URL of an empty PostgreSQL schema")
    parser.add_argument("--update-readme", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="slotctl-stats-"))
    targets = [("SQLite", f"sqlite:///{work / 'stats.db'}")]
    if args.postgres:
        targets.append(("PostgreSQL", args.postgres))
    rows = []
    for label, url in targets:
        build(url, args.bookings)
        service, parts = service_times(url)
        process, _ = slotctl(
            url, "stats", "--from", str(FIRST_DAY), "--to", str(LAST_DAY), "-f", "json"
        )
        detail = ", ".join(
            f"{name.strip('_').replace('_', ' ')} {seconds:.2f} s"
            for name, seconds in parts.items()
        )
        rows.append(f"| {label} | {service:.2f} s ({detail}) | {process:.2f} s | <= 1 s |")
    lines = [
        f"{args.bookings:,} bookings, stats over the whole year (every booking)."
        f" Python {platform.python_version()}, {os.cpu_count()} cores.",
        "",
        "| database | service time (its queries) | process | target |",
        "|---|---:|---:|---|",
        *rows,
    ]
    table = "\n".join(lines)
    print(table)
    if args.update_readme:
        update_readme("stats", table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
