"""``slotctl doctor`` and ``slotctl demo``."""

from __future__ import annotations

from typing import Annotated

import typer

from slotctl.cli.options import Format, OutputFormat, Yes, confirm
from slotctl.cli.runtime import current


def doctor(
    repair: Annotated[
        bool, typer.Option("--repair", help="Recompute current_bookings from the bookings.")
    ] = False,
    fmt: Format = OutputFormat.table,
) -> None:
    """Check the invariants (counters, capacity, duplicates, overlaps, stale pending).

    Exits 4 when any is broken. With --repair, slot counters are recomputed first.

    \b
    Example:
      slotctl doctor --repair
    """
    from slotctl.errors import Conflict
    from slotctl.render import emit, notice
    from slotctl.services.doctor import VIOLATION_FIELDS, check, repair_counters

    state = current()
    if repair:
        with state.session() as session:
            repaired, _ = repair_counters(session)
        notice(f"Repaired {repaired} slot counters.")
    with state.session(readonly=True) as session:
        violations = check(session)
    if not violations:
        if fmt is OutputFormat.table:
            typer.echo("All invariants hold.")
        else:
            emit([], fmt.value, columns=VIOLATION_FIELDS)
        return
    emit(violations, fmt.value, columns=VIOLATION_FIELDS, title="Invariant violations")
    raise Conflict(f"{len(violations)} invariant violations")


def demo(
    reset: Annotated[
        bool, typer.Option("--reset", help="Replace whatever the database holds.")
    ] = False,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same demo).")] = 7,
    yes: Yes = False,
    fmt: Format = OutputFormat.table,
) -> None:
    """Fill the database with a realistic demo, then show a calendar and the stats.

    Several exchanges in different timezones, shifts, a closure, four weeks of slots
    (two past, two ahead) and a few hundred bookings in every status. Refuses a
    database that holds data unless --reset.

    \b
    Example:
      slotctl demo --reset --yes
    """
    from zoneinfo import ZoneInfo

    from slotctl import clock
    from slotctl.render import calendar as draw
    from slotctl.render import emit
    from slotctl.render.stats import show
    from slotctl.services.demo import build_demo, holds_data, wipe
    from slotctl.services.slots import month_overview
    from slotctl.services.stats import stats

    state = current()
    if reset:
        with state.session(readonly=True) as session:
            has_data = holds_data(session)
        if has_data:
            confirm("Delete everything in the database and build the demo?", yes)
            with state.session() as session:
                wipe(session)
    with state.session() as session:
        summary = build_demo(session, seed=seed, actor=state.settings.actor)
    if fmt is not OutputFormat.table:
        emit(summary, fmt.value)
        return
    with state.session(readonly=True) as session:
        first = summary["exchanges"][0]
        today = clock.now().astimezone(ZoneInfo(first["timezone"])).date()
        month = month_overview(session, first["slug"], today.year, today.month)
    draw.month_grid(month)
    total = sum(summary["bookings"].values())
    typer.echo(
        f"Demo (seed {seed}): {len(summary['exchanges'])} exchanges, {summary['slots']} slots, "
        f"{total} bookings. Try `slotctl slots calendar {first['slug']} --week today`."
    )
    with state.session(readonly=True) as session:
        figures = stats(session, None, default_timezone=first["timezone"])
    show(figures, "all exchanges")
