"""Shared options, defined once as ``Annotated`` aliases, and small CLI helpers."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

import typer

from slotctl.cli import runtime
from slotctl.errors import InvalidValue


def group(help: str) -> typer.Typer:
    """A command group. Help is plain Click formatting: Rich help would import Rich and
    its Markdown stack on every ``--help`` (about 45 ms, doubling start-up)."""
    return typer.Typer(help=help, no_args_is_help=True, rich_markup_mode=None)


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def _remember_format(value: OutputFormat | None) -> OutputFormat | None:
    if value is not None:
        runtime.current().output_format = value.value
    return value


Format = Annotated[
    OutputFormat,
    typer.Option(
        "--format",
        "-f",
        envvar="SLOTCTL_FORMAT",
        case_sensitive=False,
        callback=_remember_format,
        help="Output format: table, json or csv.",
    ),
]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Show what would change; write nothing.")]
Slug = Annotated[
    str, typer.Argument(metavar="SLUG", help="The exchange's slug.", show_default=False)
]
OptionalSlug = Annotated[
    str | None,
    typer.Argument(metavar="SLUG", help="Only this exchange (slug).", show_default=False),
]
FromDate = Annotated[
    str | None,
    typer.Option(
        "--from", help="First date: YYYY-MM-DD, today, tomorrow or +Nd.", show_default=False
    ),
]
ToDate = Annotated[
    str | None,
    typer.Option(
        "--to", help="Last date (inclusive): YYYY-MM-DD, today or +Nd.", show_default=False
    ),
]


def today_for(timezone: str | None = None) -> date:
    """Today's date in ``timezone`` (default: UTC) by slotctl's clock."""
    from zoneinfo import ZoneInfo

    from slotctl import clock

    return clock.now().astimezone(ZoneInfo(timezone or "UTC")).date()


def parse_date_option(value: str | None, timezone: str | None = None) -> date | None:
    """A date option (``None`` when not given); relative dates count from today in
    ``timezone`` (default UTC)."""
    return None if value is None else required_date(value, timezone)


def required_date(value: str, timezone: str | None = None) -> date:
    from slotctl.parsing import parse_date

    return parse_date(value, today_for(timezone))


def confirm(question: str, yes: bool) -> None:
    """Ask on a terminal; refuse when not on one and ``--yes`` was not given."""
    if yes:
        return
    if not runtime.stdin_is_terminal():
        raise InvalidValue("not on a terminal: add --yes to confirm")
    if not typer.confirm(question, default=False, err=True):
        raise InvalidValue("not confirmed; nothing changed")
