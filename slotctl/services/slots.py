"""Slots: finding, listing, calendars and administration (generation: ``generate``)."""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, case, delete, exists, false, func, select, update
from sqlalchemy.orm import Session

from slotctl import clock
from slotctl.db.models import SEAT_HOLDING_STATUSES, Booking, Exchange, TimeSlot
from slotctl.errors import Conflict, InvalidValue, NotFound
from slotctl.parsing import parse_date
from slotctl.services.generate import closed_dates, week_shifts
from slotctl.services.lookup import by_uuid, exchange_by_slug
from slotctl.services.records import booking_record, slot_record, slot_values_record

STATUSES = ("available", "full", "blocked", "past")
_T = TimeSlot.__table__
_SLOT_COLUMNS = (
    _T.c.id,
    _T.c.uuid,
    _T.c.exchange_id,
    _T.c.date,
    _T.c.starts_at,
    _T.c.ends_at,
    _T.c.max_capacity,
    _T.c.current_bookings,
    _T.c.is_available,
)


def local_window(timezone: str, first: date, last: date) -> tuple[datetime, datetime]:
    """UTC instants bounding the local dates ``first`` to ``last`` inclusive."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(first, time(), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(), tzinfo=zone).astimezone(UTC)
    return start, end


def parse_local_start(text: str) -> datetime:
    """``YYYY-MM-DDTHH:MM`` (or with a space) as a naive wall-clock time."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidValue(f"invalid local time {text!r}: use YYYY-MM-DDTHH:MM") from None
    if value.tzinfo is not None:
        value = value.replace(tzinfo=None)
    return value


def resolve_slot(session: Session, ident: str) -> tuple[TimeSlot, Exchange]:
    """A slot by uuid, uuid prefix, or ``SLUG@YYYY-MM-DDTHH:MM`` (local start)."""
    if "@" in ident:
        slug, _, when = ident.partition("@")
        exchange = exchange_by_slug(session, slug)
        wall = parse_local_start(when)
        zone = ZoneInfo(exchange.timezone)
        instants = {wall.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1)}
        slot = session.scalars(
            select(TimeSlot)
            .where(TimeSlot.exchange_id == exchange.id, TimeSlot.starts_at.in_(instants))
            .order_by(TimeSlot.starts_at)
            .limit(1)
        ).first()
        if slot is None:
            raise NotFound(f"no slot of {exchange.slug!r} starting at {wall:%Y-%m-%d %H:%M}")
        return slot, exchange
    key = ident.strip().lower()
    if len(key) == 36:  # the usual case: one joined query
        row = session.execute(
            select(TimeSlot, Exchange)
            .join(Exchange, TimeSlot.exchange_id == Exchange.id)
            .where(TimeSlot.uuid == key)
        ).one_or_none()
        if row is not None:
            return row[0], row[1]
    slot = by_uuid(session, TimeSlot, ident, "slot")
    return slot, slot.exchange


def _exchanges_by_id(session: Session, ids: set[int]) -> dict[int, Exchange]:
    if not ids:
        return {}
    return {e.id: e for e in session.scalars(select(Exchange).where(Exchange.id.in_(ids)))}


def _records(
    session: Session, rows: Sequence[Any], now: datetime, exchange: Exchange | None = None
) -> list[dict[str, Any]]:
    if exchange is not None:  # rows of _SLOT_COLUMNS, unpacked without attribute lookups
        zone, slug = ZoneInfo(exchange.timezone), exchange.slug
        return [
            slot_values_record(uuid, slug, day, starts, ends, cap, booked, open_, zone, now)
            for _, uuid, _, day, starts, ends, cap, booked, open_ in rows
        ]
    exchanges = _exchanges_by_id(session, {row.exchange_id for row in rows})
    zones = {key: ZoneInfo(e.timezone) for key, e in exchanges.items()}
    return [
        slot_record(row, exchanges[row.exchange_id].slug, zones[row.exchange_id], now)
        for row in rows
    ]


def _status_filter(
    query: Select[Any], status: str, now: datetime, *, after_now: bool = False
) -> Select[Any]:
    """``after_now``: the query already starts after now (one lower bound is enough)."""
    if status not in STATUSES:
        raise InvalidValue(f"unknown status {status!r}: use {', '.join(STATUSES)}")
    if status == "past":
        return query.where(_T.c.starts_at <= now)
    if not after_now:
        query = query.where(_T.c.starts_at > now)
    if status == "blocked":
        return query.where(~_T.c.is_available)
    query = query.where(_T.c.is_available)
    if status == "full":
        return query.where(_T.c.current_bookings >= _T.c.max_capacity)
    return query.where(_T.c.current_bookings < _T.c.max_capacity)


@dataclass
class Page:
    """Records and whether more matched than the limit."""

    records: list[dict[str, Any]]
    more: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _page(
    session: Session,
    query: Select[Any],
    limit: int | None,
    now: datetime,
    exchange: Exchange | None = None,
) -> Page:
    if limit is not None and limit < 0:
        raise InvalidValue("--limit cannot be negative")
    if limit:
        query = query.limit(limit + 1)
    rows = session.execute(query).all()
    more = bool(limit) and len(rows) > (limit or 0)
    return Page(_records(session, rows[:limit] if limit else rows, now, exchange), more)


def local_date(spec: str | None, timezone: str) -> date | None:
    """A date spec (``2027-03-22``, ``today``, ``+7d``) with "today" in ``timezone``."""
    if spec is None:
        return None
    return parse_date(spec, clock.now().astimezone(ZoneInfo(timezone)).date())


def list_slots(
    session: Session,
    slug: str | None,
    *,
    from_date: str | None,
    to_date: str | None,
    status: str | None,
    limit: int | None,
    default_timezone: str = "UTC",
) -> Page:
    """Slots by start. Relative dates count from the exchange's local today (without a
    slug, from today in ``default_timezone``)."""
    now = clock.now()
    query = select(*_SLOT_COLUMNS)
    after_now = False
    if slug is not None:
        exchange = exchange_by_slug(session, slug)
        first = local_date(from_date, exchange.timezone)
        last = local_date(to_date, exchange.timezone)
        query = query.where(_T.c.exchange_id == exchange.id)
        if first:
            start = local_window(exchange.timezone, first, first)[0]
            # One lower bound only: given two, SQLite may start the index range at the
            # looser. A future status's own "after now" is the tighter one when start <= now.
            if status in (None, "past") or start > now:
                query = query.where(_T.c.starts_at >= start)
                after_now = start > now
        if last:
            end = local_window(exchange.timezone, last, last)[1]
            query = query.where(_T.c.starts_at < end)
    else:
        first = local_date(from_date, default_timezone)
        last = local_date(to_date, default_timezone)
        if first:
            query = query.where(_T.c.date >= first)
        if last:
            query = query.where(_T.c.date <= last)
    if status is not None:
        query = _status_filter(query, status, now, after_now=slug is not None and after_now)
    query = query.order_by(_T.c.starts_at, _T.c.exchange_id)
    return _page(session, query, limit, now)


def _bookable(
    session: Session, exchange: Exchange, after: datetime | None, before: datetime | None
) -> Select[Any]:
    now = clock.now()
    earliest = now + timedelta(minutes=exchange.min_notice_minutes)
    # One lower bound only: given two, SQLite may start the index range at the looser.
    lower = _T.c.starts_at >= after if after is not None and after > earliest else None
    query = select(*_SLOT_COLUMNS).where(
        _T.c.exchange_id == exchange.id,
        lower if lower is not None else _T.c.starts_at > earliest,
        _T.c.is_available,
        _T.c.current_bookings < _T.c.max_capacity,
    )
    latest = before
    if exchange.max_advance_days is not None:
        horizon = now + timedelta(days=exchange.max_advance_days)
        latest = horizon if latest is None or horizon < latest else latest
    if latest is not None:
        query = query.where(_T.c.starts_at < latest)
    if not exchange.is_active:
        query = query.where(false())
    return query.order_by(_T.c.starts_at)


def available_slots(
    session: Session,
    slug: str,
    *,
    from_date: str | None,
    to_date: str | None,
    limit: int | None,
) -> Page:
    """Slots a customer could book now: open, not full, outside notice, inside advance."""
    exchange = exchange_by_slug(session, slug)
    first = local_date(from_date, exchange.timezone)
    last = local_date(to_date, exchange.timezone)
    after = local_window(exchange.timezone, first, first)[0] if first else None
    before = local_window(exchange.timezone, last, last)[1] if last else None
    page = _page(session, _bookable(session, exchange, after, before), limit, clock.now(), exchange)
    if not exchange.is_active:
        page.extra["inactive"] = True
    return page


def next_slot(session: Session, slug: str, after: datetime | None) -> dict[str, Any]:
    exchange = exchange_by_slug(session, slug)
    row = session.execute(_bookable(session, exchange, after, None).limit(1)).first()
    if row is None:
        raise NotFound(f"no bookable slot for {exchange.slug!r}")
    return slot_record(row, exchange.slug, exchange.timezone, clock.now())


def show_slot(session: Session, ident: str) -> dict[str, Any]:
    slot, exchange = resolve_slot(session, ident)
    record = slot_record(slot, exchange.slug, exchange.timezone, clock.now())
    bookings = session.scalars(
        select(Booking).where(Booking.time_slot_id == slot.id).order_by(Booking.created_at)
    )
    record["bookings"] = [
        booking_record(b, slot, exchange.slug, exchange.timezone) for b in bookings
    ]
    return record


# Calendars ------------------------------------------------------------------------


def parse_month(text: str) -> tuple[int, int]:
    try:
        year_text, month_text = text.strip().split("-")
        year, month = int(year_text), int(month_text)
        date(year, month, 1)
    except ValueError:
        raise InvalidValue(f"invalid month {text!r}: use YYYY-MM, e.g. 2027-03") from None
    return year, month


def _closed_days(session: Session, exchange: Exchange, first: date, last: date) -> set[date]:
    week = week_shifts(session, exchange)
    closed = closed_dates(session, exchange.id, first, last)
    day = first
    while day <= last:
        if not week.get(day.weekday()):
            closed.add(day)
        day += timedelta(days=1)
    return closed


def month_overview(session: Session, slug: str, year: int, month: int) -> dict[str, Any]:
    """Per local day: slots, seats, booked and free seats, closed or not."""
    exchange = exchange_by_slug(session, slug)
    first = date(year, month, 1)
    last = date(year, month, calendar.monthrange(year, month)[1])
    now = clock.now()
    free_seats = case((_T.c.is_available, _T.c.max_capacity - _T.c.current_bookings), else_=0)
    rows = session.execute(
        select(
            _T.c.date,
            func.count(),
            func.sum(_T.c.max_capacity),
            func.sum(_T.c.current_bookings),
            func.sum(free_seats),
            func.sum(case((_T.c.is_available, 0), else_=1)),
        )
        .where(_T.c.exchange_id == exchange.id, _T.c.date.between(first, last))
        .group_by(_T.c.date)
    ).all()
    by_day = {row[0]: row for row in rows}
    closed = _closed_days(session, exchange, first, last)
    today = now.astimezone(ZoneInfo(exchange.timezone)).date()
    days = []
    for number in range(1, last.day + 1):
        day = date(year, month, number)
        row = by_day.get(day)
        days.append(
            {
                "date": day,
                "weekday": day.weekday(),
                "slots": int(row[1]) if row else 0,
                "seats": int(row[2] or 0) if row else 0,
                "booked": int(row[3] or 0) if row else 0,
                "free": int(row[4] or 0) if row else 0,
                "blocked": int(row[5] or 0) if row else 0,
                "closed": day in closed and not row,
                "past": day < today,
            }
        )
    return {
        "exchange": exchange.slug,
        "timezone": exchange.timezone,
        "month": f"{year:04d}-{month:02d}",
        "days": days,
    }


def week_agenda(session: Session, slug: str, day: date) -> dict[str, Any]:
    """The Monday-to-Sunday week containing ``day``: its dates and slots."""
    exchange = exchange_by_slug(session, slug)
    monday = day - timedelta(days=day.weekday())
    sunday = monday + timedelta(days=6)
    start, end = local_window(exchange.timezone, monday, sunday)
    rows = session.execute(
        select(*_SLOT_COLUMNS)
        .where(_T.c.exchange_id == exchange.id, _T.c.starts_at >= start, _T.c.starts_at < end)
        .order_by(_T.c.starts_at)
    ).all()
    closed = _closed_days(session, exchange, monday, sunday)
    now = clock.now()
    return {
        "exchange": exchange.slug,
        "timezone": exchange.timezone,
        "week_start": monday,
        "days": [
            {"date": monday + timedelta(days=i), "closed": (monday + timedelta(days=i)) in closed}
            for i in range(7)
        ],
        "slots": [slot_record(row, exchange.slug, exchange.timezone, now) for row in rows],
    }


def _slots_between(
    session: Session, exchange: Exchange, start: datetime, end: datetime
) -> Sequence[TimeSlot]:
    """The exchange's slots starting in [start, end), in order."""
    return session.scalars(
        select(TimeSlot)
        .where(
            TimeSlot.exchange_id == exchange.id,
            TimeSlot.starts_at >= start,
            TimeSlot.starts_at < end,
        )
        .order_by(TimeSlot.starts_at)
    ).all()


def day_roster(session: Session, slug: str, day: date) -> dict[str, Any]:
    """A day's slots in order, each with its bookings."""
    exchange = exchange_by_slug(session, slug)
    start, end = local_window(exchange.timezone, day, day)
    slots = _slots_between(session, exchange, start, end)
    bookings: dict[int, list[Booking]] = {}
    if slots:
        for booking in session.scalars(
            select(Booking)
            .where(Booking.time_slot_id.in_([s.id for s in slots]))
            .order_by(Booking.created_at)
        ):
            bookings.setdefault(booking.time_slot_id, []).append(booking)
    now = clock.now()
    records = []
    for slot in slots:
        record = slot_record(slot, exchange.slug, exchange.timezone, now)
        record["bookings"] = [
            booking_record(b, slot, exchange.slug, exchange.timezone)
            for b in bookings.get(slot.id, [])
        ]
        records.append(record)
    return {
        "exchange": exchange.slug,
        "timezone": exchange.timezone,
        "date": day,
        "closed": day in _closed_days(session, exchange, day, day),
        "slots": records,
    }


# Administration -------------------------------------------------------------------


@dataclass
class Selection:
    """Slots chosen either by identifiers or by exchange and local date range."""

    idents: Sequence[str] = ()
    slug: str | None = None
    from_date: date | None = None
    to_date: date | None = None


def select_slots(session: Session, selection: Selection) -> list[tuple[TimeSlot, Exchange]]:
    if selection.slug is not None:
        if selection.from_date is None or selection.to_date is None:
            raise InvalidValue("a range needs both --from and --to")
        if selection.to_date < selection.from_date:
            raise InvalidValue(f"--to {selection.to_date} is before --from {selection.from_date}")
        exchange = exchange_by_slug(session, selection.slug)
        start, end = local_window(exchange.timezone, selection.from_date, selection.to_date)
        slots = _slots_between(session, exchange, start, end)
        return [(slot, exchange) for slot in slots]
    if not selection.idents:
        raise InvalidValue("name slots (uuid, prefix or SLUG@YYYY-MM-DDTHH:MM) or SLUG --from --to")
    chosen: dict[int, tuple[TimeSlot, Exchange]] = {}
    for ident in selection.idents:
        slot, exchange = resolve_slot(session, ident)
        chosen[slot.id] = (slot, exchange)
    return sorted(chosen.values(), key=lambda pair: pair[0].starts_at)


def _record(session: Session, slot: TimeSlot, exchange: Exchange) -> dict[str, Any]:
    session.refresh(slot)
    return slot_record(slot, exchange.slug, exchange.timezone, clock.now())


def update_capacity(session: Session, ident: str, capacity: int) -> dict[str, Any]:
    if capacity < 1:
        raise InvalidValue("--capacity must be at least 1 (block a slot to stop bookings)")
    slot, exchange = resolve_slot(session, ident)
    changed = session.execute(
        update(TimeSlot)
        .where(TimeSlot.id == slot.id, TimeSlot.current_bookings <= capacity)
        .values(max_capacity=capacity, updated_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    if not changed.rowcount:  # type: ignore[attr-defined]
        session.refresh(slot)
        raise Conflict(
            f"slot {slot.uuid[:8]} has {slot.current_bookings} bookings holding seats; "
            f"capacity {capacity} is below that"
        )
    return _record(session, slot, exchange)


def set_blocked(session: Session, selection: Selection, blocked: bool) -> list[dict[str, Any]]:
    chosen = select_slots(session, selection)
    ids = [slot.id for slot, _ in chosen]
    for index in range(0, len(ids), 500):
        session.execute(
            update(TimeSlot)
            .where(TimeSlot.id.in_(ids[index : index + 500]))
            .values(is_available=not blocked, updated_at=clock.now())
            .execution_options(synchronize_session=False)
        )
    return [_record(session, slot, exchange) for slot, exchange in chosen]


@dataclass
class BulkOutcome:
    changed: list[dict[str, Any]]
    refused: list[dict[str, Any]]


def bulk_capacity(
    session: Session, slug: str, from_date: date, to_date: date, capacity: int
) -> BulkOutcome:
    """Set the capacity of a range; slots with more bookings than that stay as they are."""
    if capacity < 1:
        raise InvalidValue("--set must be at least 1 (block slots to stop bookings)")
    chosen = select_slots(session, Selection(slug=slug, from_date=from_date, to_date=to_date))
    changed: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []
    for slot, exchange in chosen:
        result = session.execute(
            update(TimeSlot)
            .where(TimeSlot.id == slot.id, TimeSlot.current_bookings <= capacity)
            .values(max_capacity=capacity, updated_at=clock.now())
            .execution_options(synchronize_session=False)
        )
        target = changed if result.rowcount else refused  # type: ignore[attr-defined]
        target.append(_record(session, slot, exchange))
    return BulkOutcome(changed, refused)


def _holding_seats(slot_id: Any) -> Any:
    return exists().where(
        and_(Booking.time_slot_id == slot_id, Booking.status.in_(SEAT_HOLDING_STATUSES))
    )


def delete_slots(session: Session, selection: Selection, *, dry_run: bool) -> BulkOutcome:
    """Delete slots without seat-holding bookings; the others are refused and kept."""
    chosen = select_slots(session, selection)
    deleted, refused = [], []
    now = clock.now()
    for slot, exchange in chosen:
        record = slot_record(slot, exchange.slug, exchange.timezone, now)
        holding = slot.current_bookings > 0 or session.scalar(select(_holding_seats(slot.id)))
        if holding:
            refused.append(record)
            continue
        if not dry_run:
            result = session.execute(
                delete(TimeSlot)
                .where(
                    TimeSlot.id == slot.id,
                    TimeSlot.current_bookings == 0,
                    ~_holding_seats(TimeSlot.id),
                )
                .execution_options(synchronize_session=False)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                refused.append(record)
                continue
        deleted.append(record)
    return BulkOutcome(deleted, refused)
