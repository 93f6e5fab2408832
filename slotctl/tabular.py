"""CSV cells and files, shared by the renderer (listings) and the transfer service.

Formula neutralisation: a cell a spreadsheet would run as a formula (one that
begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is written
with a leading apostrophe, which spreadsheets hide. The rule is made exactly
reversible: a cell that already begins with an apostrophe followed by one of
those characters (or by another apostrophe) gets one more, so
``decode_cell(encode_cell(x)) == x`` for every text ``x``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Protocol, runtime_checkable

from slotctl.errors import InvalidFile

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_MARKED = (*FORMULA_PREFIXES, "'")
MARK = "'"


def encode_cell(text: str) -> str:
    """``text`` safe to open in a spreadsheet (see the module's rule)."""
    if text.startswith(FORMULA_PREFIXES) or (text.startswith(MARK) and text[1:2] in _MARKED):
        return MARK + text
    return text


def decode_cell(text: str) -> str:
    """The value :func:`encode_cell` neutralised."""
    if text.startswith(MARK) and text[1:2] in _MARKED:
        return text[1:]
    return text


# Reading ---------------------------------------------------------------------------------


@dataclass
class Row:
    line: int  # the line the record starts on (the header is line 1)
    values: dict[str, str]  # column -> decoded text ('' for an empty cell)


def check_header(
    columns: Sequence[str],
    known: Sequence[str],
    required: Sequence[str | tuple[str, ...]],
    what: str,
) -> None:
    """Refuse unknown, duplicate or missing columns, naming them all (exit 5).

    A ``required`` entry that is a tuple of alternatives is met by any one of them;
    an alternative that is itself several columns joined by ``+`` needs them all.
    """
    problems = []
    unknown = [c for c in columns if c not in known]
    if unknown:
        problems.append(f"unknown columns: {', '.join(unknown)}")
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        problems.append(f"duplicate columns: {', '.join(duplicated)}")
    present = set(columns)
    missing = []
    for need in required:
        options = (need,) if isinstance(need, str) else need
        if not any(set(option.split("+")) <= present for option in options):
            missing.append(" or ".join(option.replace("+", ", ") for option in options))
    if missing:
        problems.append(f"missing required columns: {'; '.join(missing)}")
    if problems:
        raise InvalidFile(
            f"the header of the {what} file is not right: {'; '.join(problems)}"
            f" (expected columns: {', '.join(known)})"
        )


Cells = tuple[list[str], Iterator[tuple[int, list[str]] | tuple[int, str]]]


@runtime_checkable
class CellSource(Protocol):
    """Rows that are not a CSV stream (a workbook's sheet), already as CSV cells' text."""

    def cells(self, what: str) -> Cells: ...


Source = IO[str] | CellSource  # what an import reads: a CSV text stream, or a sheet


def read_cells(stream: Source, what: str) -> Cells:
    """The header and an iterator of ``(line, cells)`` as read (still neutralised); a row
    that cannot be used is ``(line, reason)``. ``line`` is where the record starts (the
    header is line 1). Quoted fields may hold commas and newlines; blank lines are skipped.
    A :class:`CellSource` gives its own rows, numbered as it numbers them.
    """
    if isinstance(stream, CellSource):
        return stream.cells(what)
    reader = csv.reader(stream, strict=True)
    try:
        header = next(reader, None)
    except (csv.Error, UnicodeDecodeError) as exc:
        raise InvalidFile(f"the {what} file cannot be read: {_reason(exc)}") from None
    if header is None or not any(cell.strip() for cell in header):
        raise InvalidFile(f"the {what} file is empty: it needs a header row")
    columns = [cell.strip() for cell in header]
    width = len(columns)

    def rows() -> Iterator[tuple[int, list[str]] | tuple[int, str]]:
        previous = reader.line_num
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except (csv.Error, UnicodeDecodeError) as exc:
                raise InvalidFile(
                    f"the {what} file cannot be read after line {previous}: {_reason(exc)}"
                ) from None
            line = previous + 1
            previous = reader.line_num
            if len(cells) != width:
                if not cells or (len(cells) == 1 and not cells[0].strip()):
                    continue
                yield line, f"has {len(cells)} fields, the header has {width}"
                continue
            if "\x00" in "".join(cells):  # PostgreSQL cannot store it; nobody means it
                yield line, "contains a NUL character"
                continue
            yield line, cells

    return columns, rows()


def read_rows(stream: Source, what: str) -> tuple[list[str], Iterator[Row | tuple[int, str]]]:
    """Like :func:`read_cells`, with each good row as a :class:`Row` of decoded cells."""
    columns, cells_iter = read_cells(stream, what)

    def rows() -> Iterator[Row | tuple[int, str]]:
        for line, cells in cells_iter:
            if isinstance(cells, str):
                yield line, cells
                continue
            values = dict(zip(columns, cells, strict=True))
            joined = "\x00".join(cells)  # one C-level scan finds any cell to un-neutralise
            if joined.startswith(MARK) or "\x00" + MARK in joined:
                values = {c: decode_cell(v) for c, v in values.items()}
            yield Row(line, values)

    return columns, rows()


def _reason(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "it is not UTF-8 text"
    return str(exc)
