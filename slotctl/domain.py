"""The rules of the domain, in pure Python: no SQL, no I/O, no CLI.

Every entry path (the commands, import, demo, doctor, cron) asks this module:

* a booking's statuses and which of them hold a seat;
* the lifecycle as a typed transition table (:data:`TRANSITIONS`), the chains of
  transitions that lead from one status to another (:func:`chain`), and why a
  transition is refused (:func:`refusal`);
* which timestamps a booking in each status has (:data:`STAMPS`, :func:`stamp_message`);
* a slot's status (:func:`slot_status`);
* the validators of the values a person types (name, email, phone, notes, a reason).

The layers below turn these rules into SQL (``slotctl.services.seats``); none
writes them again. See docs/design.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Final, Literal

from slotctl.errors import InvalidValue
from slotctl.wording import counted

# Bookings ----------------------------------------------------------------------------

PENDING: Final = "pending"
CONFIRMED: Final = "confirmed"
COMPLETED: Final = "completed"
NO_SHOW: Final = "no_show"
CANCELLED: Final = "cancelled"

BOOKING_STATUSES: Final = (PENDING, CONFIRMED, COMPLETED, NO_SHOW, CANCELLED)
ACTIVE_STATUSES: Final = (PENDING, CONFIRMED)  # may still change; one per customer and slot
SEAT_HOLDING_STATUSES: Final = (PENDING, CONFIRMED, COMPLETED, NO_SHOW)  # all but cancelled

StampColumn = Literal["confirmed_at", "completed_at", "cancelled_at"]
STAMP_COLUMNS: Final[tuple[StampColumn, ...]] = ("confirmed_at", "completed_at", "cancelled_at")


@dataclass(frozen=True)
class Transition:
    """One lifecycle action: the statuses it may leave, the one it enters, the
    timestamp it sets to the moment it happens, and whether the slot must have
    started (nobody completes or misses an appointment that is still to come)."""

    action: str
    sources: tuple[str, ...]
    target: str
    stamp: StampColumn | None
    needs_start: bool
    releases_seat: bool = False


TRANSITIONS: Final[Mapping[str, Transition]] = MappingProxyType(
    {
        t.action: t
        for t in (
            Transition("confirm", (PENDING,), CONFIRMED, "confirmed_at", needs_start=False),
            Transition("complete", (CONFIRMED,), COMPLETED, "completed_at", needs_start=True),
            Transition("no-show", (CONFIRMED,), NO_SHOW, None, needs_start=True),
            Transition(
                "cancel",
                ACTIVE_STATUSES,
                CANCELLED,
                "cancelled_at",
                needs_start=False,
                releases_seat=True,
            ),
        )
    }
)


def refusal(transition: Transition, status: str, *, started: bool) -> str | None:
    """Why ``transition`` cannot apply to a booking in ``status`` (None: it can)."""
    if status not in transition.sources:
        return f"cannot {transition.action} a {status} booking"
    if transition.needs_start and not started:
        return f"cannot {transition.action} before the slot starts"
    return None


def chain(source: str, target: str, *, started: bool) -> tuple[Transition, ...] | None:
    """The shortest series of transitions from ``source`` to ``target`` (empty when
    they are equal), or None when the lifecycle allows none. ``started``: whether
    the booking's slot has started (some transitions need it)."""
    paths: dict[str, tuple[Transition, ...]] = {source: ()}
    frontier = [source]
    while frontier:
        following = []
        for status in frontier:
            for transition in TRANSITIONS.values():
                if refusal(transition, status, started=started) is None and (
                    transition.target not in paths
                ):
                    paths[transition.target] = (*paths[status], transition)
                    following.append(transition.target)
        frontier = following
    return paths.get(target)


def chain_refusal(source: str, target: str, *, started: bool) -> str | None:
    """Why a booking cannot go from ``source`` to ``target`` (None: it can)."""
    if chain(source, target, started=started) is not None:
        return None
    if chain(source, target, started=True) is not None:
        return f"cannot go from {source} to {target} before the slot starts"
    return f"cannot go from {source} to {target}"


# Which timestamps a booking in each status has: True set, False empty, None either
# (a booking cancelled after its confirmation keeps its confirmed_at).
STAMPS: Final[Mapping[str, Mapping[StampColumn, bool | None]]] = MappingProxyType(
    {
        PENDING: {"confirmed_at": False, "completed_at": False, "cancelled_at": False},
        CONFIRMED: {"confirmed_at": True, "completed_at": False, "cancelled_at": False},
        COMPLETED: {"confirmed_at": True, "completed_at": True, "cancelled_at": False},
        NO_SHOW: {"confirmed_at": True, "completed_at": False, "cancelled_at": False},
        CANCELLED: {"confirmed_at": None, "completed_at": False, "cancelled_at": True},
    }
)


def created_stamps(status: str, now: datetime) -> dict[StampColumn, datetime | None]:
    """The timestamps of a booking created in ``status`` at ``now``: those its status
    needs are ``now`` (``bookings create --confirm``: confirmed now), the rest empty."""
    return {column: now if wanted else None for column, wanted in STAMPS[status].items()}


def stamp_message(status: str, column: str, wanted: bool) -> str:
    """The problem of a ``status`` booking whose ``column`` is empty (``wanted``) or set."""
    if wanted:
        return f"a {status} booking needs {column}"
    return f"a {status} booking has no {column}"


def parse_status(text: str) -> str:
    """A booking status as a person types it (``no-show``, ``Confirmed``)."""
    status = text.strip().lower().replace("-", "_")
    if status not in BOOKING_STATUSES:
        raise InvalidValue(f"unknown status {text!r}: use {', '.join(BOOKING_STATUSES)}")
    return status


# Hours and slots ---------------------------------------------------------------------


def shifts_overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Two (opens, closes) ranges of minutes share time; ranges that only touch do not."""
    return a[0] < b[1] and b[0] < a[1]


SLOT_STATUSES: Final = ("available", "full", "blocked", "past")


def booking_window(
    now: datetime, min_notice_minutes: int, max_advance_days: int | None
) -> tuple[datetime, datetime | None]:
    """The starts a customer may book at ``now``: after now plus the minimum notice
    (exclusive), and with a maximum advance, no later than now plus that many days."""
    earliest = now + timedelta(minutes=min_notice_minutes)
    latest = None if max_advance_days is None else now + timedelta(days=max_advance_days)
    return earliest, latest


def slot_status(
    starts_at: datetime, is_available: bool, booked: int, capacity: int, now: datetime
) -> str:
    """A slot's status at ``now``: past, blocked, full or available (in that order)."""
    if starts_at <= now:
        return "past"
    if not is_available:
        return "blocked"
    if booked >= capacity:
        return "full"
    return "available"


def seat_refusal(
    *,
    slot: str,
    starts_at: datetime,
    is_available: bool,
    booked: int,
    capacity: int,
    min_notice_minutes: int,
    now: datetime,
) -> str:
    """Why a seat could not be taken on the slot named ``slot`` (read after the
    conditional statement that takes seats matched nothing)."""
    if starts_at <= now:
        return f"slot {slot} is in the past"
    if starts_at <= booking_window(now, min_notice_minutes, None)[0]:
        notice = counted(min_notice_minutes, "minute")
        return f"slot {slot} is inside the minimum notice of {notice}"
    if not is_available:
        return f"slot {slot} is blocked"
    return f"slot {slot} is full ({booked}/{capacity})"


# Values a person types ---------------------------------------------------------------

NAME_LIMIT: Final = 200
NOTES_LIMIT: Final = 2000
REASON_LIMIT: Final = 200
PHONE_LIMIT: Final = 50
_PHONE = re.compile(r"\+?[0-9 ()./-]+")
PHONE_DIGITS: Final = 3  # at least


def clean_text(
    value: str | None, what: str, limit: int, *, required: bool = False, multiline: bool = False
) -> str | None:
    """Free text: runs of white space become one space (``multiline`` text keeps its
    lines and is only stripped); empty is None, or refused when ``required``."""
    if value is None:
        if required:
            raise InvalidValue(f"{what} is required")
        return None
    cleaned = value.strip() if multiline else " ".join(value.split())
    if not cleaned:
        if required:
            raise InvalidValue(f"{what} cannot be empty")
        return None
    if len(cleaned) > limit:
        raise InvalidValue(f"{what} is longer than {limit} characters")
    return cleaned


_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def slug(value: str) -> str:
    """An exchange's slug: lower-case letters, digits, ``-`` and ``_``."""
    cleaned = value.strip()
    if not _SLUG.match(cleaned):
        raise InvalidValue(
            f"invalid slug {value!r}: use lower-case letters, digits, '-' or '_' "
            "(up to 64, starting with a letter or digit)"
        )
    return cleaned


def exchange_name(value: str | None) -> str:
    name = clean_text(value, "name", NAME_LIMIT, required=True)
    assert name is not None
    return name


def customer_name(value: str | None, what: str = "name") -> str:
    name = clean_text(value, what, NAME_LIMIT, required=True)
    assert name is not None
    return name


def notes(value: str | None, what: str = "notes") -> str | None:
    return clean_text(value, what, NOTES_LIMIT, multiline=True)


def reason(value: str | None, what: str = "reason") -> str | None:
    return clean_text(value, what, REASON_LIMIT)


def phone(value: str | None) -> str | None:
    cleaned = clean_text(value, "phone", PHONE_LIMIT)
    if cleaned is None:
        return None
    if not _PHONE.fullmatch(cleaned):
        raise InvalidValue(f"invalid phone {value!r}: digits, spaces and + ( ) - . / only")
    if sum(char.isdigit() for char in cleaned) < PHONE_DIGITS:
        raise InvalidValue(f"invalid phone {value!r}: at least {PHONE_DIGITS} digits")
    return cleaned


def email(value: str) -> str:
    """An email address, checked and normalised (lower case)."""
    from email_validator import EmailNotValidError, validate_email

    try:
        result = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidValue(f"invalid email {value!r}: {exc}") from None
    return result.normalized.lower()
