"""``slotctl slots``: generation, queries, calendars and administration."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from slotctl.cli.options import (
    DryRun,
    Format,
    FromDate,
    OptionalSlug,
    OutputFormat,
    SlotRef,
    Slug,
    ToDate,
    Yes,
    confirm_after,
    group,
    optional,
    read,
    write,
)
from slotctl.cli.runtime import current
from slotctl.cli.transfer import import_command, period_export_command
from slotctl.errors import InvalidValue
from slotctl.wording import counted
from slotctl.wording import verb as agree

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from slotctl.records import Page, SlotRecord
    from slotctl.services.generate import GenerateResult
    from slotctl.services.slots import Selection

app = group("Generate, inspect and administer time slots.")

DEFAULT_LIMIT = 100
SLOT_TABLE = (  # a slot in a table: its record's fields less the instants and free seats
    "uuid", "exchange", "date", "start", "end",
    "current_bookings", "max_capacity", "is_available", "status",
)  # fmt: skip

Limit = Annotated[
    int,
    typer.Option("--limit", help="At most this many slots (0: no limit).", show_default=True),
]
SlotIds = Annotated[
    list[str] | None,
    typer.Argument(
        metavar="SLOT",
        help="Slots: uuid, 8+ character prefix, or SLUG@YYYY-MM-DDTHH:MM (local start). "
        "With --from/--to: one exchange slug.",
        show_default=False,
    ),
]


def _print_slots(
    records: Any,
    fmt: OutputFormat,
    title: str,
    empty: str = "no slots",
    table_columns: tuple[str, ...] = SLOT_TABLE,
) -> None:
    from slotctl.records import SLOT_FIELDS
    from slotctl.render import emit

    emit(
        records,
        fmt.value,
        columns=SLOT_FIELDS,
        title=title,
        empty=empty,
        table_columns=table_columns,
    )


def _print_page(page: Page[SlotRecord], fmt: OutputFormat, title: str, limit: int) -> None:
    from slotctl.render import notice

    _print_slots(page.records, fmt, title)
    if page.more:
        notice(
            f"Showing the first {counted(limit, 'slot')}; use --limit N (0 for all) to see more."
        )


def _duration(value: str | None, default: int) -> int:
    from slotctl.parsing import parse_duration

    return default if value is None else parse_duration(value)


@app.command("generate")
def generate(
    slugs: Annotated[
        list[str] | None,
        typer.Argument(metavar="SLUG", help="Exchanges to fill.", show_default=False),
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every active exchange.")] = False,
    from_: FromDate = None,
    to: ToDate = None,
    days: Annotated[
        int | None, optional("--days", "Days to fill from --from (default: setting generate_days).")
    ] = None,
    duration: Annotated[
        str | None,
        optional("--duration", "Slot length, e.g. 30, 45m, 1h (default: setting slot_minutes)."),
    ] = None,
    capacity: Annotated[
        int | None, optional("--capacity", "Seats per slot (default: setting slot_capacity).")
    ] = None,
    buffer: Annotated[str | None, optional("--buffer", "Gap after each slot, e.g. 10m.")] = None,
    prune: Annotated[
        bool,
        typer.Option("--prune", help="Delete future unbooked slots the hours no longer allow."),
    ] = False,
    dry_run: DryRun = False,
    fmt: Format = OutputFormat.table,
) -> None:
    """Create the slots the business hours allow.

    Idempotent; safe from cron.

    Never creates a slot that overlaps an existing one; skips closed dates and
    times that do not exist on daylight-saving days. Commits as it goes (a quarter
    of days per exchange at a time), so an interrupted run resumes where it stopped.

    \b
    Example:
      slotctl slots generate downtown --from 2027-03-22 --days 14 --duration 30 --capacity 2
    """
    from slotctl.render import emit, notice, progress_bar
    from slotctl.services.generate import GenerateRequest
    from slotctl.services.generate import generate as run

    if all_ == bool(slugs):
        raise InvalidValue("name exchanges or give --all (not both)")
    if to is not None and days is not None:
        raise InvalidValue("give --to or --days, not both")
    state = current()
    settings = state.settings
    request = GenerateRequest(
        from_date=from_,
        to_date=to,
        days=days if days is not None else settings.generate_days,
        duration=_duration(duration, settings.slot_minutes),
        capacity=capacity if capacity is not None else settings.slot_capacity,
        buffer=_duration(buffer, 0),
        prune=prune,
        dry_run=dry_run,
    )
    with progress_bar("Generating slots") as advance, state.chunked_session() as session:
        result = run(session, None if all_ else slugs, request, advance)
    if fmt is OutputFormat.json:
        emit(result.as_dict(), "json")
        return
    verb = "Would create" if dry_run else "Created"
    pruned = "would prune" if dry_run else "pruned"
    summary = (
        f"{verb} {counted(result.created, 'slot')}; skipped {result.skipped:,} "
        f"(already there or overlapping); {pruned} {result.pruned:,}; "
        f"{counted(len(result.orphaned), 'booked slot')} no longer "
        f"{agree(len(result.orphaned), 'fits', 'fit')} the hours."
    )
    if fmt is OutputFormat.csv:
        notice(summary)
        if dry_run:  # one table: what would happen to each slot
            _print_actions(result)
        else:
            _print_slots(result.orphaned, fmt, "Orphaned")
        return
    typer.echo(summary)
    if result.slots:
        _print_slots(result.slots, fmt, "Would create", table_columns=SLOT_TABLE[1:])
    if result.pruned_slots:
        _print_slots(result.pruned_slots, fmt, "Would prune")
    if result.orphaned:
        _print_slots(result.orphaned, fmt, "Booked slots outside the hours (orphaned)")


def _print_actions(result: GenerateResult) -> None:
    """A dry run's slots as CSV: an ``action`` column (create, prune, orphaned: booked,
    kept) before the slot's fields."""
    from slotctl.records import SLOT_FIELDS
    from slotctl.render import emit

    rows = [
        {"action": action, **slot}
        for action, slots in (
            ("create", result.slots),
            ("prune", result.pruned_slots),
            ("orphaned", result.orphaned),
        )
        for slot in slots
    ]
    emit(rows, "csv", columns=("action", *SLOT_FIELDS))


@app.command("list")
def list_(
    slug: OptionalSlug = None,
    from_: FromDate = None,
    to: ToDate = None,
    status: Annotated[
        str | None,
        optional("--status", "available, full, blocked or past."),
    ] = None,
    limit: Limit = DEFAULT_LIMIT,
    fmt: Format = OutputFormat.table,
) -> None:
    """List slots by start time.

    From today unless --from or --status past.

    \b
    Example:
      slotctl slots list downtown --from 2027-03-22 --to 2027-03-26 --status full
    """
    from slotctl.services.slots import list_slots

    if from_ is None and status != "past":
        from_ = "today"
    page = read(
        list_slots,
        slug,
        from_date=from_,
        to_date=to,
        status=status,
        limit=limit,
        default_timezone=current().settings.default_timezone,
    )
    _print_page(page, fmt, "Slots", limit)


@app.command("available")
def available(
    slug: Slug,
    from_: FromDate = None,
    to: ToDate = None,
    limit: Limit = DEFAULT_LIMIT,
    fmt: Format = OutputFormat.table,
) -> None:
    """Slots a customer can book now.

    Open, not full, within notice and advance.

    \b
    Example:
      slotctl slots available downtown --from today --to +7d
    """
    from slotctl.render import notice
    from slotctl.services.slots import available_slots

    page = read(available_slots, slug, from_date=from_, to_date=to, limit=limit)
    if page.inactive:
        notice(f"Exchange {slug} is inactive: nothing can be booked.")
    _print_page(page, fmt, "Bookable slots", limit)


@app.command("next")
def next_(
    slug: Slug,
    after: Annotated[
        str | None,
        optional(
            "--after", "Only after this time: YYYY-MM-DDTHH:MM (exchange local) or with an offset."
        ),
    ] = None,
    fmt: Format = OutputFormat.table,
) -> None:
    """The first bookable slot (exit 3 if there is none).

    \b
    Example:
      slotctl slots next downtown --after 2027-03-23T14:00
    """
    from slotctl.records import SLOT_FIELDS
    from slotctl.render import emit
    from slotctl.services.slots import next_slot

    record = read(next_slot, slug, after)
    emit(record, fmt.value, columns=SLOT_FIELDS)


@app.command("show")
def show(
    slot: SlotRef,
    fmt: Format = OutputFormat.table,
) -> None:
    """One slot with its bookings.

    \b
    Example:
      slotctl slots show downtown@2027-03-22T09:00
    """
    from slotctl.records import SLOT_FIELDS
    from slotctl.render import emit
    from slotctl.services.slots import show_slot

    record, timezone = read(show_slot, slot)
    emit(record, fmt.value, columns=(*SLOT_FIELDS, "bookings"), zone=timezone)


@app.command("calendar")
def calendar(
    slug: Slug,
    month: Annotated[str | None, optional("--month", "A month grid: YYYY-MM.")] = None,
    week: Annotated[
        str | None,
        optional("--week", "The week (Mon-Sun) containing DATE."),
    ] = None,
    day: Annotated[str | None, optional("--day", "The roster of DATE.")] = None,
    fmt: Format = OutputFormat.table,
) -> None:
    """How full the exchange is, as a calendar.

    A month grid (default: this month), a week, or a day.

    \b
    Example:
      slotctl slots calendar downtown --month 2027-03
    """
    from slotctl import localtime
    from slotctl.render import calendar as draw
    from slotctl.render import emit
    from slotctl.services import calendar as service
    from slotctl.services.lookup import exchange_by_slug

    if sum(x is not None for x in (month, week, day)) > 1:
        raise InvalidValue("give one of --month, --week or --day")
    with current().session(readonly=True) as session:
        timezone = exchange_by_slug(session, slug).timezone
        if week is not None or day is not None:
            when = localtime.date_spec(week or day or "", timezone)
            data = (
                service.week_agenda(session, slug, when)
                if week is not None
                else service.day_roster(session, slug, when)
            )
        else:
            today = localtime.today(timezone)
            year, number = service.parse_month(month) if month else (today.year, today.month)
            data = service.month_overview(session, slug, year, number)
    if week is not None:
        view, rows = draw.week_agenda, draw.week_rows
    elif day is not None:
        view, rows = draw.day_roster, draw.day_rows
    else:
        view, rows = draw.month_grid, draw.month_rows
    if fmt is OutputFormat.csv:  # flat: one row per date, slot or booking (docs/cli.md)
        records, columns = rows(data)
        emit(records, fmt.value, columns=columns)
    elif fmt is OutputFormat.json:
        emit(data, fmt.value)
    else:
        view(data)


@app.command("update")
def update(
    slot: SlotRef,
    capacity: Annotated[int | None, optional("--capacity", "New number of seats.")] = None,
    fmt: Format = OutputFormat.table,
) -> None:
    """Change a slot's capacity (not below the seats already booked).

    \b
    Example:
      slotctl slots update downtown@2027-03-22T09:00 --capacity 3
    """
    from slotctl.records import SLOT_FIELDS
    from slotctl.render import emit
    from slotctl.services.slots import update_capacity

    if capacity is None:
        raise InvalidValue("nothing to change: give --capacity N")
    emit(write(update_capacity, slot, capacity), fmt.value, columns=SLOT_FIELDS)


def _selection(idents: list[str] | None, from_: str | None, to: str | None) -> Selection:
    from slotctl.localtime import optional_date
    from slotctl.services.slots import Selection

    if from_ is not None or to is not None:
        if not idents or len(idents) != 1:
            raise InvalidValue("with --from/--to name exactly one exchange slug")
        return Selection(slug=idents[0], from_date=optional_date(from_), to_date=optional_date(to))
    return Selection(idents=idents or [])


def _block(
    idents: list[str] | None, from_: str | None, to: str | None, blocked: bool, fmt: OutputFormat
) -> None:
    from slotctl.render import notice
    from slotctl.services.slots import set_blocked

    records = write(set_blocked, _selection(idents, from_, to), blocked)
    notice(f"{'Blocked' if blocked else 'Unblocked'} {counted(len(records), 'slot')}.")
    _print_slots(records, fmt, "Blocked slots" if blocked else "Unblocked slots")


def _block_command(blocked: bool, doc: str) -> Any:
    """``slots block`` and ``slots unblock``: one signature, two directions."""

    def command(
        idents: SlotIds = None,
        from_: FromDate = None,
        to: ToDate = None,
        fmt: Format = OutputFormat.table,
    ) -> None:
        _block(idents, from_, to, blocked, fmt)

    command.__doc__ = doc
    return command


app.command("block")(
    _block_command(
        True,
        """Stop bookings on slots (existing bookings stay).

    \b
    Example:
      slotctl slots block downtown --from 2027-03-24 --to 2027-03-24
    """,
    )
)
app.command("unblock")(
    _block_command(
        False,
        """Take bookings on blocked slots again.

    \b
    Example:
      slotctl slots unblock downtown@2027-03-24T09:00 downtown@2027-03-24T09:30
    """,
    )
)


@app.command("capacity")
def capacity(
    slug: Slug,
    from_: Annotated[str, optional("--from", "First date.")],
    to: Annotated[str, optional("--to", "Last date (inclusive).")],
    set_: Annotated[int, optional("--set", "New number of seats.")],
    fmt: Format = OutputFormat.table,
) -> None:
    """Set the capacity of every slot in a range.

    Slots with more bookings stay unchanged.

    Exits 4 when some slots were left unchanged (they are listed); the rest are changed.

    \b
    Example:
      slotctl slots capacity downtown --from 2027-03-22 --to 2027-03-31 --set 3
    """
    from slotctl.errors import Conflict
    from slotctl.localtime import date_spec
    from slotctl.render import notice
    from slotctl.services.slots import bulk_capacity

    first, last = date_spec(from_), date_spec(to)
    outcome = write(bulk_capacity, slug, first, last, set_)
    summary = f"Set capacity {set_} on {counted(len(outcome.changed), 'slot')}"
    if outcome.refused:  # the listing on stdout, the summary in the one error line
        _print_slots(outcome.refused, fmt, "Unchanged: more bookings than the new capacity")
        raise Conflict(
            f"{summary}; {counted(len(outcome.refused), 'slot')} "
            f"{agree(len(outcome.refused), 'has', 'have')} more than {counted(set_, 'booking')}"
            f" and {agree(len(outcome.refused), 'was', 'were')} left unchanged"
        )
    notice(f"{summary}.")
    _print_slots(outcome.changed, fmt, "Changed slots")


@app.command("delete")
def delete(
    idents: SlotIds = None,
    from_: FromDate = None,
    to: ToDate = None,
    yes: Yes = False,
    dry_run: DryRun = False,
    fmt: Format = OutputFormat.table,
) -> None:
    """Delete slots that hold no seats.

    Those with bookings holding seats are refused and kept (exit 4).

    \b
    Example:
      slotctl slots delete downtown --from 2027-03-24 --to 2027-03-24 --dry-run
    """
    from slotctl.errors import Conflict
    from slotctl.render import notice
    from slotctl.services.slots import delete_slots

    selection = _selection(idents, from_, to)

    def question(session: Session) -> str:
        preview = delete_slots(session, selection, dry_run=True)
        return f"Delete {counted(len(preview.changed), 'slot')}?"

    if not dry_run:
        confirm_after(question, yes)
    with current().session(readonly=dry_run) as session:
        outcome = delete_slots(session, selection, dry_run=dry_run)
    verb = "Would delete" if dry_run else "Deleted"
    summary = f"{verb} {counted(len(outcome.changed), 'slot')}"
    if not outcome.refused:
        notice(f"{summary}.")
        _print_slots(outcome.changed, fmt, f"{verb} slots")
        return
    # The listings on stdout, the summary in the one error line on stderr.
    if outcome.changed or fmt is not OutputFormat.table:
        _print_slots(outcome.changed, fmt, f"{verb} slots")
    if fmt is OutputFormat.table:
        _print_slots(outcome.refused, fmt, "Refused: bookings hold seats")
    raise Conflict(
        f"{summary}; {counted(len(outcome.refused), 'slot')} "
        f"{agree(len(outcome.refused), 'has', 'have')} bookings holding seats and "
        f"{agree(len(outcome.refused), 'was', 'were')} kept"
    )


app.command("export")(
    period_export_command(
        "slots",
        """Export slots by start, streamed.

    CSV columns: the slot's JSON fields.

    \b
    Example:
      slotctl slots export downtown --from 2027-03-01 --to 2027-03-31 -o march.csv
    """,
    )
)


app.command("import")(
    import_command(
        "slots",
        """Import slots from CSV (upsert by uuid).

    Overlapping slots are refused.

    Required columns: exchange, starts_at and ends_at (or date, start and end),
    max_capacity. Counters, seats and status are recomputed.

    \b
    Example:
      slotctl slots import slots.csv --dry-run
    """,
    )
)
