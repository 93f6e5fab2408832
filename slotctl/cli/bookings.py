"""``slotctl bookings``: take seats, walk the lifecycle, query, and expire."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from slotctl.cli.options import (
    DryRun,
    Format,
    FromDate,
    OutputFormat,
    SlotRef,
    Slug,
    ToDate,
    group,
    read,
    write,
)
from slotctl.cli.runtime import current
from slotctl.cli.transfer import BookingsAs, Output, export_records, import_command
from slotctl.wording import counted

if TYPE_CHECKING:
    from slotctl.services.bookings import Filters

T = TypeVar("T")

app = group("Take bookings and move them through their lifecycle.")

BOOKING_TABLE = ("reference", "exchange", "starts_at", "customer_name", "status")
DEFAULT_LIMIT = 100

BookingIds = Annotated[
    list[str],
    typer.Argument(metavar="BOOKING", help="References (BK-...), uuids or 8+ character prefixes."),
]
BookingRef = Annotated[str, typer.Argument(metavar="BOOKING", help="Reference, uuid or prefix.")]
ExchangeFilter = Annotated[
    str | None, typer.Option("--exchange", help="Only this exchange (slug).", show_default=False)
]
CustomerFilter = Annotated[
    str | None, typer.Option("--customer", help="Only this customer (email).", show_default=False)
]
StatusFilter = Annotated[
    str | None,
    typer.Option(
        "--status",
        help="pending, confirmed, completed, no_show or cancelled.",
        show_default=False,
    ),
]
Limit = Annotated[int, typer.Option("--limit", help="At most this many (0: no limit).")]


def _print(
    data: Any, fmt: OutputFormat, title: str = "Bookings", empty: str = "no bookings"
) -> None:
    from slotctl.records import BOOKING_FIELDS
    from slotctl.render import emit

    emit(
        data,
        fmt.value,
        columns=BOOKING_FIELDS,
        title=title,
        empty=empty,
        table_columns=BOOKING_TABLE,
    )


def _actor() -> str:
    return current().settings.actor


@app.command("create")
def create(
    slot: SlotRef,
    name: Annotated[str, typer.Option("--name", help="The customer's name.", show_default=False)],
    email: Annotated[
        str, typer.Option("--email", help="The customer's email.", show_default=False)
    ],
    phone: Annotated[
        str | None, typer.Option("--phone", help="Phone number.", show_default=False)
    ] = None,
    notes: Annotated[
        str | None, typer.Option("--notes", help="Free text.", show_default=False)
    ] = None,
    confirm: Annotated[
        bool, typer.Option("--confirm", help="Create it confirmed, not pending.")
    ] = False,
    allow_overlap: Annotated[
        bool,
        typer.Option(
            "--allow-overlap",
            help="Allow another active booking of this customer at the same time.",
        ),
    ] = False,
    fmt: Format = OutputFormat.table,
) -> None:
    """Take a seat atomically.

    Refused (exit 4) when full, blocked, too late or a duplicate.

    \b
    Example:
      slotctl bookings create downtown@2027-03-22T09:00 --name "Ann Lee" --email ann@example.com --confirm
    """
    from slotctl.services.bookings import NewBooking, create_booking

    new = NewBooking(name, email, phone, notes, confirm, allow_overlap)
    with current().staged_session() as session:
        record = create_booking(session, slot, new, _actor())
    _print(record, fmt)


def _listing(filters: Filters, fmt: OutputFormat, title: str) -> None:
    from slotctl.render import notice
    from slotctl.services.bookings import list_bookings

    filters.default_timezone = current().settings.default_timezone
    page = read(list_bookings, filters)
    _print(page.records, fmt, title)
    if page.more:
        notice(
            f"Showing the {'latest' if filters.when == 'history' else 'first'} "
            f"{counted(filters.limit or 0, 'booking')}; use --limit N (0 for all) to see more."
        )


def _query_command(when: str | None, title: str, doc: str) -> Any:
    """``bookings list``, ``upcoming`` and ``history``: one signature, three windows."""

    def command(
        exchange: ExchangeFilter = None,
        customer: CustomerFilter = None,
        status: StatusFilter = None,
        from_: FromDate = None,
        to: ToDate = None,
        limit: Limit = DEFAULT_LIMIT,
        fmt: Format = OutputFormat.table,
    ) -> None:
        from slotctl.services.bookings import Filters

        span = Filters(
            exchange, from_, to, customer=customer, status=status, limit=limit, when=when
        )
        _listing(span, fmt, title)

    command.__doc__ = doc
    return command


app.command("list")(
    _query_command(
        None,
        "Bookings",
        """List bookings by their slot's start, then creation time.

    \b
    Example:
      slotctl bookings list --exchange downtown --status pending --from today
    """,
    )
)
app.command("upcoming")(
    _query_command(
        "upcoming",
        "Upcoming bookings",
        """Bookings whose slot has not started yet, soonest first.

    \b
    Example:
      slotctl bookings upcoming --customer ann@example.com
    """,
    )
)
app.command("history")(
    _query_command(
        "history",
        "Past bookings",
        """Bookings whose slot has started, in slot order.

    --limit keeps the most recent.

    \b
    Example:
      slotctl bookings history --exchange downtown --status no_show --from -30d
    """,
    )
)


@app.command("day")
def day(
    slug: Slug,
    date: Annotated[
        str | None,
        typer.Argument(
            metavar="DATE",
            help="YYYY-MM-DD, today, tomorrow or +Nd (default today).",
            show_default=False,
        ),
    ] = None,
    fmt: Format = OutputFormat.table,
) -> None:
    """The day's roster in slot order.

    \b
    Example:
      slotctl bookings day downtown tomorrow
    """
    from slotctl.localtime import date_spec
    from slotctl.services.bookings import day_bookings
    from slotctl.services.lookup import exchange_by_slug

    with current().session(readonly=True) as session:
        when = None
        if date is not None:
            when = date_spec(date, exchange_by_slug(session, slug).timezone)
        records = day_bookings(session, slug, when)
    _print(records, fmt, "Roster")


@app.command("show")
def show(
    booking: BookingRef,
    fmt: Format = OutputFormat.table,
) -> None:
    """One booking with its history.

    The history is the audit trail, oldest first.

    \b
    Example:
      slotctl bookings show BK-7K3Q9X
    """
    from slotctl.records import BOOKING_FIELDS
    from slotctl.render import emit
    from slotctl.services.bookings import show_booking

    record, timezone = read(show_booking, booking)
    emit(record, fmt.value, columns=(*BOOKING_FIELDS, "history"), zone=timezone)


def all_or_nothing(run: Callable[[], T], fmt: OutputFormat) -> T:
    """Run a batch of transitions; when one is refused, print every booking's outcome
    (then the error line and exit 4)."""
    from slotctl.render import emit
    from slotctl.services.bookings import BatchRefused, Outcome

    try:
        return run()
    except BatchRefused as refused:
        emit(
            [o.as_dict() for o in refused.outcomes],
            fmt.value,
            columns=Outcome.FIELDS,
            title="Nothing was changed",
        )
        raise


def _transition(
    action: str, idents: list[str], fmt: OutputFormat, reason: str | None = None
) -> None:
    from slotctl.render import notice
    from slotctl.services.bookings import transition

    records = all_or_nothing(
        lambda: write(transition, action, idents, _actor(), reason=reason), fmt
    )
    notice(f"{counted(len(records), 'booking')}: {action} done.")
    _print(records, fmt)


@app.command("confirm")
def confirm(idents: BookingIds, fmt: Format = OutputFormat.table) -> None:
    """pending -> confirmed (all or nothing).

    \b
    Example:
      slotctl bookings confirm BK-7K3Q9X BK-2M8D4F
    """
    _transition("confirm", idents, fmt)


@app.command("checkin")
def checkin(idents: BookingIds, fmt: Format = OutputFormat.table) -> None:
    """Check customers in: pending or confirmed -> arrived.

    Each gets a queue ticket. From the exchange's check-in-early time before the slot until it ends (all or
    nothing); a pending booking is confirmed by arriving. Prints the tickets issued.

    \b
    Example:
      slotctl bookings checkin BK-7K3Q9X
    """
    from slotctl.cli.queue import print_tickets
    from slotctl.render import notice
    from slotctl.services.queue import checkin as run

    tickets = all_or_nothing(lambda: write(run, idents, _actor()), fmt)
    notice(f"{counted(len(tickets), 'booking')}: checked in.")
    print_tickets(tickets, fmt, "Tickets")


@app.command("complete")
def complete(idents: BookingIds, fmt: Format = OutputFormat.table) -> None:
    """confirmed or arrived -> completed.

    A confirmed booking's slot must have started.

    All or nothing.

    \b
    Example:
      slotctl bookings complete BK-7K3Q9X
    """
    _transition("complete", idents, fmt)


@app.command("no-show")
def no_show(idents: BookingIds, fmt: Format = OutputFormat.table) -> None:
    """confirmed or arrived -> no_show.

    A confirmed booking's slot must have started.

    All or nothing.

    \b
    Example:
      slotctl bookings no-show BK-7K3Q9X
    """
    _transition("no-show", idents, fmt)


@app.command("cancel")
def cancel(
    idents: BookingIds,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why, for the record.", show_default=False)
    ] = None,
    fmt: Format = OutputFormat.table,
) -> None:
    """pending, confirmed or arrived -> cancelled.

    The seat is released, to the waitlist first.

    All or nothing.

    \b
    Example:
      slotctl bookings cancel BK-7K3Q9X --reason "customer called"
    """
    _transition("cancel", idents, fmt, reason)


@app.command("move")
def move(
    booking: BookingRef,
    slot: SlotRef,
    fmt: Format = OutputFormat.table,
) -> None:
    """Reschedule to another slot.

    The new seat is taken and the old released in one transaction.

    \b
    Example:
      slotctl bookings move BK-7K3Q9X downtown@2027-03-23T10:00
    """
    from slotctl.services.bookings import move_booking

    _print(write(move_booking, booking, slot, _actor()), fmt)


@app.command("expire-pending")
def expire_pending(
    older_than: Annotated[
        str | None,
        typer.Option(
            "--older-than",
            help="Age of a stale pending booking, e.g. 30m, 2h (default: setting pending_expiry_minutes).",
            show_default=False,
        ),
    ] = None,
    dry_run: DryRun = False,
    fmt: Format = OutputFormat.table,
) -> None:
    """Cancel stale pending bookings (cron).

    Those older than the limit or whose slot has started.

    Reason "expired", actor "system"; their seats are released, to the waitlist first.
    Waitlist entries whose window has passed expire too. Safe at any frequency.

    \b
    Example:
      slotctl bookings expire-pending --older-than 30m
    """
    from slotctl.parsing import parse_duration
    from slotctl.render import emit
    from slotctl.services.bookings import expire_pending as run
    from slotctl.services.bookings import stale_pending

    state = current()
    minutes = parse_duration(older_than) if older_than else state.settings.pending_expiry_minutes
    if dry_run:  # which bookings, not only how many
        records = read(stale_pending, minutes)
        if fmt is OutputFormat.json:
            emit({"expired": len(records), "bookings": records}, fmt.value)
            return
        _print(records, fmt, "Would expire", empty="no pending booking is stale")
        if fmt is OutputFormat.table:
            typer.echo(f"Would expire {counted(len(records), 'pending booking')}.")
        return
    count, entries = write(run, minutes)
    if fmt is OutputFormat.table:
        typer.echo(f"Expired {counted(count, 'pending booking')}.")
        if entries:
            typer.echo(f"Expired {counted(entries, 'waitlist entry', 'waitlist entries')}.")
        return
    emit({"expired": count, "waitlist_expired": entries}, fmt.value)


@app.command("export")
def export(
    exchange: ExchangeFilter = None,
    from_date: FromDate = None,
    to_date: ToDate = None,
    output: Output = None,
    as_: Annotated[
        BookingsAs | None,
        typer.Option(
            "--as",
            help="File format: csv, json, xlsx or ics (iCalendar); default: the --output"
            " suffix, else csv.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Export bookings by slot start, streamed.

    As CSV, JSON, an XLSX workbook or an iCalendar file.

    \b
    Example:
      slotctl bookings export --exchange downtown --from 2027-03-01 -o bookings.csv
      slotctl bookings export --as ics -o bookings.ics
    """
    export_records("bookings", output, as_, exchange, from_date, to_date)


app.command("import")(
    import_command(
        "bookings",
        """Import bookings from CSV (upsert by uuid).

    Slot counters stay true.

    Required columns: slot (its uuid), customer_name, customer_email; a missing
    status means pending. Rows that would overbook a slot are refused like bad
    rows: all are listed with their line numbers (exit 5) and nothing is written.

    \b
    Example:
      slotctl bookings import bookings.csv --dry-run
    """,
    )
)
