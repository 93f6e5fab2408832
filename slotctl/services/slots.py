"""Slots: finding, listing and administration (generation: ``generate``; calendars:
``calendar``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, bindparam, delete, exists, false, select, text, update
from sqlalchemy.orm import Session

from slotctl import clock
from slotctl.bounds import CAPACITY, LIMIT
from slotctl.db.models import Booking, Exchange, TimeSlot, UTCDateTime
from slotctl.domain import SEAT_HOLDING_STATUSES, SLOT_STATUSES, booking_window
from slotctl.errors import Conflict, InvalidValue, NotFound
from slotctl.localtime import day_window, local_or_instant, local_start, optional_date
from slotctl.records import Page, SlotRecord, booking_record, slot_record, slot_values_record
from slotctl.services import seats
from slotctl.services.lookup import by_uuid, exchange_by_slug
from slotctl.services.seats import slot_status_sql
from slotctl.wording import counted

SLOTS = TimeSlot.__table__
SLOT_ROW = (
    SLOTS.c.id,
    SLOTS.c.uuid,
    SLOTS.c.exchange_id,
    SLOTS.c.date,
    SLOTS.c.starts_at,
    SLOTS.c.ends_at,
    SLOTS.c.max_capacity,
    SLOTS.c.current_bookings,
    SLOTS.c.is_available,
)


def resolve_slot(session: Session, ident: str) -> tuple[TimeSlot, Exchange]:
    """A slot by uuid, uuid prefix, or ``SLUG@YYYY-MM-DDTHH:MM`` (local start)."""
    if "@" in ident:
        slug, _, when = ident.partition("@")
        exchange = exchange_by_slug(session, slug)
        wall, instants = local_start(when, exchange.timezone)
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
) -> list[SlotRecord]:
    if exchange is not None:  # rows of SLOT_ROW, unpacked without attribute lookups
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
    """The slots in ``status`` at ``now``: the domain's rule as SQL
    (:func:`slotctl.services.seats.slot_status_sql`), after the bound on ``starts_at`` it
    implies, which keeps the index range short. ``after_now``: the query already starts
    after now."""
    if status not in SLOT_STATUSES:
        raise InvalidValue(f"unknown status {status!r}: use {', '.join(SLOT_STATUSES)}")
    if status == "past":
        query = query.where(SLOTS.c.starts_at <= now)
    elif not after_now:
        query = query.where(SLOTS.c.starts_at > now)
    rule = text(f"{slot_status_sql(TimeSlot.__tablename__, ':status_now')} = :status").bindparams(
        bindparam("status_now", now, type_=UTCDateTime()), status=status
    )
    return query.where(rule)


def _page(
    session: Session,
    query: Select[Any],
    limit: int | None,
    now: datetime,
    exchange: Exchange | None = None,
) -> Page[SlotRecord]:
    if limit is not None:
        LIMIT.check(limit)
    if limit:
        query = query.limit(limit + 1)
    rows = session.execute(query).all()
    more = bool(limit) and len(rows) > (limit or 0)
    return Page(_records(session, rows[:limit] if limit else rows, now, exchange), more)


def list_slots(
    session: Session,
    slug: str | None,
    *,
    from_date: str | None,
    to_date: str | None,
    status: str | None,
    limit: int | None,
    default_timezone: str = "UTC",
) -> Page[SlotRecord]:
    """Slots by start. Relative dates count from the exchange's local today (without a
    slug, from today in ``default_timezone``)."""
    now = clock.now()
    query = select(*SLOT_ROW)
    after_now = False
    if slug is not None:
        exchange = exchange_by_slug(session, slug)
        first = optional_date(from_date, exchange.timezone)
        last = optional_date(to_date, exchange.timezone)
        query = query.where(SLOTS.c.exchange_id == exchange.id)
        if first:
            start = day_window(exchange.timezone, first, first)[0]
            # One lower bound only: given two, SQLite may start the index range at the
            # looser. A future status's own "after now" is the tighter one when start <= now.
            if status in (None, "past") or start > now:
                query = query.where(SLOTS.c.starts_at >= start)
                after_now = start > now
        if last:
            end = day_window(exchange.timezone, last, last)[1]
            query = query.where(SLOTS.c.starts_at < end)
    else:
        first = optional_date(from_date, default_timezone)
        last = optional_date(to_date, default_timezone)
        if first:
            query = query.where(SLOTS.c.date >= first)
        if last:
            query = query.where(SLOTS.c.date <= last)
    if status is not None:
        query = _status_filter(query, status, now, after_now=slug is not None and after_now)
    query = query.order_by(SLOTS.c.starts_at, SLOTS.c.exchange_id)
    return _page(session, query, limit, now)


def _bookable(
    session: Session, exchange: Exchange, after: datetime | None, before: datetime | None
) -> Select[Any]:
    earliest, horizon = booking_window(
        clock.now(), exchange.min_notice_minutes, exchange.max_advance_days
    )
    # One lower bound only: given two, SQLite may start the index range at the looser.
    lower = SLOTS.c.starts_at >= after if after is not None and after > earliest else None
    query = select(*SLOT_ROW).where(
        SLOTS.c.exchange_id == exchange.id,
        lower if lower is not None else SLOTS.c.starts_at > earliest,
        SLOTS.c.is_available,
        SLOTS.c.current_bookings < SLOTS.c.max_capacity,
    )
    latest = before
    if horizon is not None:
        latest = horizon if latest is None or horizon < latest else latest
    if latest is not None:
        query = query.where(SLOTS.c.starts_at < latest)
    if not exchange.is_active:
        query = query.where(false())
    return query.order_by(SLOTS.c.starts_at)


def available_slots(
    session: Session,
    slug: str,
    *,
    from_date: str | None,
    to_date: str | None,
    limit: int | None,
) -> Page[SlotRecord]:
    """Slots a customer could book now: open, not full, outside notice, inside advance."""
    exchange = exchange_by_slug(session, slug)
    first = optional_date(from_date, exchange.timezone)
    last = optional_date(to_date, exchange.timezone)
    after = day_window(exchange.timezone, first, first)[0] if first else None
    before = day_window(exchange.timezone, last, last)[1] if last else None
    page = _page(session, _bookable(session, exchange, after, before), limit, clock.now(), exchange)
    page.inactive = not exchange.is_active
    return page


def next_slot(session: Session, slug: str, after: str | None) -> SlotRecord:
    """The first slot a customer could book, after ``after`` (the exchange's local time,
    or an instant with an offset) when given."""
    exchange = exchange_by_slug(session, slug)
    moment = None if after is None else local_or_instant(after, exchange.timezone)
    row = session.execute(_bookable(session, exchange, moment, None).limit(1)).first()
    if row is None:
        raise NotFound(f"no bookable slot for {exchange.slug!r}")
    return slot_record(row, exchange.slug, exchange.timezone, clock.now())


def show_slot(session: Session, ident: str) -> tuple[dict[str, Any], str]:
    """The slot with its bookings, and its exchange's timezone."""
    slot, exchange = resolve_slot(session, ident)
    bookings = session.scalars(
        select(Booking).where(Booking.time_slot_id == slot.id).order_by(Booking.created_at)
    )
    return {
        **slot_record(slot, exchange.slug, exchange.timezone, clock.now()),
        "bookings": [booking_record(b, slot, exchange.slug, exchange.timezone) for b in bookings],
    }, exchange.timezone


def slots_between(
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
        start, end = day_window(exchange.timezone, selection.from_date, selection.to_date)
        slots = slots_between(session, exchange, start, end)
        return [(slot, exchange) for slot in slots]
    if not selection.idents:
        raise InvalidValue("name slots (uuid, prefix or SLUG@YYYY-MM-DDTHH:MM) or SLUG --from --to")
    chosen: dict[int, tuple[TimeSlot, Exchange]] = {}
    for ident in selection.idents:
        slot, exchange = resolve_slot(session, ident)
        chosen[slot.id] = (slot, exchange)
    return sorted(chosen.values(), key=lambda pair: pair[0].starts_at)


def _record(session: Session, slot: TimeSlot, exchange: Exchange) -> SlotRecord:
    session.refresh(slot)
    return slot_record(slot, exchange.slug, exchange.timezone, clock.now())


def update_capacity(session: Session, ident: str, capacity: int) -> SlotRecord:
    CAPACITY.check(capacity, "--capacity")
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
            f"slot {slot.uuid[:8]} has {counted(slot.current_bookings, 'booking')} holding seats; "
            f"capacity {capacity} is below that"
        )
    seats.promote(session, [slot.id], clock.now())  # a raise frees seats for the waitlist
    return _record(session, slot, exchange)


def set_blocked(session: Session, selection: Selection, blocked: bool) -> list[SlotRecord]:
    chosen = select_slots(session, selection)
    ids = [slot.id for slot, _ in chosen]
    for index in range(0, len(ids), 500):
        session.execute(
            update(TimeSlot)
            .where(TimeSlot.id.in_(ids[index : index + 500]))
            .values(is_available=not blocked, updated_at=clock.now())
            .execution_options(synchronize_session=False)
        )
    if not blocked:  # unblocked seats go to the waitlist first
        seats.promote(session, ids, clock.now())
    return [_record(session, slot, exchange) for slot, exchange in chosen]


@dataclass
class BulkOutcome:
    changed: list[SlotRecord]
    refused: list[SlotRecord]


def bulk_capacity(
    session: Session, slug: str, from_date: date, to_date: date, capacity: int
) -> BulkOutcome:
    """Set the capacity of a range; slots with more bookings than that stay as they are."""
    CAPACITY.check(capacity, "--set")
    chosen = select_slots(session, Selection(slug=slug, from_date=from_date, to_date=to_date))
    changed: list[SlotRecord] = []
    refused: list[SlotRecord] = []
    for slot, exchange in chosen:
        result = session.execute(
            update(TimeSlot)
            .where(TimeSlot.id == slot.id, TimeSlot.current_bookings <= capacity)
            .values(max_capacity=capacity, updated_at=clock.now())
            .execution_options(synchronize_session=False)
        )
        if result.rowcount:  # type: ignore[attr-defined]
            seats.promote(session, [slot.id], clock.now())
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
