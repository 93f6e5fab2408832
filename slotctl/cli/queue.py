"""``slotctl queue``: walk-ins, the one fair queue, and calling customers to a counter."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import typer

from slotctl.cli.options import Format, OutputFormat, Slug, group, read, write
from slotctl.cli.runtime import current

if TYPE_CHECKING:
    from slotctl.records import TicketRecord

app = group("The front-desk queue: walk-ins and check-ins, called fairly.")

TICKET_TABLE = (
    "number",
    "kind",
    "customer_name",
    "booking",
    "status",
    "arrived_at",
    "due_at",
    "waited_minutes",
    "counter",
)
TicketRef = Annotated[
    str,
    typer.Argument(
        metavar="TICKET", help="Today's number (A001, or SLUG/A001), a uuid or an 8+ prefix."
    ),
]


def print_tickets(
    tickets: Sequence[TicketRecord] | TicketRecord,
    fmt: OutputFormat,
    title: str,
    empty: str = "nobody waits",
) -> None:
    from slotctl.records import TicketRecord
    from slotctl.render import emit

    emit(
        tickets,
        fmt.value,
        columns=TicketRecord.FIELDS,
        title=title,
        empty=empty,
        table_columns=TICKET_TABLE,
    )


def _actor() -> str:
    return current().settings.actor


@app.command("walkin")
def walkin(
    slug: Slug,
    name: Annotated[str, typer.Option("--name", help="The customer's name.", show_default=False)],
    phone: Annotated[
        str | None, typer.Option("--phone", help="The customer's phone.", show_default=False)
    ] = None,
    email: Annotated[
        str | None, typer.Option("--email", help="The customer's email.", show_default=False)
    ] = None,
    fmt: Format = OutputFormat.table,
) -> None:
    """Give a walk-in customer a ticket (W001, W002, ...).

    Walk-ins are called by arrival, together with late appointments.

    \b
    Example:
      slotctl queue walkin downtown --name "Bo Chen" --phone "+44 20 7946 0000"
    """
    from slotctl.services.queue import walkin as run

    print_tickets(write(run, slug, name, phone=phone, email=email), fmt, "Ticket")


@app.command("list")
def list_(slug: Slug, fmt: Format = OutputFormat.table) -> None:
    """Today's waiting tickets in the order they will be called.

    With how long each has waited (minutes).

    \b
    Example:
      slotctl queue list downtown
    """
    from slotctl.services.queue import list_queue

    print_tickets(read(list_queue, slug), fmt, "Queue")


@app.command("next")
def next_(
    slug: Slug,
    counter: Annotated[
        str, typer.Option("--counter", help="Your counter's name, e.g. 2.", show_default=False)
    ],
    fmt: Format = OutputFormat.table,
) -> None:
    """Call the next ticket to your counter and print it.

    Exit 3 when nobody waits.

    On-time appointments whose slot has started first, then walk-ins and late
    appointments by arrival, then early appointments.

    \b
    Example:
      slotctl queue next downtown --counter 2
    """
    from slotctl.services.queue import call_next

    print_tickets(write(call_next, slug, counter, _actor()), fmt, "Called")


def _act(action: str, ticket: str, fmt: OutputFormat) -> None:
    from slotctl.services.queue import act

    print_tickets(write(act, action, ticket, _actor()), fmt, "Ticket")


@app.command("done")
def done(ticket: TicketRef, fmt: Format = OutputFormat.table) -> None:
    """The called customer was served.

    An appointment's booking is completed.

    \b
    Example:
      slotctl queue done A001
    """
    _act("done", ticket, fmt)


@app.command("no-show")
def no_show(ticket: TicketRef, fmt: Format = OutputFormat.table) -> None:
    """The called customer did not come to the counter.

    An appointment's booking becomes no_show.

    \b
    Example:
      slotctl queue no-show W004
    """
    _act("no-show", ticket, fmt)


@app.command("requeue")
def requeue(ticket: TicketRef, fmt: Format = OutputFormat.table) -> None:
    """Put a called ticket back in the queue, keeping its place.

    \b
    Example:
      slotctl queue requeue downtown/A003
    """
    _act("requeue", ticket, fmt)


@app.command("cancel")
def cancel(ticket: TicketRef, fmt: Format = OutputFormat.table) -> None:
    """The customer left without service.

    An appointment's booking is cancelled ("left without service").

    \b
    Example:
      slotctl queue cancel W002
    """
    _act("cancel", ticket, fmt)


def _transfer_commands() -> None:
    """``queue export`` and ``queue import`` (:mod:`slotctl.cli.transfer`)."""
    from slotctl.cli.transfer import import_command, period_export_command

    app.command("export")(
        period_export_command(
            "tickets",
            """Export tickets by arrival, streamed.

    CSV columns: the ticket's JSON fields; --from/--to select the local days of
    arrival.

    \b
    Example:
      slotctl queue export downtown --from 2027-03-01 --to 2027-03-31 -o tickets.csv
    """,
        )
    )
    app.command("import")(
        import_command(
            "tickets",
            """Import tickets from CSV, JSON or XLSX (upsert by uuid).

    Required columns: number, exchange, customer_name, arrived_at. An
    appointment ticket names its booking by reference (of the same exchange); a
    walk-in has none. waited_minutes is derived: ignored.

    \b
    Example:
      slotctl queue import tickets.csv --dry-run
    """,
        )
    )


_transfer_commands()
