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
from datetime import date, datetime, timedelta
from types import MappingProxyType
from typing import Final, Literal

from slotctl.errors import InvalidValue
from slotctl.wording import counted

# Bookings ----------------------------------------------------------------------------

PENDING: Final = "pending"
CONFIRMED: Final = "confirmed"
ARRIVED: Final = "arrived"
COMPLETED: Final = "completed"
NO_SHOW: Final = "no_show"
CANCELLED: Final = "cancelled"

BOOKING_STATUSES: Final = (PENDING, CONFIRMED, ARRIVED, COMPLETED, NO_SHOW, CANCELLED)
# May still change; one per customer and slot; what an overlap check counts.
ACTIVE_STATUSES: Final = (PENDING, CONFIRMED, ARRIVED)
MOVABLE_STATUSES: Final = (PENDING, CONFIRMED)  # an arrived customer is at the counter
SEAT_HOLDING_STATUSES: Final = (PENDING, CONFIRMED, ARRIVED, COMPLETED, NO_SHOW)  # not cancelled

StampColumn = Literal["confirmed_at", "arrived_at", "completed_at", "cancelled_at"]
STAMP_COLUMNS: Final[tuple[StampColumn, ...]] = (
    "confirmed_at",
    "arrived_at",
    "completed_at",
    "cancelled_at",
)


@dataclass(frozen=True)
class Transition:
    """One lifecycle action: the statuses it may leave, the one it enters, the
    timestamp it sets to the moment it happens, and the sources from which the slot
    must have started (nobody completes or misses an appointment that is still to
    come, unless the customer has arrived and been served early)."""

    action: str
    sources: tuple[str, ...]
    target: str
    stamp: StampColumn | None
    needs_start: tuple[str, ...] = ()
    releases_seat: bool = False

    @property
    def verb(self) -> str:
        """The action as a message says it (``check in``, ``no-show``)."""
        return "check in" if self.action == "checkin" else self.action


TRANSITIONS: Final[Mapping[str, Transition]] = MappingProxyType(
    {
        t.action: t
        for t in (
            Transition("confirm", (PENDING,), CONFIRMED, "confirmed_at"),
            # Arriving confirms a pending booking too (its confirmed_at: see STAMPS).
            Transition("checkin", (PENDING, CONFIRMED), ARRIVED, "arrived_at"),
            Transition(
                "complete",
                (CONFIRMED, ARRIVED),
                COMPLETED,
                "completed_at",
                needs_start=(CONFIRMED,),
            ),
            Transition("no-show", (CONFIRMED, ARRIVED), NO_SHOW, None, needs_start=(CONFIRMED,)),
            Transition("cancel", ACTIVE_STATUSES, CANCELLED, "cancelled_at", releases_seat=True),
        )
    }
)


def refusal(transition: Transition, status: str, *, started: bool) -> str | None:
    """Why ``transition`` cannot apply to a booking in ``status`` (None: it can)."""
    if status not in transition.sources:
        return f"cannot {transition.verb} a {status} booking"
    if status in transition.needs_start and not started:
        return f"cannot {transition.verb} before the slot starts"
    return None


def chain(source: str, target: str, *, started: bool) -> tuple[Transition, ...] | None:
    """The shortest series of transitions from ``source`` to ``target`` (empty when
    they are equal), or None when the lifecycle allows none. ``started``: whether
    the booking's slot has started (some transitions need it). A chain may end in
    ``arrived`` but never passes through it: a confirmed booking is not completed
    before its slot by an invented check-in."""
    paths: dict[str, tuple[Transition, ...]] = {source: ()}
    frontier = [source]
    while frontier:
        following = []
        for status in frontier:
            if status == ARRIVED and status != source:
                continue  # only a customer arriving checks in: no chain passes through it
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
# (a booking cancelled after its confirmation keeps its confirmed_at; one completed
# keeps its arrived_at when the customer checked in). A transition sets its own stamp
# and every other one its target needs (:func:`stamps_to_set`).
STAMPS: Final[Mapping[str, Mapping[StampColumn, bool | None]]] = MappingProxyType(
    {
        PENDING: {
            "confirmed_at": False,
            "arrived_at": False,
            "completed_at": False,
            "cancelled_at": False,
        },
        CONFIRMED: {
            "confirmed_at": True,
            "arrived_at": False,
            "completed_at": False,
            "cancelled_at": False,
        },
        ARRIVED: {
            "confirmed_at": True,
            "arrived_at": True,
            "completed_at": False,
            "cancelled_at": False,
        },
        COMPLETED: {
            "confirmed_at": True,
            "arrived_at": None,
            "completed_at": True,
            "cancelled_at": False,
        },
        NO_SHOW: {
            "confirmed_at": True,
            "arrived_at": None,
            "completed_at": False,
            "cancelled_at": False,
        },
        CANCELLED: {
            "confirmed_at": None,
            "arrived_at": None,
            "completed_at": False,
            "cancelled_at": True,
        },
    }
)


def stamps_to_set(
    transition: Transition, has: Mapping[StampColumn, object]
) -> tuple[StampColumn, ...]:
    """The timestamps ``transition`` sets to now on a booking whose stamps are ``has``:
    its own, and every one its target status needs that is still empty."""
    wanted = [
        column
        for column, needed in STAMPS[transition.target].items()
        if needed and has.get(column) is None
    ]
    if transition.stamp is not None and transition.stamp not in wanted:
        wanted.append(transition.stamp)
    return tuple(wanted)


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


# The front desk: check-in, tickets and the queue ---------------------------------------

CHECKIN_EARLY_MINUTES: Final = 30  # an exchange's default: check-in opens before the slot
LATE_AFTER_MINUTES: Final = 10  # an exchange's default: later than this is a late arrival


def checkin_refusal(
    starts_at: datetime, ends_at: datetime, early_minutes: int, now: datetime
) -> str | None:
    """Why a booking of the slot ``starts_at``-``ends_at`` cannot check in at ``now``
    (None: it can): from ``early_minutes`` before the start until the end."""
    opens = starts_at - timedelta(minutes=early_minutes)
    if now < opens:
        early = counted(early_minutes, "minute")
        return f"too early to check in: check-in opens {early} before the slot starts"
    if now >= ends_at:
        return "the slot has ended: add the customer as a walk-in (queue walkin)"
    return None


APPOINTMENT: Final = "appointment"
WALKIN: Final = "walkin"
TICKET_KINDS: Final = (APPOINTMENT, WALKIN)
TICKET_PREFIX: Final[Mapping[str, str]] = MappingProxyType({APPOINTMENT: "A", WALKIN: "W"})

WAITING: Final = "waiting"
CALLED: Final = "called"
SERVED: Final = "served"
TICKET_NO_SHOW: Final = "no_show"
LEFT: Final = "left"
TICKET_STATUSES: Final = (WAITING, CALLED, SERVED, TICKET_NO_SHOW, LEFT)
QUEUED_STATUSES: Final = (WAITING, CALLED)  # still in the building


@dataclass(frozen=True)
class TicketTransition:
    """One queue action: the ticket statuses it may leave, the one it enters, and the
    booking transition it applies to an appointment's booking (None: none)."""

    action: str
    sources: tuple[str, ...]
    target: str
    booking_action: str | None


TICKET_TRANSITIONS: Final[Mapping[str, TicketTransition]] = MappingProxyType(
    {
        t.action: t
        for t in (
            TicketTransition("next", (WAITING,), CALLED, None),
            TicketTransition("done", (CALLED,), SERVED, "complete"),
            TicketTransition("no-show", (CALLED,), TICKET_NO_SHOW, "no-show"),
            TicketTransition("requeue", (CALLED,), WAITING, None),
            TicketTransition("cancel", QUEUED_STATUSES, LEFT, "cancel"),
        )
    }
)
LEFT_REASON: Final = "left without service"

# Which call columns a ticket in each status has: True set, False empty, a column not
# named either. A served or missed ticket may have no call: its booking was completed
# or missed directly (``bookings complete``), which takes the queued ticket along.
# ``called_at`` and ``counter`` always go together.
TICKET_STAMPS: Final[Mapping[str, Mapping[str, bool]]] = MappingProxyType(
    {
        WAITING: {"called_at": False, "counter": False, "served_at": False},
        CALLED: {"called_at": True, "counter": True, "served_at": False},
        SERVED: {"served_at": True},
        TICKET_NO_SHOW: {"served_at": False},
        LEFT: {"served_at": False},
    }
)

# What a queued ticket (waiting or called) becomes when its booking leaves ``arrived``
# by any path (``queue done`` or ``bookings complete``, ...): one rule for both.
TICKET_AFTER_BOOKING: Final[Mapping[str, str]] = MappingProxyType(
    {COMPLETED: SERVED, NO_SHOW: TICKET_NO_SHOW, CANCELLED: LEFT}
)


def ticket_refusal(transition: TicketTransition, status: str) -> str | None:
    """Why ``transition`` cannot apply to a ticket in ``status`` (None: it can)."""
    if status in transition.sources:
        return None
    if transition.action in ("done", "no-show", "requeue") and status == WAITING:
        return f"cannot {transition.action} a waiting ticket: call it first (queue next)"
    return f"cannot {transition.action} a {status.replace('_', '-')} ticket"


def ticket_number(kind: str, seq: int) -> str:
    """A ticket's number as called out: ``A001`` (appointments), ``W012`` (walk-ins)."""
    return f"{TICKET_PREFIX[kind]}{seq:03d}"


_TICKET_NUMBER = re.compile(r"^([AW])([0-9]{1,6})$")


def parse_ticket_number(text: str) -> tuple[str, int] | None:
    """``(kind, seq)`` of a ticket number (``a1``, ``A001``), or None when it is not one."""
    match = _TICKET_NUMBER.match(text.strip().upper())
    if match is None or int(match[2]) == 0:
        return None
    kind = next(k for k, prefix in TICKET_PREFIX.items() if prefix == match[1])
    return kind, int(match[2])


def on_time(due_at: datetime | None, arrived_at: datetime, late_after_minutes: int) -> bool:
    """An appointment ticket (``due_at``: its slot's start) arrived no later than
    ``late_after`` after its slot started; a walk-in (no ``due_at``) never is."""
    return due_at is not None and arrived_at <= due_at + timedelta(minutes=late_after_minutes)


# The fairness classes, called in this order.
ON_TIME_CLASS: Final = 1  # appointments whose slot has started, arrived on time
FIRST_COME_CLASS: Final = 2  # walk-ins and late appointments
EARLY_CLASS: Final = 3  # appointments whose slot has not started yet


def queue_key(
    due_at: datetime | None, on_time_: bool, arrived_at: datetime, now: datetime
) -> tuple[int, datetime, datetime]:
    """Where a waiting ticket stands in the queue at ``now`` (smallest first):

    1. appointments whose slot has started and that arrived on time, by slot start,
       then arrival;
    2. walk-ins and late appointments, by arrival;
    3. appointments arrived early (slot not started), by slot start, then arrival.
    """
    if not on_time_ or due_at is None:
        return FIRST_COME_CLASS, arrived_at, arrived_at
    if due_at <= now:
        return ON_TIME_CLASS, due_at, arrived_at
    return EARLY_CLASS, due_at, arrived_at


# The waitlist ---------------------------------------------------------------------------

ENTRY_WAITING: Final = "waiting"
BOOKED: Final = "booked"
REMOVED: Final = "removed"
ENTRY_EXPIRED: Final = "expired"
ENTRY_STATUSES: Final = (ENTRY_WAITING, BOOKED, REMOVED, ENTRY_EXPIRED)
WAITLIST_ACTOR: Final = "waitlist"
WAITLIST_NOTE: Final = "created from the waitlist"  # the history note of such a booking


def entry_matches(
    slot_day: date,
    slot_minutes: tuple[int, int],
    first: date,
    last: date,
    between: tuple[int, int] | None,
) -> bool:
    """A slot (its local date, and its local start and end in minutes of that day; a
    slot ending at midnight ends at 1440) lies in a waitlist entry's window: its date
    from ``first`` to ``last``, and with ``between`` (minutes), the whole slot within
    those local hours."""
    if not first <= slot_day <= last:
        return False
    return between is None or (between[0] <= slot_minutes[0] and slot_minutes[1] <= between[1])


REFERENCE_ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U


def draw_reference() -> str:
    """A short reference such as ``BK-7K3Q9X`` (32^6 of them; the insert re-draws a taken one)."""
    import secrets

    return "BK-" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(6))


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
