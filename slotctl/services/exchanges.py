"""Exchanges: the offices whose hours, slots and bookings slotctl manages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from slotctl import clock, domain
from slotctl.bounds import (
    ADVANCE_DAYS,
    CHECKIN_EARLY_MINUTES,
    LATE_AFTER_MINUTES,
    MINUTES_PER_DAY,
    NOTICE_MINUTES,
)
from slotctl.db.models import Booking, Exchange, TimeSlot
from slotctl.domain import SEAT_HOLDING_STATUSES
from slotctl.errors import Conflict, InvalidValue
from slotctl.parsing import validate_timezone
from slotctl.records import ExchangeRecord
from slotctl.services import seats
from slotctl.services.lookup import exchange_by_slug
from slotctl.wording import counted


class _Unset:
    """Marks an option that was not given (``None`` means "clear")."""


UNSET: Any = _Unset()


def exchange_record(exchange: Exchange) -> ExchangeRecord:
    return ExchangeRecord(*(getattr(exchange, name) for name in ExchangeRecord.FIELDS))


def _validate_notice(minutes: int) -> int:
    return NOTICE_MINUTES.check(minutes, "--min-notice")


def _validate_advance(days: int | None) -> int | None:
    return None if days is None else ADVANCE_DAYS.check(days, "--max-advance")


def advance_days(minutes: int | None) -> int | None:
    """A max-advance duration in minutes as whole days (``None`` = unlimited)."""
    if minutes is None:
        return None
    if minutes % MINUTES_PER_DAY:
        raise InvalidValue("the maximum advance must be whole days, e.g. 30d or 90d")
    return minutes // MINUTES_PER_DAY


def add_exchange(
    session: Session,
    slug: str,
    *,
    name: str,
    timezone: str,
    min_notice_minutes: int = 0,
    max_advance_days: int | None = None,
) -> ExchangeRecord:
    slug = domain.slug(slug)
    exchange = Exchange(
        slug=slug,
        name=domain.exchange_name(name),
        timezone=validate_timezone(timezone),
        is_active=True,
        min_notice_minutes=_validate_notice(min_notice_minutes),
        max_advance_days=_validate_advance(max_advance_days),
    )
    if session.scalar(select(Exchange.id).where(Exchange.slug == slug)) is not None:
        raise Conflict(f"exchange {slug!r} already exists")
    session.add(exchange)
    session.flush()
    return exchange_record(exchange)


def list_exchanges(session: Session) -> list[ExchangeRecord]:
    return [exchange_record(e) for e in session.scalars(select(Exchange).order_by(Exchange.slug))]


def show_exchange(session: Session, slug: str) -> ExchangeRecord:
    return exchange_record(exchange_by_slug(session, slug))


def update_exchange(
    session: Session,
    slug: str,
    *,
    name: str | None = None,
    timezone: str | None = None,
    min_notice_minutes: int | None = None,
    max_advance_days: Any = UNSET,
    is_active: bool | None = None,
    checkin_early_minutes: int | None = None,
    late_after_minutes: int | None = None,
) -> ExchangeRecord:
    exchange = exchange_by_slug(session, slug, for_update=True)
    if name is not None:
        exchange.name = domain.exchange_name(name)
    if timezone is not None and validate_timezone(timezone) != exchange.timezone:
        future = _future_slot_count(session, exchange)
        if future:
            raise Conflict(
                f"exchange {exchange.slug!r} has {counted(future, 'future slot')} generated in "
                f"{exchange.timezone}; delete them before changing its timezone"
            )
        exchange.timezone = timezone
    if min_notice_minutes is not None:
        exchange.min_notice_minutes = _validate_notice(min_notice_minutes)
    if max_advance_days is not UNSET:
        exchange.max_advance_days = _validate_advance(max_advance_days)
    if is_active is not None:
        exchange.is_active = is_active
    if checkin_early_minutes is not None:
        exchange.checkin_early_minutes = CHECKIN_EARLY_MINUTES.check(
            checkin_early_minutes, "--checkin-early"
        )
    if late_after_minutes is not None:
        exchange.late_after_minutes = LATE_AFTER_MINUTES.check(late_after_minutes, "--late-after")
    session.flush()
    if is_active:  # an exchange taking bookings again gives its free seats to the waitlist
        seats.promote_entries(session, exchange.id, clock.now())
    return exchange_record(exchange)


def _future_slot_count(session: Session, exchange: Exchange) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(TimeSlot)
            .where(TimeSlot.exchange_id == exchange.id, TimeSlot.starts_at > clock.now())
        )
        or 0
    )


@dataclass(frozen=True)
class RemovalPlan:
    exchange: ExchangeRecord
    slots: int
    bookings: int


def plan_removal(session: Session, slug: str) -> RemovalPlan:
    """What removing the exchange would delete; refused while it has future bookings."""
    exchange = exchange_by_slug(session, slug, for_update=True)
    future = session.scalar(
        select(func.count())
        .select_from(Booking)
        .join(TimeSlot, Booking.time_slot_id == TimeSlot.id)
        .where(
            Booking.exchange_id == exchange.id,
            Booking.status.in_(SEAT_HOLDING_STATUSES),
            TimeSlot.starts_at > clock.now(),
        )
    )
    if future:
        raise Conflict(
            f"exchange {exchange.slug!r} has {counted(future, 'future booking')} holding seats; "
            "cancel or move them first"
        )
    slots = session.scalar(
        select(func.count()).select_from(TimeSlot).where(TimeSlot.exchange_id == exchange.id)
    )
    bookings = session.scalar(
        select(func.count()).select_from(Booking).where(Booking.exchange_id == exchange.id)
    )
    return RemovalPlan(exchange_record(exchange), slots or 0, bookings or 0)


def remove_exchange(session: Session, slug: str) -> ExchangeRecord:
    """Delete the exchange with its hours, closures, slots and past bookings."""
    plan = plan_removal(session, slug)
    session.execute(delete(Exchange).where(Exchange.slug == plan.exchange["slug"]))
    return plan.exchange
