"""The bounds of every number and date slotctl accepts, in one place.

The commands, the configuration and every import check their values here, so a
value out of range is refused the same way wherever it enters (exit 2 from the
command line, a bad row in an import, exit 6 from a configuration file), and no
value reaches the database or date arithmetic that would overflow it. The guide's
troubleshooting section lists them; docs/cli.md states each where it applies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from slotctl.errors import InvalidValue

MINUTES_PER_DAY = 24 * 60


@dataclass(frozen=True)
class Bound:
    """A closed range ``low..high`` of whole numbers; ``unit`` and ``hint`` word it."""

    what: str
    low: int
    high: int
    unit: str = ""
    hint: str = ""

    @property
    def span(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        hint = f" ({self.hint})" if self.hint else ""
        return f"{self.low:,} to {self.high:,}{unit}{hint}"

    def check(self, value: int, what: str | None = None) -> int:
        """``value`` if it lies within the bound, else :class:`InvalidValue` naming it."""
        if not self.low <= value <= self.high:
            shown = f"{value:,}" if abs(value) < 10**15 else "a number that large"
            raise InvalidValue(f"{what or self.what}: {shown} is out of range: {self.span}")
        return value


CAPACITY = Bound("capacity", 1, 5_000, "seats")
SLOT_MINUTES = Bound("slot duration", 1, MINUTES_PER_DAY, "minutes", "24h")
BUFFER_MINUTES = Bound("buffer", 0, MINUTES_PER_DAY, "minutes", "24h")
PERIOD_DAYS = Bound("period", 1, 3_660, "days")
NOTICE_MINUTES = Bound("minimum notice", 0, 365 * MINUTES_PER_DAY, "minutes", "365d")
CHECKIN_EARLY_MINUTES = Bound("check-in early", 0, MINUTES_PER_DAY, "minutes", "24h")
LATE_AFTER_MINUTES = Bound("late after", 0, MINUTES_PER_DAY, "minutes", "24h")
ADVANCE_DAYS = Bound("maximum advance", 0, 1_830, "days", "about five years")
EXPIRY_MINUTES = Bound("pending expiry", 1, 365 * MINUTES_PER_DAY, "minutes", "365d")
LIMIT = Bound("--limit", 0, 1_000_000_000, "", "0 = no limit")
SEED = Bound("--seed", 0, 2**32 - 1)
YEAR = Bound("year", 1900, 2200)
WEEKDAY = Bound("weekday", 0, 6, "", "0 = Monday")

FIRST_DATE = date(YEAR.low, 1, 1)
LAST_DATE = date(YEAR.high, 12, 31)
DATES = f"{FIRST_DATE} to {LAST_DATE}"


def check_date(value: date, what: str = "date") -> date:
    """A date within :data:`FIRST_DATE` .. :data:`LAST_DATE`."""
    if not FIRST_DATE <= value <= LAST_DATE:
        raise InvalidValue(f"{what} {value} is out of range: dates run from {DATES}")
    return value


def check_instant(value: datetime, what: str = "instant") -> datetime:
    """An instant whose date, as written (in its own offset), is within the dates."""
    if not FIRST_DATE <= value.date() <= LAST_DATE:
        raise InvalidValue(f"{what} is out of range: dates run from {DATES}")
    return value


def check_period(first: date, last: date, what: str = "the period") -> tuple[date, date]:
    """Local dates ``first`` to ``last`` inclusive: both within the dates, in order, and
    at most :data:`PERIOD_DAYS` long."""
    check_date(first)
    check_date(last)
    if last < first:
        raise InvalidValue(f"--to {last} is before --from {first}")
    if (last - first).days >= PERIOD_DAYS.high:
        raise InvalidValue(f"{what} is longer than {PERIOD_DAYS.high:,} days")
    return first, last
