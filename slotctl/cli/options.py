"""Shared options, defined once as ``Annotated`` aliases, and small CLI helpers: groups,
units of work around a service call, and confirmation."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Concatenate, ParamSpec, TypeVar

import typer

from slotctl.cli import runtime
from slotctl.errors import InvalidValue

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

P = ParamSpec("P")
T = TypeVar("T")


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
SlotRef = Annotated[
    str, typer.Argument(metavar="SLOT", help="uuid, prefix or SLUG@YYYY-MM-DDTHH:MM.")
]


def optional(flag: str, help: str) -> Any:
    """An option that may be left out (no default shown in the help)."""
    return typer.Option(flag, help=help, show_default=False)


FromDate = Annotated[
    str | None, optional("--from", "First date: YYYY-MM-DD, today, tomorrow or +Nd.")
]
ToDate = Annotated[str | None, optional("--to", "Last date (inclusive): YYYY-MM-DD, today or +Nd.")]


def read(service: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``service(session, *args, **kwargs)`` in a read-only unit of work."""
    with runtime.current().session(readonly=True) as session:
        return service(session, *args, **kwargs)


def write(service: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``service(session, *args, **kwargs)`` in a unit of work, committed when it returns."""
    with runtime.current().session() as session:
        return service(session, *args, **kwargs)


def confirm(question: str, yes: bool) -> None:
    """Ask on a terminal; refuse when not on one and ``--yes`` was not given."""
    if yes:
        return
    if not runtime.stdin_is_terminal():
        raise InvalidValue("not on a terminal: add --yes to confirm")
    if not typer.confirm(question, default=False, err=True):
        raise InvalidValue("not confirmed; nothing changed")


def confirm_after(preview: Callable[[Session], str], yes: bool) -> None:
    """:func:`confirm` a question worded from a read-only look at the database
    (``preview`` returns it); without a look at all when ``--yes`` was given."""
    if not yes:
        confirm(read(preview), yes)
