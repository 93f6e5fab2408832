"""CSV (and JSON, ICS) export and import of every record type, and of a whole database.

The commands are registered on their groups in :mod:`slotctl.cli`:
``exchanges|hours|slots|bookings export|import``, ``hours closures export|import``,
and ``slotctl export DIR`` / ``slotctl import DIR``.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any

import typer

from slotctl.cli.options import DryRun, Format, FromDate, OptionalSlug, OutputFormat, ToDate
from slotctl.cli.runtime import current

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from slotctl.services.export import Filters
    from slotctl.services.imports import ImportResult

# The order a whole database is written and read back in (parents first).
FILES = ("exchanges", "hours", "closures", "slots", "bookings")


class ExportAs(StrEnum):
    csv = "csv"
    json = "json"


class BookingsAs(StrEnum):
    csv = "csv"
    json = "json"
    ics = "ics"


Output = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        help="Write to this file (replaced whole, only when the export succeeds); default stdout.",
        show_default=False,
        dir_okay=False,
    ),
]
InputFile = Annotated[
    str,
    typer.Argument(
        metavar="FILE",
        help="CSV file (UTF-8, with or without BOM; - for stdin).",
        show_default=False,
    ),
]
As = Annotated[ExportAs, typer.Option("--as", help="File format: csv or json.")]


@contextmanager
def _destination(output: Path | None) -> Iterator[IO[bytes]]:
    """stdout, or a temporary file renamed over ``output`` when the block succeeds."""
    if output is None:
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    from slotctl.errors import NotFound

    folder = output.expanduser().resolve().parent
    if not folder.is_dir():
        raise NotFound(f"no such directory: {folder}")
    handle, name = tempfile.mkstemp(prefix=f".{output.name}.", dir=folder)
    try:
        with os.fdopen(handle, "wb") as file:
            yield file
        umask = os.umask(0)
        os.umask(umask)
        Path(name).chmod(0o666 & ~umask)  # as a plainly created file would be
        Path(name).replace(output)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def _export(kind: str, filters: Filters, output: Path | None, fmt: str) -> None:
    from slotctl.render import notice
    from slotctl.services import export

    state = current()
    filters.default_timezone = state.settings.default_timezone
    with state.session(readonly=True) as session, _destination(output) as out:
        query = export.build(session, kind, filters, neutralise=fmt == "csv")
        if fmt == "ics":
            from slotctl.services.ics import write_ics

            count = write_ics(session, query, out)
        elif fmt == "json":
            count = export.write_json(session, query, out)
        else:
            count = export.write_csv(session, query, out)
    if output is not None:
        notice(f"Wrote {count:,} {kind} to {output}.")


def _print_result(results: list[ImportResult], fmt: OutputFormat) -> None:
    from slotctl.render import emit

    if fmt is OutputFormat.table:
        for result in results:
            verb = "Would import" if result.dry_run else "Imported"
            typer.echo(
                f"{verb} {result.kind}: {result.created:,} created, {result.updated:,} updated,"
                f" {result.unchanged:,} unchanged."
            )
        if results and results[0].dry_run:
            typer.echo("Dry run: nothing was written.")
        return
    records = [result.record() for result in results]
    emit(records[0] if len(records) == 1 else records, fmt.value)


def _run_import(
    kind: str, file: str, dry_run: bool, session: Session, prefix: str = ""
) -> ImportResult:
    from slotctl.errors import InvalidFile
    from slotctl.services import imports
    from slotctl.tabular import open_input

    state = current()
    importers: dict[str, Callable[..., ImportResult]] = {
        "exchanges": lambda s, f: imports.import_exchanges(
            s, f, default_timezone=state.settings.default_timezone, dry_run=dry_run
        ),
        "hours": lambda s, f: imports.import_hours(s, f, dry_run=dry_run),
        "closures": lambda s, f: imports.import_closures(s, f, dry_run=dry_run),
        "slots": lambda s, f: imports.import_slots(s, f, dry_run=dry_run),
        "bookings": lambda s, f: imports.import_bookings(
            s, f, actor=state.settings.actor, dry_run=dry_run
        ),
    }
    with open_input(file) as stream:
        try:
            return importers[kind](session, stream)
        except InvalidFile as exc:
            if prefix:
                exc.message = f"{prefix}: {exc.message}"
            raise


def _import(kind: str, file: str, dry_run: bool, fmt: OutputFormat) -> None:
    with current().session() as session:
        result = _run_import(kind, file, dry_run, session)
        if dry_run:
            session.rollback()
    _print_result([result], fmt)


# exchanges ------------------------------------------------------------------------------


def exchanges_export(output: Output = None, as_: As = ExportAs.csv) -> None:
    """Export every exchange (CSV columns: the exchange's JSON fields).

    \b
    Example:
      slotctl exchanges export --output exchanges.csv
    """
    from slotctl.services.export import Filters

    _export("exchanges", Filters(), output, as_.value)


def exchanges_import(
    file: InputFile, dry_run: DryRun = False, fmt: Format = OutputFormat.table
) -> None:
    """Import exchanges from CSV: update those whose uuid exists, insert the rest.

    Required columns: slug, name. Every row is checked first; bad rows are listed
    with their line numbers (exit 5) and nothing is written.

    \b
    Example:
      slotctl exchanges import exchanges.csv --dry-run
    """
    _import("exchanges", file, dry_run, fmt)


# hours and closures ---------------------------------------------------------------------


def hours_export(slug: OptionalSlug = None, output: Output = None, as_: As = ExportAs.csv) -> None:
    """Export business hours (columns: uuid, exchange, weekday, day, opens_at, closes_at).

    \b
    Example:
      slotctl hours export downtown --output hours.csv
    """
    from slotctl.services.export import Filters

    _export("hours", Filters(exchange=slug), output, as_.value)


def hours_import(
    file: InputFile, dry_run: DryRun = False, fmt: Format = OutputFormat.table
) -> None:
    """Import business hours from CSV (upsert by uuid); overlapping shifts are refused.

    Required columns: exchange, weekday or day, opens_at, closes_at.

    \b
    Example:
      slotctl hours import hours.csv
    """
    _import("hours", file, dry_run, fmt)


def closures_export(
    slug: OptionalSlug = None,
    from_date: FromDate = None,
    to_date: ToDate = None,
    output: Output = None,
    as_: As = ExportAs.csv,
) -> None:
    """Export closures (columns: uuid, exchange, starts_on, ends_on, reason).

    \b
    Example:
      slotctl hours closures export --output closures.csv
    """
    from slotctl.services.export import Filters

    _export("closures", Filters(slug, from_date, to_date), output, as_.value)


def closures_import(
    file: InputFile, dry_run: DryRun = False, fmt: Format = OutputFormat.table
) -> None:
    """Import closures from CSV (upsert by uuid). Required columns: exchange, starts_on.

    \b
    Example:
      slotctl hours closures import closures.csv
    """
    _import("closures", file, dry_run, fmt)


# slots ---------------------------------------------------------------------------------


def slots_export(
    slug: OptionalSlug = None,
    from_date: FromDate = None,
    to_date: ToDate = None,
    output: Output = None,
    as_: As = ExportAs.csv,
) -> None:
    """Export slots by start (CSV columns: the slot's JSON fields), streamed.

    \b
    Example:
      slotctl slots export downtown --from 2027-03-01 --to 2027-03-31 -o march.csv
    """
    from slotctl.services.export import Filters

    _export("slots", Filters(slug, from_date, to_date), output, as_.value)


def slots_import(
    file: InputFile, dry_run: DryRun = False, fmt: Format = OutputFormat.table
) -> None:
    """Import slots from CSV (upsert by uuid); overlapping slots are refused.

    Required columns: exchange, starts_at and ends_at (or date, start and end),
    max_capacity. Counters, seats and status are recomputed.

    \b
    Example:
      slotctl slots import slots.csv --dry-run
    """
    _import("slots", file, dry_run, fmt)


# bookings ------------------------------------------------------------------------------


def bookings_export(
    exchange: Annotated[
        str | None,
        typer.Option("--exchange", help="Only this exchange (slug).", show_default=False),
    ] = None,
    from_date: FromDate = None,
    to_date: ToDate = None,
    output: Output = None,
    as_: Annotated[
        BookingsAs, typer.Option("--as", help="File format: csv, json or ics (iCalendar).")
    ] = BookingsAs.csv,
) -> None:
    """Export bookings by slot start (CSV, JSON, or an iCalendar file), streamed.

    \b
    Example:
      slotctl bookings export --exchange downtown --from 2027-03-01 -o bookings.csv
      slotctl bookings export --as ics -o bookings.ics
    """
    from slotctl.services.export import Filters

    _export("bookings", Filters(exchange, from_date, to_date), output, as_.value)


def bookings_import(
    file: InputFile, dry_run: DryRun = False, fmt: Format = OutputFormat.table
) -> None:
    """Import bookings from CSV (upsert by uuid), keeping slot counters true.

    Required columns: slot (its uuid), customer_name, customer_email; a missing
    status means pending. Rows that would overbook a slot are refused like bad
    rows: all are listed with their line numbers (exit 5) and nothing is written.

    \b
    Example:
      slotctl bookings import bookings.csv --dry-run
    """
    _import("bookings", file, dry_run, fmt)


# The whole database ---------------------------------------------------------------------

Directory = Annotated[
    Path, typer.Argument(metavar="DIR", help="The folder of CSV files.", show_default=False)
]


def export_all(directory: Directory) -> None:
    """Export the whole database as CSV files in DIR (exchanges, hours, closures, slots,
    bookings), from one consistent snapshot.

    \b
    Example:
      slotctl export backup/
    """
    from slotctl.errors import InvalidValue
    from slotctl.render import notice
    from slotctl.services import export

    state = current()
    if directory.exists() and not directory.is_dir():
        raise InvalidValue(f"{directory} is a file, not a folder")
    directory.mkdir(parents=True, exist_ok=True)
    with state.session(readonly=True) as session:
        export.snapshot(session)
        for kind in FILES:
            filters = export.Filters(default_timezone=state.settings.default_timezone)
            with _destination(directory / f"{kind}.csv") as out:
                count = export.write_csv(session, export.build(session, kind, filters), out)
            notice(f"Wrote {count:,} {kind} to {directory / f'{kind}.csv'}.")


def import_all(
    directory: Directory, dry_run: DryRun = False, fmt: Format = OutputFormat.table
) -> None:
    """Import the CSV files of DIR (as `slotctl export` writes them) in one transaction.

    Files missing from DIR are skipped. The first file with bad rows stops the
    import: its rows are listed (exit 5) and nothing at all is written.

    \b
    Example:
      slotctl import backup/ --dry-run
    """
    from slotctl.errors import NotFound

    present = [kind for kind in FILES if (directory / f"{kind}.csv").is_file()]
    if not present:
        raise NotFound(f"no {', '.join(f'{k}.csv' for k in FILES)} in {directory}")
    results = []
    with current().session() as session:
        for kind in present:  # a dry run writes, so later files see earlier ones, then undoes
            path = directory / f"{kind}.csv"
            results.append(_run_import(kind, str(path), False, session, prefix=str(path)))
        if dry_run:
            session.rollback()
    for result in results:
        result.dry_run = dry_run
    _print_result(results, fmt)


def register(apps: dict[str, Any]) -> None:
    """Add the commands to their groups."""
    apps["exchanges"].command("export")(exchanges_export)
    apps["exchanges"].command("import")(exchanges_import)
    apps["hours"].command("export")(hours_export)
    apps["hours"].command("import")(hours_import)
    apps["closures"].command("export")(closures_export)
    apps["closures"].command("import")(closures_import)
    apps["slots"].command("export")(slots_export)
    apps["slots"].command("import")(slots_import)
    apps["bookings"].command("export")(bookings_export)
    apps["bookings"].command("import")(bookings_import)
    apps["root"].command("export")(export_all)
    apps["root"].command("import")(import_all)
