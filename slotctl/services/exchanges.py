"""Exchanges: the offices whose hours, slots and bookings slotctl manages."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from slotctl import clock
from slotctl.db.models import SEAT_HOLDING_STATUSES, Booking, Exchange, TimeSlot
from slotctl.errors import Conflict, InvalidValue
from slotctl.parsing import MINUTES_PER_DAY, validate_timezone
from slotctl.services.lookup import exchange_by_slug

EXCHANGE_FIELDS = (
    "uuid",
    "slug",
    "name",
    "timezone",
    "is_active",
    "min_notice_minutes",
    "max_advance_days",
    "created_at",
    "updated_at",
)

_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class _Unset:
    """Marks an option that was not given (``None`` means "clear")."""


UNSET: Any = _Unset()


def exchange_record(exchange: Exchange) -> dict[str, Any]:
    return {field: getattr(exchange, field) for field in EXCHANGE_FIELDS}


def validate_slug(slug: str) -> str:
    value = slug.strip()
    if not _SLUG_RE.match(value):
        raise InvalidValue(
            f"invalid slug {slug!r}: use lower-case letters, digits, '-' or '_' "
            "(up to 64, starting with a letter or digit)"
        )
    return value


def _validate_name(name: str) -> str:
    value = " ".join(name.split())
    if not value or len(value) > 200:
        raise InvalidValue("the name must have 1 to 200 characters")
    return value


def _validate_notice(minutes: int) -> int:
    if minutes < 0:
        raise InvalidValue("the minimum notice cannot be negative")
    return minutes


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
) -> dict[str, Any]:
    slug = validate_slug(slug)
    exchange = Exchange(
        slug=slug,
        name=_validate_name(name),
        timezone=validate_timezone(timezone),
        is_active=True,
        min_notice_minutes=_validate_notice(min_notice_minutes),
        max_advance_days=max_advance_days,
    )
    if session.scalar(select(Exchange.id).where(Exchange.slug == slug)) is not None:
        raise Conflict(f"exchange {slug!r} already exists")
    session.add(exchange)
    session.flush()
    return exchange_record(exchange)


def list_exchanges(session: Session) -> list[dict[str, Any]]:
    return [exchange_record(e) for e in session.scalars(select(Exchange).order_by(Exchange.slug))]


def show_exchange(session: Session, slug: str) -> dict[str, Any]:
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
) -> dict[str, Any]:
    exchange = exchange_by_slug(session, slug, for_update=True)
    if name is not None:
        exchange.name = _validate_name(name)
    if timezone is not None and validate_timezone(timezone) != exchange.timezone:
        future = _future_slot_count(session, exchange)
        if future:
            raise Conflict(
                f"exchange {exchange.slug!r} has {future} future slots generated in "
                f"{exchange.timezone}; delete them before changing its timezone"
            )
        exchange.timezone = timezone
    if min_notice_minutes is not None:
        exchange.min_notice_minutes = _validate_notice(min_notice_minutes)
    if max_advance_days is not UNSET:
        exchange.max_advance_days = max_advance_days
    if is_active is not None:
        exchange.is_active = is_active
    session.flush()
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
    exchange: dict[str, Any]
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
            f"exchange {exchange.slug!r} has {future} future bookings holding seats; "
            "cancel or move them first"
        )
    slots = session.scalar(
        select(func.count()).select_from(TimeSlot).where(TimeSlot.exchange_id == exchange.id)
    )
    bookings = session.scalar(
        select(func.count()).select_from(Booking).where(Booking.exchange_id == exchange.id)
    )
    return RemovalPlan(exchange_record(exchange), slots or 0, bookings or 0)


def remove_exchange(session: Session, slug: str) -> dict[str, Any]:
    """Delete the exchange with its hours, closures, slots and past bookings."""
    plan = plan_removal(session, slug)
    session.execute(delete(Exchange).where(Exchange.slug == plan.exchange["slug"]))
    return plan.exchange
