"""``slotctl doctor`` and ``slotctl demo``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from slotctl.cli.options import Format, OutputFormat, Yes, confirm, read, write
from slotctl.cli.runtime import current
from slotctl.wording import counted


def doctor(
    repair: Annotated[
        bool, typer.Option("--repair", help="Recompute current_bookings from the bookings.")
    ] = False,
    fmt: Format = OutputFormat.table,
) -> None:
    """Check the invariants (exit 4 when one is broken).

    Counters, capacity, duplicates, overlaps, stale pending, timestamps that contradict
    a booking's status, an audit trail that ends elsewhere; at the front desk, a
    ticket's call that contradicts its status, a ticket whose booking says otherwise,
    a waitlist entry without its booking.

    Exits 4 when any is broken. With --repair, slot counters are recomputed first.

    \b
    Example:
      slotctl doctor --repair
    """
    from slotctl.errors import Conflict
    from slotctl.records import VIOLATION_FIELDS
    from slotctl.render import emit, notice
    from slotctl.services.doctor import check, repair_counters

    repaired = f"Repaired {counted(write(repair_counters)[0], 'slot counter')}" if repair else ""
    violations = read(check)
    if not violations:
        if repaired:
            notice(f"{repaired}.")
        if fmt is OutputFormat.table:
            typer.echo("All invariants hold.")
        else:
            emit([], fmt.value, columns=VIOLATION_FIELDS)
        return
    emit(violations, fmt.value, columns=VIOLATION_FIELDS, title="Invariant violations")
    summary = counted(len(violations), "invariant violation")
    raise Conflict(f"{repaired}; {summary}" if repaired else summary)


def demo(
    reset: Annotated[
        bool, typer.Option("--reset", help="Replace whatever the database holds.")
    ] = False,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same demo).")] = 7,
    yes: Yes = False,
    fmt: Format = OutputFormat.table,
) -> None:
    """Fill the database with a realistic demo.

    Then show a calendar of the demo's weeks, the stats and the first exchange's queue.

    Several exchanges in different timezones, shifts, a closure, four weeks of slots
    (two past, two ahead) and a few hundred bookings in every status; and a morning at
    the first exchange's front desk up to now (check-ins, walk-ins, tickets called to
    counters, served, requeued, a no-show, some still waiting) with its waitlist (one
    entry booked by itself when a seat was cancelled). Refuses a database that holds
    data unless --reset.

    \b
    Example:
      slotctl demo --reset --yes
    """
    from slotctl.localtime import today
    from slotctl.render import calendar as draw
    from slotctl.render import emit
    from slotctl.render.stats import show
    from slotctl.services.calendar import weeks_overview
    from slotctl.services.demo import build_demo, demo_dates, holds_data
    from slotctl.services.stats import stats

    if reset and read(holds_data):
        confirm("Delete everything in the database and build the demo?", yes)
    summary = write(build_demo, seed=seed, actor=current().settings.actor, reset=reset)
    if fmt is not OutputFormat.table:
        emit(summary, fmt.value)
        return
    first = summary["exchanges"][0]
    # The weeks that hold the demo, not this month: at a month's end most of it is in the next.
    dates = demo_dates(today(first["timezone"]))
    draw.month_grid(read(weeks_overview, first["slug"], *dates))
    total = sum(summary["bookings"].values())
    typer.echo(
        f"Demo (seed {seed}): {counted(len(summary['exchanges']), 'exchange')}, "
        f"{counted(summary['slots'], 'slot')}, {counted(total, 'booking')}. "
        f"Try `slotctl slots calendar {first['slug']} --week today`."
    )
    show(read(stats, None, default_timezone=first["timezone"]), "all exchanges")
    _front_desk(first["slug"], summary)


def _front_desk(slug: str, summary: dict[str, Any]) -> None:
    """The demo's queue now, and what its front desk and waitlist hold."""
    from slotctl.cli.queue import print_tickets
    from slotctl.services.queue import list_queue

    def counts(by_status: dict[str, int]) -> str:
        return ", ".join(f"{n} {status}" for status, n in by_status.items() if n)

    waiting = read(list_queue, slug)
    if waiting:
        print_tickets(waiting, OutputFormat.table, f"Queue at {slug} now")
    tickets = summary["tickets"]
    typer.echo(
        f"Front desk at {slug}: {counted(sum(tickets.values()), 'ticket')} ({counts(tickets)}); "
        f"waitlist: {counts(summary['waitlist'])}. Try `slotctl queue next {slug} --counter 2` "
        f"and `slotctl waitlist list --status all`."
    )
