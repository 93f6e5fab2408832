"""An exchange's local time: today, date specs, day windows and local start times.

Pure functions over the standard library (no SQL, no CLI): every layer that turns
a local date or wall-clock time into UTC instants, or back, goes through here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from slotctl import clock
from slotctl.bounds import check_date, check_instant
from slotctl.errors import InvalidValue
from slotctl.parsing import parse_date, parse_time


@dataclass
class Span:
    """What a listing or an export covers: one exchange's records (all when None)
    between local date specs; without an exchange, "today" counts in
    ``default_timezone``."""

    exchange: str | None = None
    from_date: str | None = None
    to_date: str | None = None
    default_timezone: str = "UTC"


def today(timezone: str | None = None) -> date:
    """Today's date in ``timezone`` (default: UTC) by slotctl's clock."""
    return clock.now().astimezone(ZoneInfo(timezone or "UTC")).date()


def date_spec(spec: str, timezone: str | None = None) -> date:
    """A date spec (``2027-03-22``, ``today``, ``+7d``), "today" counted in ``timezone``."""
    return parse_date(spec, today(timezone))


def optional_date(spec: str | None, timezone: str | None = None) -> date | None:
    """:func:`date_spec`, or None when no spec was given."""
    return None if spec is None else date_spec(spec, timezone)


def day_window(timezone: str, first: date, last: date) -> tuple[datetime, datetime]:
    """UTC instants bounding the local dates ``first`` to ``last`` inclusive."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(first, time(), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(), tzinfo=zone).astimezone(UTC)
    return start, end


_LOCAL_START = re.compile(r"^([0-9]{4}-[0-9]{2}-[0-9]{2})[T ]([0-9]{1,2}:[0-9]{2})(Z|[+-].+)?$")


def _offset(at: datetime, zone: ZoneInfo) -> str:
    delta = at.astimezone(zone).utcoffset() or timedelta()
    return offset_text(int(delta.total_seconds() // 60))


def local_start(text: str, timezone: str) -> tuple[datetime, list[datetime]]:
    """``YYYY-MM-DDTHH:MM`` (or with a space) in ``timezone``: the naive wall-clock
    time and the UTC instants it may name, earlier first (two in a repeated hour). An
    offset, if written (``+01:00``, ``Z``), must be one the zone has at that time and
    picks that instant; another offset is refused (exit 2)."""
    match = _LOCAL_START.match(text.strip())
    try:
        if match is None:
            raise ValueError
        wall = datetime.fromisoformat(f"{match.group(1)}T{match.group(2).zfill(5)}")
        written = match.group(3)
        offset = datetime.fromisoformat(f"{wall:%Y-%m-%dT%H:%M}{written}") if written else None
    except ValueError:
        raise InvalidValue(f"invalid local time {text!r}: use YYYY-MM-DDTHH:MM") from None
    check_date(wall.date())
    zone = ZoneInfo(timezone)
    instants = sorted({wall.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1)})
    if offset is not None:
        wanted = offset_text(int((offset.utcoffset() or timedelta()).total_seconds() // 60))
        picked = [at for at in instants if _offset(at, zone) == wanted]
        if not picked:
            theirs = " or ".join(dict.fromkeys(_offset(at, zone) for at in instants))
            raise InvalidValue(
                f"{text.strip()}: the clock in {timezone} is at {theirs} then, not {wanted}"
            )
        instants = picked
    return wall, instants


def local_or_instant(text: str, timezone: str) -> datetime:
    """``YYYY-MM-DDTHH:MM`` in ``timezone``'s wall-clock time, or an instant with an
    offset (``...+01:00``)."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidValue(f"invalid date-time {text!r}: use YYYY-MM-DDTHH:MM[+HH:MM]") from None
    check_instant(value, f"date-time {text!r}")
    return value if value.tzinfo is not None else value.replace(tzinfo=ZoneInfo(timezone))


def first_instant(zone: ZoneInfo, day: date, minute: int) -> datetime:
    """The first instant (UTC) at which the clock of ``zone`` reads local ``day`` at
    ``minute`` after midnight, or later (``1440`` is the next day's midnight).

    A wall time that occurs once is that instant; one that occurs twice (a
    fall-back's repeated hour) its first occurrence; one that does not exist (a
    spring-forward gap, a midnight skipped) the moment of the change.
    """
    wall = datetime.combine(day, time()) + timedelta(minutes=minute)
    candidates = sorted({wall.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1)})
    for instant in candidates:
        if instant.astimezone(zone).replace(tzinfo=None) == wall:
            return instant
    # In a gap: the two folds read the wall time with the offsets before and after
    # the change; the change lies between them.
    low, high = candidates[0], candidates[-1] + timedelta(minutes=1)
    changes = offset_changes(zone, low, high)
    return changes[1][0] if len(changes) > 1 else candidates[-1]


def slot_text(slug: str, starts_at: datetime, timezone: str) -> str:
    """How a slot is named to a person: ``SLUG@YYYY-MM-DDTHH:MM`` in local time."""
    local = starts_at.astimezone(ZoneInfo(timezone))
    return f"{slug}@{local:%Y-%m-%dT%H:%M}"


def offset_changes(zone: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """``(from_instant, offset_minutes)`` for every UTC offset in force in [start, end)."""

    def offset(at: datetime) -> int:
        delta = at.astimezone(zone).utcoffset() or timedelta()
        return int(delta.total_seconds() // 60)

    changes = [(start, offset(start))]
    day = start
    while day < end:
        following = min(day + timedelta(days=1), end)
        if offset(following) != changes[-1][1]:
            low, high = day, following  # the change lies in (low, high]: find its minute
            while high - low > timedelta(minutes=1):
                middle = (low + (high - low) / 2).replace(second=0, microsecond=0)
                if middle <= low:
                    middle = low + timedelta(minutes=1)
                if offset(middle) == changes[-1][1]:
                    low = middle
                else:
                    high = middle
            changes.append((high, offset(high)))
        day = following
    return changes


def offset_text(minutes: int) -> str:
    """``+01:00``, ``-03:30``: the offset as ISO 8601 (and as an SQLite date modifier)."""
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


MINUTES_PER_DAY = 24 * 60


def minutes_of_day(start: datetime, end: datetime) -> tuple[int, int]:
    """Local start and end of a slot in minutes of its start's day (local datetimes):
    a slot ending on a later day (at midnight) ends at 1440."""
    first = start.hour * 60 + start.minute
    last = end.hour * 60 + end.minute if end.date() == start.date() else MINUTES_PER_DAY
    return first, last


def between_minutes(start: str | None, end: str | None) -> tuple[int, int] | None:
    """A waitlist entry's ``between`` hours in minutes, or None when it has none."""
    if start is None or end is None:
        return None
    return parse_time(start), parse_time(end, allow_end_of_day=True)
