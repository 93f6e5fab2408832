"""A realistic, deterministic demo built through the real services.

Three exchanges in three timezones, their shifts and a closure, four weeks of
slots (two behind today, two ahead) and a few hundred bookings that went
through the lifecycle at plausible times (the clock is frozen at each step, so
the audit trail reads like a real fortnight).
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from slotctl import clock
from slotctl.bounds import SEED
from slotctl.db.models import (
    Booking,
    BookingEvent,
    BusinessHours,
    Closure,
    Exchange,
    TimeSlot,
)
from slotctl.errors import Conflict
from slotctl.services.bookings import NewBooking, create_booking, expire_pending, transition
from slotctl.services.exchanges import add_exchange
from slotctl.services.generate import GenerateRequest, generate
from slotctl.services.hours import add_closure, set_hours

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


def demo_dates(today: date) -> tuple[date, date]:
    """The first and last local date of the demo's slots, built ``today`` (local)."""
    first = today - timedelta(days=DAYS_BEHIND)
    return first, first + timedelta(days=DAYS - 1)


def holds_data(session: Session) -> bool:
    return bool(session.scalar(select(func.count()).select_from(Exchange)))


def wipe(session: Session) -> None:
    for model in (BookingEvent, Booking, TimeSlot, Closure, BusinessHours, Exchange):
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
        select(TimeSlot.uuid, TimeSlot.starts_at, Exchange.min_notice_minutes)
        .join(Exchange, TimeSlot.exchange_id == Exchange.id)
        .order_by(TimeSlot.starts_at, TimeSlot.id)  # slots of exchanges start together
    ).all()
    chosen = rng.sample(slots, k=min(len(slots), 320))
    chosen.sort(key=lambda row: row[1])
    for number, (uuid, starts_at, notice) in enumerate(chosen):
        _one_booking(session, rng, number, uuid, starts_at, notice, now)
    with clock.frozen(now):
        expire_pending(session, 30)
    session.flush()
    counts = Counter(session.scalars(select(Booking.status)))
    return {
        "exchanges": [{"slug": e[0], "timezone": e[2]} for e in EXCHANGES],
        "slots": len(slots),
        "bookings": {
            status: counts.get(status, 0)
            for status in ("pending", "confirmed", "completed", "no_show", "cancelled")
        },
        "seed": seed,
    }


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
        _at(session, "complete", reference, starts_at + timedelta(minutes=rng.randint(1, 20)))
    elif roll < 0.7:
        _at(session, "confirm", reference, confirm_at)
        _at(session, "no-show", reference, starts_at + timedelta(minutes=rng.randint(20, 60)))
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
