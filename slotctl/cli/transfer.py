"""CSV (and JSON, ICS) export and import: what the commands share, and the whole database.

Each group defines its own ``export`` and ``import`` commands
(``exchanges|hours|slots|bookings export|import``, ``hours closures export|import``)
on the helpers here; ``slotctl export DIR`` and ``slotctl import DIR`` are defined
here. This is the one CLI module that imports the export and import services.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated

import typer

from slotctl.cli.options import DryRun, Format, FromDate, OptionalSlug, OutputFormat, ToDate
from slotctl.cli.runtime import current
from slotctl.wording import counted

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from slotctl.transfer.cells import ImportResult
    from slotctl.transfer.export import Filters


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


_ONE = {"exchanges": "exchange", "hours": "shift", "closures": "closure", "slots": "slot"}


def _records(count: int, kind: str) -> str:
    """``1 booking``, ``12 shifts``: how many records of a kind (hours files hold shifts)."""
    one = _ONE.get(kind, kind.removesuffix("s"))
    return counted(count, one)


@contextmanager
def _files(outputs: Sequence[Path]) -> Iterator[list[IO[bytes]]]:
    """Temporary files beside ``outputs``, renamed over them only when the block
    succeeds: all of them are written, or none is touched."""
    from slotctl.errors import NotFound

    staged: list[tuple[Path, Path, IO[bytes]]] = []
    try:
        for output in outputs:
            folder = output.expanduser().resolve().parent
            if not folder.is_dir():
                raise NotFound(f"no such directory: {folder}")
            handle, temp = tempfile.mkstemp(prefix=f".{output.name}.", dir=folder)
            staged.append((Path(temp), output, os.fdopen(handle, "wb")))
        yield [file for _, _, file in staged]
        umask = os.umask(0)
        os.umask(umask)
        for path, _, file in staged:
            file.close()
            path.chmod(0o666 & ~umask)  # as a plainly created file would be
        for path, output, _ in staged:
            path.replace(output)
    except BaseException:
        for path, _, file in staged:
            file.close()
            path.unlink(missing_ok=True)
        raise


@contextmanager
def _destination(output: Path | None) -> Iterator[IO[bytes]]:
    """stdout, or a temporary file renamed over ``output`` when the block succeeds."""
    if output is None:
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    with _files([output]) as (file,):
        yield file


def _write_to(session: Session, kind: str, filters: Filters, out: IO[bytes], fmt: str) -> int:
    """Export the records of one kind to ``out`` as ``fmt``; how many."""
    from slotctl.transfer import export

    query = export.build(session, kind, filters, neutralise=fmt == "csv")
    if fmt == "ics":
        from slotctl.transfer.ics import write_ics

        return write_ics(session, query, out)
    if fmt == "json":
        return export.write_json(session, query, out)
    return export.write_csv(session, query, out)


def _write(session: Session, kind: str, filters: Filters, output: Path | None, fmt: str) -> None:
    """Export the records of one kind to ``output`` (stdout when None) as ``fmt``."""
    from slotctl.render import notice

    with _destination(output) as out:
        count = _write_to(session, kind, filters, out, fmt)
    if output is not None:
        notice(f"Wrote {_records(count, kind)} to {output}.")


def export_records(
    kind: str,
    output: Path | None,
    fmt: StrEnum,
    exchange: str | None = None,
    from_date: str | None = None,
    to_date: str | None = None,
) -> None:
    """The body of a group's ``export`` command: one kind, filtered, to a file or stdout."""
    from slotctl.transfer.export import Filters

    state = current()
    filters = Filters(
        exchange, from_date, to_date, default_timezone=state.settings.default_timezone
    )
    with state.session(readonly=True) as session:
        _write(session, kind, filters, output, fmt.value)


def period_export_command(kind: str, doc: str) -> Callable[..., None]:
    """An ``export`` command for records of an exchange (SLUG) in a period (--from/--to)."""

    def command(
        slug: OptionalSlug = None,
        from_date: FromDate = None,
        to_date: ToDate = None,
        output: Output = None,
        as_: As = ExportAs.csv,
    ) -> None:
        export_records(kind, output, as_, slug, from_date, to_date)

    command.__doc__ = doc
    return command


def _print_results(results: list[ImportResult], fmt: OutputFormat) -> None:
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
    from slotctl.tabular import open_input
    from slotctl.transfer.bookings import import_bookings
    from slotctl.transfer.exchanges import import_exchanges
    from slotctl.transfer.hours import import_closures, import_hours
    from slotctl.transfer.slots import import_slots
    from slotctl.transfer.staging import BULK_ROWS, refresh_statistics

    settings = current().settings
    importers: dict[str, Callable[..., ImportResult]] = {
        "exchanges": partial(import_exchanges, default_timezone=settings.default_timezone),
        "hours": import_hours,
        "closures": import_closures,
        "slots": import_slots,
        "bookings": partial(import_bookings, actor=settings.actor),
    }
    with open_input(file) as stream:
        try:
            result = importers[kind](session, stream, dry_run=dry_run)
        except InvalidFile as exc:
            if prefix:
                exc.message = f"{prefix}: {exc.message}"
            raise
    if not dry_run and result.created + result.updated >= BULK_ROWS:
        refresh_statistics(session)
    return result


def import_command(kind: str, doc: str) -> Callable[..., None]:
    """A group's ``import`` command: every record type takes the same options."""

    def command(file: InputFile, dry_run: DryRun = False, fmt: Format = OutputFormat.table) -> None:
        with current().session() as session:
            result = _run_import(kind, file, dry_run, session)
            if dry_run:
                session.rollback()
        _print_results([result], fmt)

    command.__doc__ = doc
    return command


# The whole database ---------------------------------------------------------------------

Directory = Annotated[
    Path, typer.Argument(metavar="DIR", help="The folder of CSV files.", show_default=False)
]


def export_all(directory: Directory) -> None:
    """Export the whole database to DIR.

    CSV files (exchanges, hours, closures, slots, bookings), from one consistent
    snapshot.

    \b
    Example:
      slotctl export backup/
    """
    from slotctl.errors import InvalidValue
    from slotctl.render import notice
    from slotctl.transfer.export import KINDS, Filters, snapshot

    state = current()
    if directory.exists() and not directory.is_dir():
        raise InvalidValue(f"{directory} is a file, not a folder")
    directory.mkdir(parents=True, exist_ok=True)
    everything = Filters(default_timezone=state.settings.default_timezone)
    paths = [directory / f"{kind}.csv" for kind in KINDS]  # parents first, as import reads
    with state.session(readonly=True) as session, _files(paths) as files:
        snapshot(session)
        counts = [
            _write_to(session, kind, everything, out, "csv")
            for kind, out in zip(KINDS, files, strict=True)
        ]
    for kind, path, count in zip(KINDS, paths, counts, strict=True):
        notice(f"Wrote {_records(count, kind)} to {path}.")


def import_all(
    directory: Directory, dry_run: DryRun = False, fmt: Format = OutputFormat.table
) -> None:
    """Import the files of DIR in one transaction.

    The CSV files `slotctl export` writes.

    Files missing from DIR are skipped. The first file with bad rows stops the
    import: its rows are listed (exit 5) and nothing at all is written.

    \b
    Example:
      slotctl import backup/ --dry-run
    """
    from slotctl.errors import NotFound
    from slotctl.transfer.export import KINDS

    present = [kind for kind in KINDS if (directory / f"{kind}.csv").is_file()]
    if not present:
        raise NotFound(f"no {', '.join(f'{k}.csv' for k in KINDS)} in {directory}")
    results = []
    with current().session() as session:
        for kind in present:  # a dry run writes, so later files see earlier ones, then undoes
            path = directory / f"{kind}.csv"
            results.append(_run_import(kind, str(path), False, session, prefix=str(path)))
        if dry_run:
            session.rollback()
    for result in results:
        result.dry_run = dry_run
    _print_results(results, fmt)
