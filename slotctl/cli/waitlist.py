"""``slotctl waitlist``: who waits for a seat; freed seats go to them by themselves."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from slotctl.cli.options import (
    Format,
    OptionalSlug,
    OutputFormat,
    Slug,
    group,
    optional,
    read,
    write,
)

app = group("Customers waiting for a seat; freed seats go to them.")

ENTRY_TABLE = ("uuid", "exchange", "customer_name", "from", "to", "between", "status", "booking")


def _print(data: Any, fmt: OutputFormat, title: str) -> None:
    from slotctl.records import EntryRecord
    from slotctl.render import emit

    emit(
        data,
        fmt.value,
        columns=EntryRecord.FIELDS,
        title=title,
        empty="nobody waits",
        table_columns=ENTRY_TABLE,
    )


@app.command("add")
def add(
    slug: Slug,
    name: Annotated[str, typer.Option("--name", help="The customer's name.", show_default=False)],
    email: Annotated[
        str, typer.Option("--email", help="The customer's email.", show_default=False)
    ],
    phone: Annotated[
        str | None, typer.Option("--phone", help="The customer's phone.", show_default=False)
    ] = None,
    on: Annotated[str | None, optional("--date", "One date: YYYY-MM-DD, today or +Nd.")] = None,
    first: Annotated[str | None, optional("--from", "First date (default today).")] = None,
    last: Annotated[
        str | None, optional("--to", "Last date (default: 30 days from --from).")
    ] = None,
    between: Annotated[
        str | None, optional("--between", "Local hours the slot must lie in: HH:MM-HH:MM.")
    ] = None,
    fmt: Format = OutputFormat.table,
) -> None:
    """Put a customer on the waitlist for a seat.

    The window: dates, and with --between, local hours.
    When a seat in the window becomes free (a cancel, an expiry, a move, more
    capacity, new slots), the earliest entry gets a pending booking by itself. A
    seat free now is booked at once.

    \b
    Example:
      slotctl waitlist add downtown --name "Ann Lee" --email ann@example.com --date +1d --between 09:00-12:00
    """
    from slotctl.services.waitlist import NewEntry, add_entry

    new = NewEntry(name, email, phone, on, first, last, between)
    _print(write(add_entry, slug, new), fmt, "Waitlist entry")


@app.command("list")
def list_(
    slug: OptionalSlug = None,
    status: Annotated[
        str | None,
        optional("--status", "waiting (default), booked, removed, expired or all."),
    ] = None,
    fmt: Format = OutputFormat.table,
) -> None:
    """Waitlist entries, first come first (waiting ones unless --status).

    \b
    Example:
      slotctl waitlist list downtown --status all
    """
    from slotctl.services.waitlist import list_entries

    _print(read(list_entries, slug, status), fmt, "Waitlist")


@app.command("remove")
def remove(
    ident: Annotated[
        str, typer.Argument(metavar="ID", help="The entry's uuid or an 8+ character prefix.")
    ],
    fmt: Format = OutputFormat.table,
) -> None:
    """Take a waiting customer off the waitlist.

    \b
    Example:
      slotctl waitlist remove 3f2a9c1e
    """
    from slotctl.services.waitlist import remove_entry

    _print(write(remove_entry, ident), fmt, "Removed")


def _transfer_commands() -> None:
    """``waitlist export`` and ``waitlist import`` (:mod:`slotctl.cli.transfer`)."""
    from slotctl.cli.transfer import import_command, period_export_command

    app.command("export")(
        period_export_command(
            "waitlist",
            """Export waitlist entries, first come first, streamed.

    CSV columns: the entry's JSON fields; --from/--to select the entries whose
    window overlaps those dates.

    \b
    Example:
      slotctl waitlist export downtown -o waitlist.csv
    """,
        )
    )
    app.command("import")(
        import_command(
            "waitlist",
            """Import waitlist entries from CSV, JSON or XLSX (upsert by uuid).

    Required columns: exchange, customer_name, customer_email, from, to. A
    booked entry names its booking by reference. An import books no seat.

    \b
    Example:
      slotctl waitlist import waitlist.csv --dry-run
    """,
        )
    )


_transfer_commands()
