"""The one injectable clock. ``SLOTCTL_NOW`` freezes it (tests, demos, replays)."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from slotctl.errors import InvalidValue


def now() -> datetime:
    """The current instant, timezone-aware, in UTC."""
    frozen = os.environ.get("SLOTCTL_NOW")
    if not frozen:
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(frozen)
    except ValueError:
        raise InvalidValue(
            f"SLOTCTL_NOW={frozen!r} is not an ISO 8601 instant (e.g. 2027-03-22T09:00:00+01:00)"
        ) from None
    if value.tzinfo is None:
        raise InvalidValue(f"SLOTCTL_NOW={frozen!r} needs a UTC offset (e.g. +00:00 or Z)")
    return value.astimezone(UTC)
