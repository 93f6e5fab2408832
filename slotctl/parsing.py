"""Parsers for the value syntax of docs/cli.md: days, times, durations, dates.

Pure functions over strings, no I/O and no heavy imports. Every failure raises
:class:`slotctl.errors.InvalidValue` with a message that names the bad value and
shows the expected form.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

from slotctl.bounds import (
    DATES,
    FIRST_DATE,
    LAST_DATE,
    MINUTES_PER_DAY,
    check_date,
    check_instant,
)
from slotctl.domain import shifts_overlap
from slotctl.errors import InvalidValue

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_ALIASES = {
    "daily": tuple(range(7)),
    "weekdays": tuple(range(5)),
    "weekends": (5, 6),
}

_TIME_RE = re.compile(r"^([0-9]{1,2}):([0-9]{2})$")
_DURATION_RE = re.compile(r"^(?:([0-9]{1,30})d)?(?:([0-9]{1,30})h)?(?:([0-9]{1,30})m)?$")
_RELATIVE_DATE_RE = re.compile(r"^([+-])([0-9]{1,30})d$")
_RELATIVE_DAYS = {"today": 0, "tomorrow": 1, "yesterday": -1}


def _day_index(token: str) -> int:
    if token in DAY_NAMES:
        return DAY_NAMES.index(token)
    if token in _FULL_DAY_NAMES:
        return _FULL_DAY_NAMES.index(token)
    raise InvalidValue(
        f"unknown day {token!r}: use mon, tue, wed, thu, fri, sat, sun, a range such as "
        "mon-fri, or daily, weekdays, weekends"
    )


def parse_days(spec: str) -> list[int]:
    """``mon``, ``mon-fri``, ``mon,wed,fri``, ``daily``, ``weekdays``, ``weekends``.

    Returns sorted weekday numbers (0 = Monday). A range may wrap (``fri-mon``).
    """
    text = spec.strip().lower()
    if not text:
        raise InvalidValue("empty day spec: use e.g. mon-fri, sat or daily")
    days: set[int] = set()
    for raw in text.split(","):
        token = raw.strip()
        if token in _DAY_ALIASES:
            days.update(_DAY_ALIASES[token])
        elif "-" in token:
            first, _, last = token.partition("-")
            start, end = _day_index(first.strip()), _day_index(last.strip())
            day = start
            while True:
                days.add(day)
                if day == end:
                    break
                day = (day + 1) % 7
        else:
            days.add(_day_index(token))
    return sorted(days)


def parse_time(text: str, *, allow_end_of_day: bool = False) -> int:
    """``HH:MM`` to minutes after midnight; ``24:00`` only where a closing time is meant."""
    match = _TIME_RE.match(text.strip())
    if not match:
        raise InvalidValue(f"invalid time {text!r}: use HH:MM, e.g. 09:00")
    hours, minutes = int(match.group(1)), int(match.group(2))
    if minutes > 59 or hours > 24 or (hours == 24 and minutes != 0):
        raise InvalidValue(f"invalid time {text!r}: hours 00-23, minutes 00-59 (24:00 as a close)")
    if hours == 24 and not allow_end_of_day:
        raise InvalidValue(f"invalid time {text!r}: 24:00 is only allowed as a closing time")
    return hours * 60 + minutes


def format_time(minutes: int) -> str:
    """Minutes after midnight to ``HH:MM`` (1440 is ``24:00``)."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_time_range(text: str) -> tuple[int, int]:
    """``HH:MM-HH:MM`` to (opens, closes) in minutes; opening must precede closing."""
    opens_text, sep, closes_text = text.strip().partition("-")
    if not sep:
        raise InvalidValue(f"invalid time range {text!r}: use HH:MM-HH:MM, e.g. 09:00-17:00")
    opens = parse_time(opens_text)
    closes = parse_time(closes_text, allow_end_of_day=True)
    if opens >= closes:
        raise InvalidValue(
            f"invalid time range {text!r}: opening must be before closing "
            "(a shift cannot cross midnight; use 24:00 as the close)"
        )
    return opens, closes


def check_no_overlap(ranges: list[tuple[int, int]], where: str = "") -> None:
    """Raise if any two (opens, closes) ranges overlap; touching ends are fine."""
    ordered = sorted(ranges)
    for (o1, c1), (o2, c2) in pairwise(ordered):
        if shifts_overlap((o1, c1), (o2, c2)):
            suffix = f" on {where}" if where else ""
            raise InvalidValue(
                f"shifts {format_time(o1)}-{format_time(c1)} and "
                f"{format_time(o2)}-{format_time(c2)} overlap{suffix}"
            )


def parse_time_ranges(text: str) -> list[tuple[int, int]]:
    """``09:00-12:00,13:00-17:00``: several ranges, sorted, none overlapping."""
    parts = text.split(",")
    if not all(part.strip() for part in parts):
        raise InvalidValue(f"invalid time spec {text!r}: use HH:MM-HH:MM[,HH:MM-HH:MM...]")
    ranges = sorted(parse_time_range(part) for part in parts)
    check_no_overlap(ranges)
    return ranges


def parse_hours_spec(spec: str) -> tuple[list[int], list[tuple[int, int]]]:
    """``"mon-fri 09:00-12:00,13:00-17:00"``: a day spec and a time spec."""
    parts = spec.split()
    if len(parts) != 2:
        raise InvalidValue(
            f'invalid hours spec {spec!r}: use "DAYS TIMES", e.g. "mon-fri 09:00-12:00,13:00-17:00"'
        )
    return parse_days(parts[0]), parse_time_ranges(parts[1])


def parse_duration(text: str) -> int:
    """``45``, ``45m``, ``2h``, ``1h30m``, ``7d`` to minutes (a bare number is minutes)."""
    value = text.strip().lower()
    if value.isascii() and value.isdigit() and len(value) <= 30:
        return int(value)
    match = _DURATION_RE.match(value)
    if not value or not match:
        raise InvalidValue(f"invalid duration {text!r}: use e.g. 45, 45m, 2h, 1h30m or 7d")
    days, hours, minutes = (int(group) if group else 0 for group in match.groups())
    return days * MINUTES_PER_DAY + hours * 60 + minutes


def parse_date(text: str, today: date) -> date:
    """``YYYY-MM-DD``, ``today``, ``tomorrow``, ``yesterday``, ``+Nd`` or ``-Nd``."""
    value = text.strip().lower()
    days = _RELATIVE_DAYS.get(value)
    match = _RELATIVE_DATE_RE.match(value)
    if match:
        days = int(match.group(2)) * (-1 if match.group(1) == "-" else 1)
    if days is not None:
        if abs(days) > (LAST_DATE - FIRST_DATE).days:
            raise InvalidValue(f"date {text!r} is out of range: dates run from {DATES}")
        return check_date(today + timedelta(days=days), f"date {text!r} =")
    try:
        if len(value) != 10:
            raise ValueError
        parsed = date.fromisoformat(value)
    except ValueError:
        raise InvalidValue(
            f"invalid date {text!r}: use YYYY-MM-DD, today, tomorrow or +Nd"
        ) from None
    return check_date(parsed)


def validate_timezone(name: str) -> str:
    """Return the IANA name if zoneinfo knows it, else raise."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not name or name.startswith(("/", ".")) or ".." in name:
        raise InvalidValue(f"unknown timezone {name!r}: use an IANA name such as Europe/Berlin")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidValue(
            f"unknown timezone {name!r}: use an IANA name such as Europe/Berlin"
        ) from None
    return name


def parse_instant(text: str, what: str) -> datetime:
    """An ISO 8601 instant with a UTC offset (``2027-03-22T09:00:00+01:00``, ``...Z``), in
    UTC; ``what`` names the value in the error."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidValue(
            f"{what} is not an ISO 8601 instant (e.g. 2027-03-22T09:00:00+01:00)"
        ) from None
    if value.tzinfo is None:
        raise InvalidValue(f"{what} needs a UTC offset (e.g. +00:00 or Z)")
    return check_instant(value, what).astimezone(UTC)
