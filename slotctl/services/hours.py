"""Business hours (weekly shifts), closures and public holidays of an exchange."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import Select, delete, select
from sqlalchemy.orm import Session

from slotctl import domain
from slotctl.bounds import YEAR
from slotctl.db.models import BusinessHours, Closure, Exchange
from slotctl.errors import Conflict, InvalidValue
from slotctl.parsing import DAY_NAMES, check_no_overlap, format_time, parse_time
from slotctl.records import ClosureRecord, HoursRecord, closure_record, hours_record
from slotctl.services.lookup import by_uuid, exchange_by_slug

Shift = tuple[int, int]  # (opens, closes) in minutes after local midnight
WeekSpec = Sequence[tuple[Sequence[int], Sequence[Shift]]]  # (weekdays, shifts) pairs


def _shift_text(weekday: int, opens: int, closes: int) -> str:
    return f"{DAY_NAMES[weekday]} {format_time(opens)}-{format_time(closes)}"


def _minutes(row: BusinessHours) -> Shift:
    return parse_time(row.opens_at), parse_time(row.closes_at, allow_end_of_day=True)


def _with_slugs(
    session: Session, model: Any, slug: str | None, *order: Any
) -> Select[tuple[Any, str]]:
    """Rows of ``model`` with their exchange's slug, by slug and then ``order``; only the
    exchange ``slug``'s when given."""
    query = (
        select(model, Exchange.slug)
        .join(Exchange, model.exchange_id == Exchange.id)
        .order_by(Exchange.slug, *order)
    )
    if slug is not None:
        query = query.where(Exchange.id == exchange_by_slug(session, slug).id)
    return query


def list_hours(session: Session, slug: str | None = None) -> list[HoursRecord]:
    query = _with_slugs(session, BusinessHours, slug, BusinessHours.weekday, BusinessHours.opens_at)
    return [hours_record(row, exchange_slug) for row, exchange_slug in session.execute(query)]


def _week(spec: WeekSpec) -> dict[int, list[Shift]]:
    """Shifts by weekday; overlapping shifts given for one day are bad input."""
    week: dict[int, list[Shift]] = defaultdict(list)
    for days, shifts in spec:
        for day in days:
            week[day].extend(shifts)
    for day, shifts in week.items():
        check_no_overlap(shifts, DAY_NAMES[day])
    return week


def _insert(
    session: Session, exchange: Exchange, week: dict[int, list[Shift]]
) -> list[BusinessHours]:
    rows = [
        BusinessHours(
            exchange_id=exchange.id,
            weekday=day,
            opens_at=format_time(opens),
            closes_at=format_time(closes),
        )
        for day in sorted(week)
        for opens, closes in sorted(week[day])
    ]
    session.add_all(rows)
    session.flush()
    return rows


def add_hours(
    session: Session, slug: str, days: Iterable[int], shifts: Sequence[Shift]
) -> list[HoursRecord]:
    """Add shifts on the given days; refused if one overlaps an existing shift."""
    exchange = exchange_by_slug(session, slug, for_update=True)
    week = _week([(list(days), shifts)])
    existing = session.scalars(
        select(BusinessHours).where(BusinessHours.exchange_id == exchange.id)
    ).all()
    for row in existing:
        for shift in week.get(row.weekday, []):
            if domain.shifts_overlap(shift, _minutes(row)):
                raise Conflict(
                    f"shift {_shift_text(row.weekday, *shift)} overlaps the existing shift "
                    f"{DAY_NAMES[row.weekday]} {row.opens_at}-{row.closes_at} ({row.uuid[:8]})"
                )
    rows = _insert(session, exchange, week)
    return [hours_record(row, exchange.slug) for row in rows]


def set_hours(session: Session, slug: str, spec: WeekSpec) -> list[HoursRecord]:
    """Replace the whole week: days not named become closed."""
    exchange = exchange_by_slug(session, slug, for_update=True)
    week = _week(spec)
    session.execute(delete(BusinessHours).where(BusinessHours.exchange_id == exchange.id))
    _insert(session, exchange, week)
    return list_hours(session, exchange.slug)


def update_hours(
    session: Session, ident: str, *, opens: int | None = None, closes: int | None = None
) -> HoursRecord:
    row = by_uuid(session, BusinessHours, ident, "shift")
    exchange = exchange_by_slug(session, row.exchange.slug, for_update=True)
    new_opens, new_closes = _minutes(row)
    new_opens = new_opens if opens is None else opens
    new_closes = new_closes if closes is None else closes
    if new_opens >= new_closes:
        raise InvalidValue(
            f"opening {format_time(new_opens)} must be before closing {format_time(new_closes)}"
        )
    siblings = session.scalars(
        select(BusinessHours).where(
            BusinessHours.exchange_id == exchange.id,
            BusinessHours.weekday == row.weekday,
            BusinessHours.id != row.id,
        )
    ).all()
    for other in siblings:
        if domain.shifts_overlap((new_opens, new_closes), _minutes(other)):
            raise Conflict(
                f"shift {_shift_text(row.weekday, new_opens, new_closes)} would overlap "
                f"{DAY_NAMES[other.weekday]} {other.opens_at}-{other.closes_at} ({other.uuid[:8]})"
            )
    row.opens_at, row.closes_at = format_time(new_opens), format_time(new_closes)
    session.flush()
    return hours_record(row, exchange.slug)


def remove_hours(session: Session, idents: Sequence[str]) -> list[HoursRecord]:
    rows = [by_uuid(session, BusinessHours, ident, "shift") for ident in idents]
    removed = {row.id: hours_record(row, row.exchange.slug) for row in rows}
    for row in {row.id: row for row in rows}.values():
        session.delete(row)
    session.flush()
    return list(removed.values())


def clear_hours(
    session: Session, slug: str, days: Iterable[int] | None = None
) -> list[HoursRecord]:
    """Remove every shift of the exchange, or only those on ``days``."""
    exchange = exchange_by_slug(session, slug, for_update=True)
    query = select(BusinessHours).where(BusinessHours.exchange_id == exchange.id)
    if days is not None:
        query = query.where(BusinessHours.weekday.in_(list(days)))
    rows = session.scalars(query.order_by(BusinessHours.weekday, BusinessHours.opens_at)).all()
    removed = [hours_record(row, exchange.slug) for row in rows]
    for row in rows:
        session.delete(row)
    session.flush()
    return removed


# Closures ---------------------------------------------------------------------------


def add_closure(
    session: Session, slug: str, starts_on: date, ends_on: date | None, reason: str
) -> ClosureRecord:
    exchange = exchange_by_slug(session, slug, for_update=True)
    ends_on = ends_on or starts_on
    if ends_on < starts_on:
        raise InvalidValue(f"closure ends {ends_on} before it starts {starts_on}")
    duplicate = session.scalar(
        select(Closure.uuid).where(
            Closure.exchange_id == exchange.id,
            Closure.starts_on == starts_on,
            Closure.ends_on == ends_on,
        )
    )
    if duplicate is not None:
        raise Conflict(
            f"exchange {exchange.slug!r} already has a closure {starts_on} to {ends_on} "
            f"({duplicate[:8]})"
        )
    closure = Closure(
        exchange_id=exchange.id,
        starts_on=starts_on,
        ends_on=ends_on,
        reason=domain.reason(reason) or "",
    )
    session.add(closure)
    session.flush()
    return closure_record(closure, exchange.slug)


def list_closures(
    session: Session,
    slug: str | None = None,
    *,
    from_date: date | None = None,
    to_date: date | None = None,
) -> list[ClosureRecord]:
    query = _with_slugs(session, Closure, slug, Closure.starts_on, Closure.ends_on)
    if from_date is not None:
        query = query.where(Closure.ends_on >= from_date)
    if to_date is not None:
        query = query.where(Closure.starts_on <= to_date)
    return [closure_record(row, exchange_slug) for row, exchange_slug in session.execute(query)]


def remove_closure(session: Session, ident: str) -> ClosureRecord:
    closure = by_uuid(session, Closure, ident, "closure")
    record = closure_record(closure, closure.exchange.slug)
    session.delete(closure)
    session.flush()
    return record


def public_holidays(country: str, subdiv: str | None, year: int) -> dict[date, str]:
    """The public holidays of a country (and subdivision) in a year."""
    import holidays

    YEAR.check(year, "--year")
    try:
        found = holidays.country_holidays(country.upper(), subdiv=subdiv, years=year)
    except NotImplementedError as exc:
        raise InvalidValue(f"no holiday calendar for {country!r}: {exc}") from None
    return {day: str(name) for day, name in sorted(found.items()) if day.year == year}


def add_holidays(
    session: Session,
    slug: str,
    *,
    country: str,
    subdiv: str | None,
    year: int,
    dry_run: bool = False,
) -> list[ClosureRecord]:
    """Add each public holiday as a one-day closure, skipping dates already closed."""
    found = public_holidays(country, subdiv, year)
    exchange = exchange_by_slug(session, slug, for_update=True)
    existing = session.execute(
        select(Closure.starts_on, Closure.ends_on).where(
            Closure.exchange_id == exchange.id,
            Closure.starts_on <= date(year, 12, 31),
            Closure.ends_on >= date(year, 1, 1),
        )
    ).all()
    added: list[ClosureRecord] = []
    for day, name in found.items():
        if any(start <= day <= end for start, end in existing):
            continue
        closure = Closure(exchange_id=exchange.id, starts_on=day, ends_on=day, reason=name[:200])
        if not dry_run:
            session.add(closure)
            session.flush()
        added.append(closure_record(closure, exchange.slug))
    return added
