"""Typed records: what every command, export and import speaks.

One frozen dataclass per record type; its field order is the CSV header, the JSON
object's key order and the table's columns (docs/cli.md lists them). A record
reads like that JSON object too (it is a read-only ``Mapping`` of its fields), so
the output layer prints any of them the same way. :class:`Page` is a page of
records of one type.

Pure Python: the builders take anything shaped like the database rows
(:class:`SlotLike`, :class:`BookingLike`), never a session.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import Any, ClassVar, Generic, Protocol, TypeVar, dataclass_transform
from zoneinfo import ZoneInfo

from slotctl.domain import slot_status
from slotctl.parsing import DAY_NAMES


class Record(Mapping[str, Any]):
    """A typed record that also reads as the JSON object of its type."""

    __slots__ = ()
    FIELDS: ClassVar[tuple[str, ...]] = ()
    ATTRIBUTES: ClassVar[dict[str, str]] = {}  # field -> attribute, where a keyword differs

    def __getitem__(self, key: str) -> Any:
        if key in self.FIELDS:
            return getattr(self, self.ATTRIBUTES.get(key, key))
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self.FIELDS)

    def __len__(self) -> int:
        return len(self.FIELDS)


R = TypeVar("R", bound=type[Record])


@dataclass_transform(frozen_default=True, eq_default=True)
def record_type(cls: R) -> R:
    """Make ``cls`` a frozen dataclass record whose FIELDS are its fields, in order (a
    field named after a Python keyword is spelt with a trailing ``_``: ``from_``)."""
    made: Any = dataclass(frozen=True, slots=True, eq=True)(cls)
    made.FIELDS = tuple(f.name.removesuffix("_") for f in fields(made))
    made.ATTRIBUTES = {
        f.name.removesuffix("_"): f.name for f in fields(made) if f.name.endswith("_")
    }
    return made  # type: ignore[no-any-return]


@record_type
class ExchangeRecord(Record):
    uuid: str
    slug: str
    name: str
    timezone: str
    is_active: bool
    min_notice_minutes: int
    max_advance_days: int | None
    checkin_early_minutes: int
    late_after_minutes: int
    created_at: datetime
    updated_at: datetime


@record_type
class HoursRecord(Record):
    uuid: str
    exchange: str
    weekday: int
    day: str
    opens_at: str
    closes_at: str


@record_type
class ClosureRecord(Record):
    uuid: str
    exchange: str
    starts_on: date
    ends_on: date
    reason: str


@record_type
class SlotRecord(Record):
    uuid: str | None  # None: a slot a dry run would create
    exchange: str
    date: date
    start: str
    end: str
    starts_at: datetime
    ends_at: datetime
    max_capacity: int
    current_bookings: int
    available_seats: int
    is_available: bool
    status: str


@record_type
class BookingRecord(Record):
    uuid: str
    reference: str
    exchange: str
    slot: str
    starts_at: datetime
    ends_at: datetime
    customer_name: str
    customer_email: str
    customer_phone: str | None
    notes: str | None
    status: str
    created_at: datetime
    updated_at: datetime
    confirmed_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    cancellation_reason: str | None
    arrived_at: datetime | None
    called_at: datetime | None
    counter: str | None


@record_type
class EventRecord(Record):
    """One entry of a booking's audit trail."""

    at: datetime
    actor: str
    from_status: str | None
    to_status: str
    note: str | None


@record_type
class Violation(Record):
    """A broken invariant found by ``doctor``."""

    check: str
    record: str
    exchange: str
    detail: str


EXCHANGE_FIELDS = ExchangeRecord.FIELDS
HOURS_FIELDS = HoursRecord.FIELDS
CLOSURE_FIELDS = ClosureRecord.FIELDS
SLOT_FIELDS = SlotRecord.FIELDS


@record_type
class TicketRecord(Record):
    """A customer in an exchange's queue (``queue`` commands)."""

    uuid: str
    number: str
    exchange: str
    kind: str
    booking: str | None  # the appointment's booking reference
    customer_name: str
    status: str
    arrived_at: datetime
    called_at: datetime | None
    served_at: datetime | None
    counter: str | None
    due_at: datetime | None
    waited_minutes: int | None


@record_type
class EntryRecord(Record):
    """Someone waiting for a seat (``waitlist`` commands)."""

    uuid: str
    exchange: str
    customer_name: str
    customer_email: str
    customer_phone: str | None
    from_: date
    to: date
    between: str | None
    status: str
    booking: str | None
    created_at: datetime


BOOKING_FIELDS = BookingRecord.FIELDS
HISTORY_FIELDS = EventRecord.FIELDS
VIOLATION_FIELDS = Violation.FIELDS

T = TypeVar("T")


@dataclass
class Page(Generic[T]):
    """Records, whether more matched than the limit, and whether the exchange they
    belong to takes no bookings."""

    records: list[T] = field(default_factory=list)
    more: bool = False
    inactive: bool = False


# Builders ------------------------------------------------------------------------------


class SlotLike(Protocol):
    uuid: str
    date: Any
    starts_at: datetime
    ends_at: datetime
    max_capacity: int
    current_bookings: int
    is_available: bool


def _zone(timezone: str | ZoneInfo) -> ZoneInfo:
    return timezone if isinstance(timezone, ZoneInfo) else ZoneInfo(timezone)


def slot_record(slot: SlotLike, slug: str, timezone: str | ZoneInfo, now: datetime) -> SlotRecord:
    return slot_values_record(
        slot.uuid,
        slug,
        slot.date,
        slot.starts_at,
        slot.ends_at,
        slot.max_capacity,
        slot.current_bookings,
        slot.is_available,
        _zone(timezone),
        now,
    )


def slot_values_record(
    uuid: str | None,
    slug: str,
    day: Any,
    starts: datetime,
    ends: datetime,
    capacity: int,
    booked: int,
    is_available: bool,
    zone: ZoneInfo,
    now: datetime,
) -> SlotRecord:
    """The record from plain column values (the fast path for listings)."""
    starts_at = starts.astimezone(zone)
    ends_at = ends.astimezone(zone)
    return SlotRecord(
        uuid,
        slug,
        day,
        f"{starts_at.hour:02d}:{starts_at.minute:02d}",
        f"{ends_at.hour:02d}:{ends_at.minute:02d}",
        starts_at,
        ends_at,
        capacity,
        booked,
        max(0, capacity - booked),
        bool(is_available),
        slot_status(starts, bool(is_available), booked, capacity, now),
    )


# A booking's own fields (the rest come from its slot and exchange).
_BOOKING_OWN = tuple(
    f for f in BookingRecord.FIELDS if f not in ("exchange", "slot", "starts_at", "ends_at")
)


def booking_record(
    booking: Any, slot: SlotLike, slug: str, timezone: str | ZoneInfo
) -> BookingRecord:
    """The record of a booking row (anything with the booking's own fields)."""
    zone = _zone(timezone)
    return BookingRecord(
        exchange=slug,
        slot=slot.uuid,
        starts_at=slot.starts_at.astimezone(zone),
        ends_at=slot.ends_at.astimezone(zone),
        **{name: getattr(booking, name) for name in _BOOKING_OWN},
    )


class HoursLike(Protocol):
    uuid: str
    weekday: int
    opens_at: str
    closes_at: str


class ClosureLike(Protocol):
    uuid: str
    starts_on: date
    ends_on: date
    reason: str


def hours_record(row: HoursLike, slug: str) -> HoursRecord:
    return HoursRecord(
        row.uuid, slug, row.weekday, DAY_NAMES[row.weekday], row.opens_at, row.closes_at
    )


def closure_record(row: ClosureLike, slug: str) -> ClosureRecord:
    return ClosureRecord(row.uuid, slug, row.starts_on, row.ends_on, row.reason)
