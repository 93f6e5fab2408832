"""``slotctl desk``: the front-desk screen. Textual loads only here."""

from __future__ import annotations

from typing import Annotated

import typer

from slotctl.cli.options import Slug, read
from slotctl.cli.runtime import current
from slotctl.errors import InvalidValue

REFRESH_DEFAULT = 2.0


def desk(
    slug: Slug,
    counter: Annotated[
        str, typer.Option("--counter", help="Your counter's name (what `n` calls to).")
    ] = "1",
    refresh: Annotated[
        float,
        typer.Option("--refresh", help="Seconds between re-reads of the database (0.5 to 60)."),
    ] = REFRESH_DEFAULT,
) -> None:
    """A live front-desk screen: roster, queue and counters.

    Single keys call, serve and check customers in (press ? inside for all of
    them); it re-reads the database every --refresh seconds.

    \b
    Example:
      slotctl desk downtown --counter 2
    """
    import sys

    from slotctl.services.lookup import exchange_by_slug
    from slotctl.services.queue import counter_name

    if not 0.5 <= refresh <= 60:
        raise InvalidValue(f"--refresh {refresh:g} is out of range: 0.5 to 60 seconds")
    name = counter_name(counter)
    exchange = read(exchange_by_slug, slug).slug  # exit 3 before the screen opens
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise InvalidValue("the desk needs a terminal (stdin and stdout)")
    from slotctl.desk.app import DeskApp

    state = current()
    DeskApp(state.engine(), exchange, name, state.settings.actor, refresh).run()
