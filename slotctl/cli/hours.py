"""``slotctl hours``: weekly business hours, closures and public holidays."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from slotctl.cli.options import (
    DryRun,
    Format,
    FromDate,
    OptionalSlug,
    OutputFormat,
    Slug,
    ToDate,
    group,
    read,
    write,
)
from slotctl.cli.runtime import current
from slotctl.cli.transfer import (
    As,
    Output,
    export_records,
    import_command,
    period_export_command,
)
from slotctl.wording import counted

app = group("Manage business hours, closures and holidays.")
closures_app = group("Manage closures (dates an exchange is shut).")
app.add_typer(closures_app, name="closures")

Uuids = Annotated[
    list[str], typer.Argument(metavar="UUID", help="Shift uuids or 8+ character prefixes.")
]


def _print_hours(records: Any, fmt: OutputFormat, title: str = "Business hours") -> None:
    from slotctl.records import HOURS_FIELDS
    from slotctl.render import emit

    emit(records, fmt.value, columns=HOURS_FIELDS, title=title, empty="no business hours")


def _print_closures(records: Any, fmt: OutputFormat, title: str = "Closures") -> None:
    from slotctl.records import CLOSURE_FIELDS
    from slotctl.render import emit

    emit(records, fmt.value, columns=CLOSURE_FIELDS, title=title, empty="no closures")


@app.command("list")
def list_(slug: OptionalSlug = None, fmt: Format = OutputFormat.table) -> None:
    """List business hours by exchange, weekday and opening time.

    \b
    Example:
      slotctl hours list downtown --format json
    """
    from slotctl.services.hours import list_hours

    _print_hours(read(list_hours, slug), fmt)


@app.command("add")
def add(
    slug: Slug,
    days: Annotated[
        str,
        typer.Argument(
            metavar="DAYS", help="Days: mon-fri, sat, mon,wed, daily, weekdays, weekends."
        ),
    ],
    times: Annotated[
        str,
        typer.Argument(
            metavar="TIMES", help="Shifts: HH:MM-HH:MM[,HH:MM-HH:MM...]; 24:00 closes at midnight."
        ),
    ],
    fmt: Format = OutputFormat.table,
) -> None:
    """Add shifts; refused if one overlaps an existing shift.

    \b
    Example:
      slotctl hours add downtown mon-fri 09:00-12:00,13:00-17:00
    """
    from slotctl.parsing import parse_days, parse_time_ranges
    from slotctl.services.hours import add_hours

    weekdays, shifts = parse_days(days), parse_time_ranges(times)
    _print_hours(write(add_hours, slug, weekdays, shifts), fmt, "Added shifts")


@app.command("set")
def set_(
    slug: Slug,
    specs: Annotated[
        list[str],
        typer.Argument(metavar="SPEC", help='Each "DAYS TIMES", e.g. "mon-fri 09:00-17:00".'),
    ],
    fmt: Format = OutputFormat.table,
) -> None:
    """Replace the whole week in one transaction.

    Days not named become closed.

    \b
    Example:
      slotctl hours set downtown "mon-fri 09:00-12:00,13:00-17:00" "sat 10:00-14:00"
    """
    from slotctl.parsing import parse_hours_spec
    from slotctl.services.hours import set_hours

    week = [parse_hours_spec(spec) for spec in specs]
    _print_hours(write(set_hours, slug, week), fmt)


@app.command("update")
def update(
    ident: Annotated[str, typer.Argument(metavar="UUID", help="The shift's uuid or prefix.")],
    opens: Annotated[
        str | None, typer.Option("--opens", help="New opening time HH:MM.", show_default=False)
    ] = None,
    closes: Annotated[
        str | None,
        typer.Option(
            "--closes", help="New closing time HH:MM (24:00 allowed).", show_default=False
        ),
    ] = None,
    fmt: Format = OutputFormat.table,
) -> None:
    """Change one shift's opening or closing time.

    \b
    Example:
      slotctl hours update 3f2a9c1e --closes 18:00
    """
    from slotctl.parsing import parse_time
    from slotctl.records import HOURS_FIELDS
    from slotctl.render import emit
    from slotctl.services.hours import update_hours

    opens_at = parse_time(opens) if opens is not None else None
    closes_at = parse_time(closes, allow_end_of_day=True) if closes is not None else None
    record = write(update_hours, ident, opens=opens_at, closes=closes_at)
    emit(record, fmt.value, columns=HOURS_FIELDS)


@app.command("remove")
def remove(idents: Uuids, fmt: Format = OutputFormat.table) -> None:
    """Remove shifts by uuid (all or none).

    \b
    Example:
      slotctl hours remove 3f2a9c1e 77b0d2aa
    """
    from slotctl.services.hours import remove_hours

    _print_hours(write(remove_hours, idents), fmt, "Removed shifts")


@app.command("clear")
def clear(
    slug: Slug,
    day: Annotated[
        str | None,
        typer.Option("--day", help="Only these days, e.g. sat or mon-fri.", show_default=False),
    ] = None,
    fmt: Format = OutputFormat.table,
) -> None:
    """Remove all shifts of an exchange, or those of some days.

    \b
    Example:
      slotctl hours clear downtown --day sat
    """
    from slotctl.parsing import parse_days
    from slotctl.services.hours import clear_hours

    weekdays = parse_days(day) if day is not None else None
    _print_hours(write(clear_hours, slug, weekdays), fmt, "Removed shifts")


@app.command("holidays")
def holidays(
    slug: Slug,
    country: Annotated[
        str, typer.Option("--country", help="ISO country code, e.g. DE.", show_default=False)
    ],
    year: Annotated[int, typer.Option("--year", help="Year, e.g. 2027.", show_default=False)],
    subdiv: Annotated[
        str | None,
        typer.Option("--subdiv", help="Subdivision, e.g. BE for Berlin.", show_default=False),
    ] = None,
    dry_run: DryRun = False,
    fmt: Format = OutputFormat.table,
) -> None:
    """Add a country's public holidays as closures.

    Dates already closed are skipped.

    \b
    Example:
      slotctl hours holidays downtown --country DE --subdiv BE --year 2027 --dry-run
    """
    from slotctl.render import notice
    from slotctl.services.hours import add_holidays

    with current().session(readonly=dry_run) as session:
        records = add_holidays(
            session, slug, country=country, subdiv=subdiv, year=year, dry_run=dry_run
        )
    verb = "Would add" if dry_run else "Added"
    notice(f"{verb} {counted(len(records), 'holiday closure')}.")
    _print_closures(records, fmt, f"{verb} closures")


@app.command("export")
def export(slug: OptionalSlug = None, output: Output = None, as_: As = None) -> None:
    """Export business hours.

    Columns: uuid, exchange, weekday, day, opens_at, closes_at.

    \b
    Example:
      slotctl hours export downtown --output hours.csv
    """
    export_records("hours", output, as_, slug)


app.command("import")(
    import_command(
        "hours",
        """Import business hours from CSV (upsert by uuid).

    Overlapping shifts are refused.

    Required columns: exchange, weekday or day, opens_at, closes_at.

    \b
    Example:
      slotctl hours import hours.csv
    """,
    )
)


@closures_app.command("add")
def closures_add(
    slug: Slug,
    from_: Annotated[
        str, typer.Argument(metavar="FROM", help="First closed date: YYYY-MM-DD, today, +Nd.")
    ],
    to: Annotated[
        str | None,
        typer.Argument(
            metavar="TO", help="Last closed date (inclusive; default FROM).", show_default=False
        ),
    ] = None,
    reason: Annotated[
        str, typer.Option("--reason", help="Why it is closed.", show_default=False)
    ] = "",
    fmt: Format = OutputFormat.table,
) -> None:
    """Close an exchange on a date or an inclusive range of dates.

    \b
    Example:
      slotctl hours closures add downtown 2027-08-02 2027-08-13 --reason "Renovation"
    """
    from slotctl.localtime import date_spec, optional_date
    from slotctl.records import CLOSURE_FIELDS
    from slotctl.render import emit
    from slotctl.services.hours import add_closure
    from slotctl.services.lookup import exchange_by_slug

    with current().session() as session:
        timezone = exchange_by_slug(session, slug).timezone
        starts_on = date_spec(from_, timezone)
        ends_on = optional_date(to, timezone)
        record = add_closure(session, slug, starts_on, ends_on, reason)
    emit(record, fmt.value, columns=CLOSURE_FIELDS)


@closures_app.command("list")
def closures_list(
    slug: OptionalSlug = None,
    from_: FromDate = None,
    to: ToDate = None,
    fmt: Format = OutputFormat.table,
) -> None:
    """List closures, optionally those touching a date range.

    \b
    Example:
      slotctl hours closures list downtown --from today --to +90d
    """
    from slotctl.localtime import optional_date
    from slotctl.services.hours import list_closures

    first, last = optional_date(from_), optional_date(to)
    _print_closures(read(list_closures, slug, from_date=first, to_date=last), fmt)


@closures_app.command("remove")
def closures_remove(
    ident: Annotated[str, typer.Argument(metavar="UUID", help="The closure's uuid or prefix.")],
    fmt: Format = OutputFormat.table,
) -> None:
    """Remove a closure.

    \b
    Example:
      slotctl hours closures remove 9d41c0b2
    """
    from slotctl.records import CLOSURE_FIELDS
    from slotctl.render import emit
    from slotctl.services.hours import remove_closure

    emit(write(remove_closure, ident), fmt.value, columns=CLOSURE_FIELDS)


closures_app.command("export")(
    period_export_command(
        "closures",
        """Export closures.

    Columns: uuid, exchange, starts_on, ends_on, reason.

    \b
    Example:
      slotctl hours closures export --output closures.csv
    """,
    )
)


closures_app.command("import")(
    import_command(
        "closures",
        """Import closures from CSV (upsert by uuid). Required columns: exchange, starts_on.

    \b
    Example:
      slotctl hours closures import closures.csv
    """,
    )
)
