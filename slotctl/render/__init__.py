"""Output: the only package that imports Rich.

A command hands plain records (dicts whose keys are the JSON fields of CLI.md)
to :func:`emit`, which prints them as a Rich table, JSON or CSV on stdout.
Diagnostics go to stderr through :func:`notice` and :func:`error`.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import IO, Any

from rich.console import Console
from rich.table import Table

Record = Mapping[str, Any]

# Cells a spreadsheet would run as a formula get a leading apostrophe.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _console(stderr: bool = False) -> Console:
    return Console(
        stderr=stderr, no_color=bool(os.environ.get("NO_COLOR")) or None, soft_wrap=False
    )


def to_json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
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
    text = str(value)
    if text.startswith(FORMULA_PREFIXES) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def write_csv(records: Iterable[Record], columns: Sequence[str], out: IO[str]) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for record in records:
        writer.writerow([csv_cell(record.get(column)) for column in columns])


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.isoformat(timespec="minutes")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


SHORT_ID_COLUMNS = ("uuid", "slot")
SHORT_ID = 8  # listings show uuids as their first 8 characters, enough to address them


def _list_cell(column: str, value: Any) -> str:
    if column in SHORT_ID_COLUMNS and isinstance(value, str) and len(value) == 36:
        return value[:SHORT_ID]
    return _cell(value)


def _table(records: Sequence[Record], columns: Sequence[str], title: str | None) -> Table:
    table = Table(title=title, header_style="bold", title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    for record in records:
        table.add_row(*(_list_cell(column, record.get(column)) for column in columns))
    return table


def emit(
    data: Sequence[Record] | Record,
    fmt: str,
    *,
    columns: Sequence[str] | None = None,
    title: str | None = None,
    empty: str = "nothing to show",
) -> None:
    """Print a listing (a sequence of records) or one record in ``fmt``."""
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
    console = _console()
    if not records:
        notice(empty)
        return
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
            table.add_row(column, _cell(value))
        console.print(table)
        for name, rows in nested:
            if rows:
                console.print(_table(rows, list(rows[0].keys()), name))
            else:
                console.print(f"{name}: none")
        return
    console.print(_table(records, columns, title))


def notice(message: str) -> None:
    """A diagnostic line on stderr (never mixed into data on stdout)."""
    _console(stderr=True).print(message, highlight=False, markup=False)


def error(message: str, code: str, *, as_json: bool) -> None:
    """The one-line error of CLI.md on stderr."""
    if as_json:
        sys.stderr.write(json.dumps({"error": {"code": code, "message": message}}) + "\n")
        return
    console = _console(stderr=True)
    text = f"Error: {' '.join(message.split())}"
    console.print(text, style="red", highlight=False, markup=False, soft_wrap=True)
