"""``slotctl exchanges``: add, list, show, update, remove, export, import."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated

import typer

from slotctl.cli.options import (
    Format,
    OutputFormat,
    Slug,
    Yes,
    confirm_after,
    group,
    optional,
    read,
    write,
)
from slotctl.cli.runtime import current
from slotctl.cli.transfer import As, Output, export_records, import_command
from slotctl.wording import counted

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

app = group("Manage exchanges (the offices).")

MinNotice = Annotated[
    str | None, optional("--min-notice", "Minimum notice before a booking, e.g. 30m, 2h.")
]
MaxAdvance = Annotated[
    str | None,
    optional(
        "--max-advance",
        "How far ahead bookings are taken, in whole days, e.g. 30d; 'none' for unlimited.",
    ),
]


def _max_advance(value: str) -> int | None:
    from slotctl.parsing import parse_duration
    from slotctl.services.exchanges import advance_days

    if value.strip().lower() in ("none", "unlimited"):
        return None
    return advance_days(parse_duration(value))


def _print(data: object, fmt: OutputFormat) -> None:
    from slotctl.records import EXCHANGE_FIELDS
    from slotctl.render import emit

    zone = data.get("timezone") if isinstance(data, Mapping) else None  # its own local time
    emit(data, fmt.value, columns=EXCHANGE_FIELDS, zone=zone)  # type: ignore[arg-type]


@app.command("add")
def add(
    slug: Slug,
    name: Annotated[str, typer.Option("--name", help="Display name.", show_default=False)],
    timezone: Annotated[
        str | None,
        typer.Option(
            "--timezone",
            help="IANA timezone, e.g. Europe/Berlin (default: setting default_timezone).",
            show_default=False,
        ),
    ] = None,
    min_notice: MinNotice = None,
    max_advance: MaxAdvance = None,
    fmt: Format = OutputFormat.table,
) -> None:
    """Add an exchange.

    \b
    Example:
      slotctl exchanges add downtown --name "Downtown" --timezone Europe/Berlin \\
          --min-notice 1h --max-advance 60d
    """
    from slotctl.parsing import parse_duration
    from slotctl.services.exchanges import add_exchange

    notice_minutes = parse_duration(min_notice) if min_notice is not None else 0
    advance = _max_advance(max_advance) if max_advance is not None else None
    record = write(
        add_exchange,
        slug,
        name=name,
        timezone=current().settings.default_timezone if timezone is None else timezone,
        min_notice_minutes=notice_minutes,
        max_advance_days=advance,
    )
    _print(record, fmt)


@app.command("list")
def list_(fmt: Format = OutputFormat.table) -> None:
    """List exchanges, by slug.

    \b
    Example:
      slotctl exchanges list --format json
    """
    from slotctl.records import EXCHANGE_FIELDS
    from slotctl.render import emit
    from slotctl.services.exchanges import list_exchanges

    emit(
        read(list_exchanges),
        fmt.value,
        columns=EXCHANGE_FIELDS,
        title="Exchanges",
        empty="no exchanges yet",
        table_columns=EXCHANGE_FIELDS[1:7],
    )


@app.command("show")
def show(slug: Slug, fmt: Format = OutputFormat.table) -> None:
    """Show one exchange.

    \b
    Example:
      slotctl exchanges show downtown
    """
    from slotctl.services.exchanges import show_exchange

    _print(read(show_exchange, slug), fmt)


@app.command("update")
def update(
    slug: Slug,
    name: Annotated[
        str | None, typer.Option("--name", help="New name.", show_default=False)
    ] = None,
    timezone: Annotated[
        str | None, typer.Option("--timezone", help="New IANA timezone.", show_default=False)
    ] = None,
    min_notice: MinNotice = None,
    max_advance: MaxAdvance = None,
    active: Annotated[
        bool | None,
        typer.Option("--active/--inactive", help="Take bookings or not.", show_default=False),
    ] = None,
    checkin_early: Annotated[
        str | None,
        optional("--checkin-early", "How long before its slot a customer may check in, e.g. 30m."),
    ] = None,
    late_after: Annotated[
        str | None,
        optional(
            "--late-after", "Arriving later than this after the slot starts queues as a walk-in."
        ),
    ] = None,
    fmt: Format = OutputFormat.table,
) -> None:
    """Change an exchange; options not given are left as they are.

    \b
    Example:
      slotctl exchanges update downtown --min-notice 2h --max-advance none --inactive
      slotctl exchanges update downtown --checkin-early 45m --late-after 15m
    """
    from slotctl.parsing import parse_duration
    from slotctl.services.exchanges import UNSET, update_exchange

    record = write(
        update_exchange,
        slug,
        name=name,
        timezone=timezone,
        min_notice_minutes=parse_duration(min_notice) if min_notice is not None else None,
        max_advance_days=_max_advance(max_advance) if max_advance is not None else UNSET,
        is_active=active,
        checkin_early_minutes=parse_duration(checkin_early) if checkin_early is not None else None,
        late_after_minutes=parse_duration(late_after) if late_after is not None else None,
    )
    _print(record, fmt)


@app.command("remove")
def remove(slug: Slug, yes: Yes = False, fmt: Format = OutputFormat.table) -> None:
    """Remove an exchange and everything it holds.

    Its hours, closures, slots and past bookings.

    Refused while the exchange has future bookings that hold seats.

    \b
    Example:
      slotctl exchanges remove downtown --yes
    """
    from slotctl.render import notice
    from slotctl.services.exchanges import plan_removal, remove_exchange

    def question(session: Session) -> str:
        plan = plan_removal(session, slug)
        return (
            f"Remove exchange {plan.exchange['slug']!r} with its {counted(plan.slots, 'slot')} "
            f"and {counted(plan.bookings, 'booking')}?"
        )

    confirm_after(question, yes)
    record = write(remove_exchange, slug)
    notice(f"Removed exchange {record['slug']}.")
    _print(record, fmt)


@app.command("export")
def export(output: Output = None, as_: As = None) -> None:
    """Export every exchange (CSV columns: the exchange's JSON fields).

    \b
    Example:
      slotctl exchanges export --output exchanges.csv
    """
    export_records("exchanges", output, as_)


app.command("import")(
    import_command(
        "exchanges",
        """Import exchanges from CSV (upsert by uuid).

    Updates those whose uuid exists, inserts the rest.

    Required columns: slug, name. Every row is checked first; bad rows are listed
    with their line numbers (exit 5) and nothing is written.

    \b
    Example:
      slotctl exchanges import exchanges.csv --dry-run
    """,
    )
)
