"""Counts in messages: ``1 booking``, ``2 bookings``, ``1 slot has``, ``2 slots have``.

Pure functions, no imports: every layer that words a count (services, transfer,
render, the CLI) goes through here, so no message says ``1 bookings``.
"""

from __future__ import annotations


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """``count`` and ``noun`` in agreement, with thousands separated."""
    word = noun if count == 1 else plural or f"{noun}s"
    return f"{count:,} {word}"


def verb(count: int, singular: str, plural: str) -> str:
    """The form of a verb that agrees with ``count`` things (``has``/``have``)."""
    return singular if count == 1 else plural
