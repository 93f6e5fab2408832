"""``slotctl stats``: operator figures, computed by SQL aggregates.

Nothing here loads a slot or a booking into Python: three grouped queries
(slots by exchange, weekday and local hour; bookings by exchange and status;
the median lead time) return a few hundred rows at most, which are folded into
the record of docs/cli.md. The period is a range of *local* dates of the slots.

Local hours need the exchange's timezone inside SQL. PostgreSQL has it
(``AT TIME ZONE``); SQLite does not, so the UTC offsets in force over the
period are turned into a ``CASE`` on ``starts_at`` (offsets change only a few
times a year, and the stored text compares like time).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select, text
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import BindParameter

from slotctl import clock
from slotctl.bounds import FIRST_DATE, LAST_DATE, check_period
from slotctl.db import dialects
from slotctl.db.models import Exchange
from slotctl.domain import BOOKING_STATUSES
from slotctl.localtime import day_window, optional_date
from slotctl.parsing import DAY_NAMES
from slotctl.services.lookup import exchange_by_slug

FIGURES = (  # of the whole period and of each exchange
    "slots",
    "seats",
    "booked_seats",
    "utilization",
    "bookings",
    "no_show_rate",
    "cancellation_rate",
    "expired",
    "lead_time_hours_median",
)
STATS_FIELDS = ("from", "to", *FIGURES, "by_weekday", "by_hour", "exchanges")
EXCHANGE_FIELDS = ("exchange", "name", "timezone", *FIGURES)
DEFAULT_DAYS = 30  # the default period: the last 30 days and the next 30


@dataclass
class Usage:
    """Slots, seats and booked seats of one group of slots."""

    slots: int = 0
    seats: int = 0
    booked: int = 0

    def add(self, slots: int, seats: int, booked: int) -> None:
        self.slots += slots
        self.seats += seats
        self.booked += booked

    def record(self) -> dict[str, Any]:
        return {
            "slots": self.slots,
            "seats": self.seats,
            "booked_seats": self.booked,
            "utilization": _ratio(self.booked, self.seats),
        }


def _ratio(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)


@dataclass
class Period:
    first: date
    last: date
    start: datetime  # UTC bounds wide enough for every exchange's local dates
    end: datetime


def period(
    exchanges: Iterable[Exchange], from_date: str | None, to_date: str | None, timezone: str
) -> Period:
    """The local dates asked for (default: 30 days back to 30 ahead), checked."""
    today = clock.now().astimezone(ZoneInfo(timezone)).date()
    first = optional_date(from_date, timezone) or max(
        today - timedelta(days=DEFAULT_DAYS), FIRST_DATE
    )
    last = optional_date(to_date, timezone) or min(
        first + timedelta(days=2 * DEFAULT_DAYS)
        if from_date is not None
        else today + timedelta(days=DEFAULT_DAYS),
        LAST_DATE,
    )
    check_period(first, last)
    zones = {e.timezone for e in exchanges} or {timezone}
    windows = [day_window(zone, first, last) for zone in zones]
    return Period(first, last, min(w[0] for w in windows), max(w[1] for w in windows))


_IN_PERIOD = (
    "s.starts_at >= :start AND s.starts_at < :end AND s.date >= :first AND s.date <= :last"
    "{exchange}"
)


def _where(exchange: Exchange | None) -> str:
    return _IN_PERIOD.format(exchange="" if exchange is None else " AND s.exchange_id = :exchange")


def _params(span: Period, exchange: Exchange | None) -> dict[str, Any]:
    params: dict[str, Any] = {"first": span.first, "last": span.last}
    if exchange is not None:
        params["exchange"] = exchange.id
    return params


def _bounds(sql: dialects.Dialect, span: Period) -> list[BindParameter[Any]]:
    return [bindparam("start", sql.stamp(span.start)), bindparam("end", sql.stamp(span.end))]


def _slot_groups(
    session: Session,
    sql: dialects.Dialect,
    span: Period,
    exchanges: list[Exchange],
    one: Exchange | None,
) -> Iterator[tuple[int, int, int, int, int, int]]:
    """``(exchange_id, weekday, hour, slots, seats, booked)`` groups."""
    hour, hour_params, join = sql.local_hour(exchanges, span.start, span.end)
    statement = (
        f"SELECT s.exchange_id, {sql.weekday('s.date')} AS weekday, {hour} AS hour, count(*),"
        " COALESCE(sum(s.max_capacity), 0), COALESCE(sum(s.current_bookings), 0)"
        f" FROM time_slots s{join} WHERE {_where(one)}"
        " GROUP BY s.exchange_id, weekday, hour"
    )
    query = text(statement).bindparams(*_bounds(sql, span), *hour_params)
    for row in session.execute(query, _params(span, one)):
        yield (int(row[0]), int(row[1]), int(row[2]), int(row[3]), int(row[4]), int(row[5]))


def _booking_groups(
    session: Session, sql: dialects.Dialect, span: Period, one: Exchange | None
) -> Iterator[tuple[int, str, int, int]]:
    """``(exchange_id, status, bookings, expired)`` groups."""
    statement = (
        "SELECT s.exchange_id, b.status, count(*),"
        " COALESCE(sum(CASE WHEN b.cancellation_reason = 'expired' THEN 1 ELSE 0 END), 0)"
        f" FROM time_slots s JOIN bookings b ON b.time_slot_id = s.id WHERE {_where(one)}"
        " GROUP BY s.exchange_id, b.status"
    )
    query = text(statement).bindparams(*_bounds(sql, span))
    for row in session.execute(query, _params(span, one)):
        yield int(row[0]), str(row[1]), int(row[2]), int(row[3])


def _medians(
    session: Session,
    sql: dialects.Dialect,
    span: Period,
    one: Exchange | None,
    counts: dict[int, int],
) -> dict[int | None, float]:
    """Median lead time (hours from booking to the slot's start), overall (key None)
    and per exchange, over every booking of the period's slots (``counts``: how many
    there are per exchange)."""
    lead = sql.hours_between("s.starts_at", "b.created_at")
    source = f"FROM time_slots s JOIN bookings b ON b.time_slot_id = s.id WHERE {_where(one)}"
    params = {
        **_params(span, one),
        **{bind.key: bind.value for bind in _bounds(sql, span)},
    }
    return sql.medians(session, dialects.Leads(lead, source, params, counts))


# The record -----------------------------------------------------------------------------


@dataclass
class _Outcomes:
    counts: dict[str, int]
    expired: int = 0

    @classmethod
    def empty(cls) -> _Outcomes:
        return cls(dict.fromkeys(BOOKING_STATUSES, 0))

    def record(self) -> dict[str, Any]:
        total = sum(self.counts.values())
        settled = self.counts["completed"] + self.counts["no_show"]
        return {
            "bookings": dict(self.counts),
            "no_show_rate": _ratio(self.counts["no_show"], settled),
            "cancellation_rate": _ratio(self.counts["cancelled"], total),
            "expired": self.expired,
        }


def _hours(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def stats(
    session: Session,
    slug: str | None,
    *,
    from_date: str | None = None,
    to_date: str | None = None,
    default_timezone: str = "UTC",
) -> dict[str, Any]:
    """The figures of docs/cli.md over the slots whose local date lies in the period.

    Relative dates count from today in the exchange's timezone (without a SLUG, in
    ``default_timezone``).
    """
    sql = dialects.of(session)
    one = exchange_by_slug(session, slug) if slug is not None else None
    exchanges = (
        [one]
        if one is not None
        else list(session.scalars(select(Exchange).order_by(Exchange.slug)))
    )
    timezone = one.timezone if one is not None else default_timezone
    span = period(exchanges, from_date, to_date, timezone)

    total = Usage()
    per_exchange = {e.id: Usage() for e in exchanges}
    weekdays = [Usage() for _ in range(7)]
    hours: dict[int, Usage] = {}
    cells: dict[tuple[int, int], Usage] = {}
    if exchanges:
        for exchange_id, weekday, hour, slots, seats, booked in _slot_groups(
            session, sql, span, exchanges, one
        ):
            for usage in (
                total,
                per_exchange[exchange_id],
                weekdays[weekday],
                hours.setdefault(hour, Usage()),
                cells.setdefault((weekday, hour), Usage()),
            ):
                usage.add(slots, seats, booked)

    outcomes = _Outcomes.empty()
    exchange_outcomes = {e.id: _Outcomes.empty() for e in exchanges}
    medians: dict[int | None, float] = {}
    if exchanges:
        for exchange_id, status, count, expired in _booking_groups(session, sql, span, one):
            for target in (outcomes, exchange_outcomes[exchange_id]):
                target.counts[status] += count
                target.expired += expired
        counts = {key: sum(o.counts.values()) for key, o in exchange_outcomes.items()}
        medians = _medians(session, sql, span, one, counts)

    by_weekday = []
    for weekday, usage in enumerate(weekdays):
        by_weekday.append(
            {
                "weekday": weekday,
                "day": DAY_NAMES[weekday],
                **usage.record(),
                "by_hour": [
                    {"hour": hour, **cells[(weekday, hour)].record()}
                    for hour in sorted(hours)
                    if (weekday, hour) in cells
                ],
            }
        )
    return {
        "from": span.first,
        "to": span.last,
        **total.record(),
        **outcomes.record(),
        "lead_time_hours_median": _hours(medians.get(None)),
        "by_weekday": by_weekday,
        "by_hour": [{"hour": hour, **hours[hour].record()} for hour in sorted(hours)],
        "exchanges": [
            {
                "exchange": e.slug,
                "name": e.name,
                "timezone": e.timezone,
                **per_exchange[e.id].record(),
                **exchange_outcomes[e.id].record(),
                "lead_time_hours_median": _hours(medians.get(e.id)),
            }
            for e in exchanges
        ],
    }
