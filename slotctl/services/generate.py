"""Slot generation: walk each exchange's local business hours and write the slots
that do not exist yet, idempotently, in bounded chunks, at bulk speed.

Time counts real minutes: a shift covers the real time from the first instant
the exchange's clock reads its opening (or later) to the first it reads its
closing, and slots tile that time from the opening, each exactly the duration
long (:func:`day_slots`; days without a clock change take one offset).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from slotctl import clock
from slotctl.bounds import BUFFER_MINUTES, CAPACITY, PERIOD_DAYS, SLOT_MINUTES, check_period
from slotctl.db import dialects
from slotctl.db.bulk import ExistingSlot, Key, KeyedRow, SlotRow, SlotStore
from slotctl.db.models import BusinessHours, Closure, Exchange, TimeSlot
from slotctl.localtime import first_instant
from slotctl.parsing import parse_date, parse_time
from slotctl.records import SlotRecord, slot_record, slot_values_record
from slotctl.services import seats
from slotctl.services.lookup import exchange_by_slug

CHUNK_DAYS = 92  # days planned at once per exchange (a quarter): bounds memory
ANALYZE_AFTER = 50_000  # rows created; the planner's statistics are refreshed after that
COMMIT_ROWS = 100_000  # commit at least this often: bookers wait a second or two at most

Progress = Callable[[int, int], None]  # (days just processed, total days)


@dataclass
class GenerateRequest:
    """What to generate. Dates are specs (``2027-03-22``, ``today``, ``+7d``) resolved
    against each exchange's own local today."""

    from_date: str | None
    to_date: str | None
    days: int
    duration: int
    capacity: int
    buffer: int = 0
    prune: bool = False
    dry_run: bool = False

    def validate(self) -> None:
        SLOT_MINUTES.check(self.duration, "--duration")
        CAPACITY.check(self.capacity, "--capacity")
        BUFFER_MINUTES.check(self.buffer, "--buffer")
        PERIOD_DAYS.check(self.days, "--days")
        for spec in (self.from_date, self.to_date):
            if spec is not None:
                parse_date(spec, date(2000, 1, 1))  # the syntax, before anything is written


@dataclass
class GenerateResult:
    """Counts, the booked slots the hours no longer allow, and in a dry run the slots
    that would be created (``slots``) and pruned (``pruned_slots``)."""

    created: int = 0
    skipped: int = 0
    pruned: int = 0
    orphaned: list[SlotRecord] = field(default_factory=list)
    dry_run: bool = False
    slots: list[SlotRecord] = field(default_factory=list)
    pruned_slots: list[SlotRecord] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        del data["dry_run"]
        if not self.dry_run:
            del data["slots"], data["pruned_slots"]
        return data


def _date_range(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def grid(shifts: Sequence[tuple[int, int]], duration: int, buffer: int) -> list[tuple[int, int]]:
    """(start, end) wall-clock minutes of every slot the shifts hold."""
    slots = []
    for opens, closes in shifts:
        minute = opens
        while minute + duration <= closes:
            slots.append((minute, minute + duration))
            minute += duration + buffer
    return slots


def steady_offset(day: date, zone: ZoneInfo) -> timedelta | None:
    """The day's UTC offset if it has no transition, else None."""
    midnight = datetime.combine(day, time())
    offset = zone.utcoffset(midnight)
    return offset if offset == zone.utcoffset(midnight + timedelta(days=1)) else None


def day_slots(
    day: date,
    shifts: Sequence[tuple[int, int]],
    zone: ZoneInfo,
    duration: int,
    buffer: int,
) -> list[SlotRow]:
    """The slots of one local day: ``(date, starts_at, ends_at)`` in UTC.

    A shift ``[opens, closes)`` covers the real time from the first instant the
    exchange's clock reads ``(day, opens)`` or later to the first it reads
    ``(day, closes)`` or later (:func:`slotctl.localtime.first_instant`; ``24:00``
    is the next day's ``00:00``). Slots tile that interval from its start, each
    exactly ``duration`` real minutes, ``buffer`` real minutes apart; only those
    that end by the close exist. Across a clock change that means: a time that
    does not exist maps to the moment of the change, one that occurs twice to its
    first occurrence, and the repeated hour of a fall-back holds slots too.
    """
    length = timedelta(minutes=duration)
    step = timedelta(minutes=duration + buffer)
    rows: list[SlotRow] = []
    for opens, closes in shifts:
        start = first_instant(zone, day, opens)
        end_of_shift = first_instant(zone, day, closes)
        while start + length <= end_of_shift:
            rows.append((day, start, start + length))
            start += step
    return rows


def week_shifts(session: Session, exchange: Exchange) -> dict[int, list[tuple[int, int]]]:
    week: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for row in session.scalars(
        select(BusinessHours)
        .where(BusinessHours.exchange_id == exchange.id)
        .order_by(BusinessHours.weekday, BusinessHours.opens_at)
    ):
        week[row.weekday].append(
            (parse_time(row.opens_at), parse_time(row.closes_at, allow_end_of_day=True))
        )
    return week


def closed_dates(session: Session, exchange_id: int, first: date, last: date) -> set[date]:
    closed: set[date] = set()
    for starts_on, ends_on in session.execute(
        select(Closure.starts_on, Closure.ends_on).where(
            Closure.exchange_id == exchange_id,
            Closure.starts_on <= last,
            Closure.ends_on >= first,
        )
    ):
        closed.update(_date_range(max(starts_on, first), min(ends_on, last)))
    return closed


def _free(candidates: list[KeyedRow], existing: list[ExistingSlot]) -> tuple[list[KeyedRow], int]:
    """Candidates that overlap no existing slot, and how many were skipped."""
    if not existing:
        return candidates, 0
    if [(c[1], c[2]) for c in candidates] == [(e.starts, e.ends) for e in existing]:
        return [], len(candidates)  # the usual nightly re-run: everything is there
    starts = [slot.starts for slot in existing]
    free: list[KeyedRow] = []
    for row in candidates:
        _, start, end = row
        # Existing slots never overlap each other, so of those starting before our end,
        # the last one also ends last: it alone can reach into us.
        index = bisect_left(starts, end)
        if index and existing[index - 1].ends > start:
            continue
        free.append(row)
    return free, len(candidates) - len(free)


def _chunk_bounds(first: date, last: date) -> Iterator[tuple[date, date]]:
    start = first
    while start <= last:
        end = min(last, start + timedelta(days=CHUNK_DAYS - 1))
        yield start, end
        start = end + timedelta(days=1)


def generate(
    session: Session,
    slugs: Sequence[str] | None,
    request: GenerateRequest,
    progress: Progress | None = None,
) -> GenerateResult:
    """Create missing slots for the exchanges (``None``: every active one).

    Commits after each chunk of days, so a long horizon never holds the write
    lock for long; with ``dry_run`` nothing is written.
    """
    request.validate()
    now = clock.now()
    if slugs is None:
        exchanges = list(
            session.scalars(select(Exchange).where(Exchange.is_active).order_by(Exchange.slug))
        )
    else:
        exchanges = [exchange_by_slug(session, slug) for slug in dict.fromkeys(slugs)]
    result = GenerateResult(dry_run=request.dry_run)
    total = 0
    for exchange in exchanges:
        first, last = horizon(request, ZoneInfo(exchange.timezone), now)
        total += (last - first).days + 1

    def advance(days: int) -> None:
        if progress is not None:
            progress(days, total)

    budget = _CommitBudget()
    for exchange in exchanges:
        _generate_exchange(session, exchange, request, now, result, advance, budget)
        if not request.dry_run:  # new seats go to the waitlist first
            seats.promote_entries(session, exchange.id, now)
    if result.created >= ANALYZE_AFTER:
        session.commit()
        SlotStore(session.connection()).analyze()
    return result


@dataclass
class _CommitBudget:
    """Commits after about ``COMMIT_ROWS`` written rows (the caller commits the rest)."""

    uncommitted: int = 0

    def spend(self, session: Session, rows: int) -> None:
        self.uncommitted += rows
        if self.uncommitted >= COMMIT_ROWS:
            session.commit()
            self.uncommitted = 0


def horizon(request: GenerateRequest, zone: ZoneInfo, now: datetime) -> tuple[date, date]:
    today = now.astimezone(zone).date()
    first = parse_date(request.from_date, today) if request.from_date else today
    if request.to_date:
        last = parse_date(request.to_date, today)
    else:
        last = first + timedelta(days=request.days - 1)
    return check_period(first, last, "the range")


def _generate_exchange(
    session: Session,
    exchange: Exchange,
    request: GenerateRequest,
    now: datetime,
    result: GenerateResult,
    advance: Callable[[int], None],
    budget: _CommitBudget,
) -> None:
    zone = ZoneInfo(exchange.timezone)
    first, last = horizon(request, zone, now)
    exchange_id, slug, timezone = exchange.id, exchange.slug, exchange.timezone
    week = week_shifts(session, exchange)
    key_instant = dialects.of(session.connection()).key_instant
    grids = {
        weekday: grid(shifts, request.duration, request.buffer)
        for weekday, shifts in week.items()
        if shifts
    }
    store = SlotStore(session.connection())
    now_key = store.key(now)
    for chunk_first, chunk_last in _chunk_bounds(first, last):
        # One generator per exchange at a time (PostgreSQL; SQLite's BEGIN IMMEDIATE
        # already serialises writers), so two runs with different durations cannot
        # both decide that the same stretch of time is free.
        session.execute(select(Exchange.id).where(Exchange.id == exchange_id).with_for_update())
        closed = closed_dates(session, exchange_id, chunk_first, chunk_last)
        candidates: list[KeyedRow] = []
        for day in _date_range(chunk_first, chunk_last):
            weekday = day.weekday()
            if day in closed or weekday not in grids:
                continue
            offset = steady_offset(day, zone)
            if offset is not None:  # the usual day: integer arithmetic only
                candidates.extend(store.grid_rows(day, grids[weekday], offset))
            else:  # a transition day: convert each wall time with zoneinfo
                shifts = week[weekday]
                slots = day_slots(day, shifts, zone, request.duration, request.buffer)
                candidates.extend(store.keyed(slots))
        if candidates and candidates[0][1] <= now_key:
            candidates = [row for row in candidates if row[1] > now_key]
        window_start = datetime.combine(chunk_first, time(), tzinfo=zone).astimezone(UTC)
        window_end = datetime.combine(
            chunk_last + timedelta(days=1), time(), tzinfo=zone
        ).astimezone(UTC)
        if not request.prune and store.already_there(
            exchange_id, window_start, window_end, candidates
        ):
            result.skipped += len(candidates)
            advance((chunk_last - chunk_first).days + 1)
            continue
        existing = store.existing(exchange_id, window_start, window_end)
        if request.prune:
            existing = _prune(
                session,
                store,
                existing,
                candidates,
                (now, now_key),
                request.dry_run,
                result,
                (slug, timezone),
            )
        free, skipped = _free(candidates, existing)
        result.skipped += skipped
        if request.dry_run:
            result.created += len(free)
            result.slots.extend(
                slot_values_record(
                    None,
                    slug,
                    day,
                    key_instant(start),
                    key_instant(end),
                    request.capacity,
                    0,
                    True,
                    zone,
                    now,
                )
                for day, start, end in free
            )
        else:
            result.created += store.insert(
                exchange_id, request.capacity, free, now, empty=not existing
            )
            budget.spend(session, len(free) + 1)
        advance((chunk_last - chunk_first).days + 1)


def _prune(
    session: Session,
    store: SlotStore,
    existing: list[ExistingSlot],
    candidates: list[KeyedRow],
    now: tuple[datetime, Key],
    dry_run: bool,
    result: GenerateResult,
    exchange: tuple[str, str],
) -> list[ExistingSlot]:
    """Drop future slots the hours no longer allow; report booked ones as orphaned."""
    allowed = {(start, end) for _, start, end in candidates}
    keep: list[ExistingSlot] = []
    doomed: list[int] = []
    slug, timezone = exchange
    for slot in existing:
        if slot.starts <= now[1] or (slot.starts, slot.ends) in allowed:
            keep.append(slot)
        elif slot.current_bookings:
            keep.append(slot)
            orphan = session.get(TimeSlot, slot.id)
            assert orphan is not None
            result.orphaned.append(slot_record(orphan, slug, timezone, now[0]))
        else:
            doomed.append(slot.id)
    if doomed and not dry_run:
        store.delete_unbooked(doomed)
    elif doomed:
        for start in range(0, len(doomed), 500):
            result.pruned_slots.extend(
                slot_record(slot, slug, timezone, now[0])
                for slot in session.scalars(
                    select(TimeSlot)
                    .where(TimeSlot.id.in_(doomed[start : start + 500]))
                    .order_by(TimeSlot.starts_at)
                )
            )
    result.pruned += len(doomed)
    return keep
