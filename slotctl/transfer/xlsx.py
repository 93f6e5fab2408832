"""XLSX workbooks: written with XlsxWriter (constant memory), read with openpyxl (read-only,
streaming), so memory stays flat whatever the number of rows.

A workbook holds one sheet per record type, named after it (``bookings``). Cells are
typed so a spreadsheet never reinterprets them (:func:`cell_types`): text columns are
text cells (leading zeros, ``+49…``, ``=…`` stay as typed), counts and capacities
numbers, booleans booleans, local dates date cells; instants are ISO 8601 text with
their offset, as a spreadsheet has no time zone. The header row is frozen and
filtered, and the columns are as wide as their content.

Reading turns each cell back into the text a CSV cell of the same value holds
(:func:`cell_text`), so a workbook goes through the very same row parsers as a CSV
file: a date re-typed as a date cell, a number typed into a text column, a time
typed into a time column all read as what they show. Empty rows are skipped and
sheets that are not record types are ignored.
"""

from __future__ import annotations

import typing
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from itertools import islice
from typing import IO, Any

from slotctl.errors import InvalidFile
from slotctl.records import (
    BookingRecord,
    ClosureRecord,
    EntryRecord,
    ExchangeRecord,
    HoursRecord,
    SlotRecord,
    TicketRecord,
)
from slotctl.tabular import Cells, encode_cell

ZIP_MAGIC = b"PK\x03\x04"  # an XLSX file is a ZIP archive
RECORDS: dict[str, type] = {
    "exchanges": ExchangeRecord,
    "hours": HoursRecord,
    "closures": ClosureRecord,
    "slots": SlotRecord,
    "bookings": BookingRecord,
    "tickets": TicketRecord,
    "waitlist": EntryRecord,
}
WIDTH_SAMPLE = 1_000  # rows whose widths size the columns
MAX_WIDTH = 60
DATE_FORMAT = "yyyy-mm-dd"


def is_workbook(head: bytes) -> bool:
    """Whether a file starting with ``head`` is a workbook (recognised by content)."""
    return head.startswith(ZIP_MAGIC)


def cell_types(kind: str) -> dict[str, type]:
    """Each field of the record type's columns as the cell type it is written as:
    ``int``, ``bool``, ``date``, or ``str`` (text, instants included)."""
    hints = typing.get_type_hints(RECORDS[kind])
    types: dict[str, type] = {}
    for name, hint in hints.items():
        if name in ("FIELDS", "ATTRIBUTES"):
            continue
        options = [t for t in typing.get_args(hint) if t is not type(None)] or [hint]
        kind_of = options[0]
        if kind_of is datetime or kind_of not in (int, bool, date):
            kind_of = str
        types[name.removesuffix("_")] = kind_of  # the field of attribute from_ is from
    return types


# Writing -----------------------------------------------------------------------------


@dataclass
class Sheet:
    """One sheet to write: its record type, columns, and rows of text (or None) as the
    export renders them un-neutralised (the JSON rendering)."""

    kind: str
    columns: Sequence[str]
    rows: Iterable[Mapping[str, Any]]


def write_workbook(out: IO[bytes], sheets: Iterable[Sheet]) -> list[int]:
    """Write the sheets to ``out`` as one workbook; the number of rows of each."""
    import xlsxwriter

    book = xlsxwriter.Workbook(
        out,
        {
            "constant_memory": True,
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    header = book.add_format({"bold": True})
    day = book.add_format({"num_format": DATE_FORMAT})
    counts = []
    for sheet in sheets:
        worksheet = book.add_worksheet(sheet.kind)
        types = cell_types(sheet.kind)
        columns = list(sheet.columns)
        rows = iter(sheet.rows)
        sample = list(islice(rows, WIDTH_SAMPLE))
        for index, column in enumerate(columns):
            widest = max([len(column), *(len(str(r.get(column) or "")) for r in sample)])
            worksheet.set_column(index, index, min(widest + 2, MAX_WIDTH))
        worksheet.write_row(0, 0, columns, header)
        worksheet.freeze_panes(1, 0)
        worksheet.set_landscape()  # printed: one page wide, the header on every page
        worksheet.fit_to_pages(1, 0)
        worksheet.repeat_rows(0)
        kinds = [types.get(column, str) for column in columns]
        dates = [index for index, kind in enumerate(kinds) if kind is date]
        count = 0
        for record in _chain(sample, rows):
            count += 1
            # one call per row (XlsxWriter types each cell by its Python type: the
            # values are converted to the column's type first); dates need a format
            worksheet.write_row(
                count, 0, [_typed(record.get(c), k) for c, k in zip(columns, kinds, strict=True)]
            )
            for index in dates:
                value = record.get(columns[index])
                if value:
                    worksheet.write_datetime(count, index, date.fromisoformat(value), day)
        worksheet.autofilter(0, 0, max(count, 1), len(columns) - 1)
        counts.append(count)
    book.close()
    return counts


def _chain(first: list[Mapping[str, Any]], rest: Iterator[Mapping[str, Any]]) -> Iterator[Any]:
    yield from first
    yield from rest


def _typed(value: Any, kind: type) -> Any:
    """A rendered value as the cell it is written as: typed, never guessed from its text
    (None: no cell; a date: written on its own, with its format)."""
    if value is None or value == "" or kind is date:
        return None
    if kind is int:
        return int(value)
    if kind is bool:
        return value in (True, "true", 1)
    return str(value)


# Reading -----------------------------------------------------------------------------


def cell_text(value: Any) -> str:
    """A cell's value as the text a CSV cell holds for it (neutralised as CSV is, so the
    row parsers read both alike): a whole number without ``.0``, a date cell as its date,
    a time cell as ``HH:MM``."""
    if value is None:
        return ""
    if isinstance(value, str):
        return encode_cell(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime) and value.time() == time() and value.tzinfo is None:
        value = value.date()
    if isinstance(value, time) and not value.second:
        return value.strftime("%H:%M")
    return value.isoformat() if isinstance(value, date | time) else str(value)


class Workbook:
    """An XLSX file opened for reading, sheet by sheet (openpyxl, read-only)."""

    def __init__(self, stream: IO[bytes], name: str) -> None:
        import zipfile

        from openpyxl import load_workbook

        self.name = name
        try:
            self.book = load_workbook(stream, read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
            raise InvalidFile(f"{name} is not a workbook slotctl can read: {exc}") from None

    @property
    def sheets(self) -> list[str]:
        return list(self.book.sheetnames)

    def sheet_for(self, kind: str) -> str:
        """The sheet of a record type: the one named after it, else the first one."""
        if kind in self.book.sheetnames:
            return kind
        return str(self.book.sheetnames[0])

    def cells(self, sheet: str) -> Cells:
        """As :func:`slotctl.tabular.read_cells`: the header and ``(row, cells)``
        (``row`` as the spreadsheet numbers it, the header is row 1)."""
        rows = self.book[sheet].iter_rows(values_only=True)
        first = next(rows, None)
        header = [cell_text(value).strip() for value in first or ()]
        while header and not header[-1]:
            header.pop()
        if not header:
            raise InvalidFile(f"sheet {sheet} of {self.name} is empty: it needs a header row")
        width = len(header)

        def body() -> Iterator[tuple[int, list[str]] | tuple[int, str]]:
            for number, values in enumerate(rows, start=2):
                cells = [cell_text(value) for value in values]
                if not any(cell.strip() for cell in cells):
                    continue  # an empty row (spreadsheets keep some at the end)
                extra = cells[width:]
                if any(cell.strip() for cell in extra):
                    yield number, f"has values beyond the header's {width} columns"
                    continue
                cells = cells[:width] + [""] * (width - len(cells))
                if "\x00" in "".join(cells):
                    yield number, "contains a NUL character"
                    continue
                yield number, cells

        return header, body()

    def close(self) -> None:
        self.book.close()


@dataclass
class SheetCells:
    """One sheet of a workbook as an import's source (:class:`slotctl.tabular.CellSource`)."""

    workbook: Workbook
    sheet: str

    def cells(self, what: str) -> Cells:
        return self.workbook.cells(self.sheet)
