"""Output: the only package that imports Rich.

A command hands records (typed records of :mod:`slotctl.records`, or dicts, whose
keys are the JSON fields of docs/cli.md)
to :func:`emit`, which prints them as a Rich table, JSON or CSV on stdout.
Diagnostics go to stderr through :func:`notice` and :func:`error`.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import IO, Any
from zoneinfo import ZoneInfo

from rich import box
from rich.console import Console
from rich.table import Table

from slotctl.tabular import encode_cell

Record = Mapping[str, Any]


class _Console(Console):
    def on_broken_pipe(self) -> None:
        """Rich would exit 1; the reader going away is the CLI's to map (exit 0)."""
        raise BrokenPipeError


# Wide enough for any line: a table piped to a file or a program is as wide as its
# content (not cut to 80 columns), so nothing wraps that a reader would have to rejoin.
PIPED_WIDTH = 100_000


def make_console(stderr: bool = False) -> Console:
    console = _Console(
        stderr=stderr, no_color=bool(os.environ.get("NO_COLOR")) or None, soft_wrap=False
    )
    if not console.is_terminal:
        console.width = PIPED_WIDTH
    return console


def to_json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):  # a typed record (slotctl.records)
        return dict(value)
    return value


def to_json(data: Any) -> str:
    return json.dumps(data, default=to_json_value, indent=2, ensure_ascii=False)


def csv_cell(value: Any) -> str:
    """A value as CSV text: ISO dates, ``true``/``false``, empty for null, formulas defused."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | dict):
        return json.dumps(value, default=to_json_value, ensure_ascii=False)
    return encode_cell(str(value))


def write_csv(records: Iterable[Record], columns: Sequence[str], out: IO[str]) -> None:
    """Rows ending in LF, quoted as the exports are: a cell with a comma, a quote, LF or
    CR is quoted (``csv.writer`` quotes CR only when it is in the line terminator, so
    rows are written with CRLF and their terminator rewritten)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    rows: Iterable[Sequence[str]] = (
        [csv_cell(record.get(column)) for column in columns] for record in records
    )
    for row in (list(columns), *rows):
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(row)
        out.write(buffer.getvalue()[:-2] + "\n")


def _local(value: datetime, zone: ZoneInfo | None) -> datetime:
    """An instant in ``zone`` (the exchange's, where a table has one), else as given."""
    return value.astimezone(zone) if zone is not None and value.tzinfo is not None else value


def _cell(value: Any, zone: ZoneInfo | None = None) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return _local(value, zone).isoformat(timespec="minutes")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


SHORT_ID_COLUMNS = ("uuid", "slot")
SHORT_ID = 8  # listings show uuids as their first 8 characters, enough to address them
# Identifiers are never wrapped: a narrow terminal wraps the free text around them first.
NO_WRAP_COLUMNS = frozenset(
    ("uuid", "slot", "slug", "exchange", "timezone", "reference", "value", "database")
)


def _list_cell(column: str, value: Any, zone: ZoneInfo | None = None) -> str:
    if column in SHORT_ID_COLUMNS and isinstance(value, str) and len(value) == 36:
        return value[:SHORT_ID]
    if isinstance(value, datetime):  # to the minute, with the UTC offset it is in
        local = _local(value, zone)
        stamp = local.isoformat(sep=" ", timespec="minutes")  # 2027-03-01 06:00+09:00
        return stamp if local.tzinfo is None else f"{stamp[:16]} {stamp[16:]}"
    return _cell(value)


# Shorter headers where a listing must fit 80 columns; JSON and CSV keep the field names.
HEADERS = {
    "current_bookings": "booked",
    "max_capacity": "cap",
    "available_seats": "free",
    "min_notice_minutes": "notice (min)",
    "max_advance_days": "advance (d)",
    "is_active": "active",
    "is_available": "open",
}


# Nested listings inside one record's view (JSON and CSV keep every field).
NESTED_COLUMNS = {
    "bookings": ("reference", "customer_name", "customer_email", "status", "created_at"),
    "history": ("at", "actor", "from_status", "to_status", "note"),
}


def _table(
    records: Sequence[Record],
    columns: Sequence[str],
    title: str | None,
    zone: ZoneInfo | None = None,
) -> Table:
    table = Table(
        title=title,
        header_style="bold",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    for column in columns:
        table.add_column(
            HEADERS.get(column, column), overflow="fold", no_wrap=column in NO_WRAP_COLUMNS
        )
    for record in records:
        table.add_row(*(_list_cell(column, record.get(column), zone) for column in columns))
    return table


def emit(
    data: Sequence[Record] | Record,
    fmt: str,
    *,
    columns: Sequence[str] | None = None,
    title: str | None = None,
    empty: str = "nothing to show",
    table_columns: Sequence[str] | None = None,
    zone: str | None = None,
) -> None:
    """Print a listing (a sequence of records) or one record in ``fmt``.

    ``table_columns`` narrows a listing drawn as a table (JSON and CSV keep all).
    A table shows every instant with its UTC offset, in ``zone`` when given (the
    exchange's: a booking's history in its local time); JSON and CSV keep the
    instants as the records hold them.
    """
    single = isinstance(data, Mapping)
    records: list[Record] = [data] if isinstance(data, Mapping) else list(data)
    if columns is None:
        columns = list(records[0].keys()) if records else []
    if fmt == "json":
        sys.stdout.write(to_json(data) + "\n")
        return
    if fmt == "csv":
        write_csv(records, columns, sys.stdout)
        return
    console = make_console()
    if not records:
        notice(empty)
        return
    local = ZoneInfo(zone) if zone else None
    if single:
        record = records[0]
        table = Table(title=title, show_header=False, title_justify="left")
        table.add_column("field", style="bold")
        table.add_column("value", overflow="fold")
        nested: list[tuple[str, list[Record]]] = []
        for column in columns:
            value = record.get(column)
            if isinstance(value, list):
                nested.append((column, value))
                continue
            table.add_row(column, _cell(value, local))
        console.print(table)
        for name, rows in nested:
            if rows:
                keys = [k for k in NESTED_COLUMNS.get(name, rows[0].keys()) if k in rows[0]]
                console.print(_table(rows, keys, name, local))
            else:
                console.print(f"{name}: none")
        return
    console.print(_table(records, table_columns or columns, title, local))


@contextmanager
def progress_bar(description: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on a terminal's stderr; a no-op anywhere else.

    Yields ``advance(steps, total)``.
    """
    console = make_console(stderr=True)
    if not console.is_terminal:
        yield lambda _steps, _total: None
        return
    from rich.progress import Progress

    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(description, total=None)

        def advance(steps: int, total: int) -> None:
            progress.update(task, total=total, advance=steps)

        yield advance


def notice(message: str) -> None:
    """A diagnostic line on stderr (never mixed into data on stdout)."""
    make_console(stderr=True).print(message, highlight=False, markup=False)


# Characters that end a line for Python (str.splitlines) and Unicode-aware readers but
# that JSON leaves unescaped: escaped, so the JSON error stays one line whatever a
# file name or value holds.
_LINE_BREAKS = str.maketrans({char: f"\\u{ord(char):04x}" for char in "\x85\u2028\u2029"})


def error(
    message: str,
    code: str,
    *,
    as_json: bool,
    problems: Sequence[tuple[int, str]] | None = None,
    sheet: str | None = None,
) -> None:
    """The one-line error of docs/cli.md on stderr; then, for a bad import file, one line per
    bad row (``line N: reason``; ``row N: reason`` for a workbook's ``sheet``)."""
    unit = "line" if sheet is None else "row"
    if as_json:
        body: dict[str, Any] = {"code": code, "message": message}
        if problems:
            where: dict[str, Any] = {} if sheet is None else {"sheet": sheet}
            body["problems"] = [{**where, unit: line, "message": text} for line, text in problems]
        text = json.dumps({"error": body}, ensure_ascii=False).translate(_LINE_BREAKS)
        sys.stderr.write(text + "\n")
        return
    console = make_console(stderr=True)
    text = f"Error: {' '.join(message.split())}"
    console.print(text, style="red", highlight=False, markup=False, soft_wrap=True)
    for line, reason in problems or ():
        console.print(
            f"  {unit} {line}: {' '.join(reason.split())}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
