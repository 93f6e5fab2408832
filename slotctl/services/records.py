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


def slot_status(slot: SlotLike, now: datetime) -> str:
    if slot.starts_at <= now:
        return "past"
    if not slot.is_available:
        return "blocked"
    if slot.current_bookings >= slot.max_capacity:
        return "full"
    return "available"


def slot_record(slot: SlotLike, slug: str, timezone: str, now: datetime) -> dict[str, Any]:
    zone = ZoneInfo(timezone)
    starts_at = slot.starts_at.astimezone(zone)
    ends_at = slot.ends_at.astimezone(zone)
    return {
        "uuid": slot.uuid,
        "exchange": slug,
        "date": slot.date,
        "start": f"{starts_at:%H:%M}",
        "end": f"{ends_at:%H:%M}",
        "starts_at": starts_at,
        "ends_at": ends_at,
        "max_capacity": slot.max_capacity,
        "current_bookings": slot.current_bookings,
        "available_seats": max(0, slot.max_capacity - slot.current_bookings),
        "is_available": bool(slot.is_available),
        "status": slot_status(slot, now),
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
