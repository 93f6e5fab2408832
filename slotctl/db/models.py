"""SQLAlchemy 2.0 typed models of every table in docs/design.md.

Every table has an integer primary key, a public ``uuid`` (canonical lower-case
text, so prefixes are range-searchable on both databases) and ``created_at`` /
``updated_at`` in UTC. Instants are stored as UTC (``timestamptz`` on
PostgreSQL, naive UTC text on SQLite) and always come back timezone-aware.
"""

from __future__ import annotations

import os
import uuid as uuid_module
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from slotctl import clock
from slotctl.db import dialects
from slotctl.domain import (
    ACTIVE_STATUSES,
    BOOKING_STATUSES,
    ENTRY_STATUSES,
    TICKET_KINDS,
    TICKET_STATUSES,
)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """An aware instant stored in UTC; naive datetimes are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware instant is required")
        return dialects.of(dialect).bind_instant(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def new_uuid() -> str:
    """A random (version 4) UUID as canonical text."""
    return str(uuid_module.uuid4())


def new_uuids(count: int) -> list[str]:
    """``count`` random (version 4) UUIDs as text, from one read of the OS's randomness
    (bulk paths: a million of them cost a fraction of ``uuid4()``'s time)."""
    digits = os.urandom(16 * count).hex()
    variant = "89ab89ab89ab89ab"
    return [
        f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant[int(h[16], 16)]}{h[17:20]}-{h[20:32]}"
        for h in (digits[i : i + 32] for i in range(0, 32 * count, 32))
    ]


# Partial indexes of bookings: name -> the rows they cover. Both databases build them
# (see the migration); the models name SQLite's here, and slotctl.db.dialects.postgresql
# adds PostgreSQL's when that dialect is in use, so that a SQLite command never loads
# SQLAlchemy's PostgreSQL dialect just to validate an index option.
PARTIAL_INDEXES = {
    "uq_bookings_active_customer": f"status IN ({', '.join(repr(s) for s in ACTIVE_STATUSES)})",
    "ix_bookings_pending_created_at": "status = 'pending'",
}


def _status_check(column: str, statuses: tuple[str, ...] = BOOKING_STATUSES) -> str:
    values = ", ".join(f"'{status}'" for status in statuses)
    return f"{column} IN ({values})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class Record:
    """Columns every table has."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uuid)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)


class Exchange(Record, Base):
    __tablename__ = "exchanges"
    __table_args__ = (
        CheckConstraint("min_notice_minutes >= 0", name="min_notice"),
        CheckConstraint("max_advance_days IS NULL OR max_advance_days >= 0", name="max_advance"),
        CheckConstraint("checkin_early_minutes >= 0", name="checkin_early"),
        CheckConstraint("late_after_minutes >= 0", name="late_after"),
    )

    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    min_notice_minutes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    max_advance_days: Mapped[int | None] = mapped_column(Integer)
    checkin_early_minutes: Mapped[int] = mapped_column(Integer, default=30, server_default="30")
    late_after_minutes: Mapped[int] = mapped_column(Integer, default=10, server_default="10")

    hours: Mapped[list[BusinessHours]] = relationship(
        back_populates="exchange", passive_deletes=True, order_by="BusinessHours.weekday"
    )


class BusinessHours(Record, Base):
    __tablename__ = "business_hours"
    __table_args__ = (
        UniqueConstraint("exchange_id", "weekday", "opens_at"),
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),
        CheckConstraint("opens_at < closes_at", name="opens_before_closes"),
        CheckConstraint(
            "length(opens_at) = 5 AND length(closes_at) = 5 "
            "AND opens_at >= '00:00' AND closes_at <= '24:00'",
            name="time_format",
        ),
    )

    exchange_id: Mapped[int] = mapped_column(ForeignKey("exchanges.id", ondelete="CASCADE"))
    weekday: Mapped[int] = mapped_column(SmallInteger)
    opens_at: Mapped[str] = mapped_column(String(5))
    closes_at: Mapped[str] = mapped_column(String(5))

    exchange: Mapped[Exchange] = relationship(back_populates="hours")


class Closure(Record, Base):
    __tablename__ = "closures"
    __table_args__ = (
        CheckConstraint("starts_on <= ends_on", name="range"),
        Index(None, "exchange_id", "starts_on"),
    )

    exchange_id: Mapped[int] = mapped_column(ForeignKey("exchanges.id", ondelete="CASCADE"))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(200), default="", server_default="")

    exchange: Mapped[Exchange] = relationship()


class TimeSlot(Record, Base):
    __tablename__ = "time_slots"
    __table_args__ = (
        UniqueConstraint("exchange_id", "starts_at"),
        CheckConstraint(
            "current_bookings >= 0 AND current_bookings <= max_capacity", name="capacity"
        ),
        CheckConstraint("max_capacity >= 0", name="max_capacity"),
        CheckConstraint("starts_at < ends_at", name="range"),
        Index(None, "starts_at"),
    )

    exchange_id: Mapped[int] = mapped_column(ForeignKey("exchanges.id", ondelete="CASCADE"))
    date: Mapped[date] = mapped_column(Date)
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime] = mapped_column()
    max_capacity: Mapped[int] = mapped_column(Integer)
    current_bookings: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    is_available: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))

    exchange: Mapped[Exchange] = relationship()


class Booking(Record, Base):
    __tablename__ = "bookings"
    __table_args__ = (
        CheckConstraint(_status_check("status"), name="status"),
        Index(
            "uq_bookings_active_customer",
            "time_slot_id",
            "customer_email",
            unique=True,
            sqlite_where=text(PARTIAL_INDEXES["uq_bookings_active_customer"]),
        ),
        Index(None, "time_slot_id"),
        Index(None, "exchange_id", "created_at"),
        Index(None, "customer_email"),
        Index(
            "ix_bookings_pending_created_at",
            "created_at",
            sqlite_where=text(PARTIAL_INDEXES["ix_bookings_pending_created_at"]),
        ),
    )

    reference: Mapped[str] = mapped_column(String(16), unique=True)
    time_slot_id: Mapped[int] = mapped_column(ForeignKey("time_slots.id", ondelete="CASCADE"))
    exchange_id: Mapped[int] = mapped_column(ForeignKey("exchanges.id", ondelete="CASCADE"))
    customer_name: Mapped[str] = mapped_column(String(200))
    customer_email: Mapped[str] = mapped_column(String(320))
    customer_phone: Mapped[str | None] = mapped_column(String(50))
    notes: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    confirmed_at: Mapped[datetime | None] = mapped_column()
    completed_at: Mapped[datetime | None] = mapped_column()
    cancelled_at: Mapped[datetime | None] = mapped_column()
    cancellation_reason: Mapped[str | None] = mapped_column(String(200))
    arrived_at: Mapped[datetime | None] = mapped_column()
    called_at: Mapped[datetime | None] = mapped_column()
    counter: Mapped[str | None] = mapped_column(String(50))

    slot: Mapped[TimeSlot] = relationship()
    exchange: Mapped[Exchange] = relationship()


class BookingEvent(Record, Base):
    __tablename__ = "booking_events"
    __table_args__ = (
        CheckConstraint(_status_check("to_status"), name="to_status"),
        Index(None, "booking_id", "at"),
    )

    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=clock.now)
    actor: Mapped[str] = mapped_column(String(100))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)

    booking: Mapped[Booking] = relationship()


class Ticket(Record, Base):
    """A customer in the queue of an exchange's local day: an appointment that checked
    in (``booking``) or a walk-in. Numbered per exchange, day and kind (``seq``: 1 is
    ``A001`` or ``W001``)."""

    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("exchange_id", "day", "kind", "seq"),
        CheckConstraint(_status_check("status", TICKET_STATUSES), name="status"),
        CheckConstraint(_status_check("kind", TICKET_KINDS), name="kind"),
        CheckConstraint("seq > 0", name="seq"),
        Index(None, "exchange_id", "status"),
        Index(None, "booking_id"),
    )

    exchange_id: Mapped[int] = mapped_column(ForeignKey("exchanges.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16))
    seq: Mapped[int] = mapped_column(Integer)
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"))
    customer_name: Mapped[str] = mapped_column(String(200))
    customer_email: Mapped[str | None] = mapped_column(String(320))
    customer_phone: Mapped[str | None] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(16), default="waiting", server_default="waiting")
    arrived_at: Mapped[datetime] = mapped_column()
    called_at: Mapped[datetime | None] = mapped_column()
    served_at: Mapped[datetime | None] = mapped_column()
    counter: Mapped[str | None] = mapped_column(String(50))
    due_at: Mapped[datetime | None] = mapped_column()  # an appointment's slot start
    on_time: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))

    exchange: Mapped[Exchange] = relationship()
    booking: Mapped[Booking | None] = relationship()


class WaitlistEntry(Record, Base):
    """Someone who wants a seat at an exchange between two local dates (and, with
    ``between_start``/``between_end``, within those local hours)."""

    __tablename__ = "waitlist_entries"
    __table_args__ = (
        CheckConstraint(_status_check("status", ENTRY_STATUSES), name="status"),
        CheckConstraint("from_date <= to_date", name="range"),
        Index(None, "exchange_id", "status", "created_at"),
        Index(None, "booking_id"),
    )

    exchange_id: Mapped[int] = mapped_column(ForeignKey("exchanges.id", ondelete="CASCADE"))
    customer_name: Mapped[str] = mapped_column(String(200))
    customer_email: Mapped[str] = mapped_column(String(320))
    customer_phone: Mapped[str | None] = mapped_column(String(50))
    from_date: Mapped[date] = mapped_column(Date)
    to_date: Mapped[date] = mapped_column(Date)
    between_start: Mapped[str | None] = mapped_column(String(5))
    between_end: Mapped[str | None] = mapped_column(String(5))
    status: Mapped[str] = mapped_column(String(16), default="waiting", server_default="waiting")
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id", ondelete="SET NULL"))

    exchange: Mapped[Exchange] = relationship()
    booking: Mapped[Booking | None] = relationship()
