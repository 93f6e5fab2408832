"""A realistic, deterministic demo built through the real services.

Three exchanges in three timezones, their shifts and a closure, four weeks of
slots (two behind today, two ahead) and a few hundred bookings that went
through the lifecycle at plausible times (the clock is frozen at each step, so
the audit trail reads like a real fortnight).

Then a morning at the front desk of the first exchange, up to now: appointments
checking in (early, on time, late), walk-ins, two counters calling the queue,
serving, a no-show, a requeue and a customer who left, and some still waiting; and
its waitlist: customers waiting for a full hour, one of whom got the seat a cancel
freed. Both are played through the real services (check-in, ``queue``,
``waitlist``), each step at its own moment.
"""

from __future__ import annotations

import random
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from slotctl import clock, domain
from slotctl.bounds import SEED
from slotctl.db.models import (
    Booking,
    BookingEvent,
    BusinessHours,
    Closure,
    Exchange,
    Ticket,
    TimeSlot,
    WaitlistEntry,
)
from slotctl.errors import Conflict, NotFound
from slotctl.services import queue
from slotctl.services.bookings import NewBooking, create_booking, expire_pending, transition
from slotctl.services.exchanges import add_exchange
from slotctl.services.generate import GenerateRequest, generate
from slotctl.services.hours import add_closure, set_hours
from slotctl.services.waitlist import NewEntry, add_entry, remove_entry

EXCHANGES = [
    # slug, name, timezone, week, duration, capacity, min notice
    (
        "downtown",
        "Downtown Exchange",
        "Europe/Berlin",
        [([0, 1, 2, 3, 4], [(540, 720), (780, 1020)]), ([5], [(600, 840)])],
        30,
        2,
        60,
    ),
    (
        "harbour",
        "Harbour Front",
        "America/New_York",
        [([0, 1, 2, 3, 4, 5], [(480, 1080)])],
        30,
        1,
        30,
    ),
    ("airport", "Airport Terminal 2", "Asia/Tokyo", [(list(range(7)), [(360, 1320)])], 20, 3, 0),
]
FIRST_NAMES = [
    "Ann",
    "Ben",
    "Chloé",
    "Dmitri",
    "Eve",
    "Farid",
    "Grace",
    "Hiro",
    "Ines",
    "Jon",
    "Kemal",
    "Lena",
    "Mei",
    "Nils",
    "Olga",
    "Pablo",
    "Quinn",
    "Rosa",
    "Sami",
    "Tara",
]
LAST_NAMES = [
    "Lee",
    "Novak",
    "Müller",
    "García",
    "Tanaka",
    "Okafor",
    "Smith",
    "Rossi",
    "Kim",
    "Dubois",
    "Jensen",
    "Silva",
]
ACTORS = ["front-desk", "web", "phone", "manager"]
DAYS_BEHIND = 14  # slots start this many days before today...
DAYS = 28  # ...and run for this many days (two weeks behind, two ahead)
DESK_ACTOR = "front-desk"
COUNTERS = ("1", "2")


def demo_dates(today: date) -> tuple[date, date]:
    """The first and last local date of the demo's slots, built ``today`` (local)."""
    first = today - timedelta(days=DAYS_BEHIND)
    return first, first + timedelta(days=DAYS - 1)


def holds_data(session: Session) -> bool:
    return bool(session.scalar(select(func.count()).select_from(Exchange)))


def wipe(session: Session) -> None:
    for model in (
        Ticket,
        WaitlistEntry,
        BookingEvent,
        Booking,
        TimeSlot,
        Closure,
        BusinessHours,
        Exchange,
    ):
        session.execute(delete(model))


def build_demo(
    session: Session, *, seed: int = 7, actor: str = "demo", reset: bool = False
) -> dict[str, Any]:
    """The demo, built in the session's one unit of work; with ``reset`` whatever the
    database held is deleted first, in the same unit (a refusal or a failure keeps it)."""
    rng = random.Random(SEED.check(seed))
    if reset:
        wipe(session)
    elif holds_data(session):
        raise Conflict("the database already holds data: run `slotctl demo --reset` to replace it")
    now = clock.now()
    start = now - timedelta(days=DAYS_BEHIND)
    with clock.frozen(start - timedelta(days=1)):
        for slug, name, timezone, week, _, _, notice in EXCHANGES:
            add_exchange(
                session,
                slug,
                name=name,
                timezone=timezone,
                min_notice_minutes=notice,
                max_advance_days=60,
            )
            set_hours(session, slug, week)
        berlin_today = now.astimezone(ZoneInfo("Europe/Berlin")).date()
        closed = berlin_today + timedelta(days=9)
        add_closure(session, "downtown", closed, closed, "Staff training")
        for slug, _, timezone, _, duration, capacity, _ in EXCHANGES:
            local_start = start.astimezone(ZoneInfo(timezone)).date()
            request = GenerateRequest(
                from_date=local_start.isoformat(),
                to_date=None,
                days=DAYS,
                duration=duration,
                capacity=capacity,
            )
            generate(session, [slug], request)
    slots = session.execute(
        select(TimeSlot.uuid, TimeSlot.starts_at, Exchange.min_notice_minutes, TimeSlot.id)
        .join(Exchange, TimeSlot.exchange_id == Exchange.id)
        .order_by(TimeSlot.starts_at, TimeSlot.id)  # slots of exchanges start together
    ).all()
    desk = _plan_desk(session, now)
    # The front desk's day, today and the waitlist's day at the first exchange are the
    # scenes' own: the random bookings stay off them.
    scenes = {slot.id for slot in desk.reserved}
    free = [slot for slot in slots if slot[3] not in scenes]
    chosen = rng.sample(free, k=min(len(free), 320))
    chosen.sort(key=lambda row: row[1])
    for number, (uuid, starts_at, notice, _) in enumerate(chosen):
        _one_booking(session, rng, number, uuid, starts_at, notice, now)
    _front_desk(session, rng, desk, now)
    _waitlist(session, rng, desk, now)
    with clock.frozen(now):  # the cron job's last run: stale pending bookings, passed windows
        expire_pending(session, 30)
    session.flush()
    return {
        "exchanges": [{"slug": e[0], "timezone": e[2]} for e in EXCHANGES],
        "slots": len(slots),
        "bookings": _by_status(session, Booking.status, domain.BOOKING_STATUSES),
        "tickets": _by_status(session, Ticket.status, domain.TICKET_STATUSES),
        "waitlist": _by_status(session, WaitlistEntry.status, domain.ENTRY_STATUSES),
        "seed": seed,
    }


def _by_status(session: Session, column: Any, statuses: tuple[str, ...]) -> dict[str, int]:
    counts = Counter(session.scalars(select(column)))
    return {status: counts.get(status, 0) for status in statuses}


def _one_booking(
    session: Session,
    rng: random.Random,
    number: int,
    slot: str,
    starts_at: datetime,
    notice: int,
    now: datetime,
) -> None:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    ascii_name = f"{first}.{last}".lower().replace("é", "e").replace("ü", "u")
    email = f"{ascii_name}.{number}@example.com"
    new = NewBooking(
        name=f"{first} {last}",
        email=email,
        phone=f"+49 30 {rng.randint(1000000, 9999999)}" if rng.random() < 0.6 else None,
        notes=rng.choice([None, None, None, "Euros to dollars", "Large amount: call ahead"]),
        confirm=False,
    )
    if starts_at > now:  # booked in the last half hour, still fresh
        booked_at = now - timedelta(minutes=rng.randint(6, 25))
    else:
        booked_at = starts_at - timedelta(minutes=notice + rng.randint(30, 5 * 24 * 60))
    try:
        with clock.frozen(booked_at):
            reference = create_booking(session, slot, new, rng.choice(ACTORS))["reference"]
    except Conflict:
        return  # full, or the customer already booked nearby: a real booker would pick another
    roll = rng.random()
    if starts_at > now:
        later = booked_at + timedelta(minutes=rng.randint(1, 5))
        if roll < 0.5:
            _at(session, "confirm", reference, later)
        elif roll < 0.7:
            _at(session, "cancel", reference, later, "customer called")
        return
    confirm_at = booked_at + timedelta(minutes=rng.randint(1, 30))
    if roll < 0.55:
        _at(session, "confirm", reference, confirm_at)
        done = starts_at + timedelta(minutes=rng.randint(1, 20))
        _at(session, "complete", reference, min(done, now))  # nothing happens after now
    elif roll < 0.7:
        _at(session, "confirm", reference, confirm_at)
        missed = starts_at + timedelta(minutes=rng.randint(20, 60))
        _at(session, "no-show", reference, min(missed, now))
    elif roll < 0.85:
        _at(session, "cancel", reference, confirm_at, rng.choice(["customer called", "ill", None]))
    # else: left pending, to be expired


def _at(
    session: Session, action: str, reference: str, when: datetime, reason: str | None = None
) -> None:
    with clock.frozen(when):
        transition(session, action, [reference], _actor_for(reference), reason=reason)


def _actor_for(reference: str) -> str:
    return ACTORS[sum(map(ord, reference)) % len(ACTORS)]


# The front desk and the waitlist ----------------------------------------------------


@dataclass(frozen=True)
class _Slot:
    id: int
    uuid: str
    day: date
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class _Desk:
    """Where the scenes play, at the first exchange: the front desk's slots ``a``, ``b``
    and ``c`` (``c`` the latest to have started by now, on a day with two slots before
    it; ``a`` and ``b`` those two), ``next`` (the slot after ``c`` and the moment its
    first customer checks in, when that is by now), ``previous`` (the last slot of the
    last day it opened before today) and ``wanted`` (the first two slots of its next
    open day: the hour the waitlist wants)."""

    slug: str
    timezone: str
    open: bool  # the desk is open now; else (its day is over or not begun) nobody waits
    a: _Slot
    b: _Slot
    c: _Slot
    next: tuple[_Slot, datetime] | None
    previous: _Slot
    wanted: tuple[_Slot, _Slot]
    reserved: tuple[_Slot, ...]  # the scenes' days: the random bookings stay off them


def _plan_desk(session: Session, now: datetime) -> _Desk:
    slug, _, timezone, *_ = EXCHANGES[0]
    exchange = session.scalars(select(Exchange).where(Exchange.slug == slug)).one()
    days: dict[date, list[_Slot]] = {}
    rows = session.execute(
        select(TimeSlot.id, TimeSlot.uuid, TimeSlot.date, TimeSlot.starts_at, TimeSlot.ends_at)
        .where(TimeSlot.exchange_id == exchange.id)
        .order_by(TimeSlot.starts_at)
    )
    for slot_id, uuid, day, starts_at, ends_at in rows:
        days.setdefault(day, []).append(_Slot(slot_id, uuid, day, starts_at, ends_at))
    today = now.astimezone(ZoneInfo(timezone)).date()
    day, index = max(
        (day, index)
        for day, slots in days.items()
        for index, slot in enumerate(slots)
        if day <= today and index >= 2 and slot.starts_at <= now
    )
    slots = days[day]
    upcoming = None  # the slot after c and when its first customer checks in, if by now
    if index + 1 < len(slots):
        following, early = slots[index + 1], exchange.checkin_early_minutes
        at = max(slots[index].starts_at, following.starts_at - timedelta(minutes=early))
        refused = domain.checkin_refusal(following.starts_at, following.ends_at, early, at)
        if at <= now and refused is None:
            upcoming = (following, at)
    wanted = days[min(d for d in days if d > today)][:2]
    previous = days[max(d for d in days if d < today)][-1]
    a, b, c = slots[index - 2 : index + 1]
    return _Desk(
        slug=slug,
        timezone=timezone,
        open=day == today and now < slots[-1].ends_at,
        a=a,
        b=b,
        c=c,
        next=upcoming,
        previous=previous,
        wanted=(wanted[0], wanted[1]),
        reserved=tuple(s for d in (day, today, wanted[0].day) for s in days.get(d, [])),
    )


# The morning at the counters, as (anchor, minutes after it, what, who): the anchors are
# the starts of the desk's slots a, b and c. Appointments check in for their slot (Ann
# and Chloé early, Ben on time, Dmitri late: he queues like a walk-in). Two counters call
# the queue: Ben goes back to his car for his passport (requeued at counter 2, he keeps
# his place and is called before Hiro, who came earlier), Ines does not come forward
# (no-show), Chloé is called before her slot while nobody else waits, Nils gives up
# waiting (left); at c counter 1 calls Eve, whose slot has started, ahead of the
# walk-ins and of Dmitri; the rest still wait.
APPOINTMENTS = {
    "Ann Lee": "a",
    "Ben Novak": "a",
    "Chloé Dubois": "b",
    "Dmitri Rossi": "b",
    "Eve Tanaka": "c",
    "Farid Okafor": "c",
}
UPCOMING = "Grace Kim"  # checks in early for the slot after c: called last (class 3)
MORNING: tuple[tuple[str, int, str, str], ...] = (
    ("a", -12, "checkin", "Ann Lee"),
    ("a", -5, "walkin", "Hiro Silva"),
    ("a", 0, "next", "1"),  # Ann
    ("a", 4, "checkin", "Ben Novak"),
    ("a", 5, "next", "2"),  # Ben: on time, ahead of Hiro
    ("a", 7, "requeue", "2"),  # Ben fetches his passport
    ("a", 9, "done", "1"),
    ("a", 10, "walkin", "Ines Jensen"),
    ("a", 11, "next", "1"),  # Ben again: he kept his place
    ("a", 12, "next", "2"),  # Hiro
    ("a", 20, "done", "1"),
    ("a", 21, "next", "1"),  # Ines
    ("a", 23, "done", "2"),
    ("a", 24, "no-show", "1"),
    ("b", -6, "checkin", "Chloé Dubois"),
    ("b", -5, "next", "1"),  # Chloé, early: nobody else waits
    ("b", 2, "walkin", "Jon Smith"),
    ("b", 3, "next", "2"),  # Jon
    ("b", 8, "done", "1"),
    ("b", 12, "walkin", "Kemal García"),
    ("b", 13, "next", "1"),  # Kemal
    ("b", 14, "walkin", "Nils Müller"),
    ("b", 17, "checkin", "Dmitri Rossi"),  # late: queues by arrival
    ("c", -14, "walkin", "Lena Kim"),
    ("c", -9, "checkin", "Eve Tanaka"),
    ("c", -6, "cancel", "Nils Müller"),  # left without service
    ("c", -4, "walkin", "Mei Lee"),
    ("c", -3, "done", "2"),
    ("c", -2, "checkin", "Farid Okafor"),
    ("c", -1, "done", "1"),
    ("c", 0, "next", "1"),  # Eve: her slot has started
)
FILLERS = ("Olga Novak", "Pablo Rossi", "Quinn Smith", "Rosa Silva")  # the wanted hour
CANCELLER = "Pablo Rossi"
# The waitlist for that hour, first come first (minutes before now); Wen is removed.
ENTRIES: tuple[tuple[str, int], ...] = (
    ("Sami Okafor", 2 * 24 * 60),
    ("Wen Kim", 26 * 60),
    ("Tara Jensen", 24 * 60),
    ("Vic Lee", 3 * 60),
)
REMOVED = ("Wen Kim", 20 * 60)
LAPSED = "Uma Rossi"  # wanted a seat on the last open day when none was left: expires


def _email(name: str) -> str:
    """``ann.lee@example.com`` for Ann Lee (accents dropped)."""
    import unicodedata

    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return f"{folded.lower().replace(' ', '.')}@example.com"


def _scene_booking(
    session: Session, rng: random.Random, name: str, slot: _Slot, booked_at: datetime
) -> str:
    """A confirmed booking of ``slot``, made at ``booked_at``: its reference."""
    new = NewBooking(
        name=name,
        email=_email(name),
        phone=f"+49 30 {rng.randint(1000000, 9999999)}" if rng.random() < 0.6 else None,
    )
    with clock.frozen(booked_at):
        reference = create_booking(session, slot.uuid, new, rng.choice(ACTORS))["reference"]
    _at(session, "confirm", reference, booked_at + timedelta(minutes=rng.randint(2, 90)))
    return str(reference)


def _front_desk(session: Session, rng: random.Random, desk: _Desk, now: datetime) -> None:
    """The morning at the desk's counters, step by step at its moments (``MORNING``);
    when the desk's day is over the counters then serve whoever is left."""
    anchors = {"a": desk.a.starts_at, "b": desk.b.starts_at, "c": desk.c.starts_at}
    slots = {"a": desk.a, "b": desk.b, "c": desk.c}
    steps = [(anchors[k] + timedelta(minutes=m), what, who) for k, m, what, who in MORNING]
    references = {}
    for name, key in APPOINTMENTS.items():
        booked = anchors[key] - timedelta(days=rng.randint(1, 6), minutes=rng.randint(0, 600))
        references[name] = _scene_booking(session, rng, name, slots[key], booked)
    if desk.next is not None:
        slot, arrives = desk.next
        booked = slot.starts_at - timedelta(days=rng.randint(1, 6), minutes=rng.randint(0, 600))
        references[UPCOMING] = _scene_booking(session, rng, UPCOMING, slot, booked)
        steps.append((arrives, "checkin", UPCOMING))
    tickets: dict[str, str] = {}  # customer -> ticket uuid
    counters: dict[str, str] = {}  # counter -> the uuid of the ticket it called

    def step(what: str, who: str) -> None:
        if what == "checkin":
            tickets[who] = queue.checkin(session, [references[who]], DESK_ACTOR)[0].uuid
        elif what == "walkin":
            phone = f"+49 170 {rng.randint(1000000, 9999999)}" if rng.random() < 0.5 else None
            tickets[who] = queue.walkin(session, desk.slug, who, phone=phone).uuid
        elif what == "next":
            counters[who] = queue.call_next(session, desk.slug, who, DESK_ACTOR).uuid
        elif what == "cancel":
            queue.act(session, what, tickets[who], DESK_ACTOR)
        else:  # done, no-show, requeue: the counter's customer
            queue.act(session, what, counters.pop(who), DESK_ACTOR)

    for when, what, who in sorted(steps, key=lambda s: s[0]):  # stable: ties keep order
        with clock.frozen(when):
            step(what, who)
    if desk.open:
        return
    # The day is over: by the end of the last slot (before now) the counters have
    # served everybody left, a turn each in the time there is.
    when = max(when for when, _, _ in steps)
    left = session.scalar(
        select(func.count())
        .select_from(Ticket)
        .where(Ticket.uuid.in_(tickets.values()), Ticket.status.in_(domain.QUEUED_STATUSES))
    )
    turn = (desk.c.ends_at - when) / ((left or 0) + len(COUNTERS) + 1)
    while True:
        for counter in COUNTERS:
            when += turn
            with clock.frozen(when):
                if counter in counters:
                    step("done", counter)
                with suppress(NotFound):  # nobody waits
                    step("next", counter)
        if not counters:
            return


def _waitlist(session: Session, rng: random.Random, desk: _Desk, now: datetime) -> None:
    """The first hour of the desk's next open day is full and customers wait for it;
    one of its customers cancels just before now, and the earliest entry gets the seat
    by itself. Uma's entry, for a day now past, expires with the cron job."""
    zone = ZoneInfo(desk.timezone)
    first, second = desk.wanted
    window = f"{first.starts_at.astimezone(zone):%H:%M}-{second.ends_at.astimezone(zone):%H:%M}"
    fillers = iter(FILLERS)
    booked_at = now - timedelta(days=3)
    references = {}
    for slot in desk.wanted:
        free = session.scalar(
            select(TimeSlot.max_capacity - TimeSlot.current_bookings).where(TimeSlot.id == slot.id)
        )
        for _ in range(free or 0):
            name = next(fillers)
            booked_at += timedelta(hours=2)
            references[name] = _scene_booking(session, rng, name, slot, booked_at)
    # (when, what, who): Uma asked, once the last slot of the last open day had
    # started, for any seat that day: none could be given any more. The others want
    # the full hour.
    steps = [(desk.previous.starts_at + timedelta(minutes=5), "lapsed", LAPSED)]
    steps += [(now - timedelta(minutes=before), "wait", name) for name, before in ENTRIES]
    steps.append((now - timedelta(minutes=REMOVED[1]), "remove", REMOVED[0]))
    if CANCELLER in references:
        steps.append((now - timedelta(minutes=8), "cancel", CANCELLER))
    entries: dict[str, str] = {}
    for when, what, who in sorted(steps, key=lambda s: s[0]):
        with clock.frozen(when):
            if what == "remove":
                remove_entry(session, entries[who])
            elif what == "cancel":
                transition(session, what, [references[who]], "phone", reason="customer called")
            else:
                day, between = (
                    (desk.previous.day, None) if what == "lapsed" else (first.day, window)
                )
                new = NewEntry(who, _email(who), on=day.isoformat(), between=between)
                entries[who] = add_entry(session, desk.slug, new).uuid
