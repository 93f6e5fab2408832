"""What an import reads, told by the file's content: a CSV text, an XLSX workbook's sheet
(:mod:`.xlsx`), or a JSON list of records as ``--as json`` exports write them.

Each is read into the same ``(line, cells)`` rows of CSV-cell text
(:class:`slotctl.tabular.CellSource`), so the row parsers, the checks and the reports
are those of CSV for all three. JSON is read one record at a time (any layout, not
only one record per line), so memory stays flat.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from slotctl.errors import InvalidFile, NotFound
from slotctl.tabular import Cells, Source
from slotctl.transfer.xlsx import SheetCells, Workbook, cell_text, is_workbook

CHUNK = 1 << 16


def _binary(path: str) -> IO[bytes]:
    if path == "-":
        return sys.stdin.buffer
    file = Path(path)
    if not file.is_file():
        raise NotFound(f"no such file: {path}")
    return file.open("rb")


def _is_json(head: bytes) -> bool:
    return head.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] == b"["


@contextmanager
def _workbook(binary: IO[bytes], path: str) -> Iterator[Workbook]:
    """The workbook ``binary`` holds (read into memory first if it cannot seek: stdin)."""
    stream = binary if binary.seekable() else io.BytesIO(binary.read())
    workbook = Workbook(stream, "standard input" if path == "-" else path)
    try:
        yield workbook
    finally:
        workbook.close()


@contextmanager
def open_workbook(path: str) -> Iterator[Workbook]:
    """A workbook file (``-``: standard input) opened for reading."""
    with _binary(path) as binary, _workbook(binary, path) as workbook:
        yield workbook


@contextmanager
def open_source(path: str, kind: str) -> Iterator[Source]:
    """What an import of ``kind`` reads from ``path`` (``-``: standard input): a
    workbook's sheet (:meth:`Workbook.sheet_for`), a JSON list, else CSV text (UTF-8,
    with or without a BOM, any newline)."""
    binary = _binary(path)
    try:
        peek = getattr(binary, "peek", None)
        head = peek(64)[:64] if peek is not None else b""
        if is_workbook(head):
            with _workbook(binary, path) as workbook:
                yield SheetCells(workbook, workbook.sheet_for(kind))
            return
        with io.TextIOWrapper(binary, encoding="utf-8-sig", newline="") as text:
            yield JsonRecords(text) if _is_json(head) else text
    finally:
        if path != "-":
            binary.close()


@dataclass
class JsonRecords:
    """A JSON list of objects as rows: the first object's keys are the header, each
    record is numbered by the line it starts on (the ``[`` is on line 1 or later)."""

    stream: IO[str]

    def cells(self, what: str) -> Cells:
        records = self._records(what)
        first = next(records, None)
        if first is None:
            raise InvalidFile(f"the {what} file is an empty list: it needs records")
        line, record = first
        if not isinstance(record, dict) or not record:
            raise InvalidFile(f"the {what} file's first record (line {line}) is not an object")
        header = list(record)

        def rows() -> Iterator[tuple[int, list[str]] | tuple[int, str]]:
            number, value = line, record
            while True:
                yield number, self._row(value, header)
                following = next(records, None)
                if following is None:
                    return
                number, value = following

        return header, rows()

    @staticmethod
    def _row(record: Any, header: list[str]) -> Any:  # list[str] (cells) or str (why not)
        if not isinstance(record, dict):
            return f"is not an object but {type(record).__name__}"
        missing = [key for key in header if key not in record]
        extra = [key for key in record if key not in header]
        if missing or extra:
            parts = [f"lacks {', '.join(missing)}"] if missing else []
            parts += [f"has {', '.join(extra)}"] if extra else []
            return f"{' and '.join(parts)} (unlike the first record)"
        nested = [key for key in header if isinstance(record[key], dict | list)]
        if nested:
            return f"{', '.join(nested)}: a list or object where a value belongs"
        cells = [cell_text(record[key]) for key in header]
        if "\x00" in "".join(cells):
            return "contains a NUL character"
        return cells

    def _records(self, what: str) -> Iterator[tuple[int, Any]]:
        """Each element of the top-level list with its line, decoded one at a time."""
        decoder = json.JSONDecoder()
        buffer, position, line, done = "", 0, 1, False

        def fill() -> bool:
            nonlocal buffer, position
            chunk = self.stream.read(CHUNK)
            buffer = buffer[position:] + chunk
            position = 0
            return bool(chunk)

        def skip(allowed: str) -> str:
            """Skip whitespace (and the ``allowed`` characters); the next character."""
            nonlocal position, line, done
            while True:
                while position < len(buffer) and (buffer[position] in " \t\r\n" + allowed):
                    line += buffer[position] == "\n"
                    position += 1
                if position < len(buffer):
                    return buffer[position]
                if done or not fill():
                    done = True
                    return ""

        def bad(reason: str) -> InvalidFile:
            return InvalidFile(f"the {what} file is not a JSON list of records: {reason}")

        if skip("") != "[":
            raise bad(f"line {line} does not start the list with [")
        position += 1
        expect_comma = False
        while True:
            char = skip("")
            if char == "]":
                return
            if char == "":
                raise bad("the list is not closed with ]")
            if expect_comma:
                if char != ",":
                    raise bad(f"a , or ] is missing on line {line}")
                position += 1
                skip("")
            start_line = line
            while True:
                try:
                    value, end = decoder.raw_decode(buffer, position)
                except json.JSONDecodeError as exc:
                    if not done and fill():
                        continue
                    where = start_line + buffer.count("\n", position, exc.pos)
                    raise bad(f"line {where}: {exc.msg}") from None
                if end == len(buffer) and not done and fill():
                    continue  # a number may go on in the next chunk
                break
            line += buffer.count("\n", position, end)
            position = end
            expect_comma = True
            yield start_line, value
