"""The one injectable clock.

``SLOTCTL_NOW`` (an ISO 8601 instant with offset) freezes it for a whole
process (tests, demos, replaying a day); :func:`frozen` freezes it for a block
of code (the demo builds its history that way).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

from slotctl.parsing import parse_instant

_frozen: ContextVar[datetime | None] = ContextVar("slotctl_now", default=None)


def now() -> datetime:
    """The current instant, timezone-aware, in UTC."""
    pinned = _frozen.get()
    if pinned is not None:
        return pinned
    frozen_text = os.environ.get("SLOTCTL_NOW")
    if not frozen_text:
        return datetime.now(UTC)
    return parse_instant(frozen_text, f"SLOTCTL_NOW={frozen_text!r}")


@contextmanager
def frozen(instant: datetime) -> Iterator[None]:
    """Within the block, :func:`now` is ``instant``."""
    if instant.tzinfo is None:
        raise ValueError("frozen() needs an aware instant")
    token = _frozen.set(instant.astimezone(UTC))
    try:
        yield
    finally:
        _frozen.reset(token)
