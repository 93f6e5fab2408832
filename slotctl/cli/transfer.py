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
from typing import IO, TYPE_CHECKING, Annotated, Any

import typer

from slotctl.cli.options import DryRun, Format, FromDate, OptionalSlug, OutputFormat, ToDate
from slotctl.cli.runtime import current
from slotctl.wording import counted

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from slotctl.tabular import Source
    from slotctl.transfer.cells import ImportResult
    from slotctl.transfer.export import Filters


class ExportAs(StrEnum):
    csv = "csv"
    json = "json"
    xlsx = "xlsx"


class BookingsAs(StrEnum):
    csv = "csv"
    json = "json"
    xlsx = "xlsx"
    ics = "ics"


def export_format(requested: StrEnum | None, output: Path | None, allowed: type[StrEnum]) -> str:
    """The format of an export: ``--as``, else the one the file name's suffix names
    (``march.xlsx``), else CSV. ``--as`` contradicting the suffix exits 2, and so does a
    workbook bound for a terminal."""
    from slotctl.errors import InvalidValue

    suffix = output.suffix.lower().removeprefix(".") if output is not None else ""
    implied = suffix if suffix in allowed.__members__ else None
    if requested is not None and implied is not None and requested.value != implied:
        raise InvalidValue(
            f"--as {requested.value} does not match the file name {output}: "
            f"use a .{requested.value} name or leave --as out"
        )
    chosen = requested.value if requested is not None else implied or "csv"
    if chosen == "xlsx" and output is None and sys.stdout.isatty():
        raise InvalidValue("a workbook is binary: give --output FILE.xlsx or redirect stdout")
    return chosen


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
As = Annotated[
    ExportAs | None,
    typer.Option(
        "--as",
        help="File format: csv, json or xlsx (default: the --output suffix, else csv).",
        show_default=False,
    ),
]


_ONE = {"exchanges": "exchange", "hours": "shift", "closures": "closure", "slots": "slot"}
_PLURAL = {"waitlist": ("waitlist entry", "waitlist entries")}


def _records(count: int, kind: str) -> str:
    """``1 booking``, ``12 shifts``: how many records of a kind (hours files hold shifts)."""
    one, many = _PLURAL.get(kind, (_ONE.get(kind, kind.removesuffix("s")), None))
    return counted(count, one, many)


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
    if fmt == "xlsx":
        from slotctl.transfer.xlsx import Sheet, write_workbook

        (count,) = write_workbook(
            out, [Sheet(kind, query.columns, export.iter_rows(session, query))]
        )
        return count
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
    fmt: StrEnum | None,
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
    chosen = export_format(fmt, output, BookingsAs if kind == "bookings" else ExportAs)
    with state.session(readonly=True) as session:
        _write(session, kind, filters, output, chosen)


def period_export_command(kind: str, doc: str) -> Callable[..., None]:
    """An ``export`` command for records of an exchange (SLUG) in a period (--from/--to)."""

    def command(
        slug: OptionalSlug = None,
        from_date: FromDate = None,
        to_date: ToDate = None,
        output: Output = None,
        as_: As = None,
    ) -> None:
        export_records(kind, output, as_, slug, from_date, to_date)

    command.__doc__ = doc
    return command


def _print_results(results: list[ImportResult], fmt: OutputFormat) -> None:
    """Each result's counts and the changed fields of its updated records: a summary line
    and a table of changes (table), the results with their ``changes`` (JSON), or one row
    per changed field (CSV). The changes are streamed: there may be millions."""
    import json

    from slotctl.render import emit, to_json_value, write_csv
    from slotctl.transfer.cells import CHANGE_FIELDS, Changes

    if fmt is OutputFormat.table:
        for result in results:
            verb = "Would import" if result.dry_run else "Imported"
            typer.echo(
                f"{verb} {result.kind}: {result.created:,} created, {result.updated:,} updated,"
                f" {result.unchanged:,} unchanged."
            )
            rows: list[dict[str, Any]] = []
            for change in result.changes.records():
                rows.append(change)
                if len(rows) == _TABLE_ROWS:  # a table of that many at a time: flat memory
                    emit(rows, "table", columns=CHANGE_FIELDS)
                    rows = []
            if rows:
                emit(rows, "table", columns=CHANGE_FIELDS)
        if results and results[0].dry_run:
            typer.echo("Dry run: nothing was written.")
        return
    if fmt is OutputFormat.csv:
        write_csv(
            (
                {"kind": result.kind, **change}
                for result in results
                for change in result.changes.records()
            ),
            ("kind", *CHANGE_FIELDS),
            sys.stdout,
        )
        return

    class Streamed(list[Any]):
        """The changes as a JSON list, read as the encoder writes them."""

        def __init__(self, changes: Changes) -> None:
            super().__init__()
            self.changes = changes

        def __iter__(self) -> Iterator[Any]:
            return self.changes.records()

        def __len__(self) -> int:
            return len(self.changes)

    records = [{**result.counts(), "changes": Streamed(result.changes)} for result in results]
    json.dump(
        records[0] if len(records) == 1 else records,
        sys.stdout,
        default=to_json_value,
        indent=2,
        ensure_ascii=False,
    )
    sys.stdout.write("\n")


_TABLE_ROWS = 10_000  # changes per table printed


def _run_import(
    kind: str, file: str, dry_run: bool, session: Session, accept: bool, prefix: str = ""
) -> ImportResult:
    """Import ``file`` (CSV, a workbook or JSON: told by its content) as records of
    ``kind``; ``accept``: --accept-changes."""
    from slotctl.transfer.sources import open_source

    with open_source(file, kind) as source:
        return _import_source(kind, source, dry_run, session, accept, prefix)


def _import_source(
    kind: str, source: Source, dry_run: bool, session: Session, accept: bool, prefix: str = ""
) -> ImportResult:
    from slotctl.errors import InvalidFile
    from slotctl.transfer.bookings import import_bookings
    from slotctl.transfer.exchanges import import_exchanges
    from slotctl.transfer.front_desk import import_tickets, import_waitlist
    from slotctl.transfer.hours import import_closures, import_hours
    from slotctl.transfer.slots import import_slots
    from slotctl.transfer.staging import BULK_ROWS, refresh_statistics
    from slotctl.transfer.xlsx import SheetCells

    settings = current().settings
    importers: dict[str, Callable[..., ImportResult]] = {
        "exchanges": partial(import_exchanges, default_timezone=settings.default_timezone),
        "hours": import_hours,
        "closures": import_closures,
        "slots": import_slots,
        "bookings": partial(import_bookings, actor=settings.actor),
        "tickets": import_tickets,
        "waitlist": import_waitlist,
    }
    try:
        result = importers[kind](session, source, dry_run=dry_run, accept_changes=accept)
    except InvalidFile as exc:
        if isinstance(source, SheetCells):  # rows of a sheet, not lines of a file
            exc.sheet = source.sheet
            prefix = f"{source.workbook.name}, sheet {source.sheet}"
        if prefix:
            exc.message = f"{prefix}: {exc.message}"
        raise
    if not dry_run and result.created + result.updated >= BULK_ROWS:
        refresh_statistics(session)
    return result


AcceptChanges = Annotated[
    bool,
    typer.Option(
        "--accept-changes",
        help="Import values that look damaged by a spreadsheet (leading zeros lost, text"
        " garbled by a wrong encoding) instead of refusing their rows.",
    ),
]


def import_command(kind: str, doc: str) -> Callable[..., None]:
    """A group's ``import`` command: every record type takes the same options."""

    def command(
        file: InputFile,
        dry_run: DryRun = False,
        accept_changes: AcceptChanges = False,
        fmt: Format = OutputFormat.table,
    ) -> None:
        with current().session() as session:
            result = _run_import(kind, file, dry_run, session, accept_changes)
            if dry_run:
                session.rollback()
        _print_results([result], fmt)

    command.__doc__ = doc
    return command


# The whole database ---------------------------------------------------------------------

Directory = Annotated[
    Path,
    typer.Argument(
        metavar="PATH",
        help="A folder of CSV files (slotctl.xlsx in it with --as xlsx), or a FILE.xlsx.",
        show_default=False,
    ),
]
WORKBOOK = "slotctl.xlsx"  # the whole database as one workbook, in a folder


class AllAs(StrEnum):
    csv = "csv"
    xlsx = "xlsx"


def export_all(
    directory: Directory,
    as_: Annotated[
        AllAs | None,
        typer.Option(
            "--as",
            help="csv: a file per record type; xlsx: one workbook, a sheet per record type"
            " (default: xlsx when PATH ends in .xlsx, else csv).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Export the whole database to PATH.

    CSV files (exchanges, hours, closures, slots, bookings, tickets, waitlist), or
    one workbook with a sheet per record type, from one consistent snapshot.

    \b
    Example:
      slotctl export backup/
      slotctl export backup.xlsx
    """
    from slotctl.errors import InvalidValue
    from slotctl.render import notice
    from slotctl.transfer import export
    from slotctl.transfer.export import KINDS, Filters, snapshot

    state = current()
    everything = Filters(default_timezone=state.settings.default_timezone)
    if directory.suffix.lower() == ".xlsx" and not directory.is_dir():
        chosen = export_format(as_, directory, AllAs)
        workbook: Path | None = directory
    else:
        chosen = as_.value if as_ is not None else "csv"
        if directory.exists() and not directory.is_dir():
            raise InvalidValue(f"{directory} is a file, not a folder")
        directory.mkdir(parents=True, exist_ok=True)
        workbook = directory / WORKBOOK if chosen == "xlsx" else None
    if workbook is not None:
        from slotctl.transfer.xlsx import Sheet, write_workbook

        with state.session(readonly=True) as session, _files([workbook]) as (out,):
            snapshot(session)
            queries = {
                kind: export.build(session, kind, everything, neutralise=False) for kind in KINDS
            }
            counts = write_workbook(
                out,
                (
                    Sheet(kind, query.columns, export.iter_rows(session, query))
                    for kind, query in queries.items()
                ),
            )
        written = ", ".join(
            _records(count, kind) for kind, count in zip(KINDS, counts, strict=True)
        )
        notice(f"Wrote {written} to {workbook}.")
        return
    paths = [directory / f"{kind}.csv" for kind in KINDS]  # parents first, as import reads
    with state.session(readonly=True) as session, _files(paths) as files:
        snapshot(session)
        counts = [
            _write_to(session, kind, everything, out, "csv")
            for kind, out in zip(KINDS, files, strict=True)
        ]
    for kind, path, count in zip(KINDS, paths, counts, strict=True):
        notice(f"Wrote {_records(count, kind)} to {path}.")


def _head(path: Path) -> bytes:
    with path.open("rb") as file:
        return file.read(8)


def import_all(
    directory: Directory,
    dry_run: DryRun = False,
    accept_changes: AcceptChanges = False,
    fmt: Format = OutputFormat.table,
) -> None:
    """Import the files of PATH in one transaction.

    The CSV files `slotctl export` writes in a folder, or a workbook with a sheet per
    record type (FILE.xlsx, or slotctl.xlsx in a folder without CSV files).

    Files or sheets missing are skipped, other sheets ignored. The first file with
    bad rows stops the import: its rows are listed (exit 5) and nothing at all is
    written.

    \b
    Example:
      slotctl import backup/ --dry-run
      slotctl import backup.xlsx
    """
    from slotctl.errors import InvalidFile, NotFound
    from slotctl.transfer.export import KINDS
    from slotctl.transfer.sources import open_workbook
    from slotctl.transfer.xlsx import SheetCells, is_workbook

    names = ", ".join(f"{k}.csv" for k in KINDS)
    if not directory.exists():
        raise NotFound(
            f"no such file or folder: {directory} (give a folder of {names}, or a workbook)"
        )
    workbook = directory
    present = []
    if directory.is_dir():
        present = [kind for kind in KINDS if (directory / f"{kind}.csv").is_file()]
        workbook = directory / WORKBOOK
        if not present and not workbook.is_file():
            raise NotFound(f"no {names} nor {WORKBOOK} in {directory}")
    elif not is_workbook(_head(directory)):
        raise InvalidFile(f"{directory} is neither a folder nor a workbook")
    results = []
    with current().session() as session:
        if present:  # a dry run writes, so later files see earlier ones, then undoes
            for kind in present:
                path = directory / f"{kind}.csv"
                results.append(
                    _run_import(kind, str(path), False, session, accept_changes, prefix=str(path))
                )
        else:
            with open_workbook(str(workbook)) as book:
                for kind in (k for k in KINDS if k in book.sheets):
                    sheet = SheetCells(book, kind)
                    results.append(_import_source(kind, sheet, False, session, accept_changes))
            if not results:
                raise NotFound(f"no sheet named {', '.join(KINDS)} in {workbook}")
        if dry_run:
            session.rollback()
    for result in results:
        result.dry_run = dry_run
    _print_results(results, fmt)
