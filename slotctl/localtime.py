"""An exchange's local time: today, date specs, day windows and local start times.

Pure functions over the standard library (no SQL, no CLI): every layer that turns
a local date or wall-clock time into UTC instants, or back, goes through here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from slotctl import clock
from slotctl.errors import InvalidValue
from slotctl.parsing import parse_date


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


def parse_local_start(text: str) -> datetime:
    """``YYYY-MM-DDTHH:MM`` (or with a space) as a naive wall-clock time."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidValue(f"invalid local time {text!r}: use YYYY-MM-DDTHH:MM") from None
    if value.tzinfo is not None:
        value = value.replace(tzinfo=None)
    return value


def local_or_instant(text: str, timezone: str) -> datetime:
    """``YYYY-MM-DDTHH:MM`` in ``timezone``'s wall-clock time, or an instant with an
    offset (``...+01:00``)."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidValue(f"invalid date-time {text!r}: use YYYY-MM-DDTHH:MM[+HH:MM]") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=ZoneInfo(timezone))


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
