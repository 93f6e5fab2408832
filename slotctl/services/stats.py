"""``slotctl stats``: operator figures, computed by SQL aggregates.

Nothing here loads a slot, a booking or a ticket into Python: grouped queries
(slots by exchange, weekday and local hour; bookings by exchange and status;
the median lead time; tickets by exchange; the order statistics of waiting and
service times) return a few hundred rows at most, which are folded into the
record of docs/cli.md. The period is a range of *local* dates of the slots (of
the arrival, for tickets).

Waiting and service times are exact: the database gives each as whole
microseconds (an integer, :meth:`~slotctl.db.dialects.Dialect.microseconds_between`),
ranks them with window functions both databases run alike, and returns only the
rows a median or a percentile needs, which are interpolated here. So the figures are
the same on SQLite and PostgreSQL to the last digit.

Local hours need the exchange's timezone inside SQL. PostgreSQL has it
(``AT TIME ZONE``); SQLite does not, so the UTC offsets in force over the
period are turned into a ``CASE`` on ``starts_at`` (offsets change only a few
times a year, and the stored text compares like time).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select, text
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import BindParameter

from slotctl import clock
from slotctl.bounds import FIRST_DATE, LAST_DATE, check_period
from slotctl.db import dialects
from slotctl.db.models import Exchange
from slotctl.domain import BOOKING_STATUSES, SERVED, WAITLIST_ACTOR, WALKIN
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
    "wait_minutes_median",
    "wait_minutes_p90",
    "service_minutes_median",
    "walkins_served",
    "waitlist_bookings",
)
STATS_FIELDS = ("from", "to", *FIGURES, "by_weekday", "by_hour", "wait_by_weekday", "exchanges")
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


# A booking the waitlist made: its first event (the one that created it) is the waitlist's.
_BY_WAITLIST = (
    "EXISTS (SELECT 1 FROM booking_events ev WHERE ev.booking_id = b.id"
    " AND ev.from_status IS NULL AND ev.actor = :waitlist)"
)


def _booking_groups(
    session: Session, sql: dialects.Dialect, span: Period, one: Exchange | None
) -> Iterator[tuple[int, str, int, int, int]]:
    """``(exchange_id, status, bookings, expired, made by the waitlist)`` groups."""
    statement = (
        "SELECT s.exchange_id, b.status, count(*),"
        " COALESCE(sum(CASE WHEN b.cancellation_reason = 'expired' THEN 1 ELSE 0 END), 0),"
        f" COALESCE(sum(CASE WHEN {_BY_WAITLIST} THEN 1 ELSE 0 END), 0)"
        f" FROM time_slots s JOIN bookings b ON b.time_slot_id = s.id WHERE {_where(one)}"
        " GROUP BY s.exchange_id, b.status"
    )
    query = text(statement).bindparams(*_bounds(sql, span))
    params = {**_params(span, one), "waitlist": WAITLIST_ACTOR}
    for row in session.execute(query, params):
        yield int(row[0]), str(row[1]), int(row[2]), int(row[3]), int(row[4])


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


# Tickets: waiting and service times ---------------------------------------------------
#
# A ticket counts in the period when the local date of its arrival (``day``) does. Its
# wait runs from arrival to its (last) call to a counter, its service from that call to
# ``queue done``: real time, whatever the clocks did meanwhile.

Quantile = tuple[int, int]  # a quantile as numerator / denominator
MEDIAN: Quantile = (1, 2)
P90: Quantile = (9, 10)
MICROSECONDS_PER_MINUTE = 60_000_000


def _tickets_where(one: Exchange | None) -> str:
    return "t.day >= :first AND t.day <= :last" + (
        "" if one is None else " AND t.exchange_id = :exchange"
    )


@dataclass
class Ranked:
    """The values of one group that its quantiles need: ``n`` values in all, and those
    at some ranks (1 = the smallest), as whole microseconds."""

    n: int
    values: dict[int, int]

    def minutes(self, quantile: Quantile) -> float:
        """The quantile, interpolated linearly between the two nearest ranks (as
        PostgreSQL's ``percentile_cont``), in minutes with 2 decimals."""
        numerator, denominator = quantile
        low, rest = divmod(numerator * (self.n - 1), denominator)
        first = self.values[low + 1]
        second = self.values[low + 2] if rest else first
        exact = Fraction(first) + Fraction((second - first) * rest, denominator)
        return round(float(exact / MICROSECONDS_PER_MINUTE), 2)


def _ranked(
    session: Session,
    value: str,
    source: str,
    keys: list[str],
    binds: list[BindParameter[Any]],
    params: dict[str, Any],
    quantiles: tuple[Quantile, ...],
) -> dict[tuple[int, ...], Ranked]:
    """Per group of ``keys`` (SQL expressions; none: one group, key ``()``), the values of
    ``value`` over ``source`` (``FROM ... WHERE``) at the ranks ``quantiles`` need. Window
    functions rank them in the database; at most two rows per quantile and group come back."""
    names = [f"k{index}" for index in range(len(keys))]
    inner = "".join(f"{key} AS {name}, " for key, name in zip(keys, names, strict=True))
    carried = "".join(f"{name}, " for name in names)
    partition = f"PARTITION BY {', '.join(names)}" if names else ""
    ranks = []
    for numerator, denominator in quantiles:  # integer division: the same on both databases
        ranks.append(f"1 + {numerator} * (n - 1) / {denominator}")
        ranks.append(f"1 + ({numerator} * (n - 1) + {denominator - 1}) / {denominator}")
    statement = (
        f"SELECT {carried}n, rn, v FROM ("
        f"SELECT {carried}v, row_number() OVER ({partition} ORDER BY v) AS rn,"
        f" count(*) OVER ({partition}) AS n"
        f" FROM (SELECT {inner}{value} AS v {source}) x"
        f") w WHERE rn IN ({', '.join(ranks)})"
    )
    groups: dict[tuple[int, ...], Ranked] = {}
    for row in session.execute(text(statement).bindparams(*binds), params):
        key = tuple(int(part) for part in row[: len(keys)])
        n, rank, micros = (int(part) for part in row[len(keys) :])
        groups.setdefault(key, Ranked(n, {})).values[rank] = micros
    return groups


@dataclass
class _Queue:
    """The ticket figures of one exchange, or of the whole scope."""

    wait: Ranked | None = None
    service: Ranked | None = None
    walkins_served: int = 0

    def record(self) -> dict[str, Any]:
        return {
            "wait_minutes_median": None if self.wait is None else self.wait.minutes(MEDIAN),
            "wait_minutes_p90": None if self.wait is None else self.wait.minutes(P90),
            "service_minutes_median": None
            if self.service is None
            else self.service.minutes(MEDIAN),
            "walkins_served": self.walkins_served,
        }


@dataclass
class _Waits:
    """Everything ``stats`` says about the queue."""

    total: _Queue
    per_exchange: dict[int, _Queue]
    weekdays: dict[int, Ranked]
    cells: dict[tuple[int, int], Ranked]


def _waits(
    session: Session,
    sql: dialects.Dialect,
    span: Period,
    exchanges: list[Exchange],
    one: Exchange | None,
) -> _Waits:
    """Waiting and service times over the tickets that arrived in the period: overall,
    per exchange, and per local weekday and hour of arrival (waits only)."""
    params = {**_params(span, one), "walkin": WALKIN, "served": SERVED}
    where = _tickets_where(one)
    waited = f"FROM tickets t{{join}} WHERE {where} AND t.called_at IS NOT NULL"
    served = f"FROM tickets t WHERE {where} AND t.called_at IS NOT NULL AND t.served_at IS NOT NULL"
    wait = sql.microseconds_between("t.called_at", "t.arrived_at")
    service = sql.microseconds_between("t.served_at", "t.called_at")
    weekday = sql.weekday("t.day")
    hour, hour_binds, join = sql.local_hour(
        exchanges, span.start, span.end, column="t.arrived_at", exchange="t.exchange_id"
    )

    def ranked(
        value: str, source: str, keys: list[str], quantiles: tuple[Quantile, ...]
    ) -> dict[tuple[int, ...], Ranked]:
        binds = hour_binds if hour in keys else []
        return _ranked(session, value, source, keys, binds, params, quantiles)

    plain = waited.format(join="")
    total = _Queue(
        ranked(wait, plain, [], (MEDIAN, P90)).get(()),
        ranked(service, served, [], (MEDIAN,)).get(()),
    )
    per_exchange = {e.id: _Queue() for e in exchanges}
    for (exchange_id,), group in ranked(wait, plain, ["t.exchange_id"], (MEDIAN, P90)).items():
        per_exchange[exchange_id].wait = group
    for (exchange_id,), group in ranked(service, served, ["t.exchange_id"], (MEDIAN,)).items():
        per_exchange[exchange_id].service = group
    counted_walkins = (
        f"SELECT t.exchange_id, count(*) FROM tickets t WHERE {where}"
        " AND t.kind = :walkin AND t.status = :served GROUP BY t.exchange_id"
    )
    for exchange_id, count in session.execute(text(counted_walkins), params):
        per_exchange[int(exchange_id)].walkins_served = int(count)
        total.walkins_served += int(count)
    weekdays = {key[0]: group for key, group in ranked(wait, plain, [weekday], (MEDIAN,)).items()}
    cells = {
        (key[0], key[1]): group
        for key, group in ranked(wait, waited.format(join=join), [weekday, hour], (MEDIAN,)).items()
    }
    return _Waits(total, per_exchange, weekdays, cells)


def _wait_by_weekday(waits: _Waits) -> list[dict[str, Any]]:
    """The weekday × local hour map of waiting times (``wait_by_weekday``)."""
    days = []
    for weekday in range(7):
        day = waits.weekdays.get(weekday)
        hours = sorted(hour for (on, hour) in waits.cells if on == weekday)
        days.append(
            {
                "weekday": weekday,
                "day": DAY_NAMES[weekday],
                "tickets": 0 if day is None else day.n,
                "wait_minutes_median": None if day is None else day.minutes(MEDIAN),
                "by_hour": [
                    {
                        "hour": hour,
                        "tickets": waits.cells[(weekday, hour)].n,
                        "wait_minutes_median": waits.cells[(weekday, hour)].minutes(MEDIAN),
                    }
                    for hour in hours
                ],
            }
        )
    return days


# The record -----------------------------------------------------------------------------


@dataclass
class _Outcomes:
    counts: dict[str, int]
    expired: int = 0
    waitlisted: int = 0

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
        for exchange_id, status, count, expired, waitlisted in _booking_groups(
            session, sql, span, one
        ):
            for target in (outcomes, exchange_outcomes[exchange_id]):
                target.counts[status] += count
                target.expired += expired
                target.waitlisted += waitlisted
        counts = {key: sum(o.counts.values()) for key, o in exchange_outcomes.items()}
        medians = _medians(session, sql, span, one, counts)
    waits = (
        _waits(session, sql, span, exchanges, one) if exchanges else _Waits(_Queue(), {}, {}, {})
    )

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
        **waits.total.record(),
        "waitlist_bookings": outcomes.waitlisted,
        "by_weekday": by_weekday,
        "by_hour": [{"hour": hour, **hours[hour].record()} for hour in sorted(hours)],
        "wait_by_weekday": _wait_by_weekday(waits),
        "exchanges": [
            {
                "exchange": e.slug,
                "name": e.name,
                "timezone": e.timezone,
                **per_exchange[e.id].record(),
                **exchange_outcomes[e.id].record(),
                "lead_time_hours_median": _hours(medians.get(e.id)),
                **waits.per_exchange[e.id].record(),
                "waitlist_bookings": exchange_outcomes[e.id].waitlisted,
            }
            for e in exchanges
        ],
    }
