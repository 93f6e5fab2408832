"""Records: database rows turned into the plain dicts of CLI.md's field lists."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from slotctl.db.models import Booking

SLOT_FIELDS = (
    "uuid",
    "exchange",
    "date",
    "start",
    "end",
    "starts_at",
    "ends_at",
    "max_capacity",
    "current_bookings",
    "available_seats",
    "is_available",
    "status",
)
BOOKING_FIELDS = (
    "uuid",
    "reference",
    "exchange",
    "slot",
    "starts_at",
    "ends_at",
    "customer_name",
    "customer_email",
    "customer_phone",
    "notes",
    "status",
    "created_at",
    "updated_at",
    "confirmed_at",
    "completed_at",
    "cancelled_at",
    "cancellation_reason",
)


class SlotLike(Protocol):
    uuid: str
    date: Any
    starts_at: datetime
    ends_at: datetime
    max_capacity: int
    current_bookings: int
    is_available: bool


def _status(
    starts_at: datetime, is_available: bool, booked: int, capacity: int, now: datetime
) -> str:
    if starts_at <= now:
        return "past"
    if not is_available:
        return "blocked"
    if booked >= capacity:
        return "full"
    return "available"


def slot_record(
    slot: SlotLike, slug: str, timezone: str | ZoneInfo, now: datetime
) -> dict[str, Any]:
    zone = timezone if isinstance(timezone, ZoneInfo) else ZoneInfo(timezone)
    return slot_values_record(
        slot.uuid,
        slug,
        slot.date,
        slot.starts_at,
        slot.ends_at,
        slot.max_capacity,
        slot.current_bookings,
        slot.is_available,
        zone,
        now,
    )


def slot_values_record(
    uuid: str,
    slug: str,
    day: Any,
    starts: datetime,
    ends: datetime,
    capacity: int,
    booked: int,
    is_available: bool,
    zone: ZoneInfo,
    now: datetime,
) -> dict[str, Any]:
    """The record from plain column values (the fast path for listings)."""
    starts_at = starts.astimezone(zone)
    ends_at = ends.astimezone(zone)
    return {
        "uuid": uuid,
        "exchange": slug,
        "date": day,
        "start": f"{starts_at.hour:02d}:{starts_at.minute:02d}",
        "end": f"{ends_at.hour:02d}:{ends_at.minute:02d}",
        "starts_at": starts_at,
        "ends_at": ends_at,
        "max_capacity": capacity,
        "current_bookings": booked,
        "available_seats": max(0, capacity - booked),
        "is_available": bool(is_available),
        "status": _status(starts, is_available, booked, capacity, now),
    }


def booking_record(booking: Booking, slot: SlotLike, slug: str, timezone: str) -> dict[str, Any]:
    zone = ZoneInfo(timezone)
    return {
        "uuid": booking.uuid,
        "reference": booking.reference,
        "exchange": slug,
        "slot": slot.uuid,
        "starts_at": slot.starts_at.astimezone(zone),
        "ends_at": slot.ends_at.astimezone(zone),
        "customer_name": booking.customer_name,
        "customer_email": booking.customer_email,
        "customer_phone": booking.customer_phone,
        "notes": booking.notes,
        "status": booking.status,
        "created_at": booking.created_at,
        "updated_at": booking.updated_at,
        "confirmed_at": booking.confirmed_at,
        "completed_at": booking.completed_at,
        "cancelled_at": booking.cancelled_at,
        "cancellation_reason": booking.cancellation_reason,
    }
