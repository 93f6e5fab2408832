"""``slotctl stats``: utilisation, outcomes, lead and waiting times over a period."""

from __future__ import annotations

from slotctl.cli.options import Format, FromDate, OptionalSlug, OutputFormat, ToDate, read
from slotctl.cli.runtime import current


def stats(
    slug: OptionalSlug = None,
    from_date: FromDate = None,
    to_date: ToDate = None,
    fmt: Format = OutputFormat.table,
) -> None:
    """Show utilisation, outcomes, lead times and waiting times.

    Utilisation, bookings by status, no-show and cancellation rates, lead time;
    at the front desk: waiting and service times, walk-ins served, waitlist
    bookings.

    Over the slots whose local date lies in the period (default: the last 30 days
    and the next 30), and the tickets that arrived in it; one row per exchange
    when no SLUG is given. In a terminal: a summary, bar charts and weekday ×
    hour heat maps of utilisation and of waiting time.

    \b
    Example:
      slotctl stats downtown --from 2027-03-01 --to 2027-03-31
    """
    from slotctl.render import emit
    from slotctl.services.stats import STATS_FIELDS
    from slotctl.services.stats import stats as compute

    figures = read(
        compute,
        slug,
        from_date=from_date,
        to_date=to_date,
        default_timezone=current().settings.default_timezone,
    )
    if fmt is OutputFormat.table:
        from slotctl.render.stats import show

        show(figures, slug or "all exchanges")
        return
    if fmt is OutputFormat.csv:
        # One row per exchange (the flat figures); JSON keeps the nested breakdowns.
        from slotctl.domain import BOOKING_STATUSES
        from slotctl.services.stats import EXCHANGE_FIELDS

        rows = [
            {**{k: v for k, v in row.items() if k != "bookings"}, **row["bookings"]}
            for row in figures["exchanges"]
        ]
        columns = [f for f in EXCHANGE_FIELDS if f != "bookings"] + list(BOOKING_STATUSES)
        emit(rows, "csv", columns=columns)
        return
    emit({key: figures[key] for key in STATS_FIELDS}, fmt.value)
